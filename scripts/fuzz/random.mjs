// @ts-check
// Seeded pseudo-random numbers for the fuzzer. Every message gets its own generator, seeded from
// (run seed, message index), so message N of seed S is the same bytes whatever ran before it: a
// failure found in a long run is reproduced with `npm run fuzz -- --seed S --index N`.

/**
 * mulberry32: 32 bits of state, good enough spread for test data and fast.
 * @param {number} seed
 * @returns {() => number} uniform in [0, 1)
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The seed of message `index` in run `seed` (a 32-bit mix, so neighbouring indexes are unrelated).
 * @param {number} seed
 * @param {number} index
 */
export function messageSeed(seed, index) {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index >>> 0, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

export class Rand {
  /** @param {number} seed */
  constructor(seed) {
    /** @private */
    this.next = mulberry32(seed);
  }

  /** @returns {number} uniform in [0, 1) */
  float() {
    return this.next();
  }

  /**
   * An integer in [min, max], both included.
   * @param {number} min
   * @param {number} max
   */
  int(min, max) {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** @param {number} p probability of true */
  chance(p) {
    return this.next() < p;
  }

  /**
   * @template T
   * @param {readonly T[]} list non-empty
   * @returns {T}
   */
  pick(list) {
    if (list.length === 0) throw new Error('pick from an empty list');
    return /** @type {T} */ (list[this.int(0, list.length - 1)]);
  }

  /**
   * One entry of `list`, each with its weight.
   * @template T
   * @param {ReadonlyArray<readonly [number, T]>} list
   * @returns {T}
   */
  weighted(list) {
    let total = 0;
    for (const [w] of list) total += w;
    let x = this.next() * total;
    for (const [w, v] of list) {
      x -= w;
      if (x < 0) return v;
    }
    const last = list[list.length - 1];
    if (!last) throw new Error('weighted pick from an empty list');
    return last[1];
  }

  /**
   * A size that is usually small and sometimes large: log-uniform in [1, max].
   * @param {number} max
   */
  size(max) {
    return Math.max(1, Math.min(max, Math.floor(Math.exp(this.next() * Math.log(max + 1)))));
  }

  /** @param {number} n */
  bytes(n) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = (this.next() * 256) | 0;
    return b;
  }

  /**
   * Printable ASCII without CR and LF.
   * @param {number} n
   */
  printable(n) {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(0x20 + ((this.next() * 95) | 0));
    return s;
  }

  /**
   * Letters and digits, as a token, tag or branch would be made of.
   * @param {number} n
   */
  token(n) {
    const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    let s = '';
    for (let i = 0; i < n; i++) s += chars[(this.next() * chars.length) | 0];
    return s;
  }

  /**
   * In-place Fisher–Yates.
   * @template T
   * @param {T[]} list
   * @returns {T[]}
   */
  shuffle(list) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const t = /** @type {T} */ (list[i]);
      list[i] = /** @type {T} */ (list[j]);
      list[j] = t;
    }
    return list;
  }
}
