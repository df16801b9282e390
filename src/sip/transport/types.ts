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
}

export function isReliable(transport: TransportName): boolean {
  return transport !== 'udp';
}

/** Resource bounds applied to every transport (they keep one peer from exhausting the process). */
export interface TransportLimits {
  /** Largest SIP message accepted or sent, in bytes (header block and body are each bounded by it). */
  maxMessageBytes: number;
  /** Inbound connections beyond this many live flows are destroyed at once. */
  maxConnections: number;
  /** A flow with no traffic at all in either direction for this long is closed. */
  idleTimeoutMs: number;
  /** Unframed input buffered on one connection beyond this closes it. */
  maxPendingBytesPerConnection: number;
  /** Outbound TCP connect and TLS handshake deadline. */
  connectTimeoutMs: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxMessageBytes: 65535,
  maxConnections: 10000,
  idleTimeoutMs: 3_600_000,
  maxPendingBytesPerConnection: 256 * 1024,
  connectTimeoutMs: 5000,
};

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
