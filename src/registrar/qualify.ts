// F-TRANSPORT keep-alive ("qualify"): an OPTIONS to each registered contact every interval;
// a contact that misses maxMissed replies in a row is marked unreachable, any reply marks it reachable.
import type { Logger } from 'pino';
import type { SipStack } from '../sip/stack.js';
import { every, type TimerHandle } from '../util/clock.js';
import type { Binding, RegistrationStore } from '../store/registrations.js';
import { bindingTarget } from './registrar.js';

export interface QualifySettings {
  qualifyInterval: number;
  qualifyMaxMissed: number;
}

export class Qualifier {
  private timer: TimerHandle | undefined;
  private inFlight = new Set<string>();
  private cursor = 0;

  constructor(
    private readonly stack: SipStack,
    private readonly store: RegistrationStore,
    private settings: QualifySettings,
    private readonly logger: Logger,
    private readonly domain: string,
  ) {}

  updateSettings(settings: QualifySettings): void {
    const restart = settings.qualifyInterval !== this.settings.qualifyInterval;
    this.settings = settings;
    if (restart && this.timer) {
      this.stop();
      this.start();
    }
  }

  /** Probes are spread over the interval in one-second slices so a large registry never sends a burst. */
  start(): void {
    if (this.settings.qualifyInterval <= 0 || this.timer) return;
    this.timer = every(this.stack.clock, 1000, () => this.tick());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private tick(): void {
    const all = this.store.all();
    if (all.length === 0) return;
    const perTick = Math.max(1, Math.ceil(all.length / this.settings.qualifyInterval));
    if (this.cursor >= all.length) this.cursor = 0;
    const slice = all.slice(this.cursor, this.cursor + perTick);
    this.cursor += perTick;
    for (const b of slice) this.probe(b);
  }

  probe(b: Binding): void {
    const key = `${b.aor}\n${b.contact}`;
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    this.stack
      .request({
        method: 'OPTIONS',
        uri: b.contact,
        target: bindingTarget(b),
        from: `<sip:hibiki@${this.domain}>`,
        to: `<${b.contact}>`,
      })
      .then(
        (res) => this.record(b, res.status !== 408 && res.status !== 503),
        () => this.record(b, false),
      )
      // The answer may come after the store has closed (shutdown): the probe is simply lost.
      .catch((err: unknown) => this.logger.warn({ err, aor: b.aor, contact: b.contact }, 'qualify result not recorded'))
      .finally(() => this.inFlight.delete(key));
  }

  private record(b: Binding, answered: boolean): void {
    const current = this.store.get(b.aor, b.contact);
    if (!current) return;
    const missed = answered ? 0 : current.missedQualify + 1;
    const reachable = answered || missed < this.settings.qualifyMaxMissed;
    if (reachable !== current.reachable) {
      this.logger.info({ aor: b.aor, contact: b.contact, reachable }, reachable ? 'contact reachable' : 'contact unreachable');
    }
    if (reachable !== current.reachable || missed !== current.missedQualify) this.store.setReachable(b.aor, b.contact, reachable, missed);
  }
}
