// What the ring strategies need to know about each agent of each queue (F-QUEUE, issue #11): when their last
// call from the queue ended (leastrecent), their talk time and answered calls today (shortesttalk,
// fewestcalls), and who was offered the queue's last call (roundrobin). "Today" is the tenant's local day:
// the figures start again at local midnight, as a call centre's shift reports do. The figures are rebuilt
// at start from the queue event log (restore), so a restart changes no one's turn.
import type { QueueEvent } from '../../store/queue-event-store.js';
import { localTime } from '../schedule.js';
import type { AgentHistory } from './strategies.js';

interface Tally {
  lastEndedAt: number | undefined;
  /** Local date (YYYY-MM-DD) the talk time and calls below belong to; undefined: none counted yet. */
  day: string | undefined;
  talkMs: number;
  calls: number;
}

export class AgentHistoryBook {
  /** queue → agent → tally. */
  private readonly byQueue = new Map<string, Map<string, Tally>>();
  /**
   * queue → the agent offered its last call first. In memory only: after a restart roundrobin starts again
   * from the first member, which costs at most one agent an early turn and needs no table of its own.
   */
  private readonly lastOfferedBy = new Map<string, string>();

  constructor(
    /** Read at each use, so a configuration reload that changes the tenant's zone takes effect at once. */
    private readonly timeZone: () => string,
    private readonly now: () => number,
  ) {}

  /** The agent's figures in the queue; talk and calls are those of the current local day. */
  history(queue: string, agent: string): AgentHistory {
    const t = this.byQueue.get(queue)?.get(agent);
    if (t === undefined) return { lastEndedAt: undefined, talkMsToday: 0, callsToday: 0 };
    // The counters of an earlier day read as zero: no timer is needed to reset them at midnight.
    const today = t.day === this.localDate(this.now());
    return { lastEndedAt: t.lastEndedAt, talkMsToday: today ? t.talkMs : 0, callsToday: today ? t.calls : 0 };
  }

  /** An answered queue call has ended: its talk time and the call count go to the local day it ended on. */
  callEnded(queue: string, agent: string, call: { answeredAt: number; endedAt: number }): void {
    const t = this.tally(queue, agent);
    t.lastEndedAt = Math.max(t.lastEndedAt ?? -Infinity, call.endedAt);
    this.count(t, this.localDate(call.endedAt), Math.max(0, call.endedAt - call.answeredAt));
  }

  /**
   * Rebuild the figures at start from queue event rows (the COMPLETE ones; others are ignored). Pass the
   * rows of as far back as leastrecent should remember: lastEndedAt takes the latest of any row, the talk
   * time and calls count only the rows of the current local day.
   */
  restore(events: Iterable<QueueEvent>): void {
    this.byQueue.clear();
    const today = this.localDate(this.now());
    for (const e of events) {
      if (e.event !== 'COMPLETE' || e.agent == null) continue;
      const t = this.tally(e.queue, e.agent);
      t.lastEndedAt = Math.max(t.lastEndedAt ?? -Infinity, e.at);
      const day = this.localDate(e.at);
      if (day === today) this.count(t, day, Math.max(0, e.talkMs ?? 0));
    }
  }

  /** The agent offered this queue's call first (roundrobin continues after them next time). */
  offered(queue: string, agent: string): void {
    this.lastOfferedBy.set(queue, agent);
  }

  lastOffered(queue: string): string | undefined {
    return this.lastOfferedBy.get(queue);
  }

  private tally(queue: string, agent: string): Tally {
    let agents = this.byQueue.get(queue);
    if (!agents) this.byQueue.set(queue, (agents = new Map()));
    let t = agents.get(agent);
    if (!t) agents.set(agent, (t = { lastEndedAt: undefined, day: undefined, talkMs: 0, calls: 0 }));
    return t;
  }

  /** Add one call to the counters of `day`; a later day starts them again, an earlier one is past and left out. */
  private count(t: Tally, day: string, talkMs: number): void {
    if (t.day !== day) {
      if (t.day !== undefined && day < t.day) return;
      t.day = day;
      t.talkMs = 0;
      t.calls = 0;
    }
    t.talkMs += talkMs;
    t.calls += 1;
  }

  /** The last date worked out, by zone and minute: every dispatch asks for today's, and Intl formatting is not cheap. */
  private lastDate: { zone: string; minute: number; date: string } | undefined;

  private localDate(epochMs: number): string {
    const zone = this.timeZone();
    // Every zone's offset is a whole number of minutes, so the date cannot change within a minute.
    const minute = Math.floor(epochMs / 60_000);
    const c = this.lastDate;
    if (c && c.zone === zone && c.minute === minute) return c.date;
    const date = localTime(epochMs, zone).date;
    this.lastDate = { zone, minute, date };
    return date;
  }
}
