// Writes queued on a connection commit together at the end of the event-loop turn, each in its own
// savepoint; reads flush first; a failed batch tells every write that was not committed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActiveCallStore } from '../../../src/store/active-call-store.js';
import { openDatabase, type Database } from '../../../src/store/db.js';
import { flushQueuedWrites, tickWriter } from '../../../src/store/tick-writer.js';

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('TickWriter', () => {
  let dir: string;
  let db: Database;
  let other: Database;
  let store: ActiveCallStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hibiki-tick-'));
    db = openDatabase(dir);
    // A second connection sees only what is committed.
    other = new BetterSqlite3(join(dir, 'hibiki.db'), { readonly: true });
    store = new ActiveCallStore(db);
  });

  afterEach(() => {
    other.close();
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const committed = (): number => (other.prepare('SELECT COUNT(*) AS n FROM active_calls').get() as { n: number }).n;
  const row = (key: string) => ({ key, callId: `${key}@x`, entry: '{}', updatedAt: 1 });

  it('commits the writes of one turn together at its end, and never later', async () => {
    const errors: unknown[] = [];
    store.putSoon(row('a'), (e) => errors.push(e));
    store.putSoon(row('b'), (e) => errors.push(e));
    expect(tickWriter(db).pending).toBe(2);
    expect(committed()).toBe(0);
    await nextTurn();
    expect(committed()).toBe(2);
    expect(tickWriter(db).pending).toBe(0);
    expect(errors).toEqual([]);
  });

  it('lets the process read its own queued writes at once', () => {
    store.putSoon(row('a'), () => undefined);
    expect(store.all().map((r) => r.key)).toEqual(['a']);
    expect(committed()).toBe(1);
  });

  it('rolls back a failing write alone and tells only its handler', async () => {
    const errors: string[] = [];
    store.putSoon(row('a'), () => errors.push('a'));
    store.transactionSoon(
      () => {
        store.remove('a');
        store.put(row('c'));
        throw new Error('CDR insert failed');
      },
      (e) => errors.push(`failed: ${(e as Error).message}`),
    );
    store.putSoon(row('b'), () => errors.push('b'));
    await nextTurn();
    expect(errors).toEqual(['failed: CDR insert failed']);
    expect(store.all().map((r) => r.key)).toEqual(['a', 'b']);
  });

  it('tells every write when the batch cannot commit at all', async () => {
    const errors: string[] = [];
    store.putSoon(row('a'), () => errors.push('a'));
    store.putSoon(row('b'), () => errors.push('b'));
    db.close();
    await nextTurn();
    expect(errors).toEqual(['a', 'b']);
  });

  it('does nothing when a queued write reads (flush inside the batch), and flushes before closing', () => {
    let seen = -1;
    store.putSoon(row('a'), () => undefined);
    store.transactionSoon(
      () => {
        seen = store.all().length;
      },
      () => undefined,
    );
    flushQueuedWrites(db);
    expect(seen).toBe(1);
    expect(committed()).toBe(1);
    flushQueuedWrites(db);
  });
  it("does not fold queued writes into someone else's open transaction: they commit on their own, after it", async () => {
    const errors: unknown[] = [];
    store.putSoon(row('a'), (e) => errors.push(e));
    db.transaction(() => {
      flushQueuedWrites(db);
      // Still queued: committed as a savepoint of this transaction they would be lost if it rolled back.
      expect(tickWriter(db).pending).toBe(1);
    })();
    expect(committed()).toBe(0);
    await nextTurn();
    expect(committed()).toBe(1);
    expect(errors).toEqual([]);
  });
});
