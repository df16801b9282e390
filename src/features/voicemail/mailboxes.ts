// What message-waiting and e-mail notification need to know of a voicemail box, behind one lookup the
// server wires to the voicemail configuration: who owns it, whose phones show its lamp, where its
// notification mail goes and in which language.
import type { HibikiConfig } from '../../config/schema.js';
import { mailboxes, type Mailbox } from './mailbox.js';

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

/** The lookup, and the boxes whose lamp an extension's phones show (asked at every new registration). */
export interface Mailboxes {
  lookup: MailboxLookup;
  shownOn(extension: string): Iterable<string>;
}

/**
 * The configured boxes (F-VM): each extension's own box unless it says `voicemail: false`, and the shared
 * `voicemailBoxes`, as the voicemail resolver describes them, read from the configuration in force.
 */
export function configuredMailboxes(config: () => HibikiConfig): Mailboxes {
  // Indexed once per configuration (a reload brings a new object): lookups come per NOTIFY and per
  // registration, and a search of every extension each time would grow with the size of the site.
  let indexed: HibikiConfig | undefined;
  let byNumber = new Map<string, Mailbox>();
  let byExtension = new Map<string, string[]>();
  const index = (): void => {
    const c = config();
    if (c === indexed) return;
    indexed = c;
    byNumber = new Map(mailboxes(c).map((m) => [m.number, m]));
    byExtension = new Map();
    for (const m of byNumber.values()) for (const e of m.notify) byExtension.set(e, [...(byExtension.get(e) ?? []), m.number]);
  };
  return {
    lookup: (box) => {
      index();
      return byNumber.get(box);
    },
    shownOn: (extension) => {
      index();
      return byExtension.get(extension) ?? [];
    },
  };
}
