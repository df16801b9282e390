// TEMPORARY placeholder until the strategies branch is merged (replaced by it).
import type { QueueEvent } from '../../store/queue-event-store.js';
import type { AgentHistory } from './strategies.js';
export class AgentHistoryBook {
  private last = new Map<string, string>();
  constructor(_timeZone: () => string, _now: () => number) {}
  history(_queue: string, _agent: string): AgentHistory { return { lastEndedAt: undefined, talkMsToday: 0, callsToday: 0 }; }
  callEnded(_queue: string, _agent: string, _t: { answeredAt: number; endedAt: number }): void {}
  restore(_events: readonly QueueEvent[]): void {}
  offered(queue: string, agent: string): void { this.last.set(queue, agent); }
  lastOffered(queue: string): string | undefined { return this.last.get(queue); }
}
