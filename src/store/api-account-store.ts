// Console and API accounts, their tokens and login sessions (issue #12, migration 13). Passwords are kept
// only as scrypt hashes and tokens only as SHA-256 hashes; this module stores and finds rows, the hashing
// itself is api/credentials.ts's job.
import type { Database, Statement } from 'better-sqlite3';

export const apiRoles = ['admin', 'supervisor', 'agent', 'user'] as const;
export type ApiRole = (typeof apiRoles)[number];

export interface ApiAccount {
  username: string;
  passwordHash: string;
  role: ApiRole;
  /** The extension a `user` (or `agent`) account belongs to. */
  extension: string | undefined;
  failedLogins: number;
  /** Epoch ms; locked while now < lockedUntil. */
  lockedUntil: number;
  createdAt: number;
}

export interface ApiTokenRow {
  tokenHash: string;
  username: string;
  kind: 'session' | 'token';
  label: string;
  createdAt: number;
  expiresAt: number | undefined;
}

interface AccountRow {
  username: string;
  password_hash: string;
  role: string;
  extension: string | null;
  failed_logins: number;
  locked_until: number;
  created_at: number;
}

interface TokenRow {
  token_hash: string;
  username: string;
  kind: string;
  label: string;
  created_at: number;
  expires_at: number | null;
}

function account(r: AccountRow): ApiAccount {
  return {
    username: r.username,
    passwordHash: r.password_hash,
    role: (apiRoles as readonly string[]).includes(r.role) ? (r.role as ApiRole) : 'user',
    extension: r.extension ?? undefined,
    failedLogins: r.failed_logins,
    lockedUntil: r.locked_until,
    createdAt: r.created_at,
  };
}

function token(r: TokenRow): ApiTokenRow {
  return { tokenHash: r.token_hash, username: r.username, kind: r.kind === 'session' ? 'session' : 'token', label: r.label, createdAt: r.created_at, expiresAt: r.expires_at ?? undefined };
}

export class ApiAccountStore {
  private readonly getStmt: Statement<[string], AccountRow>;
  private readonly tokenStmt: Statement<[string], TokenRow>;

  constructor(private readonly db: Database) {
    this.getStmt = db.prepare('SELECT * FROM api_accounts WHERE username = ?');
    this.tokenStmt = db.prepare('SELECT * FROM api_tokens WHERE token_hash = ?');
  }

  get(username: string): ApiAccount | undefined {
    const r = this.getStmt.get(username);
    return r ? account(r) : undefined;
  }

  list(): ApiAccount[] {
    return this.db.prepare<[], AccountRow>('SELECT * FROM api_accounts ORDER BY username').all().map(account);
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM api_accounts').get() as { n: number }).n;
  }

  /** False when the username is taken. */
  create(a: Omit<ApiAccount, 'failedLogins' | 'lockedUntil'>): boolean {
    const r = this.db
      .prepare('INSERT OR IGNORE INTO api_accounts (username, password_hash, role, extension, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(a.username, a.passwordHash, a.role, a.extension ?? null, a.createdAt);
    return r.changes === 1;
  }

  update(username: string, change: { role?: ApiRole; extension?: string | null; passwordHash?: string }): boolean {
    const a = this.get(username);
    if (!a) return false;
    const extension = change.extension === undefined ? (a.extension ?? null) : change.extension;
    this.db.prepare('UPDATE api_accounts SET role = ?, extension = ?, password_hash = ? WHERE username = ?').run(change.role ?? a.role, extension, change.passwordHash ?? a.passwordHash, username);
    return true;
  }

  remove(username: string): boolean {
    return this.db.prepare('DELETE FROM api_accounts WHERE username = ?').run(username).changes === 1;
  }

  /** A failed login: counts it, and locks the account until `lockUntil` when the count reaches `attempts`. Returns the new count. */
  recordFailure(username: string, attempts: number, lockUntil: number): number {
    return this.db.transaction(() => {
      const a = this.get(username);
      if (!a) return 0;
      const failed = a.failedLogins + 1;
      if (failed >= attempts) this.db.prepare('UPDATE api_accounts SET failed_logins = 0, locked_until = ? WHERE username = ?').run(lockUntil, username);
      else this.db.prepare('UPDATE api_accounts SET failed_logins = ? WHERE username = ?').run(failed, username);
      return failed;
    })();
  }

  recordSuccess(username: string): void {
    this.db.prepare('UPDATE api_accounts SET failed_logins = 0, locked_until = 0 WHERE username = ?').run(username);
  }

  /** Accounts locked at `now`. */
  locked(now: number): ApiAccount[] {
    return this.db.prepare<[number], AccountRow>('SELECT * FROM api_accounts WHERE locked_until > ? ORDER BY username').all(now).map(account);
  }

  unlock(username: string): boolean {
    return this.db.prepare('UPDATE api_accounts SET failed_logins = 0, locked_until = 0 WHERE username = ?').run(username).changes === 1;
  }

  addToken(t: ApiTokenRow): void {
    this.db
      .prepare('INSERT INTO api_tokens (token_hash, username, kind, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(t.tokenHash, t.username, t.kind, t.label, t.createdAt, t.expiresAt ?? null);
  }

  token(tokenHash: string): ApiTokenRow | undefined {
    const r = this.tokenStmt.get(tokenHash);
    return r ? token(r) : undefined;
  }

  tokensOf(username: string): ApiTokenRow[] {
    return this.db.prepare<[string], TokenRow>("SELECT * FROM api_tokens WHERE username = ? AND kind = 'token' ORDER BY created_at").all(username).map(token);
  }

  removeToken(tokenHash: string): boolean {
    return this.db.prepare('DELETE FROM api_tokens WHERE token_hash = ?').run(tokenHash).changes === 1;
  }

  /** Ends every session and API token of an account but `keep` (a password change). */
  removeCredentials(username: string, keep?: string): void {
    this.db.prepare('DELETE FROM api_tokens WHERE username = ? AND token_hash != ?').run(username, keep ?? '');
  }

  purgeExpired(now: number): number {
    return this.db.prepare('DELETE FROM api_tokens WHERE expires_at IS NOT NULL AND expires_at <= ?').run(now).changes;
  }
}
