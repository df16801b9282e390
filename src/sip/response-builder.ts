// Building responses from requests (RFC 3261 §8.2.6.2) — shared by the stack and stateless error replies.
import { randomBytes } from 'node:crypto';
import { SipRequest, SipResponse, reasonPhrase, type HeaderEntry } from './message.js';
import { formatNameAddr } from './address.js';

export type HeaderInput = Record<string, string | number | string[]> | HeaderEntry[];

export interface ResponseOptions {
  headers?: HeaderInput;
  body?: string | Buffer;
  /** Tag to put on To when the request has none (dialog-creating responses reuse one tag). */
  toTag?: string;
}

const COPIED = ['via', 'from', 'to', 'call-id', 'cseq'];

let tagPool = Buffer.alloc(0);
let tagPos = 0;

/** A random tag (RFC 3261 §19.3: at least 32 bits of randomness); pooled to keep the hot path cheap. */
export function newTag(): string {
  if (tagPos + 8 > tagPool.length) {
    tagPool = randomBytes(8 * 512);
    tagPos = 0;
  }
  const s = tagPool.toString('hex', tagPos, tagPos + 6);
  tagPos += 8;
  return s;
}

export function headerEntries(input: HeaderInput | undefined): HeaderEntry[] {
  if (!input) return [];
  if (Array.isArray(input)) return input.map(([k, v]) => [k.toLowerCase(), v]);
  const out: HeaderEntry[] = [];
  for (const [k, v] of Object.entries(input)) {
    if (Array.isArray(v)) for (const one of v) out.push([k.toLowerCase(), one]);
    else out.push([k.toLowerCase(), String(v)]);
  }
  return out;
}

export function buildResponse(req: SipRequest, status: number, reason?: string, opts: ResponseOptions = {}): SipResponse {
  const headers: HeaderEntry[] = [];
  for (const [k, v] of req.headers) {
    if (COPIED.includes(k)) headers.push([k, v]);
  }
  // Timestamp is echoed on 100 Trying (RFC 3261 §8.2.6.1).
  if (status === 100) {
    const ts = req.get('timestamp');
    if (ts !== undefined) headers.push(['timestamp', ts]);
  }
  const res = new SipResponse(status, reason ?? reasonPhrase(status), headers);
  if (status > 100 && req.toTag === undefined && req.to) {
    const to = req.to;
    const params = new Map(to.params);
    params.set('tag', opts.toTag ?? newTag());
    res.set('to', formatNameAddr({ ...to, params }));
  }
  for (const [k, v] of headerEntries(opts.headers)) res.add(k, v);
  if (opts.body !== undefined) res.body = typeof opts.body === 'string' ? Buffer.from(opts.body, 'utf8') : opts.body;
  return res;
}
