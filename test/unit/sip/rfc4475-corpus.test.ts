// Runs the RFC 4475 torture messages (../shared/corpus/rfc4475, not copied into the
// project) through the parser, one datagram each, and checks the parser-level verdict.
// Statuses decided later by the stack (416, 420, 415, 406, 501, 401, 483, registrar
// 400s) are "ok" here: the parser must hand those messages over intact.

import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseMessage } from '../../../src/sip/parser.js';
import { SipRequest, SipResponse } from '../../../src/sip/message.js';
import { isSipUri } from '../../../src/sip/uri.js';

const CORPUS = fileURLToPath(new URL('../../../../shared/corpus/rfc4475/', import.meta.url));
const exists = existsSync(CORPUS);

type Verdict =
  /** Parsed and handed to the stack. */
  | 'ok'
  /** Request refused by the parser with this status; `answer` = the request is kept so a response can be sent. */
  | { status: 400 | 505; answer: boolean }
  /** Response dropped. */
  | 'drop';

const VERDICTS: Record<string, Verdict> = {
  'wsinv.dat': 'ok',
  'intmeth.dat': 'ok', // unknown method: the stack answers 501
  'esc01.dat': 'ok',
  'escnull.dat': 'ok',
  'esc02.dat': 'ok', // RE%47IST%45R is an unknown method, not REGISTER
  'lwsdisp.dat': 'ok',
  'longreq.dat': 'ok',
  'dblreq.dat': 'ok', // the trailing INVITE is ignored
  'semiuri.dat': 'ok',
  'transports.dat': 'ok',
  'mpart01.dat': 'ok',
  'unreason.dat': 'ok',
  'noreason.dat': 'ok',
  'badinv01.dat': { status: 400, answer: true }, // Via unparsable: answered to the packet's source
  'clerr.dat': { status: 400, answer: true },
  'ncl.dat': { status: 400, answer: true },
  'scalar02.dat': { status: 400, answer: true },
  'scalarlg.dat': 'drop',
  'quotbal.dat': { status: 400, answer: true },
  'ltgtruri.dat': { status: 400, answer: true },
  'lwsruri.dat': { status: 400, answer: true },
  'lwsstart.dat': 'ok', // liberal
  'trws.dat': 'ok', // liberal
  'escruri.dat': 'ok', // liberal: URI headers are parsed, never acted upon by the parser
  'baddate.dat': 'ok', // liberal
  'regbadct.dat': 'ok', // liberal at parser level: Contact is validated by the registrar (400)
  'badaspec.dat': { status: 400, answer: true },
  'baddn.dat': { status: 400, answer: true },
  'badvers.dat': { status: 505, answer: true },
  'mismatch01.dat': { status: 400, answer: true },
  'mismatch02.dat': { status: 400, answer: true },
  'bigcode.dat': 'drop',
  'badbranch.dat': 'ok',
  'insuf.dat': { status: 400, answer: true },
  'unkscm.dat': 'ok', // 416 from the stack
  'novelsc.dat': 'ok', // 416 from the stack
  'unksm2.dat': 'ok', // registrar: 400
  'bext01.dat': 'ok', // 420 from the stack
  'invut.dat': 'ok', // 415 from the stack
  'regaut01.dat': 'ok', // 401 from the stack
  'multi01.dat': { status: 400, answer: true },
  'mcl01.dat': { status: 400, answer: true },
  'bcast.dat': 'ok',
  'zeromf.dat': 'ok',
  'cparam01.dat': 'ok',
  'cparam02.dat': 'ok',
  'regescrt.dat': 'ok',
  'sdp01.dat': 'ok', // 406 from the stack
  'inv2543.dat': 'ok',
  'test.dat': { status: 400, answer: false }, // no SIP version and no Via
};

function corpus(name: string): Buffer {
  return readFileSync(CORPUS + name);
}

describe.skipIf(!exists)('RFC 4475 corpus: parser verdicts', () => {
  it('has a verdict for every corpus file', () => {
    const files = readdirSync(CORPUS)
      .filter((f) => f.endsWith('.dat'))
      .sort();
    expect(files).toEqual(Object.keys(VERDICTS).sort());
  });

  for (const [name, verdict] of Object.entries(VERDICTS)) {
    it(name, () => {
      const r = parseMessage(corpus(name));
      if (verdict === 'ok') {
        expect(r.ok, r.ok ? '' : `${r.status} ${r.reason}`).toBe(true);
      } else if (verdict === 'drop') {
        expect(r.ok).toBe(false);
        expect(!r.ok && r.isResponse).toBe(true);
      } else {
        expect(r.ok).toBe(false);
        if (r.ok) return;
        expect(r.isResponse).toBe(false);
        expect(r.status).toBe(verdict.status);
        expect(r.request !== undefined).toBe(verdict.answer);
      }
    });
  }
});

describe.skipIf(!exists)('RFC 4475 corpus: details', () => {
  function req(name: string): SipRequest {
    const r = parseMessage(corpus(name));
    if (!r.ok || !(r.message instanceof SipRequest)) throw new Error(`${name} did not parse as a request`);
    return r.message;
  }

  it('wsinv: folding, compact forms, escaped quotes, leading zeros', () => {
    const m = req('wsinv.dat');
    expect(m.from?.displayName).toBe('J Rosenberg \\"');
    expect(m.fromTag).toBe('98asjd8');
    expect(m.toTag).toBe('1918181833n');
    expect(m.maxForwards).toBe(68);
    expect(m.cseq).toEqual({ seq: 9, method: 'INVITE' });
    expect(m.vias?.map((v) => v.params.get('branch'))).toEqual(['390skdjuw', 'z9hG4bK9ikj8', 'z9hG4bK30239']);
    expect(m.contacts?.[0]?.displayName).toBe('Quoted string ""');
    expect(m.get('newfangledheader')).toBe('newfangled value continued newfangled value');
    expect(m.body.length).toBe(150);
  });

  it('esc01 / escnull / semiuri: escaped user parts', () => {
    const esc = req('esc01.dat').requestUri;
    expect(isSipUri(esc) && esc.user).toBe('sips:user@example.com');
    expect(req('escnull.dat').from?.uri).toMatchObject({ user: 'null-\u0000-null' });
    const semi = req('semiuri.dat').requestUri;
    expect(isSipUri(semi) && semi.user).toBe('user;par=u@example.net');
  });

  it('dblreq: only the first message is parsed', () => {
    const m = req('dblreq.dat');
    expect(m.method).toBe('REGISTER');
    expect(m.body.length).toBe(0);
  });

  it('unreason / noreason: reason phrases', () => {
    const u = parseMessage(corpus('unreason.dat'));
    expect(u.ok && u.message instanceof SipResponse && u.message.reason.startsWith('= 2**3 * 5**2 но')).toBe(true);
    const n = parseMessage(corpus('noreason.dat'));
    expect(n.ok && n.message instanceof SipResponse && n.message.reason).toBe('');
  });

  it('cparam01 / cparam02: unknown params land where they were written', () => {
    expect(req('cparam01.dat').contacts?.[0]?.params.has('unknownparam')).toBe(true);
    const uri = req('cparam02.dat').contacts?.[0]?.uri;
    expect(isSipUri(uri) && uri.params.has('unknownparam')).toBe(true);
  });

  it('regbadct: the Contact is visibly unusable for the registrar', () => {
    expect(req('regbadct.dat').contacts).toBeNull();
  });
});
