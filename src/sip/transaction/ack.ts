// Requests a client transaction builds from the INVITE it carries: the ACK for a non-2xx final
// response (RFC 3261 §17.1.1.3) and the CANCEL (§9.1).
import { SipRequest, type HeaderEntry, type SipResponse } from '../message.js';

const DEFAULT_MAX_FORWARDS = '70';

/**
 * Headers shared by ACK-for-non-2xx and CANCEL: exactly one Via, equal to the INVITE's top
 * Via (so both land in the INVITE's branch), Max-Forwards, the INVITE's Route set, From and Call-ID.
 */
function commonHeaders(invite: SipRequest): HeaderEntry[] {
  const topVia = invite.getAll('via')[0];
  if (topVia === undefined) throw new Error('INVITE has no Via');
  const headers: HeaderEntry[] = [
    ['via', topVia],
    ['max-forwards', invite.get('max-forwards') ?? DEFAULT_MAX_FORWARDS],
  ];
  for (const [k, v] of invite.headers) if (k === 'route') headers.push([k, v]);
  const from = invite.get('from');
  if (from !== undefined) headers.push(['from', from]);
  return headers;
}

function inviteSeq(invite: SipRequest): number {
  const cseq = invite.cseq;
  if (!cseq) throw new Error('INVITE has no valid CSeq');
  return cseq.seq;
}

/**
 * §17.1.1.3: same Request-URI, Call-ID, From, CSeq number and top Via (so the same branch) as
 * the INVITE, the Route headers of the INVITE, and the To of the response (it carries the tag).
 */
export function buildNon2xxAck(invite: SipRequest, res: SipResponse): SipRequest {
  const headers = commonHeaders(invite);
  const toValue = res.get('to') ?? invite.get('to');
  if (toValue !== undefined) headers.push(['to', toValue]);
  headers.push(['call-id', invite.callId], ['cseq', `${inviteSeq(invite)} ACK`]);
  return new SipRequest('ACK', invite.uri, headers);
}

/**
 * §9.1: Request-URI, Call-ID, To, From and CSeq number identical to the request being
 * cancelled (To without a new tag), CSeq method CANCEL, one Via equal to its top Via, and its
 * Route headers. Extra headers (e.g. Reason, RFC 3326) are appended.
 */
export function buildCancel(invite: SipRequest, extraHeaders: [string, string][] = []): SipRequest {
  const headers = commonHeaders(invite);
  const to = invite.get('to');
  if (to !== undefined) headers.push(['to', to]);
  headers.push(['call-id', invite.callId], ['cseq', `${inviteSeq(invite)} CANCEL`]);
  const cancel = new SipRequest('CANCEL', invite.uri, headers);
  for (const [k, v] of extraHeaders) cancel.add(k, v);
  return cancel;
}
