// F-FWD end to end with real phones and RTP: unconditional, busy (in a call, and a device answering 486),
// no answer after noAnswerTimeout, unreachable (not registered, and a device that sends nothing within
// 2 s); a 3-hop chain and a loop that stops at the last reachable hop; a CDR row for every hop.
import { describe, expect, it } from 'vitest';
import type { TestExtension } from '../support/hibiki.js';
import { connect, talking, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import type { Call, TestUA } from '../support/test-ua.js';

const session = hibikiSession();

const NUMBERS = ['2001', '2002', '2003', '2004', '2005'];

function start(extra: Record<string, Partial<TestExtension>> = {}, config: Record<string, unknown> = {}) {
  return session.start({
    extensions: NUMBERS.map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}`, ...extra[n] })),
    config,
  });
}

/** `callee` answers the next call, and audio flows both ways with the caller's answered call. */
async function answerAndTalk(outgoing: { answered: Promise<Call> }, callee: TestUA, seed: number) {
  const incoming = await callee.waitForCall({ timeoutMs: 10_000 });
  const calleeCall = await incoming.answer();
  const callerCall = await outgoing.answered;
  await talking(callerCall, calleeCall, seed, seed + 1);
  await callerCall.hangup();
  await calleeCall.waitForEnd();
  return incoming;
}

describe('call forwarding', () => {
  it('CFU: every call goes to the destination, the forwarding phone never rings; a CDR row per hop', async () => {
    const { h, phone } = await start({ '2002': { forwarding: { unconditional: '2003' } } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const outgoing = await alice.dial('2002');
    await answerAndTalk(outgoing, carol, 100);
    expect(bob.calls.size).toBe(0);
    await expect(bob.waitForCall({ timeoutMs: 300 })).rejects.toThrow();
    await waitUntil(() => h.server.cdr.query({}).length === 2, 3000);
    const rows = h.server.cdr.query({});
    const hop = rows.find((r) => r.calleeNumber === '2002');
    const last = rows.find((r) => r.calleeNumber === '2003');
    expect(hop).toMatchObject({ dialedNumber: '2002', feature: 'none', forwardedFrom: null });
    expect(hop?.hangupReason).toContain('forwarded (cfu) to 2003');
    expect(last).toMatchObject({ dialedNumber: '2002', feature: 'forward_cfu', forwardedFrom: '2002', answeredBy: expect.any(String), disposition: 'answered' });
    expect(hop?.linkedId).toBe(last?.linkedId);
  }, 30_000);

  it('CFB: a busy extension (in a call, no call waiting) forwards', async () => {
    const { h, phone } = await start({ '2002': { callWaiting: false, forwarding: { busy: '2003' } } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const eve = await phone('2005');
    await connect(eve, bob, '2002');
    const outgoing = await alice.dial('2002');
    await answerAndTalk(outgoing, carol, 110);
    await waitUntil(() => h.server.cdr.query({}).some((r) => r.feature === 'forward_cfb'), 3000);
    expect(h.server.cdr.query({}).find((r) => r.feature === 'forward_cfb')).toMatchObject({ calleeNumber: '2003', forwardedFrom: '2002' });
  }, 30_000);

  it('CFB: a device answering 486 forwards', async () => {
    const { phone } = await start({ '2002': { forwarding: { busy: '2003' } } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const outgoing = await alice.dial('2002');
    (await bob.waitForCall()).reject(486);
    await answerAndTalk(outgoing, carol, 120);
  }, 30_000);

  it('CFNA: rings for noAnswerTimeout, then the forwarding phone is cancelled and the destination rings', async () => {
    const { h, phone } = await start({ '2002': { forwarding: { noAnswer: '2003', noAnswerTimeout: 2 } } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const outgoing = await alice.dial('2002');
    const atBob = await bob.waitForCall();
    atBob.ring();
    const t0 = Date.now();
    await atBob.waitForCancel(6000);
    expect(Date.now() - t0).toBeGreaterThan(1500);
    await answerAndTalk(outgoing, carol, 130);
    await waitUntil(() => h.server.cdr.query({}).length === 2, 3000);
    const hop = h.server.cdr.query({}).find((r) => r.calleeNumber === '2002');
    expect(hop).toMatchObject({ disposition: 'no_answer', q850Cause: 19 });
    expect(h.server.cdr.query({}).find((r) => r.calleeNumber === '2003')).toMatchObject({ feature: 'forward_cfna', forwardedFrom: '2002' });
  }, 30_000);

  it('CFUR: an unregistered extension forwards', async () => {
    const { h, phone } = await start({ '2002': { forwarding: { unreachable: '2003' } } });
    const alice = await phone('2001');
    const carol = await phone('2003');
    const outgoing = await alice.dial('2002');
    await answerAndTalk(outgoing, carol, 140);
    await waitUntil(() => h.server.cdr.query({}).some((r) => r.feature === 'forward_cfur'), 3000);
  }, 30_000);

  it('CFUR: a registered device that sends no response at all within 2 s forwards', async () => {
    const { phone } = await start({ '2002': { forwarding: { unreachable: '2003' } } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    // The binding stays, but nothing listens any more: the INVITE goes unanswered.
    await bob.close();
    const t0 = Date.now();
    const outgoing = await alice.dial('2002');
    const incoming = await answerAndTalk(outgoing, carol, 150);
    expect(incoming).toBeDefined();
    expect(Date.now() - t0).toBeGreaterThan(1800);
  }, 30_000);

  it('follows a 3-hop chain to the last destination, with a CDR row for every hop', async () => {
    const { h, phone } = await start({
      '2002': { forwarding: { unconditional: '2003' } },
      '2003': { forwarding: { unconditional: '2004' } },
      '2004': { forwarding: { unconditional: '2005' } },
    });
    const alice = await phone('2001');
    const eve = await phone('2005');
    const outgoing = await alice.dial('2002');
    await answerAndTalk(outgoing, eve, 160);
    await waitUntil(() => h.server.cdr.query({}).length === 4, 3000);
    const rows = h.server.cdr.query({});
    const by = (n: string) => rows.find((r) => r.calleeNumber === n);
    expect(by('2002')).toMatchObject({ forwardedFrom: null });
    expect(by('2003')).toMatchObject({ forwardedFrom: '2002', feature: 'forward_cfu' });
    expect(by('2004')).toMatchObject({ forwardedFrom: '2003', feature: 'forward_cfu' });
    expect(by('2005')).toMatchObject({ forwardedFrom: '2004', feature: 'forward_cfu', disposition: 'answered' });
    expect(new Set(rows.map((r) => r.linkedId)).size).toBe(1);
  }, 30_000);

  it('stops a loop at the last reachable hop', async () => {
    const { h, phone } = await start({
      '2002': { forwarding: { unconditional: '2003' } },
      '2003': { forwarding: { unconditional: '2002' } },
    });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const outgoing = await alice.dial('2002');
    await answerAndTalk(outgoing, carol, 170);
    expect(bob.calls.size).toBe(0);
    expect(h.logs.some((l) => l.msg === 'forwarding stops: loop')).toBe(true);
  }, 30_000);

  it('ends a no-answer loop at the last hop: the caller gets no answer', async () => {
    const { phone } = await start({
      '2002': { forwarding: { noAnswer: '2003', noAnswerTimeout: 1 } },
      '2003': { forwarding: { noAnswer: '2002', noAnswerTimeout: 1 } },
    });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const outgoing = await alice.dial('2002');
    (await bob.waitForCall()).ring();
    (await carol.waitForCall({ timeoutMs: 5000 })).ring();
    const err = await outgoing.answered.then(
      () => undefined,
      (e: unknown) => e as { status: number },
    );
    expect(err?.status).toBe(480);
  }, 30_000);
});
