// Ring strategies of ACD queues (F-QUEUE, issue #11): which of the agents that may take a call now is
// offered it first, and in what order the rest follow. Pure: the queue application supplies who is
// available, each agent's history (AgentHistoryBook) and the random source, so every strategy can be
// tested call by call without a clock or a phone.
import { MAX_LEVEL, type QueueStrategy } from '../../config/queue-schema.js';

export interface Candidate {
  extension: string;
  level: number;
  /** position in the queue's member list */
  index: number;
}

export interface AgentHistory {
  /** Epoch ms when the agent's last call from this queue ended; undefined: none remembered. */
  lastEndedAt: number | undefined;
  talkMsToday: number;
  callsToday: number;
}

export interface OfferDecision {
  /** ringall: ring all of `agents` at once; otherwise offer agents[0] first, the rest is the order after it */
  ringAll: boolean;
  agents: string[];
}

export interface StrategyContext {
  history(ext: string): AgentHistory;
  /** The member offered first on the queue's previous call (roundrobin continues after it). */
  lastOffered: string | undefined;
  /** The queue's full member list, in member order, available or not. */
  members: readonly string[];
  /** Uniform in [0, 1), as Math.random. */
  random(): number;
}

const byIndex = (a: Candidate, b: Candidate): number => a.index - b.index;

/** Sort by a per-agent figure, ties (and equal figures) in member order. */
function byFigure(list: readonly Candidate[], figure: (c: Candidate) => number): Candidate[] {
  const keyed = list.map((c) => ({ c, key: figure(c) }));
  // Compared, not subtracted: -Infinity (never called) minus -Infinity would be NaN.
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.c.index - b.c.index));
  return keyed.map((k) => k.c);
}

/** A random index below n; clamped so a source that returns 1 (not Math.random) cannot index past the end. */
const below = (n: number, random: () => number): number => Math.min(n - 1, Math.floor(random() * n));

/** Fisher–Yates: every order equally likely. */
function shuffle(list: Candidate[], random: () => number): Candidate[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = below(i + 1, random);
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

/** Weighted draw without replacement: level 1 has 9 shares … level 9 one, so every level still gets calls. */
function weightedOrder(list: readonly Candidate[], random: () => number): Candidate[] {
  const pool = list.map((c) => ({ c, weight: MAX_LEVEL + 1 - c.level }));
  const out: Candidate[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((s, p) => s + p.weight, 0);
    let r = random() * total;
    // Rounding can leave r a hair above the last boundary: fall back to the last entry then.
    let k = pool.length - 1;
    for (let i = 0; i < pool.length; i++) {
      r -= pool[i]!.weight;
      if (r < 0) {
        k = i;
        break;
      }
    }
    out.push(pool[k]!.c);
    pool.splice(k, 1);
  }
  return out;
}

/** Strict skill levels: only the lowest level that has an available agent may be offered the call. */
function lowestLevel(available: readonly Candidate[]): Candidate[] {
  const min = Math.min(...available.map((c) => c.level));
  return available.filter((c) => c.level === min);
}

/**
 * Who is offered the call, in what order. `available` are the agents that may take it now (the caller has
 * filtered by agent state and calls in progress); the result only ever names them.
 */
export function chooseAgents(strategy: QueueStrategy, available: readonly Candidate[], ctx: StrategyContext): OfferDecision {
  const ringAll = strategy === 'ringall';
  if (available.length === 0) return { ringAll, agents: [] };
  // Sorted in member order first so that every strategy starts from the same order whatever the caller passed.
  const pool = (strategy === 'weighted' ? [...available] : lowestLevel(available)).sort(byIndex);
  const names = (list: readonly Candidate[]): string[] => list.map((c) => c.extension);
  switch (strategy) {
    case 'ringall':
    case 'linear':
      return { ringAll, agents: names(pool) };
    case 'roundrobin': {
      // Rotation point from the full member list: the agent offered last may be busy or paused now.
      // At least one past the highest index, so the modulus is defined even if `members` were short.
      const n = Math.max(ctx.members.length, ...pool.map((c) => c.index + 1));
      const at = ctx.lastOffered === undefined ? -1 : ctx.members.indexOf(ctx.lastOffered);
      const distance = (c: Candidate): number => (((c.index - at - 1) % n) + n) % n;
      return { ringAll, agents: names(byFigure(pool, distance)) };
    }
    case 'leastrecent':
      // Never-called agents (no end time) before everyone who was called.
      return { ringAll, agents: names(byFigure(pool, (c) => ctx.history(c.extension).lastEndedAt ?? -Infinity)) };
    case 'shortesttalk':
      return { ringAll, agents: names(byFigure(pool, (c) => ctx.history(c.extension).talkMsToday)) };
    case 'fewestcalls':
      return { ringAll, agents: names(byFigure(pool, (c) => ctx.history(c.extension).callsToday)) };
    case 'random':
      return { ringAll, agents: names(shuffle(pool, ctx.random)) };
    case 'weighted':
      return { ringAll, agents: names(weightedOrder(pool, ctx.random)) };
  }
}
