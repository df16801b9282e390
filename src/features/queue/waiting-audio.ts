// What a caller waiting in a queue hears (F-QUEUE): the greeting once, then music on hold, interrupted every
// periodicAnnouncementInterval by the periodic announcement (with the caller's position and estimated wait,
// worked out when it plays). The greeting is never cut: an announcement falling due while it plays comes
// right after it and the next one an interval later (as in Asterisk, where the greeting plays before the
// waiting loop starts). stop() silences it at once (an agent answered, the caller leaves).
import type { PlayHandle } from '../../media/engine.js';
import type { CallApi } from '../../pbx/application.js';
import type { LegHandle } from '../../pbx/leg.js';
import type { Clock, TimerHandle } from '../../util/clock.js';

export interface WaitingAudioOptions {
  greeting: string[];
  moh: string[];
  /** The periodic announcement's files now (position and wait change while the caller waits). */
  periodic: () => string[];
  /** 0: no periodic announcement. */
  intervalMs: number;
}

export class WaitingAudio {
  private current: PlayHandle | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  /** The greeting is playing: an announcement falling due now waits for its end. */
  private greeting = false;
  private announcementDue = false;
  /** Bumped at each new play, so the end of a play that was replaced starts nothing. */
  private generation = 0;

  constructor(
    private readonly session: CallApi,
    private readonly leg: LegHandle,
    private readonly clock: Clock,
    private readonly opts: WaitingAudioOptions,
  ) {}

  start(): void {
    if (this.opts.greeting.length > 0) {
      this.greeting = true;
      this.play(this.opts.greeting, () => {
        this.greeting = false;
        if (!this.announcementDue) return this.music();
        // The announcement that fell due during the greeting; the next one an interval after it.
        this.announcementDue = false;
        if (!this.announce()) this.music();
        this.schedule();
      });
    } else this.music();
    this.schedule();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    this.generation++;
    this.current?.stop();
    this.current = undefined;
  }

  private schedule(): void {
    if (this.opts.intervalMs <= 0 || this.stopped) return;
    this.timer = this.clock.setTimer(this.opts.intervalMs, () => {
      if (this.stopped) return;
      if (this.greeting) {
        this.announcementDue = true;
        return;
      }
      this.announce();
      this.schedule();
    });
  }

  /** The periodic announcement, then the music; false when it has no files (the music goes on). */
  private announce(): boolean {
    const files = this.opts.periodic();
    if (files.length === 0) return false;
    this.play(files, () => this.music());
    return true;
  }

  private music(): void {
    this.play(this.opts.moh, undefined, true);
  }

  private play(files: string[], then: (() => void) | undefined, loop = false): void {
    if (this.stopped) return;
    const gen = ++this.generation;
    this.current?.stop();
    const h = this.session.play(this.leg, files, { loop });
    this.current = h;
    if (!then) return;
    const next = () => {
      if (gen === this.generation && !this.stopped) then();
    };
    h.done.then(next, next);
  }
}
