// name-addr / addr-spec values (RFC 3261 §20.10, §25.1) as found in From, To, Contact,
// Route, Record-Route, Refer-To, P-Asserted-Identity.

import { formatParams, isLws, isTokenChar, parseParams, quoteString, readQuotedString, skipLws, type Params } from './params.js';
import { formatUri, parseUri, type Uri } from './uri.js';

export interface NameAddr {
  displayName?: string;
  uri: Uri;
  /** Header parameters (after the URI), e.g. `tag`, `expires`, `q`. */
  params: Params;
  /** Contact: `*` (RFC 3261 §10.2.2). */
  wildcard?: boolean;
}

const DQUOTE = 0x22;
const LT = 0x3c;
const GT = 0x3e;
const SEMI = 0x3b;
const STAR = 0x2a;

/**
 * Display-name token characters. Non-ASCII octets are tolerated unquoted: they are
 * common in the wild and harmless, and formatNameAddr quotes them on the way out.
 */
function isDisplayChar(c: number): boolean {
  return c >= 0x80 || isTokenChar(c);
}

function parseTrailingParams(text: string, i: number, end: number): Params | null {
  i = skipLws(text, i);
  if (i >= end) return new Map();
  if (text.charCodeAt(i) !== SEMI) return null;
  return parseParams(text, i, end);
}

/** Parse `<uri>` starting at text[lt] === '<', then the header params after it. */
function parseAngle(text: string, lt: number, end: number, displayName: string | undefined): NameAddr | null {
  const gt = text.indexOf('>', lt + 1);
  if (gt < 0 || gt >= end) return null;
  // parseUri rejects a '<' inside, and whitespace (no LWS is allowed within the brackets).
  const uri = parseUri(text.slice(lt + 1, gt));
  if (!uri) return null;
  const params = parseTrailingParams(text, gt + 1, end);
  if (!params) return null;
  return { displayName: displayName === '' ? undefined : displayName, uri, params, wildcard: undefined };
}

export function parseNameAddr(text: string): NameAddr | null {
  let end = text.length;
  while (end > 0 && isLws(text.charCodeAt(end - 1))) end--;
  const i = skipLws(text, 0);
  if (i >= end) return null;
  const first = text.charCodeAt(i);

  if (first === DQUOTE) {
    const q = readQuotedString(text, i);
    if (!q || q.end > end) return null;
    const lt = skipLws(text, q.end);
    if (text.charCodeAt(lt) !== LT) return null;
    return parseAngle(text, lt, end, q.value);
  }
  if (first === LT) return parseAngle(text, i, end, undefined);

  if (first === STAR) {
    const j = skipLws(text, i + 1);
    if (j >= end || text.charCodeAt(j) === SEMI) {
      const params = parseTrailingParams(text, j, end);
      if (!params) return null;
      return { displayName: undefined, uri: { scheme: '*', opaque: '' }, params, wildcard: true };
    }
  }

  // An unquoted display name is *(token LWS) followed by '<'; anything else is an addr-spec.
  let j = i;
  while (j < end) {
    const c = text.charCodeAt(j);
    if (!isDisplayChar(c) && !isLws(c)) break;
    j++;
  }
  if (j < end && text.charCodeAt(j) === LT) {
    let nameEnd = j;
    while (nameEnd > i && isLws(text.charCodeAt(nameEnd - 1))) nameEnd--;
    return parseAngle(text, j, end, text.slice(i, nameEnd));
  }

  // addr-spec: the URI ends at the first ';' and cannot carry ',', '?' or URI
  // params/headers of its own (RFC 3261 §20.10).
  const semi = text.indexOf(';', i);
  const uriEnd = semi < 0 || semi > end ? end : semi;
  let uEnd = uriEnd;
  while (uEnd > i && isLws(text.charCodeAt(uEnd - 1))) uEnd--;
  const uriText = text.slice(i, uEnd);
  for (let k = 0; k < uriText.length; k++) {
    const c = uriText.charCodeAt(k);
    if (c === 0x2c || c === 0x3f || c === DQUOTE || c === LT || c === GT) return null;
  }
  const uri = parseUri(uriText);
  if (!uri) return null;
  const params = parseTrailingParams(text, uriEnd, end);
  if (!params) return null;
  return { displayName: undefined, uri, params, wildcard: undefined };
}

/** A display name can go out unquoted when it is tokens separated by single spaces. */
function isTokenSequence(s: string): boolean {
  if (s.length === 0) return false;
  let prevSpace = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x20) {
      if (prevSpace) return false;
      prevSpace = true;
    } else if (isTokenChar(c)) prevSpace = false;
    else return false;
  }
  return !prevSpace;
}

/** Always the `<uri>` form; display name quoted when needed; `*` for a wildcard Contact. */
export function formatNameAddr(a: NameAddr): string {
  if (a.wildcard) return '*' + formatParams(a.params);
  let out = '';
  const dn = a.displayName;
  if (dn !== undefined && dn !== '') out = (isTokenSequence(dn) ? dn : quoteString(dn)) + ' ';
  return out + '<' + formatUri(a.uri) + '>' + formatParams(a.params);
}
