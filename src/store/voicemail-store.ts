// Voicemail messages as rows (F-VM), written by the server as messages are left, played and deleted,
// and read by the CLI. The audio lives in WAV files beside the database; this store keeps only the
// file's path relative to <data.dir>/voicemail/ and never touches the files.
import type { Database } from 'better-sqlite3';

export type MessageStatus = 'new' | 'saved';

export interface VoicemailMessage {
  id: number;
  box: string;
  /** Relative to <data.dir>/voicemail/, e.g. `2001/1733130000000-1.wav`. */
  file: string;
  receivedAt: number;
  callerNumber: string;
  callerName: string | undefined;
  calledNumber: string;
  durationMs: number;
  status: MessageStatus;
  callId: string | undefined;
}

export type NewMessage = Omit<VoicemailMessage, 'id' | 'status'>;

export interface MessageCounts {
  new: number;
  saved: number;
}

interface Row {
  id: number;
  box: string;
  file: string;
  received_at: number;
  caller_number: string;
  caller_name: string | null;
  called_number: string;
  duration_ms: number;
  status: MessageStatus;
  call_id: string | null;
}

const COLUMNS = 'id, box, file, received_at, caller_number, caller_name, called_number, duration_ms, status, call_id';

function toMessage(r: Row): VoicemailMessage {
  return {
    id: r.id,
    box: r.box,
    file: r.file,
    receivedAt: r.received_at,
    callerNumber: r.caller_number,
    callerName: r.caller_name ?? undefined,
    calledNumber: r.called_number,
    durationMs: r.duration_ms,
    status: r.status,
    callId: r.call_id ?? undefined,
  };
}

export class VoicemailStore {
  constructor(private readonly db: Database) {}

  add(m: NewMessage): VoicemailMessage {
    const info = this.db
      .prepare('INSERT INTO voicemail_messages (box, file, received_at, caller_number, caller_name, called_number, duration_ms, call_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(m.box, m.file, m.receivedAt, m.callerNumber, m.callerName ?? null, m.calledNumber, m.durationMs, m.callId ?? null);
    return { ...m, id: Number(info.lastInsertRowid), status: 'new' };
  }

  get(id: number): VoicemailMessage | undefined {
    const r = this.db.prepare(`SELECT ${COLUMNS} FROM voicemail_messages WHERE id = ?`).get(id) as Row | undefined;
    return r === undefined ? undefined : toMessage(r);
  }

  /** A box's messages: new ones first, then saved ones, each oldest first (the order they are played in). */
  list(box: string): VoicemailMessage[] {
    const rows = this.db.prepare(`SELECT ${COLUMNS} FROM voicemail_messages WHERE box = ? ORDER BY status = 'saved', received_at, id`).all(box) as Row[];
    return rows.map(toMessage);
  }

  counts(box: string): MessageCounts {
    const rows = this.db.prepare('SELECT status, COUNT(*) AS n FROM voicemail_messages WHERE box = ? GROUP BY status').all(box) as Array<{ status: MessageStatus; n: number }>;
    const c: MessageCounts = { new: 0, saved: 0 };
    for (const r of rows) c[r.status] = r.n;
    return c;
  }

  /** Boxes that hold at least one message. */
  boxes(): string[] {
    return (this.db.prepare('SELECT DISTINCT box FROM voicemail_messages ORDER BY box').all() as Array<{ box: string }>).map((r) => r.box);
  }

  setStatus(id: number, status: MessageStatus): boolean {
    return this.db.prepare('UPDATE voicemail_messages SET status = ? WHERE id = ?').run(status, id).changes > 0;
  }

  /** Removes the row and returns it (the caller deletes its file), or undefined when there was none. */
  remove(id: number): VoicemailMessage | undefined {
    const m = this.get(id);
    if (m === undefined) return undefined;
    this.db.prepare('DELETE FROM voicemail_messages WHERE id = ?').run(id);
    return m;
  }
}
