// What the voicemail feature tells the rest of the server about its boxes: a message was left (e-mail
// notification), and a box's counts changed (message-waiting lamps, RFC 3842). Emitted after the row is
// in SQLite and the WAV is on disk, so a listener may read both.
import { EventEmitter } from 'node:events';
import type { MessageCounts, VoicemailMessage } from '../../store/voicemail-store.js';

export interface MailboxEventMap {
  /** A new message is stored: `path` is the absolute path of its WAV. */
  deposited: [message: VoicemailMessage, path: string];
  /** The new/saved counts of a box changed (deposit, played, saved, deleted). */
  changed: [box: string, counts: MessageCounts];
}

export class MailboxEvents extends EventEmitter<MailboxEventMap> {}
