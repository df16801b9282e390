// RFC 4475 torture messages against the running server: each message is sent as one UDP
// datagram and hibiki's answer (or its silence) is checked against the verdicts of
// ../shared/corpus/rfc4475/EXPECTED.md. The same verdicts run over the project's own messages
// in test/fixtures/torture/ (same defects, different bytes), so the check runs without ../shared.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/sip/parser.js';
import { SipRequest, SipResponse } from '../../src/sip/message.js';
import { startHibiki, type RunningHibiki } from '../support/hibiki.js';
import { ackFor, RawUa } from '../support/raw-ua.js';

const CORPUS_DIR = fileURLToPath(new URL('../../../shared/corpus/rfc4475/', import.meta.url));
const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/torture/', import.meta.url));

/**
 * What hibiki must do with a message:
 * - handle: a proper final answer that shows the message was understood — anything but
 *   silence, 500 (internal error) and the parser's refusals (400, 505, 513);
 * - status: exactly one of the listed statuses;
 * - liberal: 400, or handled (RFC 4475 lets a receiver accept some bad syntax);
 * - drop-or: one of the statuses, or no answer at all;
 * - silence: never answered (responses are never answered, RFC 3261 §18.1.2).
 */
type Verdict = { kind: 'handle' } | { kind: 'status'; statuses: number[] } | { kind: 'liberal' } | { kind: 'drop-or'; statuses: number[] } | { kind: 'silence' };

interface Expectation {
  section: string;
  verdict: Verdict;
  /** Further checks on the answer, when there is one. */
  check?: (res: SipResponse) => void;
  /** Call-IDs that must get no answer at all. */
  unanswered?: string[];
  /** The top Via is the defect: the message is sent exactly as it is (see aimTopVia). */
  viaIsDefect?: boolean;
}

const handle: Verdict = { kind: 'handle' };
const liberal: Verdict = { kind: 'liberal' };
const silence: Verdict = { kind: 'silence' };
const status = (...statuses: number[]): Verdict => ({ kind: 'status', statuses });

/** Value of one header as a list of comma-separated items, lower-cased. */
function items(res: SipResponse, header: string): string[] {
  return res.getAll(header).map((v) => v.trim().toLowerCase());
}

const hasAllow = (res: SipResponse): void => {
  expect(items(res, 'allow')).toContain('options');
};

// EXPECTED.md, one row per message. "handle" for a request to a user hibiki does not serve
// still means a proper answer (401, 404, 405…), never a 500 and never silence.
const EXPECTED: Record<string, Expectation> = {
  wsinv: { section: '3.1.1.1', verdict: handle },
  intmeth: { section: '3.1.1.2', verdict: status(501, 405), check: hasAllow },
  esc01: { section: '3.1.1.3', verdict: handle },
  escnull: { section: '3.1.1.4', verdict: handle },
  // The escaped method RE%47IST%45R is not REGISTER.
  esc02: { section: '3.1.1.5', verdict: status(501, 405), check: hasAllow },
  lwsdisp: { section: '3.1.1.6', verdict: handle },
  longreq: { section: '3.1.1.7', verdict: handle },
  // Only the first message of the datagram is handled; the INVITE after its Content-Length is ignored.
  dblreq: { section: '3.1.1.8', verdict: handle, unanswered: ['dblreq.0ha0isnda977644900765@192.0.2.15', 'dblreq.second-invite@198.51.100.15'] },
  semiuri: { section: '3.1.1.9', verdict: handle },
  transports: { section: '3.1.1.10', verdict: handle },
  mpart01: { section: '3.1.1.11', verdict: handle },
  unreason: { section: '3.1.1.12', verdict: silence },
  noreason: { section: '3.1.1.13', verdict: silence },
  // The top Via itself is broken (";;,;,,"). RFC 4475 expects a 400, but a response needs a Via
  // to go to (RFC 3261 §18.2.2) and this one has none that parses: hibiki drops the message.
  // It is sent unchanged (see aimTopVia), so even a 400 would go to the Via's port, not to us.
  badinv01: { section: '3.1.2.1', verdict: { kind: 'status', statuses: [400] }, viaIsDefect: true },
  clerr: { section: '3.1.2.2', verdict: status(400) },
  ncl: { section: '3.1.2.3', verdict: status(400) },
  scalar02: { section: '3.1.2.4', verdict: status(400) },
  scalarlg: { section: '3.1.2.5', verdict: silence },
  quotbal: { section: '3.1.2.6', verdict: status(400) },
  ltgtruri: { section: '3.1.2.7', verdict: liberal },
  lwsruri: { section: '3.1.2.8', verdict: status(400) },
  lwsstart: { section: '3.1.2.9', verdict: liberal },
  trws: { section: '3.1.2.10', verdict: liberal },
  escruri: { section: '3.1.2.11', verdict: liberal },
  baddate: { section: '3.1.2.12', verdict: liberal },
  regbadct: { section: '3.1.2.13', verdict: liberal },
  badaspec: { section: '3.1.2.14', verdict: liberal },
  baddn: { section: '3.1.2.15', verdict: status(400) },
  badvers: { section: '3.1.2.16', verdict: status(505) },
  mismatch01: { section: '3.1.2.17', verdict: status(400) },
  mismatch02: { section: '3.1.2.18', verdict: status(400, 501) },
  bigcode: { section: '3.1.2.19', verdict: silence },
  badbranch: { section: '3.2.1', verdict: liberal },
  insuf: { section: '3.3.1', verdict: status(400) },
  unkscm: { section: '3.3.2', verdict: status(416) },
  novelsc: { section: '3.3.3', verdict: status(416) },
  // As a registrar: the AOR in To is not a sip/sips URI.
  unksm2: { section: '3.3.4', verdict: status(400) },
  bext01: {
    section: '3.3.5',
    verdict: status(420),
    check: (res) => {
      const unsupported = items(res, 'unsupported');
      expect(unsupported).toHaveLength(2);
      expect(unsupported.every((tag) => tag.startsWith('nothingsupportsthis') || tag.startsWith('nobodysupports'))).toBe(true);
    },
  },
  invut: { section: '3.3.6', verdict: status(415), check: (res) => expect(items(res, 'accept')).toContain('application/sdp') },
  // An unknown Authorization scheme is not a credential: challenge as usual.
  regaut01: {
    section: '3.3.7',
    verdict: status(401),
    check: (res) => expect(res.getAll('www-authenticate').every((c) => c.startsWith('Digest '))).toBe(true),
  },
  multi01: { section: '3.3.8', verdict: status(400) },
  mcl01: { section: '3.3.9', verdict: status(400) },
  bcast: { section: '3.3.10', verdict: silence },
  // hibiki is the UAS of an OPTIONS to itself: Max-Forwards 0 is not a reason for 483.
  zeromf: { section: '3.3.11', verdict: handle, check: (res) => expect(res.status).not.toBe(483) },
  cparam01: { section: '3.3.12', verdict: handle },
  cparam02: { section: '3.3.13', verdict: handle },
  regescrt: { section: '3.3.14', verdict: handle },
  sdp01: { section: '3.3.15', verdict: status(406), check: (res) => expect(items(res, 'accept')).toContain('application/sdp') },
  inv2543: { section: '3.4.1', verdict: handle },
  // No SIP version on the request line, and no Via at all: nowhere to send an answer.
  test: { section: '—', verdict: { kind: 'drop-or', statuses: [400] } },
};

const PARSER_REFUSALS = new Set([400, 500, 505, 513]);

function accepts(verdict: Verdict, res: SipResponse | undefined): boolean {
  switch (verdict.kind) {
    case 'silence':
      return res === undefined;
    case 'drop-or':
      return res === undefined || verdict.statuses.includes(res.status);
    case 'status':
      return res !== undefined && verdict.statuses.includes(res.status);
    case 'handle':
      return res !== undefined && !PARSER_REFUSALS.has(res.status);
    case 'liberal':
      return res !== undefined && res.status !== 500 && res.status !== 505 && res.status !== 513;
  }
}

/** How long silence must last before it counts as "no answer". */
const SILENCE_MS = 300;
/** How long an expected answer may take. */
const ANSWER_MS = 2000;

// SWS as in RFC 3261 §25.1: optional whitespace, possibly a line fold.
const SWS = String.raw`[ \t]*(?:\r?\n[ \t]+)?`;
const TOP_VIA = new RegExp(String.raw`^((?:via|v)[ \t]*:${SWS}SIP${SWS}/${SWS}[^/\s]+${SWS}/${SWS}[A-Za-z0-9.!%*_+\x60'~-]+)((?:[ \t]|\r?\n[ \t])+)([^;,\s]+)([^\r\n]*)`, 'im');

/**
 * Points the top Via's sent-by at the test socket and adds rport, keeping every other byte.
 * Most torture messages name hosts that are not us and no rport, so hibiki would answer to
 * the source address at the Via's port (5060 by default, RFC 3261 §18.2.2) — a port a test
 * running in parallel with others cannot own. Messages without a Via (test.dat) and those
 * whose top Via is itself the defect (badinv01) are sent unchanged: hibiki answers an
 * unparsable Via to the packet's source, which is the test socket; test.dat accepts silence.
 */
function aimTopVia(message: Buffer, sentBy: string): Buffer {
  const text = message.toString('latin1');
  const headEnd = text.search(/\r?\n\r?\n/);
  const head = headEnd < 0 ? text : text.slice(0, headEnd);
  const m = TOP_VIA.exec(head);
  if (!m) return message;
  // Groups: 1 "Via: SIP/2.0/UDP", 2 the LWS before sent-by, 3 sent-by, 4 the rest of the line.
  const rest = m[4] ?? '';
  const rport = /;\s*rport\b/i.test(rest) ? '' : ';rport';
  const replaced = `${m[1] ?? ''}${m[2] ?? ''}${sentBy}${rport}${rest}`;
  return Buffer.from(text.slice(0, m.index) + replaced + text.slice(m.index + m[0].length), 'latin1');
}

/** The first Call-ID in the message (compact form i included), as hibiki will copy it. */
function callIdOf(message: Buffer): string {
  const m = /^(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)/im.exec(message.toString('latin1'));
  return m ? (m[1] ?? '').trim() : '';
}

interface TortureMessage {
  name: string;
  bytes: Buffer;
}

function corpusMessages(): TortureMessage[] {
  // describe.skipIf still collects the suite: without ../shared there is nothing to load.
  if (!existsSync(CORPUS_DIR)) return [];
  return readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.dat'))
    .sort()
    .map((f) => ({ name: f.slice(0, -4), bytes: readFileSync(CORPUS_DIR + f) }));
}

/** Our fixtures are stored with LF line ends (like test/fixtures/sip); every LF is CRLF on the wire. */
function fixtureMessages(): TortureMessage[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.sip'))
    .sort()
    .map((f) => {
      const raw = readFileSync(FIXTURE_DIR + f);
      const parts: Buffer[] = [];
      let from = 0;
      for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) {
        parts.push(raw.subarray(from, i), Buffer.from('\r\n'));
        from = i + 1;
      }
      parts.push(raw.subarray(from));
      return { name: f.slice(0, -4), bytes: Buffer.concat(parts) };
    });
}

function tortureSuite(label: string, load: () => TortureMessage[]): void {
  let hibiki: RunningHibiki;
  const messages = load();

  beforeAll(async () => {
    hibiki = await startHibiki({ transports: [{ transport: 'udp' }] });
  });

  afterAll(async () => {
    await hibiki?.stop();
  });

  it('has a verdict for every message and a message for every verdict', () => {
    expect(messages.map((m) => m.name).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  // Each message is sent from its own socket, as each came from its own host: several share a
  // branch (z9hG4bKkdjuw), and with one sent-by for all they would match each other's server
  // transactions as retransmissions (RFC 3261 §17.2.3).
  it.each(messages.map((m) => [m.name, m] as const))(`${label} %s`, async (name, message) => {
    const expectation = EXPECTED[name];
    if (!expectation) throw new Error(`no verdict for ${name}`);
    const ua = await RawUa.open({ port: hibiki.port('udp') });
    try {
      const bytes = expectation.viaIsDefect ? message.bytes : aimTopVia(message.bytes, ua.sentBy);
      const callId = callIdOf(bytes);
      const silenceAllowed = expectation.verdict.kind === 'silence' || expectation.verdict.kind === 'drop-or';
      const answered = ua.waitFor((m) => m instanceof SipResponse && m.status >= 200 && m.callId === callId, silenceAllowed ? SILENCE_MS : ANSWER_MS);
      await ua.send(bytes);
      const res = (await answered) as SipResponse | undefined;
      const got = res ? `${res.status} ${res.reason}` : 'no answer';
      expect(accepts(expectation.verdict, res), `${name} (RFC 4475 §${expectation.section}): got ${got}`).toBe(true);
      if (res) expectation.check?.(res);

      // A failed INVITE that went through a transaction is ACKed like a real UA would, which
      // ends hibiki's retransmissions of the answer.
      const sent = parseMessage(bytes);
      if (res && sent.ok && sent.message instanceof SipRequest && sent.message.method === 'INVITE' && res.status >= 300) {
        await ua.send(ackFor(sent.message, res));
      }
      for (const other of expectation.unanswered ?? []) {
        const stray = await ua.waitFor((m) => m instanceof SipResponse && m.callId === other, SILENCE_MS);
        expect(stray, `${name}: nothing may answer ${other}`).toBeUndefined();
      }
      if (silenceAllowed && !res) expect(ua.messages.filter((m) => m instanceof SipResponse && m.status >= 200)).toEqual([]);
    } finally {
      await ua.close();
    }
  });

  it('still answers OPTIONS afterwards and logged no internal error', async () => {
    const ua = await RawUa.open({ port: hibiki.port('udp') });
    try {
      const res = await ua.request(ua.buildRequest({ method: 'OPTIONS', uri: `sip:127.0.0.1:${hibiki.port('udp')}` }));
      expect(res.status).toBe(200);
    } finally {
      await ua.close();
    }
    const errors = hibiki.logs.filter((l) => typeof l.level === 'number' && l.level >= 50);
    expect(errors).toEqual([]);
    expect(hibiki.logs.some((l) => l.msg === 'error while handling a message' || l.msg === 'request handler failed')).toBe(false);
  });
}

describe.skipIf(!existsSync(CORPUS_DIR))('RFC 4475 corpus (../shared/corpus/rfc4475) over UDP', () => {
  tortureSuite('corpus', corpusMessages);
});

describe('RFC 4475 defects, the project copy (test/fixtures/torture) over UDP', () => {
  tortureSuite('fixture', fixtureMessages);
});
