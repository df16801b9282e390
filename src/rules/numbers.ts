// How dialled numbers and DIDs are compared: visual separators, carrier parameters, and the national and
// E.164 forms of a Japanese number. Shared by the dial plan, screening, forwarding and the config checks.

/** What an inbound rule needs to be matched (config `inbound:` entries). */
export interface InboundRuleLike {
  did: string;
  trunk?: string;
}

/** Visual separators a phone may send inside a dialled number (RFC 3966 visual-separator). */
export function normaliseDialled(raw: string): string {
  return raw.replace(/[-.() ]/g, '');
}

/**
 * The forms in which a DID (or a caller number) is compared with configured numbers: as received, without
 * visual separators and without the parameters some carriers put in the user part
 * (`+81312345678;cpc=ordinary`, RFC 4694 style); then, for a Japanese E.164 number (+81…), its national
 * form (0…). Carriers send either form, and rules, bulk members and block lists are usually written
 * nationally. The last form is the canonical one (national when there is one): see canonicalDid.
 */
export function didForms(did: string): string[] {
  const semi = did.indexOf(';');
  const n = normaliseDialled(semi < 0 ? did : did.slice(0, semi));
  return n.startsWith('+81') && n.length > 3 ? [n, `0${n.slice(3)}`] : [n];
}

/** One key per number for lookups and counters: the national form when it has one (`+81312345678` → `0312345678`). */
export function canonicalDid(did: string): string {
  const forms = didForms(did);
  return forms[forms.length - 1]!;
}

/**
 * The inbound rule a DID from a trunk matches: an exact entry (in any of the DID's forms, as received
 * first) wins over `*`, a trunk-specific rule over a general one; a rule for another trunk never matches,
 * and without a trunk only general rules do. Used by the router and by screening alike.
 */
export function findInboundRule<R extends InboundRuleLike>(rules: readonly R[], didRaw: string, trunk: string | undefined): R | undefined {
  for (const form of didForms(didRaw)) {
    const exact = matchInbound(rules, form, trunk, false);
    if (exact) return exact;
  }
  return matchInbound(rules, '*', trunk, true);
}

function matchInbound<R extends InboundRuleLike>(rules: readonly R[], did: string, trunk: string | undefined, wildcard: boolean): R | undefined {
  let best: R | undefined;
  for (const r of rules) {
    if (r.trunk !== undefined && r.trunk !== trunk) continue;
    if (wildcard ? r.did !== '*' : r.did !== did) continue;
    // A trunk-specific rule wins over a general one; among equals, the first in the file.
    if (!best || (r.trunk !== undefined && best.trunk === undefined)) best = r;
  }
  return best;
}
