// media.workers (issue #13): the YAML setting and its default, how rtpPorts is split between the workers,
// and where endpoints go (placement.ts): next to a hinted peer, else the least-loaded worker; which side of
// a join across workers moves.
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import { mediaWorkerCount } from '../../../src/media/engine-factory.js';
import { Placement } from '../../../src/media/builtin/placement.js';
import { PortPairAllocator, splitPortRange } from '../../../src/media/builtin/ports.js';

const head = `tenant:
  domain: pbx.example.com
listen:
  - transport: udp
    port: 5060
`;

describe('media.workers', () => {
  it('defaults to auto: one per core, at most 4', () => {
    const r = loadConfigText(head, 'hibiki.yaml');
    expect(r.ok && r.config.media.workers).toBe('auto');
    expect(mediaWorkerCount('auto', 2)).toBe(2);
    expect(mediaWorkerCount('auto', 1)).toBe(1);
    expect(mediaWorkerCount('auto', 32)).toBe(4);
    expect(mediaWorkerCount(3, 32)).toBe(3);
  });

  it('takes 1–16 or auto and refuses anything else', () => {
    const workers = (v: string): unknown => {
      const r = loadConfigText(`${head}media:\n  workers: ${v}\n`, 'hibiki.yaml');
      return r.ok ? r.config.media.workers : 'error';
    };
    expect(workers('1')).toBe(1);
    expect(workers('16')).toBe(16);
    expect(workers('auto')).toBe('auto');
    for (const bad of ['0', '17', '2.5', 'many']) expect(workers(bad)).toBe('error');
  });
});

describe('splitPortRange', () => {
  it('gives each worker a contiguous, disjoint slice with an even share of the pairs', () => {
    const slices = splitPortRange([10000, 20000], 3);
    expect(slices).toHaveLength(3);
    const pairs = slices.map(([lo, hi]) => new PortPairAllocator(lo, hi).capacity);
    expect(pairs.reduce((a, b) => a + b, 0)).toBe(new PortPairAllocator(10000, 20000).capacity);
    expect(Math.max(...pairs) - Math.min(...pairs)).toBeLessThanOrEqual(1);
    for (let i = 1; i < slices.length; i++) expect(slices[i]![0]).toBe(slices[i - 1]![1] + 1);
    for (const [lo] of slices) expect(lo % 2).toBe(0);
  });

  it('starts on an even port and never makes more slices than pairs', () => {
    expect(splitPortRange([10001, 10008], 2)).toEqual([
      [10002, 10005],
      [10006, 10007],
    ]);
    expect(splitPortRange([10000, 10003], 4)).toEqual([
      [10000, 10001],
      [10002, 10003],
    ]);
  });
});

describe('Placement', () => {
  it('puts an endpoint next to its hint, else in the least-loaded worker', () => {
    const p = new Placement(3);
    for (const id of ['a', 'b', 'c']) p.add(id, p.pick(undefined));
    expect(['a', 'b', 'c'].map((id) => p.workerOf(id))).toEqual([0, 1, 2]);
    p.add('a2', p.pick('a'));
    expect(p.workerOf('a2')).toBe(0);
    p.add('d', p.pick(undefined));
    expect(p.workerOf('d')).toBe(1);
    // A hint that is gone, or a worker not usable, falls back to the least loaded.
    expect(p.pick('gone')).toBe(2);
    expect(p.pick('a', (w) => w !== 0)).toBe(2);
    p.remove('b');
    p.remove('d');
    expect(p.pick(undefined)).toBe(1);
  });

  it('moves the smaller group of a join across workers, a bridged pair together', () => {
    const p = new Placement(2);
    p.add('a', 0);
    p.add('b', 0);
    p.add('c', 1);
    p.bridge('a', 'b');
    const move = p.planJoin('c', 'a');
    expect(move?.to).toBe(0);
    expect([...move!.group.endpoints]).toEqual(['c']);
    // c joined to a lone d: c's worker is kept only if d's group is not smaller; equal: the second moves.
    p.add('d', 0);
    expect(p.planJoin('c', 'd')?.group.endpoints).toEqual(new Set(['d']));
    expect(p.planJoin('a', 'c')?.group.endpoints).toEqual(new Set(['c']));
    expect(p.planJoin('a', 'b')).toBeNull();
  });

  it('keeps a recorded group where its recording is, and moves a mix with all its members', () => {
    const p = new Placement(2);
    p.add('a', 0);
    p.add('b', 1);
    p.add('c', 1);
    p.setRecording(7, 0, 'a', 'a');
    expect(p.planJoin('b', 'a')).toMatchObject({ to: 0, conflict: false });
    p.createMix('x');
    p.setMixWorker('x', 1);
    p.joinMix('x', 'b');
    p.joinMix('x', 'c');
    const move = p.planJoin('a', 'b')!;
    expect(move.to).toBe(0);
    expect(move.group.endpoints).toEqual(new Set(['b', 'c']));
    expect(move.group.mixes).toEqual(new Set(['x']));
    p.endRecording(7);
    // Without the recording the lone endpoint moves instead.
    expect(p.planJoin('a', 'b')?.group.endpoints).toEqual(new Set(['a']));
    expect(p.planTo('b', 0)?.group.endpoints).toEqual(new Set(['b', 'c']));
  });
});
