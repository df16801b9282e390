// F-XFER-ATTENDED end to end with real RTP: #9 + target + # starts a consultation while the other
// party hears music on hold; the transferor hanging up completes the transfer (also while the target
// still rings: blonde), #9 again aborts it, and the held party hanging up leaves an ordinary call.
import { describe, expect, it } from 'vitest';
import type { RunningHibiki } from '../support/hibiki.js';
import { connect, talking, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import type { Call, TestUA } from '../support/test-ua.js';

const session = hibikiSession();

async function setup(): Promise<{ h: RunningHibiki; bob: TestUA; carol: TestUA; aliceCall: Call; bobCall: Call }> {
  const { h, phone } = await session.start({ config: { calls: { transferRingTimeout: 10 } } });
  const alice = await phone('2001');
  const bob = await phone('2002');
  const carol = await phone('2003');
  const { caller: aliceCall, callee: bobCall } = await connect(alice, bob, '2002');
  return { h, bob, carol, aliceCall, bobCall };
}

async function hearsMusic(c: Call): Promise<void> {
  const before = c.rtp.received().tone.foreign;
  await waitUntil(() => c.rtp.received().tone.foreign > before + 20, 5000);
}

describe('attended transfer', () => {
  it('consults the target while the other party hears music, and completes when the transferor hangs up', async () => {
    const { h, carol, aliceCall, bobCall } = await setup();
    const carolRings = carol.waitForCall({ timeoutMs: 8000 });
    await bobCall.sendDtmf('#92003#', { method: 'rfc4733' });
    const carolCall = await (await carolRings).answer();
    await hearsMusic(aliceCall);
    await talking(bobCall, carolCall, 1, 2);
    // Alice heard none of the consultation.
    expect(aliceCall.rtp.received().tone.seeds.has(2)).toBe(false);
    await bobCall.hangup();
    await talking(aliceCall, carolCall, 3, 4);
    await carolCall.hangup();
    await aliceCall.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ feature: 'transfer_attended', transferredBy: '2002', calleeNumber: '2003' });
  });

  it('#9 again drops the consultation and returns to the held party', async () => {
    const { carol, aliceCall, bobCall } = await setup();
    const carolRings = carol.waitForCall({ timeoutMs: 8000 });
    await bobCall.sendDtmf('#92003#', { method: 'rfc4733' });
    const carolCall = await (await carolRings).answer();
    await talking(bobCall, carolCall, 5, 6);
    await bobCall.sendDtmf('#9', { method: 'rfc4733' });
    await carolCall.waitForEnd(5000);
    await talking(aliceCall, bobCall, 7, 8);
  });

  it('connects the held party on answer when the transferor hangs up while the target rings (blonde)', async () => {
    const { carol, aliceCall, bobCall } = await setup();
    const carolRings = carol.waitForCall({ timeoutMs: 8000 });
    await bobCall.sendDtmf('#92003#', { method: 'rfc4733' });
    const incoming = await carolRings;
    incoming.ring();
    await bobCall.hangup();
    await hearsMusic(aliceCall);
    const carolCall = await incoming.answer();
    await talking(aliceCall, carolCall, 9, 10);
  });

  it('keeps the consultation as an ordinary call when the held party hangs up', async () => {
    const { carol, aliceCall, bobCall } = await setup();
    const carolRings = carol.waitForCall({ timeoutMs: 8000 });
    await bobCall.sendDtmf('#92003#', { method: 'rfc4733' });
    const carolCall = await (await carolRings).answer();
    await talking(bobCall, carolCall, 11, 12);
    await aliceCall.hangup();
    await new Promise((r) => setTimeout(r, 500));
    expect(bobCall.ended).toBeUndefined();
    await talking(bobCall, carolCall, 13, 14);
  });

  it("joins the two calls on a phone's attended transfer (REFER with Replaces, RFC 3891)", async () => {
    const { h, bob, carol, aliceCall, bobCall } = await setup();
    // Bob holds Alice and calls Carol through hibiki, as a phone does before its transfer key.
    await bobCall.hold();
    const carolRings = carol.waitForCall();
    const toCarol = await bob.dial('2003');
    const carolCall = await (await carolRings).answer();
    const bobToCarol = await toCarol.answered;
    const notifies: string[] = [];
    bobCall.dialog.on('notify', (req, res) => {
      notifies.push(req.body.toString());
      res.send(200);
    });
    const d = bobToCarol.dialog;
    const replaces = encodeURIComponent(`${d.callId};to-tag=${d.remoteTag};from-tag=${d.localTag}`);
    const accepted = await bobCall.dialog.request({ method: 'REFER', headers: { 'refer-to': `<sip:2003@hibiki.test?Replaces=${replaces}>` } });
    expect(accepted.status).toBe(202);
    await waitUntil(() => notifies.some((b) => b.startsWith('SIP/2.0 200')), 5000);
    await bobCall.waitForEnd(5000);
    await bobToCarol.waitForEnd(5000);
    await talking(aliceCall, carolCall, 15, 16);
    await carolCall.hangup();
    await aliceCall.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).length === 2, 3000);
    expect(h.server.cdr.query({}).find((r) => r.feature === 'transfer_attended')).toMatchObject({ callerNumber: '2001', calleeNumber: '2003', transferredBy: '2002' });
  });

  it("joins on REFER/Replaces whose Refer-To is the dialog's remote target without a user part (as SIP.js sends it)", async () => {
    const { bob, carol, aliceCall, bobCall } = await setup();
    await bobCall.hold();
    const carolRings = carol.waitForCall();
    const toCarol = await bob.dial('2003');
    const carolCall = await (await carolRings).answer();
    const bobToCarol = await toCarol.answered;
    bobCall.dialog.on('notify', (_req, res) => res.send(200));
    const d = bobToCarol.dialog;
    // hibiki's Contact for the second call: sip:host:port, no user part.
    const target = d.remoteTarget.replace(/^<|>$/g, '');
    expect(target).not.toMatch(/^sips?:[^@]+@/);
    const replaces = encodeURIComponent(`${d.callId};to-tag=${d.remoteTag};from-tag=${d.localTag}`);
    const accepted = await bobCall.dialog.request({ method: 'REFER', headers: { 'refer-to': `<${target}?Replaces=${replaces}>` } });
    expect(accepted.status).toBe(202);
    await bobCall.waitForEnd(5000);
    await talking(aliceCall, carolCall, 17, 18);
  });
});
