// SIP over TLS (RFC 3261 §26.2, RFC 5630): the TCP machinery over a TLS socket.

import { readFile } from 'node:fs/promises';
import net, { isIP, type Server, type Socket } from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { HandshakeGuard } from './handshake-guard.js';
import { acceptSocket, closeServer, listenServer, SocketFlow } from './tcp.js';
import { normalizeAddress, remoteKey, type FlowContext } from './connection-registry.js';
import type { ListenPoint, SendTarget } from './types.js';

/** Certificate and key of a tls/wss listen point, read from its PEM files. */
export async function readServerCredentials(point: ListenPoint): Promise<{ cert: Buffer; key: Buffer }> {
  if (!point.cert || !point.key) {
    throw new Error(`${point.transport} listen point needs both cert and key file paths`);
  }
  const [cert, key] = await Promise.all([readFile(point.cert), readFile(point.key)]);
  return { cert, key };
}

export class TlsListener {
  private readonly point: ListenPoint;
  private readonly ctx: FlowContext;
  private readonly handshakes: HandshakeGuard;
  private server: Server | undefined;

  constructor(point: ListenPoint, ctx: FlowContext) {
    this.point = point;
    this.ctx = ctx;
    this.handshakes = new HandshakeGuard(ctx, 'tls');
  }

  async start(): Promise<ListenPoint> {
    const secureContext = tls.createSecureContext(await readServerCredentials(this.point));
    const ctx = this.ctx;
    // A plain TCP server with TLS done here, not a tls.Server: admission happens before the
    // handshake costs anything, and the handshake gets a hard deadline (tls.Server's
    // handshakeTimeout is an inactivity timer, which a peer trickling bytes never trips).
    const server = net.createServer((raw) => {
      if (!ctx.admission.admitInbound(raw, 'tls')) return;
      const pending = this.handshakes.begin(raw);
      startTlsServerSide(raw, secureContext, ctx.logger, (secure) => {
        if (pending.complete()) acceptSocket(secure, 'tls', ctx);
      });
    });
    this.server = server;
    const bound = await listenServer(server, this.point);
    server.on('error', (err) => ctx.logger.error({ err, transport: 'tls' }, 'tls server error'));
    return bound;
  }

  async stop(): Promise<void> {
    this.handshakes.abortAll();
    if (this.server) await closeServer(this.server);
  }
}

/** Runs the server side of a TLS handshake on an accepted socket; onSecure gets the TLS socket once it is up. */
export function startTlsServerSide(raw: Socket, secureContext: tls.SecureContext, logger: Logger, onSecure: (secure: tls.TLSSocket) => void): void {
  const secure = new tls.TLSSocket(raw, { isServer: true, secureContext });
  let established = false;
  // Stays attached: whoever takes the socket over adds its own listener, and one must always be there.
  secure.on('error', (err: Error) => {
    if (!established) logger.debug({ err: err.message, src: raw.remoteAddress }, 'tls handshake failed');
    secure.destroy();
  });
  secure.once('secure', () => {
    established = true;
    onSecure(secure);
  });
}

/**
 * Opens an outbound TLS connection. SNI carries the target when it is a name
 * (RFC 6066 §3 forbids IP literals there); the certificate is checked against
 * it unless rejectUnauthorized is false.
 */
export function connectTls(target: SendTarget, ctx: FlowContext, rejectUnauthorized: boolean): SocketFlow {
  const host = normalizeAddress(target.address);
  const socket = tls.connect({
    host,
    port: target.port,
    rejectUnauthorized,
    ...(isIP(host) === 0 ? { servername: host } : {}),
  });
  socket.setNoDelay(true);
  ctx.admission.trackOutbound(socket);
  const flow = new SocketFlow(socket, ctx, {
    transport: 'tls',
    connectEvent: 'secureConnect',
    remoteAddress: host,
    remotePort: target.port,
  });
  ctx.registry.add(flow, [remoteKey('tls', host, target.port)], { proven: true });
  return flow;
}
