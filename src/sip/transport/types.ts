// Contract between the transport layer and the layers above it (transactions, stack).
import type { TransportName, TransportSource } from '../message.js';

export type { TransportName, TransportSource };

/** Where to send a message. connectionId, when set, pins the send to that existing flow. */
export interface SendTarget {
  transport: TransportName;
  address: string;
  port: number;
  connectionId?: string;
}

/** One configured listening socket. */
export interface ListenPoint {
  transport: TransportName;
  host: string;
  port: number;
  /** PEM file paths, required for tls and wss. */
  cert?: string;
  key?: string;
}

export type SendCallback = (err?: Error) => void;

export type MessageHandler = (data: Buffer, source: TransportSource) => void;

/**
 * What the stack needs of its transport: the sockets of transport-layer.ts, or anything else that moves
 * whole messages (an in-memory network in unit tests).
 */
export interface SipTransport {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The listen points actually bound (port 0 resolved). */
  listening(): ListenPoint[];
  onMessage(handler: MessageHandler): void;
  onConnectionClosed(handler: (connectionId: string) => void): void;
  send(data: Buffer, target: SendTarget, cb?: SendCallback): void;
  /** The listen point to send from (and advertise) toward a remote address over a transport. */
  localPoint(transport: TransportName, remoteAddress?: string): ListenPoint | undefined;
  hasConnection(connectionId: string): boolean;
  readonly connectionCount: number;
  /** Keep a connection open while something uses it (a binding, a dialog, a ringing INVITE). */
  retain(connectionId: string | undefined, reason: HoldReason): ConnectionHold;
  /** Close one connection (a source that is now blocked); unknown ids are ignored. */
  closeConnection(connectionId: string, reason: string): void;
}

export function isReliable(transport: TransportName): boolean {
  return transport !== 'udp';
}

/** Resource bounds applied to every transport (they keep one peer from exhausting the process). */
export interface TransportLimits {
  /** Largest SIP message accepted or sent, in bytes (header block and body are each bounded by it). */
  maxMessageBytes: number;
  /** Connections (inbound ones from accept on, handshakes included, and outbound ones) beyond this are refused. */
  maxConnections: number;
  /**
   * Inbound connections from one source beyond this are refused at accept: one IPv4 address, or
   * one IPv6 /64 (the smallest block an end site is given, so one attacker's block counts once).
   */
  maxConnectionsPerAddress: number;
  /** A connection in use (see ConnectionRegistry) and not held, with no traffic for this long, is closed. */
  idleTimeoutMs: number;
  /** A connection that has not yet carried a registration or a dialog, with no SIP message for this long, is closed. */
  unprovenIdleTimeoutMs: number;
  /** Once the first byte of a message has arrived, the whole message must arrive within this, or the connection is closed. */
  messageTimeoutMs: number;
  /** An inbound TLS handshake or WebSocket upgrade (WSS: both) must complete within this, or the connection is closed. */
  handshakeTimeoutMs: number;
  /** Unframed input buffered on one connection beyond this closes it. */
  maxPendingBytesPerConnection: number;
  /** Outbound TCP connect and TLS handshake deadline. */
  connectTimeoutMs: number;
  /** Refused and timed-out connections are summarised in one security log line per this interval. */
  securityReportIntervalMs: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxMessageBytes: 65535,
  maxConnections: 10000,
  maxConnectionsPerAddress: 500,
  idleTimeoutMs: 3_600_000,
  unprovenIdleTimeoutMs: 30_000,
  messageTimeoutMs: 20_000,
  handshakeTimeoutMs: 10_000,
  maxPendingBytesPerConnection: 256 * 1024,
  connectTimeoutMs: 5000,
  securityReportIntervalMs: 60_000,
};

/**
 * Why a connection is held open. A registration bound over it or a dialog made over it proves the
 * peer uses it: once such a hold ends the connection keeps the long idle timeout. A transaction
 * (an INVITE awaiting its final response) only holds it meanwhile.
 */
export type HoldReason = 'registration' | 'dialog' | 'transaction';

/** Keeps a connection from being closed for idleness until released. release() is idempotent. */
export interface ConnectionHold {
  release(): void;
}

/**
 * Completes a send: calls cb on a later tick (so send() never re-enters its
 * caller) and keeps an exception thrown by cb from escaping into the event loop.
 */
export function settleSend(cb: SendCallback | undefined, err: Error | undefined, onThrow: (err: unknown) => void): void {
  if (!cb) return;
  process.nextTick(() => {
    try {
      cb(err);
    } catch (thrown) {
      onThrow(thrown);
    }
  });
}
