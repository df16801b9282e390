// The INVITEs a UAC sends (RFC 3261 §8.1, RFC 3262, RFC 4028): the headers of the first attempt, and each
// retry after a challenge or a 422 (same Call-ID, From tag and target, next CSeq, new branch: §22.2).
import type { HeaderEntry, SipRequest } from './message.js';
import type { DialogHost } from './dialog-host.js';
import type { Dialog } from './dialog.js';
import { headerEntries, type HeaderInput } from './response-builder.js';
import { sessionTimerRequestHeaders, type SessionTimerConfig } from './session-timer.js';

const UAC_OPTION_TAGS = ['100rel'];

/** The first INVITE's headers: the caller's, plus our Contact, the SDP type, Supported and the session timer. */
export function inviteHeaders(input: HeaderInput | undefined, contact: string, hasSdp: boolean, timer: SessionTimerConfig | undefined): HeaderEntry[] {
  const headers = headerEntries(input);
  if (!headers.some(([k]) => k === 'contact')) headers.push(['contact', contact]);
  if (hasSdp && !headers.some(([k]) => k === 'content-type')) headers.push(['content-type', 'application/sdp']);
  advertiseOptionTags(headers, timer ? [...UAC_OPTION_TAGS, 'timer'] : UAC_OPTION_TAGS);
  if (timer && !headers.some(([k]) => k === 'session-expires')) {
    // RFC 4028 §7.1: ask for our interval and let the UAS pick the refresher.
    headers.push(...sessionTimerRequestHeaders(timer.sessionExpires, timer.minSE));
  }
  return headers;
}

/** The same INVITE again with CSeq `cseq` and a new branch, keeping Max-Forwards. */
export function nextInviteAttempt(stack: DialogHost<Dialog>, invite: SipRequest, cseq: number): SipRequest {
  const again = stack.buildRequest({
    method: 'INVITE',
    uri: invite.uri,
    headers: invite.headers.filter(([k]) => k !== 'via' && k !== 'cseq' && k !== 'from' && k !== 'to' && k !== 'call-id' && k !== 'max-forwards' && k !== 'user-agent'),
    body: invite.body,
    from: invite.get('from'),
    to: invite.get('to'),
    callId: invite.callId,
    cseq,
  });
  const maxForwards = invite.get('max-forwards');
  if (maxForwards !== undefined) again.set('max-forwards', maxForwards);
  return again;
}

/** Make the Supported header(s) of an outgoing request list every tag in `tags`. */
function advertiseOptionTags(headers: HeaderEntry[], tags: string[]): void {
  const present = new Set<string>();
  for (const [k, v] of headers) if (k === 'supported') for (const t of v.split(',')) present.add(t.trim().toLowerCase());
  const missing = tags.filter((t) => !present.has(t));
  if (missing.length > 0) headers.push(['supported', missing.join(', ')]);
}
