// Branch generation (RFC 3261 §8.1.1.7) and transaction keys (§17.1.3, §17.2.3).
import { randomFillSync } from 'node:crypto';
import type { SipRequest } from '../message.js';

/** Branches that begin with this cookie are RFC 3261 branches, unique per transaction (§8.1.1.7). */
export const MAGIC_COOKIE = 'z9hG4bK';

const BYTES_PER_BRANCH = 16; // 128 bits → 22 base64url characters
const POOL_BYTES = BYTES_PER_BRANCH * 256;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolPos = POOL_BYTES;

/** A new RFC 3261 branch: the magic cookie plus 128 random bits, drawn from a pooled buffer. */
export function newBranch(): string {
  if (poolPos + BYTES_PER_BRANCH > POOL_BYTES) {
    randomFillSync(pool);
    poolPos = 0;
  }
  const random = pool.toString('base64url', poolPos, poolPos + BYTES_PER_BRANCH);
  poolPos += BYTES_PER_BRANCH;
  return MAGIC_COOKIE + random;
}

export function isRfc3261Branch(branch: string | null | undefined): branch is string {
  return typeof branch === 'string' && branch.startsWith(MAGIC_COOKIE) && branch.length > MAGIC_COOKIE.length;
}

/** Host:port of a Via sent-by, host lower-cased and without IPv6 brackets, port as written (may be absent). */
export function sentByKey(host: string, port: number | undefined): string {
  return `${stripBrackets(host).toLowerCase()}:${port ?? ''}`;
}

/**
 * §17.2.3: an RFC 3261 server transaction is identified by the top Via branch, its sent-by,
 * and the method — with ACK mapped to INVITE, because the ACK for a non-2xx belongs to the
 * INVITE's transaction. CANCEL keeps its own method: it is a transaction of its own.
 */
export function serverKey(branch: string, sentBy: string, method: string): string {
  return `${branch}\u0000${sentBy}\u0000${method === 'ACK' ? 'INVITE' : method}`;
}

/** §17.1.3: a response matches a client transaction by top Via branch and CSeq method. */
export function clientKey(branch: string, method: string): string {
  return `${branch}\u0000${method}`;
}

/**
 * §17.2.3 (last part), RFC 2543 fallback: Request-URI, From tag, Call-ID, CSeq number and
 * top Via. The To tag and the method are compared per candidate, because the rule differs
 * for INVITE, ACK and CANCEL (§9.2).
 */
export function legacyKey(req: SipRequest, rawTopVia: string, seq: number): string {
  return [req.uri, req.fromTag ?? '', req.callId, String(seq), rawTopVia].join('\u0000');
}

export function stripBrackets(host: string): string {
  return host.length > 1 && host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
