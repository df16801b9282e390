// Bounds on stream connections (issue #14 §4): a per-address cap checked at accept, a short idle
// timeout until a connection carries a registration or a dialog, a deadline for completing a
// message once its first byte arrived, and a deadline for the TLS handshake / WebSocket upgrade.
// Timers run on a fake clock; sockets are real, on loopback.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocket } from 'ws';
import { FakeClock } from '../../../support/fake-clock.js';
import { captureLogger } from '../../../support/logger.js';
import { createSelfSignedCert, removeCert, type TestCert } from '../../../support/tls-cert.js';
import { sendAndWait, sipRequest, startLayer, stopAllLayers, waitFor, type Harness } from '../../../support/transport-harness.js';
import type { ListenPoint, TransportLimits } from '../../../../src/sip/transport/types.js';

let cert: TestCert;
const sockets: net.Socket[] = [];
const clients: WebSocket[] = [];
const servers: net.Server[] = [];

beforeAll(async () => {
  cert = await createSelfSignedCert();
});

afterAll(async () => {
  await removeCert(cert);
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of clients.splice(0)) c.terminate();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  await stopAllLayers();
});

const SECOND = 1000;

interface Peer {
  socket: net.Socket;
  data: () => string;
  closed: () => boolean;
}

function track(socket: net.Socket): Peer {
  sockets.push(socket);
  let data = '';
  let closed = false;
  socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  return { socket, data: () => data, closed: () => closed };
}

/**
 * A plain TCP connection from localAddress (any 127.0.0.0/8 address works on loopback). Resolves
 * once connected, or once closed: a refusal resets the connection, sometimes before the client
 * has seen its connect complete.
 */
async function tcpFrom(port: number, localAddress = '127.0.0.1'): Promise<Peer> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  const peer = track(socket);
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', () => resolve());
  });
  return peer;
}

async function tlsFrom(port: number, localAddress = '127.0.0.1'): Promise<Peer> {
  const tcp = net.connect({ port, host: '127.0.0.1', localAddress });
  tcp.on('error', () => undefined);
  const socket = tls.connect({ socket: tcp, rejectUnauthorized: false });
  const peer = track(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the handshake completed')));
  });
  return peer;
}

async function wsFrom(port: number, localAddress = '127.0.0.1'): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, ['sip'], { localAddress });
  clients.push(ws);
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('close', () => reject(new Error('websocket closed before it opened')));
  });
  return ws;
}

/** A WebSocket upgrade done by hand, so the test can then send partial frames. */
async function rawWebSocket(port: number): Promise<Peer> {
  const peer = await tcpFrom(port);
  peer.socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n',
  );
  await waitFor(() => peer.data().includes('\r\n\r\n'), 'upgrade response');
  expect(peer.data()).toMatch(/^HTTP\/1\.1 101/);
  return peer;
}

/** A masked client text frame header (RFC 6455 §5.2) announcing `length` payload bytes, with a zero mask. */
function frameHeader(length: number): Buffer {
  if (length > 125) throw new Error('short frames only');
  return Buffer.from([0x81, 0x80 | length, 0, 0, 0, 0]);
}

/** Real-socket events land asynchronously: wait until the transport has armed (or dropped) a timer. */
async function timersSettle(clock: FakeClock, count: number, what: string): Promise<void> {
  await waitFor(() => clock.pending === count, what);
}

function tlsPoint(): ListenPoint {
  return { transport: 'tls', host: '127.0.0.1', port: 0, cert: cert.certPath, key: cert.keyPath };
}

async function layer(listen: ListenPoint[], limits: Partial<TransportLimits>, clock = new FakeClock(1_000_000)): Promise<Harness & { clock: FakeClock }> {
  const h = await startLayer(listen, { limits, clock });
  return { ...h, clock };
}

describe('per-address connection cap', () => {
  it('refuses connections from one address beyond the cap while another address still gets through', async () => {
    const h = await layer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }], { maxConnectionsPerAddress: 2 });
    const port = h.point('tcp').port;
    const a = await tcpFrom(port, '127.0.0.2');
    const b = await tcpFrom(port, '127.0.0.2');
    await waitFor(() => h.layer.connectionCount === 2, 'two connections from 127.0.0.2');
    const c = await tcpFrom(port, '127.0.0.2');
    await waitFor(() => c.closed(), 'third connection from 127.0.0.2 refused');
    const other = await tcpFrom(port, '127.0.0.3');
    other.socket.write(sipRequest('REGISTER'));
    await waitFor(() => h.received.length === 1, 'message from 127.0.0.3');
    expect(h.received[0]?.source.address).toBe('127.0.0.3');
    expect(a.closed() || b.closed()).toBe(false);

    // A slot of 127.0.0.2 freed by a close can be used again.
    a.socket.destroy();
    await waitFor(() => h.layer.connectionCount === 2, 'the slot freed');
    const d = await tcpFrom(port, '127.0.0.2');
    d.socket.write(sipRequest('OPTIONS', '', 'd'));
    await waitFor(() => h.received.length === 2, 'message on the new connection from 127.0.0.2');
  });

  it('counts TCP, TLS and WebSocket connections from one address together', async () => {
    const h = await layer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }, tlsPoint(), { transport: 'ws', host: '127.0.0.1', port: 0 }], { maxConnectionsPerAddress: 2 });
    await tcpFrom(h.point('tcp').port, '127.0.0.2');
    await wsFrom(h.point('ws').port, '127.0.0.2');
    await waitFor(() => h.layer.connectionCount === 2, 'tcp and ws connections');
    await expect(tlsFrom(h.point('tls').port, '127.0.0.2')).rejects.toThrow();
    await expect(wsFrom(h.point('ws').port, '127.0.0.2')).rejects.toThrow();
    await tlsFrom(h.point('tls').port, '127.0.0.3');
    await waitFor(() => h.layer.connectionCount === 3, 'tls connection from another address');
  });

  it('logs each refusal at debug and one security warning per interval, not one per connection', async () => {
    const clock = new FakeClock(1_000_000);
    const { logger, lines } = captureLogger('debug');
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }], {
      limits: { maxConnectionsPerAddress: 1, securityReportIntervalMs: 60 * SECOND },
      clock,
      logger,
    });
    const port = h.point('tcp').port;
    await tcpFrom(port, '127.0.0.2');
    const refused: Peer[] = [];
    for (let i = 0; i < 5; i++) refused.push(await tcpFrom(port, '127.0.0.2'));
    await waitFor(() => refused.every((p) => p.closed()), 'five refusals');
    const security = (): Array<Record<string, unknown>> => lines.filter((l) => l.event === 'security');
    expect(lines.filter((l) => l.level === 20 && l.reason === 'address-limit')).toHaveLength(5);
    expect(security()).toHaveLength(1);
    expect(security()[0]).toMatchObject({ level: 40, kind: 'connection-refused', src: '127.0.0.2', transport: 'tcp' });

    clock.advance(60 * SECOND);
    expect(security()).toHaveLength(2);
    expect(security()[1]).toMatchObject({ level: 40, kind: 'connection-refused', count: 4, sources: { '127.0.0.2': 4 } });
    // A quiet interval ends the summaries; the next refusal is reported at once again.
    clock.advance(60 * SECOND);
    expect(security()).toHaveLength(2);
  });

  it('groups IPv6 sources by /64', async () => {
    const { admissionKey } = await import('../../../../src/sip/transport/admission.js');
    expect(admissionKey('2001:db8:1:2:aaaa::1')).toBe(admissionKey('2001:db8:1:2:bbbb::2'));
    expect(admissionKey('2001:db8:1:2::1')).not.toBe(admissionKey('2001:db8:1:3::1'));
    expect(admissionKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
  });
});

describe('idle timeout before a registration or dialog', () => {
  const limits = { unprovenIdleTimeoutMs: 30 * SECOND, idleTimeoutMs: 3600 * SECOND, messageTimeoutMs: 20 * SECOND };

  it('closes an unproven connection after the short timeout while a registered one stays', async () => {
    const h = await layer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }], limits);
    const port = h.point('tcp').port;
    const registered = await tcpFrom(port);
    registered.socket.write(sipRequest('REGISTER'));
    await waitFor(() => h.received.length === 1, 'REGISTER');
    const hold = h.layer.retain(h.received[0]?.source.connectionId, 'registration');
    const silent = await tcpFrom(port);
    await waitFor(() => h.layer.connectionCount === 2, 'both connections');

    h.clock.advance(31 * SECOND);
    await waitFor(() => silent.closed(), 'unproven connection closed');
    h.clock.advance(7200 * SECOND);
    expect(registered.closed()).toBe(false);

    // Binding gone: the connection is in use, so it gets the long timeout from then on.
    hold.release();
    h.clock.advance(3000 * SECOND);
    expect(registered.closed()).toBe(false);
    h.clock.advance(700 * SECOND);
    await waitFor(() => registered.closed(), 'connection closed after the long idle timeout');
  });

  it('does not count keep-alives as use of an unproven connection, but does for one in use', async () => {
    const h = await layer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }], limits);
    const port = h.point('tcp').port;
    const inUse = await tcpFrom(port);
    inUse.socket.write(sipRequest('INVITE'));
    await waitFor(() => h.received.length === 1, 'INVITE');
    h.layer.retain(h.received[0]?.source.connectionId, 'dialog').release();
    const unproven = await tcpFrom(port);
    for (let i = 1; i <= 3; i++) {
      inUse.socket.write('\r\n\r\n');
      unproven.socket.write('\r\n\r\n');
      await waitFor(() => inUse.data().length === 2 * i && unproven.data().length === 2 * i, 'pongs');
      h.clock.advance(10 * SECOND);
    }
    await waitFor(() => unproven.closed(), 'unproven connection closed despite keep-alives');
    expect(inUse.closed()).toBe(false);
  });

  it('holds a connection while a transaction needs it, without proving it', async () => {
    const h = await layer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }], limits);
    const phone = await tcpFrom(h.point('tcp').port);
    phone.socket.write(sipRequest('INVITE'));
    await waitFor(() => h.received.length === 1, 'INVITE');
    const hold = h.layer.retain(h.received[0]?.source.connectionId, 'transaction');
    h.clock.advance(120 * SECOND);
    expect(phone.closed()).toBe(false);
    hold.release();
    hold.release();
    h.clock.advance(31 * SECOND);
    await waitFor(() => phone.closed(), 'closed with the short timeout after the transaction');
  });

  it('treats connections it opened itself as in use', async () => {
    const h = await layer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }], limits);
    const accepted: net.Socket[] = [];
    const remote = net.createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      accepted.push(s);
    });
    servers.push(remote);
    await new Promise<void>((r) => remote.listen(0, '127.0.0.1', r));
    const address = remote.address() as net.AddressInfo;
    expect(await sendAndWait(h.layer, sipRequest('OPTIONS'), { transport: 'tcp', address: '127.0.0.1', port: address.port })).toBeUndefined();
    expect(h.layer.connectionCount).toBe(1);
    h.clock.advance(120 * SECOND);
    expect(h.layer.connectionCount).toBe(1);
    expect(accepted).toHaveLength(1);
  });
});

describe('message deadline', () => {
  const limits = { messageTimeoutMs: 20 * SECOND, unprovenIdleTimeoutMs: 3600 * SECOND };

  it('closes a TCP connection whose message is not complete within the deadline of its first byte', async () => {
    const h = await layer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }], limits);
    const phone = await tcpFrom(h.point('tcp').port);
    await waitFor(() => h.layer.connectionCount === 1, 'accepted');
    const idle = h.clock.pending;
    const message = sipRequest('REGISTER');
    phone.socket.write(message.slice(0, 40));
    await timersSettle(h.clock, idle + 1, 'deadline armed by the first byte');
    // More bytes do not move the deadline.
    phone.socket.write(message.slice(40, 60));
    h.clock.advance(19 * SECOND);
    phone.socket.write(message.slice(60, 80));
    h.clock.advance(1 * SECOND);
    await waitFor(() => phone.closed(), 'connection closed at the message deadline');
    expect(h.received).toHaveLength(0);
  });

  it('is met by a message completed in time, and a keep-alive does not start it', async () => {
    const h = await layer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }], limits);
    const phone = await tcpFrom(h.point('tcp').port);
    await waitFor(() => h.layer.connectionCount === 1, 'accepted');
    const idle = h.clock.pending;
    const message = sipRequest('REGISTER');
    phone.socket.write(message.slice(0, 40));
    await timersSettle(h.clock, idle + 1, 'deadline armed');
    h.clock.advance(19 * SECOND);
    phone.socket.write(message.slice(40) + '\r\n\r\n');
    await waitFor(() => h.received.length === 1 && phone.data() === '\r\n', 'message and pong');
    expect(h.clock.pending).toBe(idle);
    // The start of a keep-alive (CRLF, maybe the first half of a ping) is not a message.
    phone.socket.write('\r\n');
    h.clock.advance(60 * SECOND);
    phone.socket.write('\r\n');
    await waitFor(() => phone.data() === '\r\n\r\n', 'second pong');
    expect(phone.closed()).toBe(false);
    expect(h.clock.pending).toBe(idle);
  });

  it('restarts for the next message when one chunk ends a message and begins another', async () => {
    const h = await layer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }], limits);
    const phone = await tcpFrom(h.point('tcp').port);
    await waitFor(() => h.layer.connectionCount === 1, 'accepted');
    const idle = h.clock.pending;
    const first = sipRequest('OPTIONS', '', 'one');
    const second = sipRequest('OPTIONS', '', 'two');
    phone.socket.write(first.slice(0, 30));
    await timersSettle(h.clock, idle + 1, 'deadline armed');
    h.clock.advance(15 * SECOND);
    phone.socket.write(first.slice(30) + second.slice(0, 30));
    await waitFor(() => h.received.length === 1, 'first message');
    h.clock.advance(15 * SECOND);
    expect(phone.closed()).toBe(false);
    h.clock.advance(5 * SECOND);
    await waitFor(() => phone.closed(), 'second message missed its own deadline');
  });

  it('closes a TLS connection whose message trickles past the deadline', async () => {
    const h = await layer([tlsPoint()], limits);
    const phone = await tlsFrom(h.point('tls').port);
    await waitFor(() => h.layer.connectionCount === 1, 'tls flow');
    const idle = h.clock.pending;
    phone.socket.write('OPTIONS sip:x SIP/2.0\r\nVia: ');
    await timersSettle(h.clock, idle + 1, 'deadline armed');
    h.clock.advance(20 * SECOND);
    await waitFor(() => phone.closed(), 'tls connection closed at the message deadline');
  });

  it('closes a WebSocket whose frame is not complete within the deadline, and answers pings meanwhile', async () => {
    const h = await layer([{ transport: 'ws', host: '127.0.0.1', port: 0 }], limits);
    const phone = await rawWebSocket(h.point('ws').port);
    await waitFor(() => h.layer.connectionCount === 1, 'ws flow');
    const idle = h.clock.pending;
    const ping = Buffer.from('\r\n\r\n');
    const before = phone.data().length;
    phone.socket.write(Buffer.concat([frameHeader(ping.length), ping]));
    // The pong: an unmasked text frame of two bytes.
    await waitFor(() => phone.data().slice(before) === '\x81\x02\r\n', 'pong frame');
    expect(h.clock.pending).toBe(idle);
    phone.socket.write(Buffer.concat([frameHeader(100), Buffer.from('OPTIONS sip:x SIP/2.0\r\n')]));
    await timersSettle(h.clock, idle + 1, 'deadline armed');
    h.clock.advance(20 * SECOND);
    await waitFor(() => phone.closed(), 'websocket closed at the message deadline');
    expect(h.received).toHaveLength(0);
  });
});

describe('handshake deadline', () => {
  const limits = { handshakeTimeoutMs: 10 * SECOND, unprovenIdleTimeoutMs: 3600 * SECOND, connectTimeoutMs: 3600 * SECOND };

  it('closes a TLS connection that never handshakes, even one that trickles bytes', async () => {
    const h = await layer([tlsPoint()], limits);
    const port = h.point('tls').port;
    const idle = h.clock.pending;
    const silent = await tcpFrom(port);
    const trickler = await tcpFrom(port);
    await timersSettle(h.clock, idle + 2, 'two handshake deadlines armed');
    // A TLS record header announcing 16 KiB, then a byte now and then.
    trickler.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]));
    for (let i = 0; i < 9; i++) {
      h.clock.advance(1 * SECOND);
      trickler.socket.write(Buffer.from([0]));
    }
    expect(silent.closed() || trickler.closed()).toBe(false);
    h.clock.advance(1 * SECOND);
    await waitFor(() => silent.closed() && trickler.closed(), 'both closed at the handshake deadline');
  });

  it('lets a TLS client that handshakes in time stay', async () => {
    const h = await layer([tlsPoint()], limits);
    const phone = await tlsFrom(h.point('tls').port);
    await waitFor(() => h.layer.connectionCount === 1, 'tls flow');
    h.clock.advance(60 * SECOND);
    phone.socket.write(sipRequest('OPTIONS'));
    await waitFor(() => h.received.length === 1, 'message after the deadline would have passed');
    expect(phone.closed()).toBe(false);
  });

  it('closes a WebSocket connection whose HTTP upgrade does not complete in time', async () => {
    const h = await layer([{ transport: 'ws', host: '127.0.0.1', port: 0 }], limits);
    const idle = h.clock.pending;
    const phone = await tcpFrom(h.point('ws').port);
    await timersSettle(h.clock, idle + 1, 'handshake deadline armed');
    phone.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
    h.clock.advance(9 * SECOND);
    phone.socket.write('Connection: Upgrade\r\n');
    expect(phone.closed()).toBe(false);
    h.clock.advance(1 * SECOND);
    await waitFor(() => phone.closed(), 'closed at the handshake deadline');
  });

  it('closes a WSS connection that never starts its TLS handshake', async () => {
    const h = await layer([{ ...tlsPoint(), transport: 'wss' }], limits);
    const idle = h.clock.pending;
    const phone = await tcpFrom(h.point('wss').port);
    await timersSettle(h.clock, idle + 1, 'handshake deadline armed');
    h.clock.advance(10 * SECOND);
    await waitFor(() => phone.closed(), 'closed at the handshake deadline');
  });

  it('lets a WebSocket that upgrades in time stay', async () => {
    const h = await layer([{ transport: 'ws', host: '127.0.0.1', port: 0 }], limits);
    const phone = await wsFrom(h.point('ws').port);
    await waitFor(() => h.layer.connectionCount === 1, 'ws flow');
    h.clock.advance(60 * SECOND);
    phone.send(sipRequest('OPTIONS'));
    await waitFor(() => h.received.length === 1, 'message after the deadline would have passed');
  });
});
