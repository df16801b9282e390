// SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966), other schemes kept opaque.

import { isIPv6 } from 'node:net';
import { parseParams, type Params } from './params.js';

export interface SipUri {
  scheme: 'sip' | 'sips';
  /** Percent-decoded. */
  user?: string;
  /** Percent-decoded. */
  password?: string;
  /** Lower-case; IPv6 without brackets. */
  host: string;
  port?: number;
  /** URI parameters, names lower-cased, names and values percent-decoded. */
  params: Params;
  /** URI headers (`?name=value&…`), percent-decoded, names as written. */
  headers: Map<string, string>;
}

export interface TelUri {
  scheme: 'tel';
  /** Global (`+81-3-…`) or local number, visual separators kept. */
  number: string;
  params: Params;
}

/** Any other scheme, kept as text (e.g. "mailto", "http", "urn"). */
export interface AbsoluteUri {
  scheme: string;
  opaque: string;
}

export type Uri = SipUri | TelUri | AbsoluteUri;

const COLON = 0x3a;
const PERCENT = 0x25;

function tableOf(chars: string): Uint8Array {
  const t = new Uint8Array(128);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

// RFC 3261 §25.1 unreserved = alphanum / mark; mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
const MARK = "-_.!~*'()";
/** user = 1*( unreserved / escaped / user-unreserved ), user-unreserved = & = + $ , ; ? / */
const USER_SAFE = tableOf(MARK + '&=+$,;?/');
/** password = *( unreserved / escaped / & = + $ , ) */
const PASSWORD_SAFE = tableOf(MARK + '&=+$,');
/** paramchar = param-unreserved / unreserved / escaped; param-unreserved = [ ] / : & + $ */
const PARAM_SAFE = tableOf(MARK + '[]/:&+$');
/** hname / hvalue characters: hnv-unreserved = [ ] / ? : + $ */
const HEADER_SAFE = tableOf(MARK + '[]/?:+$');
/**
 * Accepted unescaped in a received user or password. Wider than the RFC sets: some
 * devices send `#` raw in dial strings; formatUri escapes it on the way out.
 */
const USERINFO_LENIENT = tableOf(MARK + '&=+$,;?/%#:');
/** hostname = *( domainlabel "." ) toplabel; `_` is tolerated as many SRV-style names carry it. */
const HOST_CHARS = tableOf('-._');

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Decode %XX escapes; null on a malformed escape. Decoded octets are read as UTF-8
 * (invalid sequences become U+FFFD: such a URI is not round-tripped byte for byte).
 */
export function percentDecode(s: string): string | null {
  const first = s.indexOf('%');
  if (first < 0) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === PERCENT) {
      if (i + 2 >= s.length) return null;
      const hi = hexVal(s.charCodeAt(i + 1));
      const lo = hexVal(s.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return null;
      bytes.push(hi * 16 + lo);
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(s[i] as string, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

const HEX = '0123456789ABCDEF';

/** Percent-encode every character outside `safe` (as UTF-8 octets). */
function escapeWith(s: string, safe: Uint8Array): string {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || safe[c] !== 1) break;
  }
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (const ch of s.slice(i)) {
    const c = ch.charCodeAt(0);
    if (c < 128 && safe[c] === 1) {
      out += ch;
      continue;
    }
    for (const b of Buffer.from(ch, 'utf8')) out += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

export interface HostPort {
  host: string;
  port: number | undefined;
}

/**
 * Parse `host[:port]` where host is a hostname, IPv4 address or bracketed IPv6 reference
 * (RFC 3261 §25.1 hostport). Host is lower-cased; IPv6 is returned without brackets.
 */
export function parseHostPort(text: string, start = 0, end = text.length): HostPort | null {
  let host: string;
  let i = start;
  if (i >= end) return null;
  if (text.charCodeAt(i) === 0x5b /* [ */) {
    const close = text.indexOf(']', i);
    if (close < 0 || close >= end) return null;
    host = text.slice(i + 1, close);
    if (!isIPv6(host)) return null;
    host = host.toLowerCase();
    i = close + 1;
    if (i < end && text.charCodeAt(i) !== COLON) return null;
  } else {
    let upper = false;
    for (; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === COLON) break;
      if (c >= 128 || HOST_CHARS[c] !== 1) return null;
      if (c >= 0x41 && c <= 0x5a) upper = true;
    }
    if (i === start) return null;
    host = upper ? text.slice(start, i).toLowerCase() : text.slice(start, i);
  }
  if (i >= end) return { host, port: undefined };
  // text[i] is ':'; RFC 3261 §25.1 port = 1*DIGIT, bounded to the 16-bit range.
  const digits = end - i - 1;
  if (digits < 1 || digits > 5) return null;
  let port = 0;
  for (let j = i + 1; j < end; j++) {
    const c = text.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return null;
    port = port * 10 + (c - 0x30);
  }
  if (port > 65535) return null;
  return { host, port };
}

/** `host[:port]`, bracketing IPv6 literals. */
export function formatHostPort(host: string, port?: number): string {
  const h = host.indexOf(':') >= 0 && host.charCodeAt(0) !== 0x5b ? '[' + host + ']' : host;
  return port === undefined ? h : h + ':' + port;
}

/** URI params: names lower-cased and, like values, percent-decoded (RFC 3261 §19.1.4 compares them unescaped). */
function parseUriParams(text: string, start: number, end: number): Params | null {
  const raw = parseParams(text, start, end);
  if (!raw) return null;
  const pct = text.indexOf('%', start);
  if (pct < 0 || pct >= end) return raw;
  const out: Params = new Map();
  for (const [k, v] of raw) {
    const name = percentDecode(k);
    if (name === null) return null;
    let value: string | null = null;
    if (v !== null) {
      value = percentDecode(v);
      if (value === null) return null;
    }
    const key = name.toLowerCase();
    if (!out.has(key)) out.set(key, value);
  }
  return out;
}

function formatUriParams(p: Params): string {
  let out = '';
  for (const [k, v] of p) {
    out += ';' + escapeWith(k, PARAM_SAFE);
    if (v !== null) out += '=' + escapeWith(v, PARAM_SAFE);
  }
  return out;
}

function parseUriHeaders(text: string): Map<string, string> | null {
  const headers = new Map<string, string>();
  for (const part of text.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return null;
    const name = percentDecode(part.slice(0, eq));
    const value = percentDecode(part.slice(eq + 1));
    if (name === null || value === null) return null;
    if (!headers.has(name)) headers.set(name, value);
  }
  return headers;
}

/**
 * Characters never accepted in a URI: space, controls, DEL, `"`, `<`, `>`, and
 * (for sip/sips/tel, which must escape them) non-ASCII.
 */
function isForbidden(c: number, allowNonAscii: boolean): boolean {
  return c <= 0x20 || c === 0x7f || c === 0x22 || c === 0x3c || c === 0x3e || (c > 0x7f && !allowNonAscii);
}

function hasForbiddenChar(s: string, start: number, allowNonAscii: boolean, end = s.length): boolean {
  for (let i = start; i < end; i++) if (isForbidden(s.charCodeAt(i), allowNonAscii)) return true;
  return false;
}

/** `text` is the whole URI; `begin` is just after "sip:" / "sips:". */
function parseSipUri(scheme: 'sip' | 'sips', text: string, begin: number): SipUri | null {
  const n = text.length;
  // The first '@' ends the userinfo: neither user nor password may contain it unescaped,
  // while the user part may contain ';' and '?' (RFC 3261 §25.1 user-unreserved).
  // Each part below is scanned against its own character set, which also rejects
  // whitespace, controls, quotes and angle brackets.
  const at = text.indexOf('@', begin);
  let user: string | undefined;
  let password: string | undefined;
  let hostStart = begin;
  if (at >= 0) {
    let colon = -1;
    let escaped = false;
    for (let i = begin; i < at; i++) {
      const c = text.charCodeAt(i);
      if (USERINFO_LENIENT[c] !== 1) return null;
      if (c === COLON && colon < 0) colon = i;
      else if (c === PERCENT) escaped = true;
    }
    const userEnd = colon < 0 ? at : colon;
    if (userEnd === begin) return null;
    const u = escaped ? percentDecode(text.slice(begin, userEnd)) : text.slice(begin, userEnd);
    if (u === null) return null;
    user = u;
    if (colon >= 0) {
      const p = escaped ? percentDecode(text.slice(colon + 1, at)) : text.slice(colon + 1, at);
      if (p === null) return null;
      password = p;
    }
    hostStart = at + 1;
  }
  let hostEnd = hostStart;
  while (hostEnd < n) {
    const c = text.charCodeAt(hostEnd);
    if (c === 0x3b /* ; */ || c === 0x3f /* ? */) break;
    hostEnd++;
  }
  const hostport = parseHostPort(text, hostStart, hostEnd);
  if (!hostport) return null;
  let q = hostEnd;
  let params: Params;
  if (hostEnd < n && text.charCodeAt(hostEnd) === 0x3b) {
    q = text.indexOf('?', hostEnd);
    if (q < 0) q = n;
    // parseParams tolerates LWS and quoted values, which a URI cannot carry.
    if (hasForbiddenChar(text, hostEnd, false, q)) return null;
    const p = parseUriParams(text, hostEnd, q);
    if (!p) return null;
    params = p;
  } else {
    params = new Map();
  }
  let headers: Map<string, string>;
  if (q < n) {
    if (hasForbiddenChar(text, q + 1, false)) return null;
    const h = parseUriHeaders(text.slice(q + 1));
    if (!h) return null;
    headers = h;
  } else {
    headers = new Map();
  }
  // One object shape for every SipUri keeps property access monomorphic.
  return { scheme, user, password, host: hostport.host, port: hostport.port, params, headers };
}

// RFC 3966 §3: visual-separator = "-" / "." / "(" / ")"
function isVisualSeparator(c: number): boolean {
  return c === 0x2d || c === 0x2e || c === 0x28 || c === 0x29;
}

function parseTelUri(text: string, begin: number): TelUri | null {
  if (hasForbiddenChar(text, begin, false)) return null;
  let semi = text.indexOf(';', begin);
  if (semi < 0) semi = text.length;
  const number = text.slice(begin, semi);
  let params: Params;
  if (semi < text.length) {
    const p = parseUriParams(text, semi, text.length);
    if (!p) return null;
    params = p;
  } else {
    params = new Map();
  }
  const global = number.charCodeAt(0) === 0x2b; /* + */
  let digits = 0;
  for (let i = global ? 1 : 0; i < number.length; i++) {
    const c = number.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) digits++;
    else if (!global && (hexVal(c) >= 0 || c === 0x2a || c === 0x23))
      digits++; // local: HEXDIG / "*" / "#"
    else if (!isVisualSeparator(c)) return null;
  }
  if (digits === 0) return null;
  // A local number is only meaningful with its context (RFC 3966 §5.1.5).
  if (!global && !params.has('phone-context')) return null;
  return { scheme: 'tel', number, params };
}

/** RFC 3986 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
function isScheme(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alpha = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
    if (alpha) continue;
    if (i > 0 && ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e)) continue;
    return false;
  }
  return true;
}

function isLetter(c: number, lower: number): boolean {
  return (c | 0x20) === lower; // only the two cases of that letter satisfy this
}

/** Parse a URI; null when malformed. The text must not contain whitespace. */
export function parseUri(text: string): Uri | null {
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  if (isLetter(text.charCodeAt(0), 0x73) && isLetter(text.charCodeAt(1), 0x69) && isLetter(text.charCodeAt(2), 0x70)) {
    if (colon === 3) return parseSipUri('sip', text, 4);
    if (colon === 4 && isLetter(text.charCodeAt(3), 0x73)) return parseSipUri('sips', text, 5);
  }
  const schemeText = text.slice(0, colon);
  if (!isScheme(schemeText)) return null;
  const scheme = schemeText.toLowerCase();
  if (scheme === 'tel') return parseTelUri(text, colon + 1);
  if (colon + 1 >= text.length || hasForbiddenChar(text, colon + 1, true)) return null;
  return { scheme, opaque: text.slice(colon + 1) };
}

export function formatUri(u: Uri): string {
  if (isSipUri(u)) {
    let s = u.scheme + ':';
    if (u.user !== undefined && u.user !== '') {
      s += escapeWith(u.user, USER_SAFE);
      if (u.password !== undefined) s += ':' + escapeWith(u.password, PASSWORD_SAFE);
      s += '@';
    }
    s += formatHostPort(u.host, u.port);
    if (u.params.size > 0) s += formatUriParams(u.params);
    if (u.headers.size > 0) {
      let sep = '?';
      for (const [k, v] of u.headers) {
        s += sep + escapeWith(k, HEADER_SAFE) + '=' + escapeWith(v, HEADER_SAFE);
        sep = '&';
      }
    }
    return s;
  }
  if (isTelUri(u)) return 'tel:' + u.number + formatUriParams(u.params);
  return u.scheme + ':' + (u as AbsoluteUri).opaque;
}

export function isSipUri(u: Uri | null | undefined): u is SipUri {
  return u !== null && u !== undefined && (u.scheme === 'sip' || u.scheme === 'sips');
}

export function isTelUri(u: Uri | null | undefined): u is TelUri {
  return u !== null && u !== undefined && u.scheme === 'tel';
}

/**
 * RFC 3261 §19.1.4 URI equivalence for SIP and SIPS URIs: userinfo compared case-sensitively, host
 * case-insensitively, a port only equal to the same explicit port; URI parameters present in both must
 * match (case-insensitively), user, ttl, method and maddr must not appear in one only, other parameters
 * in one only are ignored; URI headers must be the same in both. tel URIs (RFC 3966 §4) compare their
 * numbers without visual separators and their parameters; other schemes compare as text.
 */
export function uriEquivalent(a: Uri, b: Uri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (isSipUri(a) && isSipUri(b)) {
    if (a.user !== b.user || a.password !== b.password || a.host !== b.host || a.port !== b.port) return false;
    if (!paramsEquivalent(a.params, b.params, (name) => MUST_BE_IN_BOTH.has(name))) return false;
    if (a.headers.size !== b.headers.size) return false;
    const bHeaders = new Map([...b.headers].map(([k, v]) => [k.toLowerCase(), v]));
    for (const [k, v] of a.headers) if (bHeaders.get(k.toLowerCase()) !== v) return false;
    return true;
  }
  if (isTelUri(a) && isTelUri(b)) {
    const digits = (n: string): string => n.replace(/[-.()]/g, '').toLowerCase();
    return digits(a.number) === digits(b.number) && paramsEquivalent(a.params, b.params, () => true);
  }
  return (a as AbsoluteUri).opaque === (b as AbsoluteUri).opaque;
}

/** URI parameters that make two SIP URIs differ when only one of them carries it (§19.1.4). */
const MUST_BE_IN_BOTH = new Set(['user', 'ttl', 'method', 'maddr']);

/** Parameters in both must match (names are lower-cased by the parser; values compare case-insensitively). */
function paramsEquivalent(a: Params, b: Params, mustBeInBoth: (name: string) => boolean): boolean {
  for (const [name, value] of a) {
    if (!b.has(name)) {
      if (mustBeInBoth(name)) return false;
      continue;
    }
    const other = b.get(name) ?? null;
    if (value === null || other === null) {
      if (value !== other) return false;
    } else if (value.toLowerCase() !== other.toLowerCase()) {
      return false;
    }
  }
  for (const name of b.keys()) if (!a.has(name) && mustBeInBoth(name)) return false;
  return true;
}
