// Issue #3 end to end: extensions call each other through hibiki (B2BUA + built-in media engine),
// RTP is checked on the wire at both phones, and every call leaves a CDR row with its Q.850 cause.
import { describe, expect, it } from 'vitest';
import type { RunningHibiki } from '../support/hibiki.js';
import { failure, ringingCall } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { SipRequest } from '../../src/sip/message.js';
import { UacError } from '../../src/sip/dialog-layer.js';
import type { CdrRecord } from '../../src/store/cdr-row.js';

const { start } = hibikiSession();

async function cdrs(h: RunningHibiki, count = 1, timeoutMs = 3000): Promise<CdrRecord[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const rows = h.server.cdr.query({});
    if (rows.length >= count || Date.now() > until) return rows;
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('calls between extensions', () => {
  it('connects A to B with RTP both ways through the media engine, and B hanging up ends it with cause 16', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');

    const { outgoing, incoming } = await ringingCall(alice, bob, '2002');
    const bobCall = await incoming.answer();
    const aliceCall = await outgoing.answered;

    // Both phones talk to hibiki's media address, never to each other.
    expect(aliceCall.rtp.remote?.port).not.toBe(bobCall.rtp.port);
    aliceCall.rtp.startTone({ seed: 11 });
    bobCall.rtp.startTone({ seed: 22 });
    const atBob = await bobCall.rtp.waitForPackets(40, 5000);
    const atAlice = await aliceCall.rtp.waitForPackets(40, 5000);
    aliceCall.rtp.stopTone();
    bobCall.rtp.stopTone();
    expect(atBob.tone.seeds).toEqual(new Set([11]));
    expect(atAlice.tone.seeds).toEqual(new Set([22]));
    expect(atBob.tone.intact).toBeGreaterThanOrEqual(40);
    expect(atAlice.tone.intact).toBeGreaterThanOrEqual(40);
    expect(atBob.tone.outOfOrder).toBe(0);
    expect(atAlice.tone.outOfOrder).toBe(0);
    // Each phone sees one stream from hibiki (one SSRC, one source).
    expect(atBob.ssrcs.size).toBe(1);
    expect(atAlice.sources.size).toBe(1);

    // The caller sees the callee's identity; the callee sees the caller's.
    expect(incoming.from).toContain('sip:2001@hibiki.test');

    await bobCall.hangup();
    const end = await aliceCall.waitForEnd();
    expect(end.by).toBe('remote');
    expect(end.reason).toMatch(/Q\.850;cause=16/);

    const [row] = await cdrs(h);
    expect(row).toMatchObject({
      direction: 'internal',
      disposition: 'answered',
      callerNumber: '2001',
      dialedNumber: '2002',
      calleeNumber: '2002',
      hangupBy: 'callee',
      q850Cause: 16,
    });
    expect(row?.answeredAt).toBeTruthy();
    expect(h.server.calls.active()).toHaveLength(0);
  });

  it('relays RFC 4733 and SIP INFO DTMF from the caller to the callee as RFC 4733 (suppression off)', async () => {
    const { h, phone } = await start({ config: { dtmf: { suppress: false } } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const ringing = bob.waitForCall();
    const outgoing = await alice.dial('2002');
    const bobCall = await (await ringing).answer();
    const aliceCall = await outgoing.answered;
    await aliceCall.sendDtmf('12', { method: 'rfc4733' });
    // RFC 4733 digits are reported at their end packets; let them through before the faster INFO path.
    expect(await bobCall.rtp.waitForDigits('12', 5000)).toBe('12');
    await aliceCall.sendDtmf('3', { method: 'info' });
    expect(await bobCall.rtp.waitForDigits('123', 5000)).toBe('123');
    await aliceCall.hangup();
    await bobCall.waitForEnd();
    const [row] = await cdrs(h);
    expect(row).toMatchObject({ disposition: 'answered', hangupBy: 'caller', q850Cause: 16 });
  });

  it('answers 486 when the callee is busy, CDR busy / 17', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const ringing = bob.waitForCall();
    const attempt = alice.call('2002');
    (await ringing).reject(486);
    const err = await failure(attempt);
    expect(err.status).toBe(486);
    expect(err.response?.get('reason')).toMatch(/Q\.850;cause=17/);
    const [row] = await cdrs(h);
    expect(row).toMatchObject({ disposition: 'busy', q850Cause: 17, sipStatus: 486 });
  });

  it('answers 486 at once when the callee is in a call and has call waiting off', async () => {
    const { phone } = await start({
      extensions: [
        { number: '2001', password: 'secret-2001' },
        { number: '2002', password: 'secret-2002', callWaiting: false },
        { number: '2003', password: 'secret-2003' },
      ],
    });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const ringing = bob.waitForCall();
    const first = await alice.dial('2002');
    await (await ringing).answer();
    await first.answered;
    const err = await failure(carol.call('2002'));
    expect(err.status).toBe(486);
  });

  it('fails with 480 / cause 20 when the callee is not registered', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const err = await failure(alice.call('2003'));
    expect(err.status).toBe(480);
    expect(err.response?.get('reason')).toMatch(/cause=20/);
    const [row] = await cdrs(h);
    expect(row).toMatchObject({ disposition: 'failed', q850Cause: 20, calleeNumber: '2003' });
  });

  it('answers 404 / cause 1 for an unknown number', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const err = await failure(alice.call('2999'));
    expect(err.status).toBe(404);
    expect(err.response?.get('reason')).toMatch(/cause=1\b/);
    const [row] = await cdrs(h);
    expect(row).toMatchObject({ disposition: 'failed', q850Cause: 1, sipStatus: 404, dialedNumber: '2999', callerNumber: '2001' });
  });

  it('gives up after the ring timeout: 480 to the caller, CANCEL to the callee, CDR no_answer / 19', async () => {
    const { h, phone } = await start({
      extensions: [
        { number: '2001', password: 'secret-2001' },
        { number: '2002', password: 'secret-2002', ringTimeout: 5 },
      ],
    });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const ringing = bob.waitForCall();
    const attempt = alice.call('2002');
    const incoming = await ringing;
    incoming.ring();
    const err = await failure(attempt);
    expect(err.status).toBe(480);
    expect(err.response?.get('reason')).toMatch(/cause=19/);
    await incoming.waitForCancel(2000);
    const [row] = await cdrs(h);
    expect(row).toMatchObject({ disposition: 'no_answer', q850Cause: 19 });
  }, 15_000);

  it('records a caller CANCEL as cancelled / 16 and cancels the callee', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const { outgoing, incoming } = await ringingCall(alice, bob, '2002');
    outgoing.cancel();
    const err = await failure(outgoing.answered);
    expect(err.status).toBe(487);
    await incoming.waitForCancel(2000);
    const [row] = await cdrs(h);
    expect(row).toMatchObject({ disposition: 'cancelled', q850Cause: 16, hangupBy: 'caller' });
  });

  it('rings every registered contact of the callee in parallel; the first answer wins and the others are cancelled', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const deskPhone = await phone('2002', 'udp');
    const softPhone = await phone('2002', 'tcp');
    expect(h.server.registrar.contacts('2002')).toHaveLength(2);
    const deskRings = deskPhone.waitForCall();
    const softRings = softPhone.waitForCall();
    const outgoing = await alice.dial('2002');
    const [desk, soft] = await Promise.all([deskRings, softRings]);
    soft.ring();
    desk.ring();
    const softCall = await soft.answer();
    const aliceCall = await outgoing.answered;
    await desk.waitForCancel(2000);
    aliceCall.rtp.startTone({ seed: 5 });
    const got = await softCall.rtp.waitForPackets(20, 5000);
    aliceCall.rtp.stopTone();
    expect(got.tone.seeds).toEqual(new Set([5]));
    await aliceCall.hangup();
    await softCall.waitForEnd();
  });

  it('plays music on hold to the other party while a phone holds by re-INVITE, and reconnects on resume', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const ringing = bob.waitForCall();
    const outgoing = await alice.dial('2002');
    const bobCall = await (await ringing).answer();
    const aliceCall = await outgoing.answered;

    const held = await aliceCall.hold();
    expect(held.status).toBe(200);
    // Alice's phone is answered recvonly; Bob's phone keeps an ordinary call and hears music on hold.
    expect(aliceCall.remoteDirection).toBe('recvonly');
    const before = bobCall.rtp.received().tone.foreign;
    await waitFor(() => bobCall.rtp.received().tone.foreign > before + 25, 5000);
    expect(bobCall.remoteDirection).toBe('sendrecv');

    const resumed = await aliceCall.resume();
    expect(resumed.status).toBe(200);
    aliceCall.rtp.startTone({ seed: 9 });
    await waitFor(() => bobCall.rtp.received().tone.seeds.has(9), 5000);
    aliceCall.rtp.stopTone();
    await bobCall.hangup();
    await aliceCall.waitForEnd();
    const [row] = await cdrs(h);
    expect(row).toMatchObject({ disposition: 'answered', hangupBy: 'callee' });
  });

  it('answers 488 when the caller offers no G.711 codec', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    await phone('2002');
    const sdp = 'v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n';
    const err = await alice.stack
      .createUAC({
        uri: 'sip:2002@hibiki.test',
        target: { transport: 'udp', address: '127.0.0.1', port: h.port('udp') },
        localSdp: sdp,
        from: '<sip:2001@hibiki.test>',
        auth: { username: '2001', password: 'secret-2001' },
      })
      .then(
        () => undefined,
        (e: unknown) => e as UacError,
      );
    expect(err).toBeInstanceOf(UacError);
    expect(err?.status).toBe(488);
  });

  it('ends an answered call whose RTP stops with cause 41', async () => {
    const { h, phone } = await start({ config: { media: { bindAddress: '127.0.0.1', address: '127.0.0.1', rtpTimeout: 2 } } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const ringing = bob.waitForCall();
    const outgoing = await alice.dial('2002');
    const bobCall = await (await ringing).answer();
    const aliceCall = await outgoing.answered;
    // Nobody sends RTP.
    const [endA, endB] = await Promise.all([aliceCall.waitForEnd(8000), bobCall.waitForEnd(8000)]);
    expect(endA.reason).toMatch(/cause=41/);
    expect(endB.reason).toMatch(/cause=41/);
    const [row] = await cdrs(h);
    expect(row).toMatchObject({ disposition: 'answered', hangupBy: 'system', q850Cause: 41 });
  }, 15_000);

  it('answers 483 to an INVITE with Max-Forwards 0', async () => {
    const { phone } = await start();
    const alice = await phone('2001');
    await phone('2002');
    const err = await failure(alice.call('2002', { headers: { 'max-forwards': '0' } }));
    expect(err.status).toBe(483);
  });

  it('answers BYE for an unknown dialog with 481', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const res = await alice.stack.request({
      method: 'BYE',
      uri: 'sip:2002@hibiki.test',
      target: { transport: 'udp', address: '127.0.0.1', port: h.port('udp') },
      to: '<sip:2002@hibiki.test>;tag=gone',
    });
    expect(res.status).toBe(481);
    void SipRequest;
  });
});

describe('reload during calls (F-RELOAD)', () => {
  it('keeps a call in progress when its callee is removed by a reload; new calls use the new plan', async () => {
    const { writeFileSync, readFileSync } = await import('node:fs');
    const { parse, stringify } = await import('yaml');
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const ringing = bob.waitForCall();
    const outgoing = await alice.dial('2002');
    const bobCall = await (await ringing).answer();
    const aliceCall = await outgoing.answered;

    // Remove the callee's extension from the file while the call is up.
    const doc = parse(readFileSync(h.configPath, 'utf8')) as { extensions: Array<{ number: string }> };
    doc.extensions = doc.extensions.filter((e) => e.number !== '2002');
    writeFileSync(h.configPath, stringify(doc));
    const until = Date.now() + 3000;
    while (h.server.currentConfig.extensions.some((e) => e.number === '2002') && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    expect(h.server.currentConfig.extensions.map((e) => e.number)).not.toContain('2002');

    // The established call still carries audio.
    aliceCall.rtp.startTone({ seed: 77 });
    const got = await bobCall.rtp.waitForPackets(20, 5000);
    aliceCall.rtp.stopTone();
    expect(got.tone.seeds.has(77)).toBe(true);
    expect(h.server.calls.active()).toHaveLength(1);

    // 2002 no longer exists for new calls.
    const err = await failure(alice.call('2002'));
    expect(err.status).toBe(404);
    await aliceCall.hangup();
    await bobCall.waitForEnd();
  });
});
