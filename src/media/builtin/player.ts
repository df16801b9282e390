// Paced 20 ms frame sources for the media worker: the pacer, and the prompt player built on it.
import type { Codec } from '../engine.js';
import { SILENCE } from './g711.js';

export const FRAME_MS = 20;
/** Samples (= G.711 bytes, = RTP timestamp units at 8 kHz) per 20 ms frame. */
export const FRAME_SAMPLES = 160;
/** After a stall longer than this many frames the backlog is dropped instead of sent as a burst. */
const MAX_CATCH_UP_FRAMES = 5;

export type Now = () => number;
const monotonicNow: Now = () => performance.now();

/**
 * Calls `onFrame(n)` for n = 0, 1, 2… at start + n × interval. Each wake-up is scheduled from the start time,
 * not from the previous tick, so timer lateness never accumulates into drift; frames that fell due during a
 * late wake-up are sent at once (up to MAX_CATCH_UP_FRAMES, beyond which they are skipped so the receiver
 * does not get a burst; n still advances with real time). `onFrame` returns false to stop.
 */
export class FramePacer {
  private startAt = 0;
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly onFrame: (n: number) => boolean,
    private readonly intervalMs = FRAME_MS,
    private readonly now: Now = monotonicNow,
  ) {}

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.startAt = this.now();
    this.next = 0;
    this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (!this.running) return;
    const due = Math.floor((this.now() - this.startAt) / this.intervalMs) + 1;
    if (due - this.next > MAX_CATCH_UP_FRAMES) this.next = due - 1;
    while (this.next < due) {
      const n = this.next++;
      if (!this.onFrame(n) || !this.running) {
        this.stop();
        return;
      }
    }
    const wait = this.startAt + this.next * this.intervalMs - this.now();
    this.timer = setTimeout(this.tick, Math.max(0, wait));
  };
}

export type PlayEnd = 'completed' | 'stopped';

/**
 * Plays G.711 bytes of one codec as 160-byte frames; the last partial frame is padded with silence. Frame n
 * is meant to carry RTP timestamp n × 160 and the marker bit on n = 0 (the sender does the RTP framing).
 */
export class PromptPlayer {
  private readonly frames: number;
  private readonly pacer: FramePacer;
  private ended = false;
  /** The audio's frame sent as the pacer's frame 0, and the next one due. */
  private readonly first: number;
  private position: number;

  constructor(
    readonly audio: Uint8Array,
    readonly codec: Codec,
    readonly loop: boolean,
    private readonly send: (payload: Uint8Array, frame: number) => void,
    private readonly onEnd: (reason: PlayEnd) => void,
    now?: Now,
    /** Where to start: a prompt that goes on in another worker (an endpoint moved) starts where it was. */
    firstFrame = 0,
  ) {
    this.first = firstFrame;
    this.position = firstFrame;
    this.frames = Math.ceil(audio.length / FRAME_SAMPLES);
    this.pacer = new FramePacer((n) => this.frame(n), FRAME_MS, now);
  }

  start(): void {
    if (this.frames === 0) {
      this.end('completed');
      return;
    }
    this.pacer.start();
  }

  stop(): void {
    this.end('stopped');
  }

  /** The frame of the audio that comes next. */
  get nextFrame(): number {
    return this.position;
  }

  private frame(n: number): boolean {
    if (this.ended) return false;
    // The pacer's n follows real time (frames skipped after a stall included), and so does the audio.
    const at = this.first + n;
    if (at >= this.frames && !this.loop) {
      this.end('completed');
      return false;
    }
    this.position = at + 1;
    const offset = (at % this.frames) * FRAME_SAMPLES;
    let payload = this.audio.subarray(offset, offset + FRAME_SAMPLES);
    if (payload.length < FRAME_SAMPLES) {
      const padded = new Uint8Array(FRAME_SAMPLES).fill(SILENCE[this.codec]);
      padded.set(payload);
      payload = padded;
    }
    this.send(payload, n);
    return true;
  }

  private end(reason: PlayEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.pacer.stop();
    this.onEnd(reason);
  }
}
