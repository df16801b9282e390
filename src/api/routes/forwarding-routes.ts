// Forwarding, do-not-disturb, schedules and bulk forwarding (issue #12, F-FWD). Run-time changes go through
// ForwardingService, which keeps them in SQLite as the service codes and the CLI do; the YAML is not edited.
// A user changes their own extension; supervisors may read any.
import { z } from 'zod';
import { forwardConditions, MAX_NO_ANSWER_TIMEOUT, MIN_NO_ANSWER_TIMEOUT, type ForwardCondition } from '../../features/forwarding.js';
import { allow, ownExtension } from '../access.js';
import { badRequest, notFound } from '../errors.js';
import type { RouteDeps, RouteModule } from '../route-types.js';

const conditionOut = z.object({ on: z.boolean(), destination: z.string().nullable() });

export const effectiveOut = z.object({
  cfu: z.string().optional(),
  cfb: z.string().optional(),
  cfna: z.string().optional(),
  cfur: z.string().optional(),
  noAnswerTimeout: z.number(),
  dnd: z.boolean(),
  source: z.enum(['normal', 'schedule', 'bulk']).describe('bulk: a bulk-forwarding set is on; schedule: a forwarding-schedule row matches now; normal: the conditions below.'),
});

export const forwardingOut = z.object({
  destinations: z.array(z.string()).describe('The up to 5 stored destinations, oldest first.'),
  conditions: z.object({ cfu: conditionOut, cfb: conditionOut, cfna: conditionOut, cfur: conditionOut }),
  noAnswerTimeout: z.number(),
  dnd: z.boolean(),
  effective: effectiveOut.describe('What applies to a call arriving now.'),
});
type ForwardingOut = z.infer<typeof forwardingOut>;

const numberParams = z.object({ number: z.string() });

const bulkResultOut = z.object({
  member: z.string(),
  kind: z.enum(['extension', 'did']),
  result: z.enum(['ok', 'unchanged', 'error']),
  destination: z.string().optional(),
  detail: z.string().optional(),
});

function forwardingView({ ctx }: RouteDeps, number: string): ForwardingOut {
  const st = ctx.forwarding.state(number);
  const cond = (c: ForwardCondition) => {
    const x = st.conditions[c];
    return { on: x.on, destination: x.destination !== null ? (st.destinations[x.destination] ?? null) : null };
  };
  return {
    destinations: st.destinations,
    conditions: { cfu: cond('cfu'), cfb: cond('cfb'), cfna: cond('cfna'), cfur: cond('cfur') },
    noAnswerTimeout: st.noAnswerTimeout,
    dnd: st.dnd,
    effective: ctx.forwarding.effective(number),
  };
}

export const forwardingRoutes: RouteModule = (app, deps) => {
  const { ctx, audit } = deps;
  /** The extension must exist; the caller must be allowed to act on it. */
  const extension = (req: Parameters<typeof ownExtension>[0], number: string, roles: Parameters<typeof ownExtension>[2]) => {
    ownExtension(req, number, roles);
    const e = ctx.currentConfig.extensions.find((x) => x.number === number);
    if (!e) throw notFound(`extension ${number}`);
    return e;
  };

  app.get(
    '/api/extensions/:number/forwarding',
    { schema: { tags: ['forwarding'], summary: "An extension's forwarding conditions, DND and what applies now.", params: numberParams, response: { 200: forwardingOut } } },
    async (req) => {
      extension(req, req.params.number, ['admin', 'supervisor']);
      return forwardingView(deps, req.params.number);
    },
  );

  app.put(
    '/api/extensions/:number/forwarding/:condition',
    {
      schema: {
        tags: ['forwarding'],
        summary: 'Turn a forwarding condition on (new or stored destination) or off.',
        params: z.object({ number: z.string(), condition: z.enum(forwardConditions as [ForwardCondition, ...ForwardCondition[]]) }),
        body: z.object({
          on: z.boolean(),
          destination: z.string().max(40).optional().describe('A new destination; absent: the one this condition used last, else the first stored one.'),
        }),
        response: { 200: forwardingOut },
      },
    },
    async (req) => {
      const { number, condition } = req.params;
      extension(req, number, ['admin']);
      const r = ctx.forwarding.setCondition(number, condition, req.body.on, req.body.destination, 'api');
      if (!r.ok) throw badRequest(r.reason, 'destination');
      audit(req, 'forwarding.set', number, { condition, on: req.body.on, destination: r.destination });
      return forwardingView(deps, number);
    },
  );

  app.put(
    '/api/extensions/:number/forwarding',
    {
      schema: {
        tags: ['forwarding'],
        summary: 'Set the no-answer time before cfna applies.',
        params: numberParams,
        body: z.object({ noAnswerTimeout: z.number().int().min(MIN_NO_ANSWER_TIMEOUT).max(MAX_NO_ANSWER_TIMEOUT).describe('Seconds of ringing before cfna forwards.') }),
        response: { 200: forwardingOut },
      },
    },
    async (req) => {
      const number = req.params.number;
      extension(req, number, ['admin']);
      ctx.forwarding.setNoAnswerTimeout(number, req.body.noAnswerTimeout, 'api');
      audit(req, 'forwarding.timeout', number, { noAnswerTimeout: req.body.noAnswerTimeout });
      return forwardingView(deps, number);
    },
  );

  app.put(
    '/api/extensions/:number/dnd',
    { schema: { tags: ['forwarding'], summary: 'Do-not-disturb on or off.', params: numberParams, body: z.object({ on: z.boolean() }), response: { 200: forwardingOut } } },
    async (req) => {
      const number = req.params.number;
      extension(req, number, ['admin']);
      ctx.forwarding.setDnd(number, req.body.on, 'api');
      audit(req, 'dnd.set', number, { on: req.body.on });
      return forwardingView(deps, number);
    },
  );

  app.get(
    '/api/forwarding',
    {
      preHandler: allow('admin', 'supervisor'),
      schema: {
        tags: ['forwarding'],
        summary: 'Every extension with DND and the forwarding that applies now.',
        response: { 200: z.array(z.object({ number: z.string(), name: z.string(), dnd: z.boolean(), effective: effectiveOut })) },
      },
    },
    async () =>
      ctx.currentConfig.extensions.map((e) => {
        const effective = ctx.forwarding.effective(e.number);
        return { number: e.number, name: e.name, dnd: effective.dnd, effective };
      }),
  );

  app.get(
    '/api/schedules',
    {
      preHandler: allow('admin', 'supervisor'),
      schema: {
        tags: ['forwarding'],
        summary: 'The forwarding schedules (時間帯転送) of the configuration, with the extensions using each.',
        response: {
          200: z.array(
            z.object({
              name: z.string(),
              extensions: z.array(z.string()),
              rows: z.array(
                z.object({
                  days: z.array(z.string()).optional(),
                  date: z.string().optional(),
                  holiday: z.boolean().optional(),
                  from: z.string(),
                  to: z.string(),
                  action: z.string(),
                  destination: z.string().optional(),
                }),
              ),
            }),
          ),
        },
      },
    },
    async () => {
      const config = ctx.currentConfig;
      return config.schedules.map((s) => ({ name: s.name, extensions: config.extensions.filter((e) => e.forwardingSchedule === s.name).map((e) => e.number), rows: s.rows }));
    },
  );

  app.get(
    '/api/bulk-forwarding',
    {
      preHandler: allow('admin', 'supervisor'),
      schema: {
        tags: ['forwarding'],
        summary: 'Bulk-forwarding sets (一括転送) and whether each is on.',
        response: { 200: z.array(z.object({ name: z.string(), active: z.boolean(), changedAt: z.string().optional(), members: z.number() })) },
      },
    },
    async () => ctx.forwarding.bulkStatus().map((s) => ({ ...s, changedAt: s.changedAt !== undefined ? new Date(s.changedAt).toISOString() : undefined })),
  );

  app.post(
    '/api/bulk-forwarding/:name/:action',
    {
      preHandler: allow('admin'),
      schema: {
        tags: ['forwarding'],
        summary: "Switch a bulk-forwarding set on or off; each member's result.",
        params: z.object({ name: z.string(), action: z.enum(['on', 'off']) }),
        response: { 200: z.object({ results: z.array(bulkResultOut) }) },
      },
    },
    async (req) => {
      const { name, action } = req.params;
      if (!ctx.currentConfig.bulkForwarding.some((s) => s.name === name)) throw notFound(`bulk-forwarding set ${name}`);
      const results = action === 'on' ? ctx.forwarding.bulkOn(name, 'api') : ctx.forwarding.bulkOff(name, 'api');
      audit(req, `bulk.${action}`, name, { ok: results.filter((r) => r.result === 'ok').length, error: results.filter((r) => r.result === 'error').length });
      return { results };
    },
  );
};
