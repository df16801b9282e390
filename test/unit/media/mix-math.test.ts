// The mixing arithmetic on its own (src/media/builtin/mix-math.ts): saturating sums, gains, G.711 tables,
// and the per-member sample ring. The G.711 references are test/support/audio.ts's textbook formulas.
import { describe, it, expect } from 'vitest';
import { ALAW_DECODE, ULAW_DECODE } from '../../../src/media/builtin/g711.js';
import { MIX_FRAME, SampleRing, addInto, applyGain, dbToGain, decodeTable, encodeClamped, encodeTable, subtractInto } from '../../../src/media/builtin/mix-math.js';
import { alawDecode, alawEncode, ulawDecode, ulawEncode } from '../../support/audio.js';

function frame(fill: (i: number) => number, n = 4): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => fill(i));
}

describe('mix arithmetic', () => {
  it('sums in 32 bits and clamps to int16 instead of wrapping round', () => {
    const acc = new Int32Array(4);
    addInto(
      acc,
      frame(() => 30000),
    );
    addInto(
      acc,
      frame(() => 30000),
    );
    expect([...acc]).toEqual([60000, 60000, 60000, 60000]);
    const out = new Uint8Array(4);
    encodeClamped(acc, out, 0, encodeTable('PCMU'));
    // Full-scale positive, not the negative value a 16-bit wrap (60000 − 65536) would give.
    expect([...out].map((c) => ULAW_DECODE[c]!)).toEqual([32124, 32124, 32124, 32124]);
    acc.fill(-60000);
    encodeClamped(acc, out, 0, encodeTable('PCMA'));
    expect([...out].map((c) => ALAW_DECODE[c]!)).toEqual([-32256, -32256, -32256, -32256]);
  });

  it('total minus own voice is the sum of the others', () => {
    const a = frame((i) => i * 100);
    const b = frame((i) => -i * 7);
    const c = frame(() => 5);
    const total = new Int32Array(4);
    for (const x of [a, b, c]) addInto(total, x);
    const out = new Int32Array(4);
    subtractInto(out, total, a);
    expect([...out]).toEqual([...b].map((v, i) => v + c[i]!));
  });

  it('gains: dB to linear, clamped to ±12 dB, applied before clamping', () => {
    expect(dbToGain(0)).toBe(1);
    expect(dbToGain(undefined)).toBe(1);
    expect(dbToGain(Number.NaN)).toBe(1);
    expect(dbToGain(6)).toBeCloseTo(1.9953, 3);
    expect(dbToGain(-12)).toBeCloseTo(0.2512, 3);
    expect(dbToGain(40)).toBeCloseTo(dbToGain(12), 10);
    expect(dbToGain(-40)).toBeCloseTo(dbToGain(-12), 10);
    const acc = Int32Array.of(1000, -1000, 20000, 0);
    applyGain(acc, dbToGain(12));
    expect([...acc]).toEqual([3981, -3981, 79621, 0]);
    const out = new Uint8Array(4);
    encodeClamped(acc, out, 0, encodeTable('PCMU'));
    expect(ULAW_DECODE[out[2]!]).toBe(32124);
  });

  it('the 64K encode tables agree with the textbook G.711 encoders, and decode∘encode is the identity on codes', () => {
    const u = encodeTable('PCMU');
    const a = encodeTable('PCMA');
    for (let s = -32768; s <= 32767; s += 7) {
      expect(u[s + 32768]).toBe(ulawEncode(s));
      expect(a[s + 32768]).toBe(alawEncode(s));
    }
    for (let code = 0; code < 256; code++) {
      // µ-law has two codes for zero (0x7f, 0xff): both decode to 0, which encodes to 0xff.
      const ul = ulawDecode(code) + 0;
      expect(decodeTable('PCMU')[code]).toBe(ul);
      if (code !== 0x7f) expect(u[ul + 32768]).toBe(code);
      const al = alawDecode(code) + 0;
      expect(decodeTable('PCMA')[code]).toBe(al);
      expect(a[al + 32768]).toBe(code);
    }
  });

  it('µ-law and A-law members mix through linear: the same sum whatever law each speaks', () => {
    const u = encodeTable('PCMU');
    const a = encodeTable('PCMA');
    const mu = Uint8Array.from([1000, -2000, 3000, 0], (s) => u[s + 32768]!);
    const al = Uint8Array.from([500, 500, -500, 0], (s) => a[s + 32768]!);
    const ringU = new SampleRing();
    const ringA = new SampleRing();
    ringU.pushG711(mu, 0, 4, ULAW_DECODE);
    ringA.pushG711(al, 0, 4, ALAW_DECODE);
    const x = new Int16Array(4);
    const y = new Int16Array(4);
    expect(ringU.take(x) && ringA.take(y)).toBe(true);
    const acc = new Int32Array(4);
    addInto(acc, x);
    addInto(acc, y);
    // Within G.711 quantisation of each input.
    const expected = [1500, -1500, 2500, 0];
    acc.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(80));
  });
});

describe('SampleRing', () => {
  const bytes = (n: number, start = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
  const identity = Int16Array.from({ length: 256 }, (_, i) => i);

  it('hands out whole frames only, in order, across packets of any size', () => {
    const ring = new SampleRing();
    const out = new Int16Array(MIX_FRAME);
    ring.pushG711(bytes(80), 0, 80, identity);
    expect(ring.take(out)).toBe(false);
    ring.pushG711(bytes(240, 80), 0, 240, identity);
    expect(ring.take(out)).toBe(true);
    expect(out[0]).toBe(0);
    expect(out[159]).toBe(159);
    expect(ring.take(out)).toBe(true);
    expect(out[0]).toBe(160);
    expect(ring.available).toBe(0);
  });

  it('keeps at most three frames: the oldest samples are dropped, not the newest', () => {
    const ring = new SampleRing();
    const out = new Int16Array(MIX_FRAME);
    for (let f = 0; f < 5; f++) ring.pushG711(new Uint8Array(MIX_FRAME).fill(f), 0, MIX_FRAME, identity);
    expect(ring.available).toBe(3 * MIX_FRAME);
    const got: number[] = [];
    while (ring.take(out)) got.push(out[0]!);
    expect(got).toEqual([2, 3, 4]);
    // A packet bigger than the ring keeps its newest part.
    ring.pushG711(bytes(600), 0, 600, identity);
    expect(ring.available).toBe(480);
    ring.take(out);
    expect(out[0]).toBe(120);
  });
});
