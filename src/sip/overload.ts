// Overload control (issue #13 goal 4, issue #14): decides what share of NEW out-of-dialog INVITEs
// and REGISTERs to refuse, from how busy the event loop is and how much work is pending.
//
// Refusing everything while overloaded and nothing otherwise oscillates: the refusals bring the load
// under the limit, everything is admitted again, the load jumps back. So the share refused is steered
// like Kamailio's ratelimit FEEDBACK algorithm: every sample moves it by GAIN × (pressure − 1), where
// pressure is the highest of load ÷ limit over the measures in use. It settles where the load sits at
// the limit, and falls back to zero within a second or two once the load drops. When even refusing
// every such request leaves the load above the limit (a 503 costs a parse and a send), the process is
// saturated: the stack then drops those requests before parsing them, which costs next to nothing.
// The wait in the receive queue is what callers feel and what makes them retransmit; utilization
// cannot say how far over capacity the load is (it stops at 100 %), the queue's wait can.
// Utilization and the delays are smoothed over smoothingMs first: a lone garbage-collection pause makes one
// sample look saturated (utilization 100 %, a 100 ms delay) while the process keeps up well, and
// shedding on it refused calls at half the rate the server handles cleanly.
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { LoadSample, LoadSource } from './load-source.js';

export interface OverloadSettings {
  /** How often load is sampled and the refused share adjusted (ms). */
  sampleMs: number;
  /** Event-loop utilization (%) above which shedding starts; 0 ignores utilization. */
  maxLoopUtilization: number;
  /** Mean event-loop delay (ms) above which shedding starts; 0 ignores delay. */
  maxLoopDelayMs: number;
  /** Time a datagram waits in the receive queue before the stack reads it (ms) above which shedding starts; 0 ignores it. */
  maxQueueDelayMs: number;
  /** INVITEs waiting for their final response above which shedding starts; 0 ignores them. */
  maxPendingInvites: number;
  /** Retry-After (s) of a 503 for overload; a random 0–50 % is added so refused clients do not return in step. */
  retryAfterSeconds: number;
  /** Window (ms) over which utilization and delay are averaged (exponentially); 0 uses each sample as it is. */
  smoothingMs: number;
}

/** Share of the error (pressure − 1) added per sample while over the limits. */
const GAIN_UP = 0.5;
/**
 * Share of the error (1 − pressure) taken off per sample while under them. Lower than GAIN_UP: the
 * backlog that made the share rise drains only once it is high, and falling as fast as it rose
 * readmitted everyone into a queue still full, a cycle of 2–3 s between refusing nothing and everything.
 * From a share of 1 on an idle loop it still falls to 0 within two seconds.
 */
const GAIN_DOWN = 0.3;
/** Pressure counted at most, so one long stall moves the share by at most GAIN_UP. */
const MAX_PRESSURE = 2;
/**
 * How long refusing every new INVITE and REGISTER must have failed to bring the load under the limits
 * before they are dropped unparsed. A dropped request is retransmitted (500 ms, 1 s, 2 s … for 32 s),
 * so dropping on the backlog left over from before the share reached 1 turned a passing peak into a
 * retransmission storm; a stateless 503 ends the transaction at once.
 */
const SATURATED_AFTER_MS = 1000;

export interface OverloadOptions {
  settings: OverloadSettings;
  clock: Clock;
  source: LoadSource;
  /** Work admitted and not finished: INVITEs without a final response. */
  pendingInvites: () => number;
  logger: Logger;
  /** Uniform in [0, 1); tests make it predictable. */
  random?: () => number;
}

export class OverloadControl {
  private settings: OverloadSettings;
  private share = 0;
  private saturatedNow = false;
  private timer: TimerHandle | undefined;
  private readonly random: () => number;
  /** The smoothed load; undefined until the first sample. */
  private smoothed: LoadSample | undefined;
  /** The previous sample's receive-queue wait, unsmoothed. */
  private lastQueueDelayMs = 0;
  /** Since when every new INVITE and REGISTER has been refused with the load still over the limits. */
  private refusingAllSince: number | undefined;

  constructor(private readonly opts: OverloadOptions) {
    this.settings = opts.settings;
    this.random = opts.random ?? Math.random;
  }

  /** Share (0–1) of new out-of-dialog INVITEs and REGISTERs refused now. */
  get shedShare(): number {
    return this.share;
  }

  /** Refusing every such request did not bring the load down: drop them before parsing. */
  get saturated(): boolean {
    return this.saturatedNow;
  }

  /** Whether this new out-of-dialog INVITE or REGISTER is to be refused. */
  shouldShed(): boolean {
    return this.share > 0 && (this.share >= 1 || this.random() < this.share);
  }

  /** Retry-After for a refusal, spread over [retryAfterSeconds, 1.5 × retryAfterSeconds]. */
  retryAfter(): number {
    const base = this.settings.retryAfterSeconds;
    return base + Math.floor(this.random() * (base / 2 + 1));
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.opts.source.close();
  }

  update(settings: OverloadSettings): void {
    this.settings = settings;
  }

  /** One sample: read the load and move the refused share. Run by the timer; public for tests. */
  tick(): void {
    const sample = this.smooth(this.opts.source.sample());
    const pending = this.opts.pendingInvites();
    const pressure = this.pressure(sample, pending);
    const was = { share: this.share, saturated: this.saturatedNow };
    const now = this.opts.clock.monotonic();
    if (pressure > 1 && this.share >= 1) this.refusingAllSince ??= now;
    else this.refusingAllSince = undefined;
    this.saturatedNow = this.refusingAllSince !== undefined && now - this.refusingAllSince >= SATURATED_AFTER_MS;
    const step = pressure > 1 ? GAIN_UP * (Math.min(pressure, MAX_PRESSURE) - 1) : GAIN_DOWN * (pressure - 1);
    const next = this.share + step;
    // Steps that should cancel out leave a rounding residue; a share that small refuses nothing anyway.
    this.share = next < 1e-9 ? 0 : Math.min(1, next);
    this.report(was, sample, pending, pressure);
  }

  /** Exponential moving average over smoothingMs: each sample weighs sampleMs ÷ smoothingMs (at most 1). */
  private smooth(sample: LoadSample): LoadSample {
    const { sampleMs, smoothingMs } = this.settings;
    const weight = smoothingMs > 0 ? Math.min(1, sampleMs / smoothingMs) : 1;
    // Starting from idle: the work of starting up is not overload.
    const prev = this.smoothed ?? { utilization: 0, loopDelayMs: 0, queueDelayMs: 0 };
    const queue = sample.queueDelayMs ?? 0;
    this.smoothed = {
      utilization: prev.utilization + weight * (sample.utilization - prev.utilization),
      loopDelayMs: prev.loopDelayMs + weight * (sample.loopDelayMs - prev.loopDelayMs),
      // The lower of the last two samples: a lone stall is one sample and counts for nothing, a backlog
      // shows one sample later. Averaged like the others it showed a second late, by when the queue
      // already held 250 ms of requests and callers were about to retransmit; and it kept showing a
      // drained queue as full for another second.
      queueDelayMs: smoothingMs > 0 ? Math.min(queue, this.lastQueueDelayMs) : queue,
    };
    this.lastQueueDelayMs = queue;
    return this.smoothed;
  }

  /** The highest load ÷ limit over the measures in use; 0 when none is. */
  private pressure(sample: LoadSample, pending: number): number {
    const s = this.settings;
    let p = 0;
    if (s.maxLoopUtilization > 0) p = Math.max(p, (sample.utilization * 100) / s.maxLoopUtilization);
    if (s.maxLoopDelayMs > 0) p = Math.max(p, sample.loopDelayMs / s.maxLoopDelayMs);
    if (s.maxQueueDelayMs > 0) p = Math.max(p, (sample.queueDelayMs ?? 0) / s.maxQueueDelayMs);
    if (s.maxPendingInvites > 0) p = Math.max(p, pending / s.maxPendingInvites);
    return p;
  }

  /** Log the changes of state only, never per request. */
  private report(was: { share: number; saturated: boolean }, sample: LoadSample, pending: number, pressure: number): void {
    const fields = {
      event: 'overload',
      utilization: Math.round(sample.utilization * 100),
      loopDelayMs: Math.round(sample.loopDelayMs),
      queueDelayMs: Math.round(sample.queueDelayMs ?? 0),
      pendingInvites: pending,
      pressure: Math.round(pressure * 100) / 100,
      shedShare: Math.round(this.share * 100) / 100,
    };
    const log = this.opts.logger;
    if (was.share === 0 && this.share > 0) log.warn(fields, 'overload: refusing part of the new INVITEs and REGISTERs with 503');
    if (!was.saturated && this.saturatedNow) log.warn(fields, 'overload: saturated, dropping new INVITEs and REGISTERs unanswered');
    if (was.saturated && !this.saturatedNow) log.warn(fields, 'overload: no longer saturated');
    if (was.share > 0 && this.share === 0) log.warn(fields, 'overload over: admitting every request again');
  }

  private schedule(): void {
    this.timer = this.opts.clock.setTimer(this.settings.sampleMs, () => {
      try {
        this.tick();
      } catch (err) {
        this.opts.logger.error({ err }, 'overload sampling failed');
      }
      this.schedule();
    });
  }
}
