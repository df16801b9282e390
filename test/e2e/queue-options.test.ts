// F-QUEUE options end to end, with test UAs and real RTP: ringing before the queue answers, the exit key,
// the display prefix, several calls per agent, the longest-waiting caller first, every phone of an agent
// ringing, an agent lost before the caller is connected, and timed after-call work.
import { describe, expect, it } from 'vitest';
import { nextRung, talking, waitUntil } from '../support/call-helpers.js';
import type { RunningHibiki } from '../support/hibiki.js';
import { hibikiSession } from '../support/session.js';
import { TestUA } from '../support/test-ua.js';
import type { QueueEvent } from '../../src/store/queue-event-store.js';

const session = hibikiSession();
const NUMBERS = ['2001', '2002', '2003', '2004'];

function start(queue: Record<string, unknown>, config: Record<string, unknown> = {}) {
  return session.start({
    extensions: NUMBERS.map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}`, language: 'en' })),
    config: { ...config, queues: [{ number: '6000', name: 'Support', members: ['2002', '2003'], periodicAnnouncementInterval: 0, retryDelay: 0, strategy: 'linear', ...queue }] },
  });
}

function events(h: RunningHibiki, kind: QueueEvent['event']): QueueEvent[] {
  return h.server.queues.events.between(0, Date.now() + 60_000).filter((e) => e.event === kind);
}

describe('queue options', () => {
  it('ringBeforeQueueSeconds: the caller hears ringing while the agent is offered; answered by the queue only after it', async () => {
    const { phone } = await start({ members: ['2002'], ringBeforeQueueSeconds: 2 });
    const alice = await phone('2001');
    const bob = await phone('2002');
    // The agent answers within the ringing time: the caller's first final answer is the connected call.
    const outgoing = await alice.dial('6000');
    await outgoing.waitForProvisional(180);
    const bobCall = await (await bob.waitForCall()).answer();
    const aliceCall = await outgoing.answered;
    await talking(aliceCall, bobCall, 10, 11);
    await aliceCall.hangup();
    await bobCall.waitForEnd();
    // Nobody answers within 2 s: the queue answers and the caller hears the music.
    const second = await alice.dial('6000');
    const ringing = await bob.waitForCall();
    ringing.ring();
    await second.waitForProvisional(180);
    const waiting = await second.answered;
    await waiting.rtp.waitForPackets(20, 10_000);
    await waiting.hangup();
  }, 40_000);

  it('the exit key takes a waiting caller to exitDestination', async () => {
    const { h, phone } = await start({ exitKey: '*', exitDestination: '2004' });
    const alice = await phone('2001');
    const dave = await phone('2004');
    // No agent is registered: alice waits, then presses *.
    const aliceCall = await alice.call('6000');
    await aliceCall.sendDtmf('*', { method: 'rfc4733' });
    const daveCall = await (await dave.waitForCall({ timeoutMs: 10_000 })).answer();
    await talking(aliceCall, daveCall, 20, 21);
    await aliceCall.hangup();
    await waitUntil(() => events(h, 'EXIT').length === 1, 5000);
    expect(events(h, 'EXIT')[0]).toMatchObject({ queue: '6000', detail: '2004' });
  }, 30_000);

  it('the longest-waiting caller is offered first; the agent sees displayPrefix before the caller name', async () => {
    const { h, phone } = await start({ members: ['2002'], displayPrefix: '[Support] ' });
    const alice = await phone('2001');
    const carol = await phone('2003');
    const aliceCall = await alice.call('6000');
    await waitUntil(() => h.server.queues.dispatcher.waitingCount('6000') === 1, 5000);
    const carolCall = await carol.call('6000');
    // The agent logs in by registering: alice, who came first, is offered first.
    const bob = await phone('2002');
    const first = await bob.waitForCall({ timeoutMs: 10_000 });
    expect(first.from).toContain('"[Support] User 2001"');
    const bobCall = await first.answer();
    await talking(aliceCall, bobCall, 30, 31);
    await aliceCall.hangup();
    await bobCall.waitForEnd();
    const second = await bob.waitForCall({ timeoutMs: 10_000 });
    expect(second.from).toContain('"[Support] User 2003"');
    const bobCall2 = await second.answer();
    await talking(carolCall, bobCall2, 32, 33);
    await carolCall.hangup();
  }, 40_000);

  it('callsPerAgent 2: an agent in a call from the queue is offered a second one', async () => {
    const { phone } = await start({ members: ['2002'], callsPerAgent: 2 });
    const alice = await phone('2001');
    const carol = await phone('2003');
    const bob = await phone('2002');
    const aliceCall = await alice.call('6000');
    const bobCall = await (await bob.waitForCall()).answer();
    await talking(aliceCall, bobCall, 40, 41);
    const carolCall = await carol.call('6000');
    const bobCall2 = await (await bob.waitForCall({ timeoutMs: 10_000 })).answer();
    await talking(carolCall, bobCall2, 42, 43);
    await Promise.all([aliceCall.hangup(), carolCall.hangup()]);
  }, 40_000);

  it('every phone of an agent rings; the one that answers takes the call', async () => {
    const { h, phone } = await start({ members: ['2002'] });
    const alice = await phone('2001');
    const desk = await phone('2002');
    const soft = await TestUA.create({ user: '2002', password: 'secret-2002', server: { host: '127.0.0.1', port: h.port('udp') }, domain: 'hibiki.test' });
    session.phones.push(soft);
    await soft.register();
    const aliceCall = await alice.call('6000');
    const [atDesk, atSoft] = await Promise.all([desk.waitForCall(), soft.waitForCall()]);
    const softCall = await atSoft.answer();
    await atDesk.waitForCancel();
    await talking(aliceCall, softCall, 50, 51);
    await aliceCall.hangup();
  }, 30_000);

  it('an agent who hangs up during the whisper puts the caller back at the front: the next agent is offered the call', async () => {
    const { h, phone } = await start({ whisper: 'queue-call' });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const aliceCall = await alice.call('6000');
    const bobCall = await (await bob.waitForCall()).answer();
    await bobCall.hangup();
    const next = await nextRung([bob, carol], 10_000);
    const agentCall = await next.call.answer();
    await talking(aliceCall, agentCall, 60, 61);
    await aliceCall.hangup();
    await waitUntil(() => events(h, 'ANSWER').length === 1, 5000);
    expect(events(h, 'RINGNOANSWER').map((e) => [e.agent, e.detail])).toEqual([['2002', 'failed']]);
  }, 40_000);

  it('timed after-call work: the agent is offered the next call only after wrapupSeconds', async () => {
    const { h, phone } = await start({ members: ['2002'], wrapupSeconds: 2 });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const first = await alice.call('6000');
    const bobCall = await (await bob.waitForCall()).answer();
    await talking(first, bobCall, 70, 71);
    await first.hangup();
    await bobCall.waitForEnd();
    const ended = Date.now();
    const second = await alice.call('6000');
    const bobCall2 = await (await bob.waitForCall({ timeoutMs: 10_000 })).answer();
    expect(Date.now() - ended).toBeGreaterThanOrEqual(1500);
    await talking(second, bobCall2, 72, 73);
    await second.hangup();
    await waitUntil(() => h.server.queues.events.between(0, Date.now() + 1).some((e) => e.event === 'AGENT' && e.detail === 'wrapup'), 5000);
  }, 40_000);

  it('an agent who transfers the caller on is free at once: COMPLETE when their leg ends, the next call is theirs', async () => {
    const { h, phone } = await start({ members: ['2002'] });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const dave = await phone('2004');
    const aliceCall = await alice.call('6000');
    const bobCall = await (await bob.waitForCall()).answer();
    await talking(aliceCall, bobCall, 80, 81);
    await bobCall.sendDtmf('#82004#', { method: 'rfc4733' });
    const daveCall = await (await dave.waitForCall({ timeoutMs: 10_000 })).answer();
    await talking(aliceCall, daveCall, 82, 83);
    await waitUntil(() => events(h, 'COMPLETE').length === 1, 5000);
    expect(events(h, 'COMPLETE')[0]).toMatchObject({ agent: '2002', detail: 'transfer' });
    // Alice and dave are still talking; bob takes the next queue call.
    const carolCall = await carol.call('6000');
    const bobCall2 = await (await bob.waitForCall({ timeoutMs: 10_000 })).answer();
    await talking(carolCall, bobCall2, 84, 85);
    await Promise.all([aliceCall.hangup(), carolCall.hangup()]);
  }, 40_000);

  it('a waiting caller whose RTP stops is ended (cause 41) and leaves the line, counted as abandoned', async () => {
    const { h, phone } = await start({ members: ['2002'] }, { media: { bindAddress: '127.0.0.1', address: '127.0.0.1', rtpTimeout: 2 } });
    const alice = await phone('2001');
    // No agent is registered, and alice sends no RTP.
    const aliceCall = await alice.call('6000');
    expect((await aliceCall.waitForEnd(10_000)).reason).toMatch(/cause=41/);
    await waitUntil(() => events(h, 'ABANDON').length === 1, 5000);
    expect(h.server.queues.dispatcher.waitingCount('6000')).toBe(0);
    // An agent logging in now is offered nothing.
    const bob = await phone('2002');
    await expect(bob.waitForCall({ timeoutMs: 2000 })).rejects.toThrow();
    expect(events(h, 'RINGNOANSWER')).toHaveLength(0);
  }, 30_000);
});
