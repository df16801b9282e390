// ITU-T Q.850 cause values and their mapping to and from SIP status codes (RFC 3398), plus the
// Reason header (RFC 3326) that carries a cause across SIP. The tables follow RFC 3398; every place
// hibiki departs from or adds to the RFC is marked "project decision" (SPEC F-CDR).
import { splitHeaderList } from '../sip/headers.js';
import { isLws, parseParams, quoteString } from '../sip/params.js';

/** Causes named in SPEC F-CDR, for call code that sets a cause explicitly. */
export const Q850 = {
  unallocatedNumber: 1,
  normalClearing: 16,
  userBusy: 17,
  noUserResponding: 18,
  noAnswer: 19,
  subscriberAbsent: 20,
  callRejected: 21,
  normalUnspecified: 31,
  noCircuitAvailable: 34,
  temporaryFailure: 41,
  recoveryOnTimerExpiry: 102,
  interworking: 127,
} as const;

/** Cause names as ITU-T Q.850 gives them (Table 1). */
const causeNames: ReadonlyMap<number, string> = new Map([
  [1, 'Unallocated (unassigned) number'],
  [2, 'No route to specified transit network'],
  [3, 'No route to destination'],
  [4, 'Send special information tone'],
  [5, 'Misdialled trunk prefix'],
  [6, 'Channel unacceptable'],
  [7, 'Call awarded and being delivered in an established channel'],
  [8, 'Preemption'],
  [9, 'Preemption - circuit reserved for reuse'],
  [16, 'Normal call clearing'],
  [17, 'User busy'],
  [18, 'No user responding'],
  [19, 'No answer from user (user alerted)'],
  [20, 'Subscriber absent'],
  [21, 'Call rejected'],
  [22, 'Number changed'],
  [23, 'Redirection to new destination'],
  [25, 'Exchange routing error'],
  [26, 'Non-selected user clearing'],
  [27, 'Destination out of order'],
  [28, 'Invalid number format (address incomplete)'],
  [29, 'Facility rejected'],
  [30, 'Response to STATUS ENQUIRY'],
  [31, 'Normal, unspecified'],
  [34, 'No circuit/channel available'],
  [38, 'Network out of order'],
  [39, 'Permanent frame mode connection out of service'],
  [40, 'Permanent frame mode connection operational'],
  [41, 'Temporary failure'],
  [42, 'Switching equipment congestion'],
  [43, 'Access information discarded'],
  [44, 'Requested circuit/channel not available'],
  [46, 'Precedence call blocked'],
  [47, 'Resource unavailable, unspecified'],
  [49, 'Quality of service not available'],
  [50, 'Requested facility not subscribed'],
  [53, 'Outgoing calls barred within CUG'],
  [55, 'Incoming calls barred within CUG'],
  [57, 'Bearer capability not authorized'],
  [58, 'Bearer capability not presently available'],
  [62, 'Inconsistency in designated outgoing access information and subscriber class'],
  [63, 'Service or option not available, unspecified'],
  [65, 'Bearer capability not implemented'],
  [66, 'Channel type not implemented'],
  [69, 'Requested facility not implemented'],
  [70, 'Only restricted digital information bearer capability is available'],
  [79, 'Service or option not implemented, unspecified'],
  [81, 'Invalid call reference value'],
  [82, 'Identified channel does not exist'],
  [83, 'A suspended call exists, but this call identity does not'],
  [84, 'Call identity in use'],
  [85, 'No call suspended'],
  [86, 'Call having the requested call identity has been cleared'],
  [87, 'User not member of CUG'],
  [88, 'Incompatible destination'],
  [90, 'Non-existent CUG'],
  [91, 'Invalid transit network selection'],
  [95, 'Invalid message, unspecified'],
  [96, 'Mandatory information element is missing'],
  [97, 'Message type non-existent or not implemented'],
  [98, 'Message not compatible with call state or message type non-existent or not implemented'],
  [99, 'Information element/parameter non-existent or not implemented'],
  [100, 'Invalid information element contents'],
  [101, 'Message not compatible with call state'],
  [102, 'Recovery on timer expiry'],
  [103, 'Parameter non-existent or not implemented, passed on'],
  [110, 'Message with unrecognized parameter, discarded'],
  [111, 'Protocol error, unspecified'],
  [127, 'Interworking, unspecified'],
]);

/** RFC 3398 §7.2.4.1: SIP final response received → cause. */
const sipToCause: ReadonlyMap<number, number> = new Map([
  [400, 41],
  [401, 21],
  [402, 21],
  [403, 21],
  [404, 1],
  [405, 63],
  [406, 79],
  [407, 21],
  [408, 102],
  [410, 22],
  [413, 127],
  [414, 127],
  [415, 79],
  [416, 127],
  [420, 127],
  [421, 127],
  [423, 127],
  [480, 18],
  [481, 41],
  [482, 25],
  [483, 25],
  [484, 28],
  [485, 1],
  [486, 17],
  // RFC 3398 gives 487 no mapping. Project decision (SPEC F-CDR): the caller gave up, which ISUP
  // signals as normal clearing; the CDR tells it apart by disposition `cancelled`.
  [487, 16],
  // RFC 3398 maps 488 and 606 "by Warning header". Project decision: without reading Warning codes we
  // use 65, the cause whose reverse mapping (§8.2.6.1) is 488, so a round trip keeps the status.
  [488, 65],
  [500, 41],
  [501, 79],
  [502, 38],
  [503, 41],
  [504, 102],
  [505, 127],
  [513, 127],
  [600, 17],
  [603, 21],
  [604, 1],
  [606, 65],
  // 607 Unwanted (RFC 8197) and 608 Rejected (RFC 8688) postdate RFC 3398. Project decision: they are
  // rejections like 603, not the "busy" that the 6xx class default (600) would give.
  [607, 21],
  [608, 21],
]);

/** RFC 3398 §8.2.6.1: cause received → SIP final response to send. */
const causeToSip: ReadonlyMap<number, number> = new Map([
  [1, 404],
  [2, 404],
  [3, 404],
  [17, 486],
  [18, 408],
  [19, 480],
  [20, 480],
  // 403, or 603 when the cause location is "user" (RFC 3398 footnote); we do not carry the location.
  [21, 403],
  // 410 "without diagnostic"; the 301 variant needs the new number from the diagnostic, which we lack.
  [22, 410],
  [23, 410],
  [26, 404],
  [27, 502],
  [28, 484],
  // The RFC text says "510 Not implemented"; 510 is not the status named, 501 Not Implemented is.
  [29, 501],
  [31, 480],
  [34, 503],
  [38, 503],
  [41, 503],
  [42, 503],
  [47, 503],
  [55, 403],
  [57, 403],
  [58, 503],
  [65, 488],
  [70, 488],
  [79, 501],
  [87, 403],
  [88, 503],
  [102, 504],
  [111, 500],
  [127, 500],
]);

/**
 * Project decision: the two class-"unspecified" causes that the RFC 3398 table leaves out, chosen
 * from the statuses the table gives to their classmates (58 → 503; 111 and 127 → 500).
 */
const classUnspecifiedToSip: ReadonlyMap<number, number> = new Map([
  [63, 503],
  [95, 500],
]);

/** True for a cause value Q.850 can encode (7 bits, 0 unused). */
export function isQ850Cause(cause: number): boolean {
  return Number.isInteger(cause) && cause >= 1 && cause <= 127;
}

/** The Q.850 name of a cause, or undefined for a value Q.850 does not assign. */
export function q850Text(cause: number): string | undefined {
  return causeNames.get(cause);
}

/**
 * The cause to record or signal for a SIP final status received (RFC 3398 §7.2.4.1).
 * A status the table does not list is treated as the x00 of its class, as RFC 3261 §8.1.3.2 has a
 * UAC treat any final response it does not recognise. Statuses outside the table's reach (project
 * decision): 2xx → 16 (the call completed; its end is normal clearing), 3xx → 23 (a redirection we
 * did not follow), anything that is not a status code → 127.
 */
export function sipToQ850(status: number): number {
  if (!Number.isInteger(status) || status < 100 || status > 699) return Q850.interworking;
  const mapped = sipToCause.get(status);
  if (mapped !== undefined) return mapped;
  if (status < 300) return Q850.normalClearing;
  if (status < 400) return 23;
  return sipToCause.get(Math.floor(status / 100) * 100) ?? Q850.interworking;
}

/**
 * The SIP final status to answer an INVITE with for a cause (RFC 3398 §8.2.6.1). Cause 16 normally
 * ends a call with BYE or CANCEL rather than a response; when a response is needed anyway it is 480,
 * as for any cause the table does not list: Q.850 has a receiver treat a cause value it does not
 * implement as the "unspecified" cause of its class (31, 47, 63, 79, 95, 111, 127), which we then map.
 */
export function q850ToSip(cause: number): number {
  if (!isQ850Cause(cause)) return 500;
  const mapped = causeToSip.get(cause);
  if (mapped !== undefined) return mapped;
  // Classes are the top three bits of the 7-bit value; the unspecified cause ends each class.
  const unspecified = cause < 32 ? 31 : cause | 0x0f;
  return causeToSip.get(unspecified) ?? classUnspecifiedToSip.get(unspecified) ?? 500;
}

export interface ReasonValue {
  protocol: 'Q.850' | 'SIP';
  cause: number;
  text?: string;
}

/** Parses one reason-value (RFC 3326 §2); undefined for other protocols or a cause out of range. */
function parseReasonValue(value: string): ReasonValue | undefined {
  let i = 0;
  while (i < value.length && !isLws(value.charCodeAt(i)) && value.charCodeAt(i) !== 0x3b /* ; */) i++;
  const protocolText = value.slice(0, i).toUpperCase();
  const protocol = protocolText === 'Q.850' ? 'Q.850' : protocolText === 'SIP' ? 'SIP' : undefined;
  if (!protocol) return undefined;
  const params = parseParams(value, i);
  const causeText = params?.get('cause');
  // cause = 1*DIGIT; a leading "+" or a fraction would pass Number() but is not a cause.
  if (!causeText || !/^[0-9]{1,3}$/.test(causeText)) return undefined;
  const cause = Number(causeText);
  if (protocol === 'Q.850' ? !isQ850Cause(cause) : cause < 100 || cause > 699) return undefined;
  const text = params?.get('text');
  return text ? { protocol, cause, text } : { protocol, cause };
}

/**
 * The cause carried by Reason header values (RFC 3326), each value possibly a comma-separated list.
 * A Q.850 value is preferred over a SIP one, since Q.850 is what a CDR records; among values of one
 * protocol the first valid one wins (RFC 9366 allows several). Malformed values are skipped.
 */
export function parseReasonHeader(values: readonly string[]): ReasonValue | undefined {
  let sip: ReasonValue | undefined;
  for (const header of values) {
    for (const item of splitHeaderList(header)) {
      const parsed = parseReasonValue(item);
      if (!parsed) continue;
      if (parsed.protocol === 'Q.850') return parsed;
      sip ??= parsed;
    }
  }
  return sip;
}

/**
 * A Reason header value for a cause, as sent on BYE, CANCEL and final error responses (RFC 3326,
 * RFC 6432): `Q.850;cause=16;text="Normal call clearing"`. A value that is not a Q.850 cause is sent
 * as 127 (interworking) rather than as an unparseable header; text defaults to the Q.850 name.
 */
export function formatReason(cause: number, text?: string): string {
  const c = isQ850Cause(cause) ? cause : Q850.interworking;
  const t = text ?? q850Text(c);
  return t ? `Q.850;cause=${c};text=${quoteString(t)}` : `Q.850;cause=${c}`;
}
