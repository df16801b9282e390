// The fuzzer's mutator (scripts/fuzz) is shared by the e2e fuzz test and `npm run fuzz`: a message
// must be a pure function of (seed, index), or a failure could not be replayed.
import { describe, expect, it } from 'vitest';
import { generatedCorpus, loadCorpus } from '../../../scripts/fuzz/corpus.mjs';
import { BYTES, fuzzMessage, join, split, STRUCTURAL, type FuzzOptions } from '../../../scripts/fuzz/mutator.mjs';
import { Rand } from '../../../scripts/fuzz/random.mjs';

const corpus = loadCorpus();
const base: Omit<FuzzOptions, 'index'> = { seed: 7, corpus, sentBy: '127.0.0.66:40000', transport: 'UDP', domain: 'hibiki.test', users: ['2001'], maxBytes: 65_000 };

describe('fuzz mutator', () => {
  it('gives the same bytes for the same seed and index, whatever ran before', () => {
    const forward = [0, 1, 2, 500, 9999].map((index) => fuzzMessage({ ...base, index }));
    const backward = [9999, 500, 2, 1, 0].map((index) => fuzzMessage({ ...base, index })).reverse();
    expect(forward.map((m) => m.bytes.toString('hex'))).toEqual(backward.map((m) => m.bytes.toString('hex')));
    expect(fuzzMessage({ ...base, index: 3 }).bytes).not.toEqual(fuzzMessage({ ...base, seed: 8, index: 3 }).bytes);
  });

  it('never exceeds maxBytes and mostly mutates', () => {
    let mutated = 0;
    for (let index = 0; index < 2000; index++) {
      const m = fuzzMessage({ ...base, index, maxBytes: 4000 });
      expect(m.bytes.length).toBeLessThanOrEqual(4000);
      if (m.ops.length > 0) mutated++;
    }
    expect(mutated).toBeGreaterThan(1800);
  });

  it('puts a message back together byte for byte when nothing changed', () => {
    const ctx = { sentBy: '127.0.0.66:1', transport: 'UDP' as const, domain: 'hibiki.test', users: ['2001'], seed: 1, group: 0, rand: new Rand(1) };
    for (const entry of generatedCorpus()) {
      const bytes = entry.build(ctx);
      expect(join(split(bytes)).toString('latin1'), entry.name).toBe(bytes.toString('latin1'));
    }
  });

  it('runs every mutation on every corpus message without throwing', () => {
    const r = new Rand(99);
    const ctx = { sentBy: '127.0.0.66:1', transport: 'TCP' as const, domain: 'hibiki.test', users: ['2001'], seed: 1, group: 3, rand: r };
    const env = { corpus, ctx, maxBytes: 65_000 };
    for (const entry of corpus) {
      for (const op of Object.values(STRUCTURAL)) {
        const parts = split(entry.build(ctx));
        op(parts, r, env);
        expect(join(parts)).toBeInstanceOf(Buffer);
      }
      for (const op of Object.values(BYTES)) expect(op(entry.build(ctx), r, env)).toBeInstanceOf(Buffer);
    }
  });
});
