// In-band DTMF detection (ITU-T Q.23 tones, Q.24-style acceptance rules) for legs that negotiated no
// RFC 4733 telephone-event: eight Goertzel filters run over 8 kHz PCM16 in fixed blocks, each block is
// classified as one digit or none, and a run of blocks becomes one key press.

/** Q.23 low (row) and high (column) group frequencies, Hz. */
const ROWS = [697, 770, 852, 941] as const;
const COLUMNS = [1209, 1336, 1477, 1633] as const;
const KEYS = ['123A', '456B', '789C', '*0#D'] as const;

const SAMPLE_RATE = 8000;

/**
 * Samples per analysis block (10 ms, two per 20 ms frame). Short blocks give the timing Q.24 asks for:
 * a 40 ms tone, wherever it starts, fully covers three blocks, while a 20 ms blip covers at most two well
 * enough to pass the energy-fraction test (MIN_TONE_FRACTION). The price is a 100 Hz wide filter: a row
 * tone leaks into its neighbour's bin (73 Hz away) at about -10 dB, at -6 dB when 1.5 % off towards it (see
 * RELATIVE_PEAK_DB), and a tone about 4 % off may still be accepted where Q.24 asks rejection beyond 3.5 %.
 */
export const BLOCK_SAMPLES = 80;

/** A digit starts after this many consecutive blocks classified as it (30 ms; see BLOCK_SAMPLES). */
const START_BLOCKS = 3;
/**
 * A digit ends after this many consecutive blocks (40 ms) without it: a 10 ms interruption touches at most
 * two blocks and does not split a press, while a 40 ms pause between presses always yields four (the
 * blocks it shares with the tones are at least half silent on one side).
 */
const END_BLOCKS = 4;

/**
 * Peak amplitude of a 0 dBm0 sine in the 16-bit scale of the G.711 decoders: a full-scale µ-law sine
 * (±32124) is +3.17 dBm0 (G.711 §5; A-law differs by 0.03 dB).
 */
const DBM0_PEAK = 32124 / 10 ** (3.17 / 20);
/** Each tone must be at least this strong; Q.24 requires operation down to about -25 dBm0 per tone. */
export const MIN_TONE_DBM0 = -30;
/** Normal twist (column weaker than row) and reverse twist (column stronger) limits, dB (Q.24 Table). */
export const MAX_NORMAL_TWIST_DB = 8;
export const MAX_REVERSE_TWIST_DB = 4;
/** The strongest row (column) must exceed every other row (column) by this much, dB: below the -6 dB leak. */
const RELATIVE_PEAK_DB = 3;
/**
 * The two tones must hold at least this fraction of the block's energy. Rejects speech, noise and music,
 * which spread their energy, and blocks only partly covered by a tone (a block x % covered scores about
 * x %), so the blocks at a tone's edges count only when mostly covered.
 */
const MIN_TONE_FRACTION = 0.7;

const dbToPower = (db: number): number => 10 ** (db / 10);

export interface DetectedDigit {
  digit: string;
  /** From the start of the first block holding the tone to the end of the last, in ms (block resolution). */
  durationMs: number;
}

/**
 * A streaming DTMF detector for one inbound stream. Digits are returned when they END (after END_BLOCKS
 * blocks without the tone), like the RFC 4733 receiver reports a digit at its end packet, so the duration is
 * known; a press still in progress is returned by a later push, or by flush().
 */
export class InbandDtmfDetector {
  private readonly coefficients = new Float64Array(8);
  // Goertzel state per filter (rows 0–3, columns 4–7).
  private readonly s1 = new Float64Array(8);
  private readonly s2 = new Float64Array(8);
  private energy = 0;
  private filled = 0;
  private block = 0;
  /** The digit of the last blocks and how many consecutive blocks carried it. */
  private candidate = -1;
  private run = 0;
  /** The accepted press in progress (key index), its first and last block, and blocks since it was last seen. */
  private current = -1;
  private firstBlock = 0;
  private lastBlock = 0;
  private misses = 0;
  private readonly power = new Float64Array(8);
  private readonly minTonePower: number;

  constructor() {
    const freqs = [...ROWS, ...COLUMNS];
    for (let i = 0; i < 8; i++) this.coefficients[i] = 2 * Math.cos((2 * Math.PI * freqs[i]!) / SAMPLE_RATE);
    // A sine of peak A over N samples gives a Goertzel power of (A·N/2)².
    const minPeak = DBM0_PEAK * 10 ** (MIN_TONE_DBM0 / 20);
    this.minTonePower = ((minPeak * BLOCK_SAMPLES) / 2) ** 2;
  }

  /** Feeds PCM16 samples at 8 kHz (any length; normally one 160-sample frame); returns the digits that ended. */
  push(frame: Int16Array): DetectedDigit[] {
    return this.feed(frame, 0, frame.length, null);
  }

  /**
   * Feeds `length` G.711 bytes at `offset` through a decode table (ULAW_DECODE / ALAW_DECODE), without
   * decoding them into a buffer first; returns the digits that ended.
   */
  pushG711(buf: Uint8Array, offset: number, length: number, decodeTable: Int16Array): DetectedDigit[] {
    return this.feed(buf, offset, length, decodeTable);
  }

  /** The stream stopped carrying audio (comfort noise, end of call): ends a press in progress and resets. */
  flush(): DetectedDigit[] {
    const out: DetectedDigit[] = [];
    if (this.current >= 0) this.finish(out);
    this.candidate = -1;
    this.run = 0;
    this.resetBlock();
    return out;
  }

  private feed(samples: Int16Array | Uint8Array, offset: number, length: number, table: Int16Array | null): DetectedDigit[] {
    const out: DetectedDigit[] = [];
    const { coefficients, s1, s2 } = this;
    const end = offset + length;
    for (let i = offset; i < end; i++) {
      const x = table === null ? samples[i]! : table[samples[i]!]!;
      for (let k = 0; k < 8; k++) {
        const s = x + coefficients[k]! * s1[k]! - s2[k]!;
        s2[k] = s1[k]!;
        s1[k] = s;
      }
      this.energy += x * x;
      if (++this.filled === BLOCK_SAMPLES) this.endBlock(out);
    }
    return out;
  }

  private endBlock(out: DetectedDigit[]): void {
    const key = this.classify();
    this.resetBlock();
    const block = this.block++;
    if (key >= 0 && key === this.candidate) this.run++;
    else {
      this.candidate = key;
      this.run = key >= 0 ? 1 : 0;
    }
    if (this.current >= 0) {
      if (key === this.current) {
        this.misses = 0;
        this.lastBlock = block;
      } else if (++this.misses >= END_BLOCKS) {
        this.finish(out);
      }
    }
    if (this.current < 0 && this.candidate >= 0 && this.run >= START_BLOCKS) {
      this.current = this.candidate;
      this.firstBlock = block - this.run + 1;
      this.lastBlock = block;
      this.misses = 0;
    }
  }

  private finish(out: DetectedDigit[]): void {
    const blocks = this.lastBlock - this.firstBlock + 1;
    out.push({ digit: KEYS[this.current >> 2]![this.current & 3]!, durationMs: Math.round((blocks * BLOCK_SAMPLES * 1000) / SAMPLE_RATE) });
    this.current = -1;
    this.misses = 0;
  }

  private resetBlock(): void {
    this.s1.fill(0);
    this.s2.fill(0);
    this.energy = 0;
    this.filled = 0;
  }

  /** The key (row × 4 + column) the current block carries, or -1. */
  private classify(): number {
    const { coefficients, s1, s2 } = this;
    const power = this.power;
    for (let k = 0; k < 8; k++) power[k] = s1[k]! * s1[k]! + s2[k]! * s2[k]! - coefficients[k]! * s1[k]! * s2[k]!;
    const row = strongest(power, 0);
    const col = strongest(power, 4);
    const rowPower = power[row]!;
    const colPower = power[col]!;
    if (rowPower < this.minTonePower || colPower < this.minTonePower) return -1;
    if (rowPower > colPower * dbToPower(MAX_NORMAL_TWIST_DB)) return -1;
    if (colPower > rowPower * dbToPower(MAX_REVERSE_TWIST_DB)) return -1;
    const margin = dbToPower(RELATIVE_PEAK_DB);
    for (let k = 0; k < 4; k++) {
      if (k !== row && power[k]! * margin > rowPower) return -1;
      if (k + 4 !== col && power[k + 4]! * margin > colPower) return -1;
    }
    // A sine's energy over the block is (its Goertzel power) · 2 / N.
    if (((rowPower + colPower) * 2) / BLOCK_SAMPLES < MIN_TONE_FRACTION * this.energy) return -1;
    return row * 4 + (col - 4);
  }
}

/** Index of the largest of power[from .. from + 3]. */
function strongest(power: Float64Array, from: number): number {
  let best = from;
  for (let k = from + 1; k < from + 4; k++) if (power[k]! > power[best]!) best = k;
  return best;
}
