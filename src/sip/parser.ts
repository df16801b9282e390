// Wire bytes → SipRequest / SipResponse (RFC 3261 §7). One call parses exactly one
// message: stream framing is the transport's job. Header values stay raw strings (the
// model parses them lazily); only what the stack relies on is validated here, so that
// a message either reaches the stack in a usable state or is answered/dropped early.

import { CACHED_NAME_MAX, headerKey } from './headers.js';
import { EMPTY, SipRequest, SipResponse, type HeaderEntry } from './message.js';
import { isToken, isTokenChar } from './params.js';
import { ownString } from './strings.js';

export type ParseResult = { ok: true; message: SipRequest | SipResponse } | { ok: false; status: number; reason: string; isResponse: boolean; request?: SipRequest };

export interface ParseOptions {
  /** Stream transport (TCP/TLS/WS): a missing Content-Length means an empty body. */
  stream?: boolean;
  /** Larger messages are refused: 513 for a request, dropped for a response. */
  maxSize?: number;
}

const DEFAULT_MAX_SIZE = 65535;
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
/** RFC 3261 §8.1.1.5: the CSeq sequence number MUST be less than 2**31. */
const MAX_CSEQ = 0x7fffffff;

/** Whitespace trimmed from line ends (a bare CR before LF included). */
function isBlank(c: number): boolean {
  return c === SP || c === HT || c === CR;
}

/** Headers that must appear at most once (RFC 3261 §7.3.1; RFC 4475 §3.1.2.x, §3.3.8). */
const SINGLETONS = ['from', 'to', 'call-id', 'cseq', 'max-forwards', 'content-length'] as const;
type Singleton = (typeof SINGLETONS)[number];
const DISPLAY: Record<Singleton, string> = {
  from: 'From',
  to: 'To',
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'max-forwards': 'Max-Forwards',
  'content-length': 'Content-Length',
};

type Failure = Extract<ParseResult, { ok: false }>;

function badRequest(detail: string, isResponse: boolean, request?: SipRequest): Failure {
  const f: Failure = { ok: false, status: 400, reason: 'Bad Request - ' + detail, isResponse };
  if (request) f.request = request;
  return f;
}

export function parseMessage(data: Buffer, opts: ParseOptions = {}): ParseResult {
  try {
    return parse(data, opts.stream === true, opts.maxSize ?? DEFAULT_MAX_SIZE);
  } catch {
    // Defensive: the parser is written not to throw, but a bad datagram must never escape.
    return badRequest('Unparsable message', startsWithSipVersion(data));
  }
}

function startsWithSipVersion(data: Buffer): boolean {
  let i = 0;
  while (i < data.length && (data[i] === CR || data[i] === LF)) i++;
  return data.length - i >= 4 && data.toString('latin1', i, i + 4).toUpperCase() === 'SIP/';
}

/** Decimal digits only, no sign; null when empty, non-digit or longer than maxDigits (after leading zeros). */
function parseDigits(s: string, maxDigits: number): number | null {
  if (s.length === 0) return null;
  let n = 0;
  let significant = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
    if (n === 0 && c === 0x30) continue;
    if (++significant > maxDigits) return Infinity;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

/** RFC 3261 §20.16 CSeq = 1*DIGIT LWS Method; the number is range-checked by the caller. */
function parseCSeqValue(v: string): { seq: number; method: string } | null {
  let i = 0;
  while (i < v.length && v.charCodeAt(i) >= 0x30 && v.charCodeAt(i) <= 0x39) i++;
  if (i === 0) return null;
  const digits = v.slice(0, i);
  let j = i;
  while (j < v.length && (v.charCodeAt(j) === SP || v.charCodeAt(j) === HT)) j++;
  if (j === i) return null;
  const method = v.slice(j);
  if (!isToken(method)) return null;
  const seq = parseDigits(digits, 10);
  if (seq === null) return null;
  return { seq, method };
}

function hasWhitespace(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === SP || c === HT) return true;
  }
  return false;
}

/**
 * Header-name cache keyed by a case-folded hash computed during the token scan, so the
 * common names need neither a slice nor a string-keyed lookup. A hit is confirmed by a
 * case-insensitive comparison; anything else goes through headerKey().
 */
const nameCache = new Map<number, { lower: string; key: string }>();

function keyOf(head: string, start: number, end: number, hash: number): string {
  const hit = nameCache.get(hash);
  if (hit !== undefined && hit.lower.length === end - start) {
    const lower = hit.lower;
    let i = 0;
    for (; i < lower.length; i++) {
      let c = head.charCodeAt(start + i);
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (c !== lower.charCodeAt(i)) break;
    }
    if (i === lower.length) return hit.key;
  }
  const name = head.slice(start, end);
  const key = headerKey(name);
  // A copy: name is a slice of the whole header block, which the cache would otherwise keep alive.
  if (hit === undefined && nameCache.size < 512 && name.length <= CACHED_NAME_MAX) nameCache.set(hash, { lower: ownString(name.toLowerCase()), key });
  return key;
}

interface RequestLine {
  kind: 'request';
  method: string;
  uri: string;
  version: string;
}
interface StatusLine {
  kind: 'response';
  version: string;
  status: number;
  reason: string;
}

/** Split on runs of SP/HT: RFC 3261 wants single SPs, but extra ones are harmless (RFC 4475 §3.1.2.9/10). */
function words(line: string, limit: number): { parts: string[]; restStart: number } {
  const parts: string[] = [];
  let i = 0;
  const n = line.length;
  while (parts.length < limit) {
    while (i < n && (line.charCodeAt(i) === SP || line.charCodeAt(i) === HT)) i++;
    if (i >= n) break;
    const s = i;
    while (i < n && line.charCodeAt(i) !== SP && line.charCodeAt(i) !== HT) i++;
    parts.push(line.slice(s, i));
  }
  return { parts, restStart: i };
}

interface StartLineError {
  kind: 'error';
  isResponse: boolean;
  detail: string;
  /** Whatever stood in the method and Request-URI places, for the rejected request. */
  method: string;
  uri: string;
}

function parseStartLine(line: string): RequestLine | StatusLine | StartLineError {
  const { parts, restStart } = words(line, 3);
  const first = parts[0];
  const err = (isResponse: boolean, detail: string): StartLineError => ({
    kind: 'error',
    isResponse,
    detail,
    method: first ?? '',
    uri: parts[1] ?? '',
  });
  if (first === undefined) return err(false, 'Empty start line');
  if (first.indexOf('/') >= 0) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (reason may be empty, RFC 4475 §3.1.1.13)
    const code = parts[1];
    if (code === undefined || code.length !== 3) return err(true, 'Bad status code');
    const status = parseDigits(code, 3);
    if (status === null || status < 100 || status > 699) return err(true, 'Bad status code');
    let reason = parts[2] === undefined ? '' : parts[2] + line.slice(restStart);
    reason = reason.trim();
    return { kind: 'response', version: first, status, reason };
  }
  const [method, uri, version] = parts;
  if (method === undefined || uri === undefined || version === undefined || line.slice(restStart).trim() !== '') {
    return err(false, 'Malformed Request-Line');
  }
  return { kind: 'request', method, uri, version };
}

/** The SIP-Version string is case-insensitive (RFC 3261 §7.1). */
function isSip20(v: string): boolean {
  return v.length === 7 && v.toUpperCase() === 'SIP/2.0';
}

function isSipVersion(v: string): boolean {
  return /^SIP\/[0-9]{1,5}\.[0-9]{1,5}$/i.test(v);
}

function parse(data: Buffer, stream: boolean, maxSize: number): ParseResult {
  const len = data.length;
  // RFC 3261 §7.5: CRLFs before the start-line are ignored.
  let start = 0;
  while (start < len && (data[start] === CR || data[start] === LF)) start++;
  if (start >= len) return badRequest('Empty message', false);

  // Find the empty line ending the header section, accepting bare LF line ends.
  let headEnd = len;
  let bodyStart = len;
  for (let pos = start; ;) {
    const nl = data.indexOf(LF, pos);
    if (nl < 0) break;
    const next = data[nl + 1];
    if (next === LF) {
      headEnd = nl;
      bodyStart = nl + 2;
      break;
    }
    if (next === CR && data[nl + 2] === LF) {
      headEnd = nl;
      bodyStart = nl + 3;
      break;
    }
    pos = nl + 1;
  }
  const head = data.toString('utf8', start, headEnd);

  let lineEnd = head.indexOf('\n');
  if (lineEnd < 0) lineEnd = head.length;
  const first = head.charCodeAt(lineEnd - 1) === CR ? head.slice(0, lineEnd - 1) : head.slice(0, lineEnd);
  const startLine = parseStartLine(first);
  // A bad Status-Line means drop; a bad Request-Line still gets its headers parsed so
  // that a 400 can be sent (RFC 4475 §3.1.2.8).
  if (startLine.kind === 'error' && startLine.isResponse) return badRequest(startLine.detail, true);
  const isResponse = startLine.kind === 'response';

  // Header lines; a line starting with SP/HT continues the previous one (RFC 3261 §7.3.1).
  const headers: HeaderEntry[] = [];
  let lineError: string | undefined;
  let last: HeaderEntry | undefined;
  const counts: Record<Singleton, number> = { from: 0, to: 0, 'call-id': 0, cseq: 0, 'max-forwards': 0, 'content-length': 0 };
  const headLen = head.length;
  for (let pos = lineEnd + 1; pos < headLen;) {
    let nl = head.indexOf('\n', pos);
    if (nl < 0) nl = headLen;
    let end = nl;
    while (end > pos && isBlank(head.charCodeAt(end - 1))) end--;
    const c0 = head.charCodeAt(pos);
    if (c0 === SP || c0 === HT) {
      let i = pos + 1;
      while (i < end && isBlank(head.charCodeAt(i))) i++;
      if (last === undefined) lineError ??= 'Continuation line without a header';
      else if (i < end) last[1] = last[1].length > 0 ? last[1] + ' ' + head.slice(i, end) : head.slice(i, end);
    } else {
      last = undefined;
      let i = pos;
      let hash = 0;
      for (; i < end; i++) {
        const c = head.charCodeAt(i);
        if (!isTokenChar(c)) break;
        hash = (Math.imul(hash, 31) + (c | 0x20)) | 0;
      }
      const nameEnd = i;
      while (i < end && (head.charCodeAt(i) === SP || head.charCodeAt(i) === HT)) i++;
      if (nameEnd === pos || i >= end || head.charCodeAt(i) !== COLON) {
        lineError ??= 'Malformed header line';
      } else {
        i++;
        while (i < end && (head.charCodeAt(i) === SP || head.charCodeAt(i) === HT)) i++;
        const key = keyOf(head, pos, nameEnd, hash);
        switch (key) {
          case 'from':
          case 'to':
          case 'call-id':
          case 'cseq':
          case 'max-forwards':
          case 'content-length':
            counts[key]++;
        }
        last = [key, head.slice(i, end)];
        headers.push(last);
      }
    }
    pos = nl + 1;
  }

  // Body (RFC 3261 §18.3): Content-Length wins; without it a datagram's body is the rest.
  let body: Buffer = EMPTY;
  let clError: string | undefined;
  const available = len - bodyStart;
  if (counts['content-length'] === 1) {
    const raw = headers.find(([k]) => k === 'content-length')?.[1] ?? '';
    const cl = parseDigits(raw, 10);
    if (cl === null) clError = 'Malformed Content-Length';
    else if (cl > available) clError = 'Content-Length larger than the message';
    else if (cl > 0) body = data.subarray(bodyStart, bodyStart + cl);
  } else if (counts['content-length'] === 0 && !stream && available > 0) {
    body = data.subarray(bodyStart);
  }

  if (isResponse) {
    const sl = startLine as StatusLine;
    const res = new SipResponse(sl.status, sl.reason, headers, body, sl.version);
    // A response is never answered: any defect means drop (RFC 4475 §3.1.2.5, §3.1.2.19).
    const defect = len > maxSize ? 'Message too large' : !isSip20(sl.version) ? 'Unsupported SIP version' : (lineError ?? duplicateError(counts) ?? clError ?? commonHeaderError(res));
    if (defect !== undefined) return badRequest(defect, true);
    return { ok: true, message: res };
  }

  if (startLine.kind === 'error') {
    const req = new SipRequest(startLine.method, startLine.uri, headers, body);
    return badRequest(startLine.detail, false, canBeAnswered(req) ? req : undefined);
  }
  const rl = startLine as RequestLine;
  const req = new SipRequest(rl.method, rl.uri, headers, body, isSip20(rl.version) ? 'SIP/2.0' : rl.version);
  const fail = (status: number, reason: string): Failure => {
    const f: Failure = { ok: false, status, reason, isResponse: false };
    if (canBeAnswered(req)) f.request = req;
    return f;
  };
  if (!isToken(rl.method)) return fail(400, 'Bad Request - Malformed method');
  if (!isSip20(rl.version)) {
    return isSipVersion(rl.version) ? fail(505, 'Version Not Supported') : fail(400, 'Bad Request - Malformed SIP version');
  }
  if (req.requestUri === null) return fail(400, 'Bad Request - Malformed Request-URI');
  if (len > maxSize) return fail(513, 'Message Too Large');
  const defect = lineError ?? duplicateError(counts) ?? clError ?? requestHeaderError(req, counts) ?? commonHeaderError(req);
  if (defect !== undefined) return fail(400, 'Bad Request - ' + defect);
  return { ok: true, message: req };
}

function duplicateError(counts: Record<Singleton, number>): string | undefined {
  for (const key of SINGLETONS) if (counts[key] > 1) return 'Duplicate ' + DISPLAY[key] + ' header';
  return undefined;
}

/** Checks that only apply to requests: presence (RFC 3261 §8.1.1), CSeq method, Max-Forwards. */
function requestHeaderError(req: SipRequest, counts: Record<Singleton, number>): string | undefined {
  for (const key of ['to', 'from', 'call-id', 'cseq'] as const) {
    if (counts[key] === 0) return 'Missing ' + DISPLAY[key] + ' header';
  }
  if (!req.has('via')) return 'Missing Via header';
  const cseq = req.cseq;
  // RFC 3261 §8.1.1.5 / RFC 4475 §3.1.2.17: the CSeq method must be the request's method.
  if (cseq && cseq.method !== req.method) return 'CSeq method does not match the request method';
  const mf = req.get('max-forwards');
  if (mf !== undefined) {
    const n = parseDigits(mf, 3);
    if (n === null || n > 255) return 'Malformed Max-Forwards';
  }
  return undefined;
}

/**
 * Validity of the headers every transaction relies on, for requests and responses.
 * Contact is left to its consumers (registrar, dialog layer: `contacts === null` → 400),
 * which keeps the common path lean; see RFC 4475 §3.1.2.13 ("400, or liberal").
 */
function commonHeaderError(msg: SipRequest | SipResponse): string | undefined {
  const vias = msg.vias;
  if (vias === null) return 'Malformed Via header';
  if (vias.length === 0) return 'Missing Via header';
  const from = msg.get('from');
  if (from === undefined) return 'Missing From header';
  if (msg.from === null) return 'Malformed From header';
  const to = msg.get('to');
  if (to === undefined) return 'Missing To header';
  if (msg.to === null) return 'Malformed To header';
  const callId = msg.get('call-id');
  if (callId === undefined) return 'Missing Call-ID header';
  if (callId.length === 0 || hasWhitespace(callId)) return 'Malformed Call-ID header';
  if (!msg.has('cseq')) return 'Missing CSeq header';
  // The model's view (cached for the stack) must agree; the number is below 2**31.
  const cseq = msg.cseq;
  if (cseq === null || cseq.seq > MAX_CSEQ) return 'Malformed CSeq header';
  return undefined;
}

/**
 * Whether an error response can be sent for a rejected request: it needs parsable Vias
 * (where the response goes, RFC 3261 §18.2.2) and a CSeq that is at least "number
 * method" (the client matches on it). From, To and Call-ID are copied verbatim by the
 * response builder, malformed or not: RFC 4475 §3.1.2.6/§3.1.2.15/§3.3.1 still expect a
 * 400 for requests whose From/To are broken or missing.
 */
/**
 * Enough to build an error response: a Via to copy (even an unparsable one — the stack then answers
 * to the packet's source, RFC 4475 §3.1.2.1) and a CSeq that reads as "number method".
 */
function canBeAnswered(req: SipRequest): boolean {
  if (!req.has('via')) return false;
  return parseCSeqValue(req.get('cseq') ?? '') !== null;
}
