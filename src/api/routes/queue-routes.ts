// Queues and agents (issue #12, F-QUEUE, F-AGENT): the live board, the period statistics, and pausing or
// resuming an agent. Live states come from the running QueueCenter (what the dispatcher uses); counters and
// statistics from the queue event log, computed as `hibiki queue show|stats` computes them.
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { agentQueues, parseStatsTime, QueueCommandError, statsSpanProblem, WAITING_HORIZON_MS } from '../../features/queue/stats-report.js';
import { liveFigures, periodFigures } from '../../features/queue/stats.js';
import { AGENT_STATES } from '../../store/queue-event-store.js';
import { startOfDay } from '../../util/zoned-time.js';
import { allow, ownExtension, principalOf } from '../access.js';
import { badRequest, notFound } from '../errors.js';
import type { RouteModule } from '../route-types.js';

const agentStateEnum = z.enum(AGENT_STATES);
const countsOut = {
  offered: z.number(),
  answered: z.number(),
  abandoned: z.number(),
  overflow: z.number(),
  timeout: z.number(),
  exited: z.number(),
  lost: z.number(),
  answerRate: z.number().describe('answered ÷ offered, 0–1.'),
};

const queueOut = z.object({
  number: z.string(),
  name: z.string(),
  strategy: z.string(),
  waiting: z.array(z.object({ position: z.number(), caller: z.string(), waitingSeconds: z.number() })),
  agents: z.array(z.object({ extension: z.string(), name: z.string(), level: z.number(), state: agentStateEnum, pausedReason: z.string().optional() })),
  today: z.object({ ...countsOut, avgWaitSeconds: z.number().describe('Over the calls answered today.'), longestWaitSeconds: z.number().describe('Of the callers waiting now.') }),
});

const holdOut = z.object({
  extension: z.string(),
  queues: z.array(z.object({ queue: z.string(), changed: z.boolean().describe('false: it already was so.'), state: agentStateEnum, pausedReason: z.string().optional() })),
});

const iso = (ms: number) => new Date(ms).toISOString();

export const queueRoutes: RouteModule = (app, { ctx, audit }) => {
  app.get(
    '/api/queues',
    { preHandler: allow('admin', 'supervisor'), schema: { tags: ['queues'], summary: 'Every queue now: callers waiting, agents, today’s counters.', response: { 200: z.array(queueOut) } } },
    async () => {
      const config = ctx.currentConfig;
      const now = ctx.clock.now();
      const events = ctx.queues.events;
      const today = events.between(startOfDay(now, config.tenant.timezone), Number.MAX_SAFE_INTEGER);
      const open = events.open(now - WAITING_HORIZON_MS);
      const figures = liveFigures({ queues: config.queues, today, open, agentStates: events.lastAgentStates(), now });
      const names = new Map(config.extensions.map((e) => [e.number, e.name]));
      return config.queues.map((q, i) => {
        const f = figures[i]!;
        const answered = today.filter((e) => e.queue === q.number && e.event === 'ANSWER' && e.waitMs != null);
        const waitSum = answered.reduce((s, e) => s + (e.waitMs ?? 0), 0);
        const waiting = open.filter((e) => e.queue === q.number && e.event === 'ENTER').sort((a, b) => a.at - b.at);
        return {
          number: q.number,
          name: q.name,
          strategy: q.strategy,
          waiting: waiting.map((e, n) => ({ position: n + 1, caller: e.detail ?? '', waitingSeconds: Math.max(0, Math.floor((now - e.at) / 1000)) })),
          agents: q.members.map((m) => {
            const state = ctx.queues.board.stateOf(q.number, m.extension, now);
            const reason = state === 'paused' ? ctx.queues.holds.holdOf(q.number, m.extension, now)?.reason : undefined;
            return { extension: m.extension, name: names.get(m.extension) ?? '', level: m.level, state, ...(reason ? { pausedReason: reason } : {}) };
          }),
          today: {
            offered: f.offered,
            answered: f.answered,
            abandoned: f.abandoned,
            overflow: f.overflow,
            timeout: f.timeout,
            exited: f.exited,
            lost: f.lost,
            answerRate: f.answerRate,
            avgWaitSeconds: answered.length === 0 ? 0 : Math.round(waitSum / answered.length / 100) / 10,
            longestWaitSeconds: Math.floor(f.longestWaitMs / 1000),
          },
        };
      });
    },
  );

  app.get(
    '/api/queues/stats',
    {
      preHandler: allow('admin', 'supervisor'),
      schema: {
        tags: ['queues'],
        summary: 'Queue (and with agents=true, agent) figures per hour or day of a period, as `hibiki queue stats`.',
        querystring: z.object({
          from: z.string().describe('YYYY-MM-DD or YYYY-MM-DDTHH:MM, tenant time zone.'),
          to: z.string().describe('YYYY-MM-DD (the whole day) or YYYY-MM-DDTHH:MM.'),
          by: z.enum(['hour', 'day']).default('day'),
          agents: z.enum(['true', 'false']).default('false').describe('Also per-agent rows.'),
        }),
        response: {
          200: z.object({
            from: z.string(),
            to: z.string(),
            by: z.enum(['hour', 'day']),
            queues: z.array(
              z.object({ bucket: z.string(), queue: z.string(), name: z.string(), ...countsOut, avgWaitMs: z.number(), maxWaitMs: z.number(), talkMs: z.number(), wrapupMs: z.number() }),
            ),
            agents: z.array(
              z.object({
                bucket: z.string(),
                queue: z.string(),
                agent: z.string(),
                name: z.string(),
                answered: z.number(),
                noAnswer: z.number(),
                talkMs: z.number(),
                avgTalkMs: z.number(),
                stateMs: z.record(z.string(), z.number()).describe('Milliseconds in each agent state.'),
              }),
            ),
          }),
        },
      },
    },
    async (req) => {
      const config = ctx.currentConfig;
      const tz = config.tenant.timezone;
      const time = (text: string, name: 'from' | 'to') => {
        try {
          return parseStatsTime(text, name, tz);
        } catch (err) {
          if (err instanceof QueueCommandError) throw badRequest(err.message.replace(`--${name}`, name), name);
          throw err;
        }
      };
      const from = time(req.query.from, 'from');
      const to = time(req.query.to, 'to');
      if (to <= from) throw badRequest(`to ${req.query.to} is not after from ${req.query.from}`, 'to');
      const tooWide = statsSpanProblem(from, to, req.query.by);
      if (tooWide) throw badRequest(tooWide.replace(', or use --by day', ', or use by=day'), 'to');
      const events = ctx.queues.events;
      const f = periodFigures(events.between(from, to), {
        from,
        to,
        bucket: req.query.by,
        timeZone: tz,
        stateBefore: events.lastAgentStatesBefore(from),
        now: ctx.clock.now(),
        queues: config.queues.map((q) => q.number),
      });
      const queueName = new Map(config.queues.map((q) => [q.number, q.name]));
      const agentName = new Map(config.extensions.map((e) => [e.number, e.name]));
      return {
        from: iso(from),
        to: iso(to),
        by: req.query.by,
        queues: f.queues.map((r) => ({ ...r, bucket: iso(r.bucket), name: queueName.get(r.queue) ?? '' })),
        agents: req.query.agents === 'true' ? f.agents.map((r) => ({ ...r, bucket: iso(r.bucket), name: agentName.get(r.agent) ?? '' })) : [],
      };
    },
  );

  /** The queues a pause or resume applies to (the one named, else all the agent's); mistakes are 400/404. */
  const targets = (req: FastifyRequest, extension: string, queue: string | undefined): string[] => {
    ownExtension(req, extension, ['admin', 'supervisor']);
    const config = ctx.currentConfig;
    if (!config.extensions.some((e) => e.number === extension)) throw notFound(`extension ${extension}`);
    if (queue !== undefined && !config.queues.some((q) => q.number === queue)) throw notFound(`queue ${queue}`);
    try {
      return agentQueues(config, extension, queue);
    } catch (err) {
      if (err instanceof QueueCommandError) throw badRequest(err.message, 'queue');
      throw err;
    }
  };
  const holdView = (extension: string, changes: Array<{ queue: string; changed: boolean }>) => {
    const now = ctx.clock.now();
    return {
      extension,
      queues: changes.map((c) => {
        const state = ctx.queues.board.stateOf(c.queue, extension, now);
        const reason = ctx.queues.holds.holdOf(c.queue, extension, now)?.reason;
        return { queue: c.queue, changed: c.changed, state, ...(state === 'paused' && reason ? { pausedReason: reason } : {}) };
      }),
    };
  };
  const extensionParams = z.object({ extension: z.string() });

  app.post(
    '/api/agents/:extension/pause',
    {
      schema: {
        tags: ['queues'],
        summary: 'Pause an agent in one queue or all of theirs (admin, supervisor, or the agent).',
        params: extensionParams,
        body: z.object({ queue: z.string().optional(), reason: z.string().min(1).max(40).optional().describe('離席中, 休憩…') }).default({}),
        response: { 200: holdOut },
      },
    },
    async (req) => {
      const extension = req.params.extension;
      const queues = targets(req, extension, req.body.queue);
      const by = `api:${principalOf(req).username}`;
      const changes = ctx.queues.holds.pause(extension, queues, { reason: req.body.reason, by, now: ctx.clock.now() });
      ctx.queues.dispatcher.agentChanged(extension);
      audit(req, 'agent.pause', extension, { queues, reason: req.body.reason });
      return holdView(extension, changes);
    },
  );

  app.post(
    '/api/agents/:extension/resume',
    {
      schema: {
        tags: ['queues'],
        summary: 'Resume an agent in one queue or all of theirs (admin, supervisor, or the agent).',
        params: extensionParams,
        body: z.object({ queue: z.string().optional() }).default({}),
        response: { 200: holdOut },
      },
    },
    async (req) => {
      const extension = req.params.extension;
      const queues = targets(req, extension, req.body.queue);
      const by = `api:${principalOf(req).username}`;
      const changes = ctx.queues.holds.resume(extension, queues, { by, now: ctx.clock.now() });
      ctx.queues.dispatcher.agentChanged(extension);
      audit(req, 'agent.resume', extension, { queues });
      return holdView(extension, changes);
    },
  );
};
