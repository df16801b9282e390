// Recording both parties of a call to one WAV (F-CDR recording_path). Each party's inbound G.711 is decoded
// into a small buffer of its own (a CallSide); a 20 ms clock takes one frame from each side and writes it,
// interleaved (stereo: a left, b right) or summed with saturation (mono). Driving the file from one clock
// rather than from packet arrival keeps the channels aligned whatever each phone does: a side that sends
// nothing (silence suppression, hold, a leg being replaced by a transfer) is written as silence. Runs in the
// media worker; the file is written asynchronously so the packet path never waits for the disk.
import { createWriteStream, type WriteStream } from 'node:fs';
import { finishWavFile, WAV_HEADER_BYTES } from './wav.js';

export const FRAME_MS = 20;
export const FRAME = 160;
/** A side starts (again) being read once it holds this much: one frame of slack absorbs packet/timer jitter. */
const PRIME_SAMPLES = 2 * FRAME;
/** More than this buffered (a burst, or a phone's clock running fast) is cut back to PRIME_SAMPLES. */
const MAX_BUFFERED = 6 * FRAME;
/** Frames handed to the file stream per write (1 s): few writes, little memory. */
const FRAMES_PER_CHUNK = 50;

/** One party's audio waiting for the clock: a jitter buffer of decoded 16-bit samples. */
export class CallSide {
  private readonly buf = new Int16Array(MAX_BUFFERED + 2 * FRAME);
  private len = 0;
  private primed = false;

  get buffered(): number {
    return this.len;
  }

  /** `length` G.711 bytes at `offset`, decoded with `table` (µ-law or A-law to linear). */
  push(bytes: Uint8Array, offset: number, length: number, table: Int16Array): void {
    const n = Math.min(length, this.buf.length);
    if (this.len + n > this.buf.length) this.drop(this.len + n - this.buf.length);
    for (let i = 0; i < n; i++) this.buf[this.len + i] = table[bytes[offset + i]!]!;
    this.len += n;
    if (this.len > MAX_BUFFERED) this.drop(this.len - PRIME_SAMPLES);
  }

  /** Linear samples (tests, tones): the same path as decoded packets. */
  pushPcm(pcm: Int16Array): void {
    if (this.len + pcm.length > this.buf.length) this.drop(this.len + pcm.length - this.buf.length);
    const n = Math.min(pcm.length, this.buf.length);
    this.buf.set(pcm.subarray(0, n), this.len);
    this.len += n;
    if (this.len > MAX_BUFFERED) this.drop(this.len - PRIME_SAMPLES);
  }

  /** The next frame into `out` (FRAME samples); silence for whatever the party has not sent. */
  take(out: Int16Array): void {
    if (!this.primed) {
      if (this.len < PRIME_SAMPLES) {
        out.fill(0);
        return;
      }
      this.primed = true;
    }
    const n = Math.min(FRAME, this.len);
    out.set(this.buf.subarray(0, n));
    if (n < FRAME) {
      out.fill(0, n);
      // Ran dry: wait for a frame of slack again rather than cut every following frame short.
      this.primed = false;
    }
    this.drop(n);
  }

  /** Forget what is buffered (a paused recording must not replay it when it resumes). */
  clear(): void {
    this.len = 0;
    this.primed = false;
  }

  private drop(n: number): void {
    this.buf.copyWithin(0, n, this.len);
    this.len -= n;
  }
}

/** Interleave (stereo) or sum with saturation (mono) one frame of each side into `out` at `at` (samples). */
export function mixFrame(a: Int16Array, b: Int16Array, channels: 1 | 2, out: Int16Array, at: number): void {
  if (channels === 2) {
    for (let i = 0; i < FRAME; i++) {
      out[at + 2 * i] = a[i]!;
      out[at + 2 * i + 1] = b[i]!;
    }
    return;
  }
  for (let i = 0; i < FRAME; i++) {
    const s = a[i]! + b[i]!;
    out[at + i] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
  }
}

export type CallRecordStopReason = 'stopped' | 'ended' | 'failed';

export interface CallRecorderResult {
  reason: CallRecordStopReason;
  /** Samples per channel in the file (8 kHz). */
  samples: number;
  error?: string;
}

export class CallRecorder {
  readonly a = new CallSide();
  readonly b = new CallSide();
  private readonly stream: WriteStream;
  private readonly frameA = new Int16Array(FRAME);
  private readonly frameB = new Int16Array(FRAME);
  private chunk: Int16Array;
  private chunkFrames = 0;
  /** Clock frames elapsed since the start (written or skipped while paused). */
  private ticks = 0;
  private frames = 0;
  private paused = false;
  private failure: string | undefined;
  private finished = false;
  private reported = false;

  constructor(
    private readonly path: string,
    private readonly channels: 1 | 2,
    private readonly startedAt: number,
    private readonly onDone: (r: CallRecorderResult) => void,
  ) {
    this.chunk = new Int16Array(FRAMES_PER_CHUNK * FRAME * channels);
    this.stream = createWriteStream(path);
    this.stream.on('error', (err) => {
      this.failure ??= err.message;
      if (this.finished) this.report({ reason: 'failed', samples: 0, error: this.failure });
      else this.finish('failed');
    });
    // The sizes are unknown until the end; a placeholder keeps the data at its final offset.
    this.stream.write(Buffer.alloc(WAV_HEADER_BYTES));
  }

  get isFinished(): boolean {
    return this.finished;
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
  }

  /** Write every frame the clock owes up to `now` (ms, monotonic); a late timer is caught up here. */
  tick(now: number): void {
    if (this.finished) return;
    const due = Math.floor((now - this.startedAt) / FRAME_MS);
    while (this.ticks < due) {
      this.ticks++;
      this.a.take(this.frameA);
      this.b.take(this.frameB);
      if (this.paused) continue;
      mixFrame(this.frameA, this.frameB, this.channels, this.chunk, this.chunkFrames * FRAME * this.channels);
      this.frames++;
      if (++this.chunkFrames === FRAMES_PER_CHUNK) this.flush();
    }
  }

  stop(reason: 'stopped' | 'ended'): void {
    this.finish(reason);
  }

  private flush(): void {
    if (this.chunkFrames === 0) return;
    const samples = this.chunkFrames * FRAME * this.channels;
    // WAV is little-endian, as every platform Node runs the media worker on: the samples go out as they are.
    this.stream.write(Buffer.from(this.chunk.buffer, 0, samples * 2));
    this.chunk = new Int16Array(FRAMES_PER_CHUNK * FRAME * this.channels);
    this.chunkFrames = 0;
  }

  private finish(reason: CallRecordStopReason): void {
    if (this.finished) return;
    this.finished = true;
    if (this.failure !== undefined) {
      this.stream.destroy();
      this.report({ reason: 'failed', samples: 0, error: this.failure });
      return;
    }
    this.flush();
    const samples = this.frames * FRAME;
    this.stream.end(() => {
      this.writeHeader(samples).then(
        () => this.report({ reason, samples }),
        (err: unknown) => this.report({ reason: 'failed', samples: 0, error: (err as Error).message }),
      );
    });
  }

  private report(r: CallRecorderResult): void {
    if (this.reported) return;
    this.reported = true;
    this.onDone(r);
  }

  private writeHeader(samples: number): Promise<void> {
    return finishWavFile(this.path, samples, this.channels);
  }
}
