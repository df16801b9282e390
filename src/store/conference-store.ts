// The conference rooms in progress as the CLI sees them (F-CONF, issue #15): the server writes each
// participant in and out, the CLI lists them and leaves kick/mute commands that the server takes.
import type { Database, Statement } from 'better-sqlite3';

export interface ConferenceParticipantRow {
  room: string;
  id: string;
  callId: string;
  number: string;
  name: string | null;
  moderator: boolean;
  muted: boolean;
  joinedAt: number;
}

export interface ConferenceCommand {
  room: string;
  participant: string;
  action: 'kick' | 'mute' | 'unmute';
}

interface Row {
  id: string;
  room: string;
  call_id: string;
  number: string;
  name: string | null;
  moderator: number;
  muted: number;
  joined_at: number;
}

export class ConferenceStore {
  private readonly insert: Statement;
  private readonly del: Statement;
  private readonly mute: Statement;
  private readonly list: Statement;
  private readonly command: Statement;
  private readonly commands: Statement;
  private readonly clearCommands: Statement;
  private lastVersion = -1;

  constructor(private readonly db: Database) {
    this.insert = db.prepare('INSERT OR REPLACE INTO conference_participants (id, room, call_id, number, name, moderator, muted, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.del = db.prepare('DELETE FROM conference_participants WHERE id = ?');
    this.mute = db.prepare('UPDATE conference_participants SET muted = ? WHERE id = ?');
    this.list = db.prepare('SELECT * FROM conference_participants ORDER BY room, joined_at, id');
    this.command = db.prepare('INSERT INTO conference_commands (room, participant, action, at) VALUES (?, ?, ?, ?)');
    this.commands = db.prepare('SELECT room, participant, action FROM conference_commands ORDER BY id');
    this.clearCommands = db.prepare('DELETE FROM conference_commands');
  }

  put(p: ConferenceParticipantRow): void {
    this.insert.run(p.id, p.room, p.callId, p.number, p.name, p.moderator ? 1 : 0, p.muted ? 1 : 0, p.joinedAt);
  }

  remove(id: string): void {
    this.del.run(id);
  }

  setMuted(id: string, muted: boolean): void {
    this.mute.run(muted ? 1 : 0, id);
  }

  participants(): ConferenceParticipantRow[] {
    return (this.list.all() as Row[]).map((r) => ({
      room: r.room,
      id: r.id,
      callId: r.call_id,
      number: r.number,
      name: r.name,
      moderator: r.moderator === 1,
      muted: r.muted === 1,
      joinedAt: r.joined_at,
    }));
  }

  /** From the CLI: something to do to a participant. */
  addCommand(c: ConferenceCommand, at: number): void {
    this.command.run(c.room, c.participant, c.action, at);
  }

  /**
   * The commands left since the last call, removed as they are taken; none without a read when no other
   * connection has written since (SQLite's data_version), so the server can ask every second for free.
   */
  takeCommands(): ConferenceCommand[] {
    const v = this.db.pragma('data_version', { simple: true }) as number;
    if (v === this.lastVersion) return [];
    this.lastVersion = v;
    return this.db.transaction(() => {
      const out = this.commands.all() as ConferenceCommand[];
      if (out.length > 0) this.clearCommands.run();
      return out;
    })();
  }

  /** The server starts: nobody is in a room, and old commands are void. */
  clear(): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM conference_participants').run();
      this.clearCommands.run();
    })();
  }
}
