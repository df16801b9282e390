// The live connection-oriented flows (TCP, TLS, WS, WSS), findable by id and
// by remote address so that a request to a peer reuses a connection the peer
// opened (RFC 3261 §18.1.1 / §18.2.2, RFC 5923 style reuse in either direction).
// It also closes idle flows, with a timeout that depends on what the flow has been used for:
// - unproven: accepted, and no registration or dialog over it yet. Only whole SIP messages count
//   as use (not keep-alives, not partial input), and the short unprovenIdleTimeoutMs applies, so a
//   peer cannot park connections it never uses;
// - held: a registration, dialog or pending INVITE needs it (RFC 5626/5923 connection reuse: a
//   phone registered over it is reached over it). Never closed for idleness;
// - in use: opened by hibiki, or it once carried a registration or dialog. Any traffic counts,
//   and the long idleTimeoutMs applies.

import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { ConnectionAdmission } from './admission.js';
import type { SecurityReporter } from './security-report.js';
import type { ConnectionHold, HoldReason, SendCallback, TransportLimits, TransportName } from './types.js';
import { normalizeAddress } from './address.js';

export { normalizeAddress };

/** One connection, whatever the transport below it. */
export interface Flow {
  readonly id: string;
  readonly transport: TransportName;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Clock time of the last byte read or written. */
  readonly lastActivity: number;
  /** Clock time of the last whole SIP message read or written (keep-alives excluded); creation time before any. */
  readonly lastMessage: number;
  send(data: Buffer, cb?: SendCallback): void;
  /** Closes the flow; the registry owner is told through the flow's closed event. Idempotent. */
  close(reason: string): void;
}

/** What a flow reports to the transport layer above it. */
export interface FlowEvents {
  message(flow: Flow, data: Buffer): void;
  /** Called exactly once, after the flow has been closed for whatever reason. */
  closed(flow: Flow): void;
}

/** Everything a listener or an outbound connector needs to create flows. */
export interface FlowContext {
  readonly limits: TransportLimits;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly registry: ConnectionRegistry;
  readonly admission: ConnectionAdmission;
  readonly reporter: SecurityReporter;
  readonly events: FlowEvents;
}

export type ConnectionUse = 'unproven' | 'held' | 'in-use';

const NO_HOLD: ConnectionHold = { release: () => undefined };

let connectionSerial = 0;

/** An id unique for the life of the process, e.g. "tcp-17". */
export function nextConnectionId(transport: TransportName): string {
  connectionSerial += 1;
  return `${transport}-${connectionSerial}`;
}

export function remoteKey(transport: TransportName, address: string, port: number): string {
  return `${transport}|${normalizeAddress(address)}|${port}`;
}

interface Entry {
  flow: Flow;
  keys: string[];
  holds: number;
  proven: boolean;
  /** When the flow last stopped being held (or was added): idleness is counted from no earlier than this. */
  idleSince: number;
}

export interface RegistryOptions {
  idleTimeoutMs: number;
  unprovenIdleTimeoutMs: number;
  clock: Clock;
}

export class ConnectionRegistry {
  private readonly byId = new Map<string, Entry>();
  private readonly byRemote = new Map<string, Flow>();
  private readonly opts: RegistryOptions;
  private sweepTimer: TimerHandle | undefined;

  constructor(opts: RegistryOptions) {
    this.opts = opts;
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * Registers a flow under its id and the given remote keys (a later flow to the same key wins).
   * proven: the flow is in use from the start (hibiki opened it).
   */
  add(flow: Flow, keys: string[], opts: { proven: boolean }): void {
    this.byId.set(flow.id, { flow, keys: [], holds: 0, proven: opts.proven, idleSince: this.opts.clock.now() });
    for (const key of keys) this.alias(flow, key);
  }

  /** Adds a remote key to a registered flow, e.g. the resolved address of a name it was opened to. */
  alias(flow: Flow, key: string): void {
    const entry = this.byId.get(flow.id);
    if (!entry || entry.flow !== flow || entry.keys.includes(key)) return;
    entry.keys.push(key);
    this.byRemote.set(key, flow);
  }

  remove(flow: Flow): void {
    const entry = this.byId.get(flow.id);
    if (entry?.flow !== flow) return;
    this.byId.delete(flow.id);
    for (const key of entry.keys) {
      if (this.byRemote.get(key) === flow) this.byRemote.delete(key);
    }
  }

  get(id: string): Flow | undefined {
    return this.byId.get(id)?.flow;
  }

  findByRemote(transport: TransportName, address: string, port: number): Flow | undefined {
    return this.byRemote.get(remoteKey(transport, address, port));
  }

  all(): Flow[] {
    return [...this.byId.values()].map((e) => e.flow);
  }

  /** How the idle timeout treats the flow now; undefined for an unknown id. */
  useOf(id: string): ConnectionUse | undefined {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    return entry.holds > 0 ? 'held' : entry.proven ? 'in-use' : 'unproven';
  }

  /**
   * Keeps the flow from being closed for idleness until the hold is released. A registration or
   * dialog also proves the flow in use. An unknown id (a UDP binding, a flow already closed) gets a
   * hold that does nothing.
   */
  retain(id: string | undefined, reason: HoldReason): ConnectionHold {
    const entry = id === undefined ? undefined : this.byId.get(id);
    if (!entry) return NO_HOLD;
    entry.holds += 1;
    if (reason !== 'transaction') entry.proven = true;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        entry.holds -= 1;
        if (entry.holds === 0) entry.idleSince = this.opts.clock.now();
      },
    };
  }

  /**
   * One timer for all flows rather than one per flow: with thousands of connections a sweep is
   * cheaper than re-arming a timer on every packet. A flow is closed between its timeout and
   * 1.25 × the shorter timeout after it became idle.
   */
  startIdleSweep(): void {
    if (this.sweepTimer) return;
    const { idleTimeoutMs, unprovenIdleTimeoutMs, clock } = this.opts;
    const period = Math.max(10, Math.min(60_000, Math.floor(Math.min(idleTimeoutMs, unprovenIdleTimeoutMs) / 4)));
    const tick = (): void => {
      this.sweep();
      this.sweepTimer = clock.setTimer(period, tick);
    };
    this.sweepTimer = clock.setTimer(period, tick);
  }

  stopIdleSweep(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
  }

  private sweep(): void {
    const now = this.opts.clock.now();
    for (const entry of [...this.byId.values()]) {
      if (entry.holds > 0) continue;
      const { flow } = entry;
      if (entry.proven) {
        if (now - Math.max(entry.idleSince, flow.lastActivity) >= this.opts.idleTimeoutMs) flow.close('idle timeout');
      } else if (now - Math.max(entry.idleSince, flow.lastMessage) >= this.opts.unprovenIdleTimeoutMs) {
        flow.close('idle timeout before any registration or dialog');
      }
    }
  }
}
