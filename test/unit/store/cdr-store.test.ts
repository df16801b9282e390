import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildCdr, type CallFacts } from '../../../src/pbx/cdr.js';
import type { CdrRecord } from '../../../src/store/cdr-row.js';
import { CdrStore, startRetentionPurge } from '../../../src/store/cdr-store.js';
import { databaseFileName, openDatabase } from '../../../src/store/db.js';
import { captureLogger } from '../../support/logger.js';
import type { Database } from '../../../src/store/db.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 4, 1, 9, 0, 0, 0);

function cdr(startedAt: number, over: Partial<CallFacts> = {}): CdrRecord {
  return buildCdr({
    callId: `call-${startedAt}-${Math.random().toString(36).slice(2)}@192.0.2.10`,
    startedAt,
    answeredAt: startedAt + 3_000,
    endedAt: startedAt + 63_000,
    direction: 'internal',
    callerNumber: '2001',
    callerName: '佐藤 花子',
    dialedNumber: '2002',
    calleeNumber: '2002',
    hangupBy: 'callee',
    sipStatus: 200,
    ...over,
  });
}

describe('CdrStore', () => {
  let dir: string;
  let db: Database;
  let store: CdrStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hibiki-cdr-'));
    db = openDatabase(dir);
    store = new CdrStore(db);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('inserts a row and reads it back unchanged, with its id', () => {
    const rec = cdr(T0, { trunk: 'carrier', reason: ['Q.850;cause=16'] });
    const id = store.insert(rec);
    expect(id).toBeGreaterThan(0);
    expect(store.query()).toEqual([{ ...rec, id }]);
  });

  it('has committed the row when insert returns: another connection sees it', () => {
    const id = store.insert(cdr(T0));
    const other = new BetterSqlite3(join(dir, databaseFileName), { readonly: true });
    try {
      const row = other.prepare('SELECT id, disposition, q850_cause, started_at FROM cdr').get();
      expect(row).toEqual({ id, disposition: 'answered', q850_cause: 16, started_at: '2024-05-01T09:00:00.000Z' });
    } finally {
      other.close();
    }
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('rejects a row the table constraints forbid, writing nothing', () => {
    const bad = { ...cdr(T0), q850Cause: 0 };
    expect(() => store.insert(bad)).toThrow(/CHECK/);
    const badDirection = { ...cdr(T0), direction: 'sideways' } as unknown as CdrRecord;
    expect(() => store.insert(badDirection)).toThrow(/CHECK/);
    expect(store.count()).toBe(0);
  });

  it('insertMany writes all rows in one transaction, or none', () => {
    const ids = store.insertMany([cdr(T0), cdr(T0 + 1_000), cdr(T0 + 2_000)]);
    expect(ids).toHaveLength(3);
    expect(ids[1]).toBe(ids[0] + 1);
    expect(store.count()).toBe(3);
    expect(() => store.insertMany([cdr(T0 + 3_000), { ...cdr(T0 + 4_000), q850Cause: 999 }])).toThrow();
    expect(store.count()).toBe(3);
  });

  it('queries by start time over [from, to), oldest first, with limit and offset', () => {
    const starts = [T0 + 3 * DAY, T0, T0 + DAY, T0 + 2 * DAY, T0 + DAY];
    store.insertMany(starts.map((s) => cdr(s)));
    const from = new Date(T0 + DAY);
    const to = new Date(T0 + 3 * DAY);
    const rows = store.query({ from, to });
    expect(rows.map((r) => r.startedAt)).toEqual([new Date(T0 + DAY).toISOString(), new Date(T0 + DAY).toISOString(), new Date(T0 + 2 * DAY).toISOString()]);
    // Same start: ordered by id.
    expect(rows[0].id).toBeLessThan(rows[1].id ?? 0);
    expect(store.count({ from, to })).toBe(3);
    expect(store.count()).toBe(5);
    expect(store.count({ from })).toBe(4);
    expect(store.count({ to })).toBe(4);
    expect(store.query({ limit: 2 }).map((r) => r.startedAt)).toEqual([new Date(T0).toISOString(), new Date(T0 + DAY).toISOString()]);
    expect(store.query({ limit: 2, offset: 3 }).map((r) => r.startedAt)).toEqual([new Date(T0 + 2 * DAY).toISOString(), new Date(T0 + 3 * DAY).toISOString()]);
    expect(store.query({ limit: 0 })).toEqual([]);
  });

  it('rejects a bad limit, offset or date', () => {
    expect(() => store.query({ limit: -1 })).toThrow(RangeError);
    expect(() => store.query({ offset: 1.5 })).toThrow(RangeError);
    expect(() => store.count({ from: new Date('nonsense') })).toThrow(RangeError);
  });

  it('uses the started_at index for range queries', () => {
    const plan = db.prepare("EXPLAIN QUERY PLAN SELECT * FROM cdr WHERE started_at >= '2024' AND started_at < '2025' ORDER BY started_at, id").all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toContain('cdr_started_at');
  });

  it('iterates rows in the snake_case shape of the table', () => {
    store.insertMany([cdr(T0 + 1), cdr(T0)]);
    const rows = [...store.iterateRows({ from: new Date(T0), to: new Date(T0 + 2) })];
    expect(rows.map((r) => r.started_at)).toEqual([new Date(T0).toISOString(), new Date(T0 + 1).toISOString()]);
    expect(rows[0].caller_name).toBe('佐藤 花子');
  });

  it('purges calls that started more than N days ago, in batches beyond 5,000 rows', () => {
    const now = new Date(T0 + 100 * DAY);
    const old = Array.from({ length: 12_345 }, (_, i) => cdr(T0 + (i % 7) * DAY)); // 93–100 days old
    const keep = [cdr(now.getTime() - 92 * DAY + 1), cdr(now.getTime() - DAY)];
    store.insertMany([...old, ...keep]);
    expect(store.purgeOlderThan(92, now)).toBe(12_345);
    expect(store.count()).toBe(2);
    expect(store.purgeOlderThan(92, now)).toBe(0);
    expect(() => store.purgeOlderThan(0, now)).toThrow(RangeError);
    expect(() => store.purgeOlderThan(Number.NaN, now)).toThrow(RangeError);
  });

  it('purgeBefore deletes at most the rows asked for', () => {
    store.insertMany([cdr(T0), cdr(T0 + 1), cdr(T0 + 2)]);
    expect(store.purgeBefore(new Date(T0 + 10), 2)).toBe(2);
    expect(store.count()).toBe(1);
  });

  it('readSnapshot runs its reads in one transaction', () => {
    store.insert(cdr(T0));
    const inside = store.readSnapshot(() => ({ n: store.count(), tx: db.inTransaction }));
    expect(inside).toEqual({ n: 1, tx: true });
    expect(db.inTransaction).toBe(false);
  });
});

describe('startRetentionPurge', () => {
  let dir: string;
  let db: Database;
  let store: CdrStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hibiki-cdr-'));
    db = openDatabase(dir);
    store = new CdrStore(db);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('purges at start, across several event-loop turns, and logs what went', async () => {
    let now = T0 + 100 * DAY;
    store.insertMany([...Array.from({ length: 11_000 }, () => cdr(T0)), cdr(now - DAY)]);
    const { logger, lines } = captureLogger();
    const purger = startRetentionPurge(store, 92, logger, { clock: () => now });
    try {
      // The first 5,000-row batch runs at once; the rest follow on later turns.
      expect(store.count()).toBe(11_001 - 5_000);
      expect(await purger.run()).toBe(11_000);
      expect(store.count()).toBe(1);
      expect(lines.find((l) => l.msg === 'purged old call-detail records')).toMatchObject({ deleted: 11_000 });
      // A later run uses the clock of that moment.
      now += 92 * DAY;
      expect(await purger.run()).toBe(1);
      expect(store.count()).toBe(0);
    } finally {
      purger.stop();
    }
  });

  it('runs again on its interval, and not after stop()', async () => {
    const { logger } = captureLogger();
    const now = T0 + 100 * DAY;
    const purger = startRetentionPurge(store, 92, logger, { clock: () => now, intervalMs: 20 });
    try {
      await purger.run();
      store.insert(cdr(T0));
      const deadline = Date.now() + 5_000;
      while (store.count() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(store.count()).toBe(0);
    } finally {
      purger.stop();
    }
    store.insert(cdr(T0));
    await new Promise((r) => setTimeout(r, 80));
    expect(store.count()).toBe(1);
    expect(await purger.run()).toBe(0);
  });

  it('logs a failure instead of throwing, and rejects a bad retention at start', async () => {
    const { logger, lines } = captureLogger();
    const purger = startRetentionPurge(store, 92, logger, { clock: () => T0 });
    await purger.run();
    purger.stop();
    db.exec('DROP TABLE cdr');
    const broken = startRetentionPurge(store, 92, logger, { clock: () => T0 });
    expect(await broken.run()).toBe(0);
    broken.stop();
    expect(lines.find((l) => l.msg === 'purging old call-detail records failed')).toBeDefined();
    expect(() => startRetentionPurge(store, 0, logger)).toThrow(RangeError);
  });
});
