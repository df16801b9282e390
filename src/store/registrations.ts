// The registrar's binding store (F-REG): an in-memory index by AOR for lookups on every call, written
// through to SQLite so registrations survive a restart. Writes are coalesced into one transaction
// at the end of the event-loop turn, and under load into at most one per MIN_COMMIT_INTERVAL_MS, so
// a REGISTER storm costs a few commits per second rather than one per request.
import type { Database, Statement } from 'better-sqlite3';
import type { Logger } from 'pino';

/** The SIP transport a binding was made over, as stored (the same names as sip/transport's TransportName). */
export type BindingTransport = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface Binding {
  aor: string;
  /** The Contact URI as registered. */
  contact: string;
  /** +sip.instance (RFC 5626). */
  instanceId?: string;
  regId?: number;
  callId: string;
  cseq: number;
  /** Epoch ms. */
  expiresAt: number;
  q?: number;
  transport: BindingTransport;
  sourceAddress: string;
  sourcePort: number;
  localAddress: string;
  localPort: number;
  /** The flow the REGISTER came over; stale after a restart, when the connection is gone. */
  connectionId?: string;
  userAgent?: string;
  registeredAt: number;
  reachable: boolean;
  missedQualify: number;
  /** Registered with the +sip.ice feature tag (RFC 5768): the device takes ICE offers, i.e. WebRTC. */
  webrtc: boolean;
}

interface BindingRow {
  aor: string;
  contact: string;
  instance_id: string | null;
  reg_id: number | null;
  call_id: string;
  cseq: number;
  expires_at: number;
  q: number | null;
  transport: string;
  source_address: string;
  source_port: number;
  local_address: string;
  local_port: number;
  connection_id: string | null;
  user_agent: string | null;
  registered_at: number;
  reachable: number;
  missed_qualify: number;
  webrtc: number;
}

type PendingWrite = { op: 'put'; binding: Binding } | { op: 'delete'; aor: string; contact: string };

const transportNames: readonly string[] = ['udp', 'tcp', 'tls', 'ws', 'wss'];

function pendingKey(aor: string, contact: string): string {
  // Neither an AOR nor a Contact URI can hold a line feed, so the pair maps to one key.
  return `${aor}\n${contact}`;
}

/**
 * Copies a string into its own storage. Header values are usually slices of the whole received
 * message, and V8 keeps the parent string alive for as long as a slice is referenced; a binding
 * lives for an hour, so it must not pin a kilobyte-sized REGISTER.
 */
function detach(s: string): string;
function detach(s: string | undefined): string | undefined;
function detach(s: string | undefined): string | undefined {
  return s === undefined ? undefined : Buffer.from(s, 'utf8').toString('utf8');
}

function fromRow(r: BindingRow): Binding | undefined {
  if (!transportNames.includes(r.transport)) return undefined;
  return {
    aor: r.aor,
    contact: r.contact,
    instanceId: r.instance_id ?? undefined,
    regId: r.reg_id ?? undefined,
    callId: r.call_id,
    cseq: r.cseq,
    expiresAt: r.expires_at,
    q: r.q ?? undefined,
    transport: r.transport as BindingTransport,
    sourceAddress: r.source_address,
    sourcePort: r.source_port,
    localAddress: r.local_address,
    localPort: r.local_port,
    connectionId: r.connection_id ?? undefined,
    userAgent: r.user_agent ?? undefined,
    registeredAt: r.registered_at,
    reachable: r.reachable !== 0,
    missedQualify: r.missed_qualify,
    webrtc: r.webrtc !== 0,
  };
}

function copy(b: Binding): Binding {
  return { ...b };
}

/**
 * The binding as the store keeps it: every field present in one fixed order, so all bindings share
 * one compact object shape (a spread of an object with optional fields does not), and strings copied
 * out of the message they were sliced from.
 */
function own(b: Binding): Binding {
  return {
    aor: detach(b.aor),
    contact: detach(b.contact),
    instanceId: detach(b.instanceId),
    regId: b.regId,
    callId: detach(b.callId),
    cseq: b.cseq,
    expiresAt: b.expiresAt,
    q: b.q,
    transport: b.transport,
    sourceAddress: b.sourceAddress,
    sourcePort: b.sourcePort,
    localAddress: b.localAddress,
    localPort: b.localPort,
    connectionId: detach(b.connectionId),
    userAgent: detach(b.userAgent),
    registeredAt: b.registeredAt,
    reachable: b.reachable,
    missedQualify: b.missedQualify,
    webrtc: b.webrtc,
  };
}

/**
 * Each commit costs a WAL append of every page it touched (tens of µs), so under load commits are
 * spaced at least this far apart and carry every change made meanwhile. An isolated change is still
 * written at the end of its event-loop turn.
 */
const MIN_COMMIT_INTERVAL_MS = 20;

/** Statement parameters in column order (positional binding is cheaper than named for 19 values). */
type BindingParams = [
  aor: string,
  contact: string,
  instanceId: string | null,
  regId: number | null,
  callId: string,
  cseq: number,
  expiresAt: number,
  q: number | null,
  transport: string,
  sourceAddress: string,
  sourcePort: number,
  localAddress: string,
  localPort: number,
  connectionId: string | null,
  userAgent: string | null,
  registeredAt: number,
  reachable: number,
  missedQualify: number,
  webrtc: number,
];

function toParams(b: Binding): BindingParams {
  return [
    b.aor,
    b.contact,
    b.instanceId ?? null,
    b.regId ?? null,
    b.callId,
    b.cseq,
    b.expiresAt,
    b.q ?? null,
    b.transport,
    b.sourceAddress,
    b.sourcePort,
    b.localAddress,
    b.localPort,
    b.connectionId ?? null,
    b.userAgent ?? null,
    b.registeredAt,
    b.reachable ? 1 : 0,
    b.missedQualify,
    b.webrtc ? 1 : 0,
  ];
}

export class RegistrationStore {
  private readonly clock: () => number;
  private readonly logger: Logger | undefined;
  /** Bindings per AOR; arrays because an AOR holds a handful (maxContacts, default 5). */
  private readonly byAor = new Map<string, Binding[]>();
  private size = 0;
  /** No binding expires before this; lets expire() return at once between expiries. */
  private earliestExpiry = Infinity;
  private readonly pending = new Map<string, PendingWrite>();
  private flushTimer: { cancel(): void } | undefined;
  /** performance.now() of the last commit, for MIN_COMMIT_INTERVAL_MS. */
  private lastCommitAt = -Infinity;
  private closed = false;
  private readonly putStmt: Statement<BindingParams>;
  private readonly deleteStmt: Statement<[aor: string, contact: string]>;
  private readonly writeBatch: (writes: PendingWrite[]) => void;

  constructor(db: Database, clock: () => number = Date.now, logger?: Logger) {
    this.clock = clock;
    this.logger = logger;
    this.putStmt = db.prepare<BindingParams>(`
      INSERT INTO registrations (aor, contact, instance_id, reg_id, call_id, cseq, expires_at, q, transport,
        source_address, source_port, local_address, local_port, connection_id, user_agent, registered_at,
        reachable, missed_qualify, webrtc)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (aor, contact) DO UPDATE SET
        instance_id = excluded.instance_id, reg_id = excluded.reg_id, call_id = excluded.call_id,
        cseq = excluded.cseq, expires_at = excluded.expires_at, q = excluded.q, transport = excluded.transport,
        source_address = excluded.source_address, source_port = excluded.source_port,
        local_address = excluded.local_address, local_port = excluded.local_port,
        connection_id = excluded.connection_id, user_agent = excluded.user_agent,
        registered_at = excluded.registered_at, reachable = excluded.reachable,
        missed_qualify = excluded.missed_qualify, webrtc = excluded.webrtc`);
    this.deleteStmt = db.prepare<[aor: string, contact: string]>('DELETE FROM registrations WHERE aor = ? AND contact = ?');
    this.writeBatch = db.transaction((writes: PendingWrite[]) => {
      for (const w of writes) {
        if (w.op === 'put') this.putStmt.run(...toParams(w.binding));
        else this.deleteStmt.run(w.aor, w.contact);
      }
    });
    this.load(db);
  }

  /** Live (not expired) bindings of an AOR, most recently registered first. */
  list(aor: string): Binding[] {
    const now = this.clock();
    const out: Binding[] = [];
    for (const b of this.byAor.get(aor) ?? []) if (b.expiresAt > now) out.push(copy(b));
    return out.sort((a, b) => b.registeredAt - a.registeredAt);
  }

  /**
   * list() without its copy of each binding: the live bindings of an AOR as the store holds them, most
   * recently registered first, for a reader that only looks at them at once (the 200's Contact list)
   * and neither changes nor keeps them.
   */
  peek(aor: string): ReadonlyArray<Readonly<Binding>> {
    const held = this.byAor.get(aor);
    if (!held) return [];
    const now = this.clock();
    if (held.length === 1) return held[0].expiresAt > now ? held : [];
    return held.filter((b) => b.expiresAt > now).sort((a, b) => b.registeredAt - a.registeredAt);
  }

  /** Bindings held for an AOR, expired ones included: an upper bound on its live bindings, for free. */
  heldCount(aor: string): number {
    return this.byAor.get(aor)?.length ?? 0;
  }

  /** Live bindings of every AOR. */
  all(): Binding[] {
    const now = this.clock();
    const out: Binding[] = [];
    for (const list of this.byAor.values()) for (const b of list) if (b.expiresAt > now) out.push(copy(b));
    return out;
  }

  /** Bindings held, including expired ones that the next expire() will remove. */
  count(): number {
    return this.size;
  }

  get(aor: string, contact: string): Binding | undefined {
    const b = this.find(aor, contact);
    return b && b.expiresAt > this.clock() ? copy(b) : undefined;
  }

  /** Adds or replaces the binding keyed by (aor, contact). */
  upsert(b: Binding): void {
    const kept = own(b);
    const list = this.byAor.get(kept.aor);
    if (!list) {
      this.byAor.set(kept.aor, [kept]);
      this.size++;
    } else {
      const i = list.findIndex((x) => x.contact === kept.contact);
      if (i >= 0) list[i] = kept;
      else {
        list.push(kept);
        this.size++;
      }
    }
    if (kept.expiresAt < this.earliestExpiry) this.earliestExpiry = kept.expiresAt;
    this.queue({ op: 'put', binding: kept });
  }

  remove(aor: string, contact: string): boolean {
    const list = this.byAor.get(aor);
    if (!list) return false;
    const i = list.findIndex((x) => x.contact === contact);
    if (i < 0) return false;
    this.drop(list, i);
    return true;
  }

  removeAll(aor: string): number {
    const list = this.byAor.get(aor);
    if (!list) return 0;
    const n = list.length;
    while (list.length > 0) this.drop(list, list.length - 1);
    return n;
  }

  /** Removes and returns the bindings whose expiry time has passed. */
  expire(now: number = this.clock()): Binding[] {
    if (now < this.earliestExpiry) return [];
    const gone: Binding[] = [];
    let earliest = Infinity;
    // Deleting the entry being visited is safe while iterating a Map.
    for (const list of this.byAor.values()) {
      for (let i = list.length - 1; i >= 0; i--) {
        const b = list[i];
        if (b.expiresAt <= now) {
          gone.push(b);
          this.drop(list, i);
        } else if (b.expiresAt < earliest) {
          earliest = b.expiresAt;
        }
      }
    }
    this.earliestExpiry = earliest;
    return gone;
  }

  setReachable(aor: string, contact: string, reachable: boolean, missed: number): void {
    const b = this.find(aor, contact);
    if (!b || (b.reachable === reachable && b.missedQualify === missed)) return;
    b.reachable = reachable;
    b.missedQualify = missed;
    this.queue({ op: 'put', binding: b });
  }

  /** Writes pending changes now, in one transaction. Throws if SQLite fails; the changes stay pending. */
  flush(): void {
    if (this.flushTimer) {
      this.flushTimer.cancel();
      this.flushTimer = undefined;
    }
    if (this.pending.size === 0) return;
    const writes = [...this.pending.values()];
    this.lastCommitAt = performance.now();
    this.writeBatch(writes);
    this.pending.clear();
  }

  /**
   * Flushes and stops writing to the database (it belongs to whoever opened it). Changes made after
   * close still update memory, so a late REGISTER during shutdown cannot throw, but are not saved.
   */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }

  private load(db: Database): void {
    const now = this.clock();
    db.prepare('DELETE FROM registrations WHERE expires_at <= ?').run(now);
    const rows = db.prepare('SELECT * FROM registrations').all() as BindingRow[];
    for (const row of rows) {
      const b = fromRow(row);
      if (!b) continue;
      const list = this.byAor.get(b.aor);
      if (list) list.push(b);
      else this.byAor.set(b.aor, [b]);
      this.size++;
      if (b.expiresAt < this.earliestExpiry) this.earliestExpiry = b.expiresAt;
    }
  }

  private find(aor: string, contact: string): Binding | undefined {
    return this.byAor.get(aor)?.find((x) => x.contact === contact);
  }

  private drop(list: Binding[], i: number): void {
    const [b] = list.splice(i, 1);
    this.size--;
    if (list.length === 0) this.byAor.delete(b.aor);
    this.queue({ op: 'delete', aor: b.aor, contact: b.contact });
  }

  private queue(w: PendingWrite): void {
    if (this.closed) return;
    const key = w.op === 'put' ? pendingKey(w.binding.aor, w.binding.contact) : pendingKey(w.aor, w.contact);
    // Re-insert so the final write order follows the order of the last change to each key.
    this.pending.delete(key);
    this.pending.set(key, w);
    if (!this.flushTimer) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    const wait = this.lastCommitAt + MIN_COMMIT_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      const immediate = setImmediate(() => this.flushInBackground());
      this.flushTimer = { cancel: () => clearImmediate(immediate) };
    } else {
      const timeout = setTimeout(() => this.flushInBackground(), wait);
      this.flushTimer = { cancel: () => clearTimeout(timeout) };
    }
  }

  private flushInBackground(): void {
    this.flushTimer = undefined;
    try {
      this.flush();
    } catch (err) {
      // Memory stays authoritative; the writes are retried with the next change or an explicit flush().
      this.logger?.error({ err, pending: this.pending.size }, 'writing registrations to the database failed');
    }
  }
}
