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
  {
    version: 2,
    name: 'cdr',
    // Columns of SPEC F-CDR. Times are ISO-8601 UTC text with milliseconds, which sorts in time order.
    // AUTOINCREMENT so that an id purged by retention is never handed to a later call.
    sql: `
      CREATE TABLE cdr (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id        TEXT    NOT NULL,
        linked_id      TEXT    NOT NULL,
        started_at     TEXT    NOT NULL,
        answered_at    TEXT,
        ended_at       TEXT    NOT NULL,
        duration       INTEGER NOT NULL CHECK (duration >= 0),
        billsec        INTEGER NOT NULL CHECK (billsec >= 0),
        direction      TEXT    NOT NULL CHECK (direction IN ('internal', 'inbound', 'outbound')),
        disposition    TEXT    NOT NULL CHECK (disposition IN ('answered', 'no_answer', 'busy', 'failed', 'cancelled')),
        caller_number  TEXT    NOT NULL,
        caller_name    TEXT,
        dialed_number  TEXT    NOT NULL,
        callee_number  TEXT,
        answered_by    TEXT,
        forwarded_from TEXT,
        transferred_by TEXT,
        feature        TEXT    NOT NULL DEFAULT 'none',
        hangup_by      TEXT    NOT NULL CHECK (hangup_by IN ('caller', 'callee', 'system')),
        q850_cause     INTEGER NOT NULL CHECK (q850_cause BETWEEN 1 AND 127),
        sip_status     INTEGER,
        hangup_reason  TEXT,
        trunk          TEXT,
        queue          TEXT,
        recording_path TEXT
      );
      CREATE INDEX cdr_started_at ON cdr (started_at);
      CREATE INDEX cdr_linked_id ON cdr (linked_id);
    `,
  },
  {
    version: 3,
    name: 'parked_calls',
    // A mirror of the running server's park lot, so the CLI (another process) can list it (F-PARK).
    sql: `
      CREATE TABLE parked_calls (
        slot       TEXT PRIMARY KEY,
        party      TEXT NOT NULL,
        parked_by  TEXT,
        since      TEXT NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'routing_state',
    // Run-time state of the routing features (issue #5), read by the server at call time and written by
    // service codes and by the CLI (another process), so both always see the same state.
    //   forwarding: per extension, the forwarding/DND state as JSON, and the YAML forwarding last applied
    //               (an admin edit in the YAML wins over earlier run-time changes; an unchanged YAML does not).
    //   bulk_forwarding: which bulk-forwarding sets are switched on.
    //   hunt_state: where round-robin continues in each group.
    //   screening_rejections: rejected incoming calls per extension or DID and month (F-SCREEN counters).
    sql: `
      CREATE TABLE forwarding (
        extension  TEXT PRIMARY KEY,
        state      TEXT NOT NULL,
        admin      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE bulk_forwarding (
        name       TEXT PRIMARY KEY,
        active     INTEGER NOT NULL,
        changed_at INTEGER NOT NULL
      );
      CREATE TABLE hunt_state (
        group_number TEXT PRIMARY KEY,
        last_first   TEXT NOT NULL,
        updated_at   INTEGER NOT NULL
      );
      CREATE TABLE screening_rejections (
        target TEXT    NOT NULL,
        month  TEXT    NOT NULL,
        count  INTEGER NOT NULL,
        PRIMARY KEY (target, month)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    name: 'active_calls',
    // Crash recovery (issue #14): each answered call, written when it is answered or re-bridged and
    // deleted when it ends, so that a server restarting after a crash can BYE its legs and write its CDR.
    //   active_calls.entry: JSON owned by pbx/call-journal.ts (the call's CDR facts and a snapshot of
    //                       each leg's dialog); updated_at: epoch ms of the last write.
    //   heartbeat: one row, the last time the server was known alive (epoch ms), for the end time of
    //              the calls a crash cut.
    sql: `
      CREATE TABLE active_calls (
        call_key   TEXT    PRIMARY KEY,
        call_id    TEXT    NOT NULL,
        entry      TEXT    NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE heartbeat (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        alive_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'auth_locks',
    // F-AUTH lockouts (issue #14), written by the server when it locks and read through on every locked
    // request, so a restart keeps them and a clear by the CLI (another process) takes effect at once.
    //   kind 'user':    a username refused from `address`, or from every address when `address` is ''.
    //   kind 'address': a source address blocked for every username (`username` is '').
    sql: `
      CREATE TABLE auth_locks (
        kind         TEXT    NOT NULL CHECK (kind IN ('user', 'address')),
        username     TEXT    NOT NULL,
        address      TEXT    NOT NULL,
        locked_at    INTEGER NOT NULL,
        locked_until INTEGER NOT NULL,
        reason       TEXT    NOT NULL,
        PRIMARY KEY (kind, username, address)
      ) WITHOUT ROWID;
      CREATE INDEX auth_locks_until ON auth_locks (locked_until);
    `,
  },
  {
    version: 7,
    name: 'voicemail_messages',
    // F-VM (issue #10): one row per voicemail message; the audio is the WAV at `file` (relative to
    // <data.dir>/voicemail/), written before the row and deleted after it. `box` is the mailbox number
    // (an extension's, or a shared box's). status: 'new' until played or saved, then 'saved'.
    sql: `
      CREATE TABLE voicemail_messages (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        box           TEXT    NOT NULL,
        file          TEXT    NOT NULL,
        received_at   INTEGER NOT NULL,
        caller_number TEXT    NOT NULL,
        caller_name   TEXT,
        called_number TEXT    NOT NULL,
        duration_ms   INTEGER NOT NULL,
        status        TEXT    NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'saved')),
        call_id       TEXT
      );
      CREATE INDEX voicemail_messages_box ON voicemail_messages (box, status, received_at);
    `,
  },
  {
    version: 8,
    name: 'voicemail_boxes',
    // F-VM: what a box owner changed by phone: a new PIN (with the YAML PIN it replaced, so that an admin's
    // later edit of the YAML wins) and whether a recorded greeting (<data.dir>/voicemail/<box>/greeting.wav)
    // is in use.
    sql: `
      CREATE TABLE voicemail_boxes (
        box        TEXT    PRIMARY KEY,
        pin        TEXT,
        admin_pin  TEXT,
        greeting   INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 9,
    name: 'mail_outbox',
    // Voicemail notification mails not yet delivered (issue #10), so a failed or interrupted send is
    // retried, after a restart too. A row points at its message (`message_id`, the WAV at `wav_path`)
    // without a foreign key: the mail never holds the message back, and a message deleted before its
    // mail went out only drops the mail. Times are epoch milliseconds. Version 9: 8 is the voicemail
    // feature's, merged before this one.
    sql: `
      CREATE TABLE mail_outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id      INTEGER NOT NULL,
        box             TEXT    NOT NULL,
        recipient       TEXT    NOT NULL,
        wav_path        TEXT    NOT NULL,
        attach          INTEGER NOT NULL CHECK (attach IN (0, 1)),
        created_at      INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT
      );
      CREATE INDEX mail_outbox_next ON mail_outbox (next_attempt_at);
    `,
  },
  {
    version: 10,
    name: 'queues',
    // F-QUEUE / F-AGENT (issue #11). queue_events is append-only, like Asterisk's queue_log: every figure of
    // the queue statistics (live, hourly, daily, per agent, time in each state) is computed from it, so any
    // figure can be recomputed. `at` is epoch milliseconds; call_id is the caller's call (CDR call_id).
    // agent_states holds what an agent or supervisor set (pause with its reason, after-call work until a
    // time), per queue, so it survives a restart; the live state (ringing, in call, offline) is the server's.
    // cdr.queue_wait: seconds a queue call waited before an agent answered or it left the queue.
    sql: `
      CREATE TABLE queue_events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        queue   TEXT    NOT NULL,
        call_id TEXT,
        agent   TEXT,
        event   TEXT    NOT NULL,
        wait_ms INTEGER,
        talk_ms INTEGER,
        detail  TEXT
      );
      CREATE INDEX queue_events_at ON queue_events (at);
      CREATE INDEX queue_events_queue_at ON queue_events (queue, at);
      CREATE INDEX queue_events_call ON queue_events (call_id);
      CREATE TABLE agent_states (
        queue      TEXT    NOT NULL,
        agent      TEXT    NOT NULL,
        state      TEXT    NOT NULL CHECK (state IN ('paused', 'wrapup')),
        reason     TEXT,
        since      INTEGER NOT NULL,
        until      INTEGER,
        PRIMARY KEY (queue, agent)
      );
      ALTER TABLE cdr ADD COLUMN queue_wait INTEGER;
    `,
  },
  {
    version: 11,
    name: 'hotdesk_logins',
    // F-HOTDESK (issue #15): which extension a hot-desk device has taken. One row per device, and one device per
    // extension (a new login elsewhere moves it), so both columns are unique. since/expires are epoch ms;
    // a row whose expires has passed is no login any more and is deleted when next seen.
    sql: `
      CREATE TABLE hotdesk_logins (
        device    TEXT    NOT NULL PRIMARY KEY,
        extension TEXT    NOT NULL UNIQUE,
        since     INTEGER NOT NULL,
        expires   INTEGER NOT NULL
      );
      CREATE INDEX hotdesk_logins_expires ON hotdesk_logins (expires);
    `,
  },
  {
    version: 12,
    name: 'conference',
    // F-CONF (issue #15): the participants of the rooms in progress, written by the server so that the CLI
    // (another process) can list them, and the CLI's kick/mute commands, read back and deleted by the
    // server. Nothing here outlives the server: it empties both tables when it starts.
    sql: `
      CREATE TABLE conference_participants (
        id        TEXT    PRIMARY KEY,
        room      TEXT    NOT NULL,
        call_id   TEXT    NOT NULL,
        number    TEXT    NOT NULL,
        name      TEXT,
        moderator INTEGER NOT NULL,
        muted     INTEGER NOT NULL,
        joined_at INTEGER NOT NULL
      );
      CREATE TABLE conference_commands (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        room        TEXT    NOT NULL,
        participant TEXT    NOT NULL,
        action      TEXT    NOT NULL CHECK (action IN ('kick', 'mute', 'unmute')),
        at          INTEGER NOT NULL
      );
    `,
  },
  {
    version: 13,
    name: 'api_accounts_audit',
    // Issue #12: console and API accounts (passwords as scrypt hashes), API tokens and login sessions
    // (SHA-256 of the random token: it has 256 bits of its own, a slow hash adds nothing), and the audit
    // trail of every login and change, readable by admins.
    sql: `
      CREATE TABLE api_accounts (
        username      TEXT    PRIMARY KEY,
        password_hash TEXT    NOT NULL,
        role          TEXT    NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent', 'user')),
        extension     TEXT,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until  INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
      );
      CREATE TABLE api_tokens (
        token_hash TEXT    PRIMARY KEY,
        username   TEXT    NOT NULL REFERENCES api_accounts(username) ON DELETE CASCADE,
        kind       TEXT    NOT NULL CHECK (kind IN ('session', 'token')),
        label      TEXT    NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        expires_at INTEGER
      );
      CREATE INDEX api_tokens_user ON api_tokens (username);
      CREATE TABLE audit_log (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        actor   TEXT    NOT NULL,
        address TEXT    NOT NULL,
        action  TEXT    NOT NULL,
        target  TEXT    NOT NULL DEFAULT '',
        detail  TEXT    NOT NULL DEFAULT ''
      );
      CREATE INDEX audit_log_at ON audit_log (at);
    `,
  },
  {
    version: 14,
    name: 'registration_webrtc',
    // Issue #16: a device that registered with the +sip.ice feature tag (RFC 5768; the browser phone does)
    // is offered WebRTC when it rings; the others plain RTP.
    sql: `ALTER TABLE registrations ADD COLUMN webrtc INTEGER NOT NULL DEFAULT 0;`,
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
