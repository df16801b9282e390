// Opens the one SQLite database that holds runtime state (DESIGN.md "State").
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { migrate } from './migrations.js';

export type { Database };

export const databaseFileName = 'hibiki.db';

/**
 * Opens (creating if needed) `<dataDir>/hibiki.db` and migrates it. A relative dataDir is resolved
 * against the working directory of the process.
 */
export function openDatabase(dataDir: string): Database {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const db = new BetterSqlite3(join(dir, databaseFileName));
  try {
    // WAL lets readers run beside the writer; with WAL, NORMAL loses no commit on a process crash
    // (only an OS crash or power loss can roll back the latest ones) and never corrupts the file.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
