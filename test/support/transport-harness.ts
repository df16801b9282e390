// Helpers for transport tests: a TransportLayer on loopback with a recorder of
// what it delivers, and small promise wrappers. Every layer made here is
// tracked so afterEach can stop them all.

import { pino, type Logger } from 'pino';
import type { Clock } from '../../src/util/clock.js';
import { TransportLayer, type TransportLimits } from '../../src/sip/transport/transport-layer.js';
import type { ListenPoint, SendTarget, TransportSource } from '../../src/sip/transport/types.js';

export const silentLogger = pino({ level: 'silent' });

export interface Received {
  text: string;
  source: TransportSource;
}

export interface Harness {
  layer: TransportLayer;
  received: Received[];
  closed: string[];
  point(transport: ListenPoint['transport']): ListenPoint;
}

const live: TransportLayer[] = [];

export async function startLayer(listen: ListenPoint[], opts: { limits?: Partial<TransportLimits>; rejectUnauthorized?: boolean; clock?: Clock; logger?: Logger } = {}): Promise<Harness> {
  const layer = new TransportLayer({
    listen,
    logger: opts.logger ?? silentLogger,
    limits: opts.limits,
    clock: opts.clock,
    tls: opts.rejectUnauthorized === undefined ? undefined : { rejectUnauthorized: opts.rejectUnauthorized },
  });
  live.push(layer);
  const received: Received[] = [];
  const closed: string[] = [];
  layer.onMessage((data, source) => received.push({ text: data.toString('utf8'), source }));
  layer.onConnectionClosed((id) => closed.push(id));
  await layer.start();
  return {
    layer,
    received,
    closed,
    point(transport) {
      const p = layer.listening().find((l) => l.transport === transport);
      if (!p) throw new Error(`no ${transport} listen point`);
      return p;
    },
  };
}

export async function stopAllLayers(): Promise<void> {
  const layers = live.splice(0);
  await Promise.all(layers.map((l) => l.stop()));
}

export async function waitFor(predicate: () => boolean, what = 'condition', timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sends through the layer and resolves with the callback's error (undefined on success). */
export function sendAndWait(layer: TransportLayer, data: string | Buffer, target: SendTarget): Promise<Error | undefined> {
  return new Promise((resolve) => layer.send(Buffer.isBuffer(data) ? data : Buffer.from(data), target, resolve));
}

export function sipRequest(method: string, body = '', tag = 'x'): string {
  return (
    `${method} sip:bob@example.com SIP/2.0\r\n` +
    `Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-${tag}\r\n` +
    `Call-ID: ${tag}@test\r\n` +
    `CSeq: 1 ${method}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
    body
  );
}

export function sipResponse(tag = 'x'): string {
  return `SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-${tag}\r\nCall-ID: ${tag}@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
}

/** A port on which nothing listens (bound then released). */
export async function unusedTcpPort(host = '127.0.0.1'): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
