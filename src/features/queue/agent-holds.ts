// Pausing and resuming agents (F-AGENT), shared by the server (service codes *51/*52, auto-pause, after-call
// work) and the CLI (another process): each change is stored in agent_states and logged as a PAUSE or
// RESUME queue event in one transaction, so the state survives a restart and the statistics see when it
// changed. A hold with an end time (auto-pause, timed after-call work) lapses by itself: isHeld() stops
// reporting it then, and the server logs its end when it notices (expired()).
import type { AgentHold, AgentStateStore } from '../../store/agent-state-store.js';
import type { QueueEventStore } from '../../store/queue-event-store.js';

/** Every queue, or one. */
export type QueueScope = 'all' | string;

export interface HoldChange {
  queue: string;
  /** false: it was already so (nothing written). */
  changed: boolean;
}

export class AgentHolds {
  /** queue → agent → hold, as last read from the store. */
  private byQueue = new Map<string, Map<string, AgentHold>>();

  constructor(
    private readonly store: AgentStateStore,
    private readonly events: QueueEventStore,
  ) {
    this.reload();
  }

  /** Read the store again when another process (the CLI) has written to it; true when it did. */
  refresh(): boolean {
    if (!this.store.changed()) return false;
    this.reload();
    return true;
  }

  private reload(): void {
    this.byQueue = new Map();
    for (const h of this.store.all()) this.index(h);
  }

  private index(h: AgentHold): void {
    let m = this.byQueue.get(h.queue);
    if (!m) this.byQueue.set(h.queue, (m = new Map()));
    m.set(h.agent, h);
  }

  /** The hold on an agent in a queue that is in force at `now`, if any. */
  holdOf(queue: string, agent: string, now: number): AgentHold | undefined {
    const h = this.byQueue.get(queue)?.get(agent);
    if (!h || (h.until !== null && h.until <= now)) return undefined;
    return h;
  }

  /** Holds whose end time has passed: removed from the store, each logged as a RESUME by `timer`. */
  expired(now: number): AgentHold[] {
    const out: AgentHold[] = [];
    for (const m of this.byQueue.values()) for (const h of m.values()) if (h.until !== null && h.until <= now) out.push(h);
    if (out.length === 0) return out;
    this.store.transaction(() => {
      for (const h of out) {
        this.store.clear(h.queue, h.agent);
        this.byQueue.get(h.queue)?.delete(h.agent);
        this.events.append({ at: h.until!, queue: h.queue, agent: h.agent, event: 'RESUME', detail: `${h.state} ended (timer)` });
      }
    });
    return out;
  }

  /**
   * Pause an agent in the given queues (a paused-and-reason hold; `until` for an auto-pause that lapses).
   * `queues` are the queue numbers the scope covers (the caller knows the agent's queues).
   */
  pause(agent: string, queues: readonly string[], opts: { reason?: string; by: string; now: number; until?: number }): HoldChange[] {
    return this.store.transaction(() =>
      queues.map((queue) => {
        const current = this.holdOf(queue, agent, opts.now);
        const reason = opts.reason ?? null;
        if (current?.state === 'paused' && current.reason === reason && current.until === (opts.until ?? null)) return { queue, changed: false };
        const h: AgentHold = { queue, agent, state: 'paused', reason, since: opts.now, until: opts.until ?? null };
        this.store.set(h);
        this.index(h);
        this.events.append({ at: opts.now, queue, agent, event: 'PAUSE', detail: `${reason ?? ''}|${opts.by}` });
        return { queue, changed: true };
      }),
    );
  }

  /** After-call work in a queue until `until` (null: until the agent resumes). */
  wrapup(agent: string, queue: string, now: number, until: number | null): void {
    this.store.transaction(() => {
      // A pause set meanwhile (the agent paused during the call) is stronger than after-call work.
      if (this.holdOf(queue, agent, now)?.state === 'paused') return;
      const h: AgentHold = { queue, agent, state: 'wrapup', reason: null, since: now, until };
      this.store.set(h);
      this.index(h);
    });
  }

  /** Make an agent available in the given queues: ends a pause or after-call work. */
  resume(agent: string, queues: readonly string[], opts: { by: string; now: number }): HoldChange[] {
    return this.store.transaction(() =>
      queues.map((queue) => {
        const current = this.byQueue.get(queue)?.get(agent);
        if (!current) return { queue, changed: false };
        this.store.clear(queue, agent);
        this.byQueue.get(queue)?.delete(agent);
        this.events.append({ at: opts.now, queue, agent, event: 'RESUME', detail: `${current.state}|${opts.by}` });
        return { queue, changed: true };
      }),
    );
  }

  /** Every hold in force (for the CLI and the statistics). */
  all(now: number): AgentHold[] {
    const out: AgentHold[] = [];
    for (const m of this.byQueue.values()) for (const h of m.values()) if (h.until === null || h.until > now) out.push(h);
    return out;
  }
}
