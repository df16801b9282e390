// F-AUTH locks and address blocks as rows (migration 5). SQLite is their source of truth: the server
// writes a row when it locks, reads the row back before refusing a request, and the CLI (another
// process) lists and deletes rows, so a clear takes effect in the running server at its next check.
import type { Database, Statement } from 'better-sqlite3';

export type LockKind = 'user' | 'address';

export interface AuthLock {
  kind: LockKind;
  /** The locked username; undefined for an address block. */
  user: string | undefined;
  /** Where the username is locked, or the blocked address; undefined when a username is locked for every address. */
  address: string | undefined;
  /** Epoch ms. */
  lockedAt: number;
  /** Epoch ms; the lock no longer applies from this time on. */
  until: number;
  reason: string;
}

/**
 * Which locks an admin clears. For a username, `address` undefined means all of its locks, null only the
 * lock for every address, a string only the lock for that address.
 */
export type LockSelector = { kind: 'user'; user: string; address?: string | null } | { kind: 'address'; address: string } | { kind: 'all' };

interface LockRow {
  kind: string;
  username: string;
  address: string;
  locked_at: number;
  locked_until: number;
  reason: string;
}

const COLUMNS = 'kind, username, address, locked_at, locked_until, reason';

function fromRow(r: LockRow): AuthLock {
  const kind: LockKind = r.kind === 'address' ? 'address' : 'user';
  return {
    kind,
    user: kind === 'user' ? r.username : undefined,
    address: r.address === '' ? undefined : r.address,
    lockedAt: r.locked_at,
    until: r.locked_until,
    reason: r.reason,
  };
}

/** The row key: '' stands for "no username" (address blocks) and "every address" (username locks). */
function keyOf(kind: LockKind, user: string | undefined, address: string | undefined): [string, string, string] {
  return [kind, kind === 'user' ? (user ?? '') : '', address ?? ''];
}

export class AuthLockStore {
  private readonly putStmt: Statement;
  private readonly getStmt: Statement;

  constructor(private readonly db: Database) {
    this.putStmt = db.prepare(`INSERT OR REPLACE INTO auth_locks (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`);
    this.getStmt = db.prepare(`SELECT ${COLUMNS} FROM auth_locks WHERE kind = ? AND username = ? AND address = ?`);
  }

  put(lock: AuthLock): void {
    this.putStmt.run(...keyOf(lock.kind, lock.user, lock.address), lock.lockedAt, lock.until, lock.reason);
  }

  /** The row for exactly this lock, expired or not. */
  get(kind: LockKind, user: string | undefined, address: string | undefined): AuthLock | undefined {
    const row = this.getStmt.get(...keyOf(kind, user, address)) as LockRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Locks in force at `now`, usernames first, then by name and address. */
  active(now: number): AuthLock[] {
    const rows = this.db.prepare(`SELECT ${COLUMNS} FROM auth_locks WHERE locked_until > ? ORDER BY kind DESC, username, address`).all(now) as LockRow[];
    return rows.map(fromRow);
  }

  /** Deletes the selected locks (in force or not) and returns them. */
  remove(selector: LockSelector): AuthLock[] {
    let rows: LockRow[];
    const del = (where: string, ...args: string[]): LockRow[] => this.db.prepare(`DELETE FROM auth_locks ${where} RETURNING ${COLUMNS}`).all(...args) as LockRow[];
    switch (selector.kind) {
      case 'all':
        rows = del('');
        break;
      case 'address':
        rows = del("WHERE kind = 'address' AND address = ?", selector.address);
        break;
      case 'user':
        rows =
          selector.address === undefined
            ? del("WHERE kind = 'user' AND username = ?", selector.user)
            : del("WHERE kind = 'user' AND username = ? AND address = ?", selector.user, selector.address ?? '');
        break;
    }
    return rows.map(fromRow);
  }

  /** Deletes the locks that ended at or before `now` and returns them. */
  removeExpired(now: number): AuthLock[] {
    const rows = this.db.prepare(`DELETE FROM auth_locks WHERE locked_until <= ? RETURNING ${COLUMNS}`).all(now) as LockRow[];
    return rows.map(fromRow);
  }
}
