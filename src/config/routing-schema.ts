// YAML schema of the routing features (issue #5): hunt groups and departments (F-HUNT, F-DEPT), pickup
// groups (F-PICKUP), forwarding (F-FWD) with schedules and bulk forwarding, service codes
// (F-SERVICE-CODES), screening and outbound restrictions (F-SCREEN). Cross-references between these
// sections and the extensions are checked in schema.ts, where the whole file is seen.
import { z } from 'zod';
import { headerText, int } from './schema-kit.js';
import { recordFieldSchema } from './recording-schema.js';

/** YAML reads 0312345678 as a string only when quoted; accept numbers too and keep the digits. */
const digitString = (pattern: RegExp, message: string) =>
  z
    .union([z.string(), z.number().int().nonnegative()], { error: message })
    .transform((v) => String(v))
    .pipe(z.string().regex(pattern, message));

/**
 * F-FWD destination rule, syntactic part: digits (hyphens ignored), at most 32 digits. The semantic part
 * (not self, no 184/186 prefix, not 1XX, not a park number, local or taken by an outbound route, not
 * restricted, international only when allowed) is in src/rules/number-rules.ts, checked in schema.ts.
 */
const DESTINATION_DIGITS = 'a forwarding destination is digits (hyphens allowed)';
/** F-VM: `voicemail` (the owner's own box) or `voicemail:<box>`; checked against the boxes in schema.ts. */
export const VOICEMAIL_DESTINATION = /^voicemail(:[2-9][0-9]{1,14})?$/;
export const forwardDestinationSchema = z.union([z.string(), z.number().int().nonnegative()], { error: DESTINATION_DIGITS }).transform((raw, ctx) => {
  const v = String(raw);
  if (VOICEMAIL_DESTINATION.test(v)) return v;
  if (!/^[0-9][0-9-]{0,40}$/.test(v)) {
    ctx.addIssue({ code: 'custom', message: `${DESTINATION_DIGITS}, voicemail or voicemail:<box>` });
    return z.NEVER;
  }
  const digits = v.replace(/-/g, '');
  if (digits.length > 32) {
    ctx.addIssue({ code: 'custom', message: 'a forwarding destination has at most 32 digits' });
    return z.NEVER;
  }
  return digits;
});

/** A block-list or restriction-list entry: exact digits, or digits followed by * for a prefix. */
export const numberPatternSchema = digitString(/^\+?[0-9]{1,32}\*?$/, 'a number pattern is digits (optional leading +), with a trailing * for a prefix');

export const outboundClasses = ['internal', 'domestic', 'international'] as const;
export const huntStrategies = ['ringall', 'sequential', 'roundrobin', 'random', 'leastrecent'] as const;
export const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export const scheduleActions = ['none', 'cfu', 'cfb', 'cfna'] as const;

/** Per-extension forwarding set by the admin; runtime changes (service codes, CLI) are kept in SQLite. */
export const extensionForwardingSchema = z
  .object({
    destinations: z
      .array(forwardDestinationSchema)
      .max(5, 'at most 5 stored forwarding destinations')
      .default([])
      .describe('Stored destinations (up to 5, with those named below); a service code without a number uses the one its condition used last.'),
    unconditional: forwardDestinationSchema.optional().describe('CFU: every call goes here (the other conditions are ignored while it is set).'),
    busy: forwardDestinationSchema.optional().describe('CFB: calls while the extension is busy or in do-not-disturb go here.'),
    noAnswer: forwardDestinationSchema.optional().describe('CFNA: calls not answered within noAnswerTimeout go here.'),
    unreachable: forwardDestinationSchema.optional().describe('CFUR: calls while no device is registered, or when the device answers 404/480 or not at all, go here.'),
    noAnswerTimeout: int(20, 1, 180, 'Seconds the extension rings before no-answer forwarding (CFNA) takes the call.'),
  })
  .strict()
  .superRefine((f, ctx) => {
    const all = new Set([...f.destinations, ...[f.unconditional, f.busy, f.noAnswer, f.unreachable].filter((d): d is string => d !== undefined)]);
    if (all.size > 5) ctx.addIssue({ code: 'custom', path: ['destinations'], message: `at most 5 distinct forwarding destinations (found ${all.size})` });
  });

const groupSchema = z
  .object({
    number: digitString(/^[2-9][0-9]{1,14}$/, 'group numbers are 2–15 digits and start with 2–9').describe('Number dialled to reach the group; unique across extensions, groups and park numbers.'),
    name: z.string().min(1).describe('Group name (any UTF-8), e.g. 営業.'),
    strategy: z
      .enum(huntStrategies)
      .default('ringall')
      .describe(
        'ringall: every member at once (a department, F-DEPT); sequential: always from the first member; roundrobin: from the member after the one tried first last time; random; leastrecent: the member whose last group call ended longest ago first.',
      ),
    members: z
      .array(digitString(/^[2-9][0-9]{1,14}$/, 'a member is an extension number'))
      .min(1, 'a group needs at least one member')
      .max(64, 'at most 64 members per group')
      .describe('Extensions in hunt order.'),
    memberRingTime: int(20, 5, 360, 'Seconds each member rings before the next one is tried (not used by ringall).'),
    timeout: int(60, 5, 3600, 'Seconds the group is tried in total before noAnswerDestination.'),
    noAnswerDestination: forwardDestinationSchema
      .optional()
      .describe(
        'Where the call goes when no member answers within timeout: an extension, another group, an IVR, or an outside number an outbound route takes (not an emergency/1XX number, a park number, a restricted number or one with the 184/186 prefix). Unset: 480 (or 486 when every member was busy).',
      ),
    displayPrefix: headerText().pipe(z.string().max(20)).optional().describe("Text put in front of the caller's display name on the members' phones, e.g. [営業]."),
    record: recordFieldSchema,
  })
  .strict();

const pickupGroupSchema = z
  .object({
    number: digitString(/^[0-9]{1,4}$/, 'a pickup group number is 1–4 digits').describe('Group number used after the pickup code (*8 + number).'),
    name: z.string().min(1).optional().describe('Name for administrators.'),
    members: z
      .array(digitString(/^[2-9][0-9]{1,14}$/, 'a member is an extension number'))
      .min(1, 'a pickup group needs at least one member')
      .max(64, 'at most 64 members per pickup group')
      .describe("Extensions whose ringing calls the group's members may answer; an extension may be in several groups."),
  })
  .strict();

const timeOfDay = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$/, 'a time is HH:MM (00:00–24:00)');

const scheduleRowSchema = z
  .object({
    days: z.array(z.enum(weekdays)).min(1).optional().describe('Weekdays this row applies to.'),
    date: z
      .string()
      .regex(/^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/, 'a date is MM-DD')
      .optional()
      .describe('A calendar date (every year) this row applies to.'),
    holiday: z.literal(true).optional().describe("The row applies on the tenant's holidays (tenant.holidays)."),
    from: timeOfDay.default('00:00').describe('Start time (inclusive), tenant time zone.'),
    to: timeOfDay.default('24:00').describe('End time (exclusive), tenant time zone.'),
    action: z.enum(scheduleActions).describe('none: no forwarding while the row matches; cfu/cfb/cfna: that forwarding to destination.'),
    destination: forwardDestinationSchema.optional().describe('Forwarding destination (required unless action is none).'),
  })
  .strict()
  .superRefine((r, ctx) => {
    const kinds = [r.days !== undefined, r.date !== undefined, r.holiday !== undefined].filter(Boolean).length;
    if (kinds !== 1) ctx.addIssue({ code: 'custom', path: [], message: 'a schedule row has exactly one of days, date or holiday' });
    if (r.action !== 'none' && r.destination === undefined) ctx.addIssue({ code: 'custom', path: ['destination'], message: `action ${r.action} needs a destination` });
    if (r.from >= r.to) ctx.addIssue({ code: 'custom', path: ['to'], message: `to (${r.to}) must be after from (${r.from})` });
  });

const scheduleSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'letters, digits, _ . - (max 40)')
      .describe('Name used by extensions (forwardingSchedule).'),
    rows: z.array(scheduleRowSchema).min(1).max(100).describe("Checked top-down; the first matching row wins; no match: the extension's normal forwarding."),
  })
  .strict();

const bulkMemberSchema = z
  .object({
    extension: digitString(/^[2-9][0-9]{1,14}$/, 'an extension number')
      .optional()
      .describe('Extension that forwards while the set is on.'),
    did: digitString(/^\+?[0-9]{1,20}$/, 'a DID is digits (optional +)')
      .optional()
      .describe('Inbound DID that forwards while the set is on.'),
    destination: forwardDestinationSchema.optional().describe('Its bulk destination; a member without one is left unchanged.'),
  })
  .strict()
  .superRefine((m, ctx) => {
    if ((m.extension === undefined) === (m.did === undefined)) ctx.addIssue({ code: 'custom', path: [], message: 'a bulk-forwarding member is exactly one of extension or did' });
  });

const bulkSetSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'letters, digits, _ . - (max 40)')
      .describe('Name used to switch the set on and off (hibiki bulk on NAME).'),
    members: z.array(bulkMemberSchema).min(1).max(1000, 'at most 1000 members per bulk-forwarding set'),
  })
  .strict();

export const forwardingSettingsSchema = z
  .object({
    maxForwardHops: int(5, 1, 20, "Forwarding hops a call follows (each destination's own forwarding) before it stops at the last reachable hop."),
    unreachableTimeout: int(2, 1, 30, 'Seconds without any response from a device before the call counts as unreachable (CFUR).'),
    presentCalledNumber: z.boolean().default(false).describe('An external call forwarded back out presents the DID it called instead of the original caller (F-CLIR).'),
  })
  .strict()
  .describe('Call forwarding (F-FWD).');

export const screeningSchema = z
  .object({
    blockList: z.array(numberPatternSchema).default([]).describe('Caller numbers refused for every extension and DID (403 / Q.850 21); a trailing * matches a prefix.'),
  })
  .strict()
  .describe('Incoming screening for the whole tenant (F-SCREEN).');

export const restrictionsSchema = z
  .object({
    list: z.array(numberPatternSchema).default([]).describe('Numbers nobody may call or forward to (403 / Q.850 21 with a prompt); a trailing * matches a prefix.'),
    internationalPrefixes: z
      .array(z.string().regex(/^\+?[0-9]{0,6}$/))
      .default(['010', '+'])
      .describe('Dialled prefixes that make a number international (Japan: 010; E.164 +).'),
    emergencyNumbers: z
      .array(z.string().regex(/^[0-9]{2,6}$/))
      .default(['110', '118', '119'])
      .describe('Emergency numbers: never a forwarding destination.'),
  })
  .strict()
  .describe('Outbound restrictions (F-SCREEN).');

const code = (def: string, text: string) =>
  z
    .string()
    .regex(/^[0-9*#]{1,6}$/, 'a service code is 1–6 characters of 0-9 * #')
    .default(def)
    .describe(text);

export const serviceCodesSchema = z
  .object({
    forwardUnconditionalOn: code('1421', 'Unconditional forwarding on [+ number] (F-SERVICE-CODES).'),
    forwardUnconditionalOff: code('1422', 'Unconditional forwarding off.'),
    forwardBusyOn: code('1423', 'Busy forwarding on [+ number].'),
    forwardBusyOff: code('1424', 'Busy forwarding off.'),
    forwardNoAnswerOn: code('1425', 'No-answer forwarding on [+ number].'),
    forwardNoAnswerOff: code('1426', 'No-answer forwarding off.'),
    forwardUnreachableOn: code('1427', 'Unreachable forwarding on [+ number].'),
    forwardUnreachableOff: code('1428', 'Unreachable forwarding off.'),
    dndOn: code('1429', 'Do-not-disturb on.'),
    dndOff: code('1430', 'Do-not-disturb off.'),
    withhold: code('184', '+ number: withhold caller ID for this call (F-CLIR).'),
    present: code('186', '+ number: present caller ID for this call (F-CLIR).'),
    pickup: code('*8', 'Pick up a call ringing in my pickup groups; + group number: in that group (F-PICKUP).'),
    directedPickup: code('**', "+ extension: pick up that extension's ringing call."),
    agentPause: code('*51', 'Pause me as an agent in every queue; + a queue number: in that queue (F-AGENT).'),
    agentResume: code('*52', 'Resume (available) in every queue; + a queue number: in that queue; also ends after-call work and an auto-pause.'),
    spyMonitor: code('995', "+ extension: listen to that extension's call, unheard (F-SPY; keys 4/5/6 switch mode)."),
    spyWhisper: code('994', '+ extension: speak to that extension only (whisper, coaching).'),
    spyBarge: code('996', "+ extension: join that extension's call, heard by both parties."),
    hotDeskLogin: code('998', '+ extension, then its PIN: this phone rings for that extension and presents it (F-HOTDESK).'),
    hotDeskLogout: code('997', 'Give back the extension this phone took with the hot-desk login.'),
  })
  .strict()
  .superRefine((codes, ctx) => {
    // A code that is a prefix of another could never be dialled (or would swallow the other's digits).
    const entries = Object.entries(codes);
    for (const [k1, c1] of entries) {
      for (const [k2, c2] of entries) {
        if (k1 === k2) continue;
        if (c1 === c2 && k1 < k2) ctx.addIssue({ code: 'custom', path: [k2], message: `service code ${c2} is also ${k1}` });
        else if (c1 !== c2 && c2.startsWith(c1)) ctx.addIssue({ code: 'custom', path: [k2], message: `service code ${c2} (${k2}) starts with ${c1} (${k1})` });
      }
    }
  })
  .describe('Codes dialled from an idle phone (F-SERVICE-CODES); prefix-free against each other and against extension, group and park numbers.');

export { groupSchema, pickupGroupSchema, scheduleSchema, bulkSetSchema };
