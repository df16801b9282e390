// Issue #5 routing features with a SIP.js 0.21 softphone over WebSocket (RFC 7118) as one of the
// phones, loopback only. SIP.js's media is a plain RTP/AVP endpoint (test/support/sipjs-call.ts), the
// other phones are the UDP test UA:
// - a ringall hunt group 600 [UDP 2003, SIP.js 2002]: both ring, SIP.js answers, 2003 gets CANCEL;
// - SIP.js 2002 dials *8 and picks up a call ringing at UDP 2003 (same pickup group); 2003 gets CANCEL;
// - 2003 forwards unconditionally (YAML CFU) to SIP.js 2002, which rings over its WebSocket and answers.
// Every case checks RTP both ways between the caller and SIP.js through hibiki's media engine, the
// hang-up reaching the far end, and the CDR.
import { describe, expect, it } from 'vitest';
import type { RunningHibiki, StartOptions, TestExtension } from '../support/hibiki.js';
import { waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { startSipJsPhone, type SipJsCall, type SipJsPhone } from '../support/sipjs-call.js';
import type { RtpPeer } from '../support/rtp-peer.js';
import type { CdrRecord } from '../../src/store/cdr-row.js';
import type { Inviter } from 'sip.js';

let hibiki: RunningHibiki | undefined;
let sipjs: SipJsPhone | undefined;

// SIP.js leaves while hibiki still listens, so its unREGISTER is answered.
const session = hibikiSession({
  beforeStop: async () => {
    await sipjs?.stop();
    sipjs = undefined;
    hibiki = undefined;
  },
});

const EXTENSIONS: TestExtension[] = ['2001', '2002', '2003'].map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}` }));

async function start(opts: StartOptions = {}): Promise<RunningHibiki> {
  hibiki = (await session.start({ extensions: EXTENSIONS, ...opts, transports: [{ transport: 'udp' }, { transport: 'ws' }] })).h;
  return hibiki;
}

/** SIP.js registered as 2002 over WebSocket; hibiki holds its contact as a ws flow. */
async function sipJs2002(h: RunningHibiki): Promise<SipJsPhone> {
  const phone = await startSipJsPhone({ server: `ws://127.0.0.1:${h.port('ws')}`, user: '2002', password: 'secret-2002' });
  sipjs = phone;
  const outcome = await phone.register();
  expect(outcome, phone.logs.join('\n')).toEqual({ registered: true });
  const contacts = h.server.registrar.contacts('2002');
  expect(contacts).toHaveLength(1);
  expect(contacts[0]?.target.transport).toBe('ws');
  return phone;
}

/** Settles like `p`, or rejects after `ms` saying what did not happen (and what SIP.js and hibiki logged). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms${diagnostics()}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function diagnostics(): string {
  const sip = sipjs ? sipjs.logs.slice(-30).join('\n') : '';
  const logs = hibiki
    ? hibiki.logs
        .slice(-30)
        .map((l) => JSON.stringify(l))
        .join('\n')
    : '';
  return `\n--- SIP.js ---\n${sip}\n--- hibiki ---\n${logs}`;
}

/**
 * Test tones both ways between the caller (UDP test UA) and SIP.js, through hibiki's media engine: each
 * end hears exactly the other's seed, in order. SIP.js's remote RTP address is hibiki's anchor, not the
 * caller's socket.
 */
async function audioBothWays(caller: RtpPeer, atSipJs: RtpPeer, seedCaller: number, seedSipJs: number): Promise<void> {
  expect(atSipJs.remote?.port).toBeGreaterThan(0);
  expect(atSipJs.remote?.port).not.toBe(caller.port);
  caller.startTone({ seed: seedCaller });
  atSipJs.startTone({ seed: seedSipJs });
  try {
    const atSip = await atSipJs.waitForPackets(25, 5000);
    const atCaller = await caller.waitForPackets(25, 5000);
    expect(atSip.tone.seeds).toEqual(new Set([seedCaller]));
    expect(atCaller.tone.seeds).toEqual(new Set([seedSipJs]));
    expect(atSip.tone.outOfOrder).toBe(0);
    expect(atCaller.tone.outOfOrder).toBe(0);
  } finally {
    caller.stopTone();
    atSipJs.stopTone();
  }
}

async function cdrRows(h: RunningHibiki, count: number, timeoutMs = 3000): Promise<CdrRecord[]> {
  await waitUntil(() => h.server.cdr.query({}).length >= count, timeoutMs).catch(() => undefined);
  return h.server.cdr.query({});
}

/** SIP.js hangs up; the caller gets hibiki's BYE. */
async function sipJsHangsUp(call: SipJsCall, callerEnd: () => Promise<{ by: string }>): Promise<void> {
  await call.hangup();
  const end = await within(callerEnd(), 5000, "the caller's BYE");
  expect(end.by).toBe('remote');
  expect(call.byeReceived).toBe(false);
}

describe('routing features with a SIP.js phone over WebSocket', () => {
  it('ringall group 600 [UDP 2003, SIP.js 2002]: both ring, SIP.js answers, 2003 gets CANCEL, RTP both ways, CDR answeredBy 2002', async () => {
    const h = await start({ config: { groups: [{ number: '600', name: 'Sales', strategy: 'ringall', members: ['2003', '2002'], memberRingTime: 10 }] } });
    const alice = await session.phone('2001');
    const carol = await session.phone('2003');
    const bob = await sipJs2002(h);

    const carolRinging = carol.waitForCall({ timeoutMs: 5000 });
    const outgoing = await alice.dial('600');
    // Both members ring at once: the UDP phone and SIP.js over its WebSocket.
    const [atCarol, invitation] = await Promise.all([carolRinging, within(bob.waitForInvitation(5000), 5500, 'the group INVITE at SIP.js')]);
    atCarol.ring();
    expect(invitation.request.from.uri.user).toBe('2001');
    // Sent to the contact SIP.js registered (its WebSocket flow).
    expect(h.server.registrar.contacts('2002')[0]?.binding.contact).toContain(`sip:${invitation.request.ruri?.user ?? '?'}@`);
    expect(atCarol.isCancelled).toBe(false);

    const bobCall = await within(bob.answer(invitation), 5000, 'SIP.js answering the group call');
    const aliceCall = await within(outgoing.answered, 5000, 'the group call answered');
    // SIP.js's 180 went to Alice before its 200.
    expect(outgoing.provisional).toContain(180);
    await atCarol.waitForCancel();

    await audioBothWays(aliceCall.rtp, bobCall.rtp, 11, 12);
    await sipJsHangsUp(bobCall, () => aliceCall.waitForEnd());

    const rows = await cdrRows(h, 1);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      callerNumber: '2001',
      dialedNumber: '600',
      calleeNumber: '2002',
      answeredBy: '2002',
      disposition: 'answered',
      hangupBy: 'callee',
    });
    await waitUntil(() => h.server.calls.active().length === 0, 3000);
  }, 30_000);

  it('pickup: SIP.js 2002 dials *8 and takes a call ringing at UDP 2003 (same pickup group); 2003 gets CANCEL, RTP both ways, CDR pickup', async () => {
    const h = await start({ config: { pickupGroups: [{ number: '1', name: 'sales', members: ['2002', '2003'] }] } });
    const alice = await session.phone('2001');
    const carol = await session.phone('2003');
    const bob = await sipJs2002(h);

    const ringing = carol.waitForCall();
    const outgoing = await alice.dial('2003');
    const atCarol = await ringing;
    atCarol.ring();
    await outgoing.waitForProvisional(180);

    const bobCall = await within(bob.call('*8'), 8000, 'SIP.js *8 established');
    const aliceCall = await within(outgoing.answered, 5000, "Alice's call answered by the pickup");
    await atCarol.waitForCancel();
    // The pickup INVITE went out over SIP.js's WebSocket to *8 at hibiki's domain.
    expect((bobCall.session as Inviter).request.ruri.user).toBe('*8');

    await audioBothWays(aliceCall.rtp, bobCall.rtp, 21, 22);
    await sipJsHangsUp(bobCall, () => aliceCall.waitForEnd());

    const rows = await cdrRows(h, 1);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      feature: 'pickup',
      callerNumber: '2001',
      dialedNumber: '2003',
      calleeNumber: '2003',
      answeredBy: '2002',
      disposition: 'answered',
    });
    await waitUntil(() => h.server.calls.active().length === 0, 3000);
  }, 30_000);

  it('YAML CFU 2003 → 2002: the forwarded call rings SIP.js over its WebSocket, SIP.js answers, RTP both ways, CDR forward_cfu', async () => {
    const h = await start({
      extensions: EXTENSIONS.map((e) => (e.number === '2003' ? { ...e, forwarding: { unconditional: '2002' } } : e)),
    });
    const alice = await session.phone('2001');
    // 2003 is registered too: CFU must win over ringing it.
    const carol = await session.phone('2003');
    const bob = await sipJs2002(h);

    const outgoing = await alice.dial('2003');
    const invitation = await within(bob.waitForInvitation(5000), 5500, 'the forwarded INVITE at SIP.js');
    expect(invitation.request.from.uri.user).toBe('2001');
    // Sent to the contact SIP.js registered (its WebSocket flow).
    expect(h.server.registrar.contacts('2002')[0]?.binding.contact).toContain(`sip:${invitation.request.ruri?.user ?? '?'}@`);
    const bobCall = await within(bob.answer(invitation), 5000, 'SIP.js answering the forwarded call');
    const aliceCall = await within(outgoing.answered, 5000, 'the forwarded call answered');
    expect(outgoing.provisional).toContain(180);
    // The forwarding phone itself never rang.
    await expect(carol.waitForCall({ timeoutMs: 200 })).rejects.toThrow();

    await audioBothWays(aliceCall.rtp, bobCall.rtp, 31, 32);
    await sipJsHangsUp(bobCall, () => aliceCall.waitForEnd());

    const rows = await cdrRows(h, 2);
    const last = rows.find((r) => r.calleeNumber === '2002');
    const hop = rows.find((r) => r.calleeNumber === '2003');
    expect(last, JSON.stringify(rows)).toMatchObject({
      feature: 'forward_cfu',
      forwardedFrom: '2003',
      callerNumber: '2001',
      dialedNumber: '2003',
      answeredBy: '2002',
      disposition: 'answered',
    });
    expect(hop?.linkedId).toBe(last?.linkedId);
    await waitUntil(() => h.server.calls.active().length === 0, 3000);
  }, 30_000);
});
