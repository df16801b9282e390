// Issue #14 (6): RFC 4028 intervals from the wire too large for a timer. Session-Expires and Min-SE of
// 999999999 s overflowed Node's setTimeout, whose timer then fired after 1 ms: both legs got a BYE at
// once. hibiki now runs at most calls.maxSessionExpires and says so in its answers; the call stays up.
import { describe, expect, it } from 'vitest';
import { talking } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import type { SipResponse } from '../../src/sip/message.js';

const { start } = hibikiSession();
const HUGE = '999999999';

describe('huge session intervals (issue #14)', () => {
  it('keeps a call up whose both phones ask for 999999999 s, answering and refreshing with the maximum', async () => {
    const { h, phone } = await start({ config: { calls: { maxSessionExpires: 7200 } } });
    const alice = await phone('2001');
    const bob = await phone('2002');

    const ringing = bob.waitForCall();
    const outgoing = await alice.dial('2002', { headers: { supported: 'timer', 'session-expires': `${HUGE};refresher=uac`, 'min-se': HUGE } });
    const incoming = await ringing;
    // Bob's 2xx asks for the same on hibiki's outgoing leg, with Bob refreshing.
    const callee = await incoming.answer({ headers: { 'session-expires': `${HUGE};refresher=uas`, require: 'timer' } });
    const caller = await outgoing.answered;
    expect(caller.answerResponse?.get('session-expires')).toBe('7200;refresher=uac');

    // hibiki's own INVITE to Bob asked for its usual interval.
    expect(incoming.request.get('session-expires')).toBe('1800');

    // A round trip with media: before the fix both legs were already hung up by now.
    await talking(caller, callee, 21, 22);
    expect(caller.ended).toBeUndefined();
    expect(callee.ended).toBeUndefined();

    // A session refresh from Alice asking for 999999999 s again gets the maximum again.
    const refresh: SipResponse = await caller.dialog.request({
      method: 'UPDATE',
      headers: { supported: 'timer', 'session-expires': `${HUGE};refresher=uac`, 'min-se': HUGE },
    });
    expect(refresh.status).toBe(200);
    expect(refresh.get('session-expires')).toBe('7200;refresher=uac');

    await talking(caller, callee, 23, 24);
    expect(caller.ended).toBeUndefined();
    expect(callee.ended).toBeUndefined();
    expect(h.server.calls.active()).toHaveLength(1);
    // Nothing needed the clock's last line of defence: every value was bounded where it was read.
    expect(h.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('timer delay above the Node.js maximum'))).toBe(false);

    await caller.hangup();
    const end = await callee.waitForEnd();
    expect(end.reason).toMatch(/cause=16/);
  });
});
