import { describe, it, expect } from 'vitest';
import { MediaError } from '../../../src/media/engine.js';
import { acceptAnswer, answerOffer, buildOffer, parseSdp, type AnswerParams, type OfferedMedia } from '../../../src/media/sdp.js';
import { phoneSdp } from './rtp-phone.js';

const local: AnswerParams = { address: '192.0.2.10', port: 30000, sessionId: '42', sessionVersion: 3, direction: 'sendrecv', codecs: ['PCMU', 'PCMA'] };

function expectMediaError(fn: () => unknown, status: number): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MediaError);
    expect((err as MediaError).sipStatus).toBe(status);
    return;
  }
  throw new Error('expected a MediaError');
}

function lines(sdp: string): string[] {
  return sdp.split('\r\n').filter((l) => l !== '');
}

describe('parseSdp', () => {
  it('reads session and media connection, formats and attributes', () => {
    const sd = parseSdp(phoneSdp(4000, { extra: ['c=IN IP4 10.0.0.9'] }));
    expect(sd.connection).toEqual({ addrType: 'IP4', address: '127.0.0.1' });
    expect(sd.media).toHaveLength(1);
    expect(sd.media[0]!.port).toBe(4000);
    expect(sd.media[0]!.formats).toEqual(['0', '8', '101']);
    expect(sd.media[0]!.connection?.address).toBe('10.0.0.9');
    expect(sd.media[0]!.attributes).toContainEqual({ name: 'sendrecv', value: null });
  });

  it('rejects what is not SDP with MediaError 400, never another error', () => {
    for (const bad of ['', 'hello', 'v=0\r\nm=audio x RTP/AVP 0', 'v=0\r\nc=IN IP4', 'v=0\r\nm=audio 70000 RTP/AVP 0', 'v=0\r\nbogus line']) {
      expectMediaError(() => parseSdp(bad), 400);
    }
  });
});

describe('answerOffer', () => {
  it('picks the first offered codec we allow and answers with our address, port and ptime', () => {
    const { sdp, negotiation } = answerOffer(phoneSdp(4000, { pts: [8, 0] }), local);
    expect(negotiation.media).toMatchObject({ codec: 'PCMA', payloadType: 8, telephoneEventPt: 101, remoteAddress: '127.0.0.1', remotePort: 4000, remoteDirection: 'sendrecv' });
    const l = lines(sdp);
    expect(l[0]).toBe('v=0');
    expect(l).toContain('o=hibiki 42 3 IN IP4 192.0.2.10');
    expect(l).toContain('c=IN IP4 192.0.2.10');
    expect(l).toContain('m=audio 30000 RTP/AVP 8 101');
    expect(l).toContain('a=rtpmap:8 PCMA/8000');
    expect(l).toContain('a=fmtp:101 0-16');
    expect(l).toContain('a=ptime:20');
    expect(l).toContain('a=sendrecv');
  });

  it('honours the codecs allowed on the leg', () => {
    const { negotiation } = answerOffer(phoneSdp(4000, { pts: [0, 8] }), { ...local, codecs: ['PCMA'] });
    expect(negotiation.media.codec).toBe('PCMA');
  });

  it('answers 488 when no G.711 codec is in common', () => {
    const g729 = 'v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n';
    expectMediaError(() => answerOffer(g729, local), 488);
    expectMediaError(() => answerOffer(phoneSdp(4000, { pts: [0] }), { ...local, codecs: ['PCMA'] }), 488);
  });

  it("answers with the offerer's telephone-event payload type", () => {
    const { sdp, negotiation } = answerOffer(phoneSdp(4000, { tePt: 96 }), local);
    expect(negotiation.media.telephoneEventPt).toBe(96);
    expect(lines(sdp)).toContain('a=rtpmap:96 telephone-event/8000');
    expect(lines(sdp)).toContain('m=audio 30000 RTP/AVP 0 96');
  });

  it('leaves telephone-event out when the offer has none', () => {
    const { sdp, negotiation } = answerOffer(phoneSdp(4000, { tePt: null }), local);
    expect(negotiation.media.telephoneEventPt).toBeUndefined();
    expect(sdp).not.toContain('telephone-event');
  });

  it('mirrors the direction of the offer', () => {
    const cases: [string, string][] = [
      ['sendrecv', 'sendrecv'],
      ['sendonly', 'recvonly'],
      ['recvonly', 'sendonly'],
      ['inactive', 'inactive'],
    ];
    for (const [offered, answered] of cases) {
      const { sdp, negotiation } = answerOffer(phoneSdp(4000, { direction: offered }), local);
      expect(lines(sdp)).toContain(`a=${answered}`);
      expect(negotiation.localDirection).toBe(answered);
      expect(negotiation.media.remoteDirection).toBe(offered);
    }
  });

  it('limits the mirrored direction by the one we ask for', () => {
    expect(answerOffer(phoneSdp(4000), { ...local, direction: 'sendonly' }).negotiation.localDirection).toBe('sendonly');
    expect(answerOffer(phoneSdp(4000, { direction: 'sendonly' }), { ...local, direction: 'sendonly' }).negotiation.localDirection).toBe('inactive');
  });

  it('treats c=0.0.0.0 (RFC 2543 hold) as a hold: we answer recvonly and do not send', () => {
    const { sdp, negotiation } = answerOffer(phoneSdp(4000, { address: '0.0.0.0' }), local);
    expect(negotiation.media.remoteDirection).toBe('sendonly');
    expect(negotiation.localDirection).toBe('recvonly');
    expect(lines(sdp)).toContain('a=recvonly');
  });

  it('takes a session-level direction attribute when the media has none', () => {
    const offer = phoneSdp(4000).replace('a=sendrecv\r\n', '').replace('t=0 0\r\n', 't=0 0\r\na=sendonly\r\n');
    expect(answerOffer(offer, local).negotiation.media.remoteDirection).toBe('sendonly');
  });

  it('declines a video stream with port 0, keeping m-line count and order', () => {
    const offer =
      'v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n' + 'm=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n' + 'm=audio 4000 RTP/AVP 0\r\n' + 'm=audio 4002 RTP/AVP 8\r\n';
    const { sdp, negotiation } = answerOffer(offer, local);
    const m = lines(sdp).filter((l) => l.startsWith('m='));
    expect(m).toEqual(['m=video 0 RTP/AVP 96', 'm=audio 30000 RTP/AVP 0', 'm=audio 0 RTP/AVP 8']);
    expect(negotiation.media.remotePort).toBe(4000);
  });

  it('declines SRTP audio and fails with 488 when nothing usable is left', () => {
    const offer = 'v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n';
    expectMediaError(() => answerOffer(offer, local), 488);
  });

  it('understands static payload types without rtpmap and dynamic ones with it', () => {
    const offer = 'v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 97 0\r\na=rtpmap:97 pcma/8000\r\n';
    const { negotiation } = answerOffer(offer, local);
    expect(negotiation.media).toMatchObject({ codec: 'PCMA', payloadType: 97 });
    expect([...negotiation.inbound]).toEqual([
      [97, 'PCMA'],
      [0, 'PCMU'],
    ]);
  });

  it('writes IP6 for an IPv6 address', () => {
    const { sdp } = answerOffer(phoneSdp(4000), { ...local, address: '2001:db8::1' });
    expect(lines(sdp)).toContain('c=IN IP6 2001:db8::1');
    expect(lines(sdp)).toContain('o=hibiki 42 3 IN IP6 2001:db8::1');
  });

  it('answers 400 for a malformed offer', () => {
    expectMediaError(() => answerOffer('v=0\r\nm=audio 4000 RTP/AVP 0\r\n', local), 400);
  });
});

describe('buildOffer / acceptAnswer', () => {
  const offered: OfferedMedia = { codecs: ['PCMU', 'PCMA'], telephoneEventPt: 101, direction: 'sendrecv' };

  it('offers PCMU, PCMA and telephone-event 101 with fmtp, ptime and direction', () => {
    const l = lines(buildOffer(local, offered));
    expect(l).toEqual([
      'v=0',
      'o=hibiki 42 3 IN IP4 192.0.2.10',
      's=hibiki',
      'c=IN IP4 192.0.2.10',
      't=0 0',
      'm=audio 30000 RTP/AVP 0 8 101',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
      'a=sendrecv',
    ]);
  });

  it('takes the codec and telephone-event PT of the answer', () => {
    const n = acceptAnswer(phoneSdp(5000, { pts: [8], tePt: 96 }), offered);
    expect(n.media).toMatchObject({ codec: 'PCMA', payloadType: 8, telephoneEventPt: 96, remotePort: 5000 });
    // Both our offered and the answer's telephone-event numbers are understood on receive.
    expect(n.inbound.get(96)).toBe('telephone-event');
    expect(n.inbound.get(101)).toBe('telephone-event');
  });

  it('derives our direction from the answer: recvonly answer to our sendrecv offer → we only send', () => {
    expect(acceptAnswer(phoneSdp(5000, { direction: 'recvonly' }), offered).localDirection).toBe('sendonly');
    expect(acceptAnswer(phoneSdp(5000, { direction: 'inactive' }), offered).localDirection).toBe('inactive');
    expect(acceptAnswer(phoneSdp(5000, { direction: 'recvonly' }), { ...offered, direction: 'sendonly' }).localDirection).toBe('sendonly');
  });

  it('fails with 488 for a rejected stream or a codec we did not offer', () => {
    expectMediaError(() => acceptAnswer(phoneSdp(0), offered), 488);
    expectMediaError(() => acceptAnswer(phoneSdp(5000, { pts: [8] }), { ...offered, codecs: ['PCMU'] }), 488);
  });
});

describe('SDP from the network', () => {
  it('either negotiates or throws MediaError for thousands of mangled offers and answers', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const base = phoneSdp(4000, { extra: ['m=video 5000 RTP/AVP 96', 'a=rtpmap:96 H264/90000'] });
    const alphabet = 'v=0mac: /\r\n-1289IPN4RTAVPsendrecv\u0000\u00ff';
    const offered: OfferedMedia = { codecs: ['PCMU', 'PCMA'], telephoneEventPt: 101, direction: 'sendrecv' };
    let negotiated = 0;
    for (let i = 0; i < 3000; i++) {
      const chars = [...base];
      for (let k = 0, edits = 1 + rand(6); k < edits; k++) {
        const at = rand(chars.length);
        const op = rand(3);
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, alphabet[rand(alphabet.length)]!);
        else chars[at] = alphabet[rand(alphabet.length)]!;
      }
      const text = chars.join('');
      for (const fn of [() => answerOffer(text, local), () => acceptAnswer(text, offered)]) {
        try {
          fn();
          negotiated++;
        } catch (err) {
          if (!(err instanceof MediaError)) throw new Error(`non-MediaError for ${JSON.stringify(text)}: ${String(err)}`, { cause: err });
          expect([400, 488]).toContain(err.sipStatus);
        }
      }
    }
    // Most single-character damage still leaves a usable offer: the test exercised both paths.
    expect(negotiated).toBeGreaterThan(100);
  });
});
