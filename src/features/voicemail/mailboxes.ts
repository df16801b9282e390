// What message-waiting and e-mail notification need to know of a voicemail box, behind one lookup the
// server wires to the voicemail configuration: who owns it, whose phones show its lamp, where its
// notification mail goes and in which language.
import type { ExtensionConfig } from '../../config/schema.js';

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
 * Until the voicemail configuration lands: every extension owns the box with its number (on unless the
 * extension says `voicemail: false`), its lamp shows on that extension's phones, and its mail settings
 * are the extension's `email` and `voicemailAttach` keys — read defensively, as this schema may not
 * have them yet.
 */
export function extensionMailboxes(extensions: () => readonly ExtensionConfig[]): Mailboxes {
  // Indexed once per configuration (a reload brings a new list), not searched on every lookup.
  let indexed: readonly ExtensionConfig[] | undefined;
  let byNumber = new Map<string, ExtensionConfig>();
  const find = (box: string): ExtensionConfig | undefined => {
    const list = extensions();
    if (list !== indexed) {
      indexed = list;
      byNumber = new Map(list.map((e) => [e.number, e]));
    }
    return byNumber.get(box);
  };
  return {
    lookup(box) {
      const ext = find(box);
      if (!ext) return undefined;
      const extra: Record<string, unknown> = { ...ext };
      if (extra.voicemail === false) return undefined;
      return {
        name: ext.name,
        email: typeof extra.email === 'string' && extra.email.length > 0 ? extra.email : undefined,
        attach: extra.voicemailAttach !== false,
        notify: [ext.number],
        language: ext.language,
      };
    },
    list() {
      return extensions().map((e) => e.number);
    },
  };
}
