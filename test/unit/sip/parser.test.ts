import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseMessage, type ParseResult } from '../../../src/sip/parser.js';
import { SipRequest, SipResponse } from '../../../src/sip/message.js';
import { formatNameAddr } from '../../../src/sip/address.js';
import { formatUri, isSipUri, isTelUri } from '../../../src/sip/uri.js';
import { viaBranch } from '../../../src/sip/via.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/sip/', import.meta.url));

/** Fixtures are stored with LF line ends; on the wire every line ends in CRLF. */
function fixture(name: string): Buffer {
  return Buffer.from(readFileSync(FIXTURES + name, 'utf8').replace(/\n/g, '\r\n'), 'utf8');
}

function wire(lines: string[], body = ''): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'utf8');
}

function request(r: ParseResult): SipRequest {
  if (!r.ok) throw new Error(`expected ok, got ${r.status} ${r.reason}`);
  if (!(r.message instanceof SipRequest)) throw new Error('expected a request');
  return r.message;
}

function response(r: ParseResult): SipResponse {
  if (!r.ok) throw new Error(`expected ok, got ${r.status} ${r.reason}`);
  if (!(r.message instanceof SipResponse)) throw new Error('expected a response');
  return r.message;
}

const OPTIONS = [
  'OPTIONS sip:2001@pbx.test SIP/2.0',
  'Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKopt',
  'Max-Forwards: 70',
  'From: <sip:ann@client.test>;tag=o1',
  'To: <sip:2001@pbx.test>',
  'Call-ID: opt.1@198.51.100.7',
  'CSeq: 1 OPTIONS',
];

type Verdict = { ok: true } | { ok: false; status: number; answerable: boolean } | { drop: true };

/** Expected parser verdict per fixture; `answerable` = a request is attached for the error response. */
const VERDICTS: Record<string, Verdict> = {
  'folded-lws.sip': { ok: true },
  'compact-forms.sip': { ok: true },
  'ipv6-hosts.sip': { ok: true },
  'tel-uris.sip': { ok: true },
  'max-cseq.sip': { ok: true },
  'unknown-method.sip': { ok: true },
  'trailing-bytes.sip': { ok: true },
  'no-content-length.sip': { ok: true },
  'display-names.sip': { ok: true },
  'response-ok.sip': { ok: true },
  'response-empty-reason.sip': { ok: true },
  'bad-version.sip': { ok: false, status: 505, answerable: true },
  'cseq-method-mismatch.sip': { ok: false, status: 400, answerable: true },
  'duplicate-from.sip': { ok: false, status: 400, answerable: true },
  'duplicate-call-id.sip': { ok: false, status: 400, answerable: true },
  'negative-content-length.sip': { ok: false, status: 400, answerable: true },
  'oversized-content-length.sip': { ok: false, status: 400, answerable: true },
  'two-content-lengths.sip': { ok: false, status: 400, answerable: true },
  'unbalanced-quote.sip': { ok: false, status: 400, answerable: true },
  'space-in-request-uri.sip': { ok: false, status: 400, answerable: true },
  'angle-request-uri.sip': { ok: false, status: 400, answerable: true },
  'huge-cseq.sip': { ok: false, status: 400, answerable: true },
  'missing-call-id.sip': { ok: false, status: 400, answerable: true },
  'max-forwards-too-big.sip': { ok: false, status: 400, answerable: true },
  'header-without-colon.sip': { ok: false, status: 400, answerable: true },
  'comma-display-name.sip': { ok: false, status: 400, answerable: true },
  'no-version.sip': { ok: false, status: 400, answerable: true },
  'missing-via.sip': { ok: false, status: 400, answerable: false },
  'bad-via.sip': { ok: false, status: 400, answerable: true },
  'response-bad-status.sip': { drop: true },
  'response-huge-cseq.sip': { drop: true },
  'response-bad-version.sip': { drop: true },
};

describe('parseMessage: fixture verdicts', () => {
  for (const [name, verdict] of Object.entries(VERDICTS)) {
    it(name, () => {
      const r = parseMessage(fixture(name));
      if ('drop' in verdict) {
        expect(r.ok).toBe(false);
        if (!r.ok) {
          expect(r.isResponse).toBe(true);
          expect(r.request).toBeUndefined();
        }
      } else if (verdict.ok) {
        expect(r.ok, r.ok ? '' : r.reason).toBe(true);
      } else {
        expect(r.ok).toBe(false);
        if (r.ok) return;
        expect(r.status).toBe(verdict.status);
        expect(r.isResponse).toBe(false);
        expect(r.request !== undefined).toBe(verdict.answerable);
        expect(r.reason).not.toMatch(/[\r\n]/);
      }
    });
  }
});

describe('parseMessage: header handling', () => {
  it('unfolds continuation lines, expands compact forms and trims values', () => {
    const req = request(parseMessage(fixture('folded-lws.sip')));
    expect(req.method).toBe('INVITE');
    expect(req.uri).toBe('sip:2001@pbx.test;unknownparam');
    expect(req.get('to')).toBe('sip:2001@pbx.test ;   tag    = 7781x');
    expect(req.toTag).toBe('7781x');
    expect(req.from?.displayName).toBe('Ann "the caller" \\');
    expect(req.fromTag).toBe('a11ce');
    expect(req.maxForwards).toBe(42);
    expect(req.cseq).toEqual({ seq: 17, method: 'INVITE' });
    expect(req.get('x-weird')).toBe('first part second part third part');
    expect(req.vias?.map((v) => [v.transport, v.host, viaBranch(v)])).toEqual([
      ['UDP', '198.51.100.7', 'z9hG4bKfold1'],
      ['TCP', 'relay.client.test', 'z9hG4bKfold2'],
      ['UDP', '203.0.113.5', 'z9hG4bKfold3'],
    ]);
    const contact = req.contacts?.[0];
    expect(contact?.displayName).toBe('Line "two"');
    expect(contact?.params.get('expires')).toBe('300');
    expect(contact?.params.has('mine')).toBe(true);
    expect(contact?.params.get('q')).toBe('0.5');
    expect(req.get('route')).toBe('<sip:edge.pbx.test;lr;opaque=value;flag-only>');
    expect(req.body.toString('utf8')).toContain('m=audio 40000 RTP/AVP 0 101');
    for (const [key, value] of req.headers) {
      expect(key).toBe(key.toLowerCase());
      expect(value).toBe(value.trim());
      expect(value).not.toMatch(/[\r\n]/);
    }
  });

  it('maps every compact form to its full name', () => {
    const req = request(parseMessage(fixture('compact-forms.sip')));
    expect(req.headers.map(([k]) => k)).toEqual(['via', 'from', 'to', 'call-id', 'cseq', 'contact', 'supported', 'subject', 'content-type', 'content-length', 'max-forwards']);
    expect(req.callId).toBe('compact.42@198.51.100.8');
    expect(req.body.toString()).toBe('hi 2002');
    expect(req.getAll('supported')).toEqual(['timer', 'replaces']);
  });

  it('parses IPv6 hosts everywhere', () => {
    const req = request(parseMessage(fixture('ipv6-hosts.sip')));
    const ruri = req.requestUri;
    expect(isSipUri(ruri) && ruri.host).toBe('2001:db8::53');
    expect(req.vias?.map((v) => [v.host, v.port])).toEqual([
      ['2001:db8::7', 5070],
      ['2001:db8::8', undefined],
    ]);
    expect(req.vias?.[1]?.params.get('received')).toBe('2001:db8::99');
    const contact = req.contacts?.[0];
    expect(contact && formatUri(contact.uri)).toBe('sip:2003@[2001:db8::7]:5070;transport=tcp');
  });

  it('parses tel URIs in the Request-URI, From and To', () => {
    const req = request(parseMessage(fixture('tel-uris.sip')));
    expect(isTelUri(req.requestUri) && req.requestUri.number).toBe('+81-3-5555-0100');
    const from = req.from;
    expect(from && isTelUri(from.uri) && from.uri.params.get('phone-context')).toBe('pbx.test');
    expect(req.to && formatNameAddr(req.to)).toBe('<tel:+81-3-5555-0100>');
  });

  it('keeps non-ASCII display names as UTF-8', () => {
    const req = request(parseMessage(fixture('display-names.sip')));
    expect(req.from?.displayName).toBe('山田 太郎');
    expect(req.to?.displayName).toBe('Plain Token Name');
    expect(req.contacts?.[0]?.displayName).toBe('Back\\slash');
  });

  it('accepts the largest legal CSeq and unknown methods', () => {
    expect(request(parseMessage(fixture('max-cseq.sip'))).cseq?.seq).toBe(2147483647);
    const req = request(parseMessage(fixture('unknown-method.sip')));
    expect(req.method).toBe('FROBNICATE');
    expect(req.from?.displayName).toBe('Ann');
  });

  it('accepts bare LF line ends and mixed line ends', () => {
    const lf = Buffer.from(OPTIONS.join('\n') + '\nContent-Length: 4\n\nbody', 'utf8');
    const a = request(parseMessage(lf));
    expect(a.callId).toBe('opt.1@198.51.100.7');
    expect(a.body.toString()).toBe('body');
    const mixed = Buffer.from(OPTIONS.join('\r\n') + '\nContent-Length: 4\n\r\nbody', 'utf8');
    expect(request(parseMessage(mixed)).body.toString()).toBe('body');
  });

  it('ignores CRLFs before the start line (RFC 3261 §7.5)', () => {
    const req = request(parseMessage(Buffer.concat([Buffer.from('\r\n\r\n'), wire([...OPTIONS, 'Content-Length: 0'])])));
    expect(req.method).toBe('OPTIONS');
  });

  it('is liberal with extra spaces in the Request-Line', () => {
    const lines = ['OPTIONS  sip:2001@pbx.test   SIP/2.0  ', ...OPTIONS.slice(1), 'Content-Length: 0'];
    const req = request(parseMessage(wire(lines)));
    expect(req.uri).toBe('sip:2001@pbx.test');
    expect(req.version).toBe('SIP/2.0');
  });

  it('rejects a header line whose name is not a token', () => {
    const r = parseMessage(wire([...OPTIONS, 'Bad Name: x', 'Content-Length: 0']));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.status).toBe(400);
  });

  it('rejects a malformed method token', () => {
    const r = parseMessage(wire(['OPT"IONS sip:2001@pbx.test SIP/2.0', ...OPTIONS.slice(1), 'Content-Length: 0']));
    expect(!r.ok && r.status).toBe(400);
  });

  it('rejects a Call-ID with whitespace and a CSeq without a method', () => {
    const cid = parseMessage(wire([...OPTIONS.filter((l) => !l.startsWith('Call-ID')), 'Call-ID: a b', 'Content-Length: 0']));
    expect(!cid.ok && cid.status).toBe(400);
    const cseq = parseMessage(wire([...OPTIONS.filter((l) => !l.startsWith('CSeq')), 'CSeq: 7', 'Content-Length: 0']));
    expect(!cseq.ok && cseq.status).toBe(400);
    expect(!cseq.ok && cseq.request).toBeUndefined();
  });

  it('accepts a request without Max-Forwards (RFC 2543 peers) and rejects a negative one', () => {
    const without = OPTIONS.filter((l) => !l.startsWith('Max-Forwards'));
    expect(parseMessage(wire([...without, 'Content-Length: 0'])).ok).toBe(true);
    const r = parseMessage(wire([...without, 'Max-Forwards: -1', 'Content-Length: 0']));
    expect(!r.ok && r.status).toBe(400);
  });
});

describe('parseMessage: start lines', () => {
  it('parses a response with a UTF-8, comma-carrying reason phrase', () => {
    const res = response(parseMessage(fixture('response-ok.sip')));
    expect(res.status).toBe(200);
    expect(res.reason).toBe('Everything is fine, thanks');
    expect(res.toTag).toBe('r2');
    expect(res.topVia?.params.get('rport')).toBe('5099');
    const utf8 = wire(['SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять', ...fixtureHeaders('response-empty-reason.sip')]);
    expect(response(parseMessage(utf8)).reason).toBe('= 2**3 * 5**2 но сто девяносто девять');
  });

  it('accepts an empty reason phrase', () => {
    const res = response(parseMessage(fixture('response-empty-reason.sip')));
    expect(res.status).toBe(180);
    expect(res.reason).toBe('');
  });

  it('drops responses whose status is not three digits from 100 to 699', () => {
    for (const line of ['SIP/2.0 099 Low', 'SIP/2.0 700 High', 'SIP/2.0 20 Short', 'SIP/2.0 4294967301 Big', 'SIP/2.0 2x0 Hex', 'SIP/2.0']) {
      const r = parseMessage(wire([line, ...fixtureHeaders('response-empty-reason.sip')]));
      expect(r.ok, line).toBe(false);
      expect(!r.ok && r.isResponse, line).toBe(true);
    }
  });

  it('answers a request with an unsupported SIP version with 505, keeping the request', () => {
    const r = parseMessage(fixture('bad-version.sip'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.status).toBe(505);
    expect(r.request?.method).toBe('OPTIONS');
    expect(r.request?.callId).toBe('badversion.1@198.51.100.7');
  });

  it('accepts the version case-insensitively', () => {
    const req = request(parseMessage(wire(['OPTIONS sip:2001@pbx.test sip/2.0', ...OPTIONS.slice(1), 'Content-Length: 0'])));
    expect(req.version).toBe('SIP/2.0');
  });
});

describe('parseMessage: body and Content-Length', () => {
  it('ignores bytes beyond Content-Length in a datagram (RFC 4475 §3.1.1.8)', () => {
    const req = request(parseMessage(fixture('trailing-bytes.sip')));
    expect(req.body.length).toBe(0);
    expect(req.callId).toBe('trail.1@198.51.100.7');
  });

  it('takes the rest of a datagram as the body when Content-Length is missing', () => {
    const req = request(parseMessage(fixture('no-content-length.sip')));
    expect(req.body.toString()).toMatch(/^v=0\r\n[\s\S]*telephone-event\/8000\r\n$/);
  });

  it('treats a missing Content-Length as 0 on a stream', () => {
    const req = request(parseMessage(fixture('no-content-length.sip'), { stream: true }));
    expect(req.body.length).toBe(0);
  });

  it('rejects a Content-Length larger than the bytes present, on a stream too', () => {
    for (const stream of [false, true]) {
      const r = parseMessage(fixture('oversized-content-length.sip'), { stream });
      expect(!r.ok && r.status).toBe(400);
    }
  });

  it('keeps a binary multipart body byte for byte', () => {
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const body = Buffer.concat([Buffer.from('--b1\r\nContent-Type: application/octet-stream\r\n\r\n'), binary, Buffer.from('\r\n--b1--\r\n')]);
    const head = wire(['MESSAGE sip:2001@pbx.test SIP/2.0', ...OPTIONS.slice(1, 6), 'CSeq: 2 MESSAGE', 'Content-Type: multipart/mixed;boundary=b1', `Content-Length: ${body.length}`]);
    const req = request(parseMessage(Buffer.concat([head, body])));
    expect(req.body.equals(body)).toBe(true);
  });

  it('rejects non-numeric Content-Length and lists of values', () => {
    for (const cl of ['abc', '1 2', '5, 5', '+5', '']) {
      const r = parseMessage(wire([...OPTIONS, `Content-Length: ${cl}`]));
      expect(!r.ok && r.status, cl).toBe(400);
    }
  });
});

describe('parseMessage: size limit', () => {
  it('answers an oversized request with 513 and keeps it for the response', () => {
    const msg = wire([...OPTIONS, 'Content-Length: 0']);
    const r = parseMessage(msg, { maxSize: msg.length - 1 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.status).toBe(513);
    expect(r.request?.callId).toBe('opt.1@198.51.100.7');
    expect(parseMessage(msg, { maxSize: msg.length }).ok).toBe(true);
  });

  it('uses 65535 bytes by default and drops oversized responses', () => {
    const big = 'x'.repeat(70000);
    const r = parseMessage(wire([...OPTIONS, `Content-Length: ${big.length}`], big));
    expect(!r.ok && r.status).toBe(513);
    const res = parseMessage(wire(['SIP/2.0 200 OK', ...fixtureHeaders('response-empty-reason.sip').slice(0, -1), `Content-Length: ${big.length}`], big));
    expect(!res.ok && res.isResponse).toBe(true);
  });
});

describe('parseMessage: round trip', () => {
  const okFixtures = Object.entries(VERDICTS)
    .filter(([, v]) => 'ok' in v && v.ok)
    .map(([name]) => name);
  for (const name of okFixtures) {
    it(`${name}: parse → toBuffer → parse keeps headers and body`, () => {
      const first = parseMessage(fixture(name));
      if (!first.ok) throw new Error(first.reason);
      const second = parseMessage(first.message.toBuffer(), { stream: true });
      if (!second.ok) throw new Error(second.reason);
      const strip = (h: [string, string][]) => h.filter(([k]) => k !== 'content-length');
      expect(strip(second.message.headers)).toEqual(strip(first.message.headers));
      expect(second.message.body.equals(first.message.body)).toBe(true);
      expect(second.message.toBuffer().equals(first.message.toBuffer())).toBe(true);
    });
  }
});

describe('parseMessage: never throws', () => {
  it('handles empty, blank and garbage input', () => {
    const inputs = [
      Buffer.alloc(0),
      Buffer.from('\r\n\r\n'),
      Buffer.from('\n'),
      Buffer.from('SIP/2.0'),
      Buffer.from('INVITE'),
      Buffer.from('\u0000\u0001\u0002'),
      Buffer.from([0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a]),
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.from(': \r\n\r\n'),
      Buffer.from('OPTIONS sip:x SIP/2.0\r\n continuation-first\r\n\r\n'),
    ];
    for (const input of inputs) {
      const r = parseMessage(input);
      expect(r.ok).toBe(false);
    }
  });

  it('survives 5,000 random byte mutations of a valid INVITE', () => {
    const base = fixture('folded-lws.sip');
    const rand = mulberry32(0x5eed);
    const interesting = [0x00, 0x0a, 0x0d, 0x20, 0x09, 0x22, 0x3a, 0x3b, 0x3c, 0x3e, 0x2c, 0x40, 0x5b, 0x5d, 0x25, 0x5c, 0xff];
    let accepted = 0;
    for (let n = 0; n < 5000; n++) {
      let buf = Buffer.from(base);
      const edits = 1 + Math.floor(rand() * 8);
      for (let e = 0; e < edits; e++) {
        const pos = Math.floor(rand() * buf.length);
        const op = rand();
        if (op < 0.5) buf[pos] = rand() < 0.5 ? Math.floor(rand() * 256) : (interesting[Math.floor(rand() * interesting.length)] as number);
        else if (op < 0.75) buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos + 1)]);
        else if (op < 0.9) buf = Buffer.concat([buf.subarray(0, pos), Buffer.from([Math.floor(rand() * 256)]), buf.subarray(pos)]);
        else buf = buf.subarray(0, pos);
      }
      let r: ParseResult | undefined;
      expect(() => {
        r = parseMessage(buf, { stream: rand() < 0.3 });
      }).not.toThrow();
      if (r?.ok) {
        accepted++;
        // Whatever is accepted must carry the headers the stack relies on.
        expect(r.message.vias?.length).toBeGreaterThan(0);
        expect(r.message.from).not.toBeNull();
        expect(r.message.to).not.toBeNull();
        expect(r.message.cseq).not.toBeNull();
      } else if (r) {
        expect([400, 505, 513]).toContain(r.status);
        expect(r.reason).not.toMatch(/[\r\n]/);
      }
    }
    // Sanity: the mutations neither all break nor all spare the message.
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(5000);
  });
});

function fixtureHeaders(name: string): string[] {
  const text = readFileSync(FIXTURES + name, 'utf8');
  return text.split('\n\n')[0]!.split('\n').slice(1);
}

/** Small deterministic PRNG so the fuzz run is reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
