// F-HUNT / F-DEPT end to end: the order in which a group's members ring under each strategy, over
// several calls (round-robin continues where it stopped, also across a reload), members skipped when
// busy, in do-not-disturb or unregistered, the group timeout going to noAnswerDestination, and the
// group's displayPrefix in front of the caller's name on the members' phones.
import { describe, expect, it } from 'vitest';
import { connect, nextRung, talking, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import type { TestUA } from '../support/test-ua.js';

const session = hibikiSession();

const NUMBERS = ['2001', '2002', '2003', '2004', '2005', '2006'];

function start(group: Record<string, unknown>, extra: Record<string, Record<string, unknown>> = {}) {
  return session.start({
    extensions: NUMBERS.map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}`, ...extra[n] })),
    config: { groups: [{ number: '600', name: 'Sales', memberRingTime: 5, ...group }] },
  });
}

/**
 * `caller` calls group 600 `calls` times, one after the other; each call is answered by the member that
 * rings first and then hung up. Which member that was, call by call.
 */
async function firstRung(caller: TestUA, members: TestUA[], calls: number): Promise<string[]> {
  const order: string[] = [];
  for (let i = 0; i < calls; i++) {
    const outgoing = await caller.dial('600');
    const rung = await nextRung(members);
    order.push(rung.phone.user);
    const answered = await rung.call.answer();
    const callerCall = await outgoing.answered;
    await callerCall.hangup();
    await answered.waitForEnd();
  }
  return order;
}

describe('hunt groups', () => {
  it('sequential: always from the first member; a member that declines passes the call to the next', async () => {
    const { phone } = await start({ strategy: 'sequential', members: ['2002', '2003', '2004'] });
    const alice = await phone('2001');
    const members = [await phone('2002'), await phone('2003'), await phone('2004')];
    for (let round = 0; round < 2; round++) {
      const outgoing = await alice.dial('600');
      const first = await nextRung(members);
      expect(first.phone.user).toBe('2002');
      first.call.reject(480);
      const second = await nextRung(members);
      expect(second.phone.user).toBe('2003');
      const answered = await second.call.answer();
      const aliceCall = await outgoing.answered;
      await talking(aliceCall, answered, 60 + round, 70 + round);
      await aliceCall.hangup();
      await answered.waitForEnd();
    }
  }, 40_000);

  it('roundrobin: each call starts after the member tried first last time, also after a reload', async () => {
    const { h, phone } = await start({ strategy: 'roundrobin', members: ['2002', '2003', '2004'] });
    const alice = await phone('2001');
    const members = [await phone('2002'), await phone('2003'), await phone('2004')];
    const order = await firstRung(alice, members, 3);
    // A reload keeps the rotation where it was.
    h.server.applyConfig(h.server.currentConfig);
    order.push(...(await firstRung(alice, members, 1)));
    expect(order).toEqual(['2002', '2003', '2004', '2002']);
  }, 40_000);

  it('leastrecent: the member whose last group call ended longest ago rings first', async () => {
    const { phone } = await start({ strategy: 'leastrecent', members: ['2002', '2003'] });
    const alice = await phone('2001');
    const members = [await phone('2002'), await phone('2003')];
    expect(await firstRung(alice, members, 3)).toEqual(['2002', '2003', '2002']);
  }, 40_000);

  it('random: every call rings one available member first', async () => {
    const { phone } = await start({ strategy: 'random', members: ['2002', '2003'] });
    const alice = await phone('2001');
    const members = [await phone('2002'), await phone('2003')];
    const outgoing = await alice.dial('600');
    const rung = await nextRung(members);
    expect(['2002', '2003']).toContain(rung.phone.user);
    const answered = await rung.call.answer();
    const aliceCall = await outgoing.answered;
    await talking(aliceCall, answered, 81, 82);
    await aliceCall.hangup();
  }, 30_000);

  it('ringall (department): every member rings at once, the others are cancelled when one answers, with the display prefix', async () => {
    const { h, phone } = await start({ strategy: 'ringall', members: ['2002', '2003', '2004'], displayPrefix: '[営業]' });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const dave = await phone('2004');
    const outgoing = await alice.dial('600');
    const [atBob, atCarol, atDave] = await Promise.all([bob.waitForCall(), carol.waitForCall(), dave.waitForCall()]);
    expect(atBob.from).toContain('[営業]User 2001');
    const carolCall = await atCarol.answer();
    const aliceCall = await outgoing.answered;
    await Promise.all([atBob.waitForCancel(), atDave.waitForCancel()]);
    await talking(aliceCall, carolCall, 91, 92);
    await aliceCall.hangup();
    await carolCall.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ dialedNumber: '600', calleeNumber: '2003', disposition: 'answered' });
  }, 30_000);

  it('skips members that are busy, in do-not-disturb or unregistered', async () => {
    const { phone } = await start({ strategy: 'sequential', members: ['2002', '2003', '2004', '2006'] }, { '2004': { dnd: true } });
    const alice = await phone('2001');
    // 2002 never registers; 2003 is in a call with 2005; 2004 is in do-not-disturb.
    const carol = await phone('2003');
    const eve = await phone('2005');
    await connect(eve, carol, '2003');
    const dave = await phone('2004');
    const frank = await phone('2006');
    const outgoing = await alice.dial('600');
    const rung = await nextRung([carol, dave, frank]);
    expect(rung.phone.user).toBe('2006');
    const answered = await rung.call.answer();
    await outgoing.answered;
    await answered.hangup();
  }, 30_000);

  it('goes to noAnswerDestination when no member answers within the group timeout', async () => {
    const { h, phone } = await start({ strategy: 'sequential', members: ['2002', '2003'], timeout: 6, noAnswerDestination: '2005' });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const eve = await phone('2005');
    const outgoing = await alice.dial('600');
    (await bob.waitForCall()).ring();
    // 5 s for Bob, then Carol for the 1 s left, then the overflow destination.
    const atEve = await eve.waitForCall({ timeoutMs: 12_000 });
    const eveCall = await atEve.answer();
    const aliceCall = await outgoing.answered;
    await talking(aliceCall, eveCall, 95, 96);
    await aliceCall.hangup();
    await waitUntil(() => h.server.cdr.query({}).length === 2, 3000);
    const rows = h.server.cdr.query({});
    expect(rows.find((r) => r.calleeNumber === '600')).toMatchObject({ disposition: 'no_answer', q850Cause: 19 });
    expect(rows.find((r) => r.calleeNumber === '2005')).toMatchObject({ disposition: 'answered', forwardedFrom: '600' });
    void carol;
  }, 40_000);

  it('answers 486 when no member can ring and there is no noAnswerDestination', async () => {
    const { h, phone } = await start({ strategy: 'ringall', members: ['2002', '2003'] });
    const alice = await phone('2001');
    const err = await alice.call('600').then(
      () => undefined,
      (e: unknown) => e as { status: number },
    );
    expect(err?.status).toBe(486);
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ disposition: 'busy', q850Cause: 17, dialedNumber: '600' });
  }, 20_000);
});
