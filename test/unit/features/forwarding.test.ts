// F-FWD forwarding state: YAML seed and "last edit wins", run-time changes surviving reloads and restarts,
// destination rules, the 5-destination limit, CFU excluding the others, schedule and bulk forwarding.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema, type HibikiConfig } from '../../../src/config/schema.js';
import { ForwardingService, type ForwardingState } from '../../../src/features/forwarding.js';
import { openDatabase, type Database } from '../../../src/store/db.js';
import { captureLogger } from '../../support/logger.js';

const NUMBERS = ['2001', '2002', '2003', '2004'];
// Monday 2026-11-23, Asia/Tokyo.
const MON_10 = Date.parse('2026-11-23T10:00:00+09:00');
const MON_20 = Date.parse('2026-11-23T20:00:00+09:00');
const TUE_10 = Date.parse('2026-11-24T10:00:00+09:00');

type Ext = Record<string, unknown>;

/** Monday 2026-11-23 is a public holiday (勤労感謝の日): the calendar is off unless a test turns it on. */
function buildConfig(opts: { ext?: Record<string, Ext>; extra?: Record<string, unknown>; numbers?: string[]; japaneseHolidays?: boolean } = {}): HibikiConfig {
  return configSchema.parse({
    tenant: { domain: 'pbx.example.com', holidays: ['2026-11-24'], ...(opts.japaneseHolidays === undefined ? { japaneseHolidays: false } : { japaneseHolidays: opts.japaneseHolidays }) },
    listen: [{ transport: 'udp', port: 5060 }],
    extensions: (opts.numbers ?? NUMBERS).map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}`, ...opts.ext?.[n] })),
    groups: [{ number: '3000', name: '営業', members: ['2001', '2003'] }],
    restrictions: { list: ['0120*', '0990000000'] },
    // Outside destinations must be routed (F-FWD): every number starting with 0 goes to the carrier.
    trunks: [{ name: 'carrier', host: '192.0.2.10' }],
    routes: [{ name: 'out', prefix: '0', trunk: 'carrier' }],
    ...opts.extra,
  });
}

let dir: string;
const dbs: Database[] = [];
let clock = MON_10;

function open(): Database {
  const db = openDatabase(dir);
  dbs.push(db);
  return db;
}

/** A service over the temp database, as the server builds it: applyConfig first. */
function service(config: HibikiConfig, db = open(), logger: Logger = pino({ level: 'silent' })): { fwd: ForwardingService; setConfig: (c: HibikiConfig) => void } {
  let current = config;
  const fwd = new ForwardingService({ db, config: () => current, now: () => clock, logger });
  fwd.applyConfig(config);
  return {
    fwd,
    setConfig: (c) => {
      current = c;
      fwd.applyConfig(c);
    },
  };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hibiki-fwd-'));
  clock = MON_10;
});

afterEach(() => {
  for (const db of dbs.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

const OFF = { on: false, destination: null };

describe('YAML seed and last edit wins', () => {
  it("seeds the state from the YAML: listed destinations, then each condition's, deduplicated", () => {
    const { fwd } = service(buildConfig({ ext: { '2002': { dnd: true, forwarding: { destinations: ['0312345678'], busy: '2003', noAnswer: '03-1234-5678', noAnswerTimeout: 15 } } } }));
    expect(fwd.state('2002')).toEqual<ForwardingState>({
      destinations: ['0312345678', '2003'],
      conditions: { cfu: OFF, cfb: { on: true, destination: 1 }, cfna: { on: true, destination: 0 }, cfur: OFF },
      noAnswerTimeout: 15,
      dnd: true,
    });
    expect(fwd.effective('2002')).toEqual({ cfb: '2003', cfna: '0312345678', noAnswerTimeout: 15, dnd: true, source: 'normal' });
    expect(fwd.state('2001')).toEqual({ destinations: [], conditions: { cfu: OFF, cfb: OFF, cfna: OFF, cfur: OFF }, noAnswerTimeout: 20, dnd: false });
    expect(fwd.effective('2001')).toEqual({ noAnswerTimeout: 20, dnd: false, source: 'normal' });
  });

  it('keeps a run-time change across a reload with an unchanged YAML and across a restart', () => {
    const yaml = { ext: { '2002': { forwarding: { busy: '2003' } } } };
    const first = service(buildConfig(yaml));
    expect(first.fwd.setCondition('2002', 'cfu', true, '2004')).toEqual({ ok: true, destination: '2004' });
    first.fwd.setDnd('2002', true);
    // Reload: a new config object parsed from the same YAML.
    first.setConfig(buildConfig(yaml));
    expect(first.fwd.effective('2002')).toEqual({ cfu: '2004', noAnswerTimeout: 20, dnd: true, source: 'normal' });
    // Restart: a new service on a fresh connection to the same file.
    for (const db of dbs.splice(0)) db.close();
    const second = service(buildConfig(yaml));
    expect(second.fwd.effective('2002')).toEqual({ cfu: '2004', noAnswerTimeout: 20, dnd: true, source: 'normal' });
    expect(second.fwd.state('2002').destinations).toEqual(['2003', '2004']);
  });

  it('an edited YAML wins over earlier run-time changes, for that extension only', () => {
    const { fwd, setConfig } = service(buildConfig({ ext: { '2002': { forwarding: { busy: '2003' } } } }));
    fwd.setCondition('2002', 'cfu', true, '2004');
    fwd.setCondition('2003', 'cfna', true, '2001');
    fwd.setDnd('2004', true);
    setConfig(buildConfig({ ext: { '2002': { forwarding: { busy: '2001' } } } }));
    expect(fwd.effective('2002')).toEqual({ cfb: '2001', noAnswerTimeout: 20, dnd: false, source: 'normal' });
    expect(fwd.effective('2003').cfna).toBe('2001');
    expect(fwd.effective('2004').dnd).toBe(true);
    // A DND edit in the YAML is an edit too.
    setConfig(buildConfig({ ext: { '2002': { forwarding: { busy: '2001' } }, '2004': { dnd: true } } }));
    fwd.setDnd('2004', false);
    setConfig(buildConfig({ ext: { '2002': { forwarding: { busy: '2001' } }, '2004': { dnd: false } } }));
    expect(fwd.effective('2004').dnd).toBe(false);
    setConfig(buildConfig({ ext: { '2002': { forwarding: { busy: '2001' } }, '2004': { dnd: true } } }));
    expect(fwd.effective('2004').dnd).toBe(true);
  });

  it('rows of extensions removed from the config do no harm', () => {
    const { fwd, setConfig } = service(buildConfig());
    fwd.setCondition('2004', 'cfu', true, '2001');
    setConfig(buildConfig({ numbers: ['2001', '2002', '2003'] }));
    expect(fwd.setCondition('2004', 'cfu', true, '2002')).toEqual({ ok: false, reason: 'unknown extension 2004' });
    expect(() => fwd.setDnd('2004', true)).toThrow(/unknown extension 2004/);
    expect(fwd.effective('2001')).toEqual({ noAnswerTimeout: 20, dnd: false, source: 'normal' });
  });
});

describe('setCondition', () => {
  it('refuses destinations that break the F-FWD rules and changes nothing', () => {
    const { fwd } = service(buildConfig({ ext: { '2002': { forwarding: { noAnswer: '2003' } }, '2004': { outboundClass: 'internal' } } }));
    const before = fwd.state('2002');
    const refused = (dest: string) => {
      const r = fwd.setCondition('2002', 'cfu', true, dest);
      expect(r.ok, dest).toBe(false);
      return r.ok ? '' : r.reason;
    };
    expect(refused('2002')).toMatch(/itself/);
    expect(refused('110')).toMatch(/emergency or service/);
    expect(refused('119')).toMatch(/emergency or service/);
    expect(refused('117')).toMatch(/emergency or service/);
    expect(refused('0120123456')).toMatch(/restriction list/);
    expect(refused('0990000000')).toMatch(/restriction list/);
    expect(refused('0101234567890')).toMatch(/international/);
    expect(refused('12*3')).toMatch(/digits/);
    expect(refused('1'.repeat(33))).toMatch(/digits/);
    expect(fwd.state('2002')).toEqual(before);
    // An internal-only extension may forward to local numbers only.
    expect(fwd.setCondition('2004', 'cfu', true, '0312345678')).toMatchObject({ ok: false, reason: expect.stringMatching(/outside calls/) });
    expect(fwd.setCondition('2004', 'cfu', true, '3000')).toEqual({ ok: true, destination: '3000' });
    expect(fwd.setCondition('2099', 'cfu', true, '2001')).toEqual({ ok: false, reason: 'unknown extension 2099' });
  });

  it('refuses the 184/186 prefix, park numbers and numbers no route takes', () => {
    const { fwd } = service(buildConfig({ ext: { '2002': { outboundClass: 'international' } } }));
    const before = fwd.state('2002');
    const reason = (dest: string) => {
      const r = fwd.setCondition('2002', 'cfu', true, dest);
      return r.ok ? 'ok' : r.reason;
    };
    // The router strips the prefix when the call is placed: 184110 would ring 110, 1842002 the extension itself.
    for (const d of ['184110', '1842002', '1842003', '186-03-1234-5678']) expect(reason(d), d).toBe('a forwarding destination cannot carry the 184/186 prefix');
    expect(reason('9000')).toBe('9000 is a park slot or the park lot');
    expect(reason('9001')).toBe('9001 is a park slot or the park lot');
    expect(reason('9')).toBe('no route to 9');
    expect(reason('5555')).toBe('no route to 5555');
    expect(fwd.state('2002')).toEqual(before);
    // Without a route, outside numbers are refused; local ones still pass.
    const unrouted = service(buildConfig({ extra: { routes: [] } }));
    expect(unrouted.fwd.setCondition('2002', 'cfb', true, '0312345678')).toEqual({ ok: false, reason: 'no route to 0312345678' });
    expect(unrouted.fwd.setCondition('2002', 'cfb', true, '2003')).toEqual({ ok: true, destination: '2003' });
  });

  it('re-checks a stored destination that lost its route', () => {
    const { fwd, setConfig } = service(buildConfig({ ext: { '2002': { forwarding: { destinations: ['0312345678'] } } } }));
    setConfig(
      buildConfig({
        ext: { '2002': { forwarding: { destinations: ['0312345678'] } } },
        extra: { trunks: [{ name: 'carrier', host: '192.0.2.10' }], routes: [{ name: 'out', prefix: '06', trunk: 'carrier' }] },
      }),
    );
    expect(fwd.setCondition('2002', 'cfu', true)).toEqual({ ok: false, reason: 'no route to 0312345678' });
  });

  it('allows international destinations to an international-class extension; hyphens are ignored', () => {
    const { fwd } = service(buildConfig({ ext: { '2003': { outboundClass: 'international' } } }));
    expect(fwd.setCondition('2003', 'cfna', true, '010-1-555-0100')).toEqual({ ok: true, destination: '01015550100' });
    expect(fwd.effective('2003').cfna).toBe('01015550100');
  });

  it('without a number uses the destination the condition used last, else the first stored one', () => {
    const { fwd } = service(buildConfig({ ext: { '2002': { forwarding: { destinations: ['0311112222', '0333334444'] } } } }));
    expect(fwd.setCondition('2002', 'cfb', true)).toEqual({ ok: true, destination: '0311112222' });
    expect(fwd.setCondition('2002', 'cfu', true, '0333334444')).toEqual({ ok: true, destination: '0333334444' });
    expect(fwd.setCondition('2002', 'cfu', false)).toEqual({ ok: true, destination: '0333334444' });
    expect(fwd.state('2002').conditions.cfu).toEqual({ on: false, destination: 1 });
    expect(fwd.effective('2002')).toEqual({ cfb: '0311112222', noAnswerTimeout: 20, dnd: false, source: 'normal' });
    expect(fwd.setCondition('2002', 'cfu', true)).toEqual({ ok: true, destination: '0333334444' });
    expect(fwd.setCondition('2003', 'cfu', true)).toEqual({ ok: false, reason: 'no stored destination' });
    // Turning off what was never on is fine.
    expect(fwd.setCondition('2003', 'cfur', false)).toEqual({ ok: true });
  });

  it('a stored destination that the rules now refuse is not turned back on', () => {
    const { fwd, setConfig } = service(buildConfig({ ext: { '2002': { forwarding: { destinations: ['0312345678'] } } } }));
    setConfig(buildConfig({ ext: { '2002': { forwarding: { destinations: ['0312345678'] } } }, extra: { restrictions: { list: ['03*'] } } }));
    expect(fwd.setCondition('2002', 'cfu', true)).toMatchObject({ ok: false, reason: expect.stringMatching(/restriction list/) });
  });

  it("stores at most 5 destinations: a new one replaces this condition's, else the oldest unused one", () => {
    const dests = ['0300000001', '0300000002', '0300000003', '0300000004', '0300000005'];
    const { fwd } = service(buildConfig({ ext: { '2002': { forwarding: { destinations: dests, busy: dests[0], noAnswer: dests[1] } } } }));
    // cfur on then off: it remembers slot 3, which a new number should not take while slot 2 is free.
    expect(fwd.setCondition('2002', 'cfur', true, dests[3])).toEqual({ ok: true, destination: dests[3] });
    fwd.setCondition('2002', 'cfur', false);
    expect(fwd.setCondition('2002', 'cfu', true, '0600000006')).toEqual({ ok: true, destination: '0600000006' });
    let st = fwd.state('2002');
    expect(st.destinations).toEqual([dests[0], dests[1], '0600000006', dests[3], dests[4]]);
    expect(st.conditions.cfu).toEqual({ on: true, destination: 2 });
    // cfu again: its own slot is reused.
    fwd.setCondition('2002', 'cfu', true, '0600000007');
    st = fwd.state('2002');
    expect(st.destinations).toEqual([dests[0], dests[1], '0600000007', dests[3], dests[4]]);
    // cfb points at slot 0 and nobody else uses it: replaced in place.
    fwd.setCondition('2002', 'cfb', true, '0600000008');
    st = fwd.state('2002');
    expect(st.destinations[0]).toBe('0600000008');
    expect(st.destinations).toHaveLength(5);
    // An existing number reuses its slot.
    expect(fwd.setCondition('2002', 'cfur', true, dests[4])).toEqual({ ok: true, destination: dests[4] });
    expect(fwd.state('2002').conditions.cfur).toEqual({ on: true, destination: 4 });
    // Slot 3 is now referenced by nobody: a new cfna number (cfna's own slot 1 is also free) takes slot 1.
    fwd.setCondition('2002', 'cfna', true, '0600000009');
    st = fwd.state('2002');
    expect(st.destinations).toEqual(['0600000008', '0600000009', '0600000007', dests[3], dests[4]]);
    expect(fwd.effective('2002')).toEqual({ cfu: '0600000007', noAnswerTimeout: 20, dnd: false, source: 'normal' });
  });

  it('a replaced slot is forgotten by an inactive condition that shared it', () => {
    const dests = ['0300000001', '0300000002', '0300000003', '0300000004', '0300000005'];
    const { fwd } = service(buildConfig({ ext: { '2002': { forwarding: { destinations: dests } } } }));
    fwd.setCondition('2002', 'cfu', true, dests[0]);
    fwd.setCondition('2002', 'cfu', false);
    fwd.setCondition('2002', 'cfb', true, dests[0]);
    // cfb's own slot 0 is used by no other active condition: replaced, and cfu no longer points at it.
    expect(fwd.setCondition('2002', 'cfb', true, '0600000006')).toEqual({ ok: true, destination: '0600000006' });
    const st = fwd.state('2002');
    expect(st.destinations).toEqual(['0600000006', ...dests.slice(1)]);
    expect(st.conditions.cfu).toEqual({ on: false, destination: null });
    // cfu on without a number now falls back to the first stored destination.
    expect(fwd.setCondition('2002', 'cfu', true)).toEqual({ ok: true, destination: '0600000006' });
  });

  it('a slot shared with another active condition is not replaced', () => {
    const dests = ['0300000001', '0300000002', '0300000003', '0300000004', '0300000005'];
    const { fwd } = service(buildConfig({ ext: { '2002': { forwarding: { destinations: dests, busy: dests[0], noAnswer: dests[0] } } } }));
    expect(fwd.setCondition('2002', 'cfb', true, '0600000006')).toEqual({ ok: true, destination: '0600000006' });
    const st = fwd.state('2002');
    expect(st.destinations).toEqual([dests[0], '0600000006', ...dests.slice(2)]);
    expect(fwd.effective('2002')).toMatchObject({ cfb: '0600000006', cfna: dests[0] });
  });

  it('logs each change on one structured line', () => {
    const { logger, lines } = captureLogger('debug');
    const { fwd } = service(buildConfig(), undefined, logger);
    fwd.setCondition('2002', 'cfu', true, '2003', 'service-code');
    fwd.setCondition('2002', 'cfu', true, '110', 'cli');
    fwd.setDnd('2002', true, 'cli');
    expect(lines).toContainEqual(expect.objectContaining({ event: 'forwarding', extension: '2002', condition: 'cfu', on: true, destination: '2003', by: 'service-code', msg: 'forwarding changed' }));
    expect(lines).toContainEqual(expect.objectContaining({ extension: '2002', condition: 'cfu', destination: '110', by: 'cli', msg: 'forwarding change refused' }));
    expect(lines).toContainEqual(expect.objectContaining({ extension: '2002', condition: 'dnd', on: true, by: 'cli' }));
  });
});

describe('effective forwarding', () => {
  it('CFU excludes the other conditions; CFB, CFNA and CFUR combine', () => {
    const { fwd } = service(buildConfig({ ext: { '2002': { forwarding: { unconditional: '2004', busy: '2003', noAnswer: '2001', unreachable: '0312345678' } } } }));
    expect(fwd.effective('2002')).toEqual({ cfu: '2004', noAnswerTimeout: 20, dnd: false, source: 'normal' });
    fwd.setCondition('2002', 'cfu', false);
    expect(fwd.effective('2002')).toEqual({ cfb: '2003', cfna: '2001', cfur: '0312345678', noAnswerTimeout: 20, dnd: false, source: 'normal' });
  });

  describe('schedule forwarding', () => {
    const schedules = [
      {
        name: 'office',
        rows: [
          { holiday: true, action: 'cfu', destination: '2004' },
          { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '18:00', action: 'none' },
          { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '18:00', to: '24:00', action: 'cfna', destination: '2003' },
        ],
      },
      { name: 'self', rows: [{ days: ['mon'], action: 'cfb', destination: '2001' }] },
      { name: 'prefixed', rows: [{ days: ['mon'], action: 'cfu', destination: '184110' }] },
      {
        name: 'nowhere',
        rows: [
          { days: ['mon'], action: 'cfna', destination: '9005' },
          { days: ['tue'], action: 'cfu', destination: '7777' },
        ],
      },
    ];
    const ext = { '2002': { forwardingSchedule: 'office', forwarding: { unconditional: '2001', noAnswerTimeout: 12 }, dnd: true }, '2001': { forwardingSchedule: 'self' } };

    it('holiday rows also match Japanese public holidays when tenant.japaneseHolidays is on (Monday 2026-11-23)', () => {
      const { fwd } = service(buildConfig({ ext, extra: { schedules }, japaneseHolidays: true }));
      clock = MON_10;
      expect(fwd.effective('2002')).toEqual({ cfu: '2004', noAnswerTimeout: 12, dnd: true, source: 'schedule' });
      clock = Date.parse('2026-11-25T10:00:00+09:00'); // Wednesday, a working day
      expect(fwd.effective('2002')).toEqual({ noAnswerTimeout: 12, dnd: true, source: 'schedule' });
    });

    it('a matching row decides: none → no forwarding, cfna → only that; no match → the normal state', () => {
      const { fwd } = service(buildConfig({ ext, extra: { schedules } }));
      clock = MON_10;
      expect(fwd.effective('2002')).toEqual({ noAnswerTimeout: 12, dnd: true, source: 'schedule' });
      clock = MON_20;
      expect(fwd.effective('2002')).toEqual({ cfna: '2003', noAnswerTimeout: 12, dnd: true, source: 'schedule' });
      clock = TUE_10; // a tenant holiday
      expect(fwd.effective('2002')).toEqual({ cfu: '2004', noAnswerTimeout: 12, dnd: true, source: 'schedule' });
      clock = Date.parse('2026-11-28T10:00:00+09:00'); // Saturday: no row
      expect(fwd.effective('2002')).toEqual({ cfu: '2001', noAnswerTimeout: 12, dnd: true, source: 'normal' });
      clock = Date.parse('2026-11-23T08:59:00+09:00');
      expect(fwd.effective('2002')).toEqual({ cfu: '2001', noAnswerTimeout: 12, dnd: true, source: 'normal' });
      // Extensions without a schedule are not affected.
      clock = MON_20;
      expect(fwd.effective('2003').source).toBe('normal');
    });

    it('a row whose destination breaks the rules forwards nowhere (and warns once)', () => {
      const { logger, lines } = captureLogger('debug');
      const withBad = { ...ext, '2003': { forwardingSchedule: 'prefixed' }, '2004': { forwardingSchedule: 'nowhere' } };
      const { fwd } = service(buildConfig({ ext: withBad, extra: { schedules } }), undefined, logger);
      clock = MON_10;
      expect(fwd.effective('2001')).toEqual({ noAnswerTimeout: 20, dnd: false, source: 'schedule' });
      fwd.effective('2001');
      expect(lines.filter((l) => l.msg === 'schedule row destination refused')).toHaveLength(1);
      // 184110 is 110 once the router strips the prefix; a park slot or an unrouted number leads nowhere.
      expect(fwd.effective('2003')).toEqual({ noAnswerTimeout: 20, dnd: false, source: 'schedule' });
      expect(fwd.effective('2004')).toEqual({ noAnswerTimeout: 20, dnd: false, source: 'schedule' });
      clock = TUE_10;
      expect(fwd.effective('2004')).toEqual({ noAnswerTimeout: 20, dnd: false, source: 'schedule' });
      const refused = lines.filter((l) => l.msg === 'schedule row destination refused').map((l) => [l.extension, l.reason]);
      expect(refused).toEqual([
        ['2001', 'an extension cannot forward to itself'],
        ['2003', 'a forwarding destination cannot carry the 184/186 prefix'],
        ['2004', '9005 is a park slot or the park lot'],
        ['2004', 'no route to 7777'],
      ]);
    });
  });
});

describe('bulk forwarding', () => {
  const bulkForwarding = [
    {
      name: 'disaster',
      members: [{ extension: '2002', destination: '0312345678' }, { extension: '2003' }, { extension: '2004', destination: '110' }, { did: '0355550000', destination: '2001' }],
    },
    { name: 'night', members: [{ extension: '2002', destination: '2001' }] },
  ];

  it('on: members with a destination forward unconditionally, per-member results; off: normal state with meanwhile edits', () => {
    const { fwd } = service(buildConfig({ ext: { '2002': { forwarding: { noAnswer: '2004' } } }, extra: { bulkForwarding } }));
    expect(fwd.didBulkDestination('0355550000')).toBeUndefined();
    expect(fwd.bulkOn('disaster')).toEqual([
      { member: '2002', kind: 'extension', result: 'ok', destination: '0312345678' },
      { member: '2003', kind: 'extension', result: 'unchanged', detail: 'no bulk destination' },
      { member: '2004', kind: 'extension', result: 'error', destination: '110', detail: '110 is an emergency or service number' },
      { member: '0355550000', kind: 'did', result: 'ok', destination: '2001' },
    ]);
    fwd.setDnd('2002', true);
    expect(fwd.effective('2002')).toEqual({ cfu: '0312345678', noAnswerTimeout: 20, dnd: true, source: 'bulk' });
    expect(fwd.effective('2003')).toEqual({ noAnswerTimeout: 20, dnd: false, source: 'normal' });
    expect(fwd.effective('2004').source).toBe('normal');
    expect(fwd.didBulkDestination('0355550000')).toBe('2001');
    expect(fwd.didBulkDestination('0355550001')).toBeUndefined();
    // Edits while the set is on are kept in the normal state.
    expect(fwd.setCondition('2002', 'cfb', true, '2003')).toEqual({ ok: true, destination: '2003' });
    expect(fwd.effective('2002').source).toBe('bulk');
    expect(fwd.bulkStatus()).toEqual([
      { name: 'disaster', active: true, changedAt: MON_10, members: 4 },
      { name: 'night', active: false, members: 1 },
    ]);
    clock = MON_20;
    expect(fwd.bulkOff('disaster').map((r) => [r.member, r.result])).toEqual([
      ['2002', 'ok'],
      ['2003', 'unchanged'],
      ['2004', 'unchanged'],
      ['0355550000', 'ok'],
    ]);
    expect(fwd.effective('2002')).toEqual({ cfb: '2003', cfna: '2004', noAnswerTimeout: 20, dnd: true, source: 'normal' });
    expect(fwd.didBulkDestination('0355550000')).toBeUndefined();
    expect(fwd.bulkStatus()[0]).toEqual({ name: 'disaster', active: false, changedAt: MON_20, members: 4 });
  });

  it('repeating on keeps the time it was switched; another active set keeps a member forwarding', () => {
    const { fwd } = service(buildConfig({ extra: { bulkForwarding } }));
    fwd.bulkOn('disaster');
    fwd.bulkOn('night');
    clock = MON_20;
    fwd.bulkOn('disaster');
    expect(fwd.bulkStatus()[0].changedAt).toBe(MON_10);
    // The first active set in config order gives the destination.
    expect(fwd.effective('2002').cfu).toBe('0312345678');
    const off = fwd.bulkOff('disaster');
    expect(off[0]).toEqual({ member: '2002', kind: 'extension', result: 'ok', destination: '0312345678', detail: 'still forwarded to 2001 by bulk set night' });
    expect(fwd.effective('2002')).toEqual({ cfu: '2001', noAnswerTimeout: 20, dnd: false, source: 'bulk' });
  });

  it('takes precedence over schedule forwarding', () => {
    const schedules = [{ name: 'always', rows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], action: 'cfb', destination: '2003' }] }];
    const { fwd } = service(buildConfig({ ext: { '2002': { forwardingSchedule: 'always' } }, extra: { bulkForwarding, schedules } }));
    expect(fwd.effective('2002').source).toBe('schedule');
    fwd.bulkOn('disaster');
    expect(fwd.effective('2002')).toEqual({ cfu: '0312345678', noAnswerTimeout: 20, dnd: false, source: 'bulk' });
  });

  it('a switch by another process (the CLI) is seen at the next call, without a restart', () => {
    const config = buildConfig({ extra: { bulkForwarding } });
    const server = service(config);
    expect(server.fwd.effective('2002').source).toBe('normal');
    const cli = service(config, open());
    cli.fwd.bulkOn('disaster');
    cli.fwd.setCondition('2003', 'cfu', true, '2001', 'cli');
    expect(server.fwd.effective('2002')).toMatchObject({ cfu: '0312345678', source: 'bulk' });
    expect(server.fwd.effective('2003')).toMatchObject({ cfu: '2001', source: 'normal' });
    cli.fwd.bulkOff('disaster');
    expect(server.fwd.effective('2002').source).toBe('normal');
  });

  it('a member whose destination carries 184/186, is a park number or has no route is an error and forwards nowhere', () => {
    const sets = [
      {
        name: 'bad',
        members: [
          { extension: '2002', destination: '184110' },
          { extension: '2003', destination: '9001' },
          { extension: '2004', destination: '8888' },
          { did: '0355550000', destination: '1862001' },
        ],
      },
    ];
    const { fwd } = service(buildConfig({ extra: { bulkForwarding: sets } }));
    expect(fwd.bulkOn('bad').map((r) => [r.member, r.result, r.detail])).toEqual([
      ['2002', 'error', 'a forwarding destination cannot carry the 184/186 prefix'],
      ['2003', 'error', '9001 is a park slot or the park lot'],
      ['2004', 'error', 'no route to 8888'],
      ['0355550000', 'error', 'a forwarding destination cannot carry the 184/186 prefix'],
    ]);
    for (const n of ['2002', '2003', '2004']) expect(fwd.effective(n).source, n).toBe('normal');
    expect(fwd.didBulkDestination('0355550000')).toBeUndefined();
  });

  it('matches a DID member in national and +81 form both ways, with or without +', () => {
    const sets = [
      {
        name: 'disaster',
        members: [
          { did: '0355550000', destination: '2001' },
          { did: '+81355550001', destination: '2002' },
          { did: '13125550000', destination: '2003' },
          // A DID bulk-forwarded to itself in its other form would loop through the carrier.
          { did: '+81355550002', destination: '0355550002' },
        ],
      },
    ];
    const { fwd } = service(buildConfig({ extra: { bulkForwarding: sets } }));
    expect(fwd.bulkOn('disaster').map((r) => [r.member, r.result, r.detail])).toEqual([
      ['0355550000', 'ok', undefined],
      ['+81355550001', 'ok', undefined],
      ['13125550000', 'ok', undefined],
      ['+81355550002', 'error', 'an extension cannot forward to itself'],
    ]);
    expect(fwd.didBulkDestination('0355550000')).toBe('2001');
    expect(fwd.didBulkDestination('+81355550000')).toBe('2001');
    expect(fwd.didBulkDestination('+81-3-5555-0000;cpc=ordinary')).toBe('2001');
    expect(fwd.didBulkDestination('+81355550001')).toBe('2002');
    expect(fwd.didBulkDestination('0355550001')).toBe('2002');
    expect(fwd.didBulkDestination('81355550001')).toBe('2002');
    expect(fwd.didBulkDestination('+13125550000')).toBe('2003');
    expect(fwd.didBulkDestination('13125550000')).toBe('2003');
    expect(fwd.didBulkDestination('0355550002')).toBeUndefined();
    expect(fwd.didBulkDestination('+81355550003')).toBeUndefined();
    // Switching off finds the member in its canonical form too.
    expect(fwd.bulkOff('disaster').map((r) => r.result)).toEqual(['ok', 'ok', 'ok', 'unchanged']);
    expect(fwd.didBulkDestination('+81355550000')).toBeUndefined();
  });

  it('reports an extension that no longer exists as an error; an unknown set throws', () => {
    const config = buildConfig({ extra: { bulkForwarding } });
    // The schema refuses such a file; a config object changed in memory stands for a stale set.
    const stale: HibikiConfig = { ...config, extensions: config.extensions.filter((e) => e.number !== '2002') };
    const { fwd } = service(stale);
    expect(fwd.bulkOn('disaster')[0]).toEqual({ member: '2002', kind: 'extension', result: 'error', destination: '0312345678', detail: 'extension 2002 no longer exists' });
    expect(fwd.effective('2002').cfu).toBeUndefined();
    expect(() => fwd.bulkOn('nope')).toThrow('unknown bulk-forwarding set "nope" (configured: disaster, night)');
    expect(() => fwd.bulkOff('nope')).toThrow(/unknown bulk-forwarding set/);
  });

  it('handles a set of 1,000 members', () => {
    const members = Array.from({ length: 1000 }, (_, i) => ({ did: `0355${String(i).padStart(6, '0')}`, destination: '2001' }));
    const { fwd } = service(buildConfig({ extra: { bulkForwarding: [{ name: 'all', members }] } }));
    const results = fwd.bulkOn('all');
    expect(results).toHaveLength(1000);
    expect(results.every((r) => r.result === 'ok')).toBe(true);
    expect(fwd.didBulkDestination('0355000999')).toBe('2001');
    expect(fwd.bulkStatus()).toEqual([{ name: 'all', active: true, changedAt: MON_10, members: 1000 }]);
  });
});
