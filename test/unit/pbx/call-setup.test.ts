// Call set-up in the call core, on the fake clock: ringing relayed, answer, bridge, hang-up and the CDR row;
// forking to every device of the callee; no answer; busy; not registered; unknown numbers; no common codec.
import { afterEach, describe, expect, it } from 'vitest';
import { CoreHarness, type HarnessOptions } from '../../support/core-harness.js';

let h: CoreHarness;
async function start(opts?: HarnessOptions): Promise<CoreHarness> {
  h = await CoreHarness.start(opts);
  return h;
}
afterEach(() => h?.stop());

describe('call set-up', () => {
  it('relays the ringing, connects on answer, bridges the media and writes the CDR row on hang-up', async () => {
    await start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const out = alice.dial('2002');
    await h.settle();
    const atBob = bob.takeCall();
    expect(atBob.from).toContain('"Alice" <sip:2001@hibiki.test>');
    expect(out.provisional).not.toContain(180);
    atBob.ring();
    await h.settle();
    expect(out.provisional).toContain(180);

    await h.advance(3000);
    const bobCall = atBob.answer();
    await h.settle();
    const aliceCall = out.call!;
    expect(out.status).toBe(200);
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(true);

    await h.advance(42_000);
    bobCall.hangup();
    await h.settle();
    expect(aliceCall.ended).toMatchObject({ by: 'remote' });
    expect(aliceCall.ended?.reason).toMatch(/Q\.850;cause=16/);
    expect(h.active).toHaveLength(0);
    expect(h.media.liveCount).toBe(0);
    expect(h.cdr()).toMatchObject({
      direction: 'internal',
      disposition: 'answered',
      callerNumber: '2001',
      callerName: 'Alice',
      dialedNumber: '2002',
      calleeNumber: '2002',
      answeredBy: '2002',
      hangupBy: 'callee',
      q850Cause: 16,
      sipStatus: 200,
      feature: 'none',
      duration: 45,
      billsec: 42,
    });
  });

  it('rings every device of the callee; the first to answer wins and the other gets CANCEL', async () => {
    await start();
    const alice = await h.phone('2001');
    const desk = await h.phone('2002');
    const soft = await h.phone('2002');
    const out = alice.dial('2002');
    await h.settle();
    const atDesk = desk.takeCall();
    const atSoft = soft.takeCall();
    atDesk.ring();
    atSoft.ring();
    await h.settle();
    const softCall = atSoft.answer();
    await h.settle();
    expect(atDesk.cancelled).toBe(true);
    expect(atSoft.cancelled).toBe(false);
    expect(h.media.bridged(out.call!.endpoint, softCall.endpoint)).toBe(true);
    out.call!.hangup();
    await h.settle();
    expect(softCall.ended).toMatchObject({ by: 'remote' });
    expect(h.cdr()).toMatchObject({ disposition: 'answered', hangupBy: 'caller', answeredBy: '2002' });
  });

  it('gives up after the ring timeout: 480 / cause 19 to the caller, CANCEL to the callee, CDR no_answer', async () => {
    await start({ extensions: [{ number: '2002', ringTimeout: 5 }] });
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const out = alice.dial('2002');
    await h.settle();
    const atBob = bob.takeCall();
    atBob.ring();
    await h.advance(4999);
    expect(out.status).toBeUndefined();
    expect(atBob.cancelled).toBe(false);
    await h.advance(1);
    expect(out.status).toBe(480);
    expect(out.reason).toMatch(/Q\.850;cause=19/);
    expect(atBob.cancelled).toBe(true);
    expect(h.cdr()).toMatchObject({ disposition: 'no_answer', q850Cause: 19, calleeNumber: '2002', duration: 5 });
    expect(h.media.liveCount).toBe(0);
  });

  it('answers 486 / cause 17 when the callee is busy, CDR busy', async () => {
    await start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const out = alice.dial('2002');
    await h.settle();
    bob.takeCall().reject(486);
    await h.settle();
    expect(out.status).toBe(486);
    expect(out.reason).toMatch(/Q\.850;cause=17/);
    expect(h.cdr()).toMatchObject({ disposition: 'busy', q850Cause: 17, sipStatus: 486, hangupBy: 'callee' });
  });

  it('answers 486 at once when the callee is in a call and has call waiting off', async () => {
    await start({ extensions: [{ number: '2002', callWaiting: false }] });
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const carol = await h.phone('2003');
    alice.dial('2002');
    await h.settle();
    bob.takeCall().answer();
    await h.settle();
    const second = carol.dial('2002');
    await h.settle();
    expect(bob.incoming).toHaveLength(0);
    expect(second.status).toBe(486);
  });

  it('fails with 480 / cause 20 when the callee has no registered device', async () => {
    await start();
    const alice = await h.phone('2001');
    const out = alice.dial('2003');
    await h.settle();
    expect(out.status).toBe(480);
    expect(out.reason).toMatch(/cause=20/);
    expect(h.cdr()).toMatchObject({ disposition: 'failed', q850Cause: 20, calleeNumber: '2003' });
  });

  it('answers 404 / cause 1 for a number that reaches nothing, still with a CDR row', async () => {
    await start();
    const alice = await h.phone('2001');
    const out = alice.dial('2999');
    await h.settle();
    expect(out.status).toBe(404);
    expect(h.cdr()).toMatchObject({ disposition: 'failed', q850Cause: 1, sipStatus: 404, dialedNumber: '2999', callerNumber: '2001' });
  });

  it('answers 488 / cause 65 when the caller offers no codec in common, and rings nobody', async () => {
    await start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const g722 = 'v=0\r\no=x 1 1 IN IP4 127.0.10.9\r\ns=-\r\nc=IN IP4 127.0.10.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n';
    const out = alice.dial('2002', { sdp: g722 });
    await h.settle();
    expect(out.status).toBe(488);
    expect(out.reason).toMatch(/cause=65/);
    expect(bob.incoming).toHaveLength(0);
    expect(h.cdr()).toMatchObject({ disposition: 'failed', q850Cause: 65 });
    expect(h.media.liveCount).toBe(0);
  });

  it('ends an answered call whose RTP stops with cause 41, both parties get BYE', async () => {
    await start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const out = alice.dial('2002');
    await h.settle();
    const bobCall = bob.takeCall().answer();
    await h.settle();
    h.media.rtpTimeout(bobCall.endpoint);
    await h.settle();
    expect(out.call!.ended?.reason).toMatch(/cause=41/);
    expect(bobCall.ended?.reason).toMatch(/cause=41/);
    expect(h.cdr()).toMatchObject({ disposition: 'answered', hangupBy: 'system', q850Cause: 41 });
  });

  it("relays the callee's early media: 183 with SDP to the caller, the legs bridged before the answer", async () => {
    await start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const out = alice.dial('2002');
    await h.settle();
    const atBob = bob.takeCall();
    atBob.progress();
    await h.settle();
    expect(out.provisional).toContain(183);
    expect(h.media.bridged(out.earlyEndpoint!, atBob.endpoint!)).toBe(true);
    const bobCall = atBob.answer();
    await h.settle();
    expect(out.status).toBe(200);
    expect(h.media.bridged(out.call!.endpoint, bobCall.endpoint)).toBe(true);
  });

  it('keeps a long call up across RFC 4028 session refreshes on both legs (two hours on the fake clock)', async () => {
    await start();
    const timers = { sessionTimer: { sessionExpires: 1800, minSE: 90 } };
    const alice = await h.phone('2001', timers);
    const bob = await h.phone('2002', timers);
    const out = alice.dial('2002');
    await h.settle();
    const bobCall = bob.takeCall().answer();
    await h.settle();
    expect(out.call!.dialog.session).toEqual({ interval: 1800, refresher: 'local' });
    expect(bobCall.dialog.session).toEqual({ interval: 1800, refresher: 'remote' });
    const before = h.network.log.length;
    await h.advance(2 * 3600_000);
    expect(out.call!.ended).toBeUndefined();
    expect(bobCall.ended).toBeUndefined();
    expect(h.active).toHaveLength(1);
    expect(h.media.bridged(out.call!.endpoint, bobCall.endpoint)).toBe(true);
    // Each refresher refreshed at half the interval: Alice's phone toward hibiki, hibiki toward Bob's phone.
    const refreshes = h.network.log.slice(before).filter((m) => /^(INVITE|UPDATE) /.test(m.firstLine));
    expect(refreshes.filter((m) => m.to.startsWith('127.0.0.1:')).length).toBeGreaterThanOrEqual(7);
    expect(refreshes.filter((m) => m.from.startsWith('127.0.0.1:')).length).toBeGreaterThanOrEqual(7);
  });
});
