// UAS request inspection in the order of RFC 3261 §8.2: method, headers, content.
// Returns the error response to send, or null when the request may go to the application.
import type { SipRequest } from './message.js';
import type { HeaderEntry } from './message.js';

/** Methods the stack understands (RFC 3261 plus the extensions hibiki implements or relays). */
export const KNOWN_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE']);

export interface RequestCheckPolicy {
  /** Methods the application handles; other known methods get 405 with this Allow list. */
  allowed: Set<string>;
  /** Option tags hibiki supports (Require of anything else → 420). */
  supported: Set<string>;
  /** Body media types hibiki can read (anything else → 415). */
  acceptedTypes: Set<string>;
  /** Media types hibiki can produce for the responses of INVITE-like requests (Accept check → 406). */
  producibleTypes: Set<string>;
}

/** RFC 3262 reliable provisionals and RFC 4028 session timers are understood by default. */
const DEFAULT_SUPPORTED = ['100rel', 'timer'];
const DEFAULT_ACCEPTED = ['application/sdp', 'multipart/mixed', 'application/dtmf-relay', 'application/dtmf', 'message/sipfrag', 'text/plain'];

/**
 * A stack's policies: out of dialog only what the application registered handlers for is allowed (plus
 * OPTIONS, ACK, CANCEL, BYE; `allowed` grows as handlers are added), in a dialog every known method but
 * REGISTER. The two share the option tags and media types.
 */
export function stackPolicies(opts: { supported?: string[]; acceptedTypes?: string[] }): { outOfDialog: RequestCheckPolicy; inDialog: RequestCheckPolicy } {
  const outOfDialog: RequestCheckPolicy = {
    allowed: new Set(['OPTIONS', 'ACK', 'CANCEL', 'BYE']),
    supported: new Set((opts.supported ?? DEFAULT_SUPPORTED).map((t) => t.toLowerCase())),
    acceptedTypes: new Set(opts.acceptedTypes ?? DEFAULT_ACCEPTED),
    producibleTypes: new Set(['application/sdp']),
  };
  return { outOfDialog, inDialog: { ...outOfDialog, allowed: new Set([...KNOWN_METHODS].filter((m) => m !== 'REGISTER')) } };
}

export interface CheckFailure {
  status: number;
  headers: HeaderEntry[];
}

const SCHEMES = new Set(['sip', 'sips', 'tel']);

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

function acceptMatches(range: string, type: string): boolean {
  const r = mediaType(range);
  if (r === '*/*' || r === type) return true;
  const [major] = type.split('/');
  return r === `${major}/*`;
}

export function checkRequest(req: SipRequest, policy: RequestCheckPolicy): CheckFailure | null {
  const allow: HeaderEntry = ['allow', [...policy.allowed].join(', ')];

  // §8.2.1 method inspection
  if (!KNOWN_METHODS.has(req.method)) return { status: 501, headers: [allow] };
  if (!policy.allowed.has(req.method)) return { status: 405, headers: [allow] };

  // §8.2.2.1 Request-URI scheme
  const colon = req.uri.indexOf(':');
  const scheme = colon > 0 ? req.uri.slice(0, colon).toLowerCase() : '';
  if (!SCHEMES.has(scheme)) return { status: 416, headers: [] };
  if (!req.requestUri) return { status: 400, headers: [] };

  // §8.2.2.3 Require (never for ACK/CANCEL)
  if (req.method !== 'ACK' && req.method !== 'CANCEL') {
    const unsupported = req.getAll('require').filter((tag) => !policy.supported.has(tag.toLowerCase()));
    if (unsupported.length > 0) return { status: 420, headers: [['unsupported', unsupported.join(', ')]] };
  }

  // §8.2.3 content processing
  if (req.body.length > 0) {
    const type = req.contentType;
    const encodings = req.getAll('content-encoding').filter((e) => e.toLowerCase() !== 'identity');
    if (!type || !policy.acceptedTypes.has(mediaType(type)) || encodings.length > 0) {
      return {
        status: 415,
        headers: [
          ['accept', [...policy.acceptedTypes].join(', ')],
          ['accept-encoding', 'identity'],
        ],
      };
    }
  }

  // §21.4.7 the answer we would produce is not in the offerer's Accept list
  if (req.method === 'INVITE' && req.has('accept')) {
    const ranges = req.getAll('accept');
    const ok = ranges.length === 0 || [...policy.producibleTypes].some((t) => ranges.some((r) => acceptMatches(r, t)));
    if (!ok) return { status: 406, headers: [['accept', [...policy.producibleTypes].join(', ')]] };
  }
  return null;
}
