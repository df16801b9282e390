// YAML schema of voicemail (F-VM): the tenant-wide `voicemail:` settings, the per-extension fields (its own
// box, PIN, e-mail), and shared boxes (`voicemailBoxes:`) with a number of their own. Cross-checks against
// the rest of the file (numbers unique, notify lists name extensions, forwarding to a box that exists) are
// in checkVoicemail(), called from schema.ts where the whole file is seen.
import { z } from 'zod';
import { int } from './schema-kit.js';
import { pinProblem } from '../rules/pin.js';

/** YAML reads 1234 as a number and 0123 as a string only when quoted: accept both, keep the digits. */
export const pinSchema = z
  .union([z.string(), z.number().int().nonnegative()], { error: 'a PIN is 4–8 digits (quote it in YAML when it starts with 0)' })
  .transform((v) => String(v))
  .superRefine((pin, ctx) => {
    const problem = pinProblem(pin);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const emailSchema = z.email('must be an e-mail address');

export const voicemailSettingsSchema = z
  .object({
    pilot: z
      .string()
      .regex(/^[0-9*#]{1,6}$/, 'the pilot is 1–6 characters of 0-9 * #')
      .default('1410')
      .describe("Number dialled from a phone to listen to voicemail (F-SERVICE-CODES): from the box owner's phone it asks for the PIN; from any other phone for the box number + # first."),
    maxMessages: int(20, 1, 10_000, 'Messages a box holds; a caller to a full box hears that no message can be taken, and nothing is recorded.'),
    maxMessageSeconds: int(180, 5, 3600, 'Longest message (s); the recording stops there.'),
    maxSilenceSeconds: int(10, 0, 600, 'Silence (s) that ends a recording; the silence is not kept. 0 = never.'),
    minMessageSeconds: int(1, 0, 60, 'Messages shorter than this (s) are discarded (a caller who hangs up at the beep).'),
    maxGreetingSeconds: int(60, 5, 600, 'Longest box greeting a box owner can record (s).'),
    pinAttempts: int(3, 1, 10, 'Wrong PINs after which the retrieval call ends, logged as a security event.'),
    digitTimeout: int(5, 1, 60, 'Seconds the retrieval menu waits for a key (or the next digit of a PIN or box number) before it repeats or gives up.'),
  })
  .strict()
  .describe('Voicemail (F-VM): deposit and retrieval settings for every box.');

/** Fields every extension gets for its own box (spread into the extension schema). */
export const voicemailExtensionFields = {
  voicemail: z.boolean().default(true).describe('The extension has a voicemail box (its own number); false: no box, and voicemail destinations naming it are refused.'),
  pin: pinSchema
    .optional()
    .describe('PIN for voicemail (and hot desk): 4–8 digits, no 4+ sequential or 4+ identical digits in a row. Without one, the box can be listened to only from its own phone (no PIN asked).'),
  email: emailSchema.optional().describe('Where voicemail notifications are e-mailed.'),
  voicemailAttach: z.boolean().default(true).describe('Attach the message WAV to the notification e-mail.'),
};

export const voicemailBoxSchema = z
  .object({
    number: z
      .union([z.string(), z.number().int().nonnegative()])
      .transform((v) => String(v))
      .pipe(z.string().regex(/^[2-9][0-9]{1,14}$/, 'a box number is 2–15 digits and starts with 2–9'))
      .describe('Number dialled to leave a message in the box; unique across extensions, groups, park numbers and codes.'),
    name: z.string().min(1).describe('Box name (any UTF-8), e.g. 営業部.'),
    pin: pinSchema.optional().describe('PIN to listen to the box (4–8 digits). Without one the box cannot be listened to by phone.'),
    email: emailSchema.optional().describe('Where notifications of new messages are e-mailed.'),
    voicemailAttach: z.boolean().default(true).describe('Attach the message WAV to the notification e-mail.'),
    notify: z
      .array(
        z
          .union([z.string(), z.number().int().nonnegative()])
          .transform((v) => String(v))
          .pipe(z.string().regex(/^[2-9][0-9]{1,14}$/, 'an extension number')),
      )
      .max(64)
      .default([])
      .describe('Extensions whose phones show the message-waiting lamp for this box.'),
    language: z.enum(['ja', 'en']).default('ja').describe('Language of the greeting and prompts callers hear.'),
  })
  .strict();

export const voicemailBoxesSchema = z.array(voicemailBoxSchema).max(4096).default([]).describe('Shared voicemail boxes with a number of their own (a department box).');

type Ctx = z.RefinementCtx;

/** What checkVoicemail needs to know of the rest of the file. */
export interface VoicemailCheckInput {
  voicemail: { pilot: string };
  extensions: ReadonlyArray<{ number: string; voicemail: boolean; pin?: string | undefined }>;
  voicemailBoxes: ReadonlyArray<{ number: string; notify: readonly string[] }>;
  /** Numbers other entries already use (extensions, groups, park lot and slots) and the service codes. */
  groupNumbers: Iterable<string>;
  lotNumbers: readonly string[];
  serviceCodes: Record<string, string>;
}

/** Cross-checks of voicemail against the whole file; each issue names the entry at fault. */
export function checkVoicemail(c: VoicemailCheckInput, ctx: Ctx): void {
  const exts = new Set(c.extensions.map((e) => e.number));
  const groups = new Set(c.groupNumbers);
  const pilot = c.voicemail.pilot;
  const seen = new Map<string, number>();
  c.voicemailBoxes.forEach((b, i) => {
    const path = ['voicemailBoxes', i, 'number'];
    if (exts.has(b.number)) ctx.addIssue({ code: 'custom', path, message: `voicemail box ${b.number} clashes with extension ${b.number}` });
    if (groups.has(b.number)) ctx.addIssue({ code: 'custom', path, message: `voicemail box ${b.number} clashes with group ${b.number}` });
    if (c.lotNumbers.includes(b.number)) ctx.addIssue({ code: 'custom', path, message: `voicemail box ${b.number} clashes with the park lot or a park slot` });
    if (b.number.startsWith(pilot) || pilot.startsWith(b.number)) ctx.addIssue({ code: 'custom', path, message: `voicemail box ${b.number} overlaps the voicemail pilot ${pilot}` });
    const first = seen.get(b.number);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path, params: { conflictWith: ['voicemailBoxes', first, 'number'] }, message: `voicemail box ${b.number} is defined twice` });
    else seen.set(b.number, i);
    for (const [key, code] of Object.entries(c.serviceCodes)) {
      if (b.number.startsWith(code) || code.startsWith(b.number)) ctx.addIssue({ code: 'custom', path, message: `voicemail box ${b.number} overlaps service code ${code} (${key})` });
    }
    b.notify.forEach((n, j) => {
      if (!exts.has(n)) ctx.addIssue({ code: 'custom', path: ['voicemailBoxes', i, 'notify', j], message: `voicemail box ${b.number} notifies ${n}, which is not an extension` });
    });
  });
  // F-DIALPLAN: the pilot is dialled like a service code, so it is prefix-free against them and local numbers.
  for (const [key, code] of Object.entries(c.serviceCodes)) {
    if (code.startsWith(pilot) || pilot.startsWith(code)) ctx.addIssue({ code: 'custom', path: ['voicemail', 'pilot'], message: `voicemail pilot ${pilot} overlaps service code ${code} (${key})` });
  }
  for (const n of [...exts, ...groups, ...c.lotNumbers]) {
    if (n.startsWith(pilot) || pilot.startsWith(n)) {
      ctx.addIssue({ code: 'custom', path: ['voicemail', 'pilot'], message: `voicemail pilot ${pilot} overlaps number ${n}` });
      break;
    }
  }
}

/**
 * Whether a forwarding destination names voicemail (`voicemail` = the owner's own box, `voicemail:<box>`),
 * and which box; undefined for a number.
 */
export function voicemailTarget(destination: string, owner: string | undefined): { box: string | undefined } | undefined {
  if (destination === 'voicemail') return { box: owner };
  const m = /^voicemail:([0-9]{2,15})$/.exec(destination);
  return m ? { box: m[1] } : undefined;
}
