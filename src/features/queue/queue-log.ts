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

  constructor(
    private readonly store: QueueEventStore,
    private readonly logger: Logger,
  ) {}

  add(e: QueueEvent): void {
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
