// SIP over TCP (RFC 3261 §18): a listener that accepts connections, an
// outbound connector, and SocketFlow — one framed connection, shared with TLS
// (a TLSSocket is a net.Socket).

import net, { type Server, type Socket } from 'node:net';
import { StreamFramer } from './stream-framer.js';
import { nextConnectionId, normalizeAddress, remoteKey, type Flow, type FlowContext } from './connection-registry.js';
import { settleSend, type ListenPoint, type SendCallback, type SendTarget, type TransportName } from './types.js';
import type { TimerHandle } from '../../util/clock.js';

/** A peer that lets more than this pile up unsent is not reading; its connection is closed. */
export const MAX_WRITE_BUFFER_BYTES = 1024 * 1024;

const PONG = Buffer.from('\r\n', 'latin1');

interface QueuedSend {
  data: Buffer;
  cb: SendCallback | undefined;
}

export interface SocketFlowOptions {
  transport: TransportName;
  /** For an outbound socket still connecting: the event that marks it usable ('connect' or 'secureConnect'). */
  connectEvent?: 'connect' | 'secureConnect';
  /** The target as given, used until the socket knows its peer. */
  remoteAddress?: string;
  remotePort?: number;
}

export class SocketFlow implements Flow {
  readonly id: string;
  readonly transport: TransportName;
  remoteAddress: string;
  remotePort: number;
  localAddress = '';
  localPort = 0;
  lastActivity: number;
  lastMessage: number;

  private readonly socket: Socket;
  private readonly ctx: FlowContext;
  private readonly framer: StreamFramer;
  private connected: boolean;
  private queue: QueuedSend[] = [];
  private queuedBytes = 0;
  private closing = false;
  private finished = false;
  private closeReason: string | undefined;
  private lastError: Error | undefined;
  private connectTimer: TimerHandle | undefined;
  /** Runs while a message is partly received (slowloris defence). */
  private messageTimer: TimerHandle | undefined;

  constructor(socket: Socket, ctx: FlowContext, opts: SocketFlowOptions) {
    this.id = nextConnectionId(opts.transport);
    this.transport = opts.transport;
    this.socket = socket;
    this.ctx = ctx;
    this.lastActivity = ctx.clock.now();
    this.lastMessage = this.lastActivity;
    this.framer = new StreamFramer({
      maxMessageBytes: ctx.limits.maxMessageBytes,
      maxPendingBytes: ctx.limits.maxPendingBytesPerConnection,
    });
    this.remoteAddress = normalizeAddress(opts.remoteAddress ?? socket.remoteAddress ?? '');
    this.remotePort = opts.remotePort ?? socket.remotePort ?? 0;
    this.connected = opts.connectEvent === undefined;

    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: Error) => {
      this.lastError = err;
      this.ctx.logger.debug({ connectionId: this.id, err: err.message }, 'connection error');
    });
    socket.on('close', () => this.onClose());

    if (opts.connectEvent) {
      socket.once(opts.connectEvent, () => this.onConnected());
      this.connectTimer = ctx.clock.setTimer(ctx.limits.connectTimeoutMs, () => this.close(`connect timeout after ${ctx.limits.connectTimeoutMs} ms`));
    } else {
      this.learnAddresses();
    }
  }

  send(data: Buffer, cb?: SendCallback): void {
    if (this.closing) {
      settleSend(cb, new Error(`connection ${this.id} is closed`), this.onCallbackThrow);
      return;
    }
    if (!this.connected) {
      this.queue.push({ data, cb });
      this.queuedBytes += data.length;
      if (this.queuedBytes > MAX_WRITE_BUFFER_BYTES) this.close('too much data queued while connecting');
      return;
    }
    this.lastMessage = this.ctx.clock.now();
    this.write(data, cb);
  }

  close(reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.closeReason = reason;
    this.socket.destroy();
  }

  private write(data: Buffer, cb: SendCallback | undefined): void {
    this.lastActivity = this.ctx.clock.now();
    let settled = false;
    this.socket.write(data, (err?: Error | null) => {
      if (settled) return;
      settled = true;
      settleSend(cb, err ?? undefined, this.onCallbackThrow);
    });
    if (this.socket.writableLength > MAX_WRITE_BUFFER_BYTES) {
      this.ctx.logger.warn({ connectionId: this.id }, 'peer is not reading: closing connection');
      this.close('write buffer over 1 MiB');
    }
  }

  private onConnected(): void {
    if (this.closing) return;
    this.connectTimer?.cancel();
    this.connected = true;
    this.learnAddresses();
    // The target may have been a name: also find this flow by the address it resolved to.
    this.ctx.registry.alias(this, remoteKey(this.transport, this.remoteAddress, this.remotePort));
    const queue = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const { data, cb } of queue) this.write(data, cb);
  }

  private learnAddresses(): void {
    if (this.socket.remoteAddress) this.remoteAddress = normalizeAddress(this.socket.remoteAddress);
    if (this.socket.remotePort) this.remotePort = this.socket.remotePort;
    this.localAddress = normalizeAddress(this.socket.localAddress ?? '');
    this.localPort = this.socket.localPort ?? 0;
  }

  private onData(chunk: Buffer): void {
    this.lastActivity = this.ctx.clock.now();
    let completed = false;
    for (const event of this.framer.push(chunk)) {
      if (this.closing) return;
      if (event.kind === 'message') {
        completed = true;
        this.lastMessage = this.lastActivity;
        this.ctx.events.message(this, event.data);
      } else if (event.kind === 'ping') {
        // RFC 5626 §3.5.1: answer a CRLFCRLF ping with a CRLF pong.
        this.write(PONG, undefined);
      } else {
        this.ctx.logger.warn({ connectionId: this.id, remote: `${this.remoteAddress}:${this.remotePort}`, reason: event.reason }, 'stream framing error: closing connection');
        this.close(`framing error: ${event.reason}`);
      }
    }
    if (!this.closing) this.watchMessageDeadline(completed);
  }

  /**
   * Once the first byte of a message is in, the rest must follow within messageTimeoutMs: a peer
   * trickling a header a byte at a time would otherwise hold the connection (and its buffer) for
   * as long as maxMessageBytes lasts. A message completed in this chunk restarts the deadline for
   * the next one it began.
   */
  private watchMessageDeadline(completedOne: boolean): void {
    if (!this.framer.inMessage) {
      this.messageTimer?.cancel();
      this.messageTimer = undefined;
      return;
    }
    if (this.messageTimer && !completedOne) return;
    this.messageTimer?.cancel();
    const ms = this.ctx.limits.messageTimeoutMs;
    this.messageTimer = this.ctx.clock.setTimer(ms, () => {
      this.messageTimer = undefined;
      this.ctx.logger.debug({ connectionId: this.id, src: this.remoteAddress, pending: this.framer.pendingBytes }, 'message not completed in time');
      this.ctx.reporter.report('message-timeout', this.remoteAddress, this.transport, { timeoutMs: ms });
      this.close(`message not completed within ${ms} ms`);
    });
  }

  private onClose(): void {
    if (this.finished) return;
    this.finished = true;
    this.closing = true;
    this.connectTimer?.cancel();
    this.messageTimer?.cancel();
    const reason = this.closeReason ?? this.lastError?.message ?? 'closed by peer';
    if (this.queue.length > 0) {
      const err = this.lastError ?? new Error(`connection to ${this.remoteAddress}:${this.remotePort} failed: ${reason}`);
      for (const { cb } of this.queue) settleSend(cb, err, this.onCallbackThrow);
      this.queue = [];
    }
    this.ctx.logger.debug({ connectionId: this.id, reason }, 'connection closed');
    this.ctx.registry.remove(this);
    this.ctx.events.closed(this);
  }

  private readonly onCallbackThrow = (err: unknown): void => {
    this.ctx.logger.error({ connectionId: this.id, err }, 'send callback threw');
  };
}

/** Registers an accepted (and admitted) socket as a flow; it starts unproven. */
export function acceptSocket(socket: Socket, transport: TransportName, ctx: FlowContext): SocketFlow | undefined {
  if (!socket.remoteAddress) {
    ctx.logger.debug({ transport }, 'connection dropped: peer already gone');
    socket.destroy();
    return undefined;
  }
  socket.setNoDelay(true);
  const flow = new SocketFlow(socket, ctx, { transport });
  ctx.registry.add(flow, [remoteKey(transport, flow.remoteAddress, flow.remotePort)], { proven: false });
  return flow;
}

/** Opens an outbound TCP connection; sends made before it is up are queued. */
export function connectTcp(target: SendTarget, ctx: FlowContext): SocketFlow {
  const host = normalizeAddress(target.address);
  const socket = net.connect({ host, port: target.port, noDelay: true });
  ctx.admission.trackOutbound(socket);
  const flow = new SocketFlow(socket, ctx, {
    transport: 'tcp',
    connectEvent: 'connect',
    remoteAddress: host,
    remotePort: target.port,
  });
  ctx.registry.add(flow, [remoteKey('tcp', host, target.port)], { proven: true });
  return flow;
}

/** Starts a server and resolves once it is bound; rejects on a bind error. */
export function listenServer(server: Server, point: ListenPoint): Promise<ListenPoint> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(point.port, normalizeAddress(point.host), () => {
      server.off('error', onError);
      const bound = server.address();
      if (bound === null || typeof bound === 'string') {
        reject(new Error('server has no network address'));
        return;
      }
      resolve({ ...point, host: normalizeAddress(bound.address), port: bound.port });
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}

export class TcpListener {
  private readonly point: ListenPoint;
  private readonly ctx: FlowContext;
  private readonly server: Server;

  constructor(point: ListenPoint, ctx: FlowContext) {
    this.point = point;
    this.ctx = ctx;
    this.server = net.createServer({ noDelay: true }, (socket) => {
      if (ctx.admission.admitInbound(socket, 'tcp')) acceptSocket(socket, 'tcp', ctx);
    });
  }

  async start(): Promise<ListenPoint> {
    const bound = await listenServer(this.server, this.point);
    this.server.on('error', (err) => this.ctx.logger.error({ err, transport: 'tcp' }, 'tcp server error'));
    return bound;
  }

  stop(): Promise<void> {
    return closeServer(this.server);
  }
}
