// The park lot as rows, written by the server as calls are parked and picked up, read by the CLI.
import type { Database } from 'better-sqlite3';

export interface ParkedRow {
  slot: string;
  party: string;
  parkedBy: string | undefined;
  since: number;
}

export class ParkStore {
  constructor(private readonly db: Database) {}

  /** A server starting afresh has nothing parked: rows left by a crash are stale. */
  clear(): void {
    this.db.prepare('DELETE FROM parked_calls').run();
  }

  put(row: ParkedRow): void {
    this.db.prepare('INSERT OR REPLACE INTO parked_calls (slot, party, parked_by, since) VALUES (?, ?, ?, ?)').run(row.slot, row.party, row.parkedBy ?? null, new Date(row.since).toISOString());
  }

  remove(slot: string): void {
    this.db.prepare('DELETE FROM parked_calls WHERE slot = ?').run(slot);
  }

  list(): ParkedRow[] {
    const rows = this.db.prepare('SELECT slot, party, parked_by, since FROM parked_calls ORDER BY slot').all() as Array<{ slot: string; party: string; parked_by: string | null; since: string }>;
    return rows.map((r) => ({ slot: r.slot, party: r.party, parkedBy: r.parked_by ?? undefined, since: Date.parse(r.since) }));
  }
}
