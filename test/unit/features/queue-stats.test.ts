// Queue statistics from scripted event logs: every figure is asserted exactly, as the spec requires that any
// figure can be recomputed from the events alone.
import { describe, expect, it } from 'vitest';
import { bucketStart, liveFigures, nextBucket, parseAgentState, periodFigures } from '../../../src/features/queue/stats.js';
import { startOfDay, zonedTime } from '../../../src/util/zoned-time.js';
import { durationText, localText, parseStatsTime, QueueCommandError, statsRange } from '../../../src/features/queue/stats-report.js';
import type { QueueEvent } from '../../../src/store/queue-event-store.js';

const TZ = 'Asia/Tokyo';
/** An instant on 2026-12-03 in Tokyo. */
const jst = (h: number, m = 0, s = 0, day = 3): number => Date.UTC(2026, 11, day, h - 9, m, s);
const states0 = { offline: 0, available: 0, ringing: 0, in_call: 0, on_hold: 0, paused: 0, wrapup: 0 };

const agent = (at: number, who: string, detail: string, queue = '500'): QueueEvent => ({ at, queue, agent: who, event: 'AGENT', detail });

// Three calls in the 09:00 hour: one answered after 12 s and talked 50 min, one abandoned, one overflowed;
// agent 2001's after-call work runs across 10:00.
const script: QueueEvent[] = [
  { at: jst(9, 5), queue: '500', callId: 'c1', event: 'ENTER', detail: '0312345678' },
  { at: jst(9, 5), queue: '500', callId: 'c1', agent: '2002', event: 'RINGNOANSWER', detail: 'no_answer' },
  { at: jst(9, 5, 12), queue: '500', callId: 'c1', agent: '2001', event: 'ANSWER', waitMs: 12_000 },
  agent(jst(9, 5, 12), '2001', 'in_call'),
  { at: jst(9, 20), queue: '500', callId: 'c2', event: 'ENTER' },
  { at: jst(9, 20, 30), queue: '500', callId: 'c2', event: 'ABANDON', waitMs: 30_000 },
  { at: jst(9, 30), queue: '500', callId: 'c3', event: 'ENTER' },
  { at: jst(9, 30), queue: '500', callId: 'c3', event: 'OVERFLOW', waitMs: 0, detail: 'voicemail:2001' },
  { at: jst(9, 55, 12), queue: '500', callId: 'c1', agent: '2001', event: 'COMPLETE', talkMs: 3_000_000, detail: 'caller' },
  agent(jst(9, 55, 12), '2001', 'wrapup'),
  agent(jst(10, 0, 42), '2001', 'available'),
];
const before = [agent(jst(8, 30), '2001', 'available')];

describe('periodFigures', () => {
  it('counts an hour exactly and splits a state that runs across the hour boundary', () => {
    const f = periodFigures(script, { from: jst(9), to: jst(11), bucket: 'hour', timeZone: TZ, stateBefore: before, now: jst(12) });
    expect(f.queues).toEqual([
      {
        bucket: jst(9),
        queue: '500',
        offered: 3,
        answered: 1,
        abandoned: 1,
        overflow: 1,
        timeout: 0,
        exited: 0,
        lost: 0,
        answerRate: 1 / 3,
        avgWaitMs: 12_000,
        maxWaitMs: 12_000,
        talkMs: 3_000_000,
        wrapupMs: 288_000,
      },
      { bucket: jst(10), queue: '500', offered: 0, answered: 0, abandoned: 0, overflow: 0, timeout: 0, exited: 0, lost: 0, answerRate: 0, avgWaitMs: 0, maxWaitMs: 0, talkMs: 0, wrapupMs: 42_000 },
    ]);
    expect(f.agents).toEqual([
      {
        bucket: jst(9),
        queue: '500',
        agent: '2001',
        answered: 1,
        noAnswer: 0,
        talkMs: 3_000_000,
        avgTalkMs: 3_000_000,
        // 09:00–09:05:12 available, then 50 min in the call, then 4 min 48 s of wrap-up to 10:00.
        stateMs: { ...states0, available: 312_000, in_call: 3_000_000, wrapup: 288_000 },
      },
      { bucket: jst(9), queue: '500', agent: '2002', answered: 0, noAnswer: 1, talkMs: 0, avgTalkMs: 0, stateMs: states0 },
      { bucket: jst(10), queue: '500', agent: '2001', answered: 0, noAnswer: 0, talkMs: 0, avgTalkMs: 0, stateMs: { ...states0, wrapup: 42_000, available: 3_558_000 } },
    ]);
  });

  it('stops the last state at now when the period runs into the future', () => {
    const f = periodFigures(script, { from: jst(9), to: jst(11), bucket: 'hour', timeZone: TZ, stateBefore: before, now: jst(10, 30) });
    expect(f.agents.find((a) => a.bucket === jst(10) && a.agent === '2001')?.stateMs).toEqual({ ...states0, wrapup: 42_000, available: 1_758_000 });
  });

  it('clips the first bucket to the period start and takes the state at the start from stateBefore', () => {
    const f = periodFigures(script, { from: jst(9, 30), to: jst(10), bucket: 'hour', timeZone: TZ, stateBefore: [agent(jst(9, 5, 12), '2001', 'in_call')], now: jst(12) });
    expect(f.queues).toHaveLength(1);
    // Only the events from 09:30: the overflow call (ENTER and OVERFLOW at 09:30) and the end of c1.
    expect(f.queues[0]).toMatchObject({ bucket: jst(9), offered: 1, overflow: 1, answered: 0, talkMs: 3_000_000, wrapupMs: 288_000 });
    expect(f.agents.find((a) => a.agent === '2001')?.stateMs).toEqual({ ...states0, in_call: 1_512_000, wrapup: 288_000 });
  });

  it('counts each event in the day of its own local time', () => {
    const events: QueueEvent[] = [
      ...script,
      { at: jst(23, 59, 59, 2), queue: '500', callId: 'c0', event: 'ENTER' },
      { at: jst(0, 0, 5, 3), queue: '500', callId: 'c0', event: 'TIMEOUT', waitMs: 6000 },
      { at: jst(18, 0, 0, 3), queue: '510', callId: 'c9', event: 'ENTER' },
      { at: jst(18, 0, 4, 3), queue: '510', callId: 'c9', event: 'EXIT', waitMs: 4000 },
      { at: jst(18, 0, 0, 3), queue: '510', callId: 'c8', event: 'ENTER' },
      { at: jst(18, 0, 1, 3), queue: '510', callId: 'c8', event: 'LOST', waitMs: 1000 },
    ];
    const f = periodFigures(events, { from: jst(0, 0, 0, 2), to: jst(0, 0, 0, 4), bucket: 'day', timeZone: TZ, stateBefore: [], now: jst(0, 0, 0, 5) });
    expect(f.queues.map((r) => [r.bucket, r.queue, r.offered, r.answered, r.abandoned, r.overflow, r.timeout, r.exited, r.lost])).toEqual([
      [Date.UTC(2026, 11, 1, 15), '500', 1, 0, 0, 0, 0, 0, 0],
      [Date.UTC(2026, 11, 1, 15), '510', 0, 0, 0, 0, 0, 0, 0],
      [Date.UTC(2026, 11, 2, 15), '500', 3, 1, 1, 1, 1, 0, 0],
      [Date.UTC(2026, 11, 2, 15), '510', 2, 0, 0, 0, 0, 1, 1],
    ]);
    // No state before the first AGENT event of 2001 is known, so the day starts counting at 09:05:12.
    const day3 = f.agents.find((a) => a.bucket === Date.UTC(2026, 11, 2, 15) && a.agent === '2001');
    expect(day3?.stateMs).toEqual({ ...states0, in_call: 3_000_000, wrapup: 330_000, available: jst(0, 0, 0, 4) - jst(10, 0, 42) });
  });

  it('gives zero rows for the configured queues over an empty period, and nothing without them', () => {
    const opts = { from: jst(9), to: jst(11), bucket: 'hour' as const, timeZone: TZ, stateBefore: [], now: jst(12) };
    const f = periodFigures([], { ...opts, queues: ['500'] });
    expect(f.agents).toEqual([]);
    expect(f.queues.map((r) => [r.bucket, r.offered, r.answerRate, r.avgWaitMs, r.wrapupMs])).toEqual([
      [jst(9), 0, 0, 0, 0],
      [jst(10), 0, 0, 0, 0],
    ]);
    expect(periodFigures([], opts)).toEqual({ queues: [], agents: [] });
    expect(periodFigures(script, { ...opts, to: jst(9) })).toEqual({ queues: [], agents: [] });
  });

  it('keeps a paused agent with a reason in the paused state, and a state held all the period fills every bucket', () => {
    const f = periodFigures([], { from: jst(9), to: jst(11), bucket: 'hour', timeZone: TZ, stateBefore: [agent(jst(8), '2003', 'paused:離席中')], now: jst(12) });
    expect(f.agents.map((a) => [a.bucket, a.agent, a.stateMs.paused])).toEqual([
      [jst(9), '2003', 3_600_000],
      [jst(10), '2003', 3_600_000],
    ]);
  });
});

describe('liveFigures', () => {
  it("gives today's counters, the callers waiting now and each member's state", () => {
    const now = jst(10, 30);
    const [support, sales] = liveFigures({
      queues: [
        {
          number: '500',
          name: 'Support',
          members: [
            { extension: '2001', level: 1 },
            { extension: '2002', level: 2 },
            { extension: '2003', level: 1 },
          ],
        },
        { number: '510', name: 'Sales', members: [{ extension: '2001', level: 1 }] },
      ],
      today: script,
      open: [
        { at: now - 42_000, queue: '500', callId: 'c4', event: 'ENTER' },
        { at: now - 5000, queue: '500', callId: 'c5', event: 'ENTER' },
      ],
      agentStates: [agent(jst(10, 0, 42), '2001', 'available'), agent(jst(10, 1), '2002', 'paused:離席中'), agent(jst(10, 2), '2001', 'on_hold', '510')],
      now,
    });
    expect(support).toEqual({
      queue: '500',
      name: 'Support',
      offered: 3,
      answered: 1,
      abandoned: 1,
      overflow: 1,
      timeout: 0,
      exited: 0,
      lost: 0,
      answerRate: 1 / 3,
      waitingNow: 2,
      longestWaitMs: 42_000,
      agents: { online: 2, available: 1, ringing: 0, inCall: 0, paused: 1, wrapup: 0 },
      members: [
        { agent: '2001', level: 1, state: 'available', reason: null, since: jst(10, 0, 42) },
        { agent: '2002', level: 2, state: 'paused', reason: '離席中', since: jst(10, 1) },
        { agent: '2003', level: 1, state: 'offline', reason: null, since: null },
      ],
    });
    expect(sales).toMatchObject({ offered: 0, answerRate: 0, waitingNow: 0, longestWaitMs: 0, agents: { online: 1, inCall: 1 } });
  });
});

describe('time zone helpers', () => {
  it('finds local midnight in the tenant time zone, not UTC', () => {
    expect(startOfDay(Date.UTC(2026, 11, 3, 14, 59), TZ)).toBe(Date.UTC(2026, 11, 2, 15));
    expect(startOfDay(Date.UTC(2026, 11, 3, 15, 0), TZ)).toBe(Date.UTC(2026, 11, 3, 15));
    expect(zonedTime({ year: 2026, month: 12, day: 3, hour: 9, minute: 30 }, TZ)).toBe(jst(9, 30));
  });

  it('gives 23- and 25-hour days and a repeated hour across DST changes', () => {
    const ny = 'America/New_York';
    const mar8 = startOfDay(Date.UTC(2026, 2, 8, 12), ny);
    expect(mar8).toBe(Date.UTC(2026, 2, 8, 5));
    expect(nextBucket(mar8, 'day', ny) - mar8).toBe(23 * 3_600_000);
    const nov1 = startOfDay(Date.UTC(2026, 10, 1, 12), ny);
    expect(nextBucket(nov1, 'day', ny) - nov1).toBe(25 * 3_600_000);
    // 00:00–04:00 local on the fall-back day is five hour buckets: 1 a.m. comes twice.
    const hours: number[] = [];
    for (let b = nov1; b < zonedTime({ year: 2026, month: 11, day: 1, hour: 4, minute: 0 }, ny); b = nextBucket(b, 'hour', ny)) hours.push(b);
    expect(hours).toHaveLength(5);
    // Spring forward: 02:00 does not exist, the bucket after 01:00 starts at 03:00 (one hour later).
    const one = zonedTime({ year: 2026, month: 3, day: 8, hour: 1, minute: 0 }, ny);
    expect(nextBucket(one, 'hour', ny) - one).toBe(3_600_000);
  });

  it('starts hours at local hour boundaries in a half-hour zone', () => {
    expect(bucketStart(Date.UTC(2026, 11, 3, 4, 10), 'hour', 'Asia/Kolkata')).toBe(Date.UTC(2026, 11, 3, 3, 30));
  });

  it('reads AGENT details', () => {
    expect(parseAgentState('paused:離席中')).toEqual({ state: 'paused', reason: '離席中' });
    expect(parseAgentState('paused')).toEqual({ state: 'paused', reason: null });
    expect(parseAgentState('in_call')).toEqual({ state: 'in_call', reason: null });
    expect(parseAgentState('dancing')).toBeUndefined();
  });
});

describe('report helpers', () => {
  it('reads --from and --to in the tenant time zone; a bare --to date includes that day', () => {
    expect(parseStatsTime('2026-12-03', 'from', TZ)).toBe(jst(0));
    expect(parseStatsTime('2026-12-03T09:30', 'from', TZ)).toBe(jst(9, 30));
    expect(parseStatsTime('2026-12-03', 'to', TZ)).toBe(jst(0, 0, 0, 4));
    expect(parseStatsTime('2026-12-31', 'to', TZ)).toBe(Date.UTC(2026, 11, 31, 15));
    expect(statsRange('2026-12-03T09:00', '2026-12-03T10:00', TZ)).toEqual({ from: jst(9), to: jst(10) });
    for (const bad of ['2026-02-29', '2026-13-01', '2026-12-03T24:00', '2026-12-3', 'yesterday']) expect(() => parseStatsTime(bad, 'from', TZ)).toThrow(QueueCommandError);
    expect(() => statsRange('2026-12-03T10:00', '2026-12-03T10:00', TZ)).toThrow('--to 2026-12-03T10:00 is not after --from 2026-12-03T10:00');
  });

  it('formats durations and wall-clock times', () => {
    expect(durationText(0)).toBe('0:00:00');
    expect(durationText(3_000_999)).toBe('0:50:00');
    expect(durationText(90_061_000)).toBe('25:01:01');
    expect(localText(jst(9, 5, 12), TZ)).toBe('2026-12-03 09:05:12');
  });
});
