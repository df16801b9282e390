// The rows of the calls that are up (crash recovery) and the heartbeat: they survive closing and
// reopening the database, a put replaces the row of the same call, and a transaction that fails takes
// its removal back with it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActiveCallStore } from '../../../src/store/active-call-store.js';
import { openDatabase, type Database } from '../../../src/store/db.js';

describe('ActiveCallStore', () => {
  let dir: string;
  let db: Database;
  let store: ActiveCallStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hibiki-active-'));
    db = openDatabase(dir);
    store = new ActiveCallStore(db);
  });

  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps one row per call: put inserts, a second put replaces, remove deletes; rows outlive the process', () => {
    store.put({ key: 'k1', callId: 'c1@x', entry: '{"a":1}', updatedAt: 1000 });
    store.put({ key: 'k2', callId: 'c2@x', entry: '{"b":2}', updatedAt: 2000 });
    // A transfer re-bridges call k1: same row, new legs.
    store.put({ key: 'k1', callId: 'c1@x', entry: '{"a":3}', updatedAt: 3000 });
    expect(store.all()).toEqual([
      { key: 'k2', callId: 'c2@x', entry: '{"b":2}', updatedAt: 2000 },
      { key: 'k1', callId: 'c1@x', entry: '{"a":3}', updatedAt: 3000 },
    ]);
    store.remove('k2');
    store.remove('nothing');
    db.close();

    db = openDatabase(dir);
    store = new ActiveCallStore(db);
    expect(store.all()).toEqual([{ key: 'k1', callId: 'c1@x', entry: '{"a":3}', updatedAt: 3000 }]);
  });

  it('keeps the last heartbeat only, and has none before the first', () => {
    expect(store.lastBeat()).toBeUndefined();
    store.beat(5000);
    store.beat(15000);
    expect(store.lastBeat()).toBe(15000);
    expect(db.prepare('SELECT COUNT(*) AS n FROM heartbeat').get()).toEqual({ n: 1 });
  });

  it('rolls a removal back with the rest of a failed transaction (a CDR insert that failed keeps the row)', () => {
    store.put({ key: 'k1', callId: 'c1@x', entry: '{}', updatedAt: 1 });
    expect(() =>
      store.transaction(() => {
        store.remove('k1');
        throw new Error('CDR insert failed');
      }),
    ).toThrow('CDR insert failed');
    expect(store.all().map((r) => r.key)).toEqual(['k1']);
    store.transaction(() => store.remove('k1'));
    expect(store.all()).toEqual([]);
  });
});
