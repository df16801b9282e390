// Issue #14 (5): an in-dialog offer hibiki cannot use — a hold, a codec change or an UPDATE offering no
// G.711 codec, or SDP that is not SDP — is refused (488, 400) at once, and the call goes on exactly as
// before: both legs still bridged, RTP flowing both ways, the other party never re-INVITEd.
import { describe, expect, it } from 'vitest';
import { connect, talking } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import type { Call } from '../support/test-ua.js';
import { SipRequest, type SipResponse } from '../../src/sip/message.js';

const { start } = hibikiSession();

/** An offer of G.729 only (RTP/AVP 18), which the built-in engine cannot carry. */
function g729Offer(call: Call, direction: 'sendonly' | 'sendrecv'): string {
  return [
    'v=0',
    // A new session version, so hibiki treats it as a real change and not as a session refresh.
    'o=ua 42 4242 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${call.rtp.port} RTP/AVP 18`,
    'a=rtpmap:18 G729/8000',
    `a=${direction}`,
    '',
  ].join('\r\n');
}

/** The response, or a readable failure instead of waiting for Timer B when hibiki never answers. */
function answered(p: Promise<SipResponse>, what: string, timeoutMs = 5000): Promise<SipResponse> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no final response within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

function invitesAt(call: Call): number {
  return call.messages.filter((m) => m instanceof SipRequest && m.method === 'INVITE').length;
}

describe('in-dialog offers hibiki cannot use (issue #14)', () => {
  it('answers a hold re-INVITE offering only RTP/AVP 18 with 488, and the call goes on with RTP both ways', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const { caller, callee } = await connect(alice, bob, '2002');
    await talking(caller, callee, 1, 2);
    const bobInvites = invitesAt(callee);

    const res = await answered(caller.dialog.modify(g729Offer(caller, 'sendonly')), 'hold re-INVITE');
    expect(res.status).toBe(488);
    expect(res.get('warning')).toMatch(/^305 /);

    // Nothing changed: no BYE either way, no re-INVITE to Bob, audio both ways.
    await talking(caller, callee, 3, 4);
    expect(caller.ended).toBeUndefined();
    expect(callee.ended).toBeUndefined();
    expect(invitesAt(callee)).toBe(bobInvites);
    expect(h.server.calls.active()).toHaveLength(1);

    // The call is not taken for held: a real hold afterwards still plays music to Bob, and resume reconnects.
    expect((await caller.hold()).status).toBe(200);
    const before = callee.rtp.received().tone.foreign;
    await talkingFromHibiki(callee, before);
    expect((await caller.resume()).status).toBe(200);
    await talking(caller, callee, 5, 6);
    await caller.hangup();
    await callee.waitForEnd();
  });

  it('refuses a codec-change re-INVITE it cannot answer before re-INVITEing the other party', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const { caller, callee } = await connect(alice, bob, '2002');
    const bobInvites = invitesAt(callee);

    const res = await answered(caller.dialog.modify(g729Offer(caller, 'sendrecv')), 're-INVITE');
    expect(res.status).toBe(488);
    expect(invitesAt(callee)).toBe(bobInvites);
    await talking(caller, callee, 7, 8);
    expect(h.server.calls.active()).toHaveLength(1);

    // From the callee's side too.
    const aliceInvites = invitesAt(caller);
    const back = await answered(callee.dialog.modify(g729Offer(callee, 'sendrecv')), 'callee re-INVITE');
    expect(back.status).toBe(488);
    expect(invitesAt(caller)).toBe(aliceInvites);
    await talking(caller, callee, 9, 10);
    await callee.hangup();
    await caller.waitForEnd();
  });

  it('answers an UPDATE with an unusable offer 488 and malformed SDP 400, keeping the call', async () => {
    const { phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const { caller, callee } = await connect(alice, bob, '2002');

    const update = await answered(caller.dialog.request({ method: 'UPDATE', headers: { 'content-type': 'application/sdp' }, body: g729Offer(caller, 'sendonly') }), 'UPDATE');
    expect(update.status).toBe(488);

    const garbage = 'v=0\r\no=ua 42 4343 IN IP4 127.0.0.1\r\nthis is not SDP\r\n';
    const bad = await answered(caller.dialog.modify(garbage), 'malformed re-INVITE');
    expect(bad.status).toBe(400);

    await talking(caller, callee, 11, 12);
    expect(caller.ended).toBeUndefined();
    expect(callee.ended).toBeUndefined();
    await caller.hangup();
    await callee.waitForEnd();
  });

  it('holds and resumes a call a dozen times without piling up listeners on it', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const { caller, callee } = await connect(alice, bob, '2002');
    const [call] = h.server.calls.active();
    const listeners = call!.listenerCount('ended');
    for (let i = 0; i < 12; i++) {
      expect((await caller.hold()).status).toBe(200);
      expect(call!.listenerCount('ended')).toBe(listeners + 1);
      expect((await caller.resume()).status).toBe(200);
    }
    expect(call!.listenerCount('ended')).toBe(listeners);
    await talking(caller, callee, 13, 14);
    await caller.hangup();
    await callee.waitForEnd();
  });
});

/** Bob hears something from hibiki that is not Alice's tone: music on hold. */
async function talkingFromHibiki(held: Call, before: number): Promise<void> {
  const end = Date.now() + 5000;
  while (held.rtp.received().tone.foreign <= before + 25) {
    if (Date.now() > end) throw new Error('no music on hold reached the held party');
    await new Promise((r) => setTimeout(r, 25));
  }
}
