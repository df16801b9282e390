// YAML schema of IVRs (F-IVR, issue #10): `ivrs:` entries with a greeting, a key map, retries and
// time-of-day/holiday schedule rows, and the destination strings shared by the whole issue. The checks
// that need the whole file (number clashes, unknown destinations, IVR-to-IVR loops) are in checkIvrs,
// called once from schema.ts.
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { forwardDestinationVerdict, type DestinationContext, type RestrictionRules } from '../rules/number-rules.js';
import { weekdays } from './routing-schema.js';
import type { IssueSink } from './schema-kit.js';

/** The keys of a phone keypad an IVR menu can map (A–D are not on ordinary phones). */
export const IVR_KEYS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#'] as const;
export type IvrKey = (typeof IVR_KEYS)[number];

/**
 * A destination string, one syntax for IVR keys, defaults and schedule rows (and for the other features
 * of issue #10):
 * - a number the dial plan reaches: extension, group, another IVR, an outside number through the routes;
 * - `voicemail:<box>`: deposit into voicemail box <box>;
 * - `prompt:<name>`: play a prompt (a name from the prompt set, or a WAV file path), then hang up;
 * - `repeat`: this IVR's menu again; `parent`: the menu of the IVR that sent the caller here;
 * - `hangup`.
 */
export type IvrDestination =
  { kind: 'number'; number: string } | { kind: 'voicemail'; box: string } | { kind: 'prompt'; prompt: string } | { kind: 'repeat' } | { kind: 'parent' } | { kind: 'hangup' };

const NUMBER = /^\+?[0-9]{1,32}$/;
const BOX = /^[0-9]{1,15}$/;
/** A prompt name in the prompt folders (ivr-welcome, my-greeting). */
const PROMPT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const WAV_PATH = /\.wav$/i;

/** The destination a string names, or undefined when it is none of the forms above. */
export function parseIvrDestination(text: string): IvrDestination | undefined {
  if (text === 'repeat' || text === 'parent' || text === 'hangup') return { kind: text };
  if (text.startsWith('voicemail:')) {
    const box = text.slice('voicemail:'.length);
    return BOX.test(box) ? { kind: 'voicemail', box } : undefined;
  }
  if (text.startsWith('prompt:')) {
    const prompt = text.slice('prompt:'.length);
    return isPromptRef(prompt) ? { kind: 'prompt', prompt } : undefined;
  }
  // Hyphens are visual separators in numbers, as in forwarding destinations.
  const number = text.replace(/-/g, '');
  return NUMBER.test(number) ? { kind: 'number', number } : undefined;
}

/** A prompt reference: a prompt name, or a WAV file (an absolute path, or relative to the working directory). */
export function isPromptRef(text: string): boolean {
  return WAV_PATH.test(text) ? text.length > 4 : PROMPT_NAME.test(text);
}

/** YAML reads 2001 as a number; destinations are text. */
export const destinationSchema = z
  .union([z.string(), z.number().int().nonnegative()], { error: 'a destination is a number or voicemail:<box>, prompt:<name>, repeat, parent or hangup' })
  .transform((v) => String(v))
  .refine((v) => parseIvrDestination(v) !== undefined, 'a destination is a number, voicemail:<box>, prompt:<name or file.wav>, repeat, parent or hangup');

const promptRefSchema = z
  .string()
  .refine(isPromptRef, 'a prompt is a name from the prompt set (letters, digits, _ . -) or a .wav file path')
  // A file named here must exist now, not fail on the first call (relative paths: the working directory).
  .refine((p) => !WAV_PATH.test(p) || existsSync(p), { error: (issue) => `prompt file ${String(issue.input)} not found` });

/** A prompt for every caller, or one per language. */
export const promptSchema = z.union([
  promptRefSchema,
  z
    .object({ ja: promptRefSchema.optional(), en: promptRefSchema.optional() })
    .strict()
    .refine((p) => p.ja !== undefined || p.en !== undefined, 'give the prompt for ja, en or both'),
]);

const timeOfDay = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$/, 'a time is HH:MM (00:00–24:00)');
const isoDate = z.string().regex(/^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/, 'a date is YYYY-MM-DD');

export const ivrScheduleRowSchema = z
  .object({
    days: z.array(z.enum(weekdays)).min(1).optional().describe('Weekdays the row applies to; unset: every day.'),
    from: timeOfDay.default('00:00').describe('Start time (inclusive), tenant time zone.'),
    to: timeOfDay.default('24:00').describe('End time (exclusive), tenant time zone.'),
    dates: z.array(isoDate).min(1).optional().describe('Dates (YYYY-MM-DD) the row applies to; unset: any date.'),
    holidayOnly: z
      .boolean()
      .default(false)
      .describe('★: the row applies only on holidays (tenant.holidays and, when tenant.japaneseHolidays is on, Japanese public holidays) and on its own dates. On a holiday only ★ rows apply.'),
    destination: destinationSchema.describe('Where the call goes while the row applies (repeat: this IVR\u2019s menu).'),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.from >= r.to) ctx.addIssue({ code: 'custom', path: ['to'], message: `to (${r.to}) must be after from (${r.from})` });
  });

export const ivrSchema = z
  .object({
    number: z
      .union([z.string(), z.number().int().nonnegative()], { error: 'must be a string of digits' })
      .transform((v) => String(v))
      .pipe(z.string().regex(/^[2-9][0-9]{1,14}$/, 'IVR numbers are 2–15 digits and start with 2–9'))
      .describe('Number dialled to reach the IVR (and named by DIDs, groups and other IVRs); unique across extensions, groups, IVRs and park numbers.'),
    name: z.string().min(1).describe('IVR name (any UTF-8), for logs and administrators.'),
    greeting: promptSchema.describe('The menu prompt ("for sales press 1…"): a prompt name or a WAV file path, or {ja: …, en: …} per language.'),
    language: z.enum(['ja', 'en']).default('ja').describe('Language of the prompts callers hear (a per-language greeting picks this one first).'),
    keys: z
      .record(z.string(), destinationSchema)
      .default({})
      .describe(
        "Key → destination: keys 0–9, '*' and '#' (quote * and # in YAML). A destination is a number the dial plan reaches (extension, group, another IVR, an outside number through the routes), voicemail:<box>, prompt:<name or file.wav> (play, then hang up), repeat (this menu again), parent (the menu that sent the caller here) or hangup.",
      ),
    digitTimeout: z.number().int().min(1).max(60).default(5).describe('Seconds of silence after the greeting before it counts as no input.'),
    maxRetries: z.number().int().min(0).max(10).default(3).describe('Times the menu is played again after no input or an invalid key before defaultDestination.'),
    invalidPrompt: promptSchema.default('ivr-invalid').describe('Played after an invalid key.'),
    noInputPrompt: promptSchema.default('ivr-no-input').describe('Played after no input.'),
    defaultDestination: destinationSchema.optional().describe('Where the call goes after maxRetries (標準ルーティング). Unset: the goodbye prompt (ivr-goodbye), then hang-up.'),
    allowExtensionDial: z.boolean().default(false).describe('Callers may dial an extension number from the menu (as in Asterisk and 3CX).'),
    interDigitTimeout: z
      .number()
      .int()
      .min(1)
      .max(30)
      .default(3)
      .describe('With allowExtensionDial: seconds to wait for a further digit when the digits so far could still become an extension number.'),
    schedule: z.array(ivrScheduleRowSchema).max(100).default([]).describe('Rows checked top-down on arrival; the first that applies routes the call; none: the menu.'),
  })
  .strict();

export const ivrListSchema = z.array(ivrSchema).max(1000).default([]).describe('IVRs (自動音声応答, F-IVR): a greeting menu with keys, retries and schedules.');

export type IvrConfig = z.infer<typeof ivrSchema>;
export type IvrScheduleRow = IvrConfig['schedule'][number];

/** What checkIvrs needs of the rest of the file (schema.ts has worked it out already). */
export interface IvrCheckContext {
  ivrs: readonly IvrConfig[];
  extensions: ReadonlyArray<{ number: string }>;
  groupNumbers: ReadonlySet<string>;
  /** The park lot and slots. */
  lotNumbers: readonly string[];
  /** Shared voicemail boxes' numbers, and the voicemail pilot (F-VM). */
  boxNumbers: ReadonlySet<string>;
  voicemailPilot: string;
  serviceCodes: Record<string, string>;
  routes: DestinationContext['routes'];
  restrictions: RestrictionRules;
  /** The dial-plan view of forwarding destinations, with IVR numbers counted as local. */
  destinations: DestinationContext;
}

/** Cross-checks of `ivrs:` against the rest of the file: number clashes, destinations, keys, loops. */
export function checkIvrs(c: IvrCheckContext, ctx: IssueSink): void {
  const exts = new Set(c.extensions.map((e) => e.number));
  const ivrIndex = new Map<string, number>();
  c.ivrs.forEach((ivr, i) => {
    const path = ['ivrs', i, 'number'];
    const first = ivrIndex.get(ivr.number);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path, params: { conflictWith: ['ivrs', first, 'number'] }, message: `IVR number ${ivr.number} is defined twice` });
    else ivrIndex.set(ivr.number, i);
    if (exts.has(ivr.number)) ctx.addIssue({ code: 'custom', path, message: `IVR ${ivr.number} clashes with extension ${ivr.number}` });
    if (c.groupNumbers.has(ivr.number)) ctx.addIssue({ code: 'custom', path, message: `IVR ${ivr.number} clashes with group ${ivr.number}` });
    if (c.lotNumbers.includes(ivr.number)) ctx.addIssue({ code: 'custom', path, message: `IVR ${ivr.number} clashes with the park lot or a park slot` });
    if (c.boxNumbers.has(ivr.number)) ctx.addIssue({ code: 'custom', path, message: `IVR ${ivr.number} clashes with voicemail box ${ivr.number}` });
    if (ivr.number.startsWith(c.voicemailPilot) || c.voicemailPilot.startsWith(ivr.number))
      ctx.addIssue({ code: 'custom', path, message: `IVR ${ivr.number} overlaps the voicemail pilot ${c.voicemailPilot}` });
    for (const [key, code] of Object.entries(c.serviceCodes)) {
      if (ivr.number.startsWith(code) || code.startsWith(ivr.number)) ctx.addIssue({ code: 'custom', path, message: `IVR ${ivr.number} overlaps service code ${code} (serviceCodes.${key})` });
    }
    c.routes.forEach((r) => {
      if (ivr.number.startsWith(r.prefix) && ivr.number.length >= r.minLength && ivr.number.length <= r.maxLength) {
        ctx.addIssue({ code: 'custom', path, message: `IVR ${ivr.number} would be taken by the route prefix ${r.prefix}` });
      }
    });
  });

  const check = (ivr: IvrConfig, text: string, path: (string | number)[], where: 'key' | 'default' | 'schedule') => {
    const d = parseIvrDestination(text);
    if (!d) return;
    if (d.kind === 'voicemail' && c.destinations.isMailbox?.(d.box) !== true) ctx.addIssue({ code: 'custom', path, message: `IVR ${ivr.number}: unknown voicemail box ${d.box}` });
    if (d.kind === 'prompt' && WAV_PATH.test(d.prompt) && !existsSync(d.prompt)) ctx.addIssue({ code: 'custom', path, message: `IVR ${ivr.number}: prompt file ${d.prompt} not found` });
    if (d.kind === 'repeat' && where === 'default') ctx.addIssue({ code: 'custom', path, message: `IVR ${ivr.number}: defaultDestination repeat would play the menu forever` });
    if (d.kind === 'number') {
      if (d.number === ivr.number && where !== 'key') {
        ctx.addIssue({ code: 'custom', path, message: `IVR ${ivr.number} sends its calls back to itself without a caller's choice (use repeat in a key)` });
        return;
      }
      if (d.number === ivr.number || ivrIndex.has(d.number)) return;
      // The admin chose the number: only the tenant's rules apply (as for a group's no-answer destination).
      const v = forwardDestinationVerdict(d.number, { number: ivr.number, outboundClass: 'international' }, c.restrictions, c.destinations);
      if (!v.ok) ctx.addIssue({ code: 'custom', path, message: `IVR ${ivr.number}: unknown destination ${d.number} (${v.reason})` });
    }
  };
  c.ivrs.forEach((ivr, i) => {
    for (const [key, dest] of Object.entries(ivr.keys)) {
      if (!(IVR_KEYS as readonly string[]).includes(key)) {
        ctx.addIssue({ code: 'custom', path: ['ivrs', i, 'keys', key], message: `IVR ${ivr.number}: key "${key}" is not one of 0–9, * and #` });
        continue;
      }
      check(ivr, dest, ['ivrs', i, 'keys', key], 'key');
    }
    if (ivr.defaultDestination !== undefined) check(ivr, ivr.defaultDestination, ['ivrs', i, 'defaultDestination'], 'default');
    ivr.schedule.forEach((row, j) => check(ivr, row.destination, ['ivrs', i, 'schedule', j, 'destination'], 'schedule'));
  });
  reportLoops(c.ivrs, ivrIndex, ctx);
}

interface Edge {
  to: string;
  path: (string | number)[];
  label: string;
}

/**
 * IVR-to-IVR loops that no caller's choice breaks: a defaultDestination or a schedule row leads to
 * another IVR whose default or schedule leads back. Keys are a caller's choice (a key back to the main
 * menu is normal), and `parent`/`repeat` only replay a menu, so neither makes a loop.
 */
function reportLoops(ivrs: readonly IvrConfig[], index: ReadonlyMap<string, number>, ctx: IssueSink): void {
  const edges = new Map<string, Edge[]>();
  ivrs.forEach((ivr, i) => {
    const out: Edge[] = [];
    const add = (text: string | undefined, path: (string | number)[], label: string) => {
      const d = text === undefined ? undefined : parseIvrDestination(text);
      if (d?.kind === 'number' && index.has(d.number) && d.number !== ivr.number) out.push({ to: d.number, path, label });
    };
    add(ivr.defaultDestination, ['ivrs', i, 'defaultDestination'], 'defaultDestination');
    ivr.schedule.forEach((row, j) => add(row.destination, ['ivrs', i, 'schedule', j, 'destination'], `schedule[${j}]`));
    if (!edges.has(ivr.number)) edges.set(ivr.number, out);
  });
  const reported = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: Array<{ ivr: string; edge?: Edge }> = [];
  const visit = (ivr: string) => {
    state.set(ivr, 'open');
    for (const e of edges.get(ivr) ?? []) {
      if (state.get(e.to) === 'open') {
        // The cycle is the part of the stack from e.to, closed by e.
        const start = stack.findIndex((s) => s.ivr === e.to);
        const cycle = [...stack.slice(start + 1).map((s) => s.edge!), e];
        const members = [e.to, ...cycle.map((x) => x.to)];
        const key = [...new Set(members)].sort().join(',');
        if (reported.has(key)) continue;
        reported.add(key);
        const route = [e.to, ...cycle.map((x) => `${x.to} (${x.label})`)].join(' → ');
        ctx.addIssue({
          code: 'custom',
          path: cycle[0]!.path,
          params: { conflictWith: e.path },
          message: `IVR loop without a caller's choice: ${route}`,
        });
      } else if (state.get(e.to) === undefined) {
        stack.push({ ivr: e.to, edge: e });
        visit(e.to);
        stack.pop();
      }
    }
    state.set(ivr, 'done');
  };
  for (const ivr of edges.keys()) {
    if (state.get(ivr) !== undefined) continue;
    stack.push({ ivr });
    visit(ivr);
    stack.pop();
  }
}
