import { describe, it, expect } from 'vitest';
import { PortPairAllocator } from '../../../src/media/builtin/ports.js';

describe('PortPairAllocator', () => {
  it('hands out even RTP ports whose RTCP port is inside the range', () => {
    const a = new PortPairAllocator(10001, 10008);
    expect([a.acquire(), a.acquire(), a.acquire(), a.acquire()]).toEqual([10002, 10004, 10006, null]);
  });

  it('reuses a released pair, after the pairs never used', () => {
    const a = new PortPairAllocator(10000, 10005);
    const first = a.acquire()!;
    a.release(first);
    expect(a.acquire()).toBe(10002);
    expect(a.acquire()).toBe(10004);
    expect(a.acquire()).toBe(first);
    expect(a.acquire()).toBeNull();
  });

  it('ignores releasing a port it did not hand out', () => {
    const a = new PortPairAllocator(10000, 10001);
    a.release(10000);
    a.release(12345);
    expect(a.available).toBe(1);
    expect(a.acquire()).toBe(10000);
    expect(a.acquire()).toBeNull();
  });

  it('keeps working over many cycles', () => {
    const a = new PortPairAllocator(20000, 20009);
    for (let i = 0; i < 5000; i++) {
      const p = a.acquire();
      expect(p).not.toBeNull();
      a.release(p!);
    }
    expect(a.available).toBe(5);
    expect(a.capacity).toBe(5);
  });

  it('refuses a range without a pair', () => {
    expect(() => new PortPairAllocator(10001, 10001)).toThrow(RangeError);
    expect(() => new PortPairAllocator(20000, 10000)).toThrow(RangeError);
  });
});
