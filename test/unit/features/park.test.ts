// F-PARK in the call core, on the fake clock: #72 parks the other party (music on hold) and announces the
// slot to the parker, whose leg ends when the announcement has played; dialling the slot retrieves the call;
// an empty slot is a prompt and 404; a full lot leaves the call as it was; park.timeout rings the parker
// back, and park.comebackTimeout moves the call on to park.timeoutDestination or ends it.
import { afterEach, describe, expect, it } from 'vitest';
import { CoreHarness, type HarnessOptions } from '../../support/core-harness.js';
import type { Phone, PhoneCall } from '../../support/core-phone.js';

let h: CoreHarness;
afterEach(() => h?.stop());

/** Alice calls Bob, Bob answers: both ends of the answered call. */
async function connected(opts?: HarnessOptions): Promise<{ alice: Phone; bob: Phone; carol: Phone; aliceCall: PhoneCall; bobCall: PhoneCall }> {
  h = await CoreHarness.start(opts);
  const alice = await h.phone('2001');
  const bob = await h.phone('2002');
  const carol = await h.phone('2003');
  const out = alice.dial('2002');
  await h.settle();
  const bobCall = bob.takeCall().answer();
  await h.settle();
  return { alice, bob, carol, aliceCall: out.call!, bobCall };
}

/** Bob parks Alice with #72 and the announcement plays to its end: the slot announced and its length. */
async function parkedByBob(bobCall: PhoneCall): Promise<{ files: string[]; length: number }> {
  bobCall.press('#72');
  await h.settle();
  const announcement = h.media.nowPlaying(bobCall.endpoint);
  if (!announcement) throw new Error('no announcement to the parker');
  const length = h.media.playLength(announcement.files);
  await h.advance(length);
  return { files: announcement.files, length };
}

describe('call park', () => {
  it('#72 parks the other party, announces the slot, drops the parker after the announcement; dialling the slot retrieves the call', async () => {
    const { carol, aliceCall, bobCall } = await connected();
    bobCall.press('#72');
    await h.settle();
    expect(h.park.list()).toEqual([{ slot: '9001', party: '2001', parkedBy: '2002', since: h.clock.now() }]);
    const announcement = h.media.nowPlaying(bobCall.endpoint)!;
    expect(announcement.files.map((f) => f.replace(/^.*[/\\]/, ''))).toEqual(['parked-at.wav', '9.wav', '0.wav', '0.wav', '1.wav']);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toMatchObject({ loop: true });
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(false);
    // None of the code's digits reached Alice.
    expect(h.media.heard(aliceCall.endpoint)).toBe('');

    const length = h.media.playLength(announcement.files);
    await h.advance(length - 1);
    expect(bobCall.ended).toBeUndefined();
    await h.advance(1);
    expect(bobCall.ended).toMatchObject({ by: 'remote' });
    expect(aliceCall.ended).toBeUndefined();

    const retrieval = carol.dial('9001');
    await h.settle();
    const carolCall = retrieval.call!;
    expect(h.park.list()).toEqual([]);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toBeUndefined();
    expect(h.media.bridged(aliceCall.endpoint, carolCall.endpoint)).toBe(true);
    carolCall.hangup();
    await h.settle();
    expect(aliceCall.ended).toMatchObject({ by: 'remote' });
    // The retriever's own call joined the parked one: one row for the whole call.
    expect(h.cdr()).toMatchObject({ feature: 'park', callerNumber: '2001', calleeNumber: '2003', answeredBy: '2003', disposition: 'answered', hangupBy: 'callee' });
    expect(h.media.liveCount).toBe(0);
  });

  it('an empty slot answers with a prompt as early media, then 404; CDR park_empty', async () => {
    h = await CoreHarness.start();
    const carol = await h.phone('2003');
    const out = carol.dial('9005');
    await h.settle();
    expect(out.provisional).toContain(183);
    const prompt = h.media.nowPlaying(out.earlyEndpoint!)!;
    expect(prompt.files[0]).toMatch(/park-empty\.wav$/);
    await h.advance(h.media.playLength(prompt.files));
    expect(out.status).toBe(404);
    expect(h.cdr()).toMatchObject({ feature: 'park_empty', q850Cause: 1, dialedNumber: '9005' });
  });

  it('a parked party hanging up empties its slot and ends the call', async () => {
    const { aliceCall, bobCall } = await connected();
    await parkedByBob(bobCall);
    aliceCall.hangup();
    await h.settle();
    expect(h.park.list()).toEqual([]);
    expect(h.cdr()).toMatchObject({ feature: 'park', hangupBy: 'caller' });
    expect(h.clock.pending).toBeGreaterThanOrEqual(0);
    // The comeback timer went with the slot: nothing rings later.
    await h.advance(600_000);
    expect(h.active).toHaveLength(0);
  });

  it('leaves the call as it was when the lot is full: the parker hears the error, then both talk again', async () => {
    const { aliceCall, bobCall } = await connected({ config: { park: { slots: [9001, 9001] } } });
    const dave = await h.phone('2004');
    const eve = await h.phone('2005');
    await parkedByBob(bobCall);
    const out = dave.dial('2005');
    await h.settle();
    const eveCall = eve.takeCall().answer();
    await h.settle();
    const daveCall = out.call!;
    eveCall.press('#72');
    await h.settle();
    const error = h.media.nowPlaying(eveCall.endpoint)!;
    expect(error.files[0]).toMatch(/park-full\.wav$/);
    await h.advance(h.media.playLength(error.files));
    expect(eveCall.ended).toBeUndefined();
    expect(h.media.bridged(daveCall.endpoint, eveCall.endpoint)).toBe(true);
    expect(h.park.list().map((p) => p.party)).toEqual(['2001']);
    void aliceCall;
  });

  it('rings the parker back after park.timeout and connects the parked party when it answers', async () => {
    const { bob, aliceCall, bobCall } = await connected({ config: { park: { timeout: 30, comebackTimeout: 10 } } });
    const { length } = await parkedByBob(bobCall);
    await h.advance(30_000 - length - 1);
    expect(bob.incoming).toHaveLength(0);
    await h.advance(1);
    const comeback = bob.takeCall();
    expect(comeback.from).toContain('sip:2001@');
    // Still parked while the parker's phone rings: anyone may retrieve it meanwhile.
    expect(h.park.list().map((p) => p.slot)).toEqual(['9001']);
    const again = comeback.answer();
    await h.settle();
    expect(h.park.list()).toEqual([]);
    expect(h.media.bridged(aliceCall.endpoint, again.endpoint)).toBe(true);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toBeUndefined();
  });

  it('a call retrieved while its comeback rings stops the ringing at the parker', async () => {
    const { bob, carol, aliceCall, bobCall } = await connected({ config: { park: { timeout: 30, comebackTimeout: 10 } } });
    const { length } = await parkedByBob(bobCall);
    await h.advance(30_000 - length);
    const comeback = bob.takeCall();
    comeback.ring();
    await h.settle();
    const retrieval = carol.dial('9001');
    await h.settle();
    expect(h.media.bridged(aliceCall.endpoint, retrieval.call!.endpoint)).toBe(true);
    expect(comeback.cancelled).toBe(true);
  });

  it('after park.comebackTimeout unanswered, the call goes to park.timeoutDestination', async () => {
    const { bob, carol, aliceCall, bobCall } = await connected({ config: { park: { timeout: 30, comebackTimeout: 10, timeoutDestination: '2003' } } });
    const { length } = await parkedByBob(bobCall);
    await h.advance(30_000 - length);
    const comeback = bob.takeCall();
    comeback.ring();
    await h.advance(9_999);
    expect(carol.incoming).toHaveLength(0);
    await h.advance(1);
    expect(comeback.cancelled).toBe(true);
    // The parked party hears music while the destination rings.
    expect(h.media.nowPlaying(aliceCall.endpoint)).toMatchObject({ loop: true });
    const operator = carol.takeCall().answer();
    await h.settle();
    expect(h.media.bridged(aliceCall.endpoint, operator.endpoint)).toBe(true);
  });

  it('without park.timeoutDestination, an unanswered comeback ends the call with cause 19', async () => {
    const { bob, aliceCall, bobCall } = await connected({ config: { park: { timeout: 30, comebackTimeout: 10 } } });
    const { length } = await parkedByBob(bobCall);
    await h.advance(30_000 - length);
    bob.takeCall().ring();
    await h.advance(10_000);
    expect(aliceCall.ended?.reason).toMatch(/cause=19/);
    expect(h.cdr()).toMatchObject({ feature: 'park', q850Cause: 19, hangupBy: 'system' });
    expect(h.media.liveCount).toBe(0);
  });
});

describe('call park when the parked party vanishes', () => {
  it('a parked party whose RTP stops ends the call (cause 41) and frees its slot; no comeback rings later', async () => {
    const { bob, aliceCall, bobCall } = await connected({ config: { park: { timeout: 30, comebackTimeout: 10 } } });
    await parkedByBob(bobCall);
    h.media.rtpTimeout(aliceCall.endpoint);
    await h.settle();
    expect(aliceCall.ended?.reason).toMatch(/cause=41/);
    expect(h.cdr()).toMatchObject({ feature: 'park', q850Cause: 41, hangupBy: 'system' });
    expect(h.park.list()).toEqual([]);
    await h.advance(60_000);
    expect(bob.incoming).toHaveLength(0);
  });
});
