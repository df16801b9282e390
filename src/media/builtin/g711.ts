// G.711 (ITU-T G.711) µ-law and A-law companding: per-sample encoders, 256-entry decode tables, and the
// 256-entry PCMU↔PCMA transcoding tables the relay uses on the packet path (one lookup per byte).
import type { Codec } from '../engine.js';

const ULAW_BIAS = 0x84;
const ULAW_CLIP = 32635;

/** 16-bit linear → µ-law: sign, 3-bit segment (position of the top bit of |x|+bias), 4-bit mantissa; inverted. */
export function linearToUlaw(sample: number): number {
  let x = sample;
  let sign = 0;
  if (x < 0) {
    x = -x;
    sign = 0x80;
  }
  if (x > ULAW_CLIP) x = ULAW_CLIP;
  x += ULAW_BIAS;
  let segment = 7;
  while (segment > 0 && (x & (0x80 << segment)) === 0) segment--;
  const mantissa = (x >> (segment + 3)) & 0x0f;
  return ~(sign | (segment << 4) | mantissa) & 0xff;
}

export function ulawToLinear(code: number): number {
  const v = ~code & 0xff;
  const segment = (v >> 4) & 0x07;
  const magnitude = ((((v & 0x0f) << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
  return v & 0x80 ? -magnitude : magnitude;
}

/**
 * 16-bit linear → A-law on the 13-bit magnitude; negative values use the one's complement (-x - 1) so that
 * the two signs are symmetric; even bits inverted (XOR 0x55) as G.711 transmits them.
 */
export function linearToAlaw(sample: number): number {
  let x = sample >> 3;
  let mask = 0xd5;
  if (x < 0) {
    x = -x - 1;
    mask = 0x55;
  }
  if (x > 0xfff) x = 0xfff;
  let segment = 0;
  while (segment < 7 && x > (0x20 << segment) - 1) segment++;
  const mantissa = segment < 2 ? (x >> 1) & 0x0f : (x >> segment) & 0x0f;
  return ((segment << 4) | mantissa) ^ mask;
}

export function alawToLinear(code: number): number {
  const v = code ^ 0x55;
  const segment = (v >> 4) & 0x07;
  let t = (v & 0x0f) << 4;
  t = segment === 0 ? t + 8 : (t + 0x108) << (segment - 1);
  return v & 0x80 ? t : -t;
}

function table<T extends Int16Array | Uint8Array>(out: T, fn: (code: number) => number): T {
  for (let i = 0; i < 256; i++) out[i] = fn(i);
  return out;
}

export const ULAW_DECODE: Int16Array = table(new Int16Array(256), ulawToLinear);
export const ALAW_DECODE: Int16Array = table(new Int16Array(256), alawToLinear);
export const ULAW_TO_ALAW: Uint8Array = table(new Uint8Array(256), (c) => linearToAlaw(ulawToLinear(c)));
export const ALAW_TO_ULAW: Uint8Array = table(new Uint8Array(256), (c) => linearToUlaw(alawToLinear(c)));

/** The code for digital silence (linear 0) in each law. */
export const SILENCE: Record<Codec, number> = { PCMU: 0xff, PCMA: 0xd5 };

/** The table that turns one law's bytes into the other's, or null when no change is needed. */
export function transcodeTable(from: Codec, to: Codec): Uint8Array | null {
  if (from === to) return null;
  return from === 'PCMU' ? ULAW_TO_ALAW : ALAW_TO_ULAW;
}

/** Maps `length` bytes at `offset` through a transcoding table, in place. */
export function transcodeInPlace(buf: Uint8Array, offset: number, length: number, tbl: Uint8Array): void {
  const end = offset + length;
  for (let i = offset; i < end; i++) buf[i] = tbl[buf[i]!]!;
}

export function encode(pcm: Int16Array, codec: Codec): Uint8Array {
  const out = new Uint8Array(pcm.length);
  const fn = codec === 'PCMU' ? linearToUlaw : linearToAlaw;
  for (let i = 0; i < pcm.length; i++) out[i] = fn(pcm[i]!);
  return out;
}

export function decode(bytes: Uint8Array, codec: Codec): Int16Array {
  const tbl = codec === 'PCMU' ? ULAW_DECODE : ALAW_DECODE;
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = tbl[bytes[i]!]!;
  return out;
}
