// Issue #12: console logins — scrypt hashes, the lock after `attempts` failures that ends after the lock time,
// sessions that expire, and tokens that stop working when their account is deleted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Accounts } from '../../../src/api/accounts.js';
import { hashPassword, verifyPassword } from '../../../src/api/credentials.js';
import { ApiAccountStore } from '../../../src/store/api-account-store.js';
import { AuditStore } from '../../../src/store/audit-store.js';
import { openDatabase, type Database } from '../../../src/store/db.js';

let dir: string;
let db: Database;
let now: number;
let accounts: Accounts;
let store: ApiAccountStore;
let audit: AuditStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hibiki-accounts-'));
  db = openDatabase(dir);
  now = Date.UTC(2026, 11, 3, 9);
  store = new ApiAccountStore(db);
  audit = new AuditStore(db);
  accounts = new Accounts(
    store,
    audit,
    () => now,
    () => ({ attempts: 3, addressFailuresPerMinute: 20, lockMinutes: 60, sessionHours: 12 }),
  );
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('password hashes', () => {
  it('verifies only the password that was hashed, with a salt of its own each time', async () => {
    const a = await hashPassword('s3cret-pass');
    const b = await hashPassword('s3cret-pass');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifyPassword('s3cret-pass', a)).toBe(true);
    expect(await verifyPassword('s3cret-pasS', a)).toBe(false);
    expect(await verifyPassword('s3cret-pass', 'plain-text')).toBe(false);
  });
});

describe('logins', () => {
  beforeEach(async () => {
    await accounts.create({ username: 'ops', password: 'right-password', role: 'supervisor' });
  });

  it('locks after 3 failures for 60 minutes, refuses the right password meanwhile, and opens again after', async () => {
    for (let i = 0; i < 2; i++) expect(await accounts.login('ops', 'wrong', '192.0.2.1')).toEqual({ ok: false, locked: false });
    expect(await accounts.login('ops', 'wrong', '192.0.2.1')).toEqual({ ok: false, locked: true });
    now += 59 * 60_000;
    expect(await accounts.login('ops', 'right-password', '192.0.2.1')).toEqual({ ok: false, locked: true });
    now += 61_000;
    const r = await accounts.login('ops', 'right-password', '192.0.2.1');
    expect(r.ok).toBe(true);
    const actions = audit.search({ limit: 10, offset: 0 }).entries.map((e) => e.action);
    expect(actions).toEqual(['login', 'login-locked', 'login-failed-locked', 'login-failed', 'login-failed']);
  });

  it('a success resets the count of failures', async () => {
    await accounts.login('ops', 'wrong', '192.0.2.1');
    await accounts.login('ops', 'wrong', '192.0.2.1');
    expect((await accounts.login('ops', 'right-password', '192.0.2.1')).ok).toBe(true);
    await accounts.login('ops', 'wrong', '192.0.2.1');
    await accounts.login('ops', 'wrong', '192.0.2.1');
    expect((await accounts.login('ops', 'right-password', '192.0.2.1')).ok).toBe(true);
  });

  it('an unknown username fails like a wrong password and is audited', async () => {
    expect(await accounts.login('nobody', 'x', '192.0.2.9')).toEqual({ ok: false, locked: false });
    expect(audit.search({ actor: 'nobody', limit: 5, offset: 0 }).entries[0]).toMatchObject({ action: 'login-failed', address: '192.0.2.9' });
  });

  it('sessions expire after sessionHours, end with a password change, and with the account', async () => {
    const r = await accounts.login('ops', 'right-password', '192.0.2.1');
    if (!r.ok) throw new Error('login failed');
    expect(accounts.resolve(r.token)?.role).toBe('supervisor');
    now += 12 * 3_600_000;
    expect(accounts.resolve(r.token)).toBeUndefined();
    const second = await accounts.login('ops', 'right-password', '192.0.2.1');
    if (!second.ok) throw new Error('login failed');
    await accounts.setPassword('ops', 'another-password');
    expect(accounts.resolve(second.token)).toBeUndefined();
    const { token } = accounts.issueToken('ops', 'script', undefined);
    expect(accounts.resolve(token)?.username).toBe('ops');
    store.remove('ops');
    expect(accounts.resolve(token)).toBeUndefined();
  });

  it('a password change ends the other sessions and every API token, but not the session making it', async () => {
    const mine = await accounts.login('ops', 'right-password', '192.0.2.1');
    const other = await accounts.login('ops', 'right-password', '192.0.2.2');
    if (!mine.ok || !other.ok) throw new Error('login failed');
    const { token } = accounts.issueToken('ops', 'script', undefined);
    await accounts.setPassword('ops', 'another-password', mine.principal.tokenHash);
    expect(accounts.resolve(mine.token)?.username).toBe('ops');
    expect(accounts.resolve(other.token)).toBeUndefined();
    expect(accounts.resolve(token)).toBeUndefined();
  });

  it('a wrong current password counts towards the lock, and the lock ends the sessions', async () => {
    const r = await accounts.login('ops', 'right-password', '192.0.2.1');
    if (!r.ok) throw new Error('login failed');
    expect(await accounts.confirmPassword(r.principal, 'guess-1', '192.0.2.1')).toBe('wrong');
    expect(await accounts.confirmPassword(r.principal, 'guess-2', '192.0.2.1')).toBe('wrong');
    expect(await accounts.confirmPassword(r.principal, 'guess-3', '192.0.2.1')).toBe('locked');
    expect(accounts.resolve(r.token)).toBeUndefined();
    expect(await accounts.login('ops', 'right-password', '192.0.2.1')).toEqual({ ok: false, locked: true });
  });

  it('throttles an address after 20 failed logins in a minute, whatever names it tries, until the minute passes', async () => {
    for (let i = 0; i < 20; i++) expect((await accounts.login(`nobody-${i}`, 'x', '198.51.100.7')).ok).toBe(false);
    expect(await accounts.login('ops', 'right-password', '198.51.100.7')).toEqual({ ok: false, locked: false, throttled: true });
    expect((await accounts.login('ops', 'right-password', '192.0.2.1')).ok).toBe(true);
    now += 60_001;
    expect((await accounts.login('ops', 'right-password', '198.51.100.7')).ok).toBe(true);
  });
});
