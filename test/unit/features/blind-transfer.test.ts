// F-XFER-BLIND in the call core, on the fake clock: #8 + target + # from the keypad (or the entry's silence
// timeout), REFER from a transfer key, recall to the transferor when the target is busy or does not answer
// within calls.transferRingTimeout, an unknown target returning to the call, a transfer to the park lot.
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

describe('blind transfer', () => {
  it('#8 + target + # sends the other party to the target; the transferor leaves at once; CDR transfer_blind', async () => {
    const { carol, aliceCall, bobCall } = await connected();
    bobCall.press('#82003#');
    await h.settle();
    expect(bobCall.ended).toMatchObject({ by: 'remote' });
    const atCarol = carol.takeCall();
    expect(atCarol.from).toContain('sip:2001@');
    const moh = h.media.nowPlaying(aliceCall.endpoint);
    expect(moh).toMatchObject({ loop: true });
    const carolCall = atCarol.answer();
    await h.settle();
    expect(moh?.state).toBe('stopped');
    expect(h.media.bridged(aliceCall.endpoint, carolCall.endpoint)).toBe(true);
    expect(h.media.heard(aliceCall.endpoint)).toBe('');
    carolCall.hangup();
    await h.settle();
    expect(h.cdr()).toMatchObject({ feature: 'transfer_blind', transferredBy: '2002', callerNumber: '2001', calleeNumber: '2003', disposition: 'answered', hangupBy: 'callee' });
  });

  it('the entry ends after dtmf.transferDigitTimeout of silence without the confirm key', async () => {
    const { carol, bobCall } = await connected();
    bobCall.press('#82003');
    await h.advance(3999);
    expect(carol.incoming).toHaveLength(0);
    expect(bobCall.ended).toBeUndefined();
    await h.advance(1);
    expect(carol.incoming).toHaveLength(1);
  });

  it('recalls the transferor when the target is busy', async () => {
    const { bob, carol, aliceCall, bobCall } = await connected();
    bobCall.press('#82003#');
    await h.settle();
    carol.takeCall().reject(486);
    await h.settle();
    const recall = bob.takeCall();
    expect(recall.from).toContain('sip:2001@');
    const again = recall.answer();
    await h.settle();
    expect(h.media.bridged(aliceCall.endpoint, again.endpoint)).toBe(true);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toBeUndefined();
  });

  it('recalls the transferor when the target does not answer within calls.transferRingTimeout', async () => {
    const { bob, carol, bobCall } = await connected();
    bobCall.press('#82003#');
    await h.settle();
    const atCarol = carol.takeCall();
    atCarol.ring();
    await h.advance(9999);
    expect(bob.incoming).toHaveLength(0);
    await h.advance(1);
    expect(atCarol.cancelled).toBe(true);
    expect(bob.incoming).toHaveLength(1);
  });

  it('returns to the call with "not available" when the target reaches nothing', async () => {
    const { aliceCall, bobCall } = await connected();
    bobCall.press('#82999#');
    await h.settle();
    const prompt = h.media.nowPlaying(bobCall.endpoint)!;
    expect(prompt.files.map(baseName)).toEqual(['not-available.wav']);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toMatchObject({ loop: true });
    await h.advance(h.media.playLength(prompt.files));
    expect(bobCall.ended).toBeUndefined();
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(true);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toBeUndefined();
  });

  it('transfers on REFER (RFC 3515): 202, NOTIFY 100 then 200, the transferor released, the target connected', async () => {
    const { carol, aliceCall, bobCall } = await connected();
    const accepted = bobCall.refer('2003');
    await h.settle();
    expect((await accepted).status).toBe(202);
    expect(bobCall.notifies).toEqual([expect.stringMatching(/^SIP\/2\.0 100 Trying/)]);
    expect(bobCall.ended).toBeUndefined();
    const carolCall = carol.takeCall().answer();
    await h.settle();
    expect(bobCall.notifies[1]).toMatch(/^SIP\/2\.0 200/);
    expect(bobCall.ended).toMatchObject({ by: 'remote' });
    expect(h.media.bridged(aliceCall.endpoint, carolCall.endpoint)).toBe(true);
  });

  it('a transferor whose phone hangs up right after the REFER is accepted does not end the transfer', async () => {
    const { carol, aliceCall, bobCall } = await connected();
    const accepted = bobCall.refer('2003');
    await h.settle();
    expect((await accepted).status).toBe(202);
    bobCall.hangup();
    await h.settle();
    expect(aliceCall.ended).toBeUndefined();
    const carolCall = carol.takeCall().answer();
    await h.settle();
    expect(h.media.bridged(aliceCall.endpoint, carolCall.endpoint)).toBe(true);
    expect(h.active).toHaveLength(1);
  });

  it('parks the call on a transfer to the park lot number', async () => {
    const { aliceCall, bobCall } = await connected();
    bobCall.press('#89000#');
    await h.settle();
    expect(h.park.list()).toEqual([expect.objectContaining({ slot: '9001', party: '2001', parkedBy: '2002' })]);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toMatchObject({ loop: true });
  });

  it('the other party hanging up while the target rings ends the call and cancels the target', async () => {
    const { carol, aliceCall, bobCall } = await connected();
    bobCall.press('#82003#');
    await h.settle();
    const atCarol = carol.takeCall();
    atCarol.ring();
    await h.settle();
    aliceCall.hangup();
    await h.settle();
    expect(atCarol.cancelled).toBe(true);
    expect(h.active).toHaveLength(0);
    expect(h.cdr()).toMatchObject({ feature: 'transfer_blind', hangupBy: 'caller' });
    expect(h.media.liveCount).toBe(0);
  });
});

describe('blind transfer races', () => {
  it("the other party hanging up while the target's leg is being set up: the target never rings", async () => {
    const { carol, aliceCall, bobCall } = await connected();
    const release = h.media.holdEndpoints();
    bobCall.press('#82003#');
    await h.settle();
    aliceCall.hangup();
    await h.settle();
    expect(h.active).toHaveLength(0);
    release();
    await h.settle();
    expect(carol.incoming).toHaveLength(0);
    expect(h.media.liveCount).toBe(0);
  });
});
