// The calls that are up, as rows that outlive the process (crash recovery), and the server's heartbeat.
// The entry is opaque JSON text here: what it holds, and checking it when read back, is the journal's job.
import type { Database, Statement } from 'better-sqlite3';
import { flushQueuedWrites, tickWriter } from './tick-writer.js';

export interface ActiveCallRow {
  /** One row per call (the call's own id, not its Call-ID: a transfer can bring two Call-IDs together). */
  key: string;
  callId: string;
  entry: string;
  /** Epoch ms of the last write. */
  updatedAt: number;
}

interface Row {
  call_key: string;
  call_id: string;
  entry: string;
  updated_at: number;
}

export class ActiveCallStore {
  private readonly putStmt: Statement<[Row]>;
  private readonly removeStmt: Statement<[string]>;
  private readonly allStmt: Statement<[], Row>;
  private readonly beatStmt: Statement<[number]>;
  private readonly lastBeatStmt: Statement<[], { alive_at: number }>;

  constructor(private readonly db: Database) {
    this.putStmt = db.prepare<[Row]>(
      `INSERT INTO active_calls (call_key, call_id, entry, updated_at) VALUES (@call_key, @call_id, @entry, @updated_at)
       ON CONFLICT (call_key) DO UPDATE SET call_id = excluded.call_id, entry = excluded.entry, updated_at = excluded.updated_at`,
    );
    this.removeStmt = db.prepare<[string]>('DELETE FROM active_calls WHERE call_key = ?');
    this.allStmt = db.prepare<[], Row>('SELECT call_key, call_id, entry, updated_at FROM active_calls ORDER BY updated_at, call_key');
    this.beatStmt = db.prepare<[number]>('INSERT INTO heartbeat (id, alive_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET alive_at = excluded.alive_at');
    this.lastBeatStmt = db.prepare<[], { alive_at: number }>('SELECT alive_at FROM heartbeat WHERE id = 1');
  }

  /** Insert or replace the row of one call. */
  put(row: ActiveCallRow): void {
    this.putStmt.run({ call_key: row.key, call_id: row.callId, entry: row.entry, updated_at: row.updatedAt });
  }

  /** put() at the end of this event-loop turn, in one commit with the other writes queued (tick-writer.ts). */
  putSoon(row: ActiveCallRow, onError: (err: unknown) => void): void {
    tickWriter(this.db).queueWrite(() => this.put(row), onError);
  }

  remove(key: string): void {
    this.removeStmt.run(key);
  }

  /** Every row, oldest write first. */
  all(): ActiveCallRow[] {
    flushQueuedWrites(this.db);
    return this.allStmt.all().map((r) => ({ key: r.call_key, callId: r.call_id, entry: r.entry, updatedAt: r.updated_at }));
  }

  /** The server is alive at `at` (epoch ms). */
  beat(at: number): void {
    this.beatStmt.run(at);
  }

  /** The last heartbeat written, if any. */
  lastBeat(): number | undefined {
    return this.lastBeatStmt.get()?.alive_at;
  }

  /** Runs `fn` in one transaction (a CDR insert and the removal of the call's row commit together). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * Runs `fn` as one unit (all or nothing) in this event-loop turn's commit (tick-writer.ts): a CDR insert
   * and the removal of the call's row. `onError` hears why it was rolled back.
   */
  transactionSoon(fn: () => void, onError: (err: unknown) => void): void {
    tickWriter(this.db).queueWrite(fn, onError);
  }
}
