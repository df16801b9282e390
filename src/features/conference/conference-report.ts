// `hibiki conference list | kick | mute | unmute` (F-CONF): the rooms in progress as the running server
// wrote them, and commands it carries out within a second. The CLI is another process: it reads and writes
// the database only.
import type { Database } from 'better-sqlite3';
import type { HibikiConfig } from '../../config/schema.js';
import { ConferenceStore } from '../../store/conference-store.js';

export class ConferenceCommandError extends Error {}

export function conferenceList(db: Database, config: HibikiConfig, now: number): string[] {
  const participants = new ConferenceStore(db).participants();
  const out: string[] = [];
  for (const room of config.conference.rooms) {
    const inRoom = participants.filter((p) => p.room === room.number);
    out.push(`room ${room.number}${room.name ? ` ${room.name}` : ''}: ${inRoom.length} of ${room.maxParticipants}${room.pin !== undefined ? ', PIN' : ''}`);
    for (const p of inRoom) {
      const flags = [p.moderator ? 'moderator' : '', p.muted ? 'muted' : ''].filter(Boolean).join(', ');
      out.push(`  ${p.id}\t${p.number}${p.name ? ` ${p.name}` : ''}\t${Math.round((now - p.joinedAt) / 1000)} s${flags ? `\t${flags}` : ''}`);
    }
  }
  return out;
}

/** A kick or (un)mute for the server; the participant must be in the room now. */
export function conferenceCommand(db: Database, room: string, participant: string, action: 'kick' | 'mute' | 'unmute', now: number): string {
  const store = new ConferenceStore(db);
  if (!store.participants().some((p) => p.room === room && p.id === participant)) throw new ConferenceCommandError(`no participant ${participant} in room ${room} (see hibiki conference list)`);
  store.addCommand({ room, participant, action }, now);
  return `${action}: ${participant} in room ${room} (the server applies it within a second)`;
}
