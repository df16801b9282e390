import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { createSelfSignedCert, removeCert, type TestCert } from '../../../support/tls-cert.js';
import { sendAndWait, sipRequest, sipResponse, startLayer, stopAllLayers, waitFor } from '../../../support/transport-harness.js';

let cert: TestCert;
const sockets: tls.TLSSocket[] = [];
const servers: tls.Server[] = [];

beforeAll(async () => {
  cert = await createSelfSignedCert();
});

afterAll(async () => {
  await removeCert(cert);
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  await stopAllLayers();
});

function tlsPoint(host = '127.0.0.1') {
  return { transport: 'tls' as const, host, port: 0, cert: cert.certPath, key: cert.keyPath };
}

describe('TLS transport', () => {
  it('accepts a TLS client that verifies the server certificate, and answers on its connection', async () => {
    const h = await startLayer([tlsPoint()]);
    const port = h.point('tls').port;
    const socket = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(cert.certPath) });
    sockets.push(socket);
    let data = '';
    socket.on('data', (c: Buffer) => (data += c.toString()));
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    expect(socket.authorized).toBe(true);
    socket.write(sipRequest('REGISTER'));
    await waitFor(() => h.received.length === 1, 'message');
    const { source } = h.received[0];
    expect(source).toMatchObject({ transport: 'tls', address: '127.0.0.1', port: socket.localPort, localPort: port });
    expect(source.connectionId).toMatch(/^tls-\d+$/);
    expect(await sendAndWait(h.layer, sipResponse(), { ...source, connectionId: source.connectionId })).toBeUndefined();
    await waitFor(() => data === sipResponse(), 'reply over TLS');
  });

  it('connects out over TLS, reuses the connection, and receives the reply on it', async () => {
    const server = await startLayer([tlsPoint()]);
    const client = await startLayer([], { rejectUnauthorized: false });
    const target = { transport: 'tls' as const, address: '127.0.0.1', port: server.point('tls').port };
    expect(await sendAndWait(client.layer, sipRequest('INVITE', 'sdp', 'a'), target)).toBeUndefined();
    expect(await sendAndWait(client.layer, sipRequest('INFO', '', 'b'), target)).toBeUndefined();
    await waitFor(() => server.received.length === 2, 'two requests');
    expect(server.received.map((r) => r.text)).toEqual([sipRequest('INVITE', 'sdp', 'a'), sipRequest('INFO', '', 'b')]);
    const inbound = server.received[0].source;
    expect(server.received[1].source.connectionId).toBe(inbound.connectionId);
    expect(server.layer.connectionCount).toBe(1);
    expect(client.layer.connectionCount).toBe(1);

    expect(await sendAndWait(server.layer, sipResponse('a'), inbound)).toBeUndefined();
    await waitFor(() => client.received.length === 1, 'response');
    expect(client.received[0].source).toMatchObject({ transport: 'tls', address: '127.0.0.1', port: target.port });
  });

  it('refuses an unverifiable server certificate by default', async () => {
    const server = await startLayer([tlsPoint()]);
    const client = await startLayer([]);
    const err = await sendAndWait(client.layer, sipRequest('OPTIONS'), {
      transport: 'tls',
      address: '127.0.0.1',
      port: server.point('tls').port,
    });
    expect(err?.message).toMatch(/self[- ]signed/i);
    await waitFor(() => client.layer.connectionCount === 0, 'failed flow removed');
    expect(server.received).toHaveLength(0);
  });

  it('sends SNI when the target is a host name, and none for an IP address', async () => {
    const names: Array<string | false | null> = [];
    const server = tls.createServer({ cert: readFileSync(cert.certPath), key: readFileSync(cert.keyPath) }, (s) => {
      sockets.push(s);
      names.push(s.servername);
      s.on('error', () => undefined);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    const client = await startLayer([], { rejectUnauthorized: false });
    expect(await sendAndWait(client.layer, 'x', { transport: 'tls', address: 'localhost', port: address.port })).toBeUndefined();
    expect(await sendAndWait(client.layer, 'y', { transport: 'tls', address: '127.0.0.1', port: address.port })).toBeUndefined();
    await waitFor(() => names.length >= 1, 'handshake');
    expect(names[0]).toBe('localhost');
    // The name resolved to 127.0.0.1, so the second send reused the first connection.
    expect(names).toHaveLength(1);
    expect(client.layer.connectionCount).toBe(1);
  });

  it('rejects start naming the listen point when the key file is missing', async () => {
    await expect(startLayer([{ ...tlsPoint(), key: `${cert.dir}/missing.pem` }])).rejects.toThrow(/tls:127\.0\.0\.1:0: .*ENOENT.*missing\.pem/);
    await expect(startLayer([{ transport: 'tls', host: '127.0.0.1', port: 0 }])).rejects.toThrow(/cert and key/);
  });

  it('works over IPv6 loopback', async () => {
    const server = await startLayer([tlsPoint('::1')]);
    const client = await startLayer([], { rejectUnauthorized: false });
    const err = await sendAndWait(client.layer, sipRequest('OPTIONS'), {
      transport: 'tls',
      address: '::1',
      port: server.point('tls').port,
    });
    expect(err).toBeUndefined();
    await waitFor(() => server.received.length === 1, 'message over IPv6');
    expect(server.received[0].source.address).toBe('::1');
  });
});
