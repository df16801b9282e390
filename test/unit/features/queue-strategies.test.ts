// Ring strategies of ACD queues (issue #11): the deterministic ones give exactly the expected order over a
// scripted sequence of calls, skill levels are strict for all but weighted, random and weighted stay within
// 5 standard deviations of their expected shares, and the agent history counts the tenant's local day.
import { describe, expect, it } from 'vitest';
import { QUEUE_STRATEGIES, type QueueStrategy } from '../../../src/config/queue-schema.js';
import { AgentHistoryBook } from '../../../src/features/queue/agent-history.js';
import { chooseAgents, type AgentHistory, type Candidate, type StrategyContext } from '../../../src/features/queue/strategies.js';
import type { QueueEvent } from '../../../src/store/queue-event-store.js';

/** A tiny seeded PRNG (mulberry32): the statistical tests see the same draws every run, so they cannot flake. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Members as the queue lists them: [extension, level]. */
type Members = ReadonlyArray<readonly [string, number]>;

function candidates(members: Members, available: readonly string[]): Candidate[] {
  return members.flatMap(([extension, level], index) => (available.includes(extension) ? [{ extension, level, index }] : []));
}

const none: AgentHistory = { lastEndedAt: undefined, talkMsToday: 0, callsToday: 0 };

function context(members: Members, over: Partial<StrategyContext> = {}): StrategyContext {
  return { history: () => none, lastOffered: undefined, members: members.map(([e]) => e), random: Math.random, ...over };
}

/** 5 standard deviations of a binomial count: n draws, probability p each. */
const fiveSigma = (n: number, p: number): number => 5 * Math.sqrt(n * p * (1 - p));

const QUEUE = '700';
const flat: Members = [
  ['2001', 1],
  ['2002', 1],
  ['2003', 1],
];

describe('queue ring strategies', () => {
  it('ringall rings every available agent at once, in member order', () => {
    const members: Members = [...flat, ['2004', 1]];
    // Passed out of member order on purpose: the result follows the member list, not the argument.
    const available = candidates(members, ['2004', '2001', '2003']).reverse();
    expect(chooseAgents('ringall', available, context(members))).toEqual({ ringAll: true, agents: ['2001', '2003', '2004'] });
  });

  it('linear always offers in member order', () => {
    const members: Members = [...flat, ['2004', 1]];
    for (const avail of [['2001', '2002', '2003', '2004'], ['2002', '2004'], ['2003']]) {
      const d = chooseAgents('linear', candidates(members, avail).reverse(), context(members));
      expect(d).toEqual({ ringAll: false, agents: avail });
    }
  });

  it('an empty list offers nobody; only ringall says ring all', () => {
    for (const s of QUEUE_STRATEGIES) expect(chooseAgents(s, [], context(flat))).toEqual({ ringAll: s === 'ringall', agents: [] });
  });

  it('roundrobin continues after the agent offered last, over 5 calls with 2003 unavailable on call 3', () => {
    const book = new AgentHistoryBook(
      () => 'Asia/Tokyo',
      () => 0,
    );
    const script: Array<{ available: string[]; expected: string[] }> = [
      { available: ['2001', '2002', '2003'], expected: ['2001', '2002', '2003'] },
      { available: ['2001', '2002', '2003'], expected: ['2002', '2003', '2001'] },
      // After 2002 comes 2003, who is not available: 2001 then 2002.
      { available: ['2001', '2002'], expected: ['2001', '2002'] },
      { available: ['2001', '2002', '2003'], expected: ['2002', '2003', '2001'] },
      { available: ['2001', '2002', '2003'], expected: ['2003', '2001', '2002'] },
    ];
    script.forEach(({ available, expected }, call) => {
      const d = chooseAgents('roundrobin', candidates(flat, available), context(flat, { lastOffered: book.lastOffered(QUEUE) }));
      expect(d, `call ${call + 1}`).toEqual({ ringAll: false, agents: expected });
      book.offered(QUEUE, d.agents[0]!);
    });
  });

  it('roundrobin finds the rotation point when the last one offered is not available now, and starts over when they left the queue', () => {
    const members: Members = [...flat, ['2004', 1]];
    const ctx = (lastOffered: string) => context(members, { lastOffered });
    expect(chooseAgents('roundrobin', candidates(members, ['2001', '2002', '2004']), ctx('2002')).agents).toEqual(['2004', '2001', '2002']);
    expect(chooseAgents('roundrobin', candidates(members, ['2001', '2004']), ctx('2002')).agents).toEqual(['2004', '2001']);
    expect(chooseAgents('roundrobin', candidates(members, ['2001', '2002', '2004']), ctx('2004')).agents).toEqual(['2001', '2002', '2004']);
    // 2009 is no longer a member: from the beginning.
    expect(chooseAgents('roundrobin', candidates(members, ['2002', '2003']), ctx('2009')).agents).toEqual(['2002', '2003']);
  });

  it('leastrecent: never-called agents first in member order, then the one whose last call ended longest ago', () => {
    const members: Members = [...flat, ['2004', 1]];
    let now = 1_000_000;
    const book = new AgentHistoryBook(
      () => 'Asia/Tokyo',
      () => now,
    );
    const all = ['2001', '2002', '2003', '2004'];
    const order = (available = all) => chooseAgents('leastrecent', candidates(members, available), context(members, { history: (ext) => book.history(QUEUE, ext) })).agents;

    expect(order()).toEqual(['2001', '2002', '2003', '2004']);
    book.callEnded(QUEUE, '2002', { answeredAt: now, endedAt: (now += 60_000) });
    book.callEnded(QUEUE, '2001', { answeredAt: now, endedAt: (now += 60_000) });
    expect(order()).toEqual(['2003', '2004', '2002', '2001']);
    book.callEnded(QUEUE, '2003', { answeredAt: now, endedAt: (now += 60_000) });
    expect(order()).toEqual(['2004', '2002', '2001', '2003']);
    book.callEnded(QUEUE, '2004', { answeredAt: now, endedAt: (now += 60_000) });
    expect(order()).toEqual(['2002', '2001', '2003', '2004']);
    expect(order(['2001', '2003', '2004'])).toEqual(['2001', '2003', '2004']);
    // Two calls ending at the same instant: member order.
    book.callEnded(QUEUE, '2003', { answeredAt: now, endedAt: now + 1000 });
    book.callEnded(QUEUE, '2002', { answeredAt: now, endedAt: now + 1000 });
    expect(order()).toEqual(['2001', '2004', '2002', '2003']);
    // Another queue's calls do not count.
    book.callEnded('701', '2001', { answeredAt: now, endedAt: now + 5000 });
    expect(order()).toEqual(['2001', '2004', '2002', '2003']);
  });

  it('shortesttalk and fewestcalls order by today’s figures, ties in member order', () => {
    const members: Members = [...flat, ['2004', 1], ['2005', 1]];
    const histories: Record<string, AgentHistory> = {
      '2001': { lastEndedAt: 1, talkMsToday: 300_000, callsToday: 2 },
      '2002': { lastEndedAt: 2, talkMsToday: 120_000, callsToday: 5 },
      '2003': { lastEndedAt: 3, talkMsToday: 300_000, callsToday: 1 },
      '2004': none,
      '2005': { lastEndedAt: 4, talkMsToday: 120_000, callsToday: 2 },
    };
    const ctx = context(members, { history: (ext) => histories[ext]! });
    const all = candidates(
      members,
      members.map(([e]) => e),
    );
    expect(chooseAgents('shortesttalk', all, ctx)).toEqual({ ringAll: false, agents: ['2004', '2002', '2005', '2001', '2003'] });
    expect(chooseAgents('fewestcalls', all, ctx)).toEqual({ ringAll: false, agents: ['2004', '2003', '2001', '2005', '2002'] });
    expect(chooseAgents('fewestcalls', candidates(members, ['2001', '2002', '2005']), ctx).agents).toEqual(['2001', '2005', '2002']);
  });

  describe('skill levels', () => {
    const members: Members = [
      ['2001', 2],
      ['2002', 1],
      ['2003', 2],
      ['2004', 1],
      ['2005', 3],
    ];
    const strict = QUEUE_STRATEGIES.filter((s): s is Exclude<QueueStrategy, 'weighted'> => s !== 'weighted');

    it('every strategy but weighted offers only the lowest level that has an available agent', () => {
      const cases: Array<{ available: string[]; offered: string[] }> = [
        { available: ['2001', '2002', '2003', '2004', '2005'], offered: ['2002', '2004'] },
        // One level-1 agent is enough to keep level 2 out.
        { available: ['2001', '2003', '2004', '2005'], offered: ['2004'] },
        // No level-1 agent available: level 2.
        { available: ['2001', '2003', '2005'], offered: ['2001', '2003'] },
        { available: ['2005'], offered: ['2005'] },
      ];
      for (const s of strict) {
        for (const { available, offered } of cases) {
          const d = chooseAgents(s, candidates(members, available), context(members, { random: mulberry32(7) }));
          expect([...d.agents].sort(), `${s} with ${available.join(',')}`).toEqual(offered);
        }
      }
    });

    it('weighted offers agents of every level', () => {
      const random = mulberry32(11);
      const all = candidates(
        members,
        members.map(([e]) => e),
      );
      const first = new Set<string>();
      for (let i = 0; i < 500; i++) {
        const d = chooseAgents('weighted', all, context(members, { random }));
        expect([...d.agents].sort()).toEqual(['2001', '2002', '2003', '2004', '2005']);
        first.add(d.agents[0]!);
      }
      expect([...first].sort()).toEqual(['2001', '2002', '2003', '2004', '2005']);
    });
  });

  describe('statistics (seeded, bounds of 5 σ)', () => {
    it('random: each of 3 agents is first 2,000 ± 5σ times in 6,000 calls, and each of the 6 orders 1,000 ± 5σ times', () => {
      const random = mulberry32(20240611);
      const n = 6000;
      const firsts = new Map<string, number>();
      const orders = new Map<string, number>();
      const all = candidates(flat, ['2001', '2002', '2003']);
      for (let i = 0; i < n; i++) {
        const d = chooseAgents('random', all, context(flat, { random }));
        firsts.set(d.agents[0]!, (firsts.get(d.agents[0]!) ?? 0) + 1);
        orders.set(d.agents.join(), (orders.get(d.agents.join()) ?? 0) + 1);
      }
      const firstBound = fiveSigma(n, 1 / 3); // ≈ 182.6
      expect(firsts.size).toBe(3);
      for (const [agent, count] of firsts) expect(Math.abs(count - n / 3), `${agent} first ${count} times`).toBeLessThanOrEqual(firstBound);
      // First place alone would not catch a biased shuffle; the whole order must be uniform too.
      const orderBound = fiveSigma(n, 1 / 6); // ≈ 144.3
      expect(orders.size).toBe(6);
      for (const [order, count] of orders) expect(Math.abs(count - n / 6), `${order} ${count} times`).toBeLessThanOrEqual(orderBound);
    });

    it('weighted with levels 1, 1, 5: first-choice shares 9/23, 9/23, 5/23 within 5σ over 23,000 calls', () => {
      const members: Members = [
        ['2001', 1],
        ['2002', 1],
        ['2003', 5],
      ];
      const random = mulberry32(42);
      const n = 23_000;
      const firsts = new Map<string, number>();
      const all = candidates(
        members,
        members.map(([e]) => e),
      );
      for (let i = 0; i < n; i++) {
        const d = chooseAgents('weighted', all, context(members, { random }));
        if (d.agents.length !== 3) throw new Error(`call ${i} offered ${d.agents.join()}`);
        firsts.set(d.agents[0]!, (firsts.get(d.agents[0]!) ?? 0) + 1);
      }
      const share: Record<string, number> = { '2001': 9 / 23, '2002': 9 / 23, '2003': 5 / 23 };
      for (const [agent, p] of Object.entries(share)) {
        const count = firsts.get(agent) ?? 0;
        // 5σ ≈ 370.0 for 9/23 and ≈ 312.8 for 5/23.
        expect(Math.abs(count - n * p), `${agent} first ${count} times`).toBeLessThanOrEqual(fiveSigma(n, p));
      }
    });
  });
});

describe('AgentHistoryBook', () => {
  const tokyo = () => 'Asia/Tokyo';
  // 2025-03-10 and 2025-03-11 in Tokyo (UTC+9, no daylight saving). 23:59 and 00:01 local are the same UTC
  // day (14:59Z and 15:01Z), so only counting by the local date tells them apart.
  const jst = (iso: string) => Date.parse(`${iso}+09:00`);

  it('counts talk time and calls per local day: a call ending 23:59 counts yesterday, one ending 00:01 today', () => {
    let now = jst('2025-03-10T23:59:30');
    const book = new AgentHistoryBook(tokyo, () => now);
    book.callEnded(QUEUE, '2001', { answeredAt: jst('2025-03-10T23:57:00'), endedAt: jst('2025-03-10T23:59:00') });
    expect(book.history(QUEUE, '2001')).toEqual({ lastEndedAt: jst('2025-03-10T23:59:00'), talkMsToday: 120_000, callsToday: 1 });

    // Midnight passes: the counters read zero without a new call; the last end time stays.
    now = jst('2025-03-11T00:00:30');
    expect(book.history(QUEUE, '2001')).toEqual({ lastEndedAt: jst('2025-03-10T23:59:00'), talkMsToday: 0, callsToday: 0 });

    book.callEnded(QUEUE, '2001', { answeredAt: jst('2025-03-11T00:00:00'), endedAt: jst('2025-03-11T00:01:00') });
    now = jst('2025-03-11T10:00:00');
    expect(book.history(QUEUE, '2001')).toEqual({ lastEndedAt: jst('2025-03-11T00:01:00'), talkMsToday: 60_000, callsToday: 1 });
    book.callEnded(QUEUE, '2001', { answeredAt: jst('2025-03-11T09:00:00'), endedAt: jst('2025-03-11T09:00:45') });
    expect(book.history(QUEUE, '2001')).toEqual({ lastEndedAt: jst('2025-03-11T09:00:45'), talkMsToday: 105_000, callsToday: 2 });

    // Per queue, and nothing for an agent never seen.
    expect(book.history('701', '2001')).toEqual({ lastEndedAt: undefined, talkMsToday: 0, callsToday: 0 });
    expect(book.history(QUEUE, '2002')).toEqual({ lastEndedAt: undefined, talkMsToday: 0, callsToday: 0 });
  });

  it('restore rebuilds today from COMPLETE rows only; lastEndedAt is the latest of any day', () => {
    const now = jst('2025-03-11T12:00:00');
    const book = new AgentHistoryBook(tokyo, () => now);
    // Something recorded before restore is replaced, not added to.
    book.callEnded(QUEUE, '2003', { answeredAt: now - 10_000, endedAt: now });
    const events: QueueEvent[] = [
      { at: jst('2025-03-09T15:00:00'), queue: QUEUE, agent: '2002', event: 'COMPLETE', talkMs: 50_000 },
      { at: jst('2025-03-10T23:59:00'), queue: QUEUE, agent: '2001', event: 'COMPLETE', talkMs: 400_000 },
      { at: jst('2025-03-11T00:01:00'), queue: QUEUE, agent: '2001', event: 'COMPLETE', talkMs: 30_000 },
      { at: jst('2025-03-11T09:30:00'), queue: QUEUE, agent: '2001', event: 'ANSWER', waitMs: 4000 },
      { at: jst('2025-03-11T09:40:00'), queue: QUEUE, agent: '2001', event: 'COMPLETE', talkMs: 600_000 },
      { at: jst('2025-03-11T10:00:00'), queue: '701', agent: '2001', event: 'COMPLETE', talkMs: 70_000 },
      { at: jst('2025-03-11T10:05:00'), queue: QUEUE, agent: null, event: 'ABANDON', waitMs: 9000 },
      { at: jst('2025-03-11T10:10:00'), queue: QUEUE, agent: '2002', event: 'RINGNOANSWER', detail: 'no_answer' },
    ];
    book.restore(events);
    expect(book.history(QUEUE, '2001')).toEqual({ lastEndedAt: jst('2025-03-11T09:40:00'), talkMsToday: 630_000, callsToday: 2 });
    expect(book.history('701', '2001')).toEqual({ lastEndedAt: jst('2025-03-11T10:00:00'), talkMsToday: 70_000, callsToday: 1 });
    expect(book.history(QUEUE, '2002')).toEqual({ lastEndedAt: jst('2025-03-09T15:00:00'), talkMsToday: 0, callsToday: 0 });
    expect(book.history(QUEUE, '2003')).toEqual({ lastEndedAt: undefined, talkMsToday: 0, callsToday: 0 });

    // A call ending after the restore adds to the rebuilt figures.
    book.callEnded(QUEUE, '2001', { answeredAt: now - 20_000, endedAt: now });
    expect(book.history(QUEUE, '2001')).toEqual({ lastEndedAt: now, talkMsToday: 650_000, callsToday: 3 });
  });

  it('remembers the agent offered last per queue, in memory', () => {
    const book = new AgentHistoryBook(tokyo, () => 0);
    expect(book.lastOffered(QUEUE)).toBeUndefined();
    book.offered(QUEUE, '2002');
    book.offered('701', '2003');
    expect(book.lastOffered(QUEUE)).toBe('2002');
    expect(book.lastOffered('701')).toBe('2003');
  });
});
