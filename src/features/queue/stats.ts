// Call-centre statistics (F-QUEUE counters, F-AGENT time in state, issue #11), computed from the append-only
// queue event log only, so any figure can be recomputed later from the same rows. Pure: the CLI (and later
// the API) reads the events and passes them in with the time, so tests can feed scripted events.
import type { QueueConfig } from '../../config/queue-schema.js';
import { AGENT_STATES, type AgentState, type QueueEvent } from '../../store/queue-event-store.js';
import { startOfDay, wallClock } from '../../util/zoned-time.js';

export type Bucket = 'hour' | 'day';

/** The outcome counters every figure shares; each event counts at its own time. */
export interface CallCounts {
  offered: number;
  answered: number;
  abandoned: number;
  overflow: number;
  timeout: number;
  /** The caller left with the exit key (EXIT). */
  exited: number;
  /** Cut by a server stop or crash (LOST). */
  lost: number;
  /** answered ÷ offered, 0–1; 0 when nothing was offered. */
  answerRate: number;
}

export interface AgentLive {
  agent: string;
  level: number;
  state: AgentState;
  /** The pause reason (離席中…), when paused with one. */
  reason: string | null;
  /** Epoch ms of the AGENT event that set the state; null when the agent was never seen (offline). */
  since: number | null;
}

export interface LiveQueueFigures extends CallCounts {
  queue: string;
  name: string;
  waitingNow: number;
  /** How long the longest-waiting caller has waited; 0 when nobody waits. */
  longestWaitMs: number;
  agents: { online: number; available: number; ringing: number; inCall: number; paused: number; wrapup: number };
  /** The members in config order. */
  members: AgentLive[];
}

export interface LiveInput {
  queues: readonly Pick<QueueConfig, 'number' | 'name' | 'members'>[];
  /** Events since the start of today (startOfDay). */
  today: readonly QueueEvent[];
  /** ENTER events without an outcome yet (QueueEventStore.open). */
  open: readonly QueueEvent[];
  /** The latest AGENT event per (queue, agent). */
  agentStates: readonly QueueEvent[];
  now: number;
}

export interface QueuePeriodRow extends CallCounts {
  /** Epoch ms of the bucket's local start (the bucket may be clipped by the period). */
  bucket: number;
  queue: string;
  /** Over the calls answered in the bucket; 0 when none. Average rounded to the ms. */
  avgWaitMs: number;
  maxWaitMs: number;
  /** Sum of the talk time of calls that ended (COMPLETE) in the bucket. */
  talkMs: number;
  /** Agents' time in after-call work in the bucket. */
  wrapupMs: number;
}

export interface AgentPeriodRow {
  bucket: number;
  queue: string;
  agent: string;
  answered: number;
  /** Offers not taken (RINGNOANSWER). */
  noAnswer: number;
  talkMs: number;
  /** talkMs ÷ calls that ended in the bucket, rounded to the ms; 0 when none. */
  avgTalkMs: number;
  stateMs: Record<AgentState, number>;
}

export interface PeriodOptions {
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  bucket: Bucket;
  timeZone: string;
  /** The last AGENT event per (queue, agent) before `from`: each agent's state when the period starts. */
  stateBefore: readonly QueueEvent[];
  /** Time in a state stops here when the period runs into the future. */
  now: number;
  /** Queues that get a row in every bucket even without events (the configured ones). */
  queues?: readonly string[];
}

export interface PeriodFigures {
  queues: QueuePeriodRow[];
  agents: AgentPeriodRow[];
}

// --- Buckets ---------------------------------------------------------------------------------------

/** The start of the local hour that contains `t` (each of a DST fall-back's two 1 a.m. hours is its own). */
function startOfHour(t: number, timeZone: string): number {
  const w = wallClock(t, timeZone);
  const ms = ((t % 1000) + 1000) % 1000;
  return t - w.minute * 60_000 - w.second * 1000 - ms;
}

export function bucketStart(t: number, bucket: Bucket, timeZone: string): number {
  return bucket === 'hour' ? startOfHour(t, timeZone) : startOfDay(t, timeZone);
}

/** The start of the bucket after the one starting at `start`. */
export function nextBucket(start: number, bucket: Bucket, timeZone: string): number {
  // An hour later is in the next local hour; 26 h later is in the next day, as days last 23–25 h.
  return bucket === 'hour' ? startOfHour(start + 3_600_000, timeZone) : startOfDay(start + 26 * 3_600_000, timeZone);
}

// --- Events ----------------------------------------------------------------------------------------

/** An AGENT event's detail as a state; undefined for a word this version does not know. */
export function parseAgentState(detail: string | null | undefined): { state: AgentState; reason: string | null } | undefined {
  if (!detail) return undefined;
  if (detail.startsWith('paused:')) return { state: 'paused', reason: detail.slice('paused:'.length) || null };
  return (AGENT_STATES as readonly string[]).includes(detail) ? { state: detail as AgentState, reason: null } : undefined;
}

const emptyCounts = (): CallCounts => ({ offered: 0, answered: 0, abandoned: 0, overflow: 0, timeout: 0, exited: 0, lost: 0, answerRate: 0 });

/** Adds one event to the counters (answerRate is set by finishCounts). */
function count(c: CallCounts, e: QueueEvent): void {
  switch (e.event) {
    case 'ENTER':
      c.offered++;
      break;
    case 'ANSWER':
      c.answered++;
      break;
    case 'ABANDON':
      c.abandoned++;
      break;
    case 'OVERFLOW':
      c.overflow++;
      break;
    case 'TIMEOUT':
      c.timeout++;
      break;
    case 'EXIT':
      c.exited++;
      break;
    case 'LOST':
      c.lost++;
      break;
    default:
      break;
  }
}

function finishCounts(c: CallCounts): void {
  // A call offered before the period and answered in it can lift answered above offered: capped at 1.
  c.answerRate = c.offered === 0 ? 0 : Math.min(1, c.answered / c.offered);
}

const key = (queue: string, agent: string): string => `${queue}\u0000${agent}`;

// --- Live ------------------------------------------------------------------------------------------

/** Today's counters, the callers waiting and each member's state, per configured queue. */
export function liveFigures(input: LiveInput): LiveQueueFigures[] {
  const latest = new Map<string, QueueEvent>();
  for (const e of input.agentStates) if (e.event === 'AGENT' && e.agent) latest.set(key(e.queue, e.agent), e);
  return input.queues.map((q) => {
    const counts = emptyCounts();
    for (const e of input.today) if (e.queue === q.number) count(counts, e);
    finishCounts(counts);
    const waiting = input.open.filter((e) => e.queue === q.number && e.event === 'ENTER');
    const oldest = waiting.reduce((m, e) => Math.min(m, e.at), Infinity);
    const members: AgentLive[] = q.members.map((m) => {
      const e = latest.get(key(q.number, m.extension));
      const parsed = parseAgentState(e?.detail);
      // Never seen, or a state word this version does not know: offline, so it is not counted as ready.
      return parsed && e ? { agent: m.extension, level: m.level, ...parsed, since: e.at } : { agent: m.extension, level: m.level, state: 'offline', reason: null, since: null };
    });
    const n = (...states: AgentState[]) => members.filter((m) => states.includes(m.state)).length;
    return {
      queue: q.number,
      name: q.name,
      ...counts,
      waitingNow: waiting.length,
      longestWaitMs: waiting.length === 0 ? 0 : Math.max(0, input.now - oldest),
      agents: {
        online: members.length - n('offline'),
        available: n('available'),
        ringing: n('ringing'),
        inCall: n('in_call', 'on_hold'),
        paused: n('paused'),
        wrapup: n('wrapup'),
      },
      members,
    };
  });
}

// --- Period ----------------------------------------------------------------------------------------

const emptyStates = (): Record<AgentState, number> => Object.fromEntries(AGENT_STATES.map((s) => [s, 0])) as Record<AgentState, number>;

interface QueueAcc {
  counts: CallCounts;
  waitSum: number;
  maxWait: number;
  talkMs: number;
}

interface AgentAcc {
  answered: number;
  noAnswer: number;
  talkMs: number;
  completed: number;
  stateMs: Record<AgentState, number>;
}

/**
 * Figures per (bucket, queue) and per (bucket, queue, agent) for [from, to). Queue rows come for every
 * bucket and every queue named in `queues` or seen in the events; agent rows for agents with anything to
 * show in the bucket. Time before an agent's first known state is not counted (it is not known).
 */
export function periodFigures(events: readonly QueueEvent[], opts: PeriodOptions): PeriodFigures {
  const { from, to, bucket, timeZone } = opts;
  if (!(from < to)) return { queues: [], agents: [] };
  const starts: number[] = [];
  for (let b = bucketStart(from, bucket, timeZone); b < to; b = nextBucket(b, bucket, timeZone)) starts.push(b);
  const bucketOf = (t: number): number => {
    // Binary search: the last bucket start <= t.
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };

  const inPeriod = events.filter((e) => e.at >= from && e.at < to);
  // Stable: events of the same millisecond keep their log order.
  const sorted = [...inPeriod].sort((a, b) => a.at - b.at);

  const queueNames = new Set(opts.queues ?? []);
  for (const e of [...sorted, ...opts.stateBefore]) queueNames.add(e.queue);
  const queueAcc = starts.map(() => new Map<string, QueueAcc>());
  const agentAcc = starts.map(() => new Map<string, AgentAcc>());
  const qAcc = (i: number, queue: string): QueueAcc => {
    let a = queueAcc[i]!.get(queue);
    if (!a) queueAcc[i]!.set(queue, (a = { counts: emptyCounts(), waitSum: 0, maxWait: 0, talkMs: 0 }));
    return a;
  };
  const aAcc = (i: number, queue: string, agent: string): AgentAcc => {
    let a = agentAcc[i]!.get(key(queue, agent));
    if (!a) agentAcc[i]!.set(key(queue, agent), (a = { answered: 0, noAnswer: 0, talkMs: 0, completed: 0, stateMs: emptyStates() }));
    return a;
  };

  for (const e of sorted) {
    const i = bucketOf(e.at);
    const q = qAcc(i, e.queue);
    count(q.counts, e);
    if (e.event === 'ANSWER') {
      const wait = e.waitMs ?? 0;
      q.waitSum += wait;
      q.maxWait = Math.max(q.maxWait, wait);
      if (e.agent) aAcc(i, e.queue, e.agent).answered++;
    } else if (e.event === 'COMPLETE') {
      q.talkMs += e.talkMs ?? 0;
      if (e.agent) {
        const a = aAcc(i, e.queue, e.agent);
        a.talkMs += e.talkMs ?? 0;
        a.completed++;
      }
    } else if (e.event === 'RINGNOANSWER' && e.agent) {
      aAcc(i, e.queue, e.agent).noAnswer++;
    }
  }

  // Each agent's timeline in each queue: the state at `from`, then every AGENT event, the last one running
  // until the period ends (or now, when it runs into the future).
  const end = Math.min(to, opts.now);
  const timelines = new Map<string, { queue: string; agent: string; at: number; state: AgentState }[]>();
  const push = (queue: string, agent: string, at: number, state: AgentState) => {
    let t = timelines.get(key(queue, agent));
    if (!t) timelines.set(key(queue, agent), (t = []));
    t.push({ queue, agent, at, state });
  };
  for (const e of opts.stateBefore) {
    const s = e.event === 'AGENT' && e.at < from && e.agent ? parseAgentState(e.detail) : undefined;
    if (s && e.agent) push(e.queue, e.agent, from, s.state);
  }
  for (const e of sorted) {
    const s = e.event === 'AGENT' && e.agent ? parseAgentState(e.detail) : undefined;
    if (s && e.agent) push(e.queue, e.agent, e.at, s.state);
  }
  for (const segments of timelines.values()) {
    segments.forEach((seg, j) => {
      const segEnd = Math.min(segments[j + 1]?.at ?? end, end);
      for (let i = bucketOf(seg.at); i < starts.length && starts[i]! < segEnd; i++) {
        const lo = Math.max(seg.at, starts[i]!);
        const hi = Math.min(segEnd, starts[i + 1] ?? to);
        if (hi > lo) aAcc(i, seg.queue, seg.agent).stateMs[seg.state] += hi - lo;
      }
    });
  }

  const queues: QueuePeriodRow[] = [];
  const agents: AgentPeriodRow[] = [];
  const sortedQueues = [...queueNames].sort();
  starts.forEach((start, i) => {
    const byAgent = [...agentAcc[i]!.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const queue of sortedQueues) {
      const q = queueAcc[i]!.get(queue) ?? { counts: emptyCounts(), waitSum: 0, maxWait: 0, talkMs: 0 };
      finishCounts(q.counts);
      let wrapupMs = 0;
      for (const [k, a] of byAgent) {
        const [aq, agent] = k.split('\u0000') as [string, string];
        if (aq !== queue) continue;
        wrapupMs += a.stateMs.wrapup;
        agents.push({
          bucket: start,
          queue,
          agent,
          answered: a.answered,
          noAnswer: a.noAnswer,
          talkMs: a.talkMs,
          avgTalkMs: a.completed === 0 ? 0 : Math.round(a.talkMs / a.completed),
          stateMs: a.stateMs,
        });
      }
      queues.push({
        bucket: start,
        queue,
        ...q.counts,
        avgWaitMs: q.counts.answered === 0 ? 0 : Math.round(q.waitSum / q.counts.answered),
        maxWaitMs: q.maxWait,
        talkMs: q.talkMs,
        wrapupMs,
      });
    }
  });
  return { queues, agents };
}
