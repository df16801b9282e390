// The call-centre half of hibiki put together (F-QUEUE, F-AGENT): the queue application, the agent codes,
// and what they share — agent states (AgentBoard), pauses and after-call work (AgentHolds), the agents'
// call history (strategies), the dispatcher and the event log. server.ts registers `features` and calls
// start()/stop().
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { HibikiConfig } from '../../config/schema.js';
import type { PromptCatalogue } from '../../media/prompts.js';
import type { Feature } from '../../pbx/application.js';
import type { RegistrationEvent } from '../../registrar/registrar.js';
import { AgentStateStore } from '../../store/agent-state-store.js';
import { QueueEventStore, type QueueEvent } from '../../store/queue-event-store.js';
import { every, type Clock, type TimerHandle } from '../../util/clock.js';
import type { Contacts } from '../extension.js';
import { AgentBoard } from './agent-board.js';
import { AgentCodes } from './agent-codes.js';
import { AgentHistoryBook } from './agent-history.js';
import { AgentHolds } from './agent-holds.js';
import { Dispatcher } from './dispatcher.js';
import { QueueLog } from './queue-log.js';
import { Queues } from './queue.js';

export interface QueueCenterDeps {
  db: Database;
  config: () => HibikiConfig;
  clock: Clock;
  registrar: Contacts & { onEvent(fn: (e: RegistrationEvent) => void): void };
  extension(number: string): { suspended?: boolean } | undefined;
  callCounts(): ReadonlyMap<string, number>;
  prompts: PromptCatalogue;
  logger: Logger;
}

/** How often every agent's state is looked at when nothing else says it changed (registrations lapsing, holds ending). */
const SWEEP_MS = 1000;
/** How far back the agents' call history is read at start (least-recent needs the last call of each). */
const HISTORY_MS = 7 * 24 * 3600 * 1000;

export class QueueCenter {
  readonly events: QueueEventStore;
  readonly holds: AgentHolds;
  readonly board: AgentBoard;
  readonly dispatcher: Dispatcher;
  readonly features: Feature[];
  private readonly log: QueueLog;
  private readonly history: AgentHistoryBook;
  private sweep: TimerHandle | undefined;

  constructor(private readonly deps: QueueCenterDeps) {
    const { db, config, clock, registrar, prompts, logger } = deps;
    this.events = new QueueEventStore(db);
    this.log = new QueueLog(this.events, logger);
    this.holds = new AgentHolds(new AgentStateStore(db), this.events);
    this.history = new AgentHistoryBook(
      () => config().tenant.timezone,
      () => clock.now(),
    );
    this.board = new AgentBoard({ config, registrar, extension: deps.extension, holds: this.holds, log: this.log, callCounts: deps.callCounts, now: () => clock.now() });
    this.dispatcher = new Dispatcher({ config, clock, registrar, board: this.board, holds: this.holds, history: this.history, log: this.log, prompts, logger });
    this.features = [
      new Queues({ prompts, clock, config, dispatcher: this.dispatcher, log: this.log, logger }),
      new AgentCodes({ holds: this.holds, board: this.board, prompts, clock, config, logger, changed: (agent) => this.dispatcher.agentChanged(agent) }),
    ];
  }

  /** Every queue event (ENTER, ANSWER, AGENT…) as it happens; returns the unsubscribe. */
  onEvent(fn: (e: QueueEvent) => void): () => void {
    return this.log.onEvent(fn);
  }

  /** Callers waiting in a queue now. */
  waiting(queue: string): number {
    return this.dispatcher.waitingCount(queue);
  }

  /**
   * Close what a stop or crash left open (callers waiting then are LOST), rebuild the agents' call history,
   * log every agent's state as it is now, and keep it up to date.
   */
  start(): void {
    const { clock, registrar, logger } = this.deps;
    const now = clock.now();
    const open = this.events.open(0);
    if (open.length > 0) {
      this.events.appendMany(open.map((e) => ({ at: now, queue: e.queue, callId: e.callId, event: 'LOST' as const, waitMs: null, detail: 'server stopped while the call waited' })));
      logger.warn({ calls: open.length }, 'queue calls cut by the last stop written as LOST');
    }
    this.history.restore(this.events.between(now - HISTORY_MS, now + 1).filter((e) => e.event === 'COMPLETE'));
    this.board.restore(this.events.lastAgentStates());
    this.board.sweep();
    registrar.onEvent((e) => this.dispatcher.agentChanged(e.binding.aor));
    this.sweep = every(clock, SWEEP_MS, () => {
      if (this.holds.refresh()) for (const q of this.deps.config().queues) this.dispatcher.dispatch(q.number);
      this.board.sweep();
    });
  }

  stop(): void {
    this.sweep?.cancel();
    this.sweep = undefined;
    this.dispatcher.stop();
    this.board.allOffline();
    this.log.flush();
  }
}
