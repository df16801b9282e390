import { describe, expect, it } from 'vitest';
import { restrictionsSchema } from '../../../src/config/routing-schema.js';
import {
  forwardDestinationVerdict,
  hasOutboundRoute,
  isInternational,
  isParkNumber,
  isServiceNumber,
  matchesAny,
  matchesPattern,
  outboundVerdict,
  type DestinationContext,
  type OutboundClass,
  type RestrictionRules,
} from '../../../src/rules/number-rules.js';

const DEFAULTS: RestrictionRules = restrictionsSchema.parse({});
const rules = (over: Partial<RestrictionRules> = {}): RestrictionRules => ({ ...DEFAULTS, ...over });

describe('restriction defaults', () => {
  it("are Japan's: 010 and + international, 110/118/119 emergency, an empty list", () => {
    expect(DEFAULTS).toEqual({ list: [], internationalPrefixes: ['010', '+'], emergencyNumbers: ['110', '118', '119'] });
  });
});

describe('patterns', () => {
  it('match exact digits exactly', () => {
    expect(matchesPattern('0312345678', '0312345678')).toBe(true);
    expect(matchesPattern('03123456789', '0312345678')).toBe(false);
    expect(matchesPattern('031234567', '0312345678')).toBe(false);
  });

  it('match a prefix when the pattern ends in *', () => {
    expect(matchesPattern('0120123456', '0120*')).toBe(true);
    expect(matchesPattern('0120', '0120*')).toBe(true);
    expect(matchesPattern('012', '0120*')).toBe(false);
    expect(matchesPattern('+15551234567', '+1*')).toBe(true);
    expect(matchesPattern('15551234567', '+1*')).toBe(false);
  });

  it('matchesAny is true when any pattern matches, false for an empty list', () => {
    expect(matchesAny('0990123', ['0120*', '0990*'])).toBe(true);
    expect(matchesAny('0312345678', ['0120*', '0990*'])).toBe(false);
    expect(matchesAny('0312345678', [])).toBe(false);
  });
});

describe('isInternational', () => {
  it('recognises 010 and + and nothing else by default', () => {
    expect(isInternational('0101234567890', DEFAULTS)).toBe(true);
    expect(isInternational('+12125550000', DEFAULTS)).toBe(true);
    expect(isInternational('0312345678', DEFAULTS)).toBe(false);
    expect(isInternational('09012345678', DEFAULTS)).toBe(false);
    expect(isInternational('001012125550000', DEFAULTS)).toBe(false);
  });

  it('uses configured prefixes, and an empty prefix makes nothing international', () => {
    const r = rules({ internationalPrefixes: ['001', ''] });
    expect(isInternational('001012125550000', r)).toBe(true);
    expect(isInternational('0101234567890', r)).toBe(false);
    expect(isInternational('0312345678', r)).toBe(false);
  });
});

describe('isServiceNumber', () => {
  it('covers the emergency numbers and every 3-digit 1XX number', () => {
    for (const n of ['110', '118', '119', '104', '117', '177', '171', '100', '199']) expect(isServiceNumber(n, DEFAULTS), n).toBe(true);
  });

  it('does not cover longer or shorter numbers starting with 1, or other 3-digit numbers', () => {
    for (const n of ['1100', '11', '1', '0110', '911', '2001', '1410']) expect(isServiceNumber(n, DEFAULTS), n).toBe(false);
  });

  it('adds configured emergency numbers of other lengths', () => {
    expect(isServiceNumber('9999', rules({ emergencyNumbers: ['9999'] }))).toBe(true);
    expect(isServiceNumber('9999', DEFAULTS)).toBe(false);
  });
});

describe('outboundVerdict', () => {
  const verdict = (n: string, cls: OutboundClass, r = DEFAULTS) => outboundVerdict(n, cls, r);

  it('bars every outside number for an internal extension', () => {
    expect(verdict('0312345678', 'internal')).toMatchObject({ ok: false, reason: expect.stringContaining('outside calls') });
    expect(verdict('0101234567890', 'internal').ok).toBe(false);
  });

  it('lets a domestic extension call national numbers but not 010 or + numbers', () => {
    expect(verdict('0312345678', 'domestic')).toEqual({ ok: true });
    expect(verdict('09012345678', 'domestic')).toEqual({ ok: true });
    expect(verdict('0101234567890', 'domestic')).toMatchObject({ ok: false, reason: expect.stringContaining('international') });
    expect(verdict('+12125550000', 'domestic')).toMatchObject({ ok: false, reason: expect.stringContaining('international') });
  });

  it('lets an international extension call both', () => {
    expect(verdict('0312345678', 'international')).toEqual({ ok: true });
    expect(verdict('0101234567890', 'international')).toEqual({ ok: true });
    expect(verdict('+12125550000', 'international')).toEqual({ ok: true });
  });

  it('bars numbers on the tenant restriction list for every class, exact or by prefix', () => {
    const r = rules({ list: ['0990*', '0312345678'] });
    for (const cls of ['internal', 'domestic', 'international'] as const) {
      expect(verdict('09901234567', cls, r)).toMatchObject({ ok: false, reason: expect.stringContaining('restriction list') });
      expect(verdict('0312345678', cls, r)).toMatchObject({ ok: false, reason: expect.stringContaining('restriction list') });
    }
    expect(verdict('03123456789', 'domestic', r)).toEqual({ ok: true });
  });

  it('does not bar emergency numbers for domestic and international extensions', () => {
    for (const n of ['110', '118', '119']) {
      expect(verdict(n, 'domestic')).toEqual({ ok: true });
      expect(verdict(n, 'international')).toEqual({ ok: true });
    }
  });
});

describe('forwardDestinationVerdict', () => {
  const locals = new Set(['2001', '2002', '3000']);
  // Outside numbers go out through "0" (any length) in these tests, as the default trunk route does.
  const CTX: DestinationContext = {
    isLocal: (n) => locals.has(n),
    isParkNumber: (n) => isParkNumber(n, { lot: '9000', slots: [9001, 9020] }),
    routes: [{ prefix: '0', minLength: 1, maxLength: 32 }],
    callPrefixes: { withhold: '184', present: '186' },
  };
  const owner = (outboundClass: OutboundClass = 'domestic') => ({ number: '2001', outboundClass });
  const verdict = (dest: string, cls: OutboundClass = 'domestic', r = DEFAULTS, ctx = CTX) => forwardDestinationVerdict(dest, owner(cls), r, ctx);

  it('accepts a local extension or group and a domestic number', () => {
    expect(verdict('2002')).toEqual({ ok: true });
    expect(verdict('3000')).toEqual({ ok: true });
    expect(verdict('09012345678')).toEqual({ ok: true });
    expect(verdict('2002', 'internal')).toEqual({ ok: true });
  });

  it('takes digits only, 1 to 32 of them', () => {
    expect(verdict('')).toMatchObject({ ok: false, reason: expect.stringContaining('1–32 digits') });
    expect(verdict('090-1234-5678').ok).toBe(false);
    expect(verdict('+12125550000', 'international').ok).toBe(false);
    expect(verdict('*8').ok).toBe(false);
    expect(verdict('0'.repeat(32))).toEqual({ ok: true });
    expect(verdict('0'.repeat(33)).ok).toBe(false);
  });

  it('refuses the extension itself', () => {
    expect(verdict('2001')).toMatchObject({ ok: false, reason: expect.stringContaining('itself') });
  });

  it('refuses emergency numbers and 1XX service numbers, whatever the class', () => {
    for (const n of ['110', '118', '119', '117', '177', '104']) {
      expect(verdict(n, 'international'), n).toMatchObject({ ok: false, reason: expect.stringContaining('emergency or service') });
    }
    expect(verdict('9999', 'international', rules({ emergencyNumbers: ['9999'] })).ok).toBe(false);
    // Longer numbers starting with 1 are not service numbers.
    expect(verdict('1234', 'domestic', DEFAULTS, { ...CTX, routes: [{ prefix: '1', minLength: 4, maxLength: 4 }] })).toEqual({ ok: true });
  });

  it('refuses numbers on the restriction list', () => {
    const r = rules({ list: ['0990*'] });
    expect(verdict('09901234567', 'international', r)).toMatchObject({ ok: false, reason: expect.stringContaining('restriction list') });
  });

  it('allows an international destination only when the extension may call abroad', () => {
    expect(verdict('0101234567890', 'domestic').ok).toBe(false);
    expect(verdict('0101234567890', 'international')).toEqual({ ok: true });
  });

  it('refuses outside destinations for an internal extension', () => {
    expect(verdict('0312345678', 'internal')).toMatchObject({ ok: false, reason: expect.stringContaining('outside calls') });
  });

  it('refuses a destination carrying the 184/186 per-call prefix, which the router would strip', () => {
    // 1421 184110 would really forward to 110; 184010… would escape the domestic class; 1842001 is 2001 itself.
    for (const d of ['184110', '1840101234567890', '1842001', '1842002', '18609012345678', '1860312345678']) {
      expect(verdict(d, 'international'), d).toMatchObject({ ok: false, reason: 'a forwarding destination cannot carry the 184/186 prefix' });
    }
    // The prefixes are the configured ones.
    const ctx = { ...CTX, callPrefixes: { withhold: '*67', present: '*65' } };
    expect(verdict('1840312345678', 'domestic', DEFAULTS, { ...ctx, routes: [...CTX.routes, { prefix: '184', minLength: 4, maxLength: 32 }] })).toEqual({ ok: true });
    expect(verdict('184', 'international')).toMatchObject({ ok: false, reason: expect.stringContaining('emergency or service') });
  });

  it('refuses a park slot or the park lot', () => {
    for (const d of ['9000', '9001', '9020']) expect(verdict(d), d).toMatchObject({ ok: false, reason: `${d} is a park slot or the park lot` });
    expect(verdict('9021')).toMatchObject({ ok: false, reason: 'no route to 9021' });
  });

  it('refuses an outside number no outbound route takes', () => {
    expect(verdict('9')).toMatchObject({ ok: false, reason: 'no route to 9' });
    expect(verdict('0312345678', 'domestic', DEFAULTS, { ...CTX, routes: [] })).toMatchObject({ ok: false, reason: 'no route to 0312345678' });
    const lengths = { ...CTX, routes: [{ prefix: '03', minLength: 10, maxLength: 10 }] };
    expect(verdict('0312345678', 'domestic', DEFAULTS, lengths)).toEqual({ ok: true });
    expect(verdict('031234567', 'domestic', DEFAULTS, lengths)).toMatchObject({ ok: false, reason: 'no route to 031234567' });
    expect(verdict('03123456789', 'domestic', DEFAULTS, lengths)).toMatchObject({ ok: false, reason: 'no route to 03123456789' });
    expect(verdict('0612345678', 'domestic', DEFAULTS, lengths)).toMatchObject({ ok: false, reason: 'no route to 0612345678' });
    // Local numbers need no route.
    expect(verdict('2002', 'domestic', DEFAULTS, { ...CTX, routes: [] })).toEqual({ ok: true });
  });
});

describe('hasOutboundRoute', () => {
  const routes = [
    { prefix: '0', minLength: 10, maxLength: 11 },
    { prefix: '0120', minLength: 10, maxLength: 10 },
    { prefix: '010', minLength: 8, maxLength: 32 },
  ];

  it('needs a matching prefix and a length within [minLength, maxLength]', () => {
    expect(hasOutboundRoute('0312345678', routes)).toBe(true);
    expect(hasOutboundRoute('09012345678', routes)).toBe(true);
    expect(hasOutboundRoute('031234567', routes)).toBe(false);
    expect(hasOutboundRoute('090123456789', routes)).toBe(false);
    expect(hasOutboundRoute('0101234567890', routes)).toBe(true);
    expect(hasOutboundRoute('9', routes)).toBe(false);
    expect(hasOutboundRoute('0312345678', [])).toBe(false);
  });

  it('like the router, a longer prefix whose lengths do not fit leaves the number to a shorter one', () => {
    // 0120 takes only 10 digits; an 11-digit 0120… still goes out through "0".
    expect(hasOutboundRoute('01201234567', routes)).toBe(true);
    expect(hasOutboundRoute('01201234567', [routes[1]!])).toBe(false);
  });
});

describe('isParkNumber', () => {
  const park = { lot: '9000', slots: [9001, 9020] as [number, number] };

  it('is the lot or a number in the slot range', () => {
    expect(isParkNumber('9000', park)).toBe(true);
    expect(isParkNumber('9001', park)).toBe(true);
    expect(isParkNumber('9020', park)).toBe(true);
    expect(isParkNumber('9021', park)).toBe(false);
    expect(isParkNumber('8999', park)).toBe(false);
    expect(isParkNumber('2001', park)).toBe(false);
    expect(isParkNumber('', park)).toBe(false);
  });
});
