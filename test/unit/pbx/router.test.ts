// The dial plan's DID matching (F-DIALPLAN inbound): the forms a DID is compared in, its canonical key, and
// the inbound-rule precedence shared by routing and screening.
import { describe, expect, it } from 'vitest';
import { configSchema, type HibikiConfig } from '../../../src/config/schema.js';
import { canonicalDid, didForms, findInboundRule } from '../../../src/rules/numbers.js';
import { Router } from '../../../src/pbx/router.js';

function config(inbound: unknown[]): HibikiConfig {
  return configSchema.parse({
    tenant: { domain: 'pbx.example.com' },
    listen: [{ transport: 'udp', port: 0 }],
    extensions: ['2001', '2002', '2003', '2004'].map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}` })),
    trunks: [
      { name: 'carrier', host: '192.0.2.1' },
      { name: 'backup', host: '192.0.2.2' },
    ],
    inbound,
  });
}

const RULES = config([
  { did: '0311110000', destination: '2001', blockList: ['0999*'] },
  { did: '0311110000', trunk: 'backup', destination: '2002', blockList: ['0888*'] },
  { did: '+81322220000', destination: '2003' },
  { did: '*', destination: '2004' },
]).inbound;

describe('didForms / canonicalDid', () => {
  it('gives the DID as received, then its national form when it is +81…', () => {
    expect(didForms('+81312345678')).toEqual(['+81312345678', '0312345678']);
    expect(didForms('0312345678')).toEqual(['0312345678']);
    expect(didForms('+13125550000')).toEqual(['+13125550000']);
    expect(didForms('2001')).toEqual(['2001']);
    expect(didForms('+81')).toEqual(['+81']);
  });

  it('drops visual separators and user-part parameters', () => {
    expect(didForms('+81-3-1234-5678')).toEqual(['+81312345678', '0312345678']);
    expect(didForms('(03) 1234.5678')).toEqual(['0312345678']);
    expect(didForms('+81312345678;cpc=ordinary')).toEqual(['+81312345678', '0312345678']);
  });

  it('keys a number by its national form when it has one', () => {
    expect(canonicalDid('+81312345678')).toBe('0312345678');
    expect(canonicalDid('03-1234-5678')).toBe('0312345678');
    expect(canonicalDid('+81-3-1234-5678;cpc=ordinary')).toBe('0312345678');
    expect(canonicalDid('+13125550000')).toBe('+13125550000');
  });
});

describe('findInboundRule', () => {
  it('prefers exact over *, trunk-specific over general, and ignores other trunks', () => {
    expect(findInboundRule(RULES, '0311110000', 'carrier')?.blockList).toEqual(['0999*']);
    expect(findInboundRule(RULES, '0311110000', 'backup')?.blockList).toEqual(['0888*']);
    expect(findInboundRule(RULES, '0311110000', undefined)?.blockList).toEqual(['0999*']);
    expect(findInboundRule(RULES, '0399990000', 'carrier')?.did).toBe('*');
    expect(findInboundRule([{ ...RULES[1]!, did: '*' }], '0311110000', 'carrier')).toBeUndefined();
    expect(findInboundRule([], '0311110000', 'carrier')).toBeUndefined();
  });

  it('matches a DID arriving as +81… against a rule written nationally, before *', () => {
    expect(findInboundRule(RULES, '+81311110000', 'carrier')?.destination).toBe('2001');
    expect(findInboundRule(RULES, '+81311110000', 'backup')?.destination).toBe('2002');
    expect(findInboundRule(RULES, '+81-3-1111-0000;cpc=ordinary', 'carrier')?.destination).toBe('2001');
    // A rule written in E.164 still matches its own form.
    expect(findInboundRule(RULES, '+81322220000', 'carrier')?.destination).toBe('2003');
    // An exact rule in the received form wins over one in the national form.
    const both = config([
      { did: '0311110000', destination: '2001' },
      { did: '+81311110000', destination: '2002' },
    ]).inbound;
    expect(findInboundRule(both, '+81311110000', 'carrier')?.destination).toBe('2002');
    expect(findInboundRule(both, '0311110000', 'carrier')?.destination).toBe('2001');
  });
});

describe('Router inbound', () => {
  const router = new Router(
    config([
      { did: '0311110000', destination: '2001' },
      { did: '0311110000', trunk: 'backup', destination: '2002' },
      { did: '*', trunk: 'backup', destination: '2004' },
    ]),
  );

  it('inboundRule uses the same matcher', () => {
    expect(router.inboundRule('+81311110000', 'carrier')?.destination).toBe('2001');
    expect(router.inboundRule('+81311110000', 'backup')?.destination).toBe('2002');
    expect(router.inboundRule('0399990000', 'backup')?.destination).toBe('2004');
    expect(router.inboundRule('0399990000', 'carrier')).toBeUndefined();
  });

  it("resolveInbound rings the rule's destination, or a DID that is itself a local number", () => {
    expect(router.resolveInbound('+81-3-1111-0000', 'carrier')).toMatchObject({ kind: 'extension', extension: { number: '2001' } });
    expect(router.resolveInbound('2003', 'carrier')).toMatchObject({ kind: 'extension', extension: { number: '2003' } });
    expect(router.resolveInbound('0399990000', 'carrier')).toEqual({ kind: 'not-found' });
  });
});
