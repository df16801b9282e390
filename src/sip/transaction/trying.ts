// The 100 Trying an INVITE server transaction sends on its own (RFC 3261 §17.2.1).
import { SipRequest, SipResponse, type HeaderEntry } from '../message.js';

// §8.2.6.2: Via (all of them, in order), From, To, Call-ID and CSeq are copied; §8.2.6.1:
// Timestamp is echoed. To keeps no new tag: a 100 never creates a dialog.
const COPIED = new Set(['via', 'from', 'to', 'call-id', 'cseq', 'timestamp']);

export function buildTrying(req: SipRequest): SipResponse {
  const headers: HeaderEntry[] = [];
  for (const [k, v] of req.headers) if (COPIED.has(k)) headers.push([k, v]);
  return new SipResponse(100, 'Trying', headers);
}
