// F-PICKUP in the call core: *8 answers the longest-ringing call at a member of my pickup groups, *8 + group
// number one in another group, ** + extension that extension's call; the phones that rang get CANCEL and
// the call has one CDR row naming who picked it up. Nothing to pick up is a prompt and 404. A picker that
// cancels while its pickup is set up leaves the call ringing.
import { afterEach, describe, expect, it } from 'vitest';
import { CoreHarness } from '../../support/core-harness.js';
import type { IncomingCall, OutgoingCall, Phone } from '../../support/core-phone.js';

const PICKUP_GROUPS = [
  { number: '1', name: 'sales', members: ['2002', '2003', '2004'] },
  { number: '2', name: 'support', members: ['2005'] },
];

let h: CoreHarness;
afterEach(() => h?.stop());

async function start(pickupGroups: unknown[] = PICKUP_GROUPS): Promise<CoreHarness> {
  h = await CoreHarness.start({ config: { pickupGroups } });
  return h;
}

/** `from` calls `number`, which rings at `to`. */
async function ringing(from: Phone, to: Phone, number: string): Promise<{ out: OutgoingCall; at: IncomingCall }> {
  const out = from.dial(number);
  await h.settle();
  const at = to.takeCall();
  at.ring();
  await h.settle();
  return { out, at };
}

describe('call pickup', () => {
  it('*8 answers a call ringing at a member of my group; the ringing phone gets CANCEL; one CDR row', async () => {
    await start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const carol = await h.phone('2003');
    const { out, at } = await ringing(alice, bob, '2002');
    const pick = carol.dial('*8');
    await h.settle();
    expect(at.cancelled).toBe(true);
    expect(out.status).toBe(200);
    expect(h.media.bridged(out.call!.endpoint, pick.call!.endpoint)).toBe(true);
    pick.call!.hangup();
    await h.settle();
    expect(out.call!.ended).toMatchObject({ by: 'remote' });
    expect(h.cdr()).toMatchObject({ feature: 'pickup', callerNumber: '2001', calleeNumber: '2002', answeredBy: '2003', disposition: 'answered', hangupBy: 'callee' });
    expect(h.media.liveCount).toBe(0);
  });

  it('*8 takes the longest-ringing of several calls in my groups', async () => {
    await start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const carol = await h.phone('2003');
    const dave = await h.phone('2004');
    const eve = await h.phone('2005');
    const older = await ringing(alice, bob, '2002');
    await h.advance(1000);
    const newer = await ringing(eve, dave, '2004');
    const pick = carol.dial('*8');
    await h.settle();
    expect(older.out.status).toBe(200);
    expect(h.media.bridged(older.out.call!.endpoint, pick.call!.endpoint)).toBe(true);
    expect(newer.out.status).toBeUndefined();
    expect(newer.at.cancelled).toBe(false);
  });

  it('*8 + group number picks up in another group; plain *8 does not reach it', async () => {
    await start();
    const alice = await h.phone('2001');
    const carol = await h.phone('2003');
    const eve = await h.phone('2005');
    const { out, at } = await ringing(alice, eve, '2005');
    const none = carol.dial('*8');
    await h.settle();
    expect(none.provisional).toContain(183);
    const pick = carol.dial('*82');
    await h.settle();
    expect(at.cancelled).toBe(true);
    expect(h.media.bridged(out.call!.endpoint, pick.call!.endpoint)).toBe(true);
  });

  it("** + extension picks up that extension's call from any phone", async () => {
    await start([]);
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const eve = await h.phone('2005');
    const { out, at } = await ringing(alice, bob, '2002');
    const pick = eve.dial('**2002');
    await h.settle();
    expect(at.cancelled).toBe(true);
    expect(h.media.bridged(out.call!.endpoint, pick.call!.endpoint)).toBe(true);
    out.call!.hangup();
    await h.settle();
    expect(h.cdr()).toMatchObject({ feature: 'pickup', calleeNumber: '2002', answeredBy: '2005', hangupBy: 'caller' });
  });

  it('answers a prompt as early media and then 404 when nothing rings; CDR pickup_none', async () => {
    await start();
    const carol = await h.phone('2003');
    const out = carol.dial('*8');
    await h.settle();
    expect(out.provisional).toContain(183);
    const prompt = h.media.nowPlaying(out.earlyEndpoint!)!;
    expect(prompt.files[0]).toMatch(/pickup-none\.wav$/);
    await h.advance(h.media.playLength(prompt.files) - 1);
    expect(out.status).toBeUndefined();
    await h.advance(1);
    expect(out.status).toBe(404);
    expect(h.cdr()).toMatchObject({ feature: 'pickup_none', q850Cause: 1, dialedNumber: '*8', callerNumber: '2003' });
  });

  it('a picker cancelling while its pickup is set up leaves the call ringing; the callee can still answer', async () => {
    await start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const carol = await h.phone('2003');
    const { out, at } = await ringing(alice, bob, '2002');
    const release = h.media.holdEndpoints();
    const pick = carol.dial('**2002');
    await h.settle();
    pick.cancel();
    await h.settle();
    expect(pick.status).toBe(487);
    release();
    await h.settle();
    expect(at.cancelled).toBe(false);
    const bobCall = at.answer();
    await h.settle();
    expect(h.media.bridged(out.call!.endpoint, bobCall.endpoint)).toBe(true);
    expect(h.core.calls.callsOf('2003')).toBe(0);
    out.call!.hangup();
    await h.settle();
    expect(h.active).toHaveLength(0);
    expect(h.media.liveCount).toBe(0);
  });
});
