// What every command shares: printing, failing with an exit code, loading the config, opening its database.
import { resolve } from 'node:path';
import { loadConfigFile, type ConfigLoadResult } from '../config/load.js';
import { formatConfigError } from '../config/errors.js';
import { openDatabase, type Database } from '../store/db.js';
import type { HibikiConfig } from '../config/schema.js';

export function out(text: string): void {
  process.stdout.write(text + '\n');
}

export function fail(text: string, code = 2): never {
  process.stderr.write(text + '\n');
  process.exit(code);
}

/** Loads `file`; when it has errors, prints each one (file:line: message) to stderr and gives undefined. */
export function loadOrReport(file: string): Extract<ConfigLoadResult, { ok: true }> | undefined {
  const result = loadConfigFile(file);
  if (!result.ok) {
    for (const e of result.errors) process.stderr.write(formatConfigError(e) + '\n');
    return undefined;
  }
  return result;
}

/** Opens the server's database (in the config's data directory) for `fn`, and closes it afterwards. */
export function withDatabase<T>(config: HibikiConfig, fn: (db: Database) => T): T {
  const db = openDatabase(resolve(config.data.dir));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** A command on the server's database: exit code 1 (errors printed) when `file` does not load, else fn's. */
export function withConfigDatabase(file: string, fn: (db: Database, config: HibikiConfig) => number): number {
  const loaded = loadOrReport(file);
  return loaded ? withDatabase(loaded.config, (db) => fn(db, loaded.config)) : 1;
}
