// An answered call keeps its INVITE for as long as it lasts but lets go of what was parsed from its headers
// (issue #13, memory per call): read again, every header parses to what it did before.
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../src/sip/parser.js';
import type { SipRequest } from '../../../src/sip/message.js';

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
    const before = { from: req.from, to: req.to, vias: req.vias, contacts: req.contacts, cseq: req.cseq };
    expect(before.vias?.[0]?.host).toBe('127.0.0.1');
    expect(before.contacts).toHaveLength(1);
    expect((req as unknown as { cache?: Map<string, unknown> }).cache?.size).toBeGreaterThan(0);
    req.forgetParsed();
    expect((req as unknown as { cache?: Map<string, unknown> }).cache).toBeUndefined();
    expect({ from: req.from, to: req.to, vias: req.vias, contacts: req.contacts, cseq: req.cseq }).toEqual(before);
    expect(req.fromTag).toBe('a1');
  });
});
