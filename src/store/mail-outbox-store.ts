// Pending voicemail notification mails (migration 9): written when a message is left, removed when the
// mail is delivered or given up, and read again at start so a restart loses none. Only this table is
// written here: the message row and its WAV are never touched.
import type { Database } from 'better-sqlite3';

export interface OutboxMail {
  id: number;
  messageId: number;
  box: string;
  recipient: string;
  /** Absolute path of the message's WAV, as it was when the message was left. */
  wavPath: string;
  attach: boolean;
  createdAt: number;
  /** Delivery attempts made so far. */
  attempts: number;
  nextAttemptAt: number;
  lastError: string | undefined;
}

interface Row {
  id: number;
  message_id: number;
  box: string;
  recipient: string;
  wav_path: string;
  attach: number;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
}

const COLUMNS = 'id, message_id, box, recipient, wav_path, attach, created_at, attempts, next_attempt_at, last_error';

function toMail(r: Row): OutboxMail {
  return {
    id: r.id,
    messageId: r.message_id,
    box: r.box,
    recipient: r.recipient,
    wavPath: r.wav_path,
    attach: r.attach === 1,
    createdAt: r.created_at,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error ?? undefined,
  };
}

export class MailOutboxStore {
  constructor(private readonly db: Database) {}

  add(m: { messageId: number; box: string; recipient: string; wavPath: string; attach: boolean; createdAt: number }): OutboxMail {
    const info = this.db
      .prepare('INSERT INTO mail_outbox (message_id, box, recipient, wav_path, attach, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(m.messageId, m.box, m.recipient, m.wavPath, m.attach ? 1 : 0, m.createdAt, m.createdAt);
    return { ...m, id: Number(info.lastInsertRowid), attempts: 0, nextAttemptAt: m.createdAt, lastError: undefined };
  }

  get(id: number): OutboxMail | undefined {
    const r = this.db.prepare(`SELECT ${COLUMNS} FROM mail_outbox WHERE id = ?`).get(id) as Row | undefined;
    return r === undefined ? undefined : toMail(r);
  }

  /** Mails whose next attempt is due at `now`, earliest first. */
  due(now: number, limit: number): OutboxMail[] {
    return (this.db.prepare(`SELECT ${COLUMNS} FROM mail_outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`).all(now, limit) as Row[]).map(toMail);
  }

  /** When the earliest pending mail is due; undefined when none is pending. */
  nextDue(): number | undefined {
    const r = this.db.prepare('SELECT MIN(next_attempt_at) AS t FROM mail_outbox').get() as { t: number | null };
    return r.t ?? undefined;
  }

  all(): OutboxMail[] {
    return (this.db.prepare(`SELECT ${COLUMNS} FROM mail_outbox ORDER BY id`).all() as Row[]).map(toMail);
  }

  failed(id: number, attempts: number, nextAttemptAt: number, error: string): void {
    this.db.prepare('UPDATE mail_outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?').run(attempts, nextAttemptAt, error, id);
  }

  remove(id: number): void {
    this.db.prepare('DELETE FROM mail_outbox WHERE id = ?').run(id);
  }
}
