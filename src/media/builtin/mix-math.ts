// The arithmetic of conference mixing, kept free of sockets and timers so it can be tested on its own:
// per-member sample buffers with a small jitter allowance, 32-bit accumulation (a sum of int16 frames never
// wraps), gain, and clamping to int16 with G.711 encoding through 64K-entry tables (one lookup per sample).
import type { Codec } from '../engine.js';
import { ALAW_DECODE, ULAW_DECODE, linearToAlaw, linearToUlaw } from './g711.js';

/** Samples per 20 ms mixing tick (8 kHz). */
export const MIX_FRAME = 160;
/** Received audio waiting for the tick is kept up to this many frames; older samples are dropped. */
export const JITTER_FRAMES = 3;

export const MIN_VOLUME_DB = -12;
export const MAX_VOLUME_DB = 12;

/** Linear factor of a volume setting in dB, clamped to −12…+12 (anything not a number is 0 dB). */
export function dbToGain(db: number | undefined): number {
  const d = db === undefined || !Number.isFinite(db) ? 0 : Math.min(MAX_VOLUME_DB, Math.max(MIN_VOLUME_DB, db));
  return Math.pow(10, d / 20);
}

/**
 * A FIFO of 16-bit samples with a fixed capacity. Packets of any ptime go in (decoded straight from the
 * payload, no intermediate buffer); the tick takes 160 at a time. When more than the capacity is waiting,
 * the oldest samples go: a sender running fast, or a burst after a network stall, must not build up delay.
 */
export class SampleRing {
  private readonly buf: Int16Array;
  private read = 0;
  private count = 0;

  constructor(readonly capacity = JITTER_FRAMES * MIX_FRAME) {
    this.buf = new Int16Array(capacity);
  }

  get available(): number {
    return this.count;
  }

  /** Decodes `length` G.711 bytes at `offset` through `table` (ULAW_DECODE / ALAW_DECODE) into the ring. */
  pushG711(src: Uint8Array, offset: number, length: number, table: Int16Array): void {
    const cap = this.capacity;
    // Only the newest `cap` samples of an oversized packet can stay.
    if (length > cap) {
      offset += length - cap;
      length = cap;
    }
    const overflow = this.count + length - cap;
    if (overflow > 0) {
      this.read = (this.read + overflow) % cap;
      this.count -= overflow;
    }
    let w = (this.read + this.count) % cap;
    const end = offset + length;
    for (let i = offset; i < end; i++) {
      this.buf[w] = table[src[i]!]!;
      if (++w === cap) w = 0;
    }
    this.count += length;
  }

  /** Takes one frame into `out` when a whole frame is waiting; false (nothing taken) otherwise. */
  take(out: Int16Array): boolean {
    const n = out.length;
    if (this.count < n) return false;
    const cap = this.capacity;
    let r = this.read;
    for (let i = 0; i < n; i++) {
      out[i] = this.buf[r]!;
      if (++r === cap) r = 0;
    }
    this.read = r;
    this.count -= n;
    return true;
  }

  /** Drops the `n` oldest samples (or all there are). */
  drop(n: number): void {
    const k = Math.min(n, this.count);
    this.read = (this.read + k) % this.capacity;
    this.count -= k;
  }

  clear(): void {
    this.read = 0;
    this.count = 0;
  }
}

/** Ticks in a row with a whole frame still waiting after the take before the backlog is cut (500 ms). */
export const BACKLOG_TICKS = 25;

/** The decode table of a codec. */
export function decodeTable(codec: Codec): Int16Array {
  return codec === 'PCMU' ? ULAW_DECODE : ALAW_DECODE;
}

let ulawEncode: Uint8Array | null = null;
let alawEncode: Uint8Array | null = null;

/** Linear → G.711 for every int16 value, indexed by sample + 32768 (built once, on first use: 64 KB each). */
export function encodeTable(codec: Codec): Uint8Array {
  if (codec === 'PCMU') return (ulawEncode ??= buildEncodeTable(linearToUlaw));
  return (alawEncode ??= buildEncodeTable(linearToAlaw));
}

function buildEncodeTable(fn: (sample: number) => number): Uint8Array {
  const t = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) t[i] = fn(i - 32768);
  return t;
}

/** acc += pcm, sample by sample (acc is 32-bit: a hundred full-scale members cannot overflow it). */
export function addInto(acc: Int32Array, pcm: Int16Array): void {
  const n = acc.length;
  for (let i = 0; i < n; i++) acc[i]! += pcm[i]!;
}

/** out = total − own: what a member that hears everyone hears (the total without its own voice). */
export function subtractInto(out: Int32Array, total: Int32Array, own: Int16Array): void {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = total[i]! - own[i]!;
}

/** acc ×= gain (truncated toward zero; clamping comes after). */
export function applyGain(acc: Int32Array, gain: number): void {
  const n = acc.length;
  for (let i = 0; i < n; i++) acc[i] = acc[i]! * gain;
}

export function clamp16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

/** Clamps each sum to int16 (saturation: a loud sum stays at full scale instead of wrapping round) and encodes. */
export function encodeClamped(acc: Int32Array, out: Uint8Array, offset: number, table: Uint8Array): void {
  const n = acc.length;
  for (let i = 0; i < n; i++) {
    const v = acc[i]!;
    out[offset + i] = table[(v > 32767 ? 32767 : v < -32768 ? -32768 : v) + 32768]!;
  }
}

/**
 * The worker-side input of one mixed endpoint: what its party says (fed by the relay's packet handler) and
 * the prompt played to it (fed by its PromptPlayer), each waiting for the next mixing tick.
 */
export class MixInput {
  constructor(
    /** The mix this input belongs to. */
    readonly mixId: string,
  ) {}

  readonly speech = new SampleRing();
  /**
   * Ticks in a row after which a whole frame of speech was still waiting: a burst after a network stall
   * leaves a standing backlog that only adds delay, so after BACKLOG_TICKS of it one frame is dropped.
   */
  backlog = 0;
  readonly prompt = new SampleRing();
  /** Whether received audio is buffered at all (a muted member's or silent monitor's is not). */
  speaks = true;
}
