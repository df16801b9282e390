// Which voicemail boxes exist and what they are (F-VM): one per extension (unless `voicemail: false`) and
// the shared boxes of `voicemailBoxes:`. The one resolver the deposit, retrieval, message-waiting and
// e-mail code all use, so they agree on who owns a box and whose lamp it lights.
import type { HibikiConfig } from '../../config/schema.js';
import type { PromptLanguage } from '../../media/prompts.js';

export interface Mailbox {
  /** The box number: the extension's, or the shared box's own. */
  number: string;
  name: string;
  /** PIN from the YAML (a PIN changed by phone is in VoicemailBoxStore, which overrides it). */
  pin: string | undefined;
  email?: string;
  /** Attach the WAV to the notification e-mail. */
  attach: boolean;
  /** Extensions whose phones show this box's message-waiting lamp (an extension's own box: itself). */
  notify: string[];
  language: PromptLanguage;
  /** The extension that owns the box; undefined for a shared box. */
  owner: string | undefined;
}

type ExtensionEntry = HibikiConfig['extensions'][number];
type SharedEntry = HibikiConfig['voicemailBoxes'][number];

function extensionBox(ext: ExtensionEntry): Mailbox | undefined {
  if (!ext.voicemail) return undefined;
  const m: Mailbox = { number: ext.number, name: ext.name, pin: ext.pin, attach: ext.voicemailAttach, notify: [ext.number], language: ext.language, owner: ext.number };
  if (ext.email !== undefined) m.email = ext.email;
  return m;
}

function sharedBox(shared: SharedEntry): Mailbox {
  const m: Mailbox = { number: shared.number, name: shared.name, pin: shared.pin, attach: shared.voicemailAttach, notify: [...shared.notify], language: shared.language, owner: undefined };
  if (shared.email !== undefined) m.email = shared.email;
  return m;
}

/** The box with this number, or undefined when there is none (unknown, or an extension with voicemail off). */
export function mailbox(config: HibikiConfig, box: string): Mailbox | undefined {
  const ext = config.extensions.find((e) => e.number === box);
  if (ext) return extensionBox(ext);
  const shared = config.voicemailBoxes.find((b) => b.number === box);
  return shared ? sharedBox(shared) : undefined;
}

/** Every box (extensions' own first, then shared ones), e.g. for the CLI listing and the MWI start-up. */
export function mailboxes(config: HibikiConfig): Mailbox[] {
  return [...config.extensions.map(extensionBox).filter((m): m is Mailbox => m !== undefined), ...config.voicemailBoxes.map(sharedBox)];
}

/** The destination string for depositing into a box, as forwarding, groups and IVRs name it. */
export function depositDestination(box: string): string {
  return `voicemail:${box}`;
}
