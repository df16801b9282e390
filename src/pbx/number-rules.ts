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

/**
 * F-FWD destination rules: digits only (hyphens already removed), ≤ 32 digits, not an emergency or 1XX
 * service number, not the extension itself, not restricted, international only when the class allows it.
 * `isLocal` says whether the number is a local extension/group (those pass the outbound checks).
 */
export function forwardDestinationVerdict(
  destination: string,
  owner: { number: string; outboundClass: OutboundClass },
  rules: RestrictionRules,
  isLocal: (n: string) => boolean,
): Verdict {
  if (!/^[0-9]{1,32}$/.test(destination)) return { ok: false, reason: 'a forwarding destination is 1–32 digits' };
  if (destination === owner.number) return { ok: false, reason: 'an extension cannot forward to itself' };
  if (isServiceNumber(destination, rules)) return { ok: false, reason: `${destination} is an emergency or service number` };
  if (isLocal(destination)) return { ok: true };
  return outboundVerdict(destination, owner.outboundClass, rules);
}
