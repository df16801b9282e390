// Writing queue events (the append-only queue_events log of the statistics). A queue call produces half a
// dozen events (entered, agent ringing, answered, agent in call…): they are collected and written in one
// transaction at most FLUSH_MS later, not one commit each — a crash can lose that last fraction of a second
// of statistics, never a CDR. flush() writes at once (shutdown).
import type { Logger } from 'pino';
import type { QueueEvent, QueueEventStore } from '../../store/queue-event-store.js';

/** How long events wait to be written with the ones that follow them. */
const FLUSH_MS = 100;

export class QueueLog {
  private pending: QueueEvent[] = [];
  private scheduled = false;
  private readonly listeners = new Set<(e: QueueEvent) => void>();

  constructor(
    private readonly store: QueueEventStore,
    private readonly logger: Logger,
  ) {}

  /** Be told of every queue event as it happens, before it is written (the event stream); returns the unsubscribe. */
  onEvent(fn: (e: QueueEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  add(e: QueueEvent): void {
    for (const fn of this.listeners) {
      try {
        fn(e);
      } catch (err) {
        this.logger.error({ err }, 'queue event listener failed');
      }
    }
    this.pending.push(e);
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.store.appendMany(batch);
    } catch (err) {
      // Statistics must never take a call down; the log line keeps what was lost.
      this.logger.error({ err, events: batch.length }, 'queue events not written');
    }
  }
}
