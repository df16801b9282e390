// The append-only queue event log (F-QUEUE statistics, issue #11), like Asterisk's queue_log: one row per
// thing that happened to a queue call or an agent. Every statistic is computed from these rows.
import type { Database, Statement } from 'better-sqlite3';

/**
 * What happened:
 * - ENTER: a call reached the queue (offered). detail: the caller's number.
 * - ANSWER: an agent answered it. agent, wait_ms.
 * - COMPLETE: an answered call ended. agent, talk_ms, detail: who hung up (caller | agent | system).
 * - ABANDON: the caller hung up before an agent answered. wait_ms.
 * - OVERFLOW: the call could not wait (maxWaiting) and went to the overflow destination. detail: where.
 * - TIMEOUT: the call waited until the queue's timeout. wait_ms, detail: where it went.
 * - EXIT: the caller pressed the exit key. wait_ms, detail: where it went.
 * - LOST: the server stopped (or crashed) while the call waited; written at the next start. wait_ms.
 * - RINGNOANSWER: an agent was offered the call and did not take it. agent, detail: no_answer | busy | failed.
 * - AGENT: an agent's state in the queue changed. agent, detail: the new state (offline, available, ringing,
 *   in_call, on_hold, paused, wrapup), a paused state as `paused:<reason>` when there is a reason.
 * - PAUSE / RESUME: an agent or supervisor paused or resumed the agent. agent, detail: reason and by whom.
 */
export type QueueEventKind = 'ENTER' | 'ANSWER' | 'COMPLETE' | 'ABANDON' | 'OVERFLOW' | 'TIMEOUT' | 'EXIT' | 'LOST' | 'RINGNOANSWER' | 'AGENT' | 'PAUSE' | 'RESUME';

export const AGENT_STATES = ['offline', 'available', 'ringing', 'in_call', 'on_hold', 'paused', 'wrapup'] as const;
export type AgentState = (typeof AGENT_STATES)[number];

export interface QueueEvent {
  id?: number;
  /** Epoch milliseconds. */
  at: number;
  queue: string;
  callId?: string | null;
  agent?: string | null;
  event: QueueEventKind;
  waitMs?: number | null;
  talkMs?: number | null;
  detail?: string | null;
}

interface Row {
  id: number;
  at: number;
  queue: string;
  call_id: string | null;
  agent: string | null;
  event: QueueEventKind;
  wait_ms: number | null;
  talk_ms: number | null;
  detail: string | null;
}

const fromRow = (r: Row): QueueEvent => ({ id: r.id, at: r.at, queue: r.queue, callId: r.call_id, agent: r.agent, event: r.event, waitMs: r.wait_ms, talkMs: r.talk_ms, detail: r.detail });

export class QueueEventStore {
  private readonly insert: Statement;
  private readonly range: Statement;
  private readonly rangeOfQueue: Statement;
  private readonly lastAgent: Statement;

  constructor(private readonly db: Database) {
    this.insert = db.prepare('INSERT INTO queue_events (at, queue, call_id, agent, event, wait_ms, talk_ms, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.range = db.prepare('SELECT * FROM queue_events WHERE at >= ? AND at < ? ORDER BY at, id');
    this.rangeOfQueue = db.prepare('SELECT * FROM queue_events WHERE queue = ? AND at >= ? AND at < ? ORDER BY at, id');
    // The latest AGENT row per (queue, agent): the state each agent was last seen in.
    this.lastAgent = db.prepare(
      `SELECT e.* FROM queue_events e
         JOIN (SELECT queue, agent, MAX(id) AS id FROM queue_events WHERE event = 'AGENT' GROUP BY queue, agent) m ON e.id = m.id
        ORDER BY e.queue, e.agent`,
    );
  }

  append(e: QueueEvent): void {
    this.insert.run(e.at, e.queue, e.callId ?? null, e.agent ?? null, e.event, e.waitMs ?? null, e.talkMs ?? null, e.detail ?? null);
  }

  /** Several events in one transaction (one commit). */
  appendMany(events: readonly QueueEvent[]): void {
    if (events.length === 0) return;
    this.db.transaction(() => {
      for (const e of events) this.append(e);
    })();
  }

  /** Events with from <= at < to, in order; of one queue when given. */
  between(from: number, to: number, queue?: string): QueueEvent[] {
    const rows = (queue === undefined ? this.range.all(from, to) : this.rangeOfQueue.all(queue, from, to)) as Row[];
    return rows.map(fromRow);
  }

  /** The last AGENT event of every (queue, agent) pair ever seen. */
  lastAgentStates(): QueueEvent[] {
    return (this.lastAgent.all() as Row[]).map(fromRow);
  }

  /**
   * The last AGENT event of every (queue, agent) pair before `at` (latest time, then latest row): each
   * agent's state when a statistics period starts.
   */
  lastAgentStatesBefore(at: number): QueueEvent[] {
    const rows = this.db
      .prepare(
        `SELECT id, at, queue, call_id, agent, event, wait_ms, talk_ms, detail FROM (
           SELECT e.*, ROW_NUMBER() OVER (PARTITION BY queue, agent ORDER BY at DESC, id DESC) AS rn
             FROM queue_events e WHERE event = 'AGENT' AND at < ?)
          WHERE rn = 1 ORDER BY queue, agent`,
      )
      .all(at) as Row[];
    return rows.map(fromRow);
  }

  /**
   * Calls that entered a queue and have no outcome yet (ANSWER, ABANDON, OVERFLOW, TIMEOUT, EXIT, LOST),
   * entered at or after `since`: the callers waiting now, seen from another process (the CLI), or the
   * ones a crash cut (the server closes them with LOST when it starts).
   */
  open(since: number): QueueEvent[] {
    const rows = this.db
      .prepare(
        `SELECT e.* FROM queue_events e
          WHERE e.event = 'ENTER' AND e.at >= ?
            AND NOT EXISTS (SELECT 1 FROM queue_events o
                             WHERE o.call_id = e.call_id AND o.queue = e.queue AND o.id > e.id
                               AND o.event IN ('ANSWER', 'ABANDON', 'OVERFLOW', 'TIMEOUT', 'EXIT', 'LOST'))
          ORDER BY e.at, e.id`,
      )
      .all(since) as Row[];
    return rows.map(fromRow);
  }
}
