// HTTP Digest authentication for SIP: RFC 8760 (MD5 and SHA-256 with qop=auth) using the RFC 7616
// computations. Server side issues self-verifying nonces; client side builds Authorization values.
import { createHmac, hash, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import { ownString } from './strings.js';
import { parseUri, uriEquivalent } from './uri.js';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

export interface DigestChallengeOptions {
  realm: string;
  algorithms: DigestAlgorithm[];
  /** Seconds a nonce is accepted; later uses are answered stale (RFC 7616 §3.3). */
  nonceTtlSec: number;
  clock?: () => number;
  /** HMAC key for nonces; a random per-process key when absent. */
  secret?: Buffer;
  /** Upper bound on nonces tracked for nc replay detection. */
  maxTrackedNonces?: number;
}

export type DigestVerdict =
  | { result: 'ok'; username: string }
  | { result: 'stale'; username: string }
  | { result: 'bad-credentials'; username: string }
  | { result: 'replay'; username: string }
  /** A correct response computed for another URI than this request's: a credential taken from another request. */
  | { result: 'uri-mismatch'; username: string; uri: string }
  | { result: 'malformed'; reason: string };

export type DigestVerifyResult = DigestVerdict | { result: 'unknown-user'; username: string };

/** Strongest first: the order in which challenges are offered (RFC 8760 §2.3, UAS behaviour). */

const hashName: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };

function h(algorithm: DigestAlgorithm, data: string): string {
  // One-shot hash (UTF-8 input): no Hash object per call on the REGISTER hot path.
  return hash(hashName[algorithm], data, 'hex');
}

function parseAlgorithm(value: string | undefined): DigestAlgorithm | undefined {
  // RFC 7616 §3.3: an absent algorithm means MD5. Token comparison is case-insensitive.
  if (value === undefined) return 'MD5';
  const upper = value.toUpperCase();
  return upper === 'MD5' || upper === 'SHA-256' ? upper : undefined;
}

/** RFC 7616 §3.4.1 response with qop=auth; without qop (RFC 2069) when qop is undefined. */
function digestResponse(
  algorithm: DigestAlgorithm,
  a: { username: string; realm: string; password: string; method: string; uri: string; nonce: string; nc?: string; cnonce?: string; qop?: string },
): string {
  const ha1 = h(algorithm, `${a.username}:${a.realm}:${a.password}`);
  const ha2 = h(algorithm, `${a.method}:${a.uri}`);
  if (a.qop === undefined) return h(algorithm, `${ha1}:${a.nonce}:${ha2}`);
  return h(algorithm, `${ha1}:${a.nonce}:${a.nc}:${a.cnonce}:${a.qop}:${ha2}`);
}

// ---------------------------------------------------------------------------------------------
// Parsing: credentials / challenge = auth-scheme LWS auth-param *(COMMA auth-param) (RFC 3261 §25.1)

/** token characters (RFC 3261 §25.1) by char code; a table lookup, as every header character is tested. */
const tokenChars = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~") tokenChars[c.charCodeAt(0)] = 1;

function isTokenCode(code: number): boolean {
  return code < 128 && tokenChars[code] === 1;
}

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

/** An auth header value split by parseAuthParams. */
export interface AuthParams {
  /** Lower-cased. */
  scheme: string;
  /** Names lower-cased, quoted values unescaped. */
  params: Map<string, string>;
}

/**
 * Splits an auth header value into its scheme (lower-cased) and parameters (names lower-cased,
 * quoted values unescaped). Returns null on any syntax error or repeated parameter.
 */
export function parseAuthParams(value: string): AuthParams | null {
  const s = value;
  let i = 0;
  const skipSpace = (): void => {
    while (i < s.length && isSpace(s[i])) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < s.length && isTokenCode(s.charCodeAt(i))) i++;
    return s.slice(start, i);
  };

  skipSpace();
  const scheme = readToken();
  if (scheme === '') return null;
  const params = new Map<string, string>();
  if (i < s.length && !isSpace(s[i])) return null;
  skipSpace();
  if (i === s.length) return { scheme: scheme.toLowerCase(), params };

  for (;;) {
    const name = readToken().toLowerCase();
    if (name === '') return null;
    skipSpace();
    if (s[i] !== '=') return null;
    i++;
    skipSpace();
    let val: string;
    if (s[i] === '"') {
      i++;
      // Copy runs between escapes in one slice each rather than a character at a time.
      let out = '';
      let runStart = i;
      let closed = false;
      while (i < s.length) {
        const c = s[i];
        if (c === '"') {
          out += s.slice(runStart, i);
          i++;
          closed = true;
          break;
        }
        if (c === '\\') {
          if (i + 1 >= s.length) return null;
          out += s.slice(runStart, i) + s[i + 1];
          i += 2;
          runStart = i;
        } else {
          i++;
        }
      }
      if (!closed) return null;
      val = out;
    } else {
      val = readToken();
      if (val === '') return null;
    }
    if (params.has(name)) return null;
    params.set(name, val);
    skipSpace();
    if (i === s.length) break;
    if (s[i] !== ',') return null;
    i++;
    skipSpace();
    // Tolerate a trailing comma ("a=b, ") as some clients send one.
    if (i === s.length) break;
  }
  return { scheme: scheme.toLowerCase(), params };
}

function quote(v: string): string {
  return `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

// ---------------------------------------------------------------------------------------------
// Server

interface TrackedNonce {
  issuedAt: number;
  lastNc: number;
}

/**
 * Nonce layout: 8-byte issue time (ms) | 12 random bytes | first 16 bytes of SHA-256(secret | both).
 * The MAC is a keyed hash over a fixed-length body rather than HMAC: with every input exactly 32 + 20
 * bytes long, the length extension that HMAC's second pass guards against cannot produce another
 * valid body, and one one-shot hash costs about a third of createHmac (a new Hmac object and key
 * import per nonce), paid twice per authenticated REGISTER (issue #13).
 */
const nonceTimeBytes = 8;
const nonceRandomBytes = 12;
const nonceMacBytes = 16;
const nonceBodyBytes = nonceTimeBytes + nonceRandomBytes;
const nonceBytes = nonceBodyBytes + nonceMacBytes;

/** Tolerated clock skew for a nonce stamped slightly in the future (e.g. after an NTP step). */
const futureSkewMs = 5_000;

/** Nonce randomness, drawn from the OS generator a block at a time: one call per 256 nonces, not one each. */
const randomPool = Buffer.alloc(nonceRandomBytes * 256);
let randomPoolPos = randomPool.length;

function takeRandom(target: Buffer, offset: number, length: number): void {
  if (randomPoolPos + length > randomPool.length) {
    randomFillSync(randomPool);
    randomPoolPos = 0;
  }
  randomPool.copy(target, offset, randomPoolPos, randomPoolPos + length);
  // Each byte is handed out once.
  randomPoolPos += length;
}

/** What a reload may change; the secret and the nonce history stay with the server object. */
export type DigestSettings = Pick<DigestChallengeOptions, 'realm' | 'algorithms' | 'nonceTtlSec'>;

export class DigestServer {
  private realm = '';
  private algorithms: DigestAlgorithm[] = [];
  private ttlMs = 0;
  private readonly clock: () => number;
  private readonly secret: Buffer;
  /** secret | nonce body: the MAC input, reused so that computing a MAC allocates only its digest. */
  private readonly macInput: Buffer;
  private readonly maxTracked: number;
  private readonly opaque: string;
  /** Highest nc per nonce seen so far; Map order is first-use order, so the oldest is evicted first. */
  private readonly tracked = new Map<string, TrackedNonce>();
  /** Nonces issued at or before this time and no longer tracked may have been used: answer stale. */
  private evictedUpTo = -Infinity;
  private lastPrune: number;

  constructor(opts: DigestChallengeOptions) {
    this.reconfigure(opts);
    this.clock = opts.clock ?? Date.now;
    this.secret = opts.secret ?? randomBytes(32);
    this.macInput = Buffer.alloc(this.secret.length + nonceBodyBytes);
    this.secret.copy(this.macInput, 0);
    this.maxTracked = Math.max(1, opts.maxTrackedNonces ?? 100_000);
    this.opaque = createHmac('sha256', this.secret).update('opaque').digest().subarray(0, 16).toString('base64url');
    this.lastPrune = this.clock();
  }

  /**
   * Takes new settings in place. The nonce table is kept: a fresh server would forget which nonce counts
   * were used, and every captured credential of the last nonce lifetime would be accepted again.
   */
  reconfigure(settings: DigestSettings): void {
    if (settings.algorithms.length === 0) throw new Error('DigestServer needs at least one algorithm');
    this.realm = settings.realm;
    // Challenges go out in the configured order: deployed UAs differ in which one they answer.
    this.algorithms = [...new Set(settings.algorithms)];
    this.ttlMs = settings.nonceTtlSec * 1000;
  }

  get currentRealm(): string {
    return this.realm;
  }

  /** One WWW-Authenticate / Proxy-Authenticate value per algorithm, strongest first, sharing one nonce. */
  challenge(stale = false): string[] {
    const nonce = this.newNonce();
    return this.algorithms.map((alg) => `Digest realm=${quote(this.realm)}, nonce="${nonce}", opaque="${this.opaque}", algorithm=${alg}, qop="auth"${stale ? ', stale=true' : ''}`);
  }

  /**
   * Checks credentials against the request they came on: its method and its Request-URI (as received),
   * which the credentials' `uri` must equal (RFC 7616 §3.4.6, RFC 3261 §22.4).
   */
  verify(header: string, method: string, requestUri: string, lookup: (username: string) => { password: string } | undefined): DigestVerifyResult {
    const parsed = parseAuthParams(header);
    if (!parsed) return { result: 'malformed', reason: 'unparsable credentials' };
    return this.verifyParsed(parsed, method, requestUri, lookup);
  }

  /** verify() for credentials the caller has already parsed (with parseAuthParams), so they are parsed once. */
  verifyParsed(parsed: AuthParams, method: string, requestUri: string, lookup: (username: string) => { password: string } | undefined): DigestVerifyResult {
    if (parsed.scheme !== 'digest') return { result: 'malformed', reason: `unsupported scheme ${parsed.scheme}` };
    const p = parsed.params;

    for (const name of ['username', 'realm', 'nonce', 'uri', 'response'] as const) {
      if (!p.has(name)) return { result: 'malformed', reason: `missing ${name}` };
    }
    const username = p.get('username') as string;
    const nonce = p.get('nonce') as string;
    const credentialUri = p.get('uri') as string;
    const response = (p.get('response') as string).toLowerCase();
    if (p.get('realm') !== this.realm) return { result: 'malformed', reason: 'wrong realm' };

    const algorithm = parseAlgorithm(p.get('algorithm'));
    if (!algorithm || !this.algorithms.includes(algorithm)) {
      return { result: 'malformed', reason: `algorithm not offered: ${p.get('algorithm') ?? 'MD5'}` };
    }
    // We always offer qop=auth, so RFC 2069 responses without qop are not accepted (RFC 7616 §3.4).
    const qop = p.get('qop');
    if (qop === undefined) return { result: 'malformed', reason: 'missing qop' };
    if (qop.toLowerCase() !== 'auth') return { result: 'malformed', reason: `unsupported qop ${qop}` };
    const ncText = p.get('nc');
    const cnonce = p.get('cnonce');
    if (ncText === undefined || !/^[0-9a-fA-F]{8}$/.test(ncText)) return { result: 'malformed', reason: 'missing or bad nc' };
    if (cnonce === undefined || cnonce === '') return { result: 'malformed', reason: 'missing cnonce' };
    const opaque = p.get('opaque');
    if (opaque !== undefined && opaque !== this.opaque) return { result: 'malformed', reason: 'wrong opaque' };

    const issuedAt = this.nonceTime(nonce);
    if (issuedAt === undefined) return { result: 'malformed', reason: 'unknown nonce' };
    const now = this.clock();

    const user = lookup(username);
    if (!user) return { result: 'unknown-user', username };

    const expected = digestResponse(algorithm, {
      username,
      realm: this.realm,
      password: user.password,
      method,
      uri: credentialUri,
      nonce,
      nc: ncText,
      cnonce,
      qop,
    });
    if (!constantTimeEqual(expected, response)) return { result: 'bad-credentials', username };
    // Checked once the response is known to be right, so that a mismatch means a real credential moved
    // to another request (a replay), and before the nonce count is recorded.
    if (!sameRequestUri(credentialUri, requestUri)) return { result: 'uri-mismatch', username, uri: credentialUri };

    // RFC 7616 §3.3: stale only once the response itself has been found correct.
    if (now - issuedAt > this.ttlMs) return { result: 'stale', username };
    this.prune(now);

    const nc = parseInt(ncText, 16);
    const seen = this.tracked.get(nonce);
    if (seen) {
      if (nc <= seen.lastNc) return { result: 'replay', username };
      seen.lastNc = nc;
      return { result: 'ok', username };
    }
    // Untracked but possibly used before eviction: its nc history is lost, so make the client take a new nonce.
    if (issuedAt <= this.evictedUpTo) return { result: 'stale', username };
    this.track(nonce, issuedAt, nc);
    return { result: 'ok', username };
  }

  /** Number of nonces currently held for replay detection (for metrics and tests). */
  trackedNonceCount(): number {
    return this.tracked.size;
  }

  private newNonce(): string {
    const buf = Buffer.alloc(nonceBytes);
    // The 64-bit big-endian ms time as two 32-bit halves (exact below 2^53).
    const issuedAt = Math.max(0, Math.floor(this.clock()));
    const high = Math.floor(issuedAt / 2 ** 32);
    buf.writeUInt32BE(high, 0);
    buf.writeUInt32BE(issuedAt - high * 2 ** 32, 4);
    takeRandom(buf, nonceTimeBytes, nonceRandomBytes);
    this.mac(buf).copy(buf, nonceBodyBytes, 0, nonceMacBytes);
    return buf.toString('base64url');
  }

  /** Issue time of a nonce we minted, or undefined when it is not one of ours. */
  private nonceTime(nonce: string): number | undefined {
    if (nonce.length !== Math.ceil((nonceBytes * 4) / 3) || !/^[A-Za-z0-9_-]+$/.test(nonce)) return undefined;
    const buf = Buffer.from(nonce, 'base64url');
    if (buf.length !== nonceBytes) return undefined;
    if (!timingSafeEqual(this.mac(buf).subarray(0, nonceMacBytes), buf.subarray(nonceBodyBytes))) return undefined;
    const issuedAt = buf.readUInt32BE(0) * 2 ** 32 + buf.readUInt32BE(4);
    if (issuedAt > this.clock() + futureSkewMs) return undefined;
    return issuedAt;
  }

  /** SHA-256 over the secret and the first nonceBodyBytes of `nonce` (see the nonce layout above). */
  private mac(nonce: Buffer): Buffer {
    nonce.copy(this.macInput, this.secret.length, 0, nonceBodyBytes);
    return hash('sha256', this.macInput, 'buffer');
  }

  private track(nonce: string, issuedAt: number, nc: number): void {
    while (this.tracked.size >= this.maxTracked) {
      const oldest = this.tracked.entries().next().value;
      if (!oldest) break;
      this.tracked.delete(oldest[0]);
      if (oldest[1].issuedAt > this.evictedUpTo) this.evictedUpTo = oldest[1].issuedAt;
    }
    // Held for the nonce lifetime: copied so it does not keep the REGISTER it was read from alive.
    this.tracked.set(ownString(nonce), { issuedAt, lastNc: nc });
  }

  /**
   * Drops expired nonces; they would be answered stale anyway. Runs at most every quarter TTL. A dropped
   * nonce counts as evicted: should a reload lengthen the TTL, it is answered stale, not accepted afresh.
   */
  private prune(now: number): void {
    if (now - this.lastPrune < this.ttlMs / 4) return;
    this.lastPrune = now;
    for (const [nonce, t] of this.tracked) {
      if (now - t.issuedAt <= this.ttlMs) continue;
      this.tracked.delete(nonce);
      if (t.issuedAt > this.evictedUpTo) this.evictedUpTo = t.issuedAt;
    }
  }
}

/**
 * The credentials' `uri` names the request's Request-URI: the same text, or an equivalent SIP URI
 * (RFC 3261 §19.1.4), as some clients re-serialise the URI (case of the host, parameter order).
 */
function sameRequestUri(credentialUri: string, requestUri: string): boolean {
  if (credentialUri === requestUri) return true;
  const a = parseUri(credentialUri);
  const b = parseUri(requestUri);
  return a !== null && b !== null && uriEquivalent(a, b);
}

function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  // Compare against itself on a length mismatch so the time taken does not depend on where they differ.
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

// ---------------------------------------------------------------------------------------------
// Client

/**
 * Builds an Authorization / Proxy-Authorization value answering `challenge` (a WWW-Authenticate or
 * Proxy-Authenticate value). Uses qop=auth when offered, RFC 2069 style otherwise.
 * Throws when the challenge is not a Digest challenge this module can answer; callers handling
 * network input must catch.
 */
export function buildAuthorization(challenge: string, creds: { username: string; password: string }, method: string, uri: string, nc = 1, cnonce: string = randomBytes(12).toString('hex')): string {
  const parsed = parseAuthParams(challenge);
  if (!parsed || parsed.scheme !== 'digest') throw new Error('not a Digest challenge');
  const p = parsed.params;
  const realm = p.get('realm') ?? '';
  const nonce = p.get('nonce');
  if (nonce === undefined) throw new Error('Digest challenge without nonce');
  const algorithm = parseAlgorithm(p.get('algorithm'));
  if (!algorithm) throw new Error(`unsupported Digest algorithm ${p.get('algorithm')}`);
  const offeredQop = p.get('qop');
  const qop = offeredQop?.split(',').some((q) => q.trim().toLowerCase() === 'auth') ? 'auth' : undefined;
  if (offeredQop !== undefined && qop === undefined) throw new Error(`unsupported qop ${offeredQop}`);
  const ncText = nc.toString(16).padStart(8, '0');

  const response = digestResponse(algorithm, { username: creds.username, realm, password: creds.password, method, uri, nonce, nc: ncText, cnonce, qop });
  const parts = [`username=${quote(creds.username)}`, `realm=${quote(realm)}`, `nonce=${quote(nonce)}`, `uri=${quote(uri)}`, `response="${response}"`, `algorithm=${algorithm}`];
  if (qop) parts.push(`qop=${qop}`, `nc=${ncText}`, `cnonce=${quote(cnonce)}`);
  const opaque = p.get('opaque');
  if (opaque !== undefined) parts.push(`opaque=${quote(opaque)}`);
  return `Digest ${parts.join(', ')}`;
}
