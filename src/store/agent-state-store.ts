// What agents and supervisors set about an agent in a queue (F-AGENT, issue #11): paused (with a reason,
// 離席中 and the like; an auto-pause until a time) or in after-call work until a time, so it survives a
// restart. No row: the agent is not held back in that queue. The live parts of an agent's state (offline,
// ringing, in a call) are the server's. The CLI is another process: readers ask changed() to see its writes.
import type { Database, Statement } from 'better-sqlite3';

export interface AgentHold {
  queue: string;
  agent: string;
  state: 'paused' | 'wrapup';
  reason: string | null;
  /** Epoch ms when it began. */
  since: number;
  /** Epoch ms when it ends by itself; null: until the agent resumes. */
  until: number | null;
}

export class AgentStateStore {
  private readonly selectAll: Statement;
  private readonly upsert: Statement;
  private readonly remove: Statement;
  private lastVersion = -1;

  constructor(private readonly db: Database) {
    this.selectAll = db.prepare('SELECT queue, agent, state, reason, since, until FROM agent_states ORDER BY queue, agent');
    this.upsert = db.prepare(
      'INSERT INTO agent_states (queue, agent, state, reason, since, until) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (queue, agent) DO UPDATE SET state = excluded.state, reason = excluded.reason, since = excluded.since, until = excluded.until',
    );
    this.remove = db.prepare('DELETE FROM agent_states WHERE queue = ? AND agent = ?');
  }

  all(): AgentHold[] {
    return this.selectAll.all() as AgentHold[];
  }

  set(h: AgentHold): void {
    this.upsert.run(h.queue, h.agent, h.state, h.reason, h.since, h.until);
  }

  clear(queue: string, agent: string): boolean {
    return this.remove.run(queue, agent).changes > 0;
  }

  /** Runs fn in one transaction (one commit for a change to every queue of an agent). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * Whether another connection (the CLI) has committed to the database since the last call: SQLite's
   * data_version moves only for other connections' commits, so the server re-reads only then.
   */
  changed(): boolean {
    const v = this.db.pragma('data_version', { simple: true }) as number;
    if (v === this.lastVersion) return false;
    this.lastVersion = v;
    return true;
  }
}
