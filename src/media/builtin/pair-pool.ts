// RTP/RTCP socket pairs kept bound after their endpoint is destroyed, for a later endpoint of the same worker.
// Opening, binding and registering two sockets per endpoint, and closing them again at its end, was 29 % of
// the media worker's time at 400 calls/s (issue #13, docs/benchmarks.md): a kept pair costs nothing to
// hand out. A pair is handed out again only once it has been quiet for `quietMs` (a datagram arriving
// while it waits starts that over): stray packets of the call that had it must not reach, or be latched
// by, the next one; for the same reason the port allocator queues freed ports at the back.
import type { RtpSocket } from './rtp-socket.js';

export interface BoundPair {
  port: number;
  rtp: RtpSocket;
  rtcp: RtpSocket;
}

interface IdlePair extends BoundPair {
  /** When it joined the back of the queue (ms, the pool's clock). */
  queuedAt: number;
  /** When it joined the queue or last received a datagram. */
  quietSince: number;
}

/** Idle pairs looked at per take() before giving up on the pool (each one not yet quiet goes to the back). */
const SCAN = 4;

export class BoundPairPool {
  /** FIFO: the oldest idle pair at `head`. */
  private idle: (IdlePair | undefined)[] = [];
  private head = 0;

  constructor(
    /** At most this many pairs are kept; beyond it a pair is closed as before (two descriptors each). */
    private readonly maxPairs: number,
    private readonly quietMs: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.idle.length - this.head;
  }

  /**
   * Keeps a pair whose endpoint is gone: its RTP socket must already be disconnected. False when the pool
   * is full (the caller closes the pair and frees its port).
   */
  put(pair: BoundPair): boolean {
    if (this.size >= this.maxPairs) return false;
    const t = this.now();
    const entry: IdlePair = { port: pair.port, rtp: pair.rtp, rtcp: pair.rtcp, queuedAt: t, quietSince: t };
    // Datagrams still arriving (the far end has not stopped yet) are dropped, and keep the pair waiting.
    entry.rtp.onPacket = () => {
      entry.quietSince = this.now();
    };
    entry.rtp.onError = null;
    entry.rtcp.onError = null;
    this.idle.push(entry);
    return true;
  }

  /**
   * The oldest pair quiet for `quietMs`, or null. `anyAge`: the oldest pair whatever its age, when no
   * port is left to bind (a pair that was recently used beats refusing the call).
   */
  take(anyAge = false): BoundPair | null {
    const t = this.now();
    for (let i = 0; i < SCAN && this.size > 0; i++) {
      const entry = this.idle[this.head]!;
      if (anyAge || t - entry.quietSince >= this.quietMs) {
        this.idle[this.head++] = undefined;
        this.compact();
        entry.rtp.onPacket = null;
        return { port: entry.port, rtp: entry.rtp, rtcp: entry.rtcp };
      }
      // The pairs behind it were queued later: unless a stray datagram made this one wait, none of them is
      // quiet yet. If one did, it goes to the back and the next is looked at.
      if (entry.quietSince === entry.queuedAt) return null;
      this.idle[this.head++] = undefined;
      entry.queuedAt = entry.quietSince;
      this.idle.push(entry);
      this.compact();
    }
    return null;
  }

  /** Every kept pair, to close (shutdown). */
  drain(): BoundPair[] {
    const all: BoundPair[] = [];
    for (const p of this.idle.slice(this.head)) {
      if (!p) continue;
      p.rtp.onPacket = null;
      all.push({ port: p.port, rtp: p.rtp, rtcp: p.rtcp });
    }
    this.idle = [];
    this.head = 0;
    return all;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.idle.length) {
      this.idle = this.idle.slice(this.head);
      this.head = 0;
    }
  }
}
