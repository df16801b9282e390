// An answered call keeps its INVITE for as long as it lasts but lets go of what was parsed from its headers
// (issue #13, memory per call): read again, every header parses to what it did before. Its body (the SDP
// offer, a slice keeping the whole datagram) goes too: the offer lives on in the dialog and the endpoint.
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../src/sip/parser.js';
import type { SipRequest } from '../../../src/sip/message.js';
import { Leg } from '../../../src/pbx/leg.js';
import type { ServerResponse } from '../../../src/sip/server-response.js';
import type { Dialog } from '../../../src/sip/dialog.js';

const INVITE = Buffer.from(
  [
    'INVITE sip:2002@hibiki.test SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-forget;rport',
    'From: "Alice" <sip:2001@hibiki.test>;tag=a1',
    'To: <sip:2002@hibiki.test>',
    'Call-ID: forget-parsed',
    'CSeq: 7 INVITE',
    'Contact: <sip:2001@127.0.0.1:5070>;expires=60',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
  'latin1',
);

describe('SipMessage.forgetParsed', () => {
  it('drops the parsed headers and parses them again to the same values', () => {
    const parsed = parseMessage(INVITE);
    if (!parsed.ok) throw new Error(parsed.reason);
    const req = parsed.message as SipRequest;
    const before = { from: req.from, to: req.to, vias: req.vias, contacts: req.contacts, cseq: req.cseq, uri: req.requestUri };
    expect(before.uri).toMatchObject({ user: '2002' });
    expect(before.vias?.[0]?.host).toBe('127.0.0.1');
    expect(before.contacts).toHaveLength(1);
    expect((req as unknown as { cache?: Map<string, unknown> }).cache?.size).toBeGreaterThan(0);
    req.forgetParsed();
    expect((req as unknown as { cache?: Map<string, unknown> }).cache).toBeUndefined();
    expect((req as unknown as { parsedUri?: unknown }).parsedUri).toBeUndefined();
    expect({ from: req.from, to: req.to, vias: req.vias, contacts: req.contacts, cseq: req.cseq, uri: req.requestUri }).toEqual(before);
    expect(req.fromTag).toBe('a1');
  });

  it('an answered leg lets go of its INVITE’s parsed headers and body, and keeps the offer’s text', () => {
    const withSdp = Buffer.concat([INVITE.subarray(0, INVITE.indexOf('Content-Length')), Buffer.from('Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n')]);
    const parsed = parseMessage(withSdp);
    if (!parsed.ok) throw new Error(parsed.reason);
    const req = parsed.message as SipRequest;
    expect(req.body.toString()).toBe('v=0\n');
    void req.from;
    const leg = new Leg('caller', { number: '2001' }, '2001', { req, res: {} as ServerResponse, sdp: 'v=0\n' });
    leg.markAnswered({ remote: { sdp: 'v=0\n' } } as Dialog);
    expect(req.body.length).toBe(0);
    expect((req as unknown as { cache?: Map<string, unknown> }).cache).toBeUndefined();
    expect(leg.invite?.sdp).toBe('v=0\n');
    expect(req.callId).toBe('forget-parsed');
  });

  it('packs the headers into one string and gives back the same entries when they are read again', () => {
    const parsed = parseMessage(INVITE);
    if (!parsed.ok) throw new Error(parsed.reason);
    const req = parsed.message as SipRequest;
    const before = req.headers.map(([k, v]) => [k, v]);
    req.packHeaders();
    const inside = req as unknown as { entries?: unknown; packed?: string };
    expect(inside.entries).toBeUndefined();
    expect(typeof inside.packed).toBe('string');
    expect(req.get('from')).toBe('"Alice" <sip:2001@hibiki.test>;tag=a1');
    expect(req.headers).toEqual(before);
    // Unpacked on that read; changes apply as to any message.
    req.set('max-forwards', 69);
    expect(req.get('max-forwards')).toBe('69');
    expect(req.toBuffer().toString('latin1')).toContain('Max-Forwards: 69');
  });

  it('leaves a header list with a line break in a value as it is (it could not be split back)', () => {
    const parsed = parseMessage(INVITE);
    if (!parsed.ok) throw new Error(parsed.reason);
    const req = parsed.message as SipRequest;
    req.add('x-odd', 'a\nb');
    req.packHeaders();
    expect((req as unknown as { packed?: string }).packed).toBeUndefined();
    expect(req.get('x-odd')).toBe('a\nb');
  });
});
