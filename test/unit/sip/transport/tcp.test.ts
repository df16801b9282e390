import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { sendAndWait, sipRequest, sipResponse, startLayer, stopAllLayers, unusedTcpPort, waitFor } from '../../../support/transport-harness.js';

const sockets: net.Socket[] = [];
const servers: net.Server[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  await stopAllLayers();
});

interface Client {
  socket: net.Socket;
  data: () => string;
  closed: () => boolean;
}

async function connect(port: number, host = '127.0.0.1'): Promise<Client> {
  const socket = net.connect({ port, host });
  sockets.push(socket);
  let data = '';
  let closed = false;
  socket.on('data', (c) => (data += c.toString('latin1')));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, data: () => data, closed: () => closed };
}

/** A plain TCP server standing in for a remote SIP peer; records connections and bytes. */
async function remotePeer(host = '127.0.0.1'): Promise<{ port: number; conns: net.Socket[]; data: string[] }> {
  const conns: net.Socket[] = [];
  const data: string[] = [];
  const server = net.createServer((s) => {
    const index = conns.push(s) - 1;
    sockets.push(s);
    data[index] = '';
    s.on('data', (c) => (data[index] += c.toString('latin1')));
    s.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, host, r));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { port: address.port, conns, data };
}

describe('TCP transport', () => {
  it('delivers an inbound message with its connection id and answers on that connection', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const phone = await connect(h.point('tcp').port);
    const msg = sipRequest('REGISTER', 'body');
    phone.socket.write(msg.slice(0, 30));
    await new Promise((r) => setTimeout(r, 20));
    phone.socket.write(msg.slice(30));
    await waitFor(() => h.received.length === 1, 'message');
    const { text, source } = h.received[0];
    expect(text).toBe(msg);
    expect(source.transport).toBe('tcp');
    expect(source.connectionId).toMatch(/^tcp-\d+$/);
    expect(source.address).toBe('127.0.0.1');
    expect(source.port).toBe(phone.socket.localPort);
    expect(source.localPort).toBe(h.point('tcp').port);
    expect(h.layer.hasConnection(source.connectionId ?? '')).toBe(true);
    expect(h.layer.connectionCount).toBe(1);

    // An unrelated address/port: the pinned connection wins.
    const err = await sendAndWait(h.layer, sipResponse(), {
      transport: 'tcp',
      address: '192.0.2.1',
      port: 9,
      connectionId: source.connectionId,
    });
    expect(err).toBeUndefined();
    await waitFor(() => phone.data() === sipResponse(), 'reply on the same connection');
  });

  it('reuses a connection the peer opened when sending to its address and port', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const phone = await connect(h.point('tcp').port);
    phone.socket.write(sipRequest('OPTIONS'));
    await waitFor(() => h.received.length === 1, 'message');
    const err = await sendAndWait(h.layer, sipRequest('NOTIFY'), {
      transport: 'tcp',
      address: '127.0.0.1',
      port: phone.socket.localPort ?? 0,
    });
    expect(err).toBeUndefined();
    await waitFor(() => phone.data() === sipRequest('NOTIFY'), 'request over the inbound connection');
    expect(h.layer.connectionCount).toBe(1);
  });

  it('connects out once and reuses that connection for the next send', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const remote = await remotePeer();
    const target = { transport: 'tcp' as const, address: '127.0.0.1', port: remote.port };
    // Both sends are issued before the connection is up: the second must queue on it.
    const [e1, e2] = await Promise.all([sendAndWait(h.layer, sipRequest('INVITE', '', 'one'), target), sendAndWait(h.layer, sipRequest('INVITE', '', 'two'), target)]);
    expect(e1).toBeUndefined();
    expect(e2).toBeUndefined();
    expect(await sendAndWait(h.layer, sipRequest('BYE', '', 'three'), target)).toBeUndefined();
    const expected = sipRequest('INVITE', '', 'one') + sipRequest('INVITE', '', 'two') + sipRequest('BYE', '', 'three');
    await waitFor(() => remote.data[0] === expected, 'three messages on one connection');
    expect(remote.conns).toHaveLength(1);
    expect(h.layer.connectionCount).toBe(1);

    // The remote answers on the same connection; the layer frames it as coming from that flow.
    remote.conns[0].write(sipResponse('one'));
    await waitFor(() => h.received.length === 1, 'response');
    expect(h.received[0].source).toMatchObject({ transport: 'tcp', address: '127.0.0.1', port: remote.port });
    expect(h.received[0].source.connectionId).toMatch(/^tcp-\d+$/);
  });

  it('falls back to a new connection when the pinned one is gone', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const remote = await remotePeer();
    const target = { transport: 'tcp' as const, address: '127.0.0.1', port: remote.port };
    await sendAndWait(h.layer, 'first', target);
    await waitFor(() => remote.conns.length === 1, 'first connection');
    remote.conns[0].write(sipResponse());
    await waitFor(() => h.received.length === 1, 'response');
    const oldId = h.received[0].source.connectionId ?? '';
    remote.conns[0].destroy();
    await waitFor(() => h.closed.includes(oldId), 'closed notification');
    expect(h.layer.hasConnection(oldId)).toBe(false);

    expect(await sendAndWait(h.layer, 'second', { ...target, connectionId: oldId })).toBeUndefined();
    await waitFor(() => remote.data[1] === 'second', 'second connection');
    expect(remote.conns).toHaveLength(2);
  });

  it('reports a connect failure through the callback', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const port = await unusedTcpPort();
    const err = await sendAndWait(h.layer, 'x', { transport: 'tcp', address: '127.0.0.1', port });
    expect(err?.message).toMatch(/ECONNREFUSED/);
    await waitFor(() => h.layer.connectionCount === 0, 'failed flow removed');
    expect(h.closed).toHaveLength(1);
  });

  it('answers a CRLFCRLF ping with a CRLF pong and ignores a lone CRLF', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const phone = await connect(h.point('tcp').port);
    phone.socket.write('\r\n\r\n');
    await waitFor(() => phone.data() === '\r\n', 'pong');
    phone.socket.write('\r\n' + sipRequest('OPTIONS'));
    await waitFor(() => h.received.length === 1, 'message after lone CRLF');
    expect(phone.data()).toBe('\r\n');
  });

  it('closes the connection on a framing error and reports the close', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const phone = await connect(h.point('tcp').port);
    phone.socket.write(sipRequest('OPTIONS'));
    await waitFor(() => h.received.length === 1, 'good message');
    const id = h.received[0].source.connectionId;
    phone.socket.write('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -5\r\n\r\n');
    await waitFor(() => phone.closed(), 'connection closed by the layer');
    await waitFor(() => h.closed.length === 1, 'closed notification');
    expect(h.closed).toEqual([id]);
    expect(h.layer.connectionCount).toBe(0);
    expect(h.received).toHaveLength(1);
  });

  it('closes a connection whose unframed input passes maxPendingBytesPerConnection', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }], {
      limits: { maxPendingBytesPerConnection: 2000 },
    });
    const phone = await connect(h.point('tcp').port);
    phone.socket.write('MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 60000\r\n\r\n' + 'x'.repeat(3000));
    await waitFor(() => phone.closed(), 'connection closed');
    expect(h.received).toHaveLength(0);
  });

  it('reports every close, including one by the peer', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const phone = await connect(h.point('tcp').port);
    phone.socket.write(sipRequest('OPTIONS'));
    await waitFor(() => h.received.length === 1, 'message');
    phone.socket.end();
    await waitFor(() => h.closed.length === 1, 'closed notification');
    expect(h.closed[0]).toBe(h.received[0].source.connectionId);
    expect(h.layer.connectionCount).toBe(0);
  });

  it('destroys inbound connections beyond maxConnections', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }], { limits: { maxConnections: 2 } });
    const port = h.point('tcp').port;
    const a = await connect(port);
    const b = await connect(port);
    await waitFor(() => h.layer.connectionCount === 2, 'two connections');
    // Refused with a reset at accept: the client may not even see its connect complete.
    const refused = await connect(port).then(
      (c) => waitFor(() => c.closed(), 'third connection refused').then(() => true),
      () => true,
    );
    expect(refused).toBe(true);
    expect(a.closed()).toBe(false);
    expect(b.closed()).toBe(false);
    expect(h.layer.connectionCount).toBe(2);
    a.socket.destroy();
    await waitFor(() => h.layer.connectionCount === 1, 'a slot freed');
    const d = await connect(port);
    d.socket.write(sipRequest('OPTIONS'));
    await waitFor(() => h.received.length === 1, 'message on a new connection once below the limit');
  });

  it('closes a connection whose peer stops reading once over 1 MiB is queued', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const phone = await connect(h.point('tcp').port);
    phone.socket.write(sipRequest('REGISTER'));
    await waitFor(() => h.received.length === 1, 'message');
    phone.socket.pause();
    const source = h.received[0].source;
    const chunk = Buffer.alloc(60_000, 0x61);
    let failed: Error | undefined;
    for (let i = 0; i < 2000 && !failed && h.closed.length === 0; i++) {
      h.layer.send(chunk, source, (err) => (failed ??= err));
      if (i % 20 === 19) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => h.closed.length === 1, 'connection closed for not reading');
    expect(h.layer.hasConnection(source.connectionId ?? '')).toBe(false);
  });

  it('closes a new flow that carries no SIP message for unprovenIdleTimeoutMs', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }], { limits: { unprovenIdleTimeoutMs: 150 } });
    const port = h.point('tcp').port;
    const idle = await connect(port);
    const busy = await connect(port);
    const started = Date.now();
    const keepBusy = setInterval(() => busy.socket.write(sipRequest('OPTIONS')), 30);
    try {
      await waitFor(() => idle.closed(), 'idle connection closed');
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect(busy.closed()).toBe(false);
      expect(h.closed).toHaveLength(1);
    } finally {
      clearInterval(keepBusy);
    }
  });

  it('works over IPv6 loopback', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '::1', port: 0 }]);
    expect(h.point('tcp').host).toBe('::1');
    const phone = await connect(h.point('tcp').port, '::1');
    phone.socket.write(sipRequest('OPTIONS'));
    await waitFor(() => h.received.length === 1, 'message');
    expect(h.received[0].source.address).toBe('::1');
    const remote = await remotePeer('::1');
    expect(await sendAndWait(h.layer, 'v6 out', { transport: 'tcp', address: '[::1]', port: remote.port })).toBeUndefined();
    await waitFor(() => remote.data[0] === 'v6 out', 'outbound over IPv6');
    expect(h.layer.localPoint('tcp', '::1')?.host).toBe('::1');
  });

  it('stop() closes connections and servers, reports the closes, and is idempotent', async () => {
    const h = await startLayer([{ transport: 'tcp', host: '127.0.0.1', port: 0 }]);
    const port = h.point('tcp').port;
    const phone = await connect(port);
    await waitFor(() => h.layer.connectionCount === 1, 'connection');
    await Promise.all([h.layer.stop(), h.layer.stop()]);
    await waitFor(() => phone.closed(), 'client sees the close');
    expect(h.closed).toHaveLength(1);
    await expect(connect(port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('rejects start naming the listen point when the port is in use, and releases what it bound', async () => {
    const remote = await remotePeer();
    await expect(
      startLayer([
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: remote.port },
      ]),
    ).rejects.toThrow(new RegExp(`tcp:127\\.0\\.0\\.1:${remote.port}: .*EADDRINUSE`));
  });
});
