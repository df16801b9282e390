// The stack's flood and overload protection (issue #14): the per-source rate limit and the overload control,
// made, changed and stopped as the settings come and go (a reload keeps counts and blocks in progress), and
// the transaction bound handed to the stack's admission. Split from stack.ts.
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.js';
import type { RequestAdmission } from './admission.js';
import { eventLoopLoad, type LoadSource } from './load-source.js';
import { OverloadControl, type OverloadSettings } from './overload.js';
import { udpQueueProbe, type ProbeTarget, type QueueProbe } from './queue-probe.js';
import type { ListenPoint } from './transport/types.js';
import { SourceRateLimiter, type RateLimitSettings } from './source-limiter.js';

/** Limits that keep floods and overload from taking the stack down (issue #14); all off when unset. */
export interface ProtectionSettings {
  /** Server transactions kept at most; beyond it new out-of-dialog requests get a stateless 503. 0: no bound. */
  maxServerTransactions?: number;
  /** Per-source request-rate limit with a block (Kamailio's pike). */
  rateLimit?: RateLimitSettings;
  /** Shedding of new out-of-dialog INVITEs and REGISTERs by event-loop load and pending work. */
  overload?: OverloadSettings;
}

export interface ProtectionOptions extends ProtectionSettings {
  /** Sources the rate limit never blocks (trunks, configured addresses). */
  trusted?: (address: string) => boolean;
  /** Where overload is measured; default this process's event loop. Tests give their own. */
  loadSource?: LoadSource;
  /** Uniform in [0, 1), for the share of requests shed; tests make it predictable. */
  random?: () => number;
}

/** Retry-After (s) of a 503 for the transaction bound when no overload settings give one. */
const DEFAULT_RETRY_AFTER = 5;

export class StackProtection {
  limiter: SourceRateLimiter | undefined;
  overload: OverloadControl | undefined;
  private admission: RequestAdmission | undefined;
  /** The receive-queue probe of the running overload control's load source (default source only). */
  private probe: QueueProbe | undefined;
  private probeTarget: ProbeTarget | undefined;

  constructor(
    readonly options: ProtectionOptions,
    private readonly deps: { clock: Clock; logger: Logger; pendingInvites: () => number },
  ) {}

  /** The stack started: the limits are applied from now on; the first UDP listener is the one the queue probe goes through. */
  start(admission: RequestAdmission, listening: readonly ListenPoint[] = []): void {
    this.admission = admission;
    this.probeTarget = listening.find((p) => p.transport === 'udp');
    this.apply();
  }

  /** Whether a received datagram is the queue probe's (consumed here); checked before anything else. */
  takeProbe(data: Buffer): boolean {
    return this.probe !== undefined && data[0] === 0 && this.probe.take(data);
  }

  stop(): void {
    this.admission = undefined;
    this.limiter?.stop();
    this.limiter = undefined;
    this.overload?.stop();
    this.overload = undefined;
    this.probe = undefined;
  }

  /** New settings; a limit left out is turned off. Applied at once once started. */
  update(settings: ProtectionSettings): void {
    Object.assign(this.options, { maxServerTransactions: undefined, rateLimit: undefined, overload: undefined }, settings);
    if (this.admission) this.apply();
  }

  /** Retry-After (s) of a 503 that sheds load. */
  retryAfter(): number {
    return this.overload?.retryAfter() ?? this.options.overload?.retryAfterSeconds ?? DEFAULT_RETRY_AFTER;
  }

  private apply(): void {
    const p = this.options;
    this.admission?.update(p.maxServerTransactions ?? 0);
    if (p.rateLimit && p.rateLimit.maxRequests > 0) {
      if (this.limiter) this.limiter.update(p.rateLimit);
      else {
        this.limiter = new SourceRateLimiter({ settings: p.rateLimit, clock: this.deps.clock, logger: this.deps.logger, trusted: p.trusted });
        this.limiter.start();
      }
    } else {
      this.limiter?.stop();
      this.limiter = undefined;
    }
    if (p.overload) {
      if (this.overload) this.overload.update(p.overload);
      else {
        this.overload = new OverloadControl({
          settings: p.overload,
          clock: this.deps.clock,
          source: p.loadSource ?? this.defaultLoadSource(),
          pendingInvites: this.deps.pendingInvites,
          logger: this.deps.logger,
          random: p.random,
        });
        this.overload.start();
      }
    } else {
      this.overload?.stop();
      this.overload = undefined;
      this.probe = undefined;
    }
  }

  /** This process's event loop, and the receive queue of the UDP listener when there is one. */
  private defaultLoadSource(): LoadSource {
    const probe = this.probeTarget ? udpQueueProbe(this.probeTarget) : undefined;
    this.probe = probe?.probe;
    return eventLoopLoad(probe);
  }
}
