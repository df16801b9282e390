import { describe, it, expect } from 'vitest';
import { ALAW_DECODE, ALAW_TO_ULAW, ULAW_DECODE, ULAW_TO_ALAW, decode, encode, linearToAlaw, linearToUlaw, transcodeInPlace } from '../../../src/media/builtin/g711.js';

describe('G.711 µ-law', () => {
  it('decodes the known end points', () => {
    expect(ULAW_DECODE[0x00]).toBe(-32124);
    expect(ULAW_DECODE[0x80]).toBe(32124);
    expect(ULAW_DECODE[0xff]).toBe(0);
    expect(ULAW_DECODE[0x7f]).toBe(0);
    expect(ULAW_DECODE[0xfe]).toBe(8);
    expect(ULAW_DECODE[0x7e]).toBe(-8);
  });

  it('encodes the known values, clipping the extremes', () => {
    expect(linearToUlaw(0)).toBe(0xff);
    expect(linearToUlaw(32767)).toBe(0x80);
    expect(linearToUlaw(-32768)).toBe(0x00);
    expect(linearToUlaw(8)).toBe(0xfe);
    expect(linearToUlaw(-8)).toBe(0x7e);
  });

  it('re-encodes every decoded code to itself (0x7F, negative zero, becomes 0xFF)', () => {
    for (let c = 0; c < 256; c++) expect(linearToUlaw(ULAW_DECODE[c]!)).toBe(c === 0x7f ? 0xff : c);
  });

  it('is monotonic: larger samples never encode to a smaller decoded value', () => {
    let previous = -Infinity;
    for (let x = -32768; x <= 32767; x += 7) {
      const y = ULAW_DECODE[linearToUlaw(x)]!;
      expect(y).toBeGreaterThanOrEqual(previous);
      previous = y;
    }
  });
});

describe('G.711 A-law', () => {
  it('decodes the known end points', () => {
    expect(ALAW_DECODE[0xd5]).toBe(8);
    expect(ALAW_DECODE[0x55]).toBe(-8);
    expect(ALAW_DECODE[0xaa]).toBe(32256);
    expect(ALAW_DECODE[0x2a]).toBe(-32256);
  });

  it('encodes the known values', () => {
    expect(linearToAlaw(0)).toBe(0xd5);
    expect(linearToAlaw(-1)).toBe(0x55);
    expect(linearToAlaw(32767)).toBe(0xaa);
    expect(linearToAlaw(-32768)).toBe(0x2a);
  });

  it('re-encodes every decoded code to itself', () => {
    for (let c = 0; c < 256; c++) expect(linearToAlaw(ALAW_DECODE[c]!)).toBe(c);
  });
});

describe('PCMU ↔ PCMA transcoding tables', () => {
  it('map silence to silence and keep the sign and level', () => {
    expect(ULAW_TO_ALAW[0xff]).toBe(0xd5);
    expect(ALAW_TO_ULAW[0xd5]).toBe(0xfe);
    for (let c = 0; c < 256; c++) {
      const original = ULAW_DECODE[c]!;
      const through = ALAW_DECODE[ULAW_TO_ALAW[c]!]!;
      // A-law's step near a value is at most 1/16 of it plus its smallest step.
      expect(Math.abs(through - original)).toBeLessThanOrEqual(Math.abs(original) / 16 + 16);
      if (original !== 0) expect(Math.sign(through)).toBe(Math.sign(original));
    }
  });

  it('agree with decode-then-encode and transcode a buffer in place', () => {
    const pcm = Int16Array.from({ length: 160 }, (_, i) => Math.round(12000 * Math.sin(i / 5)));
    const ulaw = encode(pcm, 'PCMU');
    const buf = Uint8Array.from(ulaw);
    transcodeInPlace(buf, 0, buf.length, ULAW_TO_ALAW);
    expect(buf).toEqual(encode(decode(ulaw, 'PCMU'), 'PCMA'));
  });
});
