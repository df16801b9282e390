import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { sendAndWait, sipRequest, sipResponse, startLayer, stopAllLayers, waitFor } from '../../../support/transport-harness.js';

const sockets: dgram.Socket[] = [];

afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  await stopAllLayers();
});

interface Peer {
  socket: dgram.Socket;
  port: number;
  inbox: Array<{ text: string; port: number; address: string }>;
  send(text: string | Buffer, port: number): Promise<void>;
}

async function peer(host: '127.0.0.1' | '::1'): Promise<Peer> {
  const socket = dgram.createSocket(host === '::1' ? 'udp6' : 'udp4');
  sockets.push(socket);
  const inbox: Peer['inbox'] = [];
  socket.on('message', (msg, rinfo) => inbox.push({ text: msg.toString(), port: rinfo.port, address: rinfo.address }));
  await new Promise<void>((r) => socket.bind(0, host, r));
  return {
    socket,
    port: socket.address().port,
    inbox,
    send: (text, port) => new Promise<void>((resolve, reject) => socket.send(text, port, host, (err) => (err ? reject(err) : resolve()))),
  };
}

describe('UDP transport', () => {
  for (const host of ['127.0.0.1', '::1'] as const) {
    it(`receives a datagram and answers from the listening port (${host})`, async () => {
      const h = await startLayer([{ transport: 'udp', host, port: 0 }]);
      const listen = h.point('udp');
      expect(listen.port).toBeGreaterThan(0);
      expect(listen.host).toBe(host);
      const phone = await peer(host);

      const msg = sipRequest('REGISTER');
      await phone.send(msg, listen.port);
      await waitFor(() => h.received.length === 1, 'datagram');
      const { text, source } = h.received[0];
      expect(text).toBe(msg);
      expect(source).toEqual({ transport: 'udp', address: host, port: phone.port, localAddress: host, localPort: listen.port });

      const err = await sendAndWait(h.layer, sipResponse(), { transport: 'udp', address: source.address, port: source.port });
      expect(err).toBeUndefined();
      await waitFor(() => phone.inbox.length === 1, 'reply');
      expect(phone.inbox[0]).toEqual({ text: sipResponse(), port: listen.port, address: host });
    });
  }

  it('sends from the socket of the destination family when both are bound', async () => {
    const h = await startLayer([
      { transport: 'udp', host: '127.0.0.1', port: 0 },
      { transport: 'udp', host: '::1', port: 0 },
    ]);
    const [v4, v6] = h.layer.listening();
    const phone4 = await peer('127.0.0.1');
    const phone6 = await peer('::1');
    expect(await sendAndWait(h.layer, 'to v6', { transport: 'udp', address: '[::1]', port: phone6.port })).toBeUndefined();
    expect(await sendAndWait(h.layer, 'to v4', { transport: 'udp', address: '127.0.0.1', port: phone4.port })).toBeUndefined();
    await waitFor(() => phone4.inbox.length === 1 && phone6.inbox.length === 1, 'both datagrams');
    expect(phone6.inbox[0]).toMatchObject({ text: 'to v6', port: v6.port });
    expect(phone4.inbox[0]).toMatchObject({ text: 'to v4', port: v4.port });
    expect(h.layer.localPoint('udp', '::1')?.port).toBe(v6.port);
    expect(h.layer.localPoint('udp', '192.0.2.1')?.port).toBe(v4.port);
  });

  it('serves IPv4 peers from a dual-stack :: socket with plain IPv4 addresses', async () => {
    const h = await startLayer([{ transport: 'udp', host: '::', port: 0 }]);
    const port = h.point('udp').port;
    const phone = await peer('127.0.0.1');
    await phone.send(sipRequest('OPTIONS'), port);
    await waitFor(() => h.received.length === 1, 'datagram');
    expect(h.received[0].source.address).toBe('127.0.0.1');
    expect(await sendAndWait(h.layer, 'back', { transport: 'udp', address: '127.0.0.1', port: phone.port })).toBeUndefined();
    await waitFor(() => phone.inbox.length === 1, 'reply');
    expect(phone.inbox[0]).toEqual({ text: 'back', port, address: '127.0.0.1' });
    expect(h.layer.localPoint('udp', '127.0.0.1')?.host).toBe('::');
  });

  it('reports an error when no socket of the destination family exists', async () => {
    const h = await startLayer([{ transport: 'udp', host: '127.0.0.1', port: 0 }]);
    const err = await sendAndWait(h.layer, 'x', { transport: 'udp', address: '::1', port: 5060 });
    expect(err?.message).toMatch(/no udp listen point/);
  });

  it('ignores whitespace-only keep-alives and drops oversize datagrams', async () => {
    const h = await startLayer([{ transport: 'udp', host: '127.0.0.1', port: 0 }], { limits: { maxMessageBytes: 1000 } });
    const port = h.point('udp').port;
    const phone = await peer('127.0.0.1');
    await phone.send('\r\n\r\n', port);
    await phone.send(' \r\n', port);
    await phone.send(Buffer.alloc(1001, 0x41), port);
    await phone.send(Buffer.alloc(1000, 0x42), port);
    await waitFor(() => h.received.length >= 1, 'the in-limit datagram');
    await new Promise((r) => setTimeout(r, 50));
    expect(h.received.map((r) => r.text)).toEqual(['B'.repeat(1000)]);
  });

  it('keeps working after a burst of 1000 garbage datagrams and a handler that throws', async () => {
    const h = await startLayer([{ transport: 'udp', host: '127.0.0.1', port: 0 }]);
    let seen = 0;
    h.layer.onMessage(() => {
      seen += 1;
      throw new Error('upper layer choked');
    });
    const port = h.point('udp').port;
    const attacker = await peer('127.0.0.1');
    for (let i = 0; i < 1000; i++) {
      await attacker.send(randomBytes(1 + (i % 1400)), port);
      // Let the listener drain now and then, as a real network would interleave: this
      // test is about surviving the content, not about kernel buffer overflow.
      if (i % 25 === 24) await new Promise((r) => setTimeout(r, 1));
    }
    await waitFor(() => seen >= 950, 'most of the burst to be delivered upward');
    const phone = await peer('127.0.0.1');
    const msg = sipRequest('OPTIONS', '', 'after-burst');
    await phone.send(msg, port);
    await waitFor(() => h.received.some((r) => r.text === msg), 'the valid message after the burst');
    expect(await sendAndWait(h.layer, sipResponse(), { transport: 'udp', address: '127.0.0.1', port: phone.port })).toBeUndefined();
    await waitFor(() => phone.inbox.length === 1, 'reply after the burst');
  });

  it('fails sends before start and after stop, and stop is idempotent', async () => {
    const h = await startLayer([{ transport: 'udp', host: '127.0.0.1', port: 0 }]);
    const phone = await peer('127.0.0.1');
    await h.layer.stop();
    await h.layer.stop();
    const err = await sendAndWait(h.layer, 'x', { transport: 'udp', address: '127.0.0.1', port: phone.port });
    expect(err?.message).toMatch(/not running/);
  });

  it('rejects start with an error naming the listen point when the port is taken', async () => {
    const taken = await peer('127.0.0.1');
    await expect(startLayer([{ transport: 'udp', host: '127.0.0.1', port: taken.port }])).rejects.toThrow(new RegExp(`udp:127\\.0\\.0\\.1:${taken.port}.*EADDRINUSE`));
  });
});
