// Recording an endpoint's inbound audio to a WAV file (F-VM messages, box greetings): the G.711 payloads the
// party sends are decoded to 16-bit PCM and streamed to an 8 kHz mono 16-bit WAV whose header is written
// with the real sizes when the recording ends. It ends on stop(), at maxSamples, after maxSilenceMs without
// sound (low energy, or no packets at all: phones with silence suppression send nothing), or when the
// endpoint goes. Runs in the media worker; the file is written asynchronously so the packet path never
// waits for the disk.
import { createWriteStream, type WriteStream } from 'node:fs';
import { finishWavFile, WAV_HEADER_BYTES } from './wav.js';

export type RecordStopReason = 'stopped' | 'max-length' | 'silence' | 'ended' | 'failed';

export interface RecorderOptions {
  path: string;
  /** Length at which the recording stops by itself, in samples (8 kHz). */
  maxSamples: number;
  /** Time without sound after which the recording stops (ms); 0 = never. */
  maxSilenceMs: number;
  /**
   * Mean absolute sample value (16-bit scale) below which a 20 ms frame counts as silence. The default 300
   * is about -40 dBFS: room noise and comfort-noise levels stay under it, speech and tones are far above.
   */
  silenceThreshold: number;
}

export interface RecorderResult {
  reason: RecordStopReason;
  /** Samples in the file (8 kHz). */
  samples: number;
  error?: string;
}

const SAMPLE_RATE = 8000;
/** Decoded samples are handed to the file stream in chunks of this size (1 s): few writes, little memory. */
const CHUNK_SAMPLES = SAMPLE_RATE;
/** A timestamp gap (lost packets, a phone pausing its stream) is filled with silence up to this long. */
const MAX_GAP_SAMPLES = SAMPLE_RATE;
/** Kept after the last sound when the recording stops on silence, so the message does not end abruptly. */
const SILENCE_TAIL_SAMPLES = SAMPLE_RATE / 5;

export const DEFAULT_SILENCE_THRESHOLD = 300;

export class WavRecorder {
  private readonly stream: WriteStream;
  private chunk = new Int16Array(CHUNK_SAMPLES);
  private fill = 0;
  /** Samples accepted so far (written or waiting in `chunk`). */
  private samples = 0;
  /** Samples up to the end of the last frame that held sound. */
  private samplesAtLastSound = 0;
  private lastSoundAt: number;
  private lastSsrc = -1;
  private nextTimestamp = 0;
  private failure: string | undefined;
  private finished = false;
  private reported = false;

  constructor(
    private readonly opts: RecorderOptions,
    startedAt: number,
    private readonly onDone: (r: RecorderResult) => void,
  ) {
    this.lastSoundAt = startedAt;
    this.stream = createWriteStream(opts.path);
    this.stream.on('error', (err) => {
      this.failure ??= err.message;
      // An error after the end was asked for (disk full on the last write) is reported at once.
      if (this.finished) this.report({ reason: 'failed', samples: 0, error: this.failure });
      else this.finish('failed');
    });
    // The header's sizes are unknown until the end; a placeholder keeps the data at its final offset.
    this.stream.write(Buffer.alloc(WAV_HEADER_BYTES));
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /**
   * One received G.711 frame: `length` bytes at `offset` of `buf`, decoded with `table` (µ-law or A-law to
   * linear). `timestamp`/`ssrc` are the packet's, used to fill gaps so the file keeps the real timing.
   */
  push(buf: Uint8Array, offset: number, length: number, table: Int16Array, timestamp: number, ssrc: number, now: number): void {
    if (this.finished) return;
    if (ssrc === this.lastSsrc) {
      const gap = (timestamp - this.nextTimestamp) | 0;
      if (gap > 0 && gap <= MAX_GAP_SAMPLES) this.append(new Int16Array(Math.min(gap, this.opts.maxSamples - this.samples)));
      // A late or repeated packet (negative gap) is dropped: its place in the file has passed.
      else if (gap < 0) return;
    }
    this.lastSsrc = ssrc;
    this.nextTimestamp = (timestamp + length) | 0;
    const n = Math.min(length, this.opts.maxSamples - this.samples);
    const pcm = new Int16Array(n);
    let energy = 0;
    for (let i = 0; i < n; i++) {
      const s = table[buf[offset + i]!]!;
      pcm[i] = s;
      energy += s < 0 ? -s : s;
    }
    this.append(pcm);
    if (n > 0 && energy / n >= this.opts.silenceThreshold) {
      this.lastSoundAt = now;
      this.samplesAtLastSound = this.samples;
    }
    if (this.samples >= this.opts.maxSamples) this.finish('max-length');
    else this.tick(now);
  }

  /** Checked on every packet and by the worker's timer (no packets at all is silence too). */
  tick(now: number): void {
    if (this.finished) return;
    if (this.opts.maxSilenceMs > 0 && now - this.lastSoundAt >= this.opts.maxSilenceMs) this.finish('silence');
  }

  stop(reason: 'stopped' | 'ended'): void {
    this.finish(reason);
  }

  private append(pcm: Int16Array): void {
    let at = 0;
    while (at < pcm.length) {
      const n = Math.min(pcm.length - at, CHUNK_SAMPLES - this.fill);
      this.chunk.set(pcm.subarray(at, at + n), this.fill);
      this.fill += n;
      at += n;
      if (this.fill === CHUNK_SAMPLES) this.flush();
    }
    this.samples += pcm.length;
  }

  private flush(): void {
    if (this.fill === 0) return;
    const bytes = Buffer.alloc(this.fill * 2);
    for (let i = 0; i < this.fill; i++) bytes.writeInt16LE(this.chunk[i]!, i * 2);
    this.stream.write(bytes);
    this.chunk = new Int16Array(CHUNK_SAMPLES);
    this.fill = 0;
  }

  private finish(reason: RecordStopReason): void {
    if (this.finished) return;
    this.finished = true;
    // Stopped by silence: the silent stretch is not part of the message (as Asterisk trims it).
    const keep = reason === 'silence' ? Math.min(this.samples, this.samplesAtLastSound + SILENCE_TAIL_SAMPLES) : this.samples;
    if (this.failure !== undefined) {
      this.stream.destroy();
      this.report({ reason: 'failed', samples: 0, error: this.failure });
      return;
    }
    this.flush();
    this.stream.end(() => {
      this.writeHeader(keep).then(
        () => this.report({ reason, samples: keep }),
        (err: unknown) => this.report({ reason: 'failed', samples: 0, error: (err as Error).message }),
      );
    });
  }

  private report(r: RecorderResult): void {
    if (this.reported) return;
    this.reported = true;
    this.onDone(r);
  }

  /** The real RIFF and data sizes, and the file cut to them (a silent tail is dropped). */
  private writeHeader(samples: number): Promise<void> {
    return finishWavFile(this.opts.path, samples, 1);
  }
}
