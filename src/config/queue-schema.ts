// YAML schema of ACD queues (F-QUEUE, F-AGENT, issue #11): `queues:` entries with their members and skill
// levels, the ring strategy, waiting limits and where calls go when they cannot wait, the caller's
// announcements, the agent's whisper, and the agent-state rules (auto-pause, after-call work). The checks
// that need the whole file (number clashes, members that are extensions, destinations) are in checkQueues,
// called once from schema.ts.
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { forwardDestinationVerdict, type DestinationContext, type RestrictionRules } from '../rules/number-rules.js';
import { destinationSchema, parseIvrDestination, promptSchema, type IvrDestination } from './ivr-schema.js';
import { headerText, int, type IssueSink } from './schema-kit.js';
import { recordFieldSchema } from './recording-schema.js';

export const QUEUE_STRATEGIES = ['ringall', 'leastrecent', 'shortesttalk', 'random', 'roundrobin', 'weighted', 'fewestcalls', 'linear'] as const;
export type QueueStrategy = (typeof QUEUE_STRATEGIES)[number];

/** The lowest skill level (offered first) and the highest. */
export const MIN_LEVEL = 1;
export const MAX_LEVEL = 9;

const extensionNumber = z
  .union([z.string(), z.number().int().nonnegative()], { error: 'an extension number is a string of digits' })
  .transform((v) => String(v))
  .pipe(z.string().regex(/^[2-9][0-9]{1,14}$/, 'an extension number is 2–15 digits and starts with 2–9'));

const memberSchema = z
  .union([
    extensionNumber.transform((extension) => ({ extension, level: MIN_LEVEL })),
    z
      .object({
        extension: extensionNumber.describe('The agent: an extension; every phone registered for it rings.'),
        level: z
          .number()
          .int()
          .min(MIN_LEVEL)
          .max(MAX_LEVEL)
          .default(MIN_LEVEL)
          .describe(
            'Skill level 1–9: only the lowest level with an available agent is offered a call (strict). With strategy weighted the level is a share instead: level 1 gets 9 shares, level 9 one.',
          ),
      })
      .strict(),
  ])
  .describe('An agent: an extension number, or {extension, level}.');

/** Where a queue call goes when it cannot wait (overflow, timeout, exit key): no `repeat` or `parent`, those are IVR words. */
const queueDestinationSchema = destinationSchema.refine((v) => {
  const d = parseIvrDestination(v);
  return d !== undefined && d.kind !== 'repeat' && d.kind !== 'parent';
}, 'a queue destination is a number, voicemail:<box>, prompt:<name or file.wav> or hangup');

export const queueSchema = z
  .object({
    number: extensionNumber.describe('Number dialled to reach the queue (and named by DIDs, IVR keys, schedules and forwarding); unique across every local number.'),
    name: z.string().min(1).describe('Queue name (any UTF-8), for logs, statistics and the agent display.'),
    strategy: z
      .enum(QUEUE_STRATEGIES)
      .default('ringall')
      .describe(
        'Which available agent of the lowest level is offered the longest-waiting call: ringall (every one at once), leastrecent (the one whose last call from this queue ended longest ago), shortesttalk (least talk time in this queue today), fewestcalls (fewest answered calls from this queue today), random, roundrobin (in member order, continuing after the one offered last), linear (always in member order), weighted (random, shares by level).',
      ),
    members: z.array(memberSchema).max(256, 'at most 256 agents per queue').default([]).describe('The agents, in member order (roundrobin, linear).'),
    language: z.enum(['ja', 'en']).default('ja').describe('Language of the prompts callers hear.'),
    maxWaiting: int(20, 0, 1000, 'Callers that may wait at once; 0: no waiting, only as many calls as there are available agents. A call beyond it goes to overflowDestination.'),
    timeout: int(300, 0, 86400, 'Seconds from arrival after which a caller still waiting goes to timeoutDestination; 0: no limit.'),
    overflowDestination: queueDestinationSchema.optional().describe('Where a call goes that cannot wait (maxWaiting reached). Unset: busy (486, Q.850 17).'),
    timeoutDestination: queueDestinationSchema.optional().describe('Where a call goes after timeout. Unset: the call ends as busy (Q.850 17).'),
    agentRingTime: int(15, 5, 300, 'Seconds an agent is rung before the offer goes to the next agent.'),
    retryDelay: int(2, 0, 60, 'Seconds before a call that no agent answered is offered again.'),
    ringBeforeQueueSeconds: int(0, 0, 60, 'Seconds the caller hears ringing while agents are offered the call before the queue answers with its greeting and music; 0: answered at once.'),
    greeting: promptSchema.optional().describe('Played once after the queue answers (a prompt name or WAV path, or {ja, en}). Unset: none.'),
    periodicAnnouncement: promptSchema.default('queue-periodic').describe('Played to a waiting caller every periodicAnnouncementInterval seconds ("all our agents are busy…").'),
    periodicAnnouncementInterval: int(30, 0, 3600, 'Seconds between periodic announcements; 0: none.'),
    announcePosition: z.boolean().default(true).describe('With each periodic announcement, tell the caller their position in the queue.'),
    announceWaitTime: z
      .boolean()
      .default(true)
      .describe('With each periodic announcement, tell the caller the estimated wait (from the waits of the queue\u2019s last 20 answered calls), when there is an estimate.'),
    moh: z.string().min(1).default('default').describe('Music-on-hold class the waiting caller hears.'),
    whisper: promptSchema.optional().describe('Played to the agent alone when they answer, before the caller is connected (e.g. the queue name).'),
    callsPerAgent: int(1, 1, 10, 'Calls from this queue an agent may have at once (offers beyond the first need call waiting on the phone).'),
    displayPrefix: headerText().pipe(z.string().max(32)).optional().describe('Put before the caller name the agent\u2019s phone shows, e.g. "[サポート] ".'),
    exitKey: z
      .enum(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#'])
      .optional()
      .describe('A key a waiting caller may press to leave the queue for exitDestination (quote * and # in YAML).'),
    exitDestination: queueDestinationSchema.optional().describe('Where exitKey sends the caller (e.g. voicemail:<box>).'),
    autoPause: z.boolean().default(false).describe('Pause an agent in this queue when they do not answer an offered call.'),
    autoPauseSeconds: int(0, 0, 86400, 'Seconds an auto-pause lasts; 0: until the agent resumes (*52).'),
    wrapupSeconds: z
      .number()
      .int()
      .min(0)
      .max(86400)
      .optional()
      .describe('After-call work: seconds an agent gets no call from this queue after one ends; 0: until the agent resumes (*52). Unset: none.'),
    record: recordFieldSchema,
  })
  .strict()
  .superRefine((q, ctx) => {
    if ((q.exitKey === undefined) !== (q.exitDestination === undefined)) {
      ctx.addIssue({ code: 'custom', path: [q.exitKey === undefined ? 'exitKey' : 'exitDestination'], message: 'exitKey and exitDestination go together' });
    }
    const seen = new Set<string>();
    q.members.forEach((m, j) => {
      if (seen.has(m.extension)) ctx.addIssue({ code: 'custom', path: ['members', j], message: `${m.extension} is listed twice in queue ${q.number}` });
      seen.add(m.extension);
    });
  });

export const queueListSchema = z.array(queueSchema).max(1000).default([]).describe('ACD queues (F-QUEUE): callers wait with music and announcements while agents are offered calls.');

export type QueueConfig = z.infer<typeof queueSchema>;
export type QueueMember = QueueConfig['members'][number];
export type QueueDestination = Exclude<IvrDestination, { kind: 'repeat' } | { kind: 'parent' }>;

/** The destination a queue setting names (the schema has checked it). */
export function queueDestination(text: string): QueueDestination {
  const d = parseIvrDestination(text);
  return d === undefined || d.kind === 'repeat' || d.kind === 'parent' ? { kind: 'hangup' } : d;
}

/** What checkQueues needs of the rest of the file. */
export interface QueueCheckContext {
  queues: readonly QueueConfig[];
  /** Every other local number (extensions, groups, IVRs, voicemail boxes, park numbers), with what it is. */
  taken: ReadonlyMap<string, string>;
  extensions: ReadonlySet<string>;
  /** Service codes and prefixes that numbers must not overlap. */
  codes: ReadonlyArray<{ code: string; name: string }>;
  routes: DestinationContext['routes'];
  restrictions: RestrictionRules;
  /** The dial-plan view of destinations, with queue numbers counted as local. */
  destinations: DestinationContext;
}

/** Cross-checks of `queues:` against the rest of the file. */
export function checkQueues(c: QueueCheckContext, ctx: IssueSink): void {
  const index = new Map<string, number>();
  c.queues.forEach((q, i) => {
    const path = ['queues', i, 'number'];
    const first = index.get(q.number);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path, params: { conflictWith: ['queues', first, 'number'] }, message: `queue number ${q.number} is defined twice` });
    else index.set(q.number, i);
    const clash = c.taken.get(q.number);
    if (clash !== undefined) ctx.addIssue({ code: 'custom', path, message: `queue ${q.number} clashes with ${clash}` });
    for (const { code, name } of c.codes) {
      if (q.number.startsWith(code) || code.startsWith(q.number)) ctx.addIssue({ code: 'custom', path, message: `queue ${q.number} overlaps ${name} ${code}` });
    }
    c.routes.forEach((r) => {
      if (q.number.startsWith(r.prefix) && q.number.length >= r.minLength && q.number.length <= r.maxLength) {
        ctx.addIssue({ code: 'custom', path, message: `queue ${q.number} would be taken by the route prefix ${r.prefix}` });
      }
    });
    q.members.forEach((m, j) => {
      // Deleting an extension that is still an agent is refused (F-USER): remove it from the queue first.
      if (!c.extensions.has(m.extension))
        ctx.addIssue({
          code: 'custom',
          path: ['queues', i, 'members', j],
          message: `queue ${q.number} member ${m.extension} is not an extension (remove it from the queue when deleting the extension)`,
        });
    });
    const check = (key: 'overflowDestination' | 'timeoutDestination' | 'exitDestination') => {
      const text = q[key];
      if (text === undefined) return;
      const d = queueDestination(text);
      const where = ['queues', i, key];
      if (d.kind === 'voicemail' && c.destinations.isMailbox?.(d.box) !== true) ctx.addIssue({ code: 'custom', path: where, message: `queue ${q.number}: unknown voicemail box ${d.box}` });
      if (d.kind === 'prompt' && /\.wav$/i.test(d.prompt) && !existsSync(d.prompt)) ctx.addIssue({ code: 'custom', path: where, message: `queue ${q.number}: prompt file ${d.prompt} not found` });
      if (d.kind !== 'number') return;
      if (d.number === q.number) {
        ctx.addIssue({ code: 'custom', path: where, message: `queue ${q.number} cannot send its calls back to itself` });
        return;
      }
      // The admin chose the number: only the tenant's rules apply (as for a group's no-answer destination).
      const v = forwardDestinationVerdict(d.number, { number: q.number, outboundClass: 'international' }, c.restrictions, c.destinations);
      if (!v.ok) ctx.addIssue({ code: 'custom', path: where, message: `queue ${q.number}: unknown destination ${d.number} (${v.reason})` });
    };
    check('overflowDestination');
    check('timeoutDestination');
    check('exitDestination');
  });
  reportOverflowLoops(c.queues, index, ctx);
}

/**
 * Queues whose overflowDestination leads back to themselves through other queues' overflow: a call that
 * can wait in none of them would go round without end at once (a timeout takes time, and the exit key is
 * the caller's choice, so only overflow makes such a loop).
 */
function reportOverflowLoops(queues: readonly QueueConfig[], index: ReadonlyMap<string, number>, ctx: IssueSink): void {
  const next = (q: QueueConfig): QueueConfig | undefined => {
    const d = q.overflowDestination === undefined ? undefined : queueDestination(q.overflowDestination);
    const i = d?.kind === 'number' ? index.get(d.number) : undefined;
    return i === undefined ? undefined : queues[i];
  };
  const reported = new Set<string>();
  queues.forEach((start, i) => {
    const path: string[] = [start.number];
    for (let q = next(start); q !== undefined && path.length <= queues.length; q = next(q)) {
      if (q.number === start.number) {
        const key = [...path].sort().join(',');
        if (!reported.has(key)) {
          reported.add(key);
          ctx.addIssue({ code: 'custom', path: ['queues', i, 'overflowDestination'], message: `queue overflow loop: ${[...path, start.number].join(' → ')}` });
        }
        return;
      }
      if (path.includes(q.number)) return;
      path.push(q.number);
    }
  });
}
