import { describe, it, expect } from 'vitest';
import { InbandDtmfDetector, type DetectedDigit } from '../../../src/media/builtin/goertzel.js';
import { ALAW_DECODE, ULAW_DECODE, decode, encode } from '../../../src/media/builtin/g711.js';
import type { Codec } from '../../../src/media/engine.js';

const RATE = 8000;
/** Peak amplitude of a 0 dBm0 sine in 16-bit PCM (µ-law full scale 32124 is +3.17 dBm0). */
const DBM0 = 32124 / 10 ** (3.17 / 20);
const ROW: Record<string, number> = { '1': 697, '2': 697, '3': 697, A: 697, '4': 770, '5': 770, '6': 770, B: 770, '7': 852, '8': 852, '9': 852, C: 852, '*': 941, '0': 941, '#': 941, D: 941 };
const COL: Record<string, number> = {
  '1': 1209,
  '4': 1209,
  '7': 1209,
  '*': 1209,
  '2': 1336,
  '5': 1336,
  '8': 1336,
  '0': 1336,
  '3': 1477,
  '6': 1477,
  '9': 1477,
  '#': 1477,
  A: 1633,
  B: 1633,
  C: 1633,
  D: 1633,
};
const KEYS = '123A456B789C*0#D';

const ms = (n: number): number => (n * RATE) / 1000;

/** A mix of sines ([frequency Hz, level dBm0]) lasting `samples`, as float samples. */
function tones(parts: [number, number][], samples: number, phase = 0.3): number[] {
  const out = new Array<number>(samples).fill(0);
  for (const [f, dbm0] of parts) {
    const peak = DBM0 * 10 ** (dbm0 / 20);
    for (let i = 0; i < samples; i++) out[i]! += peak * Math.sin((2 * Math.PI * f * i) / RATE + phase);
  }
  return out;
}

const silence = (samples: number): number[] => new Array<number>(samples).fill(0);

function dtmf(key: string, samples: number, opts: { row?: number; col?: number; rowScale?: number; colScale?: number } = {}): number[] {
  return tones(
    [
      [ROW[key]! * (opts.rowScale ?? 1), opts.row ?? -10],
      [COL[key]! * (opts.colScale ?? 1), opts.col ?? -10],
    ],
    samples,
  );
}

/** Through the codec and back, as the detector sees a phone's audio. */
function viaG711(samples: number[], codec: Codec = 'PCMU'): Int16Array {
  const pcm = Int16Array.from(samples, (x) => Math.max(-32768, Math.min(32767, Math.round(x))));
  return decode(encode(pcm, codec), codec);
}

/** Feeds `pcm` in 160-sample frames (then 200 ms of silence so a last press ends) and collects the digits. */
function detect(pcm: Int16Array, detector = new InbandDtmfDetector()): DetectedDigit[] {
  const all = new Int16Array(pcm.length + ms(200));
  all.set(pcm);
  const got: DetectedDigit[] = [];
  for (let i = 0; i < all.length; i += 160) got.push(...detector.push(all.subarray(i, i + 160)));
  return got;
}

const digits = (got: DetectedDigit[]): string => got.map((d) => d.digit).join('');

/** Deterministic pseudo-random numbers in [0, 1) (xorshift32), so a failure can be reproduced. */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

describe('InbandDtmfDetector', () => {
  it('detects each of the 16 keys exactly once at -10 dBm0 per tone through PCMU', () => {
    const signal: number[] = [];
    for (const key of KEYS) signal.push(...dtmf(key, ms(100)), ...silence(ms(100)));
    const got = detect(viaG711(signal));
    expect(digits(got)).toBe(KEYS);
    for (const d of got) expect(Math.abs(d.durationMs - 100)).toBeLessThanOrEqual(13);
  });

  it('detects each key through PCMA and via pushG711 on the encoded bytes', () => {
    for (const key of KEYS) {
      const pcm = Int16Array.from([...silence(ms(30)), ...dtmf(key, ms(80)), ...silence(ms(200))], (x) => Math.round(x));
      const alaw = encode(pcm, 'PCMA');
      const ulaw = encode(pcm, 'PCMU');
      const a = new InbandDtmfDetector();
      const u = new InbandDtmfDetector();
      const gotA: DetectedDigit[] = [];
      const gotU: DetectedDigit[] = [];
      for (let i = 0; i < pcm.length; i += 160) {
        gotA.push(...a.pushG711(alaw, i, Math.min(160, pcm.length - i), ALAW_DECODE));
        gotU.push(...u.pushG711(ulaw, i, Math.min(160, pcm.length - i), ULAW_DECODE));
      }
      expect(digits(gotA)).toBe(key);
      expect(digits(gotU)).toBe(key);
    }
  });

  it('reports a digit only when it ends', () => {
    const detector = new InbandDtmfDetector();
    const tone = viaG711(dtmf('5', ms(200)));
    const during: DetectedDigit[] = [];
    for (let i = 0; i < tone.length; i += 160) during.push(...detector.push(tone.subarray(i, i + 160)));
    expect(during).toEqual([]);
    expect(digits(detect(new Int16Array(0), detector))).toBe('5');
  });

  it('flush() reports a press in progress once, and nothing when idle', () => {
    const detector = new InbandDtmfDetector();
    const tone = viaG711(dtmf('9', ms(100)));
    for (let i = 0; i < tone.length; i += 160) expect(detector.push(tone.subarray(i, i + 160))).toEqual([]);
    expect(digits(detector.flush())).toBe('9');
    expect(detector.flush()).toEqual([]);
    expect(detect(new Int16Array(0), detector)).toEqual([]);
  });

  it('detects a 40 ms tone and never a 20 ms blip, whatever their alignment with the frames', () => {
    for (let offset = 0; offset < 160; offset += 7) {
      const lead = silence(offset);
      expect(digits(detect(viaG711([...lead, ...dtmf('7', ms(40))]))), `40 ms at offset ${offset}`).toBe('7');
      expect(detect(viaG711([...lead, ...dtmf('7', ms(20))])), `20 ms at offset ${offset}`).toEqual([]);
    }
  });

  it('counts two presses of the same digit separated by 60 ms of silence as two digits', () => {
    for (let offset = 0; offset < 160; offset += 11) {
      const signal = [...silence(offset), ...dtmf('3', ms(80)), ...silence(ms(60)), ...dtmf('3', ms(80))];
      expect(digits(detect(viaG711(signal))), `offset ${offset}`).toBe('33');
    }
  });

  it('does not split a press interrupted for 10 ms', () => {
    for (let offset = 0; offset < 160; offset += 13) {
      const signal = [...silence(offset), ...dtmf('0', ms(100)), ...silence(ms(10)), ...dtmf('0', ms(100))];
      expect(digits(detect(viaG711(signal))), `offset ${offset}`).toBe('0');
    }
  });

  it('detects a change of digit without a pause as two digits', () => {
    expect(digits(detect(viaG711([...dtmf('1', ms(100)), ...dtmf('2', ms(100))])))).toBe('12');
  });

  it('detects nothing in silence or low-level noise', () => {
    expect(detect(new Int16Array(ms(2000)))).toEqual([]);
    const rnd = random(7);
    expect(detect(viaG711(Array.from({ length: ms(2000) }, () => (rnd() - 0.5) * 60)))).toEqual([]);
  });

  it('detects nothing in loud random noise', () => {
    const rnd = random(42);
    expect(detect(viaG711(Array.from({ length: ms(3000) }, () => (rnd() - 0.5) * 20000)))).toEqual([]);
  });

  it('detects nothing in speech-like voiced sound (harmonics of a gliding pitch under moving formants)', () => {
    const rnd = random(2024);
    const signal: number[] = [];
    let phase = 0;
    for (let syllable = 0; syllable < 60; syllable++) {
      const f0Start = 90 + rnd() * 160;
      const f0End = 90 + rnd() * 160;
      const formants = [300 + rnd() * 600, 900 + rnd() * 1300, 2200 + rnd() * 800];
      const length = ms(60 + rnd() * 140);
      for (let i = 0; i < length; i++) {
        const f0 = f0Start + ((f0End - f0Start) * i) / length;
        phase += (2 * Math.PI * f0) / RATE;
        let x = 0;
        for (let h = 1; f0 * h < 3400; h++) {
          const f = f0 * h;
          // Each harmonic is weighted by its distance to the nearest formant (a crude vocal tract).
          const gain = Math.max(...formants.map((fm) => 1 / (1 + ((f - fm) / 120) ** 2)));
          x += gain * Math.sin(h * phase);
        }
        signal.push(x * 3000 * Math.sin((Math.PI * i) / length));
      }
      if (rnd() < 0.3) signal.push(...silence(ms(40)));
    }
    expect(detect(viaG711(signal))).toEqual([]);
  });

  it('detects nothing for single tones, including each DTMF frequency alone', () => {
    for (const f of [1000, 697, 770, 852, 941, 1209, 1336, 1477, 1633, 440, 2600]) {
      expect(detect(viaG711(tones([[f, -5]], ms(300)))), `${f} Hz`).toEqual([]);
    }
  });

  it('detects nothing for two-tone chords that are not DTMF pairs', () => {
    const chords: [number, number][] = [
      [440, 660], // A4 + E5
      [523, 784], // C5 + G5
      [392, 988], // G4 + B5
      [1000, 1500],
      [697, 852], // two rows
      [1209, 1477], // two columns
      [697, 1100], // a row with a note between columns
      [600, 1336], // a column with a note below the rows
    ];
    for (const [a, b] of chords) {
      expect(
        detect(
          viaG711(
            tones(
              [
                [a, -10],
                [b, -10],
              ],
              ms(300),
            ),
          ),
        ),
        `${a} + ${b} Hz`,
      ).toEqual([]);
    }
  });

  it('detects nothing for three-note chords that contain a DTMF pair', () => {
    // 697 + 1209 ('1') with a third note as strong: the pair holds only two thirds of the energy.
    const signal = tones(
      [
        [697, -10],
        [1209, -10],
        [1000, -10],
      ],
      ms(300),
    );
    expect(detect(viaG711(signal))).toEqual([]);
  });

  it('applies the twist limits: normal twist up to 8 dB, reverse twist up to 4 dB', () => {
    expect(digits(detect(viaG711(dtmf('5', ms(100), { row: -10, col: -16 }))))).toBe('5');
    expect(detect(viaG711(dtmf('5', ms(100), { row: -10, col: -20 })))).toEqual([]);
    expect(digits(detect(viaG711(dtmf('5', ms(100), { row: -13, col: -10 }))))).toBe('5');
    expect(detect(viaG711(dtmf('5', ms(100), { row: -17, col: -10 })))).toEqual([]);
  });

  it('accepts weak tones down to -25 dBm0 and ignores tones at -36 dBm0', () => {
    expect(digits(detect(viaG711(dtmf('8', ms(100), { row: -25, col: -25 }))))).toBe('8');
    expect(detect(viaG711(dtmf('8', ms(100), { row: -36, col: -36 })))).toEqual([]);
  });

  it('accepts frequencies off by 1.5 % and rejects pairs with both tones off by 3.5 % (Q.24)', () => {
    for (const key of KEYS) {
      for (const scale of [0.985, 1.015]) {
        expect(digits(detect(viaG711(dtmf(key, ms(100), { rowScale: scale, colScale: scale })))), `${key} × ${scale}`).toBe(key);
      }
      for (const scale of [0.965, 1.035]) {
        expect(detect(viaG711(dtmf(key, ms(100), { rowScale: scale, colScale: scale }))), `${key} × ${scale}`).toEqual([]);
      }
    }
  });
});
