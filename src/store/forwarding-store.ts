// Forwarding and bulk-forwarding state in SQLite (migration 4). The server reads it at every call and the
// CLI, another process, writes it, so nothing here is cached: each read is one prepared-statement lookup.
import type { Database, Statement } from 'better-sqlite3';

export interface ForwardingRow {
  extension: string;
  /** The run-time state, as JSON (ForwardingState in src/pbx/forwarding.ts). */
  state: string;
  /** The YAML forwarding last applied, as canonical JSON: a different YAML means the admin edited it. */
  admin: string;
  updatedAt: number;
}

export interface BulkRow {
  name: string;
  active: boolean;
  changedAt: number;
}

export class ForwardingStore {
  private readonly getStmt: Statement<[string]>;
  private readonly putStmt: Statement<[string, string, string, number]>;
  private readonly putStateStmt: Statement<[string, string, string, number]>;
  private readonly activeStmt: Statement<[]>;
  private readonly bulkAllStmt: Statement<[]>;
  private readonly setBulkStmt: Statement<[string, number, number]>;

  constructor(private readonly db: Database) {
    this.getStmt = db.prepare('SELECT extension, state, admin, updated_at FROM forwarding WHERE extension = ?');
    this.putStmt = db.prepare(
      `INSERT INTO forwarding (extension, state, admin, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (extension) DO UPDATE SET state = excluded.state, admin = excluded.admin, updated_at = excluded.updated_at`,
    );
    // A run-time change keeps the admin column: the YAML it was compared with has not changed.
    this.putStateStmt = db.prepare(
      `INSERT INTO forwarding (extension, state, admin, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (extension) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
    );
    this.activeStmt = db.prepare('SELECT name FROM bulk_forwarding WHERE active = 1');
    this.bulkAllStmt = db.prepare('SELECT name, active, changed_at FROM bulk_forwarding');
    // changed_at records when the set was switched, so repeating "on" does not move it.
    this.setBulkStmt = db.prepare(
      `INSERT INTO bulk_forwarding (name, active, changed_at) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET active = excluded.active, changed_at = excluded.changed_at
       WHERE bulk_forwarding.active != excluded.active`,
    );
  }

  get(extension: string): ForwardingRow | undefined {
    const r = this.getStmt.get(extension) as { extension: string; state: string; admin: string; updated_at: number } | undefined;
    return r && { extension: r.extension, state: r.state, admin: r.admin, updatedAt: r.updated_at };
  }

  /** State and admin JSON together: the YAML was (re)applied. */
  put(extension: string, state: string, admin: string, updatedAt: number): void {
    this.putStmt.run(extension, state, admin, updatedAt);
  }

  /** A run-time change; `admin` is used only when the extension has no row yet. */
  putState(extension: string, state: string, admin: string, updatedAt: number): void {
    this.putStateStmt.run(extension, state, admin, updatedAt);
  }

  /** Runs `fn` holding the write lock, so a read-modify-write by the server and the CLI cannot interleave. */
  exclusive<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  activeBulkNames(): Set<string> {
    return new Set((this.activeStmt.all() as Array<{ name: string }>).map((r) => r.name));
  }

  bulkRows(): Map<string, BulkRow> {
    const rows = this.bulkAllStmt.all() as Array<{ name: string; active: number; changed_at: number }>;
    return new Map(rows.map((r) => [r.name, { name: r.name, active: r.active === 1, changedAt: r.changed_at }]));
  }

  setBulk(name: string, active: boolean, changedAt: number): void {
    this.setBulkStmt.run(name, active ? 1 : 0, changedAt);
  }
}
