import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema, type HibikiConfig } from '../../../src/config/schema.js';
import { callerNumberForms, monthIn, previousMonth, Screening } from '../../../src/features/screening.js';
import { isAnonymousCaller } from '../../../src/sip/privacy.js';
import { SipRequest, type HeaderEntry } from '../../../src/sip/message.js';
import { openDatabase, type Database } from '../../../src/store/db.js';
import { ScreeningStore } from '../../../src/store/screening-store.js';
import { captureLogger } from '../../support/logger.js';

const ext = (number: string, over: Record<string, unknown> = {}) => ({ number, name: `User ${number}`, password: `secret-${number}`, ...over });

function config(over: Record<string, unknown> = {}): HibikiConfig {
  return configSchema.parse({
    tenant: { domain: 'pbx.example.com' },
    listen: [{ transport: 'udp', port: 0 }],
    extensions: [ext('2001'), ext('2002', { blockList: ['0312345678', '0120*'] }), ext('2003', { rejectAnonymous: true }), ext('2004')],
    trunks: [
      { name: 'carrier', host: '192.0.2.1' },
      { name: 'backup', host: '192.0.2.2' },
    ],
    inbound: [
      { did: '0311110000', destination: '2001', blockList: ['0999*'] },
      { did: '0311110000', trunk: 'backup', destination: '2001', blockList: ['0888*'] },
      { did: '0322220000', destination: '2004', rejectAnonymous: true },
      { did: '*', destination: '2004', blockList: ['0777*'] },
    ],
    screening: { blockList: ['05055555555', '+1*'] },
    ...over,
  });
}

// 2024-05-31 23:30 in Tokyo is 14:30 UTC: still May there, half an hour before June.
const MAY_END = Date.UTC(2024, 4, 31, 14, 30);
const JUNE_START = Date.UTC(2024, 4, 31, 15, 0);

let dir: string;
let db: Database;
let now: number;
let cfg: HibikiConfig;
let lines: Record<string, unknown>[];
let screening: Screening;

function makeScreening(): Screening {
  const log = captureLogger();
  lines = log.lines;
  return new Screening({ store: new ScreeningStore(db), config: () => cfg, now: () => now, logger: log.logger });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hibiki-screening-'));
  db = openDatabase(dir);
  now = MAY_END;
  cfg = config();
  screening = makeScreening();
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const caller = (number: string, anonymous = false) => ({ number, anonymous });

describe('Screening.check block lists', () => {
  it('refuses an exact and a prefix match on the extension block list with 403 / cause 21', () => {
    expect(screening.check({ extension: '2002' }, caller('0312345678'))).toMatchObject({ ok: false, kind: 'blocked', status: 403, cause: 21 });
    expect(screening.check({ extension: '2002' }, caller('0120444444'))).toMatchObject({ ok: false, kind: 'blocked' });
    // Exact means exact: a longer number with the blocked one as prefix passes.
    expect(screening.check({ extension: '2002' }, caller('03123456789'))).toEqual({ ok: true });
    expect(screening.check({ extension: '2002' }, caller('2001'))).toEqual({ ok: true });
  });

  it('applies an extension block list to that extension only', () => {
    expect(screening.check({ extension: '2001' }, caller('0312345678'))).toEqual({ ok: true });
    expect(screening.check({ extension: '2002' }, caller('0312345678')).ok).toBe(false);
  });

  it('also matches the national form of a +81 number, and separators do not matter', () => {
    expect(screening.check({ extension: '2002' }, caller('+81312345678')).ok).toBe(false);
    expect(screening.check({ extension: '2002' }, caller('+81-120-444-444')).ok).toBe(false);
    expect(callerNumberForms('+81312345678')).toEqual(['+81312345678', '0312345678']);
    expect(callerNumberForms('+13125550000')).toEqual(['+13125550000']);
    expect(callerNumberForms('2001')).toEqual(['2001']);
    expect(callerNumberForms('+81312345678;cpc=ordinary')).toEqual(['+81312345678', '0312345678']);
  });

  it('uses the DID rule of the trunk when there is one, else the general rule, else *', () => {
    // General rule for this DID.
    expect(screening.check({ did: '0311110000', trunk: 'carrier' }, caller('0999000000')).ok).toBe(false);
    expect(screening.check({ did: '0311110000', trunk: 'carrier' }, caller('0888000000')).ok).toBe(true);
    // The trunk-specific rule replaces the general one for calls from that trunk.
    expect(screening.check({ did: '0311110000', trunk: 'backup' }, caller('0888000000')).ok).toBe(false);
    expect(screening.check({ did: '0311110000', trunk: 'backup' }, caller('0999000000')).ok).toBe(true);
    // An unlisted DID falls to *.
    expect(screening.check({ did: '0399990000', trunk: 'carrier' }, caller('0777000000')).ok).toBe(false);
    // An exact DID wins over *, so * does not add its block list to it.
    expect(screening.check({ did: '0311110000', trunk: 'carrier' }, caller('0777000000')).ok).toBe(true);
  });

  it('finds the rule written nationally for a DID that arrives in +81 form, as routing does', () => {
    // Before, +81311110000 missed the 0311110000 rule here and fell to * (whose list did not block 0999…).
    expect(screening.check({ did: '+81311110000', trunk: 'carrier' }, caller('0999000000'))).toMatchObject({ ok: false, kind: 'blocked', reason: expect.stringContaining('DID +81311110000') });
    expect(screening.check({ did: '+81311110000', trunk: 'carrier' }, caller('0777000000')).ok).toBe(true);
    expect(screening.check({ did: '+81-3-1111-0000;cpc=ordinary', trunk: 'backup' }, caller('0888000000')).ok).toBe(false);
    expect(screening.check({ did: '+81322220000', trunk: 'carrier' }, caller('anonymous', true))).toMatchObject({ ok: false, kind: 'anonymous', status: 433 });
  });

  it('refuses the tenant block list on every extension and DID', () => {
    expect(screening.check({ extension: '2001' }, caller('05055555555'))).toMatchObject({ ok: false, kind: 'blocked', status: 403 });
    expect(screening.check({ did: '0322220000', trunk: 'carrier', extension: '2004' }, caller('+12125550000')).ok).toBe(false);
  });

  it('checks the extension behind a DID as well as the DID rule', () => {
    cfg = config({ extensions: [ext('2001', { blockList: ['0455*'] }), ext('2004')], inbound: [{ did: '0311110000', destination: '2001' }] });
    expect(screening.check({ did: '0311110000', trunk: 'carrier', extension: '2001' }, caller('0455000000')).ok).toBe(false);
  });

  it('blocks a listed number even when the caller withholds it', () => {
    expect(screening.check({ extension: '2002' }, caller('0312345678', true))).toMatchObject({ ok: false, kind: 'blocked' });
  });

  it('passes an unknown extension and a config without lists', () => {
    expect(screening.check({ extension: '2999' }, caller('0312345678'))).toEqual({ ok: true });
    cfg = config({ extensions: [ext('2001')], inbound: [], screening: {} });
    expect(screening.check({ extension: '2001', did: '0311110000' }, caller('0312345678', true))).toEqual({ ok: true });
  });
});

describe('Screening.check anonymous callers', () => {
  it('answers 433 / cause 21 when the extension rejects anonymous calls', () => {
    expect(screening.check({ extension: '2003' }, caller('anonymous', true))).toMatchObject({ ok: false, kind: 'anonymous', status: 433, cause: 21 });
    expect(screening.check({ extension: '2003' }, caller('2001'))).toEqual({ ok: true });
    expect(screening.check({ extension: '2001' }, caller('anonymous', true))).toEqual({ ok: true });
  });

  it('answers 433 when the DID rule rejects anonymous calls, whatever the extension says', () => {
    expect(screening.check({ did: '0322220000', trunk: 'carrier', extension: '2004' }, caller('anonymous', true))).toMatchObject({ ok: false, kind: 'anonymous', status: 433 });
    expect(screening.check({ did: '0399990000', trunk: 'carrier', extension: '2004' }, caller('anonymous', true))).toEqual({ ok: true });
  });

  it('checks anonymity before the block lists', () => {
    cfg = config({ extensions: [ext('2003', { rejectAnonymous: true, blockList: ['0312345678'] })], inbound: [] });
    expect(screening.check({ extension: '2003' }, caller('0312345678', true))).toMatchObject({ kind: 'anonymous', status: 433 });
  });
});

describe('Screening counters', () => {
  it('counts each rejection for its extension, not passed calls, and logs one line per rejection', () => {
    screening.check({ extension: '2002' }, caller('0312345678'));
    screening.check({ extension: '2002' }, caller('0120000000'));
    screening.check({ extension: '2002' }, caller('2001'));
    screening.check({ extension: '2003' }, caller('anonymous', true));
    expect(screening.counters({ extension: '2002' })).toEqual({ thisMonth: 2, lastMonth: 0 });
    expect(screening.counters({ extension: '2003' })).toEqual({ thisMonth: 1, lastMonth: 0 });
    expect(screening.counters({ extension: '2001' })).toEqual({ thisMonth: 0, lastMonth: 0 });
    const logged = lines.filter((l) => l.event === 'screening');
    expect(logged).toHaveLength(3);
    expect(logged[0]).toMatchObject({ kind: 'blocked', target: 'ext:2002', caller: '0312345678' });
    expect(logged[2]).toMatchObject({ kind: 'anonymous', target: 'ext:2003', caller: 'anonymous' });
  });

  it('counts an inbound rejection for the DID and for the extension behind it', () => {
    screening.check({ did: '03-2222-0000', trunk: 'carrier', extension: '2004' }, caller('anonymous', true));
    expect(screening.counters({ did: '0322220000' })).toEqual({ thisMonth: 1, lastMonth: 0 });
    expect(screening.counters({ extension: '2004' })).toEqual({ thisMonth: 1, lastMonth: 0 });
  });

  it('counts a DID under one key, the national form, whichever form it arrived or is asked in', () => {
    screening.check({ did: '+81322220000', trunk: 'carrier' }, caller('anonymous', true));
    screening.check({ did: '0322220000', trunk: 'carrier' }, caller('anonymous', true));
    screening.check({ did: '+81-3-2222-0000;cpc=ordinary', trunk: 'carrier' }, caller('anonymous', true));
    expect(screening.counters({ did: '0322220000' })).toEqual({ thisMonth: 3, lastMonth: 0 });
    expect(screening.counters({ did: '+81322220000' })).toEqual({ thisMonth: 3, lastMonth: 0 });
    expect(new ScreeningStore(db).list()).toEqual([{ target: 'did:0322220000', month: '2024-05', count: 3 }]);
    expect(lines.filter((l) => l.event === 'screening').map((l) => l.target)).toEqual(['did:0322220000', 'did:0322220000', 'did:0322220000']);
    // A number without a national form keeps its own.
    screening.check({ did: '+13125550000', trunk: 'carrier' }, caller('+12125550000'));
    expect(screening.counters({ did: '+13125550000' })).toEqual({ thisMonth: 1, lastMonth: 0 });
  });

  it('rolls over at midnight Tokyo time, not UTC, and keeps last month', () => {
    screening.check({ extension: '2002' }, caller('0312345678'));
    screening.check({ extension: '2002' }, caller('0312345678'));
    expect(screening.counters({ extension: '2002' })).toEqual({ thisMonth: 2, lastMonth: 0 });
    now = JUNE_START; // still 31 May in UTC
    expect(screening.counters({ extension: '2002' })).toEqual({ thisMonth: 0, lastMonth: 2 });
    screening.check({ extension: '2002' }, caller('0312345678'));
    expect(screening.counters({ extension: '2002' })).toEqual({ thisMonth: 1, lastMonth: 2 });
    now = Date.UTC(2024, 6, 15); // July: May is two months back
    expect(screening.counters({ extension: '2002' })).toEqual({ thisMonth: 0, lastMonth: 1 });
  });

  it('follows tenant.timezone', () => {
    cfg = config({ tenant: { domain: 'pbx.example.com', timezone: 'UTC' } });
    now = JUNE_START;
    screening.check({ extension: '2002' }, caller('0312345678'));
    expect(new ScreeningStore(db).list()).toEqual([{ target: 'ext:2002', month: '2024-05', count: 1 }]);
  });

  it('survives a restart through the store', () => {
    screening.check({ extension: '2002' }, caller('0312345678'));
    screening.check({ did: '0311110000', trunk: 'carrier' }, caller('0999123456'));
    db.close();
    db = openDatabase(dir);
    screening = makeScreening();
    expect(screening.counters({ extension: '2002' })).toEqual({ thisMonth: 1, lastMonth: 0 });
    expect(screening.counters({ did: '0311110000' })).toEqual({ thisMonth: 1, lastMonth: 0 });
    expect(new ScreeningStore(db).list()).toEqual([
      { target: 'did:0311110000', month: '2024-05', count: 1 },
      { target: 'ext:2002', month: '2024-05', count: 1 },
    ]);
  });

  it('wants exactly one target', () => {
    expect(() => screening.counters({})).toThrow(RangeError);
    expect(() => screening.counters({ extension: '2002', did: '0311110000' })).toThrow(RangeError);
  });
});

describe('ScreeningStore', () => {
  it('increments, reads and lists rows', () => {
    const store = new ScreeningStore(db);
    expect(store.get('ext:2001', '2024-05')).toBe(0);
    expect(store.increment('ext:2001', '2024-05')).toBe(1);
    expect(store.increment('ext:2001', '2024-05')).toBe(2);
    expect(store.increment('ext:2001', '2024-04')).toBe(1);
    expect(store.get('ext:2001', '2024-05')).toBe(2);
    expect(store.list()).toEqual([
      { target: 'ext:2001', month: '2024-04', count: 1 },
      { target: 'ext:2001', month: '2024-05', count: 2 },
    ]);
  });
});

describe('month helpers', () => {
  it('monthIn and previousMonth', () => {
    expect(monthIn('Asia/Tokyo', MAY_END)).toBe('2024-05');
    expect(monthIn('Asia/Tokyo', JUNE_START)).toBe('2024-06');
    expect(monthIn('UTC', JUNE_START)).toBe('2024-05');
    expect(monthIn('Asia/Tokyo', Date.UTC(2024, 11, 31, 15, 0))).toBe('2025-01');
    expect(previousMonth('2025-01')).toBe('2024-12');
    expect(previousMonth('2024-10')).toBe('2024-09');
  });
});

describe('isAnonymousCaller', () => {
  const invite = (from: string, extra: HeaderEntry[] = []) =>
    new SipRequest('INVITE', 'sip:0311110000@pbx.example.com', [['from', `${from};tag=abc`], ['to', '<sip:0311110000@pbx.example.com>'], ...extra]);

  it('is true for an anonymous From (user or anonymous.invalid host, any case)', () => {
    expect(isAnonymousCaller(invite('"Anonymous" <sip:anonymous@anonymous.invalid>'))).toBe(true);
    expect(isAnonymousCaller(invite('<sip:Anonymous@carrier.example>'))).toBe(true);
    expect(isAnonymousCaller(invite('<sip:0312345678@anonymous.invalid>'))).toBe(true);
  });

  it('is true for Privacy id, user or header, even with an asserted number', () => {
    const pai: HeaderEntry = ['p-asserted-identity', '<sip:+81312345678@carrier.example>'];
    expect(isAnonymousCaller(invite('<sip:0312345678@carrier.example>', [['privacy', 'id'], pai]))).toBe(true);
    expect(isAnonymousCaller(invite('<sip:0312345678@carrier.example>', [['privacy', 'header;user']]))).toBe(true);
    expect(isAnonymousCaller(invite('<sip:0312345678@carrier.example>', [['privacy', 'none']]))).toBe(false);
  });

  it('is true when neither From nor P-Asserted-Identity carries a number', () => {
    expect(isAnonymousCaller(invite('<sip:unavailable@carrier.example>'))).toBe(true);
    expect(isAnonymousCaller(invite('<sip:carrier.example>'))).toBe(true);
    expect(isAnonymousCaller(invite('<sip:unavailable@carrier.example>', [['p-asserted-identity', '<tel:+81-3-1234-5678>']]))).toBe(false);
  });

  it('is false for a presented number in sip or tel form', () => {
    expect(isAnonymousCaller(invite('"佐藤" <sip:0312345678@carrier.example>'))).toBe(false);
    expect(isAnonymousCaller(invite('<sip:+81312345678@carrier.example;user=phone>'))).toBe(false);
    expect(isAnonymousCaller(invite('<tel:+81-3-1234-5678>'))).toBe(false);
    expect(isAnonymousCaller(invite('<sip:2001@pbx.example.com>'))).toBe(false);
    expect(isAnonymousCaller(invite('<sip:+81312345678;cpc=ordinary@carrier.example;user=phone>'))).toBe(false);
  });
});
