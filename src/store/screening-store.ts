// F-SCREEN counters of rejected incoming calls, one row per target and month. Kept in SQLite rather than
// in memory so a restart does not reset them and the CLI (another process) reads what the server wrote.
import type { Database } from 'better-sqlite3';

export interface RejectionRow {
  /** `ext:<number>` or `did:<did>`. */
  target: string;
  /** `YYYY-MM` in the tenant time zone. */
  month: string;
  count: number;
}

export class ScreeningStore {
  constructor(private readonly db: Database) {}

  /** Adds one rejection and returns the month's new count. */
  increment(target: string, month: string): number {
    const row = this.db
      .prepare(
        `INSERT INTO screening_rejections (target, month, count) VALUES (?, ?, 1)
         ON CONFLICT (target, month) DO UPDATE SET count = count + 1
         RETURNING count`,
      )
      .get(target, month) as { count: number };
    return row.count;
  }

  get(target: string, month: string): number {
    const row = this.db.prepare('SELECT count FROM screening_rejections WHERE target = ? AND month = ?').get(target, month) as { count: number } | undefined;
    return row?.count ?? 0;
  }

  /** Every row, by target then month, for listings. */
  list(): RejectionRow[] {
    return this.db.prepare('SELECT target, month, count FROM screening_rejections ORDER BY target, month').all() as RejectionRow[];
  }
}
