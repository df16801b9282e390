// `hibiki admin create|list|unlock` (issue #12): accounts are made from the command line first, as there is
// no default admin password. The password comes from stdin (--password-stdin) or is generated and shown once.
import type { Database } from 'better-sqlite3';
import type { HibikiConfig } from '../config/schema.js';
import { ApiAccountStore, apiRoles, type ApiRole } from '../store/api-account-store.js';
import { AuditStore } from '../store/audit-store.js';
import { Accounts } from './accounts.js';
import { generatedPassword, passwordProblem } from './credentials.js';

export interface AdminCommandResult {
  exitCode: number;
  lines: string[];
}

export async function adminCreate(
  db: Database,
  config: HibikiConfig,
  a: { username: string; role: string | undefined; extension: string | undefined; password: string | undefined },
): Promise<AdminCommandResult> {
  const role = (a.role ?? 'admin') as ApiRole;
  if (!apiRoles.includes(role)) return { exitCode: 2, lines: [`--role must be one of ${apiRoles.join(', ')}`] };
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(a.username)) return { exitCode: 2, lines: ['the name may hold letters, digits, . _ @ - (1–64)'] };
  if (role === 'user' && a.extension === undefined) return { exitCode: 2, lines: ['a user account needs --extension NUMBER'] };
  if (a.extension !== undefined && !config.extensions.some((e) => e.number === a.extension)) return { exitCode: 2, lines: [`extension ${a.extension} does not exist`] };
  const password = a.password ?? generatedPassword();
  const problem = passwordProblem(password);
  if (problem) return { exitCode: 2, lines: [`the password ${problem}`] };
  const store = new ApiAccountStore(db);
  const audit = new AuditStore(db);
  const accounts = new Accounts(store, audit, Date.now, () => ({ attempts: 3, addressFailuresPerMinute: 20, lockMinutes: 60, sessionHours: 12 }));
  if (!(await accounts.create({ username: a.username, password, role, extension: a.extension }))) return { exitCode: 1, lines: [`account ${a.username} already exists`] };
  audit.add({ at: Date.now(), actor: 'cli', address: 'local', action: 'account.create', target: a.username, detail: JSON.stringify({ role, extension: a.extension }) });
  const lines = [`account ${a.username} created (role ${role}${a.extension ? `, extension ${a.extension}` : ''})`];
  if (a.password === undefined) lines.push(`password: ${password}`, 'keep it now: it is not shown again (change it in the console)');
  return { exitCode: 0, lines };
}

export function adminList(db: Database, now: number): AdminCommandResult {
  const rows = new ApiAccountStore(db).list();
  return { exitCode: 0, lines: rows.map((a) => [a.username, a.role, a.extension ?? '-', a.lockedUntil > now ? `locked until ${new Date(a.lockedUntil).toISOString()}` : 'active'].join('\t')) };
}

export function adminUnlock(db: Database, username: string): AdminCommandResult {
  return new ApiAccountStore(db).unlock(username) ? { exitCode: 0, lines: [`account ${username} unlocked`] } : { exitCode: 1, lines: [`no account ${username}`] };
}
