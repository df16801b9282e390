// Writes that need to be durable but not synchronous (a CDR, a call-journal row) are queued here and
// committed together, in one SQLite transaction, at the end of the current event-loop turn
// (setImmediate: after the datagrams of this poll phase have been handled). A WAL commit costs far
// more than the row it writes, so under load one commit carries the rows of several calls; a write is
// never held longer than that turn, so a crash of the process can lose at most the writes of the turn
// it crashed in. Each write runs in its own savepoint: one that fails (a CHECK constraint) is rolled
// back alone and reported to its own error handler, the others still commit.
//
// Reads of the same tables flush first (flushQueuedWrites), so the process always reads its own writes.
import type { Database, Transaction } from 'better-sqlite3';

interface QueuedWrite {
  write: () => void;
  onError: (err: unknown) => void;
  /** Its own savepoint failed and onError has heard it (a failed COMMIT after that must not tell it twice). */
  failed?: boolean;
}

export class TickWriter {
  private queue: QueuedWrite[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private flushing = false;
  private readonly one: Transaction<(w: QueuedWrite) => void>;
  private readonly batch: Transaction<(ws: QueuedWrite[]) => void>;

  constructor(private readonly db: Database) {
    // Nested inside `batch`, better-sqlite3 runs `one` as a SAVEPOINT: a throw rolls back that write alone.
    this.one = db.transaction((w: QueuedWrite) => w.write());
    this.batch = db.transaction((ws: QueuedWrite[]) => {
      for (const w of ws) {
        try {
          this.one(w);
        } catch (err) {
          w.failed = true;
          w.onError(err);
          // Some errors (disk full, I/O error, out of memory) roll back the whole transaction, not just
          // the savepoint: what was written before is gone, and the rest must not run as lone commits.
          // Throwing hands every write not yet reported to the catch in flush().
          if (!db.inTransaction) throw err;
        }
      }
    });
  }

  /** Queue `write` for this turn's commit; `onError` hears why it was not committed. */
  queueWrite(write: () => void, onError: (err: unknown) => void): void {
    this.queue.push({ write, onError });
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      this.flush();
    });
  }

  /** Writes still waiting for their commit. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Commits every queued write now. Called by readers too: inside a queued write (a write that reads)
   * it does nothing, the rows it would commit being already visible in the open transaction.
   */
  flush(): void {
    if (this.flushing || this.queue.length === 0) return;
    // Inside someone else's transaction the batch would be a savepoint of it, committed (or rolled back)
    // by that transaction, not here; such callers flush before opening it. The scheduled flush commits.
    if (this.db.inTransaction) return;
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    const writes = this.queue;
    this.queue = [];
    this.flushing = true;
    try {
      this.batch(writes);
    } catch (err) {
      // BEGIN or COMMIT failed (disk full, the database closed): nothing of the batch was written.
      for (const w of writes) if (!w.failed) w.onError(err);
    } finally {
      this.flushing = false;
    }
  }
}

const writers = new WeakMap<Database, TickWriter>();

/** The one writer of a database connection (every store of the connection queues on it). */
export function tickWriter(db: Database): TickWriter {
  let w = writers.get(db);
  if (!w) {
    w = new TickWriter(db);
    writers.set(db, w);
  }
  return w;
}

/** Commit what is queued on `db` now: before reading rows that may be queued, and before closing it. */
export function flushQueuedWrites(db: Database): void {
  writers.get(db)?.flush();
}
