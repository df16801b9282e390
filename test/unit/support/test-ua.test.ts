// The end-to-end test UA checked against itself: two UAs call each other directly (no server),
// so every call test of hibiki can trust what the UA reports about signalling, RTP and DTMF.
import { afterEach, describe, expect, it } from 'vitest';
import { TestUA, CallFailedError, type AnswerOptions, type Call, type CallOptions, type UaTransport } from '../../support/test-ua.js';
import { SipRequest } from '../../../src/sip/message.js';
import { DigestServer } from '../../../src/sip/digest.js';
import { parseRtp, parseSdp, parseTelephoneEvent, readToneFrame, sdpDirection, toneFrame, RtpPeer } from '../../support/rtp-peer.js';

const open: TestUA[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((ua) => ua.close()));
});

async function pair(transport: UaTransport = 'udp'): Promise<{ alice: TestUA; bob: TestUA }> {
  const alice = await TestUA.create({ user: '2001', transport, displayName: 'Alice' });
  const bob = await TestUA.create({ user: '2002', transport });
  open.push(alice, bob);
  return { alice, bob };
}

/** alice calls bob directly; bob answers. */
async function connect(alice: TestUA, bob: TestUA, opts: { callOpts?: CallOptions; answerOpts?: AnswerOptions } = {}): Promise<{ a: Call; b: Call }> {
  const answered = alice.call('2002', { target: bob.address, ...opts.callOpts });
  const incoming = await bob.waitForCall();
  incoming.ring();
  const b = await incoming.answer(opts.answerOpts);
  const a = await answered;
  return { a, b };
}

describe('test UA: basic calls', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    it(`calls over ${transport} and carries test-tone RTP both ways, intact and in order`, async () => {
      const { alice, bob } = await pair(transport);
      const { a, b } = await connect(alice, bob);
      expect(a.provisional).toContain(180);
      expect(a.answerResponse?.status).toBe(200);

      a.rtp.startTone({ seed: 0xa11ce });
      await b.rtp.sendPackets(15);
      const atBob = await b.rtp.waitForPackets(15, 3000);
      const atAlice = await a.rtp.waitForPackets(15, 3000);
      a.rtp.stopTone();

      expect(atBob.tone.seeds).toEqual(new Set([0xa11ce]));
      expect(atBob.tone.foreign).toBe(0);
      expect(atBob.tone.outOfOrder).toBe(0);
      expect(atBob.payloadTypes).toEqual(new Set([0]));
      expect(atBob.ssrcs).toEqual(new Set([a.rtp.ssrc]));
      // Symmetric RTP: packets come from the socket whose port is in the SDP.
      expect(atBob.sources).toEqual(new Set([`127.0.0.1:${a.rtp.port}`]));
      expect(readToneFrame(atBob.lastPayloads.at(-1) as Buffer)?.seed).toBe(0xa11ce);

      expect(atAlice.tone.intact).toBe(15);
      expect(atAlice.tone.seeds).toEqual(new Set([b.rtp.toneSeed]));
      expect(atAlice.ssrcs).toEqual(new Set([b.rtp.ssrc]));
      expect(atAlice.sources).toEqual(new Set([`127.0.0.1:${b.rtp.port}`]));

      // Sequence numbers and timestamps advance by one frame per packet.
      const fromAlice = b.rtp.packets.filter((p) => p.ssrc === a.rtp.ssrc);
      for (let i = 1; i < fromAlice.length; i++) {
        const prev = fromAlice[i - 1]!;
        const cur = fromAlice[i]!;
        expect((cur.seq - prev.seq + 0x10000) % 0x10000).toBe(1);
        expect((cur.timestamp - prev.timestamp + 2 ** 32) % 2 ** 32).toBe(160);
      }
      expect(fromAlice[0]!.marker).toBe(true);

      await a.hangup();
      const end = await b.waitForEnd();
      expect(end.by).toBe('remote');
      expect(a.ended?.by).toBe('local');
      expect(a.rtp.isClosed && b.rtp.isClosed).toBe(true);
    });
  }

  it('records the SIP messages of a call: the INVITE with its headers and From, the 180 and 200', async () => {
    const { alice, bob } = await pair();
    const answered = alice.call('2002', { target: bob.address, headers: { 'x-test-case': 'headers', privacy: 'id' } });
    const incoming = await bob.waitForCall();
    expect(incoming.request.get('x-test-case')).toBe('headers');
    expect(incoming.request.get('privacy')).toBe('id');
    expect(incoming.from).toMatch(/^"Alice" <sip:2001@hibiki\.test>;tag=/);
    expect(incoming.request.contentType).toBe('application/sdp');
    incoming.ring();
    await incoming.answer();
    const a = await answered;
    const statuses = a.messages.filter((m) => !m.isRequest).map((m) => (m as { status: number }).status);
    expect(statuses).toContain(180);
    expect(statuses).toContain(200);
    const ack = await bob.waitForMessage((m) => m instanceof SipRequest && m.method === 'ACK' && m.callId === a.callId, 2000, 'the ACK');
    expect(incoming.messages).toContain(ack);
  });

  it('answers a 407 to its INVITE with Proxy-Authorization: same Call-ID and From tag, CSeq + 1', async () => {
    const digest = new DigestServer({ realm: 'hibiki.test', algorithms: ['SHA-256', 'MD5'], nonceTtlSec: 30 });
    const alice = await TestUA.create({ user: '2001', password: 'secret-2001' });
    const bob = await TestUA.create({ user: '2002' });
    open.push(alice, bob);
    const answered = alice.call('2002', { target: bob.address });
    const first = await bob.waitForCall();
    first.reject(407, { headers: { 'proxy-authenticate': digest.challenge() } });
    const second = await bob.waitForCall();
    expect(second.callId).toBe(first.callId);
    expect(second.request.fromTag).toBe(first.request.fromTag);
    expect(second.request.cseq?.seq).toBe((first.request.cseq?.seq ?? 0) + 1);
    const credentials = second.request.get('proxy-authorization') as string;
    expect(digest.verify(credentials, 'INVITE', second.request.uri, (u) => (u === '2001' ? { password: 'secret-2001' } : undefined))).toEqual({ result: 'ok', username: '2001' });
    await second.answer();
    const a = await answered;
    await a.hangup();
  });

  it('hangs up from the callee side with a Reason header the caller sees', async () => {
    const { alice, bob } = await pair();
    const { a, b } = await connect(alice, bob);
    await b.hangup({ reason: 'Q.850;cause=16;text="Normal call clearing"' });
    const end = await a.waitForEnd();
    expect(end.by).toBe('remote');
    expect(end.reason).toBe('Q.850;cause=16;text="Normal call clearing"');
    expect(end.request?.method).toBe('BYE');
    expect(alice.calls.size).toBe(0);
    expect(bob.calls.size).toBe(0);
  });

  it('rejects: the caller gets the status, and a call error carries the provisional responses', async () => {
    const { alice, bob } = await pair();
    for (const status of [486, 603]) {
      const answered = alice.call('2002', { target: bob.address });
      const incoming = await bob.waitForCall();
      incoming.ring();
      incoming.reject(status);
      const err = await answered.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CallFailedError);
      expect(err).toMatchObject({ status, provisional: [100, 180] });
    }
  });

  it('cancels before answer: 487 at the caller, the callee sees the CANCEL and can no longer answer', async () => {
    const { alice, bob } = await pair();
    const out = await alice.dial('2002', { target: bob.address });
    const incoming = await bob.waitForCall();
    incoming.ring();
    await out.waitForProvisional(180);
    out.cancel();
    await expect(out.answered).rejects.toMatchObject({ status: 487 });
    await incoming.waitForCancel();
    expect(incoming.isCancelled).toBe(true);
    await expect(incoming.answer()).rejects.toThrow(/cancelled/);
    expect(out.rtp.isClosed).toBe(true);
  });

  it('answers 488 when no codec is in common, and negotiates PCMA when that is the only one', async () => {
    const { alice, bob } = await pair();
    const failed = alice.call('2002', { target: bob.address, codecs: ['PCMA'] });
    const first = await bob.waitForCall();
    await expect(first.answer({ codecs: ['PCMU'] })).rejects.toThrow(/488/);
    await expect(failed).rejects.toMatchObject({ status: 488 });

    const { a, b } = await connect(alice, bob, { callOpts: { codecs: ['PCMA'] } });
    expect(a.rtp.remote?.codec).toBe('PCMA');
    expect(b.rtp.remote?.payloadType).toBe(8);
    await a.rtp.sendPackets(3, { burst: true });
    const got = await b.rtp.waitForPackets(3, 2000);
    expect(got.payloadTypes).toEqual(new Set([8]));
  });

  it('plays early media after 183 with SDP, before the answer', async () => {
    const { alice, bob } = await pair();
    const out = await alice.dial('2002', { target: bob.address });
    const incoming = await bob.waitForCall();
    const early = await incoming.progress();
    await out.waitForProvisional(183);
    await early.sendPackets(5, { burst: true });
    const got = await out.rtp.waitForPackets(5, 2000);
    expect(got.tone.intact).toBe(5);
    const b = await incoming.answer();
    const a = await out.answered;
    expect(b.rtp).toBe(early);
    await a.hangup();
  });
});

describe('test UA: DTMF', () => {
  it('sends RFC 4733 digits the far end detects, with marker, start timestamps and three end packets', async () => {
    const { alice, bob } = await pair();
    const { a, b } = await connect(alice, bob);
    a.rtp.startTone();
    await a.sendDtmf('1*9#', { durationMs: 100 });
    expect(await b.rtp.waitForDigits('1*9#', 3000)).toBe('1*9#');
    a.rtp.stopTone();

    const events = b.rtp.received().telephoneEvents;
    expect(new Set(b.rtp.packets.filter((p) => p.payloadType === 101).map((p) => p.ssrc))).toEqual(new Set([a.rtp.ssrc]));
    const byTs = new Map<number, typeof events>();
    for (const e of events) byTs.set(e.ts, [...(byTs.get(e.ts) ?? []), e]);
    expect(byTs.size).toBe(4);
    for (const [, packets] of byTs) {
      expect(packets[0]!.marker).toBe(true);
      expect(packets.slice(1).every((p) => !p.marker)).toBe(true);
      const updates = packets.filter((p) => !p.end);
      const ends = packets.filter((p) => p.end);
      expect(updates.length).toBeGreaterThanOrEqual(3);
      expect(updates.map((p) => p.duration)).toEqual([160, 320, 480, 640, 800]);
      expect(ends).toHaveLength(3);
      expect(ends.every((p) => p.duration === 800)).toBe(true);
    }
    // Tone frames around the digits share the sequence space and clock.
    expect(b.rtp.received().tone.outOfOrder).toBe(0);
    const seqs = b.rtp.packets.map((p) => p.seq);
    for (let i = 1; i < seqs.length; i++) expect((seqs[i]! - seqs[i - 1]! + 0x10000) % 0x10000).toBe(1);
  });

  it('sends SIP INFO digits (application/dtmf-relay and application/dtmf) the far end records', async () => {
    const { alice, bob } = await pair();
    const { a, b } = await connect(alice, bob, { callOpts: { infoDtmf: true } });
    await a.sendDtmf('59');
    await a.sendDtmf('*', { contentType: 'application/dtmf' });
    expect(await b.waitForInfoDigits('59*')).toBe('59*');
    expect(b.infoDtmf).toEqual([
      { digit: '5', durationMs: 160, contentType: 'application/dtmf-relay' },
      { digit: '9', durationMs: 160, contentType: 'application/dtmf-relay' },
      { digit: '*', durationMs: undefined, contentType: 'application/dtmf' },
    ]);
    const info = await b.waitForRequest('INFO');
    expect(info.body.toString()).toBe('Signal=5\r\nDuration=160\r\n');
    // INFO digits are not RTP events.
    expect(b.rtp.received().digits()).toBe('');
  });

  it('cannot send RFC 4733 digits when telephone-event was not negotiated', async () => {
    const { alice, bob } = await pair();
    const { a } = await connect(alice, bob, { answerOpts: { telephoneEvent: false } });
    expect(a.rtp.remote?.telephoneEventPt).toBeUndefined();
    await expect(a.sendDtmf('1')).rejects.toThrow(/telephone-event/);
  });
});

describe('test UA: hold and resume', () => {
  it('holds with a=sendonly: the held side answers recvonly and stops sending; resume restores both ways', async () => {
    const { alice, bob } = await pair();
    const { a, b } = await connect(alice, bob);
    a.rtp.startTone();
    b.rtp.startTone();
    await a.rtp.waitForPackets(3, 2000);
    await b.rtp.waitForPackets(3, 2000);

    const res = await a.hold();
    expect(sdpDirection(res.body)).toBe('recvonly');
    expect(await b.waitForRemoteDirection('sendonly')).toBe('sendonly');
    expect(b.rtp.localDirection).toBe('recvonly');
    expect(b.rtp.canSend).toBe(false);
    const reinvite = await b.waitForRequest('INVITE', { match: (r) => sdpDirection(r.body) === 'sendonly' });
    expect(reinvite.cseq?.seq).toBeGreaterThan(a.request.cseq?.seq ?? 0);

    // While held, alice still sends and bob does not.
    const heldAtBob = b.rtp.received().audioPackets;
    await b.rtp.waitForPackets(5, 2000, { since: heldAtBob });
    const sentByBob = b.rtp.sent().audioPackets;
    await new Promise((r) => setTimeout(r, 120));
    expect(b.rtp.sent().audioPackets).toBe(sentByBob);
    expect(b.rtp.sent().withheld).toBeGreaterThan(0);

    await a.resume();
    expect(b.remoteDirection).toBe('sendrecv');
    const before = a.rtp.received().audioPackets;
    await a.rtp.waitForPackets(5, 2000, { since: before });
    expect(a.rtp.received().tone.outOfOrder).toBe(0);
    await b.hangup();
    await a.waitForEnd();
  });

  it('the callee can hold the caller too', async () => {
    const { alice, bob } = await pair('tcp');
    const { a, b } = await connect(alice, bob);
    await b.hold();
    await a.waitForRemoteDirection('sendonly');
    expect(a.rtp.localDirection).toBe('recvonly');
    await b.resume();
    await a.waitForRemoteDirection('sendrecv');
    expect(a.rtp.localDirection).toBe('sendrecv');
  });
});

describe('test UA: waits fail clearly', () => {
  it('times out with a message naming what it waited for', async () => {
    const { alice } = await pair();
    await expect(alice.waitForCall({ timeoutMs: 50 })).rejects.toThrow(/timed out after 50 ms waiting for an incoming call at 2001/);
    const peer = await RtpPeer.open();
    try {
      await expect(peer.waitForPackets(1, 30)).rejects.toThrow(/1 audio packets .*got 0/);
      await expect(peer.waitForDigits('1', 30)).rejects.toThrow(/digits "1"/);
    } finally {
      peer.close();
    }
  });
});

describe('rtp-peer building blocks', () => {
  it('tone frames carry seed and counter, and damaged frames are not taken for tone', () => {
    const f = toneFrame(7, 42);
    expect(f).toHaveLength(160);
    expect(readToneFrame(f)).toEqual({ seed: 7, counter: 42 });
    const damaged = Buffer.from(f);
    damaged[100] = (damaged[100]! + 1) & 0xff;
    expect(readToneFrame(damaged)).toBeUndefined();
    expect(readToneFrame(Buffer.alloc(160, 0xff))).toBeUndefined();
  });

  it('parses RTP with CSRCs, extension and padding, and refuses non-RTP', () => {
    const payload = Buffer.from([1, 2, 3]);
    const pkt = Buffer.concat([
      Buffer.from([0xb1, 0xe5, 0x00, 0x07, 0, 0, 0, 9, 0, 0, 0, 5]), // V=2 P X CC=1, M, PT=101
      Buffer.from([0, 0, 0, 1]), // CSRC
      Buffer.from([0xbe, 0xde, 0x00, 0x01, 9, 9, 9, 9]), // one-word extension
      payload,
      Buffer.from([0, 2]), // padding of 2
    ]);
    const parsed = parseRtp(pkt);
    expect(parsed?.header).toEqual({ payloadType: 101, marker: true, seq: 7, timestamp: 9, ssrc: 5 });
    expect(parsed?.payload).toEqual(payload);
    expect(parseRtp(Buffer.from('INVITE sip:x SIP/2.0'))).toBeUndefined();
    expect(parseTelephoneEvent(Buffer.from([11, 0x8a, 0x03, 0x20]))).toEqual({ event: 11, end: true, volume: 10, duration: 800 });
  });

  it('parses SDP with session-level connection and media-level direction', () => {
    const sdp = [
      'v=0',
      'o=- 1 2 IN IP4 10.0.0.1',
      's=-',
      'c=IN IP4 10.0.0.1',
      't=0 0',
      'a=sendrecv',
      'm=audio 4000 RTP/AVP 8 0 96',
      'a=rtpmap:96 telephone-event/8000',
      'a=inactive',
      'm=video 5000 RTP/AVP 97',
      'a=sendonly',
      '',
    ].join('\r\n');
    const a = parseSdp(sdp);
    expect(a).toMatchObject({ address: '10.0.0.1', port: 4000, payloadTypes: [8, 0, 96], telephoneEventPt: 96, direction: 'inactive', originVersion: 2 });
    expect(parseSdp('v=0\r\n')).toBeUndefined();
  });

  it('answers an offer in the offerer codec order with the offered telephone-event payload type', async () => {
    const peer = await RtpPeer.open({ codecs: ['PCMU', 'PCMA'] });
    try {
      const offer = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 4002 RTP/AVP 8 0 100', 'a=rtpmap:100 telephone-event/8000', 'a=sendonly', ''].join('\r\n');
      const answer = parseSdp(peer.answerOffer(offer) as string);
      expect(answer).toMatchObject({ port: peer.port, payloadTypes: [8, 0, 100], telephoneEventPt: 100, direction: 'recvonly' });
      expect(peer.remote).toMatchObject({ address: '127.0.0.1', port: 4002, codec: 'PCMA', payloadType: 8, telephoneEventPt: 100, direction: 'sendonly' });
      expect(peer.telephoneEventPt).toBe(100);
      expect(peer.canSend).toBe(false);
    } finally {
      peer.close();
    }
  });
});
