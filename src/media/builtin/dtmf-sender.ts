// Generates RFC 4733 telephone-events toward one leg, one digit after another on the 20 ms frame clock.
import { FRAME_MS, FRAME_SAMPLES, FramePacer, type Now } from './player.js';
import { digitToEvent, type TelephoneEvent } from './rfc4733.js';

export const DEFAULT_DTMF_DURATION_MS = 100;
const MIN_DURATION_MS = 40;
const MAX_DURATION_MS = 5000;
/** §2.5.1.4: the end packet is sent three times, here on three successive frames against burst loss. */
const END_PACKETS = 3;
/** Extra silent frames between digits: the three end-packet frames already leave a 60 ms gap between tones. */
const GAP_FRAMES = 0;
const VOLUME = 10;

interface QueuedDigit {
  event: number;
  frames: number;
}

/** One generated packet: the event fields, marker (first packet of an event), and source seq/timestamp. */
export type EventSink = (ev: TelephoneEvent, marker: boolean, sequence: number, timestamp: number) => void;

/**
 * Each digit: `frames` update packets with growing duration (marker on the first), then the end packets with
 * the total duration, then the next digit. All packets of a digit carry the timestamp of its first frame
 * (§2.5.1.2); sequence numbers count every packet. Timestamps follow the frame clock, so the next digit's
 * timestamp is later by the real time elapsed.
 */
export class DtmfSender {
  private readonly queue: QueuedDigit[] = [];
  private pacer: FramePacer | null = null;
  private current: QueuedDigit | null = null;
  private digitStart = 0;
  private sequence = 0;
  private readonly ev: TelephoneEvent = { event: 0, end: false, volume: VOLUME, duration: 0 };

  constructor(
    private readonly sink: EventSink,
    private readonly onIdle: () => void,
    private readonly now?: Now,
  ) {}

  get active(): boolean {
    return this.pacer !== null;
  }

  /** Queues a digit (0-9 * # A-D); false for anything else. */
  enqueue(digit: string, durationMs = DEFAULT_DTMF_DURATION_MS): boolean {
    const event = digitToEvent(digit);
    if (event < 0) return false;
    const ms = Math.min(MAX_DURATION_MS, Math.max(MIN_DURATION_MS, Number.isFinite(durationMs) ? durationMs : DEFAULT_DTMF_DURATION_MS));
    this.queue.push({ event, frames: Math.round(ms / FRAME_MS) });
    if (!this.pacer) {
      this.pacer = new FramePacer((n) => this.frame(n), FRAME_MS, this.now);
      this.pacer.start();
    }
    return true;
  }

  stop(): void {
    this.queue.length = 0;
    this.current = null;
    if (!this.pacer) return;
    this.pacer.stop();
    this.pacer = null;
    this.onIdle();
  }

  private frame(n: number): boolean {
    if (this.current && n - this.digitStart >= this.current.frames + END_PACKETS + GAP_FRAMES) this.current = null;
    if (!this.current) {
      const next = this.queue.shift();
      if (!next) {
        this.pacer = null;
        this.onIdle();
        return false;
      }
      this.current = next;
      this.digitStart = n;
    }
    const d = this.current;
    const k = n - this.digitStart;
    if (k < d.frames + END_PACKETS) {
      this.ev.event = d.event;
      this.ev.end = k >= d.frames;
      this.ev.duration = Math.min(k + 1, d.frames) * FRAME_SAMPLES;
      this.sink(this.ev, k === 0, this.sequence++ & 0xffff, (this.digitStart * FRAME_SAMPLES) >>> 0);
    }
    return true;
  }
}
