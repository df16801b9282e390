// Extensions (issue #12, F-USER): the list with live registration status, and one extension. Static fields
// live in the YAML file; changes go through the config editor (comments kept, validated, reloaded).
import { z } from 'zod';
import { addExtension, removeExtensionEntry, updateExtension } from '../../config/extension-edit.js';
import type { Membership } from '../../config/remove-extension.js';
import { extensionNumberPattern, type ExtensionConfig, type HibikiConfig } from '../../config/schema.js';
import { pinProblem } from '../../rules/pin.js';
import type { Binding } from '../../store/registrations.js';
import { VoicemailBoxStore } from '../../store/voicemail-box-store.js';
import { allow, ownExtension } from '../access.js';
import { entryField, writeChange, writeConfig } from '../config-write.js';
import { notFound } from '../errors.js';
import type { RouteModule } from '../route-types.js';

export const contactOut = z.object({
  contact: z.string(),
  address: z.string(),
  port: z.number(),
  transport: z.string(),
  userAgent: z.string().optional(),
  expiresAt: z.string(),
  registeredAt: z.string(),
  reachable: z.boolean(),
});

export const extensionOut = z.object({
  number: z.string(),
  name: z.string(),
  kana: z.string().optional(),
  departments: z.array(z.string()).describe('Groups (departments) the extension is a member of.'),
  pickupGroups: z.array(z.string()),
  callerId: z.string().optional(),
  ringTimeout: z.number().optional(),
  language: z.string(),
  memo: z.string().optional(),
  suspended: z.boolean(),
  hasPin: z.boolean(),
  registered: z.boolean(),
  contacts: z.array(contactOut),
});
export type ExtensionOut = z.infer<typeof extensionOut>;

export function contactView(b: Binding) {
  return {
    contact: b.contact,
    address: b.sourceAddress,
    port: b.sourcePort,
    transport: b.transport,
    userAgent: b.userAgent,
    expiresAt: new Date(b.expiresAt).toISOString(),
    registeredAt: new Date(b.registeredAt).toISOString(),
    reachable: b.reachable,
  };
}

/** The groups and pickup groups of an extension, by number. */
export function membershipsOf(config: HibikiConfig, number: string): { departments: string[]; pickupGroups: string[] } {
  return {
    departments: config.groups.filter((g) => g.members.some((m) => String(m) === number)).map((g) => g.number),
    pickupGroups: config.pickupGroups.filter((g) => g.members.some((m) => String(m) === number)).map((g) => String(g.number)),
  };
}

/** `pin`: the PIN in force, which a phone or the API may have set over the YAML one (VoicemailBoxStore). */
export function extensionView(config: HibikiConfig, e: ExtensionConfig, bindings: Binding[], pin: (e: ExtensionConfig) => string | undefined): ExtensionOut {
  return {
    number: e.number,
    name: e.name,
    kana: e.kana,
    ...membershipsOf(config, e.number),
    callerId: e.callerId,
    ringTimeout: e.ringTimeout,
    language: e.language,
    memo: e.memo,
    suspended: e.suspended,
    hasPin: pin(e) !== undefined,
    registered: bindings.length > 0,
    contacts: bindings.map(contactView),
  };
}

const numberField = z.string().regex(extensionNumberPattern, 'an extension number is 2–15 digits and starts with 2–9');
/** The API asks more of a new SIP password than the file does (which only warns): it is reachable from the network. */
export const sipPasswordField = z.string().min(8, 'at least 8 characters').max(200).describe('SIP digest password.');
const pinField = z
  .string()
  .superRefine((pin, c) => {
    const problem = pinProblem(pin);
    if (problem) c.addIssue({ code: 'custom', message: problem });
  })
  .describe('Voicemail and hot-desk PIN: 4–8 digits, no 4 sequential or identical digits in a row.');
const extensionFields = {
  name: z.string().min(1).max(200).describe('Display name (any UTF-8).'),
  password: sipPasswordField,
  kana: z.string().max(100).describe('Reading of the name (kana).'),
  pin: pinField,
  departments: z.array(z.string().regex(extensionNumberPattern, 'a group number')).max(4096).describe('Group numbers the extension is a member of (exactly these).'),
  pickupGroups: z
    .array(z.string().regex(/^[0-9]{1,4}$/, 'a pickup group number is 1–4 digits'))
    .max(4096)
    .describe('Pickup group numbers the extension is a member of (exactly these).'),
  callerId: z
    .string()
    .regex(/^(\+?[0-9]{1,20}|none)$/, 'a phone number (digits, optional leading +) or none')
    .describe('Number presented on external calls; none bars external calls.'),
  ringTimeout: z.number().int().min(5).max(360).describe('Seconds the extension rings before no-answer handling.'),
  memo: z.string().max(2000).describe('Free text for administrators.'),
  language: z.enum(['ja', 'en']).describe('Prompt language.'),
};
export const extensionCreateBody = z
  .object({
    number: numberField,
    name: extensionFields.name,
    password: extensionFields.password,
    kana: extensionFields.kana.optional(),
    pin: extensionFields.pin.optional(),
    departments: extensionFields.departments.optional(),
    pickupGroups: extensionFields.pickupGroups.optional(),
    callerId: extensionFields.callerId.optional(),
    ringTimeout: extensionFields.ringTimeout.optional(),
    memo: extensionFields.memo.optional(),
    language: extensionFields.language.optional(),
  })
  .strict();
export const extensionPatchBody = z
  .object({
    name: extensionFields.name.optional(),
    password: extensionFields.password.optional(),
    kana: extensionFields.kana.nullable().optional(),
    pin: extensionFields.pin.nullable().optional(),
    departments: extensionFields.departments.optional(),
    pickupGroups: extensionFields.pickupGroups.optional(),
    callerId: extensionFields.callerId.nullable().optional(),
    ringTimeout: extensionFields.ringTimeout.nullable().optional(),
    memo: extensionFields.memo.nullable().optional(),
    language: extensionFields.language.optional(),
    suspended: z.boolean().optional().describe('A suspended extension cannot register, call or be called.'),
  })
  .strict()
  .describe('Fields to change; null removes kana, pin, callerId, ringTimeout or memo. The number cannot change.');

/** Where a loader error about the file points, as a field of the extension request. */
const extensionFieldOf = entryField('extensions', { groups: 'departments', pickupGroups: 'pickupGroups', serviceCodes: 'number', routes: 'number', queues: 'number', conference: 'number' });

export const extensionRoutes: RouteModule = (app, { ctx, audit }) => {
  const boxes = new VoicemailBoxStore(ctx.db);
  const pinOf = (e: ExtensionConfig) => boxes.pin(e.number, e.pin);
  const view = (config: HibikiConfig, number: string): ExtensionOut => {
    const e = config.extensions.find((x) => x.number === number);
    if (!e) throw notFound(`extension ${number}`);
    return extensionView(config, e, ctx.registrations.list(number), pinOf);
  };

  app.get(
    '/api/extensions',
    {
      preHandler: allow('admin', 'supervisor'),
      schema: {
        tags: ['extensions'],
        summary: 'Extensions with their live registrations.',
        querystring: z.object({ q: z.string().max(100).optional().describe('Number, name or kana contains this.') }),
        response: { 200: z.array(extensionOut) },
      },
    },
    async (req) => {
      const config = ctx.currentConfig;
      const byAor = new Map<string, Binding[]>();
      for (const b of ctx.registrations.all()) byAor.set(b.aor, [...(byAor.get(b.aor) ?? []), b]);
      const q = req.query.q?.toLowerCase();
      return config.extensions
        .filter((e) => !q || e.number.includes(q) || e.name.toLowerCase().includes(q) || (e.kana ?? '').includes(q))
        .map((e) => extensionView(config, e, byAor.get(e.number) ?? [], pinOf));
    },
  );

  app.get(
    '/api/extensions/:number',
    { schema: { tags: ['extensions'], summary: 'One extension (a user sees only their own).', params: z.object({ number: z.string() }), response: { 200: extensionOut } } },
    async (req) => {
      ownExtension(req, req.params.number, ['admin', 'supervisor']);
      const config = ctx.currentConfig;
      const e = config.extensions.find((x) => x.number === req.params.number);
      if (!e) throw notFound(`extension ${req.params.number}`);
      return extensionView(config, e, ctx.registrations.list(e.number), pinOf);
    },
  );

  app.post(
    '/api/extensions',
    {
      preHandler: allow('admin'),
      schema: { tags: ['extensions'], summary: 'Add an extension (written to the YAML file; it can register at once).', body: extensionCreateBody, response: { 201: extensionOut } },
    },
    async (req, reply) => {
      const config = writeChange(ctx, (doc, current) => addExtension(doc, current, req.body), extensionFieldOf);
      audit(req, 'extension.create', req.body.number, req.body);
      return reply.status(201).send(view(config, req.body.number));
    },
  );

  app.patch(
    '/api/extensions/:number',
    {
      preHandler: allow('admin'),
      schema: {
        tags: ['extensions'],
        summary: 'Change an extension; suspended: true/false suspends and resumes it.',
        params: z.object({ number: z.string() }),
        body: extensionPatchBody,
        response: { 200: extensionOut },
      },
    },
    async (req) => {
      const config = writeChange(ctx, (doc, current) => updateExtension(doc, current, req.params.number, req.body), extensionFieldOf);
      audit(req, 'extension.update', req.params.number, req.body);
      return view(config, req.params.number);
    },
  );

  app.delete(
    '/api/extensions/:number',
    {
      preHandler: allow('admin'),
      schema: {
        tags: ['extensions'],
        summary: 'Delete an extension. While it is a member of a group, queue, pickup group or bulk-forwarding set: 409, unless force=true takes it out of them.',
        params: z.object({ number: z.string() }),
        querystring: z.object({ force: z.enum(['true', 'false']).default('false') }),
      },
    },
    async (req, reply) => {
      const { value } = writeConfig<Membership[]>(
        ctx,
        (doc, text) => {
          const r = removeExtensionEntry(doc, text, req.params.number, req.query.force === 'true');
          return 'refusal' in r ? r : { value: r.removedFrom };
        },
        extensionFieldOf,
      );
      audit(req, 'extension.delete', req.params.number, { force: req.query.force === 'true', removedFrom: value.map((m) => m.what) });
      return reply.status(204).send();
    },
  );
};
