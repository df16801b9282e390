// The native UDP batching addon (native/udp-batch, built by `npm ci`) and its wrapper (rtp-io-native.ts):
// bind, a batch received on loopback with its sources, sends by address and on a connected socket (queued
// and flushed at the end of the batch), IPv6, close, and a clear error for a port in use. Also the choice
// between it and node:dgram (media.udpIo, HIBIKI_MEDIA_UDP_IO).
import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRtpIo, UDP_IO_ENV, type PacketSource, type RtpIo, type RtpSocket } from '../../../src/media/builtin/rtp-io.js';
import { loadUdpBatch } from '../../../src/media/builtin/udp-native.js';
import { freePortRange } from './rtp-phone.js';

const ios: RtpIo[] = [];
const sockets: Socket[] = [];
// The suite may run with the override set (to test the relay on dgram): these tests choose for themselves.
const envOverride = process.env[UDP_IO_ENV];

beforeEach(() => {
  delete process.env[UDP_IO_ENV];
});

afterEach(() => {
  for (const io of ios.splice(0)) io.shutdown();
  for (const s of sockets.splice(0)) s.close();
  if (envOverride === undefined) delete process.env[UDP_IO_ENV];
  else process.env[UDP_IO_ENV] = envOverride;
});

function nativeIo(): RtpIo {
  const { io } = createRtpIo('native');
  expect(io.mode).toBe('native');
  ios.push(io);
  return io;
}

async function peer(family: 'udp4' | 'udp6' = 'udp4'): Promise<{ socket: Socket; port: number; next: () => Promise<Buffer> }> {
  const socket = createSocket(family);
  sockets.push(socket);
  const queue: Buffer[] = [];
  const waiting: ((b: Buffer) => void)[] = [];
  socket.on('message', (msg: Buffer) => {
    const w = waiting.shift();
    if (w) w(msg);
    else queue.push(msg);
  });
  await new Promise<void>((resolve) => socket.bind(0, family === 'udp4' ? '127.0.0.1' : '::1', resolve));
  const next = (): Promise<Buffer> => {
    const q = queue.shift();
    return q ? Promise.resolve(q) : new Promise((resolve) => waiting.push(resolve));
  };
  return { socket, port: socket.address().port, next };
}

/** An IPv6 link-local address of this host with its interface (fe80::x%eth0), or null when it has none. */
function scopedLinkLocal(): string | null {
  for (const [name, list] of Object.entries(networkInterfaces())) {
    const a = list?.find((x) => x.family === 'IPv6' && x.address.toLowerCase().startsWith('fe80:'));
    if (a) return `${a.address}%${name}`;
  }
  return null;
}

interface Got {
  data: Buffer;
  port: number;
  address: string;
}

/** Collects what a socket receives (copied: the buffer is reused after the handler). */
function collect(socket: RtpSocket): { got: Got[]; until: (n: number) => Promise<Got[]> } {
  const got: Got[] = [];
  let wake: (() => void) | null = null;
  socket.onPacket = (buf: Buffer, length: number, source: PacketSource) => {
    got.push({ data: Buffer.from(buf.subarray(0, length)), port: source.port, address: source.address ?? source.text() });
    wake?.();
  };
  const until = async (n: number): Promise<Got[]> => {
    while (got.length < n) await new Promise<void>((resolve) => (wake = resolve));
    return got;
  };
  return { got, until };
}

describe('native UDP batching addon', () => {
  it('is built and loads', () => {
    const { addon, error } = loadUdpBatch();
    expect(error).toBeNull();
    expect(addon).not.toBeNull();
  });

  it('binds, receives several datagrams with their source, and sends to an address', async () => {
    const io = nativeIo();
    const [port] = await freePortRange(2);
    const socket = (await io.bind('127.0.0.1', port, true))!;
    expect(socket.ipv6).toBe(false);
    const rx = collect(socket);
    const p = await peer();
    for (let i = 0; i < 5; i++) p.socket.send(Buffer.from(`packet ${i}`), port, '127.0.0.1');
    const got = await rx.until(5);
    expect(got.map((g) => g.data.toString())).toEqual([0, 1, 2, 3, 4].map((i) => `packet ${i}`));
    expect(got.every((g) => g.port === p.port && g.address === '127.0.0.1')).toBe(true);
    socket.send(Buffer.from('reply-and-more'), 5, p.port, '127.0.0.1');
    expect((await p.next()).toString()).toBe('reply');
  });

  it('echoes in place on a connected socket: the send is queued and flushed after the batch', async () => {
    const io = nativeIo();
    const [port] = await freePortRange(2);
    const socket = (await io.bind('127.0.0.1', port, true))!;
    const p = await peer();
    expect(socket.connect(p.port, '127.0.0.1')).toBe(true);
    socket.onPacket = (buf, length) => {
      buf[0] = 0x42;
      socket.send(buf, length, 0, null);
    };
    p.socket.send(Buffer.from('xyz'), port, '127.0.0.1');
    expect((await p.next()).toString()).toBe('Byz');
    socket.disconnect();
  });

  it('only the connected source is heard until it disconnects', async () => {
    const io = nativeIo();
    const [port] = await freePortRange(2);
    const socket = (await io.bind('127.0.0.1', port, true))!;
    const rx = collect(socket);
    const a = await peer();
    const b = await peer();
    expect(socket.connect(a.port, '127.0.0.1')).toBe(true);
    b.socket.send(Buffer.from('from b, dropped by the kernel'), port, '127.0.0.1');
    a.socket.send(Buffer.from('from a'), port, '127.0.0.1');
    await rx.until(1);
    socket.disconnect();
    b.socket.send(Buffer.from('from b'), port, '127.0.0.1');
    const got = await rx.until(2);
    expect(got.map((g) => g.data.toString())).toEqual(['from a', 'from b']);
  });

  it('works over IPv6', async () => {
    const io = nativeIo();
    const [port] = await freePortRange(2);
    const socket = (await io.bind('::1', port, true))!;
    expect(socket.ipv6).toBe(true);
    const rx = collect(socket);
    const p = await peer('udp6');
    p.socket.send(Buffer.from('v6'), port, '::1');
    const [g] = await rx.until(1);
    expect(g).toMatchObject({ port: p.port, address: '::1' });
    socket.send(Buffer.from('back'), 4, p.port, '::1');
    expect((await p.next()).toString()).toBe('back');
  });

  it('binds a scoped IPv6 link-local address and gives a link-local source with its scope', async (ctx) => {
    const linkLocal = scopedLinkLocal();
    if (!linkLocal) {
      ctx.skip();
      return;
    }
    const io = nativeIo();
    const [port] = await freePortRange(2);
    const socket = (await io.bind(linkLocal, port, true))!;
    expect(socket).not.toBeNull();
    const rx = collect(socket);
    const p = createSocket('udp6');
    sockets.push(p);
    const replies: Buffer[] = [];
    const replied = new Promise<void>((resolve) =>
      p.on('message', (msg: Buffer) => {
        replies.push(msg);
        resolve();
      }),
    );
    await new Promise<void>((resolve) => p.bind(0, linkLocal, resolve));
    p.send(Buffer.from('scoped'), port, linkLocal);
    const [g] = await rx.until(1);
    expect(g).toMatchObject({ port: p.address().port, address: linkLocal });
    // The text with its scope is where a reply goes, by address and on a connected socket.
    socket.send(Buffer.from('by address'), 10, g!.port, g!.address);
    await replied;
    expect(socket.connect(g!.port, g!.address)).toBe(true);
    expect(replies[0]!.toString()).toBe('by address');
  });

  it('takes a numeric IPv6 scope and refuses an unknown interface', async () => {
    const { addon } = loadUdpBatch();
    const [port] = await freePortRange(2);
    const poller = addon!.createPoller(new ArrayBuffer(4096), 2048, new ArrayBuffer(64), new ArrayBuffer(32), () => undefined);
    try {
      // The scope of a non-link-local address is accepted and ignored by the kernel, as by node:dgram.
      const lo = Object.entries(networkInterfaces()).find(([, list]) => list?.some((a) => a.address === '::1'))?.[0] ?? 'lo';
      addon!.close(poller, addon!.open(poller, `::1%${lo}`, port, true));
      addon!.close(poller, addon!.open(poller, '::1%1', port, true));
      expect(() => addon!.open(poller, '::1%no-such-if0', port, true)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(() => addon!.open(poller, '127.0.0.1%lo', port, true)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    } finally {
      addon!.closePoller(poller);
    }
  });

  it('refuses a port in use with a clear error, and frees a port on close', async () => {
    const { addon } = loadUdpBatch();
    const io = nativeIo();
    const [port] = await freePortRange(2);
    const first = (await io.bind('127.0.0.1', port, true))!;
    expect(await io.bind('127.0.0.1', port, true)).toBeNull();
    const poller = addon!.createPoller(new ArrayBuffer(4096), 2048, new ArrayBuffer(64), new ArrayBuffer(32), () => undefined);
    try {
      expect(() => addon!.open(poller, '127.0.0.1', port, true)).toThrow(expect.objectContaining({ code: 'EADDRINUSE', message: expect.stringContaining(`port ${port}`) }));
      expect(() => addon!.open(poller, 'not-an-address', port, true)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    } finally {
      addon!.closePoller(poller);
    }
    await first.close();
    const again = await io.bind('127.0.0.1', port, true);
    expect(again).not.toBeNull();
    // A closed socket sends nothing and throws nothing.
    first.send(Buffer.from('x'), 1, 9, '127.0.0.1');
  });

  it('counts a datagram too long for a slot (MediaTotals.truncated) and reports it with length 0', async () => {
    const io = nativeIo();
    const [port] = await freePortRange(2);
    const socket = (await io.bind('127.0.0.1', port, true))!;
    const rx = collect(socket);
    const p = await peer();
    expect(io.counters()).toEqual([0, 0]);
    p.socket.send(Buffer.alloc(3000, 1), port, '127.0.0.1');
    p.socket.send(Buffer.from('after'), port, '127.0.0.1');
    const got = await rx.until(2);
    expect(got.map((g) => g.data.length)).toEqual([0, 5]);
    expect(io.counters()).toEqual([0, 1]);
    io.shutdown();
    // Still answered after shutdown (the relay reads them for its totals).
    expect(io.counters()).toEqual([0, 1]);
  });

  it('reports a failed send by errno name', async () => {
    const io = nativeIo();
    const [port] = await freePortRange(2);
    const socket = (await io.bind('127.0.0.1', port, true))!;
    const errors: string[] = [];
    socket.onError = (code) => errors.push(code);
    // An IPv6 destination on an IPv4 socket.
    socket.send(Buffer.from('x'), 1, 9, '::1');
    expect(errors).toEqual(['EINVAL']);
  });
});

describe('RTP I/O choice', () => {
  it('uses node:dgram when configured, or when the environment forces it', () => {
    expect(createRtpIo('dgram').io.mode).toBe('dgram');
    process.env[UDP_IO_ENV] = 'dgram';
    const forced = createRtpIo('native');
    expect(forced.io.mode).toBe('dgram');
    expect(forced.note).toContain('dgram');
  });

  it('node:dgram sockets behave the same through the interface', async () => {
    const { io } = createRtpIo('dgram');
    const [port] = await freePortRange(2);
    const socket = (await io.bind('127.0.0.1', port, true))!;
    expect(await io.bind('127.0.0.1', port, true)).toBeNull();
    const rx = collect(socket);
    const p = await peer();
    p.socket.send(Buffer.from('hello'), port, '127.0.0.1');
    const [g] = await rx.until(1);
    expect(g).toMatchObject({ port: p.port, address: '127.0.0.1' });
    expect(socket.connect(p.port, '127.0.0.1')).toBe(true);
    socket.send(Buffer.from('hi there'), 2, 0, null);
    expect((await p.next()).toString()).toBe('hi');
    await socket.close();
  });
});

describe('native UDP batching addon: a closed poller', () => {
  it('refuses every call after closePoller with a clear error, and closing again does nothing', () => {
    const { addon } = loadUdpBatch();
    const poller = addon!.createPoller(new ArrayBuffer(4096), 2048, new ArrayBuffer(64), new ArrayBuffer(32), () => undefined);
    addon!.closePoller(poller);
    const closed = expect.objectContaining({ code: 'ECLOSED', message: 'udp_batch: poller closed' });
    expect(() => addon!.send(poller, 3, new Uint8Array(1), 1, '127.0.0.1', 9)).toThrow(closed);
    expect(() => addon!.close(poller, 3)).toThrow(closed);
    expect(() => addon!.flush(poller, 1)).toThrow(closed);
    expect(() => addon!.address(poller, 0)).toThrow(closed);
    expect(() => addon!.counters(poller)).toThrow(closed);
    expect(() => addon!.connect(poller, 3, null, 0)).toThrow(closed);
    expect(() => addon!.open(poller, '127.0.0.1', 0, true)).toThrow(closed);
    addon!.closePoller(poller);
  });

  it('the wrapper sends, closes and binds nothing after shutdown, without throwing', async () => {
    const io = nativeIo();
    const [port] = await freePortRange(2);
    const socket = (await io.bind('127.0.0.1', port, true))!;
    io.shutdown();
    socket.send(Buffer.from('x'), 1, 9, '127.0.0.1');
    expect(socket.connect(9, '127.0.0.1')).toBe(false);
    socket.disconnect();
    await socket.close();
    expect(await io.bind('127.0.0.1', port, true)).toBeNull();
    io.shutdown();
  });
});
