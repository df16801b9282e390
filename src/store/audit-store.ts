// The audit trail (issue #12, migration 13): every console/API login, failed or not, and every change made
// through the API, with who, when, from which address, and what. Rows are only ever added.
import type { Database, Statement } from 'better-sqlite3';

export interface AuditEntry {
  id: number;
  /** Epoch ms. */
  at: number;
  /** Username, or the name tried in a failed login. */
  actor: string;
  address: string;
  /** e.g. `login`, `login-failed`, `extension.update`. */
  action: string;
  /** What the action was on, e.g. an extension number. */
  target: string;
  /** JSON of the change (passwords and PINs left out). */
  detail: string;
}

export interface AuditQuery {
  from?: number;
  to?: number;
  actor?: string;
  action?: string;
  limit: number;
  offset: number;
}

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  address: string;
  action: string;
  target: string;
  detail: string;
}

export class AuditStore {
  private readonly addStmt: Statement;

  constructor(private readonly db: Database) {
    this.addStmt = db.prepare('INSERT INTO audit_log (at, actor, address, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)');
  }

  add(e: Omit<AuditEntry, 'id'>): void {
    this.addStmt.run(e.at, e.actor, e.address, e.action, e.target, e.detail);
  }

  /** Newest first. */
  search(q: AuditQuery): { total: number; entries: AuditEntry[] } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const add = (sql: string, v: string | number | undefined) => {
      if (v === undefined) return;
      where.push(sql);
      args.push(v);
    };
    add('at >= ?', q.from);
    add('at < ?', q.to);
    add('actor = ?', q.actor);
    add('action = ?', q.action);
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT count(*) AS n FROM audit_log ${clause}`).get(...args) as { n: number }).n;
    const entries = this.db.prepare<(string | number)[], AuditRow>(`SELECT * FROM audit_log ${clause} ORDER BY id DESC LIMIT ? OFFSET ?`).all(...args, q.limit, q.offset);
    return { total, entries };
  }
}
