// Generic `;name=value` parameter lists, as used by header params (RFC 3261 §25.1
// generic-param) and, with percent-decoding added by uri.ts, by URI params.

/** Parameter map: keys lower-cased; a flag parameter (no `=`) has the value null. */
export type Params = Map<string, string | null>;

const SEMI = 0x3b;
const EQUAL = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

function tableOf(chars: string, alnum: boolean): Uint8Array {
  const t = new Uint8Array(128);
  if (alnum) {
    for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
    for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
    for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  }
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

/** RFC 3261 §25.1 token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
const TOKEN = tableOf("-.!%*_+`'~", true);

/**
 * Characters accepted in a parameter name or an unquoted value: token characters plus
 * the URI param-unreserved set (RFC 3261 §25.1: "[" "]" "/" ":" "&" "+" "$"), so that
 * IPv6 `received`/`maddr` values and URI params share one scanner.
 */
const PARAM_CHAR = tableOf("-.!%*_+`'~[]/:&$", true);

export function isTokenChar(code: number): boolean {
  return code < 128 && TOKEN[code] === 1;
}

/** True when `s` is a non-empty RFC 3261 token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] !== 1) return false;
  }
  return true;
}

function isParamChar(code: number): boolean {
  return code < 128 && PARAM_CHAR[code] === 1;
}

/** SP / HT (and CR/LF, in case a caller passes text that was not unfolded). */
export function isLws(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0d || code === 0x0a;
}

export function skipLws(text: string, i: number): number {
  while (i < text.length && isLws(text.charCodeAt(i))) i++;
  return i;
}

/**
 * Read an RFC 3261 §25.1 quoted-string starting at the opening quote `text[start]`.
 * quoted-pair (`\` + char) is unescaped. Returns null when the closing quote is missing.
 */
export function readQuotedString(text: string, start: number): { value: string; end: number } | null {
  let value = '';
  let segStart = start + 1;
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) {
      if (i + 1 >= text.length) return null;
      value += text.slice(segStart, i) + text[i + 1];
      i++;
      segStart = i + 1;
    } else if (c === DQUOTE) {
      value += text.slice(segStart, i);
      return { value, end: i + 1 };
    }
  }
  return null;
}

/** Quote a string as an RFC 3261 quoted-string, escaping `"`, `\` and control characters. */
export function quoteString(s: string): string {
  let out = '"';
  let segStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === DQUOTE || c === BACKSLASH || c < 0x20 || c === 0x7f) {
      out += s.slice(segStart, i);
      // CR and LF cannot be carried even as quoted-pair (RFC 3261 §25.1); they become SP.
      out += c === 0x0d || c === 0x0a ? ' ' : c === 0x09 ? '\t' : '\\' + s[i];
      segStart = i + 1;
    }
  }
  return out + s.slice(segStart) + '"';
}

/**
 * Parse `;a=b;c;d="q s"` (leading `;` optional, LWS allowed around `;` and `=`).
 * Quoted values are stored unquoted. Returns null on malformed input: empty parameter
 * names (`;;`, trailing `;`), unbalanced quotes, or stray characters.
 * When a name repeats, the first occurrence wins. `start`/`end` bound the scan
 * within `text` (so callers need not slice).
 */
export function parseParams(text: string, start = 0, end = text.length): Params | null {
  const params: Params = new Map();
  const n = end;
  let i = start;
  while (i < n && isLws(text.charCodeAt(i))) i++;
  if (i >= n) return params;
  if (text.charCodeAt(i) === SEMI) i++;
  for (;;) {
    while (i < n && isLws(text.charCodeAt(i))) i++;
    const nameStart = i;
    let upper = false;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 128 || PARAM_CHAR[c] !== 1) break;
      if (c >= 0x41 && c <= 0x5a) upper = true;
    }
    if (i === nameStart) return null;
    const name = upper ? text.slice(nameStart, i).toLowerCase() : text.slice(nameStart, i);
    while (i < n && isLws(text.charCodeAt(i))) i++;
    let value: string | null = null;
    if (i < n && text.charCodeAt(i) === EQUAL) {
      i++;
      while (i < n && isLws(text.charCodeAt(i))) i++;
      if (i < n && text.charCodeAt(i) === DQUOTE) {
        const q = readQuotedString(text, i);
        if (!q || q.end > n) return null;
        value = q.value;
        i = q.end;
      } else {
        const valueStart = i;
        while (i < n && isParamChar(text.charCodeAt(i))) i++;
        value = text.slice(valueStart, i);
      }
      while (i < n && isLws(text.charCodeAt(i))) i++;
    }
    if (!params.has(name)) params.set(name, value);
    if (i >= n) return params;
    if (text.charCodeAt(i) !== SEMI) return null;
    i++;
  }
}

/** True when a value can be written without quotes (the same set parseParams reads unquoted). */
function isBareValue(v: string): boolean {
  if (v.length === 0) return false;
  for (let i = 0; i < v.length; i++) if (!isParamChar(v.charCodeAt(i))) return false;
  return true;
}

/** Serialize as `;a=b;c` ('' when empty); values that are not bare tokens are quoted. */
export function formatParams(p: Params): string {
  let out = '';
  for (const [k, v] of p) {
    out += ';' + k;
    if (v !== null) out += '=' + (isBareValue(v) ? v : quoteString(v));
  }
  return out;
}
