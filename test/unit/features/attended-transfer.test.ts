// F-XFER-ATTENDED in the call core: #9 + target + # holds the other party (music) and consults the target;
// the transferor hanging up completes the transfer (also while the target still rings: blonde), #9 again goes
// back to the held party, the held party hanging up leaves an ordinary call, a failed target returns to the
// held party; and a phone's own attended transfer (REFER with Replaces) joins its two calls.
import { afterEach, describe, expect, it } from 'vitest';
import { CoreHarness } from '../../support/core-harness.js';
import type { Phone, PhoneCall } from '../../support/core-phone.js';

let h: CoreHarness;
afterEach(() => h?.stop());

async function connected(): Promise<{ bob: Phone; carol: Phone; aliceCall: PhoneCall; bobCall: PhoneCall }> {
  h = await CoreHarness.start({ config: { calls: { transferRingTimeout: 10 } } });
  const alice = await h.phone('2001');
  const bob = await h.phone('2002');
  const carol = await h.phone('2003');
  const out = alice.dial('2002');
  await h.settle();
  const bobCall = bob.takeCall().answer();
  await h.settle();
  return { bob, carol, aliceCall: out.call!, bobCall };
}

const baseName = (f: string) => f.replace(/^.*[/\\]/, '');

/** Bob types #9 2003 # and Carol answers the consultation. */
async function consulting(bobCall: PhoneCall, carol: Phone): Promise<PhoneCall> {
  bobCall.press('#92003#');
  await h.settle();
  const carolCall = carol.takeCall().answer();
  await h.settle();
  return carolCall;
}

describe('attended transfer', () => {
  it('consults the target while the other party hears music; the transferor hanging up connects them', async () => {
    const { carol, aliceCall, bobCall } = await connected();
    bobCall.press('#92003#');
    await h.settle();
    expect(h.media.nowPlaying(aliceCall.endpoint)).toMatchObject({ loop: true });
    expect(h.media.nowPlaying(bobCall.endpoint)?.files.map(baseName)).toEqual(['ringback.wav']);
    const atCarol = carol.takeCall();
    expect(atCarol.from).toContain('sip:2002@');
    const carolCall = atCarol.answer();
    await h.settle();
    expect(h.media.bridged(bobCall.endpoint, carolCall.endpoint)).toBe(true);
    expect(h.media.nowPlaying(bobCall.endpoint)).toBeUndefined();
    expect(h.media.nowPlaying(aliceCall.endpoint)).toMatchObject({ loop: true });

    bobCall.hangup();
    await h.settle();
    expect(h.media.bridged(aliceCall.endpoint, carolCall.endpoint)).toBe(true);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toBeUndefined();
    carolCall.hangup();
    await h.settle();
    expect(aliceCall.ended).toMatchObject({ by: 'remote' });
    expect(h.cdr()).toMatchObject({ feature: 'transfer_attended', transferredBy: '2002', callerNumber: '2001', calleeNumber: '2003', disposition: 'answered' });
    expect(h.media.liveCount).toBe(0);
  });

  it('#9 again drops the consultation and returns to the held party', async () => {
    const { carol, aliceCall, bobCall } = await connected();
    const carolCall = await consulting(bobCall, carol);
    bobCall.press('#9');
    await h.settle();
    expect(carolCall.ended).toMatchObject({ by: 'remote' });
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(true);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toBeUndefined();
  });

  it('#9 while the target rings cancels it and returns to the held party', async () => {
    const { carol, aliceCall, bobCall } = await connected();
    bobCall.press('#92003#');
    await h.settle();
    const atCarol = carol.takeCall();
    atCarol.ring();
    await h.settle();
    bobCall.press('#9');
    await h.settle();
    expect(atCarol.cancelled).toBe(true);
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(true);
  });

  it('connects the held party on answer when the transferor hangs up while the target rings (blonde)', async () => {
    const { carol, aliceCall, bobCall } = await connected();
    bobCall.press('#92003#');
    await h.settle();
    const atCarol = carol.takeCall();
    atCarol.ring();
    await h.settle();
    bobCall.hangup();
    await h.settle();
    expect(h.media.nowPlaying(aliceCall.endpoint)?.files.map(baseName)).toEqual(['ringback.wav']);
    const carolCall = atCarol.answer();
    await h.settle();
    expect(h.media.bridged(aliceCall.endpoint, carolCall.endpoint)).toBe(true);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toBeUndefined();
  });

  it('recalls the transferor when it left and the target then failed', async () => {
    const { bob, carol, aliceCall, bobCall } = await connected();
    bobCall.press('#92003#');
    await h.settle();
    const atCarol = carol.takeCall();
    atCarol.ring();
    await h.settle();
    bobCall.hangup();
    await h.settle();
    atCarol.reject(486);
    await h.settle();
    const recall = bob.takeCall().answer();
    await h.settle();
    expect(h.media.bridged(aliceCall.endpoint, recall.endpoint)).toBe(true);
  });

  it('keeps the consultation as an ordinary call when the held party hangs up', async () => {
    const { carol, aliceCall, bobCall } = await connected();
    const carolCall = await consulting(bobCall, carol);
    aliceCall.hangup();
    await h.settle();
    expect(bobCall.ended).toBeUndefined();
    expect(carolCall.ended).toBeUndefined();
    expect(h.media.bridged(bobCall.endpoint, carolCall.endpoint)).toBe(true);
    carolCall.hangup();
    await h.settle();
    expect(bobCall.ended).toMatchObject({ by: 'remote' });
    expect(h.active).toHaveLength(0);
  });

  it('returns to the held party with "transfer failed" when the target is busy', async () => {
    const { carol, aliceCall, bobCall } = await connected();
    bobCall.press('#92003#');
    await h.settle();
    carol.takeCall().reject(486);
    await h.settle();
    const prompt = h.media.nowPlaying(bobCall.endpoint)!;
    expect(prompt.files.map(baseName)).toEqual(['transfer-failed.wav']);
    await h.advance(h.media.playLength(prompt.files));
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(true);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toBeUndefined();
  });

  it('an RTP timeout during the consultation ends the whole call, the target included', async () => {
    const { carol, aliceCall, bobCall } = await connected();
    const carolCall = await consulting(bobCall, carol);
    h.media.rtpTimeout(aliceCall.endpoint);
    await h.settle();
    for (const c of [aliceCall, bobCall, carolCall]) expect(c.ended?.reason).toMatch(/cause=41/);
    expect(h.active).toHaveLength(0);
    expect(h.media.liveCount).toBe(0);
  });

  it('the target hanging up during the consultation returns the transferor to the held party', async () => {
    const { carol, aliceCall, bobCall } = await connected();
    const carolCall = await consulting(bobCall, carol);
    carolCall.hangup();
    await h.settle();
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(true);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toBeUndefined();
  });

  it("joins the two calls on a phone's attended transfer (REFER with Replaces, RFC 3891)", async () => {
    const { bob, carol, aliceCall, bobCall } = await connected();
    // Bob holds Alice and calls Carol through hibiki, as a phone does before its transfer key.
    void bobCall.hold();
    const toCarol = bob.dial('2003');
    await h.settle();
    const carolCall = carol.takeCall().answer();
    await h.settle();
    const d = toCarol.call!.dialog;
    const replaces = encodeURIComponent(`${d.callId};to-tag=${d.remoteTag};from-tag=${d.localTag}`);
    const accepted = bobCall.refer(`<sip:2003@hibiki.test?Replaces=${replaces}>`);
    await h.settle();
    expect((await accepted).status).toBe(202);
    expect(bobCall.notifies.some((b) => b.startsWith('SIP/2.0 200'))).toBe(true);
    expect(bobCall.ended).toMatchObject({ by: 'remote' });
    expect(toCarol.call!.ended).toMatchObject({ by: 'remote' });
    expect(h.media.bridged(aliceCall.endpoint, carolCall.endpoint)).toBe(true);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toBeUndefined();
    carolCall.hangup();
    await h.settle();
    expect(aliceCall.ended).toMatchObject({ by: 'remote' });
    expect(h.cdrs).toHaveLength(2);
    expect(h.cdrs.find((r) => r.feature === 'transfer_attended')).toMatchObject({ callerNumber: '2001', calleeNumber: '2003', transferredBy: '2002' });
    expect(h.media.liveCount).toBe(0);
  });
});
