import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { WebSocket } from 'ws';
import { createSelfSignedCert, removeCert, type TestCert } from '../../../support/tls-cert.js';
import { sendAndWait, sipRequest, sipResponse, startLayer, stopAllLayers, waitFor } from '../../../support/transport-harness.js';

let cert: TestCert;
const clients: WebSocket[] = [];

beforeAll(async () => {
  cert = await createSelfSignedCert();
});

afterAll(async () => {
  await removeCert(cert);
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await stopAllLayers();
});

interface Client {
  ws: WebSocket;
  inbox: Array<{ text: string; isBinary: boolean }>;
  closed: () => boolean;
}

function url(scheme: 'ws' | 'wss', host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function open(address: string, protocols: string[] = ['sip']): Promise<Client> {
  const ws = new WebSocket(address, protocols, { rejectUnauthorized: false });
  clients.push(ws);
  const inbox: Client['inbox'] = [];
  let closed = false;
  ws.on('message', (data, isBinary) => inbox.push({ text: String(data), isBinary }));
  ws.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, inbox, closed: () => closed };
}

describe('WebSocket transport (RFC 7118)', () => {
  it('negotiates the sip subprotocol, delivers each frame as a message and answers with a text frame', async () => {
    const h = await startLayer([{ transport: 'ws', host: '127.0.0.1', port: 0 }]);
    const port = h.point('ws').port;
    const phone = await open(url('ws', '127.0.0.1', port), ['foo', 'sip']);
    expect(phone.ws.protocol).toBe('sip');

    phone.ws.send(sipRequest('REGISTER', '', 'text'));
    phone.ws.send(Buffer.from(sipRequest('REGISTER', '', 'binary')), { binary: true });
    await waitFor(() => h.received.length === 2, 'two messages');
    expect(h.received.map((r) => r.text)).toEqual([sipRequest('REGISTER', '', 'text'), sipRequest('REGISTER', '', 'binary')]);
    const { source } = h.received[0];
    expect(source.transport).toBe('ws');
    expect(source.connectionId).toMatch(/^ws-\d+$/);
    expect(source).toMatchObject({ address: '127.0.0.1', localPort: port });
    expect(h.received[1].source.connectionId).toBe(source.connectionId);

    expect(await sendAndWait(h.layer, sipResponse(), source)).toBeUndefined();
    await waitFor(() => phone.inbox.length === 1, 'reply');
    expect(phone.inbox[0]).toEqual({ text: sipResponse(), isBinary: false });
  });

  it('refuses a client that does not offer the sip subprotocol', async () => {
    const h = await startLayer([{ transport: 'ws', host: '127.0.0.1', port: 0 }]);
    const address = url('ws', '127.0.0.1', h.point('ws').port);
    await expect(open(address, [])).rejects.toThrow(/400/);
    await expect(open(address, ['chat'])).rejects.toThrow(/400/);
    expect(h.layer.connectionCount).toBe(0);
  });

  it('answers a plain HTTP request with 426 Upgrade Required', async () => {
    const h = await startLayer([{ transport: 'ws', host: '127.0.0.1', port: 0 }]);
    const status = await new Promise<number | undefined>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: h.point('ws').port, path: '/' }, (res) => {
          res.resume();
          resolve(res.statusCode);
        })
        .on('error', reject);
    });
    expect(status).toBe(426);
  });

  it('works over WSS with the configured certificate', async () => {
    const h = await startLayer([{ transport: 'wss', host: '127.0.0.1', port: 0, cert: cert.certPath, key: cert.keyPath }]);
    const phone = await open(url('wss', '127.0.0.1', h.point('wss').port));
    phone.ws.send(sipRequest('OPTIONS'));
    await waitFor(() => h.received.length === 1, 'message');
    const { source } = h.received[0];
    expect(source.transport).toBe('wss');
    expect(source.connectionId).toMatch(/^wss-\d+$/);
    expect(source.address).toBe('127.0.0.1');
    expect(source.port).toBeGreaterThan(0);
    expect(await sendAndWait(h.layer, sipResponse(), source)).toBeUndefined();
    await waitFor(() => phone.inbox.length === 1, 'reply over wss');
  });

  it('fails a send to a websocket peer whose connection is gone, and reports the close', async () => {
    const h = await startLayer([{ transport: 'ws', host: '127.0.0.1', port: 0 }]);
    const phone = await open(url('ws', '127.0.0.1', h.point('ws').port));
    phone.ws.send(sipRequest('REGISTER'));
    await waitFor(() => h.received.length === 1, 'message');
    const { source } = h.received[0];
    phone.ws.close();
    await waitFor(() => h.closed.length === 1, 'closed notification');
    expect(h.closed).toEqual([source.connectionId]);
    expect(h.layer.hasConnection(source.connectionId ?? '')).toBe(false);
    const err = await sendAndWait(h.layer, sipRequest('INVITE'), source);
    expect(err?.message).toMatch(/no ws connection/);
  });

  it('answers a CRLFCRLF keep-alive frame with a CRLF and delivers nothing', async () => {
    const h = await startLayer([{ transport: 'ws', host: '127.0.0.1', port: 0 }]);
    const phone = await open(url('ws', '127.0.0.1', h.point('ws').port));
    phone.ws.send('\r\n\r\n');
    await waitFor(() => phone.inbox.length === 1, 'pong');
    expect(phone.inbox[0].text).toBe('\r\n');
    expect(h.received).toHaveLength(0);
  });

  it('closes a connection that sends a message larger than maxMessageBytes', async () => {
    const h = await startLayer([{ transport: 'ws', host: '127.0.0.1', port: 0 }], { limits: { maxMessageBytes: 1000 } });
    const phone = await open(url('ws', '127.0.0.1', h.point('ws').port));
    phone.ws.send('x'.repeat(1001));
    await waitFor(() => phone.closed(), 'close');
    await waitFor(() => h.closed.length === 1, 'closed notification');
    expect(h.received).toHaveLength(0);
  });

  it('resets connections beyond maxConnections before their upgrade', async () => {
    const h = await startLayer([{ transport: 'ws', host: '127.0.0.1', port: 0 }], { limits: { maxConnections: 1 } });
    const address = url('ws', '127.0.0.1', h.point('ws').port);
    const first = await open(address);
    await expect(open(address)).rejects.toThrow();
    expect(h.layer.connectionCount).toBe(1);
    first.ws.send(sipRequest('OPTIONS'));
    await waitFor(() => h.received.length === 1, 'the first client still works');
  });

  it('works over IPv6 loopback', async () => {
    const h = await startLayer([{ transport: 'ws', host: '::1', port: 0 }]);
    const phone = await open(url('ws', '::1', h.point('ws').port));
    phone.ws.send(sipRequest('OPTIONS'));
    await waitFor(() => h.received.length === 1, 'message');
    expect(h.received[0].source.address).toBe('::1');
    expect(await sendAndWait(h.layer, sipResponse(), h.received[0].source)).toBeUndefined();
    await waitFor(() => phone.inbox.length === 1, 'reply');
  });

  it('stop() closes websocket clients and reports the closes', async () => {
    const h = await startLayer([{ transport: 'ws', host: '127.0.0.1', port: 0 }]);
    const phone = await open(url('ws', '127.0.0.1', h.point('ws').port));
    await waitFor(() => h.layer.connectionCount === 1, 'connection');
    await h.layer.stop();
    await waitFor(() => phone.closed(), 'client sees the close');
    expect(h.closed).toHaveLength(1);
  });
});
