// Issue #3: a SIP.js (WebSocket, RFC 7118) client and a UDP phone call each other through hibiki, in
// both directions, with real RTP relayed by the media engine: SIP.js's media is a plain RTP/AVP
// endpoint (test/support/sipjs-call.ts), the UDP phone is the test UA.
import { describe, expect, it } from 'vitest';
import type { RunningHibiki } from '../support/hibiki.js';
import { hibikiSession } from '../support/session.js';
import { startSipJsPhone, type SipJsPhone } from '../support/sipjs-call.js';
import type { CdrRecord } from '../../src/store/cdr-row.js';

let sipjs: SipJsPhone | undefined;

// SIP.js leaves while hibiki still listens, so its unREGISTER is answered.
const session = hibikiSession({
  defaults: { transports: [{ transport: 'udp' }, { transport: 'ws' }] },
  beforeStop: async () => {
    await sipjs?.stop();
    sipjs = undefined;
  },
});

async function start(): Promise<RunningHibiki> {
  return (await session.start()).h;
}

/** SIP.js registered as 2001 over WebSocket. */
async function wsPhone(h: RunningHibiki): Promise<SipJsPhone> {
  const phone = await startSipJsPhone({ server: `ws://127.0.0.1:${h.port('ws')}`, user: '2001', password: 'secret-2001' });
  sipjs = phone;
  const outcome = await phone.register();
  expect(outcome, phone.logs.join('\n')).toEqual({ registered: true });
  const [contact] = h.server.registrar.contacts('2001');
  expect(contact?.target.transport).toBe('ws');
  return phone;
}

async function cdrRows(h: RunningHibiki, count = 1, timeoutMs = 3000): Promise<CdrRecord[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const rows = h.server.cdr.query({});
    if (rows.length >= count || Date.now() > end) return rows;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('SIP.js over WebSocket calling a UDP phone', () => {
  it('SIP.js 2001 calls UDP 2002: RTP both ways through the media engine, SIP.js hangs up, CDR answered / caller', async () => {
    const h = await start();
    const bob = await session.phone('2002');
    const alice = await wsPhone(h);

    const ringing = bob.waitForCall();
    const placing = alice.call('2002');
    const incoming = await ringing;
    expect(incoming.from).toContain('sip:2001@hibiki.test');
    incoming.ring();
    const bobCall = await incoming.answer();
    const aliceCall = await placing;

    // SIP.js offered its own RTP socket; hibiki answered with its media anchor, not Bob's address.
    expect(aliceCall.rtp.remote?.port).toBeGreaterThan(0);
    expect(aliceCall.rtp.remote?.port).not.toBe(bobCall.rtp.port);
    aliceCall.rtp.startTone({ seed: 81 });
    bobCall.rtp.startTone({ seed: 82 });
    const atBob = await bobCall.rtp.waitForPackets(25, 5000);
    const atAlice = await aliceCall.rtp.waitForPackets(25, 5000);
    aliceCall.rtp.stopTone();
    bobCall.rtp.stopTone();
    expect(atBob.tone.seeds).toEqual(new Set([81]));
    expect(atAlice.tone.seeds).toEqual(new Set([82]));
    expect(atBob.tone.outOfOrder).toBe(0);
    expect(atAlice.tone.outOfOrder).toBe(0);

    await aliceCall.hangup();
    const end = await bobCall.waitForEnd();
    expect(end.by).toBe('remote');
    expect(aliceCall.byeReceived).toBe(false);

    const [row] = await cdrRows(h);
    expect(row).toMatchObject({ direction: 'internal', disposition: 'answered', callerNumber: '2001', dialedNumber: '2002', calleeNumber: '2002', hangupBy: 'caller', q850Cause: 16 });
    expect(h.server.calls.active()).toHaveLength(0);
  });

  it('UDP 2002 calls SIP.js 2001 over its WebSocket flow: SIP.js answers, RTP both ways, the UDP phone hangs up', async () => {
    const h = await start();
    const bob = await session.phone('2002');
    const alice = await wsPhone(h);

    const outgoing = await bob.dial('2001');
    const invitation = await alice.waitForInvitation();
    expect(invitation.request.from.uri.user).toBe('2002');
    const aliceCall = await alice.answer(invitation);
    // SIP.js sent 180 before answering; hibiki relayed it.
    await outgoing.waitForProvisional(180);
    const bobCall = await outgoing.answered;

    bobCall.rtp.startTone({ seed: 91 });
    aliceCall.rtp.startTone({ seed: 92 });
    const atAlice = await aliceCall.rtp.waitForPackets(25, 5000);
    const atBob = await bobCall.rtp.waitForPackets(25, 5000);
    bobCall.rtp.stopTone();
    aliceCall.rtp.stopTone();
    expect(atAlice.tone.seeds).toEqual(new Set([91]));
    expect(atBob.tone.seeds).toEqual(new Set([92]));

    // The BYE reaches SIP.js over its WebSocket.
    await bobCall.hangup();
    await aliceCall.waitForEnd();
    expect(aliceCall.byeReceived).toBe(true);

    const [row] = await cdrRows(h);
    expect(row).toMatchObject({ direction: 'internal', disposition: 'answered', callerNumber: '2002', dialedNumber: '2001', calleeNumber: '2001', hangupBy: 'caller', q850Cause: 16 });
  });
});
