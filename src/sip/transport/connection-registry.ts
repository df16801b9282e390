// The live connection-oriented flows (TCP, TLS, WS, WSS), findable by id and
// by remote address so that a request to a peer reuses a connection the peer
// opened (RFC 3261 §18.1.1 / §18.2.2, RFC 5923 style reuse in either direction).
// It also closes flows that carried no traffic for the idle timeout.

import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { SendCallback, TransportLimits, TransportName } from './types.js';

/** One connection, whatever the transport below it. */
export interface Flow {
  readonly id: string;
  readonly transport: TransportName;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Date.now() of the last byte read or written. */
  readonly lastActivity: number;
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
  readonly registry: ConnectionRegistry;
  readonly events: FlowEvents;
  /** Whether an inbound connection from this (normalized) address is accepted; all are when unset. */
  readonly admit?: (address: string) => boolean;
}

let connectionSerial = 0;

/** An id unique for the life of the process, e.g. "tcp-17". */
export function nextConnectionId(transport: TransportName): string {
  connectionSerial += 1;
  return `${transport}-${connectionSerial}`;
}

/** Address as used in keys and sources: no brackets, IPv4-mapped IPv6 unwrapped, lower case. */
export function normalizeAddress(address: string): string {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  a = a.toLowerCase();
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  return a;
}

export function remoteKey(transport: TransportName, address: string, port: number): string {
  return `${transport}|${normalizeAddress(address)}|${port}`;
}

export class ConnectionRegistry {
  private readonly byId = new Map<string, Flow>();
  private readonly byRemote = new Map<string, Flow>();
  private readonly aliases = new Map<string, string[]>();
  private readonly idleTimeoutMs: number;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(idleTimeoutMs: number) {
    this.idleTimeoutMs = idleTimeoutMs;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Registers a flow under its id and the given remote keys (a later flow to the same key wins). */
  add(flow: Flow, keys: string[]): void {
    this.byId.set(flow.id, flow);
    this.aliases.set(flow.id, []);
    for (const key of keys) this.alias(flow, key);
  }

  /** Adds a remote key to a registered flow, e.g. the resolved address of a name it was opened to. */
  alias(flow: Flow, key: string): void {
    const keys = this.aliases.get(flow.id);
    if (!keys || keys.includes(key)) return;
    keys.push(key);
    this.byRemote.set(key, flow);
  }

  remove(flow: Flow): void {
    if (this.byId.get(flow.id) !== flow) return;
    this.byId.delete(flow.id);
    for (const key of this.aliases.get(flow.id) ?? []) {
      if (this.byRemote.get(key) === flow) this.byRemote.delete(key);
    }
    this.aliases.delete(flow.id);
  }

  get(id: string): Flow | undefined {
    return this.byId.get(id);
  }

  findByRemote(transport: TransportName, address: string, port: number): Flow | undefined {
    return this.byRemote.get(remoteKey(transport, address, port));
  }

  all(): Flow[] {
    return [...this.byId.values()];
  }

  /**
   * One timer for all flows rather than one per flow: with thousands of
   * connections a sweep is cheaper than re-arming a timer on every packet.
   * A flow is closed between idleTimeoutMs and 1.25 × idleTimeoutMs after its last traffic.
   */
  startIdleSweep(now: () => number = Date.now): void {
    if (this.sweepTimer) return;
    const period = Math.max(10, Math.min(60_000, Math.floor(this.idleTimeoutMs / 4)));
    this.sweepTimer = setInterval(() => {
      const t = now();
      for (const flow of this.all()) {
        if (t - flow.lastActivity >= this.idleTimeoutMs) flow.close('idle timeout');
      }
    }, period);
    this.sweepTimer.unref();
  }

  stopIdleSweep(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }
}
