// The CDR table (SPEC F-CDR): one row written per finished call, read back by date range for search and
// export, and purged after the retention period.
import type { Database, Statement } from 'better-sqlite3';
import type { Logger } from 'pino';
import { cdrFromRow, cdrToRow } from './cdr-row.js';
import { flushQueuedWrites } from './tick-writer.js';
import type { CdrDirection, CdrDisposition, CdrRecord, CdrRow } from './cdr-row.js';

/** Calls whose start lies in [from, to); an absent bound is open. */
export interface CdrRange {
  from?: Date;
  to?: Date;
}

export interface CdrQuery extends CdrRange {
  /** Rows to return at most; all when absent. */
  limit?: number;
  offset?: number;
}

/** A search (the API's CDR list): every given criterion must hold. */
export interface CdrSearch extends CdrRange {
  /** Contained in the caller, dialled, callee or answering number. */
  number?: string;
  direction?: CdrDirection;
  disposition?: CdrDisposition;
  /** Exactly the caller, the callee or the one who answered (a user sees only their own calls). */
  party?: string;
  limit: number;
  offset: number;
}

type NewCdrRow = Omit<CdrRow, 'id'>;
interface RangeParams {
  from: string;
  to: string;
}

const DAY_MS = 86_400_000;
/** Rows deleted per purge statement, so that a purge never holds the write lock for long. */
const PURGE_BATCH = 5_000;

// started_at is ISO text beginning with a digit, so '' sorts before every row and '~' after every row.
function rangeParams(range: CdrRange): RangeParams {
  return { from: bound(range.from, ''), to: bound(range.to, '~') };
}

function bound(d: Date | undefined, open: string): string {
  if (d === undefined) return open;
  if (Number.isNaN(d.getTime())) throw new RangeError('CDR range bound is an invalid Date');
  return d.toISOString();
}

function nonNegativeInteger(v: number | undefined, name: string, absent: number): number {
  if (v === undefined) return absent;
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`CDR query ${name} must be a non-negative integer, got ${v}`);
  return v;
}

export class CdrStore {
  private readonly db: Database;
  private readonly insertStmt: Statement<[NewCdrRow]>;
  private readonly insertAll: (rows: NewCdrRow[]) => number[];
  private readonly queryStmt: Statement<[RangeParams & { limit: number; offset: number }], CdrRow>;
  private readonly iterateStmt: Statement<[RangeParams], CdrRow>;
  private readonly countStmt: Statement<[RangeParams], { n: number }>;
  private readonly purgeStmt: Statement<[{ cutoff: string; limit: number }]>;

  /** `db` comes from openDatabase(), which sets WAL with synchronous=NORMAL and creates the table. */
  constructor(db: Database) {
    this.db = db;
    this.insertStmt = db.prepare<NewCdrRow>(`
      INSERT INTO cdr (call_id, linked_id, started_at, answered_at, ended_at, duration, billsec, direction,
        disposition, caller_number, caller_name, dialed_number, callee_number, answered_by, forwarded_from,
        transferred_by, feature, hangup_by, q850_cause, sip_status, hangup_reason, trunk, queue, recording_path,
        queue_wait)
      VALUES (@call_id, @linked_id, @started_at, @answered_at, @ended_at, @duration, @billsec, @direction,
        @disposition, @caller_number, @caller_name, @dialed_number, @callee_number, @answered_by, @forwarded_from,
        @transferred_by, @feature, @hangup_by, @q850_cause, @sip_status, @hangup_reason, @trunk, @queue,
        @recording_path, @queue_wait)`);
    this.insertAll = db.transaction((rows: NewCdrRow[]) => rows.map((r) => Number(this.insertStmt.run(r).lastInsertRowid)));
    // Ordered by start time, then id for calls that started in the same millisecond.
    const where = 'WHERE started_at >= @from AND started_at < @to';
    this.queryStmt = db.prepare<RangeParams & { limit: number; offset: number }, CdrRow>(`SELECT * FROM cdr ${where} ORDER BY started_at, id LIMIT @limit OFFSET @offset`);
    this.iterateStmt = db.prepare<RangeParams, CdrRow>(`SELECT * FROM cdr ${where} ORDER BY started_at, id`);
    this.countStmt = db.prepare<RangeParams, { n: number }>(`SELECT COUNT(*) AS n FROM cdr ${where}`);
    this.purgeStmt = db.prepare<{ cutoff: string; limit: number }>('DELETE FROM cdr WHERE id IN (SELECT id FROM cdr WHERE started_at < @cutoff LIMIT @limit)');
  }

  /**
   * Writes one row in its own transaction and returns its id. When this returns the row is committed
   * to the WAL: a crash of the hibiki process after that cannot lose it. With synchronous=NORMAL the
   * WAL is not fsynced on each commit, so an OS crash or power loss can roll back the last commits
   * (never corrupt the file); synchronous=FULL would close that window at the cost of an fsync per call.
   * Throws when SQLite rejects the row (a CHECK constraint) or cannot write (disk full).
   */
  insert(rec: CdrRecord): number {
    return Number(this.insertStmt.run(cdrToRow(rec)).lastInsertRowid);
  }

  /** Writes several rows in one transaction (all or none) and returns their ids in order. */
  insertMany(recs: readonly CdrRecord[]): number[] {
    return this.insertAll(recs.map(cdrToRow));
  }

  /** Rows whose call started in the range, oldest first. */
  query(q: CdrQuery = {}): CdrRecord[] {
    flushQueuedWrites(this.db);
    const limit = nonNegativeInteger(q.limit, 'limit', -1);
    const offset = nonNegativeInteger(q.offset, 'offset', 0);
    return this.queryStmt.all({ ...rangeParams(q), limit, offset }).map(cdrFromRow);
  }

  count(range: CdrRange = {}): number {
    flushQueuedWrites(this.db);
    return this.countStmt.get(rangeParams(range))?.n ?? 0;
  }

  /**
   * Rows in the range as stored (snake_case), oldest first, read one at a time so that a large range
   * is never held in memory. The connection cannot run other statements until the iterator is done.
   */
  iterateRows(range: CdrRange = {}): IterableIterator<CdrRow> {
    flushQueuedWrites(this.db);
    return this.iterateStmt.iterate(rangeParams(range));
  }

  /** Rows matching a search, newest first, with how many match in all; one read transaction for both. */
  search(q: CdrSearch): { total: number; rows: CdrRecord[] } {
    flushQueuedWrites(this.db);
    const where = ['started_at >= @from', 'started_at < @to'];
    const params: Record<string, string | number> = { ...rangeParams(q) };
    if (q.number !== undefined) {
      where.push("(instr(caller_number, @number) > 0 OR instr(dialed_number, @number) > 0 OR instr(IFNULL(callee_number, ''), @number) > 0 OR instr(IFNULL(answered_by, ''), @number) > 0)");
      params.number = q.number;
    }
    if (q.direction !== undefined) {
      where.push('direction = @direction');
      params.direction = q.direction;
    }
    if (q.disposition !== undefined) {
      where.push('disposition = @disposition');
      params.disposition = q.disposition;
    }
    if (q.party !== undefined) {
      // An outside number that happens to equal an extension (a tie-line caller 2001) is not that extension.
      where.push("((caller_number = @party AND direction != 'inbound') OR (callee_number = @party AND direction != 'outbound') OR answered_by = @party)");
      params.party = q.party;
    }
    const clause = `WHERE ${where.join(' AND ')}`;
    const limit = nonNegativeInteger(q.limit, 'limit', -1);
    const offset = nonNegativeInteger(q.offset, 'offset', 0);
    return this.readSnapshot(() => ({
      total: (this.db.prepare(`SELECT COUNT(*) AS n FROM cdr ${clause}`).get(params) as { n: number }).n,
      rows: (this.db.prepare(`SELECT * FROM cdr ${clause} ORDER BY started_at DESC, id DESC LIMIT @limit OFFSET @offset`).all({ ...params, limit, offset }) as CdrRow[]).map(cdrFromRow),
    }));
  }

  /** Stored rows of the range, oldest first, `limit` of them from `offset` (one file of a split export). */
  pageRows(range: CdrRange, limit: number, offset: number): CdrRow[] {
    flushQueuedWrites(this.db);
    return this.queryStmt.all({ ...rangeParams(range), limit: nonNegativeInteger(limit, 'limit', -1), offset: nonNegativeInteger(offset, 'offset', 0) });
  }

  /**
   * Runs `fn` inside one read transaction, so that several reads (a count, then the rows) see the same
   * rows even while another process (the server, during a CLI export) writes or purges.
   */
  readSnapshot<T>(fn: () => T): T {
    // Queued CDRs commit first, in their own transaction: flushed inside this read transaction they would
    // be committed only with it, and lost unreported if it rolled back.
    flushQueuedWrites(this.db);
    return this.db.transaction(fn).deferred();
  }

  /** Deletes at most `maxRows` rows of calls that started before `cutoff`; returns how many. */
  purgeBefore(cutoff: Date, maxRows: number = PURGE_BATCH): number {
    const limit = nonNegativeInteger(maxRows, 'maxRows', PURGE_BATCH);
    return this.purgeStmt.run({ cutoff: bound(cutoff, ''), limit }).changes;
  }

  /**
   * Deletes every row of a call that started more than `days` days before `now`, in batches so that
   * the server's CDR inserts are never kept waiting long. Returns how many rows went.
   */
  purgeOlderThan(days: number, now: Date = new Date()): number {
    const cutoff = retentionCutoff(days, now);
    let total = 0;
    for (;;) {
      const n = this.purgeBefore(cutoff, PURGE_BATCH);
      total += n;
      if (n < PURGE_BATCH) return total;
    }
  }
}

function retentionCutoff(days: number, now: Date): Date {
  if (!Number.isFinite(days) || days <= 0) throw new RangeError(`CDR retention must be a positive number of days, got ${days}`);
  return new Date(now.getTime() - days * DAY_MS);
}

export interface RetentionPurge {
  /** Purges now (or joins the purge already running); resolves with the rows deleted. */
  run(): Promise<number>;
  stop(): void;
}

export interface RetentionPurgeOptions {
  /** Time between purges; default 24 h. */
  intervalMs?: number;
  clock?: () => number;
}

/**
 * Purges CDR rows older than `days` at once and then every 24 hours (SPEC F-CDR `cdr.retentionDays`).
 * Each batch is its own event-loop turn, so a large purge does not stall call handling; the timer is
 * unref'd, so it never keeps the process alive. Failures are logged and retried at the next run.
 */
export function startRetentionPurge(store: CdrStore, days: number, logger: Logger, options: RetentionPurgeOptions = {}): RetentionPurge {
  const clock = options.clock ?? Date.now;
  // Validate now: a bad retention value is a configuration error, not something to log once a day.
  retentionCutoff(days, new Date(clock()));
  let stopped = false;
  let running: Promise<number> | undefined;

  const purge = (): Promise<number> =>
    new Promise<number>((resolve) => {
      let cutoff: Date | undefined;
      let total = 0;
      const step = (): void => {
        try {
          cutoff ??= retentionCutoff(days, new Date(clock()));
          // After stop() the store may be closed: a step already scheduled does nothing.
          const n = stopped ? 0 : store.purgeBefore(cutoff, PURGE_BATCH);
          total += n;
          if (n === PURGE_BATCH) {
            setImmediate(step);
            return;
          }
          if (total > 0) logger.info({ deleted: total, before: cutoff.toISOString() }, 'purged old call-detail records');
        } catch (err) {
          logger.error({ err, deleted: total }, 'purging old call-detail records failed');
        }
        resolve(total);
      };
      step();
    });

  const run = (): Promise<number> => {
    if (!running) running = purge().finally(() => (running = undefined));
    return running;
  };

  const timer = setInterval(() => void run(), options.intervalMs ?? DAY_MS);
  timer.unref();
  void run();
  return {
    run,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
