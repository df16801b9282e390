// Header-name knowledge shared by the parser, the message model and the serializer.
import { ownString } from './strings.js';

/** RFC 3261 §7.3.3 compact forms plus the common extensions (RFC 3515, 3841, 4028, 3903). */
const COMPACT_FORMS: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  r: 'refer-to',
  b: 'referred-by',
  o: 'event',
  u: 'allow-events',
  x: 'session-expires',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
  y: 'identity',
};

/** Display spelling for headers whose capitalisation is not simple Title-Case. */
const DISPLAY_NAMES: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  rack: 'RAck',
  rseq: 'RSeq',
  'p-asserted-identity': 'P-Asserted-Identity',
  'p-preferred-identity': 'P-Preferred-Identity',
  'sip-etag': 'SIP-ETag',
  'sip-if-match': 'SIP-If-Match',
  'min-se': 'Min-SE',
};

/**
 * Headers whose values are comma-separated lists per RFC 3261 §7.3.1 and may be
 * split into several values. Authorization-family headers, and single-valued headers
 * whose values may legitimately contain commas (Date, dates in Retry-After comments),
 * are deliberately absent.
 */
const LIST_HEADERS = new Set([
  'via',
  'contact',
  'route',
  'record-route',
  'allow',
  'supported',
  'require',
  'proxy-require',
  'unsupported',
  'accept',
  'accept-encoding',
  'accept-language',
  'content-encoding',
  'allow-events',
  'in-reply-to',
  'path',
  'service-route',
  'reason',
  'p-asserted-identity',
  'warning',
  'error-info',
  'alert-info',
  'call-info',
]);

const lowerCache = new Map<string, string>();
const LOWER_CACHE_SIZE = 4096;
/** Longer names are not cached (no real header name comes close), so the cache stays a few hundred KB at most. */
export const CACHED_NAME_MAX = 64;

/** Lower-case full header name for any spelling or compact form. */
export function headerKey(name: string): string {
  let key = lowerCache.get(name);
  if (key !== undefined) return key;
  const lower = name.toLowerCase();
  key = lower.length === 1 ? (COMPACT_FORMS[lower] ?? lower) : lower;
  if (name.length > CACHED_NAME_MAX) return key;
  // Names arriving in junk would otherwise hold every slot for good: start over instead.
  if (lowerCache.size >= LOWER_CACHE_SIZE) lowerCache.clear();
  // Own copies: a name sliced out of a message would keep the whole message alive in the cache.
  key = ownString(key);
  lowerCache.set(ownString(name), key);
  return key;
}

/** The spelling hibiki emits for a header key. */
export function headerDisplayName(key: string): string {
  const special = DISPLAY_NAMES[key];
  if (special) return special;
  let out = '';
  let upper = true;
  for (const ch of key) {
    out += upper ? ch.toUpperCase() : ch;
    upper = ch === '-';
  }
  return out;
}

export function isListHeader(key: string): boolean {
  return LIST_HEADERS.has(key);
}

/**
 * Split a list header value on top-level commas: commas inside quoted strings
 * or inside <...> (URIs may contain commas in headers/params) do not split.
 */
export function splitHeaderList(value: string): string[] {
  if (value.indexOf(',') < 0) {
    const t = value.trim();
    return t ? [t] : [];
  }
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    if (inQuote) {
      if (ch === 0x5c /* \ */) i++;
      else if (ch === 0x22 /* " */) inQuote = false;
    } else if (ch === 0x22) inQuote = true;
    else if (ch === 0x3c /* < */) inAngle = true;
    else if (ch === 0x3e /* > */) inAngle = false;
    else if (ch === 0x2c /* , */ && !inAngle) {
      const part = value.slice(start, i).trim();
      if (part) out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
}
