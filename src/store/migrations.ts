// Schema changes, applied in order and tracked in PRAGMA user_version so every database, old or
// new, reaches the same shape. Append new migrations; never edit one that has shipped.
import type { Database } from 'better-sqlite3';

export interface Migration {
  /** user_version after this migration; 1-based and consecutive. */
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'registrations',
    sql: `
      CREATE TABLE registrations (
        aor            TEXT    NOT NULL,
        contact        TEXT    NOT NULL,
        instance_id    TEXT,
        reg_id         INTEGER,
        call_id        TEXT    NOT NULL,
        cseq           INTEGER NOT NULL,
        expires_at     INTEGER NOT NULL,
        q              REAL,
        transport      TEXT    NOT NULL,
        source_address TEXT    NOT NULL,
        source_port    INTEGER NOT NULL,
        local_address  TEXT    NOT NULL,
        local_port     INTEGER NOT NULL,
        connection_id  TEXT,
        user_agent     TEXT,
        registered_at  INTEGER NOT NULL,
        reachable      INTEGER NOT NULL DEFAULT 1,
        missed_qualify INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (aor, contact)
      ) WITHOUT ROWID;
      CREATE INDEX registrations_expires_at ON registrations (expires_at);
    `,
  },
];

/** Brings the database up to the latest migration, each step in its own transaction. */
export function migrate(db: Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.length === 0 ? 0 : migrations[migrations.length - 1].version;
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this hibiki supports (${latest})`);
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      // PRAGMA takes no bound parameters; the version is an integer from the list above.
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
