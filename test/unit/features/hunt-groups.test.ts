// F-HUNT / F-DEPT in the call core, on the fake clock: sequential hunting member by member for memberRingTime
// each, a declining member passing the call on at once, the group timeout sending the call to
// noAnswerDestination, ringall with the display prefix, round-robin across calls, members skipped when
// busy, in DND or unregistered, and 486 when nobody can ring.
import { afterEach, describe, expect, it } from 'vitest';
import { CoreHarness } from '../../support/core-harness.js';
import type { Phone } from '../../support/core-phone.js';

let h: CoreHarness;
afterEach(() => h?.stop());

async function start(group: Record<string, unknown>, extensions: Array<{ number: string; [k: string]: unknown }> = []): Promise<Phone[]> {
  h = await CoreHarness.start({ extensions, config: { groups: [{ number: '600', name: 'Sales', memberRingTime: 5, ...group }] } });
  return Promise.all(['2001', '2002', '2003', '2004', '2005'].map((n) => h.phone(n)));
}

describe('hunt groups', () => {
  it('sequential: each member rings for memberRingTime, then the next; the one that answers is connected', async () => {
    const [alice, bob, carol] = await start({ strategy: 'sequential', members: ['2002', '2003', '2004'] });
    const out = alice!.dial('600');
    await h.settle();
    const atBob = bob!.takeCall();
    atBob.ring();
    await h.advance(4999);
    expect(carol!.incoming).toHaveLength(0);
    await h.advance(1);
    expect(atBob.cancelled).toBe(true);
    const carolCall = carol!.takeCall().answer();
    await h.settle();
    expect(h.media.bridged(out.call!.endpoint, carolCall.endpoint)).toBe(true);
    out.call!.hangup();
    await h.settle();
    expect(h.cdr()).toMatchObject({ dialedNumber: '600', calleeNumber: '2003', answeredBy: '2003', disposition: 'answered' });
  });

  it('sequential: a member that declines passes the call to the next at once', async () => {
    const [alice, bob, carol] = await start({ strategy: 'sequential', members: ['2002', '2003'] });
    alice!.dial('600');
    await h.settle();
    bob!.takeCall().reject(480);
    await h.settle();
    expect(carol!.incoming).toHaveLength(1);
    expect(h.clock.now() - h.active[0]!.startedAt).toBe(0);
  });

  it('after the group timeout the call goes to noAnswerDestination; a CDR row for the group hop', async () => {
    const [alice, bob, carol, , eve] = await start({ strategy: 'sequential', members: ['2002', '2003'], timeout: 12, noAnswerDestination: '2005' });
    const out = alice!.dial('600');
    await h.settle();
    bob!.takeCall().ring();
    await h.advance(5000);
    carol!.takeCall().ring();
    await h.advance(5000);
    // 2 s of the group's 12 are left: Bob rings once more, for those 2 s only.
    const again = bob!.takeCall();
    again.ring();
    await h.advance(1999);
    expect(eve!.incoming).toHaveLength(0);
    await h.advance(1);
    expect(again.cancelled).toBe(true);
    const eveCall = eve!.takeCall().answer();
    await h.settle();
    expect(h.media.bridged(out.call!.endpoint, eveCall.endpoint)).toBe(true);
    out.call!.hangup();
    await h.settle();
    expect(h.cdrs.map((r) => [r.calleeNumber, r.disposition, r.q850Cause, r.forwardedFrom])).toEqual([
      ['600', 'no_answer', 19, null],
      ['2005', 'answered', 16, '600'],
    ]);
  });

  it('ringall: every member rings at once with the display prefix; the others are cancelled on answer', async () => {
    const [alice, bob, carol, dave] = await start({ strategy: 'ringall', members: ['2002', '2003', '2004'], displayPrefix: '[営業]' });
    const out = alice!.dial('600');
    await h.settle();
    const [atBob, atCarol, atDave] = [bob!.takeCall(), carol!.takeCall(), dave!.takeCall()];
    expect(atBob.from).toContain('"[営業]Alice" <sip:2001@');
    const carolCall = atCarol.answer();
    await h.settle();
    expect(atBob.cancelled && atDave.cancelled).toBe(true);
    expect(h.media.bridged(out.call!.endpoint, carolCall.endpoint)).toBe(true);
  });

  it('roundrobin: each call starts after the member tried first last time', async () => {
    const [alice, bob, carol, dave] = await start({ strategy: 'roundrobin', members: ['2002', '2003', '2004'] });
    const members = [bob!, carol!, dave!];
    const first: string[] = [];
    for (let i = 0; i < 4; i++) {
      const out = alice!.dial('600');
      await h.settle();
      const rung = members.find((m) => m.incoming.length > 0)!;
      first.push(rung.user);
      rung.takeCall().answer();
      await h.settle();
      out.call!.hangup();
      await h.settle();
    }
    expect(first).toEqual(['2002', '2003', '2004', '2002']);
  });

  it('skips members that are busy, in do-not-disturb or unregistered', async () => {
    const phones = await start({ strategy: 'sequential', members: ['2002', '2003', '2004', '2005'] }, [{ number: '2004', dnd: true }]);
    const [alice, bob, carol, dave, eve] = phones;
    h.unregister(bob!);
    // Carol is in a call with Alice.
    alice!.dial('2003');
    await h.settle();
    carol!.takeCall().answer();
    await h.settle();
    const second = await h.phone('2001');
    second.dial('600');
    await h.settle();
    expect([bob, carol, dave].map((p) => p!.incoming.length)).toEqual([0, 0, 0]);
    expect(eve!.incoming).toHaveLength(1);
  });

  it('answers 486 / cause 17 when no member can ring and there is no noAnswerDestination', async () => {
    const [alice, bob, carol] = await start({ strategy: 'ringall', members: ['2002', '2003'] });
    h.unregister(bob!);
    h.unregister(carol!);
    const out = alice!.dial('600');
    await h.settle();
    expect(out.status).toBe(486);
    expect(h.cdr()).toMatchObject({ disposition: 'busy', q850Cause: 17, dialedNumber: '600' });
  });

  it('connects the next member after one that sent early media and declined', async () => {
    const [alice, bob, carol] = await start({ strategy: 'sequential', members: ['2002', '2003'] });
    const out = alice!.dial('600');
    await h.settle();
    const atBob = bob!.takeCall();
    atBob.progress();
    await h.settle();
    expect(out.provisional).toContain(183);
    atBob.reject(480);
    await h.settle();
    const carolCall = carol!.takeCall().answer();
    await h.settle();
    expect(out.status).toBe(200);
    expect(h.media.bridged(out.call!.endpoint, carolCall.endpoint)).toBe(true);
  });
});
