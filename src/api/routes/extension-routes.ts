// Extensions (issue #12, F-USER): the list with live registration status, and one extension. Static fields
// live in the YAML file; changes go through the config editor (comments kept, validated, reloaded).
import { z } from 'zod';
import type { ExtensionConfig, HibikiConfig } from '../../config/schema.js';
import type { Binding } from '../../store/registrations.js';
import { allow, ownExtension } from '../access.js';
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

export function extensionView(config: HibikiConfig, e: ExtensionConfig, bindings: Binding[]): ExtensionOut {
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
    hasPin: e.pin !== undefined,
    registered: bindings.length > 0,
    contacts: bindings.map(contactView),
  };
}

export const extensionRoutes: RouteModule = (app, { ctx }) => {
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
        .map((e) => extensionView(config, e, byAor.get(e.number) ?? []));
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
      return extensionView(config, e, ctx.registrations.list(e.number));
    },
  );
};
