// Calls in progress (issue #12, F-API): the list (a user sees the calls their extension is part of), an
// administrator's hang-up, and click-to-call — hibiki rings the extension's phones first, then dials the
// number as that extension (pbx/originate.ts).
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import { ringTargets } from '../../features/extension.js';
import type { Call } from '../../pbx/call.js';
import { ownExtension, principalOf } from '../access.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import type { ApiContext } from '../context.js';
import type { RouteModule } from '../route-types.js';

const party = z.object({ number: z.string(), name: z.string().optional() });

export const callOut = z.object({
  id: z.string().describe('The call id the CDR calls linked_id; DELETE /api/calls/{id} takes it.'),
  callId: z.string().describe("SIP Call-ID of the call's first leg (CDR call_id)."),
  state: z.enum(['ringing', 'answered']),
  direction: z.enum(['internal', 'inbound', 'outbound']),
  startedAt: z.string(),
  answeredAt: z.string().optional(),
  caller: party,
  dialed: z.string(),
  callee: party.describe('Whom the call is offered to now (the answering extension once answered).'),
  answeredBy: z.string().optional(),
  legs: z.array(
    z.object({
      role: z.enum(['caller', 'callee']),
      number: z.string().optional(),
      extension: z.string().optional(),
      state: z.enum(['offered', 'ringing', 'answered', 'ended']),
      held: z.boolean().describe("The leg's phone has put the call on hold."),
      transport: z.string().optional(),
    }),
  ),
  feature: z.string().optional(),
  trunk: z.string().optional(),
  queue: z.string().optional(),
});
export type CallOut = z.infer<typeof callOut>;

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function callView(call: Call): CallOut {
  return {
    id: call.linkedId,
    callId: call.callId,
    state: call.isAnswered ? 'answered' : 'ringing',
    direction: call.direction,
    startedAt: new Date(call.startedAt).toISOString(),
    answeredAt: iso(call.answeredAt),
    caller: { number: call.caller.number, name: call.caller.name },
    dialed: call.dialled,
    callee: { number: call.callee.number, name: call.callee.name },
    answeredBy: call.answeredBy,
    legs: call.legs
      .filter((l) => !l.ended)
      .map((l) => ({
        role: l.role,
        number: l.party.number,
        extension: l.extension,
        state: l.state,
        held: l.holding,
        transport: l.dialog?.flow.transport ?? l.invite?.req.source?.transport,
      })),
    feature: call.feature,
    trunk: call.trunk,
    queue: call.queue,
  };
}

/** Whether an extension is part of a call: its caller, the callee, or a party of one of its legs. */
function involves(call: Call, extension: string): boolean {
  // The caller of an inbound call and the callee of an outbound one are outside numbers, even when they read
  // like an extension (a tie line's caller 2001).
  const caller = call.direction !== 'inbound' && call.caller.number === extension;
  const callee = call.direction !== 'outbound' && call.callee.number === extension;
  return caller || callee || call.answeredBy === extension || call.extensions().includes(extension);
}

/** Admins and supervisors see every call; anyone else only the calls of the extension their account is bound to. */
function visible(req: FastifyRequest, call: Call): boolean {
  const p = principalOf(req);
  if (p.role === 'admin' || p.role === 'supervisor') return true;
  return p.extension !== undefined && involves(call, p.extension);
}

function findCall(ctx: ApiContext, id: string): Call | undefined {
  return ctx.calls.active().find((c) => c.linkedId === id || c.callId === id);
}

export const callRoutes: RouteModule = (app, { ctx, audit }) => {
  app.get('/api/calls', { schema: { tags: ['calls'], summary: 'Calls in progress (a user sees only the calls of their extension).', response: { 200: z.array(callOut) } } }, async (req) =>
    ctx.calls
      .active()
      .filter((c) => !c.isFinished && visible(req, c))
      .sort((a, b) => a.startedAt - b.startedAt)
      .map(callView),
  );

  app.delete(
    '/api/calls/:id',
    {
      schema: {
        tags: ['calls'],
        summary: 'Hang up a call in progress (Q.850 16; the CDR says the API ended it). A user may hang up their own calls.',
        params: z.object({ id: z.string() }),
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const call = findCall(ctx, req.params.id);
      if (!call || call.isFinished) throw notFound(`call ${req.params.id}`);
      if (p.role !== 'admin' && (p.extension === undefined || !involves(call, p.extension))) throw forbidden('you may only hang up the calls of your own extension');
      const view = callView(call);
      ctx.core.hangup(call, 16, `hung up through the API by ${p.username}`);
      audit(req, 'call.hangup', call.linkedId, { caller: view.caller.number, dialed: view.dialed, callee: view.callee.number, state: view.state });
      return reply.status(204).send();
    },
  );

  app.post(
    '/api/calls',
    {
      schema: {
        tags: ['calls'],
        summary: "Click-to-call: ring `from`'s phones (showing `to`), then dial `to` as that extension. A user may only call from their own extension.",
        body: z
          .object({
            from: z.string().min(1).max(32).describe('The extension whose phones ring first.'),
            to: z
              .string()
              .regex(/^\+?[0-9*#]{1,40}$/, 'digits, * and #, optional leading +')
              .describe('The number dialled once `from` answers, exactly as the extension would dial it.'),
            autoAnswer: z.boolean().default(false).describe('Ask the phone to answer by itself (Call-Info answer-after=0 and Alert-Info info=alert-autoanswer).'),
          })
          .strict(),
        response: { 202: z.object({ id: z.string().describe('The call id (as GET /api/calls and the CDR linked_id).') }) },
      },
    },
    async (req, reply) => {
      const { from, to, autoAnswer } = req.body;
      ownExtension(req, from, ['admin']);
      const ext = ctx.currentConfig.extensions.find((e) => e.number === from);
      if (!ext) throw notFound(`extension ${from}`);
      if (ext.suspended) throw conflict(`extension ${from} is suspended`, 'from');
      const contacts = ringTargets(ctx.hotDesk, from);
      if (contacts.length === 0) throw conflict(`extension ${from} has no registered phone`, 'from');
      const started = ctx.core.originate({ from: ext, to, contacts, autoAnswer });
      if (!started.ok) {
        if (started.problem === 'not-registered') throw conflict(started.message, 'from');
        throw badRequest(started.message, 'to');
      }
      audit(req, 'call.originate', started.call.linkedId, { from, to, autoAnswer });
      return reply.status(202).send({ id: started.call.linkedId });
    },
  );
};
