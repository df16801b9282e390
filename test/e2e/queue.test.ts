// F-QUEUE / F-AGENT end to end with test UAs and real RTP: a caller waits in a queue, agents are offered
// the call by the ring strategy and skill level, the answering agent is bridged to the caller; overflow,
// timeout, abandon, auto-pause, after-call work and pauses per queue (*51/*52, surviving a restart) decide
// who is offered what; the CDR and the queue events record it.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { failure, nextRung, talking, waitUntil } from '../support/call-helpers.js';
import type { RunningHibiki } from '../support/hibiki.js';
import { hibikiSession } from '../support/session.js';
import type { Call, TestUA } from '../support/test-ua.js';
import type { QueueEvent } from '../../src/store/queue-event-store.js';
import { liveFigures, periodFigures } from '../../src/features/queue/stats.js';
import { startOfDay } from '../../src/util/zoned-time.js';
import { shortPromptsDir } from '../support/short-prompts.js';

const session = hibikiSession();
// An agent's *51 / *52 call is only waited out to hibiki's BYE (agentCode): 300 ms of each confirmation.
const PROMPTS_DIR = shortPromptsDir(['agent-paused', 'agent-resumed', 'agent-not-member']);
afterAll(() => rmSync(PROMPTS_DIR, { recursive: true, force: true }));
const NUMBERS = ['2001', '2002', '2003', '2004', '2005'];

function start(queues: Array<Record<string, unknown>>, opts: { dataDir?: string; config?: Record<string, unknown> } = {}) {
  return session.start({
    extensions: NUMBERS.map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}`, language: 'en' })),
    config: {
      queues: queues.map((q) => ({ number: '6000', name: 'Support', members: ['2002', '2003'], periodicAnnouncementInterval: 0, retryDelay: 0, ...q })),
      prompts: { dir: PROMPTS_DIR },
      ...opts.config,
    },
    dataDir: opts.dataDir,
  });
}

function events(h: RunningHibiki, kind?: QueueEvent['event']): QueueEvent[] {
  return h.server.queues.events.between(0, Date.now() + 60_000).filter((e) => kind === undefined || e.event === kind);
}

/** The agent that rings next answers; caller and agent talk, then the caller hangs up. */
async function answeredBy(caller: Call, agents: TestUA[], seed: number): Promise<string> {
  const rung = await nextRung(agents);
  const agentCall = await rung.call.answer();
  await talking(caller, agentCall, seed, seed + 1);
  await caller.hangup();
  await agentCall.waitForEnd();
  return rung.phone.user;
}

/** An agent dials a service code; hibiki answers with the confirmation and hangs up. */
async function agentCode(phone: TestUA, code: string): Promise<void> {
  const call = await phone.call(code);
  const end = await call.waitForEnd(15_000);
  expect(end.by).toBe('remote');
}

describe('queues', () => {
  it('a caller waits, an agent answers, both talk; the CDR names the queue, the agent and the wait', async () => {
    const { h, phone } = await start([{ strategy: 'linear' }]);
    const alice = await phone('2001');
    const agents = [await phone('2002'), await phone('2003')];
    const aliceCall = await alice.call('6000');
    expect(await answeredBy(aliceCall, agents, 11)).toBe('2002');
    await waitUntil(() => h.server.cdr.query({}).length === 1, 5000);
    const row = h.server.cdr.query({})[0]!;
    expect(row).toMatchObject({ dialedNumber: '6000', calleeNumber: '2002', answeredBy: '2002', queue: '6000', disposition: 'answered' });
    expect(row.queueWait).toBeGreaterThanOrEqual(0);
    await waitUntil(() => events(h, 'COMPLETE').length === 1, 5000);
    expect(events(h).map((e) => e.event)).toEqual(expect.arrayContaining(['ENTER', 'ANSWER', 'COMPLETE']));
    expect(events(h, 'ANSWER')[0]).toMatchObject({ agent: '2002', queue: '6000' });
  }, 30_000);

  it('roundrobin continues after the agent offered last; leastrecent offers the agent idle longest', async () => {
    const { phone } = await start([
      { strategy: 'roundrobin', members: ['2002', '2003', '2004'] },
      { number: '6001', name: 'Sales', strategy: 'leastrecent', members: ['2002', '2003', '2004'] },
    ]);
    const alice = await phone('2001');
    const agents = [await phone('2002'), await phone('2003'), await phone('2004')];
    const rr: string[] = [];
    for (let i = 0; i < 4; i++) rr.push(await answeredBy(await alice.call('6000'), agents, 20 + 2 * i));
    expect(rr).toEqual(['2002', '2003', '2004', '2002']);
    // In 6001 nobody has had a call yet: member order first; then whoever's last 6001 call ended longest ago.
    const lr: string[] = [];
    for (let i = 0; i < 4; i++) lr.push(await answeredBy(await alice.call('6001'), agents, 40 + 2 * i));
    expect(lr).toEqual(['2002', '2003', '2004', '2002']);
  }, 60_000);

  it('skill levels are strict: a level-1 agent that does not answer is offered again before level 2; level 2 only once level 1 is paused', async () => {
    const { h, phone } = await start([
      {
        strategy: 'linear',
        members: [
          { extension: '2002', level: 1 },
          { extension: '2003', level: 2 },
        ],
      },
    ]);
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const aliceCall = await alice.call('6000');
    for (let i = 0; i < 2; i++) {
      const rung = await nextRung([bob, carol]);
      expect(rung.phone.user).toBe('2002');
      rung.call.reject(480);
    }
    await waitUntil(() => events(h, 'RINGNOANSWER').length === 2, 5000);
    // The call may already ring bob a third time: pausing him makes the next offer go to level 2.
    await agentCode(bob, '*516000');
    let rung = await nextRung([bob, carol], 10_000);
    if (rung.phone.user === '2002') {
      rung.call.reject(480);
      rung = await nextRung([bob, carol], 10_000);
    }
    expect(rung.phone.user).toBe('2003');
    const carolCall = await rung.call.answer();
    await talking(aliceCall, carolCall, 60, 61);
    await aliceCall.hangup();
  }, 60_000);

  it('maxWaiting 0: a call beyond the free agents overflows (486, cause 17), or to overflowDestination', async () => {
    const { h, phone } = await start([
      { strategy: 'linear', members: ['2002'], maxWaiting: 0 },
      { number: '6001', name: 'Sales', members: ['2003'], maxWaiting: 0, overflowDestination: '2004' },
    ]);
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const dave = await phone('2004');
    const eve = await phone('2005');
    // Bob is offered alice's call and lets it ring: no agent is free for eve.
    const aliceCall = await alice.call('6000');
    const ringing = await bob.waitForCall();
    ringing.ring();
    const err = await failure(eve.call('6000'));
    expect(err.status).toBe(486);
    expect(err.response.get('reason')).toMatch(/cause=17/);
    await waitUntil(() => events(h, 'OVERFLOW').length === 1, 5000);
    expect(events(h, 'OVERFLOW')[0]).toMatchObject({ queue: '6000', detail: 'busy' });
    ringing.reject(486);
    await aliceCall.hangup();

    // 6001: carol busy with a call, eve overflows to dave.
    const busy = await alice.call('6001');
    const carolCall = await (await carol.waitForCall()).answer();
    await talking(busy, carolCall, 70, 71);
    const toDave = await eve.dial('6001');
    const daveCall = await (await dave.waitForCall()).answer();
    await talking(await toDave.answered, daveCall, 72, 73);
    await busy.hangup();
    await daveCall.hangup();
  }, 60_000);

  it('timeout: a caller still waiting goes to timeoutDestination, or is ended with cause 17', async () => {
    const { h, phone } = await start([
      { members: ['2002'], timeout: 2, timeoutDestination: '2004' },
      { number: '6001', name: 'Sales', members: ['2003'], timeout: 2 },
    ]);
    const alice = await phone('2001');
    const dave = await phone('2004');
    // No agent is registered: the callers wait until the timeout.
    const aliceCall = await alice.call('6000');
    const daveCall = await (await dave.waitForCall({ timeoutMs: 10_000 })).answer();
    await talking(aliceCall, daveCall, 80, 81);
    await aliceCall.hangup();
    const second = await alice.call('6001');
    const end = await second.waitForEnd(10_000);
    expect(end.by).toBe('remote');
    expect(end.reason).toMatch(/cause=17/);
    await waitUntil(() => events(h, 'TIMEOUT').length === 2, 5000);
    expect(events(h, 'TIMEOUT').map((e) => e.detail)).toEqual(['2004', 'busy']);
  }, 60_000);

  it('a caller hanging up while waiting is abandoned: ABANDON event and a CDR with the queue', async () => {
    const { h, phone } = await start([{ members: ['2002'] }]);
    const alice = await phone('2001');
    const bob = await phone('2002');
    const aliceCall = await alice.call('6000');
    const ringing = await bob.waitForCall();
    ringing.ring();
    await aliceCall.hangup();
    await ringing.waitForCancel();
    await waitUntil(() => events(h, 'ABANDON').length === 1 && h.server.cdr.query({}).length === 1, 5000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ queue: '6000', dialedNumber: '6000', hangupBy: 'caller' });
    // An offer the caller's hang-up stopped is no missed call for the agent.
    expect(events(h, 'RINGNOANSWER')).toHaveLength(0);
  }, 30_000);

  it('auto-pause: an agent who lets an offer go unanswered is paused, and offered again when it lapses', async () => {
    const { h, phone } = await start([{ members: ['2002'], autoPause: true, autoPauseSeconds: 2, agentRingTime: 5 }]);
    const alice = await phone('2001');
    const bob = await phone('2002');
    const aliceCall = await alice.call('6000');
    (await bob.waitForCall()).reject(480);
    await waitUntil(() => events(h, 'PAUSE').length === 1 && events(h, 'AGENT').some((e) => e.detail === 'paused:auto'), 5000);
    // After autoPauseSeconds the agent is available again and the waiting caller is offered to him.
    const again = await bob.waitForCall({ timeoutMs: 10_000 });
    const bobCall = await again.answer();
    await talking(aliceCall, bobCall, 90, 91);
    await aliceCall.hangup();
    expect(events(h, 'RESUME').length).toBe(1);
  }, 40_000);

  it('after-call work until the agent resumes (wrapupSeconds 0): no call until *52', async () => {
    const { h, phone } = await start([{ members: ['2002'], wrapupSeconds: 0 }]);
    const alice = await phone('2001');
    const bob = await phone('2002');
    expect(await answeredBy(await alice.call('6000'), [bob], 100)).toBe('2002');
    await waitUntil(() => events(h, 'AGENT').some((e) => e.detail === 'wrapup'), 5000);
    const waiting = await alice.call('6000');
    await expect(bob.waitForCall({ timeoutMs: 2500 })).rejects.toThrow();
    await agentCode(bob, '*52');
    const bobCall = await (await bob.waitForCall({ timeoutMs: 10_000 })).answer();
    await talking(waiting, bobCall, 102, 103);
    await waiting.hangup();
  }, 40_000);

  it('paused in one queue, available in another; *51 in every queue survives a restart; *52 resumes', async () => {
    const first = await start([{ members: ['2002'] }, { number: '6001', name: 'Sales', members: ['2002'] }]);
    const alice = await first.phone('2001');
    const bob = await first.phone('2002');
    await agentCode(bob, '*516000');
    expect(first.h.server.queues.holds.all(Date.now()).map((x) => [x.queue, x.state])).toEqual([['6000', 'paused']]);
    // 6001 rings bob; 6000 does not.
    expect(await answeredBy(await alice.call('6001'), [bob], 110)).toBe('2002');
    const waiting = await alice.call('6000');
    await expect(bob.waitForCall({ timeoutMs: 2500 })).rejects.toThrow();
    await waiting.hangup();
    // A member of no queue hears the refusal; nothing changes.
    await agentCode(await first.phone('2004'), '*51');
    expect(first.h.server.queues.holds.all(Date.now())).toHaveLength(1);

    await agentCode(bob, '*51');
    const dataDir = first.h.dataDir;
    await session.stop({ keepData: true });
    const second = await start([{ members: ['2002'] }, { number: '6001', name: 'Sales', members: ['2002'] }], { dataDir });
    expect(
      second.h.server.queues.holds
        .all(Date.now())
        .map((x) => x.queue)
        .sort(),
    ).toEqual(['6000', '6001']);
    const alice2 = await second.phone('2001');
    const bob2 = await second.phone('2002');
    const waiting2 = await alice2.call('6001');
    await expect(bob2.waitForCall({ timeoutMs: 2500 })).rejects.toThrow();
    await agentCode(bob2, '*52');
    const bobCall = await (await bob2.waitForCall({ timeoutMs: 10_000 })).answer();
    await talking(waiting2, bobCall, 120, 121);
    await waiting2.hangup();
    expect(second.h.server.queues.holds.all(Date.now())).toHaveLength(0);
  }, 90_000);

  it('an IVR key leads to the queue: the caller, answered by the IVR, waits and is connected to an agent', async () => {
    const { h, phone } = await start([{ members: ['2002'] }], { config: { ivrs: [{ number: '500', name: 'Main', greeting: 'ivr-welcome', language: 'en', keys: { 1: '6000' } }] } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const aliceCall = await alice.call('500');
    await aliceCall.sendDtmf('1');
    const bobCall = await (await bob.waitForCall({ timeoutMs: 10_000 })).answer();
    await talking(aliceCall, bobCall, 130, 131);
    await aliceCall.hangup();
    await waitUntil(() => h.server.cdr.query({}).length === 1, 5000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ dialedNumber: '500', queue: '6000', answeredBy: '2002', feature: 'ivr:500>1>6000' });
  }, 30_000);

  it('statistics: after answered, abandoned, overflow and timeout calls the live and daily figures are exact', async () => {
    const { h, phone } = await start([{ members: ['2002'], maxWaiting: 1, timeout: 3 }]);
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const dave = await phone('2004');
    // 1. answered by bob.
    expect(await answeredBy(await alice.call('6000'), [bob], 140)).toBe('2002');
    // 2. bob pauses; alice waits and gives up: abandoned.
    await agentCode(bob, '*51');
    const abandoned = await alice.call('6000');
    await waitUntil(() => h.server.queues.dispatcher.waitingCount('6000') === 1, 5000);
    await abandoned.hangup();
    // 3. carol waits (maxWaiting 1); dave cannot: overflow. 4. carol reaches the 3 s timeout.
    const carolCall = await carol.call('6000');
    await waitUntil(() => h.server.queues.dispatcher.waitingCount('6000') === 1, 5000);
    expect((await failure(dave.call('6000'))).status).toBe(486);
    expect((await carolCall.waitForEnd(10_000)).by).toBe('remote');
    await waitUntil(() => events(h, 'TIMEOUT').length === 1 && events(h).filter((e) => e.event === 'AGENT' && e.detail === 'paused').length === 1, 5000);

    const now = Date.now();
    const config = h.server.currentConfig;
    const store = h.server.queues.events;
    const tz = config.tenant.timezone;
    const [live] = liveFigures({ queues: config.queues, today: store.between(startOfDay(now, tz), now + 1), open: store.open(0), agentStates: store.lastAgentStates(), now });
    expect(live).toMatchObject({ queue: '6000', offered: 4, answered: 1, abandoned: 1, overflow: 1, timeout: 1, exited: 0, lost: 0, answerRate: 0.25, waitingNow: 0, longestWaitMs: 0 });
    expect(live!.agents).toEqual({ online: 1, available: 0, ringing: 0, inCall: 0, paused: 1, wrapup: 0 });
    const answer = events(h, 'ANSWER')[0]!;
    // The estimated wait (Asterisk's): the average wait of the recently answered calls × the position.
    expect(h.server.queues.dispatcher.estimatedWaitMs('6000', 2)).toBe(answer.waitMs! * 2);
    const day = periodFigures(store.between(0, now + 1), { from: startOfDay(now - 60_000, tz), to: now + 1, bucket: 'day', timeZone: tz, stateBefore: [], now, queues: ['6000'] });
    const totals = day.queues.reduce(
      (a, r) => ({ offered: a.offered + r.offered, answered: a.answered + r.answered, abandoned: a.abandoned + r.abandoned, overflow: a.overflow + r.overflow, timeout: a.timeout + r.timeout }),
      {
        offered: 0,
        answered: 0,
        abandoned: 0,
        overflow: 0,
        timeout: 0,
      },
    );
    expect(totals).toEqual({ offered: 4, answered: 1, abandoned: 1, overflow: 1, timeout: 1 });
    expect(day.queues.find((r) => r.answered === 1)).toMatchObject({ avgWaitMs: answer.waitMs, maxWaitMs: answer.waitMs });
    const bobRows = day.agents.filter((r) => r.agent === '2002');
    expect(bobRows.reduce((n, r) => n + r.answered, 0)).toBe(1);
    expect(bobRows.reduce((n, r) => n + r.talkMs, 0)).toBe(events(h, 'COMPLETE')[0]!.talkMs);
    expect(bobRows.reduce((n, r) => n + r.stateMs.paused, 0)).toBeGreaterThan(0);
  }, 60_000);
});
