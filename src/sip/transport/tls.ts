// SIP over TLS (RFC 3261 §26.2, RFC 5630): the TCP machinery over a TLS socket.

import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import tls from 'node:tls';
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
  private server: tls.Server | undefined;

  constructor(point: ListenPoint, ctx: FlowContext) {
    this.point = point;
    this.ctx = ctx;
  }

  async start(): Promise<ListenPoint> {
    const { cert, key } = await readServerCredentials(this.point);
    const ctx = this.ctx;
    const server = tls.createServer({ cert, key, handshakeTimeout: ctx.limits.connectTimeoutMs });
    // Bounds handshakes in progress too; established flows are bounded again in acceptSocket.
    server.maxConnections = ctx.limits.maxConnections;
    server.on('secureConnection', (socket) => acceptSocket(socket, 'tls', ctx));
    server.on('tlsClientError', (err, socket) => {
      ctx.logger.debug({ err: err.message, remote: socket.remoteAddress }, 'tls handshake failed');
    });
    this.server = server;
    const bound = await listenServer(server, this.point);
    server.on('error', (err) => ctx.logger.error({ err, transport: 'tls' }, 'tls server error'));
    return bound;
  }

  async stop(): Promise<void> {
    if (this.server) await closeServer(this.server);
  }
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
  const flow = new SocketFlow(socket, ctx, {
    transport: 'tls',
    connectEvent: 'secureConnect',
    remoteAddress: host,
    remotePort: target.port,
  });
  ctx.registry.add(flow, [remoteKey('tls', host, target.port)]);
  return flow;
}
