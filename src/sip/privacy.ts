// Whether a request's caller withheld their identity (RFC 3323 / RFC 3325), as a PBX must honour it.
import type { SipRequest } from './message.js';
import { isSipUri, isTelUri, type Uri } from './uri.js';

/** A number as written, without user-part parameters (`;cpc=…`) or visual separators. */
function bareNumber(n: string): string {
  const semi = n.indexOf(';');
  return (semi < 0 ? n : n.slice(0, semi)).replace(/[-.() ]/g, '');
}

function uriNumber(uri: Uri | undefined): string | undefined {
  if (isSipUri(uri)) return uri.user;
  if (isTelUri(uri)) return uri.number;
  return undefined;
}

/**
 * Whether a request's caller counts as anonymous (非通知): From user `anonymous` (any case) or host
 * `anonymous.invalid` (RFC 3323 §4.1.1.3), a Privacy header asking to hide the identity (`id`, `user` or
 * `header`, RFC 3323/3325), or no phone number in the From or P-Asserted-Identity at all (a carrier's
 * "unavailable"). A withheld number known to the carrier is still anonymous to the callee.
 */
export function isAnonymousCaller(req: SipRequest): boolean {
  const privacy = req
    .getAll('privacy')
    .flatMap((v) => v.split(/[;,]/))
    .map((v) => v.trim().toLowerCase());
  if (privacy.some((p) => p === 'id' || p === 'user' || p === 'header')) return true;
  const uri = req.from?.uri;
  if (isSipUri(uri) && (uri.host === 'anonymous.invalid' || uri.user?.toLowerCase() === 'anonymous')) return true;
  const asserted = req.getAll('p-asserted-identity').map((v) => {
    const m = /(?:sips?:([^@>]+)@|tel:([^;>]+))/.exec(v);
    return m?.[1] ?? m?.[2];
  });
  return ![uriNumber(uri), ...asserted].some((n) => n !== undefined && /^\+?[0-9]+$/.test(bareNumber(n)));
}

/** The calling party of a request from a trunk: the asserted identity when there is one, else the From. */
export function callingParty(req: SipRequest): { number: string; name?: string } {
  const pai = req.get('p-asserted-identity');
  const from = req.from;
  const uri = from?.uri;
  const number = isSipUri(uri) ? (uri.user ?? 'anonymous') : isTelUri(uri) ? uri.number : 'anonymous';
  const assertedMatch = pai ? /sip:([^@;>]+)@|tel:([^;>]+)/.exec(pai) : null;
  const asserted = assertedMatch ? (assertedMatch[1] ?? assertedMatch[2]) : undefined;
  return { number: asserted ?? number, name: from?.displayName };
}
