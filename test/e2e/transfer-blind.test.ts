// F-XFER-BLIND end to end with real RTP: #8 + target + # from the keypad, REFER from a transfer key,
// recall to the transferor when the target is busy, and an unknown target returning to the call.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunningHibiki } from '../support/hibiki.js';
import { connect, talking, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import type { Call, TestUA } from '../support/test-ua.js';
import { shortPromptsDir } from '../support/short-prompts.js';

const session = hibikiSession();
// The unknown target's error prompt is waited out before the parties talk again; the test checks that it
// arrives (more than 10 packets), not what it says: 600 ms (30 packets) of it instead of some 4 s.
const PROMPTS_DIR = shortPromptsDir(['not-available'], 600);
afterAll(() => rmSync(PROMPTS_DIR, { recursive: true, force: true }));

async function setup(): Promise<{ h: RunningHibiki; alice: TestUA; bob: TestUA; carol: TestUA; aliceCall: Call; bobCall: Call }> {
  const { h, phone } = await session.start({ config: { calls: { transferRingTimeout: 5 }, prompts: { dir: PROMPTS_DIR } } });
  const alice = await phone('2001');
  const bob = await phone('2002');
  const carol = await phone('2003');
  const { caller: aliceCall, callee: bobCall } = await connect(alice, bob, '2002');
  return { h, alice, bob, carol, aliceCall, bobCall };
}

describe('blind transfer', () => {
  it('#8 + target + # sends the other party to the target; the transferor leaves; CDR says transfer_blind', async () => {
    const { h, carol, aliceCall, bobCall } = await setup();
    const carolRings = carol.waitForCall({ timeoutMs: 8000 });
    await bobCall.sendDtmf('#82003#', { method: 'rfc4733' });
    // Bob leaves at once; Alice hears music on hold (audio that is not Bob's tone) while Carol rings.
    await bobCall.waitForEnd(5000);
    const incoming = await carolRings;
    expect(incoming.from).toContain('2001');
    const before = aliceCall.rtp.received().tone.foreign;
    await waitUntil(() => aliceCall.rtp.received().tone.foreign > before + 10, 5000);
    const carolCall = await incoming.answer();
    await talking(aliceCall, carolCall, 51, 53);
    // None of Bob's transfer digits reached Alice.
    expect(aliceCall.rtp.received().digits()).toBe('');
    await carolCall.hangup();
    await aliceCall.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ feature: 'transfer_blind', transferredBy: '2002', callerNumber: '2001', calleeNumber: '2003', disposition: 'answered' });
  });

  it('recalls the transferor when the target is busy (codes typed as SIP INFO)', async () => {
    const { bob, carol, aliceCall, bobCall } = await setup();
    const carolRings = carol.waitForCall({ timeoutMs: 8000 });
    await bobCall.sendDtmf('#82003#', { method: 'info' });
    await bobCall.waitForEnd(5000);
    const bobRecalled = bob.waitForCall({ timeoutMs: 8000 });
    (await carolRings).reject(486);
    const recall = await (await bobRecalled).answer();
    await talking(aliceCall, recall, 61, 62);
  });

  it('returns to the call with an error prompt when the target does not exist', async () => {
    const { aliceCall, bobCall } = await setup();
    await bobCall.sendDtmf('#82999#', { method: 'rfc4733' });
    // Bob hears the prompt (audio that is not Alice's tone), then talks to Alice again: he hears her only
    // once the prompt has ended, so the check that his call was not ended comes after the prompt.
    const before = bobCall.rtp.received().tone.foreign;
    await waitUntil(() => bobCall.rtp.received().tone.foreign > before + 10, 5000);
    await talking(aliceCall, bobCall, 71, 72);
    expect(bobCall.ended).toBeUndefined();
  });

  it('transfers on REFER (RFC 3515): 202, NOTIFY progress with sipfrag, the target connected to the other party', async () => {
    const { carol, aliceCall, bobCall } = await setup();
    const notifies: string[] = [];
    bobCall.dialog.on('notify', (req, res) => {
      notifies.push(req.body.toString());
      res.send(200);
    });
    const carolRings = carol.waitForCall({ timeoutMs: 8000 });
    const accepted = await bobCall.dialog.request({ method: 'REFER', headers: { 'refer-to': '<sip:2003@hibiki.test>', 'referred-by': '<sip:2002@hibiki.test>' } });
    expect(accepted.status).toBe(202);
    const carolCall = await (await carolRings).answer();
    await waitUntil(() => notifies.some((b) => b.startsWith('SIP/2.0 200')), 10_000);
    expect(notifies[0]).toMatch(/^SIP\/2\.0 100 Trying/);
    await bobCall.waitForEnd(10_000);
    await talking(aliceCall, carolCall, 81, 82);
  });

  it('ends the call when the transfer cannot get a media endpoint, instead of leaving it on hold (issue #14)', async () => {
    const { h, aliceCall, bobCall } = await setup();
    const notifies: string[] = [];
    bobCall.dialog.on('notify', (req, res) => {
      notifies.push(req.body.toString());
      res.send(200);
    });
    // No media engine any more: every new leg fails to get its endpoint (503 / cause 47).
    await h.server.media.stop();
    const accepted = await bobCall.dialog.request({ method: 'REFER', headers: { 'refer-to': '<sip:2003@hibiki.test>' } });
    expect(accepted.status).toBe(202);
    // The target fails, and so does the recall of the transferor: the call ends rather than hanging.
    const end = await aliceCall.waitForEnd(10_000);
    expect(end.reason).toMatch(/cause=47/);
    await bobCall.waitForEnd(10_000);
    expect(notifies.some((b) => b.startsWith('SIP/2.0 503'))).toBe(true);
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ feature: 'transfer_blind', q850Cause: 47 });
  });
});
