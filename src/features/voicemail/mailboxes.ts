// What message-waiting and e-mail notification need to know of a voicemail box, behind one lookup the
// server wires to the voicemail configuration: who owns it, whose phones show its lamp, where its
// notification mail goes and in which language.
import type { HibikiConfig } from '../../config/schema.js';
import { mailbox, mailboxes } from './mailbox.js';

export interface MailboxInfo {
  /** Display name of the box (the owner's name for an extension's box). */
  name: string;
  /** Where a notification mail goes for each new message; unset: no mail. */
  email?: string;
  /** Whether the mail carries the message's WAV. */
  attach: boolean;
  /** Extensions whose phones show this box's lamp (for an extension's own box: that extension). */
  notify: string[];
  language: 'ja' | 'en';
}

/** The box of that number, or undefined when there is none (or it is disabled). */
export type MailboxLookup = (box: string) => MailboxInfo | undefined;

/** The lookup, and every box number it knows (to find the boxes whose lamp a phone shows). */
export interface Mailboxes {
  lookup: MailboxLookup;
  list(): Iterable<string>;
}

/**
 * The configured boxes (F-VM): each extension's own box unless it says `voicemail: false`, and the shared
 * `voicemailBoxes`, as the voicemail resolver describes them, read from the configuration in force.
 */
export function configuredMailboxes(config: () => HibikiConfig): Mailboxes {
  return {
    lookup: (box) => mailbox(config(), box),
    list: () => mailboxes(config()).map((m) => m.number),
  };
}
