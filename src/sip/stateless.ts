// Stateless answers (RFC 3261 §8.2.7): a final response sent without a server transaction, so a
// request that is refused or challenged costs no memory and no retransmission timers. The request's
// own retransmissions simply get another stateless answer. The To tag carries a prefix that no
// dialog tag of ours has (newTag() is hex), so the ACK of a stateless non-2xx answer is recognised
// without state and absorbed, like Kamailio's sl module does with its sl tag.
import type { SipRequest, SipResponse } from './message.js';
import { buildResponse, newTag, type ResponseOptions } from './response-builder.js';

const PREFIX = 'sl-';

/** A To tag for a stateless answer. */
export function statelessTag(): string {
  return PREFIX + newTag();
}

/** True for the To tag of a stateless answer (so an ACK carrying it acknowledges nothing we keep). */
export function isStatelessTag(tag: string | undefined): boolean {
  return tag !== undefined && tag.startsWith(PREFIX);
}

/** A response to send statelessly: as buildResponse(), with a stateless To tag when the request has none. */
export function buildStatelessResponse(req: SipRequest, status: number, reason?: string, opts: Omit<ResponseOptions, 'toTag'> = {}): SipResponse {
  return buildResponse(req, status, reason, { ...opts, toTag: statelessTag() });
}
