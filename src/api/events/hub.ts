// The live event stream's hub (issue #12, F-EVENTS): every event gets the next sequence number of this
// server, is serialised once, kept in a bounded ring (http.eventBuffer) for clients that reconnect with
// the last number they saw, and handed to the connected clients. Each event names the extensions it
// concerns, so the stream can show agents and users only their own.

/** What goes on the wire: `{seq, at, type, ...data}`. */
export interface StreamEvent {
  seq: number;
  /** ISO 8601 time the server published it. */
  at: string;
  type: string;
  [field: string]: unknown;
}

export interface HubEntry {
  seq: number;
  /** The event as sent (JSON). */
  json: string;
  /** Extensions the event concerns: an account bound to one of them sees it. Admins and supervisors see all. */
  concerns: readonly string[];
}

/** What a client that asked for the events after `since` gets before the live ones. */
export interface Backlog {
  /** Set when events after `since` are no longer buffered: the client must reload its state. */
  gap?: { from: number; to: number; reason: 'overflow' | 'restart' };
  entries: HubEntry[];
}

export class EventHub {
  private entries: HubEntry[] = [];
  private lastSeq = 0;
  private readonly subscribers = new Set<(e: HubEntry) => void>();

  constructor(
    private readonly capacity: () => number,
    private readonly now: () => number,
  ) {}

  get last(): number {
    return this.lastSeq;
  }

  publish(type: string, data: Record<string, unknown>, concerns: Iterable<string | undefined> = []): StreamEvent {
    const event: StreamEvent = { seq: ++this.lastSeq, at: new Date(this.now()).toISOString(), type, ...data };
    const entry: HubEntry = { seq: event.seq, json: JSON.stringify(event), concerns: [...new Set([...concerns].filter((c): c is string => c !== undefined && c !== ''))] };
    this.entries.push(entry);
    const cap = this.capacity();
    // Trimmed in steps, not on every event: a shift per event would copy the whole ring each time.
    if (this.entries.length > cap + Math.max(16, cap >> 3)) this.entries = this.entries.slice(-cap);
    for (const fn of this.subscribers) fn(entry);
    return event;
  }

  /** The buffered events after `since`, with a gap when some of them are no longer kept. */
  after(since: number): Backlog {
    const cap = this.capacity();
    const kept = this.entries.length > cap ? this.entries.slice(-cap) : this.entries;
    const oldest = kept[0]?.seq ?? this.lastSeq + 1;
    // A number beyond the last one comes from before a restart of the server: what the client knows is
    // stale, and every buffered event is new to it.
    if (since > this.lastSeq) return { gap: { from: 1, to: oldest - 1, reason: 'restart' }, entries: kept };
    const entries = kept.filter((e) => e.seq > since);
    return since + 1 < oldest ? { gap: { from: since + 1, to: oldest - 1, reason: 'overflow' }, entries } : { entries };
  }

  subscribe(fn: (e: HubEntry) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }
}
