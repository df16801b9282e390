// What kind of number a dialled string is, and whether a caller may reach it or forward to it
// (F-SCREEN outbound restrictions, F-FWD destination rules). Pure functions over the config, used by
// the config cross-checks, the service codes and the router alike, so all three agree.

export type OutboundClass = 'internal' | 'domestic' | 'international';

export interface RestrictionRules {
  list: readonly string[];
  internationalPrefixes: readonly string[];
  emergencyNumbers: readonly string[];
}

/** A block/restriction pattern: exact digits, or a prefix when it ends in `*`. */
export function matchesPattern(number: string, pattern: string): boolean {
  if (pattern.endsWith('*')) return number.startsWith(pattern.slice(0, -1));
  return number === pattern;
}

export function matchesAny(number: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => matchesPattern(number, p));
}

export function isInternational(number: string, rules: RestrictionRules): boolean {
  return rules.internationalPrefixes.some((p) => p.length > 0 && number.startsWith(p));
}

/** Emergency numbers and the 3-digit 1XX service numbers (117, 177, 104…). */
export function isServiceNumber(number: string, rules: RestrictionRules): boolean {
  return rules.emergencyNumbers.includes(number) || /^1[0-9]{2}$/.test(number);
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/**
 * May an extension of this class call an outside number (one that is not an extension, group or other
 * local number)? The tenant restriction list bars everyone.
 */
export function outboundVerdict(number: string, cls: OutboundClass, rules: RestrictionRules): Verdict {
  if (matchesAny(number, rules.list)) return { ok: false, reason: `${number} is on the restriction list` };
  if (cls === 'internal') return { ok: false, reason: 'outside calls are not allowed for this extension' };
  if (cls === 'domestic' && isInternational(number, rules)) return { ok: false, reason: 'international calls are not allowed for this extension' };
  return { ok: true };
}

/** The part of an outbound route (config `routes:`) that decides whether it takes a number. */
export interface RouteMatch {
  prefix: string;
  minLength: number;
  maxLength: number;
}

/**
 * Whether some outbound route takes this number: its prefix matches and the number's length lies within
 * [minLength, maxLength] — the test Router.target applies (the schema makes sure every route's trunk exists).
 */
export function hasOutboundRoute(number: string, routes: readonly RouteMatch[]): boolean {
  return routes.some((r) => number.startsWith(r.prefix) && number.length >= r.minLength && number.length <= r.maxLength);
}

/** The park lot or a park slot, compared as the park feature does (digits whose value lies in the slot range). */
export function isParkNumber(number: string, park: { lot: string; slots: readonly [number, number] }): boolean {
  if (number === park.lot) return true;
  if (!/^[0-9]+$/.test(number)) return false;
  const n = Number(number);
  return n >= park.slots[0] && n <= park.slots[1];
}

/** What forwardDestinationVerdict needs to know about the dial plan besides the restriction rules. */
export interface DestinationContext {
  /** An extension or group number (the park lot and slots are not local here). */
  isLocal: (n: string) => boolean;
  /** The park lot or a park slot. */
  isParkNumber: (n: string) => boolean;
  /** Outbound routes; an outside destination must be taken by one of them. */
  routes: readonly RouteMatch[];
  /** The per-call prefixes (serviceCodes.withhold / present) the router strips when the call is placed. */
  callPrefixes: { withhold: string; present: string };
  /** Whether a voicemail box with this number takes messages (F-VM); unset: no voicemail destinations. */
  isMailbox?: (box: string) => boolean;
}

/**
 * F-FWD destination rules: digits only (hyphens already removed), ≤ 32 digits, not the extension itself,
 * not carrying the 184/186 per-call prefix (the router would strip it, so the number really dialled would
 * escape the checks below), not an emergency or 1XX service number, not a park number; then either a local
 * extension/group, or an outside number that is not restricted, allowed by the class and taken by an
 * outbound route.
 */
export function forwardDestinationVerdict(destination: string, owner: { number: string; outboundClass: OutboundClass }, rules: RestrictionRules, ctx: DestinationContext): Verdict {
  // F-VM: `voicemail` is the owner's own box, `voicemail:<box>` any box; the box must exist and take messages.
  const vm = /^voicemail(?::([0-9]+))?$/.exec(destination);
  if (vm) {
    const box = vm[1] ?? owner.number;
    return ctx.isMailbox?.(box) ? { ok: true } : { ok: false, reason: vm[1] === undefined ? `${owner.number} has no voicemail box` : `no voicemail box ${box}` };
  }
  if (!/^[0-9]{1,32}$/.test(destination)) return { ok: false, reason: 'a forwarding destination is 1–32 digits' };
  if (destination === owner.number) return { ok: false, reason: 'an extension cannot forward to itself' };
  const { withhold, present } = ctx.callPrefixes;
  for (const prefix of [withhold, present]) {
    if (prefix.length > 0 && destination.length > prefix.length && destination.startsWith(prefix)) {
      return { ok: false, reason: `a forwarding destination cannot carry the ${withhold}/${present} prefix` };
    }
  }
  if (isServiceNumber(destination, rules)) return { ok: false, reason: `${destination} is an emergency or service number` };
  if (ctx.isParkNumber(destination)) return { ok: false, reason: `${destination} is a park slot or the park lot` };
  if (ctx.isLocal(destination)) return { ok: true };
  const outbound = outboundVerdict(destination, owner.outboundClass, rules);
  if (!outbound.ok) return outbound;
  if (!hasOutboundRoute(destination, ctx.routes)) return { ok: false, reason: `no route to ${destination}` };
  return { ok: true };
}
