// Audio analysis for tests, independent of src/media/ so that what the engine writes is checked by other
// code: a sine generator, G.711 µ-law by the textbook formula, and the frequency of a tone by counting zero
// crossings and by a Goertzel filter.

export const RATE = 8000;

/** `count` samples of a sine at `hz`, starting at sample `offset` (so consecutive frames join up). */
export function sine(hz: number, count: number, amplitude = 8000, offset = 0): Int16Array {
  const out = new Int16Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * (offset + i)) / RATE));
  return out;
}

/** G.711 µ-law encoding of one 16-bit sample (ITU-T G.711, bias 0x84, clip 32635). */
export function ulawEncode(sample: number): number {
  let x = Math.max(-32635, Math.min(32635, sample));
  const sign = x < 0 ? 0x80 : 0;
  if (x < 0) x = -x;
  x += 0x84;
  let exponent = 7;
  for (let mask = 0x4000; (x & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (x >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function ulawDecode(code: number): number {
  const v = ~code & 0xff;
  const exponent = (v >> 4) & 0x07;
  const magnitude = ((((v & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  return v & 0x80 ? -magnitude : magnitude;
}

/** G.711 A-law encoding of one 16-bit sample (13-bit magnitude, segments, even bits inverted). */
export function alawEncode(sample: number): number {
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

export function alawDecode(code: number): number {
  const v = code ^ 0x55;
  const segment = (v >> 4) & 0x07;
  let t = (v & 0x0f) << 4;
  t = segment === 0 ? t + 8 : (t + 0x108) << (segment - 1);
  return v & 0x80 ? t : -t;
}

/** Frequency estimated from the number of sign changes (a pure tone crosses zero twice per period). */
export function zeroCrossingHz(samples: ArrayLike<number>): number {
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) if (samples[i - 1]! < 0 !== samples[i]! < 0) crossings++;
  return (crossings / 2) * (RATE / samples.length);
}

/** Relative power at `hz` (Goertzel), normalised by the signal's power: near 1 for a pure tone at hz. */
export function toneShare(samples: ArrayLike<number>, hz: number): number {
  const n = samples.length;
  const k = (2 * Math.cos((2 * Math.PI * hz) / RATE)) as number;
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const x = samples[i]!;
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  return energy === 0 ? 0 : (2 * power) / (n * energy);
}

/** The samples of an 8 kHz mono 16-bit WAV, checking its header fields on the way. */
export function readWav(buf: Buffer): { rate: number; channels: number; bits: number; format: number; dataBytes: number; riffSize: number; samples: Int16Array } {
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  if (buf.toString('ascii', 12, 16) !== 'fmt ' || buf.toString('ascii', 36, 40) !== 'data') throw new Error('not a canonical 44-byte header');
  const dataBytes = buf.readUInt32LE(40);
  const samples = new Int16Array(dataBytes / 2);
  for (let i = 0; i < samples.length; i++) samples[i] = buf.readInt16LE(44 + i * 2);
  return { format: buf.readUInt16LE(20), channels: buf.readUInt16LE(22), rate: buf.readUInt32LE(24), bits: buf.readUInt16LE(34), dataBytes, riffSize: buf.readUInt32LE(4), samples };
}
