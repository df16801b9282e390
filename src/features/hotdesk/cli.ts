// `hibiki hotdesk list|logout` (F-HOTDESK): the logins in the shared database, read and ended by the CLI
// process. The running server reads the table on every lookup, so a logout takes effect at the next call.
import type { Database } from 'better-sqlite3';
import { HotDeskStore, type HotDeskLogin } from '../../store/hotdesk-store.js';

export interface HotDeskCommandResult {
  /** Lines for stdout. */
  lines: string[];
  exitCode: number;
}

function describe(l: HotDeskLogin): string {
  return [l.extension, l.device, new Date(l.since).toISOString(), new Date(l.expires).toISOString()].join('\t');
}

/** The live logins: extension, device, since, expires (tab-separated); expired rows are removed first. */
export function hotDeskList(db: Database, now: number): HotDeskCommandResult {
  const store = new HotDeskStore(db);
  store.purge(now);
  return { lines: store.list().map(describe), exitCode: 0 };
}

/** End the login holding `number` (the extension taken, or the device); exit code 1 when there was none. */
export function hotDeskLogout(db: Database, number: string, now: number): HotDeskCommandResult {
  const store = new HotDeskStore(db);
  store.purge(now);
  const ended = store.logoutNumber(number);
  if (ended.length === 0) return { lines: [`no hot-desk login for ${number}`], exitCode: 1 };
  return { lines: ended.map((l) => `logged out: ${l.extension} from ${l.device}`), exitCode: 0 };
}
