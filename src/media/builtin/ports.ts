// RTP port pairs from media.rtpPorts: the RTP port is even and RTCP uses the next port (RFC 3550 §11).
// Released pairs go to the back of the queue, so a port just freed is reused last: stray packets of the
// call that had it die out before another call gets it.

export class PortPairAllocator {
  private readonly free: number[] = [];
  private head = 0;
  private readonly inUse = new Set<number>();

  constructor(min: number, max: number) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max) {
      throw new RangeError(`invalid RTP port range [${min}, ${max}]`);
    }
    for (let port = min + (min & 1); port + 1 <= max; port += 2) this.free.push(port);
    if (this.free.length === 0) throw new RangeError(`RTP port range [${min}, ${max}] holds no even/odd pair`);
  }

  get capacity(): number {
    return this.free.length - this.head + this.inUse.size;
  }

  get available(): number {
    return this.free.length - this.head;
  }

  /** The RTP port of a free pair, or null when every pair is taken. */
  acquire(): number | null {
    if (this.head >= this.free.length) return null;
    const port = this.free[this.head++]!;
    // Compact now and then so the queue does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.free.length) {
      this.free.splice(0, this.head);
      this.head = 0;
    }
    this.inUse.add(port);
    return port;
  }

  /** Whether `port` is a pair of this range that is in use (not one taken in from another worker). */
  owns(port: number): boolean {
    return this.inUse.has(port);
  }

  release(port: number): void {
    if (!this.inUse.delete(port)) return;
    this.free.push(port);
  }
}

/**
 * Splits media.rtpPorts between `workers` media workers: each gets a contiguous slice holding an even share
 * of the range's RTP/RTCP pairs (the first ones one more when they do not divide evenly), so no two workers
 * ever bind the same port. Fewer slices than asked when the range holds fewer pairs than workers.
 */
export function splitPortRange(range: readonly [number, number], workers: number): [number, number][] {
  const [min, max] = range;
  const first = min + (min & 1);
  const pairs = Math.max(0, Math.floor((max - first + 1) / 2));
  const n = Math.max(1, Math.min(Math.floor(workers), pairs));
  const slices: [number, number][] = [];
  let start = first;
  for (let i = 0; i < n; i++) {
    const count = Math.floor(pairs / n) + (i < pairs % n ? 1 : 0);
    slices.push([start, start + count * 2 - 1]);
    start += count * 2;
  }
  return slices;
}
