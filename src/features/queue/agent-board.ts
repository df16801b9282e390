// Agent states per queue (F-AGENT): offline (no phone registered), available, ringing (offered a queue
// call), in_call / on_hold (in any call: a direct call makes an agent busy for every queue), paused and
// wrapup (held back in this queue by AgentHolds), worked out from what the server knows now. Every change of
// an agent's state in a queue is logged as an AGENT queue event, the source of the time-in-state statistics.
import type { HibikiConfig } from '../../config/schema.js';
import type { QueueConfig } from '../../config/queue-schema.js';
import type { Leg } from '../../pbx/leg.js';
import type { AgentState } from '../../store/queue-event-store.js';
import { ringTargets, type Contacts } from '../extension.js';
import type { AgentHolds } from './agent-holds.js';
import type { QueueLog } from './queue-log.js';

export interface AgentBoardDeps {
  config: () => HibikiConfig;
  registrar: Contacts;
  /** The extension in the configuration in force (the router's index). */
  extension(number: string): { suspended?: boolean } | undefined;
  holds: AgentHolds;
  log: QueueLog;
  /** How many calls each extension is in now (any call, queue or not), in one pass over the calls. */
  callCounts(): ReadonlyMap<string, number>;
  now(): number;
}

/** An answered queue call an agent is in: which queue, and the agent's leg (hold shows on it). */
interface AgentCall {
  queue: string;
  leg: Leg;
}

export class AgentBoard {
  /** agent → offers ringing now (one per queue call being offered to them). */
  private readonly ringingOffers = new Map<string, number>();
  /** agent → the queue calls they are in now. */
  private readonly queueCalls = new Map<string, AgentCall[]>();
  /** queue → agent → the state last logged. */
  private readonly logged = new Map<string, Map<string, string>>();
  /** agent → numbers of the queues they are a member of, for the config it was built from. */
  private membership = new Map<string, string[]>();
  private membershipOf: HibikiConfig | undefined;

  constructor(private readonly deps: AgentBoardDeps) {}

  /** The queues an agent is a member of (in the configuration in force now). */
  queuesOf(agent: string): string[] {
    const config = this.deps.config();
    if (this.membershipOf !== config) {
      const m = new Map<string, string[]>();
      for (const q of config.queues) {
        for (const a of q.members) {
          const list = m.get(a.extension);
          if (list) list.push(q.number);
          else m.set(a.extension, [q.number]);
        }
      }
      this.membership = m;
      this.membershipOf = config;
    }
    return this.membership.get(agent) ?? [];
  }

  /** Seed the last logged states from the log (a restart logs only what differs from before it). */
  restore(last: ReadonlyArray<{ queue: string; agent?: string | null; detail?: string | null }>): void {
    for (const e of last) if (e.agent && e.detail) this.remember(e.queue, e.agent, e.detail);
  }

  private remember(queue: string, agent: string, state: string): void {
    let m = this.logged.get(queue);
    if (!m) this.logged.set(queue, (m = new Map()));
    m.set(agent, state);
  }

  /**
   * The extensions' call counts, for one synchronous pass over many agents (dispatch, sweep): counting
   * the calls of each agent separately would scan every call once per agent.
   */
  counts(): ReadonlyMap<string, number> {
    return this.deps.callCounts();
  }

  stateOf(queue: string, agent: string, now = this.deps.now(), counts = this.counts()): AgentState {
    const ext = this.deps.extension(agent);
    if (!ext || ext.suspended || ringTargets(this.deps.registrar, agent).length === 0) return 'offline';
    if ((this.ringingOffers.get(agent) ?? 0) > 0) return 'ringing';
    const calls = this.queueCalls.get(agent);
    if (calls?.some((c) => c.leg.holding)) return 'on_hold';
    if ((counts.get(agent) ?? 0) > 0) return 'in_call';
    const hold = this.deps.holds.holdOf(queue, agent, now);
    if (hold) return hold.state;
    return 'available';
  }

  /** The state as logged: a paused state with its reason. */
  private loggedForm(queue: string, agent: string, state: AgentState, now: number): string {
    if (state !== 'paused') return state;
    const reason = this.deps.holds.holdOf(queue, agent, now)?.reason;
    return reason ? `paused:${reason}` : 'paused';
  }

  /**
   * Whether the agent may be offered a call from `queue` now: registered, not held back in the queue, not
   * ringing for another call, and either in no call or only in calls from this queue, fewer than
   * callsPerAgent (an agent busy on a direct call or a call from another queue is not available).
   */
  offerable(q: QueueConfig, agent: string, now = this.deps.now(), counts = this.counts()): boolean {
    const ext = this.deps.extension(agent);
    if (!ext || ext.suspended) return false;
    if ((this.ringingOffers.get(agent) ?? 0) > 0) return false;
    if (this.deps.holds.holdOf(q.number, agent, now)) return false;
    const inCalls = counts.get(agent) ?? 0;
    if (inCalls > 0) {
      const mine = this.queueCalls.get(agent) ?? [];
      if (mine.length !== inCalls || mine.some((c) => c.queue !== q.number) || mine.length >= q.callsPerAgent) return false;
    }
    return ringTargets(this.deps.registrar, agent).length > 0;
  }

  ringing(agent: string, on: boolean): void {
    const n = (this.ringingOffers.get(agent) ?? 0) + (on ? 1 : -1);
    if (n > 0) this.ringingOffers.set(agent, n);
    else this.ringingOffers.delete(agent);
  }

  /** The agent answered a call from `queue`; the returned function ends it. */
  inQueueCall(agent: string, queue: string, leg: Leg): () => void {
    const entry: AgentCall = { queue, leg };
    const list = this.queueCalls.get(agent);
    if (list) list.push(entry);
    else this.queueCalls.set(agent, [entry]);
    return () => {
      const l = this.queueCalls.get(agent);
      if (!l) return;
      const i = l.indexOf(entry);
      if (i >= 0) l.splice(i, 1);
      if (l.length === 0) this.queueCalls.delete(agent);
    };
  }

  /** Log the agent's state in each of their queues where it changed. */
  poke(agent: string): void {
    const now = this.deps.now();
    const counts = this.counts();
    for (const queue of this.queuesOf(agent)) this.check(queue, agent, now, counts);
  }

  /**
   * Check every agent of every queue (registrations that lapsed, holds that ended, a new configuration); an
   * agent taken out of a queue (or a queue removed) is logged offline there, so its last state does not run
   * on in the statistics.
   */
  sweep(): void {
    const now = this.deps.now();
    const counts = this.counts();
    for (const h of this.deps.holds.expired(now)) this.check(h.queue, h.agent, now, counts);
    const members = new Set<string>();
    for (const q of this.deps.config().queues) {
      for (const m of q.members) {
        members.add(`${q.number}\n${m.extension}`);
        this.check(q.number, m.extension, now, counts);
      }
    }
    for (const [queue, agents] of this.logged) {
      for (const [agent, state] of agents) {
        if (members.has(`${queue}\n${agent}`)) continue;
        if (state !== 'offline') this.deps.log.add({ at: now, queue, agent, event: 'AGENT', detail: 'offline' });
        agents.delete(agent);
      }
    }
  }

  /** The server is stopping: every agent is offline from now until the next start logs them again. */
  allOffline(): void {
    const now = this.deps.now();
    for (const [queue, agents] of this.logged) {
      for (const [agent, state] of agents) {
        if (state === 'offline') continue;
        this.deps.log.add({ at: now, queue, agent, event: 'AGENT', detail: 'offline' });
        agents.set(agent, 'offline');
      }
    }
  }

  private check(queue: string, agent: string, now: number, counts: ReadonlyMap<string, number>): void {
    const state = this.loggedForm(queue, agent, this.stateOf(queue, agent, now, counts), now);
    if (this.logged.get(queue)?.get(agent) === state) return;
    this.remember(queue, agent, state);
    this.deps.log.add({ at: now, queue, agent, event: 'AGENT', detail: state });
  }
}
