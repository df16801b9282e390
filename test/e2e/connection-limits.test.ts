// Issue #14 §4 end to end: one address cannot take every TCP/TLS/WS slot, a connection that never
// registers or carries a dialog is closed soon while registered phones and calls keep theirs, a
// message trickled in is cut at the message deadline, and a TLS handshake or WebSocket upgrade
// trickled in is cut at the handshake deadline. Small configured values; waits are on events.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil, ringingCall } from '../support/call-helpers.js';
import { startHibiki, type RunningHibiki, type StartOptions } from '../support/hibiki.js';
import { RawUa } from '../support/raw-ua.js';
import { TestUA } from '../support/test-ua.js';
import { createSelfSignedCert, removeCert, type TestCert } from '../support/tls-cert.js';

let hibiki: RunningHibiki | undefined;
const uas: RawUa[] = [];
const phones: TestUA[] = [];
const sockets: net.Socket[] = [];
let cert: TestCert | undefined;

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all([...uas.splice(0).map((u) => u.close()), ...phones.splice(0).map((p) => p.close())]);
  await hibiki?.stop();
  hibiki = undefined;
  if (cert) await removeCert(cert);
  cert = undefined;
});

async function start(opts: StartOptions): Promise<RunningHibiki> {
  hibiki = await startHibiki(opts);
  return hibiki;
}

/** A raw TCP UA from localHost; resolves undefined when the connection is refused during connect. */
async function tcpUa(h: RunningHibiki, localHost = '127.0.0.1'): Promise<RawUa | undefined> {
  try {
    const u = await RawUa.open({ transport: 'tcp', port: h.port('tcp'), localHost });
    uas.push(u);
    return u;
  } catch {
    return undefined;
  }
}

async function phone(h: RunningHibiki, user: string, transport: 'udp' | 'tcp'): Promise<TestUA> {
  const p = await TestUA.create({ user, password: `secret-${user}`, transport, server: { host: '127.0.0.1', port: h.port(transport) } });
  phones.push(p);
  return p;
}

function rawSocket(port: number): Promise<{ socket: net.Socket; closed: () => boolean }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  sockets.push(socket);
  let closed = false;
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  return new Promise((resolve) => socket.once('connect', () => resolve({ socket, closed: () => closed })));
}

/** Writes one chunk every 200 ms until the server closes the socket (at most 50 chunks). */
async function trickle(conn: { socket: net.Socket; closed: () => boolean }, chunk: (i: number) => Buffer | string): Promise<number> {
  let i = 0;
  for (; i < 50 && !conn.closed(); i++) {
    conn.socket.write(chunk(i));
    await new Promise((r) => setTimeout(r, 200));
  }
  return i;
}

function security(h: RunningHibiki, kind: string): Array<Record<string, unknown>> {
  return h.logs.filter((l) => l.event === 'security' && l.kind === kind);
}

describe('per-address connection cap', () => {
  it('refuses a third TCP connection from 127.0.0.2 while a phone on 127.0.0.3 still registers', async () => {
    const h = await start({ config: { sip: { maxConnectionsPerAddress: 2 } } });
    const first = await tcpUa(h, '127.0.0.2');
    const second = await tcpUa(h, '127.0.0.2');
    expect(first && second).toBeDefined();
    await waitUntil(() => h.server.stack.transport.connectionCount === 2, 5000);
    const third = await tcpUa(h, '127.0.0.2');
    if (third) expect(await third.waitClosed(5000)).toBe(true);

    const other = await tcpUa(h, '127.0.0.3');
    const reg = await other?.register({ user: '2001', password: 'secret-2001' });
    expect(reg?.final.status).toBe(200);
    expect(h.server.registrar.contacts('2001')[0]?.binding.sourceAddress).toBe('127.0.0.3');
    expect(first?.closed || second?.closed).toBe(false);
    expect(security(h, 'connection-refused')[0]).toMatchObject({ src: '127.0.0.2', transport: 'tcp', reason: 'address-limit' });
  });
});

describe('idle connections that never registered or carried a dialog', () => {
  it('closes a silent connection after tcpUnprovenIdleTimeout; a registered phone keeps its connection and is called over it', async () => {
    const h = await start({ config: { sip: { tcpUnprovenIdleTimeout: 1 } } });
    const registered = await tcpUa(h);
    expect((await registered?.register({ user: '2001', password: 'secret-2001' }))?.final.status).toBe(200);
    // Opened after the registration's last message: whenever it is found idle, so would the registered one be.
    const silent = await tcpUa(h);
    expect(await silent?.waitClosed(10_000)).toBe(true);
    expect(registered?.closed).toBe(false);

    const caller = await phone(h, '2002', 'udp');
    if (registered) registered.otherRequestAnswer = 486;
    const invite = registered?.waitFor((m) => 'method' in m && m.method === 'INVITE', 5000);
    await caller.dial('2001').catch(() => undefined);
    expect(await invite).toBeDefined();
  });

  it('keeps the connection of a call that rings and then talks, though it never registered', async () => {
    const h = await start({ config: { sip: { tcpUnprovenIdleTimeout: 1 } } });
    const callee = await phone(h, '2001', 'udp');
    await callee.register();
    // The caller only calls over TCP: no registration holds its connection.
    const caller = await phone(h, '2002', 'tcp');
    const { outgoing, incoming } = await ringingCall(caller, callee, '2001');

    const whileRinging = await tcpUa(h);
    expect(await whileRinging?.waitClosed(10_000)).toBe(true);
    const answered = await incoming.answer();
    const call = await outgoing.answered;

    const whileTalking = await tcpUa(h);
    expect(await whileTalking?.waitClosed(10_000)).toBe(true);
    await call.hangup();
    await answered.waitForEnd();
  });
});

describe('message deadline', () => {
  it('closes a TCP connection whose REGISTER trickles in past tcpMessageTimeout', async () => {
    const h = await start({ config: { sip: { tcpMessageTimeout: 1 } } });
    const conn = await rawSocket(h.port('tcp'));
    const text = 'REGISTER sip:hibiki.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-slow\r\nFrom: <sip:2001@hibiki.test>;tag=1\r\n';
    const sent = await trickle(conn, (i) => text.charAt(i % text.length));
    expect(conn.closed()).toBe(true);
    expect(sent).toBeLessThan(50);
    expect(security(h, 'message-timeout')).toHaveLength(1);
  });
});

describe('handshake deadline', () => {
  it('closes a TLS connection that trickles its handshake past tcpHandshakeTimeout', async () => {
    cert = await createSelfSignedCert();
    const h = await start({
      transports: [{ transport: 'udp' }, { transport: 'tls', cert: cert.certPath, key: cert.keyPath }],
      config: { sip: { tcpHandshakeTimeout: 1 } },
    });
    const conn = await rawSocket(h.port('tls'));
    // A TLS record header announcing 16 KiB of handshake, then one byte at a time.
    const sent = await trickle(conn, (i) => (i === 0 ? Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]) : Buffer.from([0])));
    expect(conn.closed()).toBe(true);
    expect(sent).toBeLessThan(50);
    expect(security(h, 'handshake-timeout')).toHaveLength(1);
  });

  it('closes a WebSocket connection that trickles its HTTP upgrade past tcpHandshakeTimeout', async () => {
    const h = await start({ transports: [{ transport: 'udp' }, { transport: 'ws' }], config: { sip: { tcpHandshakeTimeout: 1 } } });
    const conn = await rawSocket(h.port('ws'));
    const request = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Padding: ';
    const sent = await trickle(conn, (i) => (i < request.length ? request.charAt(i) : 'x'));
    expect(conn.closed()).toBe(true);
    expect(sent).toBeLessThan(50);
    expect(security(h, 'handshake-timeout')).toHaveLength(1);
  });
});
