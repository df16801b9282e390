// The YAML configuration schema. It is the single source of truth for keys, defaults and limits
// (DESIGN.md "Configuration contract"): every object is strict so a typo is an error, and every
// timer/limit carries a default and a describe() text from which docs/configuration.md is generated.
import { isIP } from 'node:net';
import { z } from 'zod';
import { httpSchema } from './http-schema.js';
import { forwardDestinationVerdict, isParkNumber, type DestinationContext } from '../rules/number-rules.js';
import {
  bulkSetSchema,
  extensionForwardingSchema,
  forwardingSettingsSchema,
  groupSchema,
  numberPatternSchema,
  outboundClasses,
  pickupGroupSchema,
  restrictionsSchema,
  scheduleSchema,
  screeningSchema,
  serviceCodesSchema,
} from './routing-schema.js';
import { mwiSchema, smtpSchema } from './mail-schema.js';
import { checkIvrs, ivrListSchema } from './ivr-schema.js';
import { checkQueues, queueListSchema } from './queue-schema.js';
import { checkConferenceRooms, conferenceSchema } from './conference-schema.js';
import { spySchema } from './spy-schema.js';
import { recordFieldSchema, recordingSchema } from './recording-schema.js';
import { headerText, int, isRecord, type ConflictParams } from './schema-kit.js';
import { cdrSchema, callsSchema, codesSchema, dtmfSchema, mediaSchema, parkSchema, promptsSchema } from './call-schema.js';
import { authSchema, dataSchema, hostnamePattern, listenListSchema, logSchema, registrarSchema, reloadSchema, securitySchema, sipSchema } from './server-schema.js';
import { checkVoicemail, voicemailBoxesSchema, voicemailExtensionFields, voicemailSettingsSchema } from './voicemail-schema.js';
import { hotDeskExtensionFields, hotDeskSettingsSchema } from './hotdesk-schema.js';

export type { ConflictParams } from './schema-kit.js';
export { digestAlgorithms } from './server-schema.js';

/** F-USER: 2–15 digits, first digit 2–9 (0… and 1… are outside lines and service codes). */
export const extensionNumberPattern = /^[2-9][0-9]{1,14}$/;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const tenantSchema = z
  .object({
    domain: z.string().regex(hostnamePattern, 'must be a domain name such as pbx.example.com').describe('SIP domain of the tenant; the host part of every extension AOR (sip:2001@domain).'),
    timezone: z.string().refine(isTimeZone, 'unknown IANA time zone').default('Asia/Tokyo').describe('IANA time zone in which schedules and holidays are evaluated.'),
    holidays: z
      .array(z.string().regex(/^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/, 'a holiday is YYYY-MM-DD'))
      .default([])
      .describe('Dates (YYYY-MM-DD) on which schedule rows marked holiday (forwarding) or holidayOnly (IVR) apply.'),
    japaneseHolidays: z
      .boolean()
      .default(true)
      .describe(
        'Japanese public holidays (the @holiday-jp/holiday_jp calendar) count as holidays, besides the holidays listed: in IVR schedules (holidayOnly rows) and forwarding schedules (holiday rows) alike.',
      ),
  })
  .strict()
  .describe('The tenant this server serves.');

const extensionNumberSchema = z
  .union([z.string(), z.number().int().nonnegative()], { error: 'must be a string of digits' })
  .transform((v) => String(v))
  .pipe(z.string().regex(extensionNumberPattern, 'extension numbers are 2–15 digits and start with 2–9'));

const trunkSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'letters, digits, _ . - (max 40)')
      .describe('Name used by routes and in CDRs.'),
    host: z.string().min(1).describe('Carrier or PBX address (IP or host name).'),
    port: z.number().int().min(1).max(65535).default(5060).describe('Carrier port.'),
    transport: z.enum(['udp', 'tcp', 'tls']).default('udp').describe('Transport toward the carrier.'),
    register: z.boolean().default(false).describe('Register to the carrier with username/password (otherwise IP authentication).'),
    username: z.string().min(1).optional().describe('Account user (From user and REGISTER AOR).'),
    authUsername: z.string().min(1).optional().describe('Digest user name if it differs from username.'),
    password: z.string().min(1).optional().describe('Digest password toward the carrier.'),
    domain: z.string().min(1).optional().describe('Domain of the account AOR; default: host.'),
    expires: int(600, 60, 86_400, 'Registration interval requested from the carrier (s).'),
    channels: int(0, 0, 100_000, 'Concurrent calls allowed over this trunk; over the limit calls get 503 / Q.850 34. 0 = unlimited.'),
    inboundAddresses: z
      .array(z.string().refine((h) => isIP(h) !== 0, 'must be an IP address'))
      .default([])
      .describe("Source addresses whose requests are accepted as coming from this trunk (IP authentication). The host's address is always included when it is an IP."),
    callerId: z
      .string()
      .regex(/^\+?[0-9]{1,20}$/, 'digits, optional leading +')
      .optional()
      .describe('Number presented on calls out of this trunk when neither route nor extension sets one.'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.register && (t.username === undefined || t.password === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['register'], message: 'a registering trunk needs username and password' });
    }
  });

const inboundSchema = z
  .object({
    did: z
      .union([z.string(), z.number().int().nonnegative()])
      .transform((v) => String(v))
      .pipe(z.string().regex(/^(\+?[0-9]{1,20}|\*)$/, 'a DID is digits (optional +) or * for any'))
      .describe('Dialled number as it arrives from the trunk (Request-URI user), or * for any.'),
    trunk: z.string().optional().describe('Only for calls from this trunk (any trunk when unset).'),
    destination: extensionNumberSchema.describe(
      'Extension, group, IVR or shared voicemail box that the DID reaches (an IVR with schedule rows routes by time: open hours → a group, closed → its menu).',
    ),
    blockList: z.array(numberPatternSchema).default([]).describe('Caller numbers refused on this DID (403 / Q.850 21); a trailing * matches a prefix.'),
    rejectAnonymous: z.boolean().default(false).describe('Anonymous callers to this DID hear an announcement and get 433 / Q.850 21.'),
  })
  .strict();

const routeSchema = z
  .object({
    name: z.string().min(1).max(60).describe('Name for logs.'),
    prefix: z
      .string()
      .regex(/^[0-9*#+]{1,20}$/, 'digits, * # +')
      .describe('Dialled numbers starting with this prefix use this route (longest prefix wins).'),
    minLength: int(1, 1, 32, 'Shortest dialled number (with prefix) this route accepts.'),
    maxLength: int(32, 1, 32, 'Longest dialled number (with prefix) this route accepts.'),
    trunk: z.string().min(1).describe('Trunk name.'),
    strip: int(0, 0, 20, 'Leading digits removed before sending.'),
    prepend: z
      .string()
      .regex(/^[0-9*#+]{0,20}$/)
      .default('')
      .describe('Digits added in front after stripping.'),
    callerId: z
      .string()
      .regex(/^\+?[0-9]{1,20}$/, 'digits, optional leading +')
      .optional()
      .describe('Number presented on this route unless the extension sets callerId.'),
  })
  .strict();

const extensionSchema = z
  .object({
    number: extensionNumberSchema.describe('Extension number, also the SIP username.'),
    name: headerText().pipe(z.string().min(1)).describe('Display name (any UTF-8).'),
    kana: headerText().pipe(z.string().max(100)).optional().describe('Reading of the name (kana), for directories and sorting (F-USER).'),
    password: z.string({ error: 'must be a string (quote it in YAML)' }).min(1, 'must not be empty').describe('SIP digest password. Required: there is no default password.'),
    maxContacts: int(5, 1, 100, 'Simultaneous registrations allowed; the oldest is replaced beyond this.'),
    suspended: z.boolean().default(false).describe('A suspended extension cannot register, call or be called.'),
    ringTimeout: z.number().int().min(5).max(360).optional().describe('Seconds the extension rings before no-answer handling; default calls.ringTimeout (60).'),
    language: z.enum(['ja', 'en']).default('ja').describe('Prompt language.'),
    callWaiting: z.boolean().default(true).describe('Whether a second call rings an extension that is already in a call; false answers it 486 Busy Here.'),
    callerId: z
      .string()
      .regex(/^(\+?[0-9]{1,20}|none)$/, 'must be a phone number (digits, optional leading +) or none')
      .optional()
      .describe("Number presented on external calls; `none` bars external calls. Unset: the route's callerId."),
    moh: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/, 'a music-on-hold class is a folder name: letters, digits, _ and -')
      .default('default')
      .describe('Music-on-hold class the other party hears when this extension holds, parks or transfers a call (F-HOLD).'),
    presentation: z.enum(['present', 'withhold']).default('present').describe('Caller-ID presentation by default (F-CLIR); 184/186 prefixes override it per call.'),
    memo: z.string().optional().describe('Free text for administrators.'),
    dnd: z.boolean().default(false).describe('Do-not-disturb: calls are treated as busy (busy forwarding, else 486). Service codes 1429/1430 change it at run time.'),
    forwarding: extensionForwardingSchema.prefault({}).describe('Call forwarding set by the admin (F-FWD); service codes change it at run time, and an edit here wins over earlier run-time changes.'),
    forwardingSchedule: z.string().optional().describe('Name of a schedule (schedules:) whose matching row overrides the normal forwarding (時間帯転送).'),
    outboundClass: z
      .enum(outboundClasses)
      .default('domestic')
      .describe('internal: extensions only; domestic: plus outside numbers; international: plus international numbers (restrictions.internationalPrefixes).'),
    blockList: z.array(numberPatternSchema).max(30, 'at most 30 blocked numbers per extension').default([]).describe('Caller numbers refused (403 / Q.850 21); a trailing * matches a prefix.'),
    rejectAnonymous: z.boolean().default(false).describe('Calls without a caller number hear an announcement and get 433 Anonymity Disallowed / Q.850 21.'),
    ...voicemailExtensionFields,
    ...hotDeskExtensionFields,
    record: recordFieldSchema,
  })
  .strict();

const extensionListSchema = z
  .array(extensionSchema)
  .superRefine(
    (list, ctx) => {
      // Runs even when some entries are invalid so that every clash is reported in one pass.
      const seen = new Map<string, number>();
      list.forEach((raw: unknown, i) => {
        if (!isRecord(raw)) return;
        const n = raw.number;
        if (typeof n !== 'string' && typeof n !== 'number') return;
        const num = String(n);
        const first = seen.get(num);
        if (first === undefined) {
          seen.set(num, i);
          return;
        }
        const params: ConflictParams = { conflictWith: ['extensions', first, 'number'] };
        ctx.addIssue({ code: 'custom', path: [i, 'number'], params, message: `extension number ${num} is defined twice` });
      });
    },
    { when: (payload) => Array.isArray(payload.value) },
  )
  .default([])
  .describe('Extensions (F-USER).');

export const configObjectSchema = z
  .object({
    tenant: tenantSchema,
    listen: listenListSchema,
    data: dataSchema.prefault({}),
    sip: sipSchema.prefault({}),
    registrar: registrarSchema.prefault({}),
    auth: authSchema.prefault({}),
    security: securitySchema.prefault({}),
    log: logSchema.prefault({}),
    reload: reloadSchema.prefault({}),
    extensions: extensionListSchema,
    media: mediaSchema.prefault({}),
    calls: callsSchema.prefault({}),
    cdr: cdrSchema.prefault({}),
    codes: codesSchema.prefault({}),
    prompts: promptsSchema.prefault({}),
    park: parkSchema.prefault({}),
    dtmf: dtmfSchema.prefault({}),
    trunks: z.array(trunkSchema).default([]).describe('SIP trunks to carriers or other PBXs (F-TRUNK).'),
    inbound: z.array(inboundSchema).default([]).describe('Inbound DID routing: which extension a number dialled from a trunk rings.'),
    routes: z.array(routeSchema).default([]).describe('Outbound routes: dialled-number prefixes sent to a trunk, with digit manipulation.'),
    groups: z.array(groupSchema).max(4096).default([]).describe('Hunt groups and departments (F-HUNT, F-DEPT): a number that rings its members by a strategy.'),
    pickupGroups: z.array(pickupGroupSchema).max(4096, 'at most 4096 pickup groups').default([]).describe('Pickup groups (F-PICKUP).'),
    forwarding: forwardingSettingsSchema.prefault({}),
    schedules: z.array(scheduleSchema).default([]).describe('Forwarding schedules (時間帯転送, F-FWD), evaluated in tenant.timezone.'),
    bulkForwarding: z.array(bulkSetSchema).default([]).describe('Bulk (disaster) forwarding sets (一括転送), switched with `hibiki bulk on|off NAME`.'),
    screening: screeningSchema.prefault({}),
    restrictions: restrictionsSchema.prefault({}),
    serviceCodes: serviceCodesSchema.prefault({}),
    mwi: mwiSchema.prefault({}),
    smtp: smtpSchema.optional(),
    ivrs: ivrListSchema,
    voicemail: voicemailSettingsSchema.prefault({}),
    voicemailBoxes: voicemailBoxesSchema,
    queues: queueListSchema,
    conference: conferenceSchema.prefault({}),
    spy: spySchema.prefault({}),
    hotDesk: hotDeskSettingsSchema.prefault({}),
    recording: recordingSchema.prefault({}),
    http: httpSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const trunks = new Set<string>();
    c.trunks.forEach((t, i) => {
      if (trunks.has(t.name)) ctx.addIssue({ code: 'custom', path: ['trunks', i, 'name'], message: `trunk ${t.name} is defined twice` });
      trunks.add(t.name);
    });
    c.routes.forEach((r, i) => {
      if (!trunks.has(r.trunk)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'trunk'], message: `unknown trunk ${r.trunk}` });
      if (r.minLength > r.maxLength) ctx.addIssue({ code: 'custom', path: ['routes', i, 'minLength'], message: 'minLength exceeds maxLength' });
    });
    const exts = new Set(c.extensions.map((e) => e.number));
    // F-USER: numbers are unique across extensions and park slots.
    const lotNumbers = [c.park.lot];
    for (let n = c.park.slots[0]; n <= c.park.slots[1] && n - c.park.slots[0] < 1000; n++) lotNumbers.push(String(n));
    c.extensions.forEach((e, i) => {
      if (lotNumbers.includes(e.number)) ctx.addIssue({ code: 'custom', path: ['extensions', i, 'number'], message: `extension ${e.number} clashes with the park lot or a park slot` });
    });
    // F-USER: group numbers are unique across extensions, groups and park numbers.
    const groupNumbers = new Map<string, number>();
    c.groups.forEach((g, i) => {
      if (exts.has(g.number)) ctx.addIssue({ code: 'custom', path: ['groups', i, 'number'], message: `group ${g.number} clashes with extension ${g.number}` });
      if (lotNumbers.includes(g.number)) ctx.addIssue({ code: 'custom', path: ['groups', i, 'number'], message: `group ${g.number} clashes with the park lot or a park slot` });
      const first = groupNumbers.get(g.number);
      if (first !== undefined) {
        const params: ConflictParams = { conflictWith: ['groups', first, 'number'] };
        ctx.addIssue({ code: 'custom', path: ['groups', i, 'number'], params, message: `group number ${g.number} is defined twice` });
      } else groupNumbers.set(g.number, i);
      const seen = new Set<string>();
      g.members.forEach((m, j) => {
        // Deleting an extension that is still a member is refused (F-USER): remove it from the group first.
        if (!exts.has(m))
          ctx.addIssue({ code: 'custom', path: ['groups', i, 'members', j], message: `group ${g.number} member ${m} is not an extension (remove it from the group when deleting the extension)` });
        if (seen.has(m)) ctx.addIssue({ code: 'custom', path: ['groups', i, 'members', j], message: `${m} is listed twice in group ${g.number}` });
        seen.add(m);
      });
    });
    const pickupNumbers = new Map<string, number>();
    c.pickupGroups.forEach((g, i) => {
      const first = pickupNumbers.get(g.number);
      if (first !== undefined) {
        const params: ConflictParams = { conflictWith: ['pickupGroups', first, 'number'] };
        ctx.addIssue({ code: 'custom', path: ['pickupGroups', i, 'number'], params, message: `pickup group ${g.number} is defined twice` });
      } else pickupNumbers.set(g.number, i);
      g.members.forEach((m, j) => {
        if (!exts.has(m))
          ctx.addIssue({
            code: 'custom',
            path: ['pickupGroups', i, 'members', j],
            message: `pickup group ${g.number} member ${m} is not an extension (remove it from the group when deleting the extension)`,
          });
      });
    });
    // F-FWD destination rules see the dial plan as the router does: extensions and groups are local, park
    // numbers are no destination, anything else needs an outbound route, and 184/186 would be stripped.
    const ivrNumbers = new Set(c.ivrs.map((v) => v.number));
    const boxNumbers = new Set(c.voicemailBoxes.map((b) => b.number));
    const queueNumbers = new Set(c.queues.map((q) => q.number));
    const roomNumbers = new Set(c.conference.rooms.map((r) => r.number));
    const destinations: DestinationContext = {
      isLocal: (n) => exts.has(n) || groupNumbers.has(n) || ivrNumbers.has(n) || boxNumbers.has(n) || queueNumbers.has(n) || roomNumbers.has(n),
      isParkNumber: (n) => isParkNumber(n, c.park),
      routes: c.routes,
      callPrefixes: { withhold: c.serviceCodes.withhold, present: c.serviceCodes.present },
      isMailbox: (n) => c.extensions.some((e) => e.number === n && e.voicemail) || c.voicemailBoxes.some((b) => b.number === n),
    };
    checkVoicemail({ ...c, groupNumbers: groupNumbers.keys(), lotNumbers }, ctx);
    c.groups.forEach((g, i) => {
      const dest = g.noAnswerDestination;
      if (dest === undefined) return;
      const path = ['groups', i, 'noAnswerDestination'];
      if (dest === g.number) {
        ctx.addIssue({ code: 'custom', path, message: `group ${g.number} cannot send its unanswered calls to itself` });
        return;
      }
      // A group has no outbound class of its own: the admin chose the number, so only the tenant rules apply.
      const v = forwardDestinationVerdict(dest, { number: g.number, outboundClass: 'international' }, c.restrictions, destinations);
      if (!v.ok) ctx.addIssue({ code: 'custom', path, message: v.reason });
    });
    const schedules = new Set<string>();
    c.schedules.forEach((s, i) => {
      if (schedules.has(s.name)) ctx.addIssue({ code: 'custom', path: ['schedules', i, 'name'], message: `schedule ${s.name} is defined twice` });
      schedules.add(s.name);
    });
    c.extensions.forEach((e, i) => {
      if (e.forwardingSchedule !== undefined && !schedules.has(e.forwardingSchedule)) {
        ctx.addIssue({ code: 'custom', path: ['extensions', i, 'forwardingSchedule'], message: `unknown schedule ${e.forwardingSchedule}` });
      }
      const f = e.forwarding;
      const named: Array<[string, string | undefined]> = [
        ['unconditional', f.unconditional],
        ['busy', f.busy],
        ['noAnswer', f.noAnswer],
        ['unreachable', f.unreachable],
      ];
      for (const [key, dest] of named) {
        if (dest === undefined) continue;
        const v = forwardDestinationVerdict(dest, e, c.restrictions, destinations);
        if (!v.ok) ctx.addIssue({ code: 'custom', path: ['extensions', i, 'forwarding', key], message: v.reason });
      }
    });
    const bulkNames = new Set<string>();
    c.bulkForwarding.forEach((b, i) => {
      if (bulkNames.has(b.name)) ctx.addIssue({ code: 'custom', path: ['bulkForwarding', i, 'name'], message: `bulk-forwarding set ${b.name} is defined twice` });
      bulkNames.add(b.name);
      b.members.forEach((m, j) => {
        if (m.extension !== undefined && !exts.has(m.extension)) ctx.addIssue({ code: 'custom', path: ['bulkForwarding', i, 'members', j, 'extension'], message: `unknown extension ${m.extension}` });
      });
    });
    // F-DIALPLAN: service codes are prefix-free against every local number.
    for (const [key, code] of Object.entries(c.serviceCodes)) {
      for (const n of [...exts, ...groupNumbers.keys(), ...lotNumbers]) {
        if (n.startsWith(code) || code.startsWith(n)) {
          ctx.addIssue({ code: 'custom', path: ['serviceCodes', key], message: `service code ${code} overlaps number ${n}` });
          break;
        }
      }
    }
    c.inbound.forEach((d, i) => {
      // A DID may also reach an IVR, or a shared voicemail box directly (a number that only takes messages).
      if (
        !exts.has(d.destination) &&
        !groupNumbers.has(d.destination) &&
        !ivrNumbers.has(d.destination) &&
        !boxNumbers.has(d.destination) &&
        !queueNumbers.has(d.destination) &&
        !roomNumbers.has(d.destination)
      ) {
        ctx.addIssue({ code: 'custom', path: ['inbound', i, 'destination'], message: `unknown extension, group, IVR, queue or voicemail box ${d.destination}` });
      }
      if (d.trunk !== undefined && !trunks.has(d.trunk)) ctx.addIssue({ code: 'custom', path: ['inbound', i, 'trunk'], message: `unknown trunk ${d.trunk}` });
    });
    const taken = new Map<string, string>();
    for (const n of exts) taken.set(n, `extension ${n}`);
    for (const n of groupNumbers.keys()) taken.set(n, `group ${n}`);
    for (const n of ivrNumbers) taken.set(n, `IVR ${n}`);
    for (const n of boxNumbers) taken.set(n, `voicemail box ${n}`);
    for (const n of lotNumbers) taken.set(n, 'the park lot or a park slot');
    checkQueues(
      {
        queues: c.queues,
        taken,
        extensions: exts,
        codes: [...Object.entries(c.serviceCodes).map(([k, code]) => ({ code, name: `service code serviceCodes.${k}` })), { code: c.voicemail.pilot, name: 'the voicemail pilot' }],
        routes: c.routes,
        restrictions: c.restrictions,
        destinations,
      },
      ctx,
    );
    for (const q of c.queues) taken.set(q.number, `queue ${q.number}`);
    checkConferenceRooms(
      {
        rooms: c.conference.rooms,
        taken,
        codes: [...Object.entries(c.serviceCodes).map(([k, code]) => ({ code, name: `service code serviceCodes.${k}` })), { code: c.voicemail.pilot, name: 'the voicemail pilot' }],
      },
      ctx,
    );
    checkIvrs(
      {
        ivrs: c.ivrs,
        extensions: c.extensions,
        groupNumbers: new Set(groupNumbers.keys()),
        lotNumbers,
        boxNumbers,
        voicemailPilot: c.voicemail.pilot,
        serviceCodes: c.serviceCodes,
        routes: c.routes,
        restrictions: c.restrictions,
        destinations,
      },
      ctx,
    );
    // F-DIALPLAN: a route prefix that starts like an extension number would make that extension unreachable.
    c.routes.forEach((r, i) => {
      for (const e of [...exts, ...groupNumbers.keys(), ...c.voicemailBoxes.map((b) => b.number)]) {
        if (e.startsWith(r.prefix) && e.length >= r.minLength && e.length <= r.maxLength) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'prefix'], message: `route prefix ${r.prefix} overlaps local number ${e}` });
          break;
        }
      }
    });
  });

/** The whole file. Output has auth.realm filled in from tenant.domain when not given. */
export const configSchema = configObjectSchema.transform((c) => ({
  ...c,
  auth: { ...c.auth, realm: c.auth.realm ?? c.tenant.domain },
}));

export type HibikiConfig = z.infer<typeof configSchema>;
export type ExtensionConfig = HibikiConfig['extensions'][number];
export type ListenConfig = HibikiConfig['listen'][number];
