// Socket pairs kept bound for the next endpoint (issue #13): handed out oldest first, only once quiet, never
// beyond the cap; a datagram arriving while a pair waits keeps it waiting, and never reaches anyone.
import { describe, expect, it } from 'vitest';
import { BoundPairPool, type BoundPair } from '../../../src/media/builtin/pair-pool.js';
import type { PacketSource, RtpSocket } from '../../../src/media/builtin/rtp-socket.js';

function socket(): RtpSocket {
  return {
    ipv6: false,
    onPacket: null,
    onError: null,
    send: () => undefined,
    connect: () => true,
    disconnect: () => undefined,
    close: () => Promise.resolve(),
  };
}

const pair = (port: number): BoundPair => ({ port, rtp: socket(), rtcp: socket() });
const source: PacketSource = { port: 4000, address: '127.0.0.1', w0: 0, w1: 0, w2: 0, w3: 0, text: () => '127.0.0.1' };

function setup(max = 8, quiet = 1000) {
  let t = 0;
  const pool = new BoundPairPool(max, quiet, () => t);
  return { pool, advance: (ms: number) => (t += ms) };
}

describe('BoundPairPool', () => {
  it('hands a pair out only once it has been quiet long enough, oldest first', () => {
    const { pool, advance } = setup();
    expect(pool.put(pair(10000))).toBe(true);
    advance(300);
    expect(pool.put(pair(10002))).toBe(true);
    expect(pool.take()).toBeNull();
    advance(700);
    expect(pool.take()?.port).toBe(10000);
    expect(pool.take()).toBeNull();
    advance(300);
    expect(pool.take()?.port).toBe(10002);
    expect(pool.size).toBe(0);
  });

  it('a stray datagram keeps its pair waiting; the pairs behind it are handed out meanwhile', () => {
    const { pool, advance } = setup();
    const first = pair(10000);
    pool.put(first);
    pool.put(pair(10002));
    advance(900);
    // The previous call's phone is still sending to the first pair.
    first.rtp.onPacket!(Buffer.alloc(12), 12, source);
    advance(200);
    expect(pool.take()?.port).toBe(10002);
    expect(pool.take()).toBeNull();
    advance(800);
    const again = pool.take();
    expect(again?.port).toBe(10000);
    // Handed out with no handler of the pool's: the new endpoint installs its own.
    expect(again?.rtp.onPacket).toBeNull();
  });

  it('keeps at most its cap, and when no port is left hands out a pair whatever its age', () => {
    const { pool } = setup(2);
    expect(pool.put(pair(10000))).toBe(true);
    expect(pool.put(pair(10002))).toBe(true);
    expect(pool.put(pair(10004))).toBe(false);
    expect(pool.take()).toBeNull();
    expect(pool.take(true)?.port).toBe(10000);
  });

  it('gives every kept pair back to be closed at shutdown', () => {
    const { pool } = setup();
    pool.put(pair(10000));
    pool.put(pair(10002));
    expect(pool.drain().map((p) => p.port)).toEqual([10000, 10002]);
    expect(pool.size).toBe(0);
  });
});
