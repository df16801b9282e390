// What a caller waiting in a queue hears (F-QUEUE): the greeting once, then music on hold, interrupted every
// periodicAnnouncementInterval seconds of music by the periodic announcement (with the caller's position and
// estimated wait, worked out when it plays). Neither the greeting nor an announcement is ever cut short by
// the next one. stop() silences it at once (an agent answered, the caller leaves).
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
  /** Bumped at each new play, so the end of a play that was replaced starts nothing. */
  private generation = 0;

  constructor(
    private readonly session: CallApi,
    private readonly leg: LegHandle,
    private readonly clock: Clock,
    private readonly opts: WaitingAudioOptions,
  ) {}

  start(): void {
    if (this.opts.greeting.length > 0) this.play(this.opts.greeting, () => this.music());
    else this.music();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    this.generation++;
    this.current?.stop();
    this.current = undefined;
  }

  /**
   * Music until the next announcement: the interval is music time, counted from the end of the greeting or
   * of the last announcement, so neither is ever cut short and a long announcement (position and wait
   * included) still leaves the caller the music between two of them.
   */
  private music(): void {
    this.play(this.opts.moh, undefined, true);
    if (this.opts.intervalMs <= 0 || this.stopped) return;
    this.timer?.cancel();
    this.timer = this.clock.setTimer(this.opts.intervalMs, () => {
      if (this.stopped) return;
      const files = this.opts.periodic();
      if (files.length > 0) this.play(files, () => this.music());
      else this.music();
    });
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
