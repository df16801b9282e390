// The transport layer (RFC 3261 §18) as the stack sees it: binds the listen
// points, delivers whole message buffers upward, and sends buffers to targets —
// over a pinned flow, a reused connection, a new connection or a UDP socket.
// It knows nothing of SIP beyond framing.

import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { realClock, type Clock } from '../../util/clock.js';
import { ConnectionAdmission } from './admission.js';
import { ConnectionRegistry, normalizeAddress, type ConnectionUse, type Flow, type FlowContext } from './connection-registry.js';
import { SecurityReporter } from './security-report.js';
import { connectTcp, TcpListener } from './tcp.js';
import { connectTls, TlsListener } from './tls.js';
import { UdpListener } from './udp.js';
import { WsListener } from './ws.js';
import {
  DEFAULT_TRANSPORT_LIMITS,
  settleSend,
  type ConnectionHold,
  type HoldReason,
  type ListenPoint,
  type MessageHandler,
  type SendCallback,
  type SendTarget,
  type SipTransport,
  type TransportLimits,
  type TransportName,
  type TransportSource,
} from './types.js';

export { DEFAULT_TRANSPORT_LIMITS, type ConnectionHold, type ConnectionUse, type HoldReason, type TransportLimits };

export interface TransportLayerOptions {
  listen: ListenPoint[];
  logger: Logger;
  limits?: Partial<TransportLimits>;
  /** Outbound TLS client verification; rejectUnauthorized defaults to true. */
  tls?: { rejectUnauthorized?: boolean };
  /** Time for idle, message and handshake deadlines (tests pass a fake one). */
  clock?: Clock;
  /** Whether an inbound connection from this address is accepted (a rate-limited source is not). */
  admitConnection?: (address: string) => boolean;
}

interface Listener {
  start(): Promise<ListenPoint>;
  stop(): Promise<void>;
}

/** How long stop() waits for closed connections to report before giving up on them. */
const STOP_DRAIN_MS = 2000;

function familyOf(host: string): 4 | 6 {
  return isIP(normalizeAddress(host)) === 6 ? 6 : 4;
}

function describe(point: ListenPoint): string {
  const host = point.host.includes(':') ? `[${point.host}]` : point.host;
  return `${point.transport}:${host}:${point.port}`;
}

export class TransportLayer implements SipTransport {
  private readonly points: ListenPoint[];
  private readonly logger: Logger;
  private readonly limits: TransportLimits;
  private readonly rejectUnauthorized: boolean;
  private readonly registry: ConnectionRegistry;
  private readonly reporter: SecurityReporter;
  private readonly flowContext: FlowContext;
  private readonly messageHandlers: MessageHandler[] = [];
  private readonly closedHandlers: Array<(connectionId: string) => void> = [];
  private listeners: Listener[] = [];
  private udpListeners: UdpListener[] = [];
  private bound: ListenPoint[] = [];
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;
  private drained: (() => void) | undefined;

  constructor(opts: TransportLayerOptions) {
    this.points = opts.listen.map((p) => ({ ...p }));
    this.logger = opts.logger;
    this.limits = { ...DEFAULT_TRANSPORT_LIMITS, ...opts.limits };
    this.rejectUnauthorized = opts.tls?.rejectUnauthorized ?? true;
    const clock = opts.clock ?? realClock;
    this.registry = new ConnectionRegistry({
      idleTimeoutMs: this.limits.idleTimeoutMs,
      unprovenIdleTimeoutMs: this.limits.unprovenIdleTimeoutMs,
      clock,
    });
    this.reporter = new SecurityReporter(this.logger, clock, this.limits.securityReportIntervalMs);
    this.flowContext = {
      limits: this.limits,
      logger: this.logger,
      clock,
      registry: this.registry,
      admission: new ConnectionAdmission(this.limits, this.logger, this.reporter, (address) => opts.admitConnection?.(address) === false),
      reporter: this.reporter,
      events: {
        message: (flow, data) => this.deliver(data, sourceOf(flow)),
        closed: (flow) => this.flowClosed(flow),
      },
    };
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`transport layer cannot start: it is ${this.state}`);
    this.state = 'starting';
    const udpContext = { limits: this.limits, logger: this.logger, deliver: this.deliver };
    for (const point of this.points) {
      let listener: Listener;
      let udp: UdpListener | undefined;
      switch (point.transport) {
        case 'udp':
          udp = new UdpListener(point, udpContext);
          listener = udp;
          break;
        case 'tcp':
          listener = new TcpListener(point, this.flowContext);
          break;
        case 'tls':
          listener = new TlsListener(point, this.flowContext);
          break;
        case 'ws':
        case 'wss':
          listener = new WsListener(point, this.flowContext);
          break;
      }
      try {
        this.bound.push(await listener.start());
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        await listener.stop().catch(() => undefined);
        await this.stopListeners();
        this.state = 'stopped';
        throw new Error(`cannot listen on ${describe(point)}: ${reason}`, { cause: err });
      }
      this.listeners.push(listener);
      if (udp) this.udpListeners.push(udp);
    }
    this.registry.startIdleSweep();
    this.state = 'running';
    this.logger.info({ listening: this.bound.map(describe) }, 'transports listening');
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  listening(): ListenPoint[] {
    return this.bound.map((p) => ({ ...p }));
  }

  onMessage(handler: MessageHandler): void {
    this.messageHandlers.push(handler);
  }

  onConnectionClosed(handler: (connectionId: string) => void): void {
    this.closedHandlers.push(handler);
  }

  send(data: Buffer, target: SendTarget, cb?: SendCallback): void {
    try {
      this.route(data, target, cb);
    } catch (err) {
      this.fail(cb, err instanceof Error ? err : new Error(String(err)));
    }
  }

  localPoint(transport: TransportName, remoteAddress?: string): ListenPoint | undefined {
    const candidates = this.bound.filter((p) => p.transport === transport);
    if (candidates.length === 0) return undefined;
    if (remoteAddress !== undefined) {
      const family = familyOf(remoteAddress);
      const same = candidates.find((p) => familyOf(p.host) === family);
      if (same) return { ...same };
      // An IPv6 wildcard socket also serves IPv4 peers.
      const dual = family === 4 ? candidates.find((p) => p.host === '::') : undefined;
      if (dual) return { ...dual };
    }
    return { ...candidates[0] };
  }

  /** Close one connection (e.g. of a source that is now blocked); unknown ids are ignored. */
  closeConnection(connectionId: string, reason: string): void {
    this.registry.get(connectionId)?.close(reason);
  }

  hasConnection(connectionId: string): boolean {
    return this.registry.get(connectionId) !== undefined;
  }

  get connectionCount(): number {
    return this.registry.size;
  }

  /**
   * Keeps a connection open while something above needs it: a registration bound over it (the
   * phone is reached over it, RFC 5626/5923), a dialog made over it, or a transaction awaiting its
   * final response. Without such a hold an inbound connection is closed after the short
   * unprovenIdleTimeoutMs; once a registration or dialog has used it, after idleTimeoutMs.
   * An unknown id (UDP, a connection already gone) gets a hold that does nothing.
   */
  retain(connectionId: string | undefined, reason: HoldReason): ConnectionHold {
    return this.registry.retain(connectionId, reason);
  }

  /** How the idle timeout treats a connection now (undefined for an unknown id). */
  connectionUse(connectionId: string): ConnectionUse | undefined {
    return this.registry.useOf(connectionId);
  }

  private route(data: Buffer, target: SendTarget, cb: SendCallback | undefined): void {
    if (this.state !== 'running') {
      this.fail(cb, new Error(`transport layer is not running (${this.state})`));
      return;
    }
    if (data.length > this.limits.maxMessageBytes) {
      this.fail(cb, new Error(`message of ${data.length} bytes exceeds ${this.limits.maxMessageBytes}`));
      return;
    }
    if (target.transport === 'udp') {
      this.sendUdp(data, target, cb);
      return;
    }
    if (target.connectionId !== undefined) {
      const pinned = this.registry.get(target.connectionId);
      if (pinned) {
        pinned.send(data, cb);
        return;
      }
    }
    const existing = this.registry.findByRemote(target.transport, target.address, target.port);
    if (existing) {
      existing.send(data, cb);
      return;
    }
    switch (target.transport) {
      case 'tcp':
        connectTcp(target, this.flowContext).send(data, cb);
        return;
      case 'tls':
        connectTls(target, this.flowContext, this.rejectUnauthorized).send(data, cb);
        return;
      case 'ws':
      case 'wss': {
        // A browser cannot accept connections: without its flow it is unreachable.
        const which = target.connectionId ?? `${normalizeAddress(target.address)}:${target.port}`;
        this.fail(cb, new Error(`no ${target.transport} connection ${which}`));
        return;
      }
    }
  }

  private sendUdp(data: Buffer, target: SendTarget, cb: SendCallback | undefined): void {
    const address = normalizeAddress(target.address);
    const family = isIP(address);
    const socket = family === 6 ? this.udpListeners.find((l) => l.family === 6) : (this.udpListeners.find((l) => l.family === 4) ?? this.udpListeners.find((l) => l.isDualStack));
    if (!socket) {
      this.fail(cb, new Error(`no udp listen point for IPv${family === 6 ? 6 : 4} destination ${address}`));
      return;
    }
    socket.send(data, address, target.port, cb);
  }

  private readonly deliver = (data: Buffer, source: TransportSource): void => {
    for (const handler of this.messageHandlers) {
      try {
        handler(data, source);
      } catch (err) {
        this.logger.error({ err, transport: source.transport, connectionId: source.connectionId }, 'message handler threw');
      }
    }
  };

  private flowClosed(flow: Flow): void {
    for (const handler of this.closedHandlers) {
      try {
        handler(flow.id);
      } catch (err) {
        this.logger.error({ err, connectionId: flow.id }, 'connection-closed handler threw');
      }
    }
    if (this.registry.size === 0) this.drained?.();
  }

  private fail(cb: SendCallback | undefined, err: Error): void {
    this.logger.debug({ err: err.message }, 'send failed');
    settleSend(cb, err, (thrown) => this.logger.error({ err: thrown }, 'send callback threw'));
  }

  private async shutdown(): Promise<void> {
    this.state = 'stopped';
    this.registry.stopIdleSweep();
    this.reporter.stop();
    if (this.registry.size > 0) {
      const drained = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, STOP_DRAIN_MS);
        timer.unref();
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      for (const flow of this.registry.all()) flow.close('transport layer stopped');
      await drained;
    }
    await this.stopListeners();
  }

  private async stopListeners(): Promise<void> {
    const listeners = this.listeners;
    this.listeners = [];
    this.udpListeners = [];
    await Promise.all(listeners.map((l) => l.stop().catch((err: unknown) => this.logger.warn({ err }, 'error while closing a listener'))));
  }
}

function sourceOf(flow: Flow): TransportSource {
  return {
    transport: flow.transport,
    address: flow.remoteAddress,
    port: flow.remotePort,
    localAddress: flow.localAddress,
    localPort: flow.localPort,
    connectionId: flow.id,
  };
}
