// SIP over WebSocket (RFC 7118), plain (ws) and over TLS (wss). Each WebSocket
// message carries exactly one SIP message (RFC 7118 §5.1), so no stream framing.
// Browsers cannot accept connections, so these flows are inbound only.

import http from 'node:http';
import net, { type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { TimerHandle } from '../../util/clock.js';
import { nextConnectionId, normalizeAddress, remoteKey, type Flow, type FlowContext } from './connection-registry.js';
import { HandshakeGuard, type PendingHandshake } from './handshake-guard.js';
import { closeServer, listenServer, MAX_WRITE_BUFFER_BYTES } from './tcp.js';
import { readServerCredentials, startTlsServerSide } from './tls.js';
import { settleSend, type ListenPoint, type SendCallback, type TransportName } from './types.js';

/** RFC 7118 §4: the WebSocket subprotocol a SIP client must negotiate. */
export const SIP_SUBPROTOCOL = 'sip';

const PING = '\r\n\r\n';
const PONG = Buffer.from('\r\n', 'latin1');

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function isOnlyLineBreaks(data: Buffer): boolean {
  for (const byte of data) if (byte !== 0x0d && byte !== 0x0a) return false;
  return true;
}

export class WsFlow implements Flow {
  readonly id: string;
  readonly transport: TransportName;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  lastActivity: number;
  lastMessage: number;

  private readonly ws: WebSocket;
  private readonly ctx: FlowContext;
  private closing = false;
  private finished = false;
  private closeReason: string | undefined;
  /** Runs from the first byte of a frame until a whole message or control frame has been read. */
  private messageTimer: TimerHandle | undefined;

  constructor(ws: WebSocket, transport: TransportName, req: http.IncomingMessage, ctx: FlowContext) {
    this.id = nextConnectionId(transport);
    this.transport = transport;
    this.ws = ws;
    this.ctx = ctx;
    this.lastActivity = ctx.clock.now();
    this.lastMessage = this.lastActivity;
    this.remoteAddress = normalizeAddress(req.socket.remoteAddress ?? '');
    this.remotePort = req.socket.remotePort ?? 0;
    this.localAddress = normalizeAddress(req.socket.localAddress ?? '');
    this.localPort = req.socket.localPort ?? 0;

    // Ahead of the ws library's own listener, so a chunk arms the deadline before the frames it
    // completes disarm it. A chunk that ends one message and begins the next arms it only with the
    // next chunk: the frame boundaries stay inside the library.
    req.socket.prependListener('data', () => this.armMessageDeadline());
    ws.on('message', (data, isBinary) => this.onMessage(toBuffer(data), isBinary));
    ws.on('ping', () => this.frameDone());
    ws.on('pong', () => this.frameDone());
    ws.on('error', (err) => ctx.logger.debug({ connectionId: this.id, err: err.message }, 'websocket error'));
    ws.on('close', (code) => this.onClose(code));
  }

  send(data: Buffer, cb?: SendCallback): void {
    if (this.closing || this.ws.readyState !== WebSocket.OPEN) {
      settleSend(cb, new Error(`connection ${this.id} is closed`), this.onCallbackThrow);
      return;
    }
    this.touch();
    if (data !== PONG) this.lastMessage = this.lastActivity;
    // RFC 7118 §5.1 allows text or binary; text frames are what browser stacks expect.
    this.ws.send(data, { binary: false }, (err) => settleSend(cb, err ?? undefined, this.onCallbackThrow));
    if (this.ws.bufferedAmount > MAX_WRITE_BUFFER_BYTES) {
      this.ctx.logger.warn({ connectionId: this.id }, 'peer is not reading: closing websocket');
      this.close('write buffer over 1 MiB');
    }
  }

  close(reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.closeReason = reason;
    this.ws.terminate();
  }

  private touch(): void {
    this.lastActivity = this.ctx.clock.now();
  }

  private armMessageDeadline(): void {
    if (this.messageTimer || this.closing) return;
    const ms = this.ctx.limits.messageTimeoutMs;
    this.messageTimer = this.ctx.clock.setTimer(ms, () => {
      this.messageTimer = undefined;
      this.ctx.logger.debug({ connectionId: this.id, src: this.remoteAddress }, 'websocket message not completed in time');
      this.ctx.reporter.report('message-timeout', this.remoteAddress, this.transport, { timeoutMs: ms });
      this.close(`message not completed within ${ms} ms`);
    });
  }

  private frameDone(): void {
    this.messageTimer?.cancel();
    this.messageTimer = undefined;
    this.touch();
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.frameDone();
    if (this.closing) return;
    if (isOnlyLineBreaks(data)) {
      // Some WebSocket SIP stacks (SIP.js keepAliveInterval) send the RFC 5626 CRLFCRLF ping here too.
      if (data.toString('latin1') === PING) this.send(PONG);
      return;
    }
    this.ctx.logger.trace({ connectionId: this.id, bytes: data.length, isBinary }, 'websocket message');
    this.lastMessage = this.lastActivity;
    this.ctx.events.message(this, data);
  }

  private onClose(code: number): void {
    if (this.finished) return;
    this.finished = true;
    this.closing = true;
    this.messageTimer?.cancel();
    this.ctx.logger.debug({ connectionId: this.id, code, reason: this.closeReason ?? 'closed by peer' }, 'websocket closed');
    this.ctx.registry.remove(this);
    this.ctx.events.closed(this);
  }

  private readonly onCallbackThrow = (err: unknown): void => {
    this.ctx.logger.error({ connectionId: this.id, err }, 'send callback threw');
  };
}

function offeredProtocols(req: http.IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  if (!header) return [];
  return header.split(',').map((p) => p.trim());
}

/** Answers an upgrade request with an HTTP error and closes the socket once it is written. */
function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export class WsListener {
  private readonly point: ListenPoint;
  private readonly ctx: FlowContext;
  private readonly transport: 'ws' | 'wss';
  private readonly handshakes: HandshakeGuard;
  /** The handshake of each socket handed to the HTTP parser (raw for ws, decrypted for wss). */
  private readonly upgrades = new WeakMap<Duplex, PendingHandshake>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;

  constructor(point: ListenPoint, ctx: FlowContext) {
    this.point = point;
    this.ctx = ctx;
    this.transport = point.transport === 'wss' ? 'wss' : 'ws';
    this.handshakes = new HandshakeGuard(ctx, this.transport);
  }

  async start(): Promise<ListenPoint> {
    const ctx = this.ctx;
    const secureContext = this.transport === 'wss' ? tls.createSecureContext(await readServerCredentials(this.point)) : undefined;
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: ctx.limits.maxMessageBytes,
      clientTracking: false,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has(SIP_SUBPROTOCOL) ? SIP_SUBPROTOCOL : false),
    });
    // The HTTP parser never listens itself: sockets reach it only once admitted and, for wss, once
    // TLS is up, all under one handshake deadline counted from accept.
    const parser = http.createServer();
    parser.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(426, { Connection: 'close', Upgrade: 'websocket', 'Content-Length': '0' });
      res.end();
    });
    parser.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    parser.on('clientError', (err: Error, socket: Duplex) => {
      ctx.logger.debug({ err: err.message, transport: this.transport }, 'bad http request');
      socket.destroy();
    });
    const server = net.createServer((raw) => {
      if (!ctx.admission.admitInbound(raw, this.transport)) return;
      const pending = this.handshakes.begin(raw);
      const serve = (socket: Duplex): void => {
        this.upgrades.set(socket, pending);
        parser.emit('connection', socket);
      };
      if (secureContext) startTlsServerSide(raw, secureContext, ctx.logger, serve);
      else serve(raw);
    });
    this.server = server;
    this.wss = wss;
    const bound = await listenServer(server, this.point);
    server.on('error', (err: Error) => ctx.logger.error({ err, transport: this.transport }, 'websocket server error'));
    return bound;
  }

  async stop(): Promise<void> {
    this.handshakes.abortAll();
    this.wss?.close();
    if (this.server) await closeServer(this.server);
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const ctx = this.ctx;
    socket.on('error', (err: Error) => ctx.logger.debug({ err: err.message }, 'websocket upgrade socket error'));
    const wss = this.wss;
    const pending = this.upgrades.get(socket);
    if (!wss || !pending) {
      socket.destroy();
      return;
    }
    if (!offeredProtocols(req).includes(SIP_SUBPROTOCOL)) {
      ctx.logger.debug({ remote: req.socket.remoteAddress }, 'websocket refused: no sip subprotocol');
      refuseUpgrade(socket, 400, 'Bad Request');
      return;
    }
    if (!pending.complete()) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const flow = new WsFlow(ws, this.transport, req, ctx);
      ctx.registry.add(flow, [remoteKey(this.transport, flow.remoteAddress, flow.remotePort)], { proven: false });
    });
  }
}
