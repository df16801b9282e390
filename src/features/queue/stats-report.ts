// What `hibiki queue show|stats` and `hibiki agent show|pause|resume` print (issue #11). The CLI is another
// process than the server: everything here reads the shared SQLite database, and pause/resume write to it
// through AgentHolds (the server sees the change through data_version). cli.ts only parses arguments.
import type { HibikiConfig } from '../../config/schema.js';
import { AgentStateStore, type AgentHold } from '../../store/agent-state-store.js';
import { csvField } from '../../store/cdr-export.js';
import type { Database } from '../../store/db.js';
import { AGENT_STATES, QueueEventStore } from '../../store/queue-event-store.js';
import { AgentHolds } from './agent-holds.js';
import { liveFigures, periodFigures, type AgentPeriodRow, type Bucket, type LiveQueueFigures, type QueuePeriodRow } from './stats.js';
import { startOfDay, wallClock, zonedTime } from '../../util/zoned-time.js';

/** A mistake in the command (unknown queue, not a member, bad date): the CLI prints it and exits 2. */
export class QueueCommandError extends Error {}

type Config = Pick<HibikiConfig, 'queues' | 'tenant' | 'extensions'>;

/** A caller who has waited longer than this is taken as a leftover of a crash, not as waiting. */
export const WAITING_HORIZON_MS = 86_400_000;

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `YYYY-MM-DD HH:MM:SS` on the tenant's wall clock. */
export function localText(epochMs: number, timeZone: string): string {
  const w = wallClock(epochMs, timeZone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`;
}

/** H:MM:SS, rounded down to the second. */
export function durationText(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

const percent = (rate: number): string => `${(rate * 100).toFixed(1)}%`;

/**
 * An instant from `--from`/`--to`, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` on the tenant's wall clock. A bare
 * date in --to means the whole of that day (the period ends at the next midnight), as in `cdr export`.
 */
export function parseStatsTime(text: string, name: 'from' | 'to', timeZone: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?$/.exec(text);
  const [year, month, day, hour, minute] = m ? [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0'].map(Number) : [NaN, NaN, NaN, NaN, NaN];
  // Date.UTC rolls 2026-02-30 over to March; a rolled-over day is not the day that was asked for.
  const real = m !== null && month! >= 1 && month! <= 12 && new Date(Date.UTC(year!, month! - 1, day!)).getUTCDate() === day && hour! <= 23 && minute! <= 59;
  if (!real) throw new QueueCommandError(`--${name} must be YYYY-MM-DD or YYYY-MM-DDTHH:MM, got '${text}'`);
  const wholeDay = name === 'to' && m[4] === undefined;
  return zonedTime({ year: year!, month: month!, day: wholeDay ? day! + 1 : day!, hour: hour!, minute: minute! }, timeZone);
}

/** A report is one row per queue per hour or day: a bound keeps a wide range from freezing the server. */
export const MAX_STATS_PERIODS = 5000;

/** Why a range holds too many periods for one report, or undefined. */
export function statsSpanProblem(from: number, to: number, by: 'hour' | 'day'): string | undefined {
  const periods = Math.ceil((to - from) / (by === 'hour' ? 3_600_000 : 86_400_000));
  if (periods <= MAX_STATS_PERIODS) return undefined;
  return `the range holds ${periods} ${by}s; one report covers at most ${MAX_STATS_PERIODS} (split it, or use --by day)`;
}

export function statsRange(fromText: string, toText: string, timeZone: string, by: 'hour' | 'day' = 'hour'): { from: number; to: number } {
  const from = parseStatsTime(fromText, 'from', timeZone);
  const to = parseStatsTime(toText, 'to', timeZone);
  if (to <= from) throw new QueueCommandError(`--to ${toText} is not after --from ${fromText}`);
  const problem = statsSpanProblem(from, to, by);
  if (problem) throw new QueueCommandError(problem);
  return { from, to };
}

// --- hibiki queue show -------------------------------------------------------------------------------

export function queueShow(db: Database, config: Config, number: string | undefined, now: number): string[] {
  const queues = number === undefined ? config.queues : config.queues.filter((q) => q.number === number);
  if (number !== undefined && queues.length === 0) throw new QueueCommandError(`unknown queue ${number}`);
  if (queues.length === 0) return ['no queues configured'];
  const store = new QueueEventStore(db);
  const tz = config.tenant.timezone;
  const figures = liveFigures({
    queues,
    today: store.between(startOfDay(now, tz), Number.MAX_SAFE_INTEGER),
    open: store.open(now - WAITING_HORIZON_MS),
    agentStates: store.lastAgentStates(),
    now,
  });
  return figures.flatMap((f, i) => [...(i > 0 ? [''] : []), ...queueBlock(f, tz)]);
}

function queueBlock(f: LiveQueueFigures, tz: string): string[] {
  const a = f.agents;
  return [
    `queue ${f.queue} ${f.name}`,
    `  today: offered ${f.offered}, answered ${f.answered}, abandoned ${f.abandoned}, overflow ${f.overflow}, timeout ${f.timeout}, exited ${f.exited}, lost ${f.lost}, answer rate ${percent(f.answerRate)}`,
    `  waiting now ${f.waitingNow}, longest wait ${durationText(f.longestWaitMs)}`,
    `  agents: online ${a.online}, available ${a.available}, ringing ${a.ringing}, in call ${a.inCall}, paused ${a.paused}, wrapup ${a.wrapup}`,
    ...f.members.map((m) => {
      const state = m.reason !== null ? `${m.state} (${m.reason})` : m.state;
      return `  ${m.agent}\tlevel ${m.level}\t${state}\t${m.since !== null ? `since ${localText(m.since, tz)}` : 'never seen'}`;
    }),
  ];
}

// --- hibiki queue stats ------------------------------------------------------------------------------

export interface StatsOptions {
  from: number;
  to: number;
  by: Bucket;
  /** Per-agent rows instead of per-queue ones. */
  agents: boolean;
  csv: boolean;
}

/** The period's figures as a tab-separated table (durations H:MM:SS) or as CSV (milliseconds, CRLF lines). */
export function queueStats(db: Database, config: Config, o: StatsOptions, now: number): string {
  const store = new QueueEventStore(db);
  const tz = config.tenant.timezone;
  const f = periodFigures(store.between(o.from, o.to), {
    from: o.from,
    to: o.to,
    bucket: o.by,
    timeZone: tz,
    stateBefore: store.lastAgentStatesBefore(o.from),
    now,
    queues: config.queues.map((q) => q.number),
  });
  const queueName = new Map(config.queues.map((q) => [q.number, q.name]));
  const agentName = new Map(config.extensions.map((e) => [e.number, e.name]));
  const period = (t: number): string => localText(t, tz).slice(0, o.by === 'hour' ? 16 : 10);
  const ms = o.csv ? (n: number): string => String(n) : durationText;
  const rows = o.agents ? agentRows(f.agents, period, ms, agentName, o.csv) : queueRows(f.queues, period, ms, queueName, o.csv);
  if (!o.csv) return rows.map((r) => r.join('\t')).join('\n') + '\n';
  return rows.map((r, i) => r.map((c) => (i === 0 ? c.replace(/ /g, '_') : csvField(c))).join(',')).join('\r\n') + '\r\n';
}

type Cell = (n: number) => string;

function queueRows(rows: QueuePeriodRow[], period: (t: number) => string, ms: Cell, names: Map<string, string>, csv: boolean): string[][] {
  const header = ['period', 'queue', 'name', 'offered', 'answered', 'abandoned', 'overflow', 'timeout', 'exited', 'lost', 'answer rate'];
  const times = ['avg wait', 'max wait', 'talk', 'wrapup'];
  return [
    [...header, ...times.map((t) => (csv ? `${t} ms` : t))],
    ...rows.map((r) => [
      period(r.bucket),
      r.queue,
      names.get(r.queue) ?? '',
      ...[r.offered, r.answered, r.abandoned, r.overflow, r.timeout, r.exited, r.lost].map(String),
      csv ? String(Math.round(r.answerRate * 10_000) / 10_000) : percent(r.answerRate),
      ...[r.avgWaitMs, r.maxWaitMs, r.talkMs, r.wrapupMs].map(ms),
    ]),
  ];
}

function agentRows(rows: AgentPeriodRow[], period: (t: number) => string, ms: Cell, names: Map<string, string>, csv: boolean): string[][] {
  const times = ['talk', 'avg talk', ...AGENT_STATES].map((t) => (csv ? `${t} ms` : t));
  return [
    ['period', 'queue', 'agent', 'name', 'answered', 'no answer', ...times],
    ...rows.map((r) => [
      period(r.bucket),
      r.queue,
      r.agent,
      names.get(r.agent) ?? '',
      String(r.answered),
      String(r.noAnswer),
      ...[r.talkMs, r.avgTalkMs, ...AGENT_STATES.map((s) => r.stateMs[s])].map(ms),
    ]),
  ];
}

// --- hibiki agent show|pause|resume ------------------------------------------------------------------

const holdsOf = (db: Database): AgentHolds => new AgentHolds(new AgentStateStore(db), new QueueEventStore(db));

/** The queues a pause or resume applies to: the one named, else every queue the extension is a member of. */
export function agentQueues(config: Config, extension: string, queue: string | undefined): string[] {
  if (queue !== undefined) {
    const q = config.queues.find((x) => x.number === queue);
    if (!q) throw new QueueCommandError(`unknown queue ${queue}`);
    if (!q.members.some((m) => m.extension === extension)) throw new QueueCommandError(`${extension} is not a member of queue ${queue}`);
    return [queue];
  }
  const mine = config.queues.filter((q) => q.members.some((m) => m.extension === extension)).map((q) => q.number);
  if (mine.length === 0) throw new QueueCommandError(`${extension} is not a member of any queue`);
  return mine;
}

export function agentShow(db: Database, config: Config, extension: string | undefined, now: number): string[] {
  if (extension !== undefined) agentQueues(config, extension, undefined);
  const tz = config.tenant.timezone;
  const holds = holdsOf(db);
  const lines = [['agent', 'queue', 'name', 'hold', 'reason', 'since', 'until'].join('\t')];
  const line = (agent: string, queue: string, name: string, h: AgentHold | undefined): string =>
    [agent, queue, name, h?.state ?? 'none', h?.reason ?? '', h ? localText(h.since, tz) : '', h === undefined ? '' : h.until !== null ? localText(h.until, tz) : 'until resumed'].join('\t');
  const listed = new Set<string>();
  for (const q of config.queues) {
    for (const m of q.members) {
      if (extension !== undefined && m.extension !== extension) continue;
      listed.add(`${q.number}\u0000${m.extension}`);
      lines.push(line(m.extension, q.number, q.name, holds.holdOf(q.number, m.extension, now)));
    }
  }
  // Holds left from a queue or membership since removed from the YAML: shown, so they can be resumed away.
  for (const h of holds.all(now)) {
    if ((extension === undefined || h.agent === extension) && !listed.has(`${h.queue}\u0000${h.agent}`)) lines.push(line(h.agent, h.queue, '(not configured)', h));
  }
  return lines;
}

export function agentPause(db: Database, config: Config, extension: string, queue: string | undefined, reason: string | undefined, now: number): string[] {
  const queues = agentQueues(config, extension, queue);
  const changes = holdsOf(db).pause(extension, queues, { reason, by: 'cli', now });
  return changes.map((c) => [extension, c.queue, c.changed ? 'paused' : 'already paused', reason ?? ''].join('\t'));
}

export function agentResume(db: Database, config: Config, extension: string, queue: string | undefined, now: number): string[] {
  const queues = agentQueues(config, extension, queue);
  const changes = holdsOf(db).resume(extension, queues, { by: 'cli', now });
  return changes.map((c) => [extension, c.queue, c.changed ? 'resumed' : 'not held'].join('\t'));
}
