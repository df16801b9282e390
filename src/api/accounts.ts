// Console and API accounts (issue #12): logins with the lockout of F-WEB (http.loginAttempts failures lock an
// account for http.loginLockMinutes), login sessions and API tokens, and who a bearer token belongs to.
// Every login, failed or not, goes to the audit trail.
import type { ApiAccountStore, ApiRole } from '../store/api-account-store.js';
import type { AuditStore } from '../store/audit-store.js';
import { hashPassword, newToken, tokenHash, verifyPassword } from './credentials.js';

/** Who a request comes from. */
export interface Principal {
  username: string;
  role: ApiRole;
  /** Set for `user` accounts (and agents bound to an extension): the one extension they may see and change. */
  extension: string | undefined;
  /** The hash of the bearer token the request carried (logout ends exactly this session). */
  tokenHash: string;
}

export interface LoginLimits {
  attempts: number;
  /** Failed logins from one address in a minute before its logins are refused with 429. */
  addressFailuresPerMinute: number;
  lockMinutes: number;
  sessionHours: number;
}

export type LoginResult = { ok: true; token: string; principal: Principal; expiresAt: number } | { ok: false; locked: boolean; throttled?: boolean };

// A fixed hash to verify against when the username does not exist, so a probe cannot tell names apart by time.
const absentHash = hashPassword('absent-account-timing-guard');

/** An account locked by failed logins: from which address the locking attempt came, and until when (epoch ms). */
export interface AccountLock {
  username: string;
  address: string;
  until: number;
}

export class Accounts {
  private readonly lockListeners = new Set<(lock: AccountLock) => void>();

  constructor(
    private readonly store: ApiAccountStore,
    private readonly audit: AuditStore,
    private readonly now: () => number,
    private readonly limits: () => LoginLimits,
  ) {}

  /** Be told when failed logins lock an account (the event stream); returns the unsubscribe. */
  onLock(fn: (lock: AccountLock) => void): () => void {
    this.lockListeners.add(fn);
    return () => this.lockListeners.delete(fn);
  }

  async create(a: { username: string; password: string; role: ApiRole; extension?: string }): Promise<boolean> {
    const passwordHash = await hashPassword(a.password);
    return this.store.create({ username: a.username, passwordHash, role: a.role, extension: a.extension, createdAt: this.now() });
  }

  /** Failed logins per source address in the last minute (any username, known or not). */
  private readonly failuresByAddress = new Map<string, number[]>();

  private throttled(address: string, now: number): boolean {
    const recent = (this.failuresByAddress.get(address) ?? []).filter((t) => t > now - 60_000);
    if (recent.length === 0) this.failuresByAddress.delete(address);
    else this.failuresByAddress.set(address, recent);
    return recent.length >= this.limits().addressFailuresPerMinute;
  }

  private noteFailure(address: string, now: number): void {
    const list = this.failuresByAddress.get(address) ?? [];
    list.push(now);
    this.failuresByAddress.set(address, list);
  }

  async login(username: string, password: string, address: string): Promise<LoginResult> {
    const now = this.now();
    if (this.throttled(address, now)) {
      // Names that do not exist are never locked: without this, one address could make the server hash forever.
      this.audit.add({ at: now, actor: username, address, action: 'login-throttled', target: username, detail: '' });
      return { ok: false, locked: false, throttled: true };
    }
    const account = this.store.get(username);
    const entry = (action: string) => this.audit.add({ at: now, actor: username, address, action, target: username, detail: '' });
    if (account && account.lockedUntil > now) {
      // Locked: the password is not even checked, so guessing on stays useless until the lock ends.
      entry('login-locked');
      return { ok: false, locked: true };
    }
    const good = await verifyPassword(password, account?.passwordHash ?? (await absentHash));
    // Re-read: another login may have locked the account while this one was hashing.
    const fresh = this.store.get(username);
    if (!account || !fresh || !good || fresh.lockedUntil > this.now()) {
      this.noteFailure(address, now);
      if (!fresh) {
        entry('login-failed');
        return { ok: false, locked: false };
      }
      const { attempts, lockMinutes } = this.limits();
      const count = this.store.recordFailure(username, attempts, now + lockMinutes * 60_000);
      const locked = count >= attempts || fresh.lockedUntil > this.now();
      entry(locked ? 'login-failed-locked' : 'login-failed');
      // Told once, by the failure that locked the account (later failures only find it locked).
      if (locked && fresh.lockedUntil <= now) for (const fn of this.lockListeners) fn({ username, address, until: now + lockMinutes * 60_000 });
      return { ok: false, locked };
    }
    this.store.recordSuccess(username);
    this.store.purgeExpired(now);
    const token = newToken();
    const expiresAt = now + this.limits().sessionHours * 3_600_000;
    const hash = tokenHash(token);
    this.store.addToken({ tokenHash: hash, username, kind: 'session', label: address, createdAt: now, expiresAt });
    entry('login');
    return { ok: true, token, expiresAt, principal: { username, role: fresh.role, extension: fresh.extension, tokenHash: hash } };
  }

  /** The principal a bearer token stands for, or undefined (unknown, expired, account removed). */
  resolve(token: string): Principal | undefined {
    const hash = tokenHash(token);
    const row = this.store.token(hash);
    if (!row) return undefined;
    if (row.expiresAt !== undefined && row.expiresAt <= this.now()) {
      this.store.removeToken(hash);
      return undefined;
    }
    const account = this.store.get(row.username);
    if (!account) return undefined;
    return { username: account.username, role: account.role, extension: account.extension, tokenHash: hash };
  }

  /** The principal again, as its token and account stand now (role changes included), or undefined when ended. */
  recheck(p: Principal): Principal | undefined {
    const row = this.store.token(p.tokenHash);
    if (!row || (row.expiresAt !== undefined && row.expiresAt <= this.now())) return undefined;
    const account = this.store.get(row.username);
    if (!account) return undefined;
    return { username: account.username, role: account.role, extension: account.extension, tokenHash: p.tokenHash };
  }

  logout(p: Principal): void {
    this.store.removeToken(p.tokenHash);
  }

  /** A new API token for an account; the token itself is shown only now. */
  issueToken(username: string, label: string, expiresAt: number | undefined): { token: string; id: string } {
    const token = newToken();
    const hash = tokenHash(token);
    this.store.addToken({ tokenHash: hash, username, kind: 'token', label, createdAt: this.now(), expiresAt });
    return { token, id: hash.slice(0, 16) };
  }

  /**
   * A new password ends every session and API token of the account (whoever held the old password may have
   * made them), except `keep`: the session of the person changing their own password.
   */
  async setPassword(username: string, password: string, keep?: string): Promise<boolean> {
    const ok = this.store.update(username, { passwordHash: await hashPassword(password) });
    if (ok) this.store.removeCredentials(username, keep);
    return ok;
  }

  /**
   * The current password, asked before a change: a wrong one counts as a failed login (a stolen session must
   * not be a way to guess the password without the lock).
   */
  async confirmPassword(p: Principal, password: string, address: string): Promise<'ok' | 'wrong' | 'locked'> {
    if (await this.checkPassword(p.username, password)) return 'ok';
    const now = this.now();
    const { attempts, lockMinutes } = this.limits();
    const count = this.store.recordFailure(p.username, attempts, now + lockMinutes * 60_000);
    this.audit.add({ at: now, actor: p.username, address, action: 'password-confirm-failed', target: p.username, detail: '' });
    if (count < attempts) return 'wrong';
    // Locked: the sessions end too, or the lock would stop nothing.
    this.store.removeCredentials(p.username);
    for (const fn of this.lockListeners) fn({ username: p.username, address, until: now + lockMinutes * 60_000 });
    return 'locked';
  }

  async checkPassword(username: string, password: string): Promise<boolean> {
    const a = this.store.get(username);
    return a !== undefined && (await verifyPassword(password, a.passwordHash));
  }
}
