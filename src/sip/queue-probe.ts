// How long a datagram waits before the stack reads it (issue #13 goal 4). Under UDP overload the
// backlog is in the kernel's socket receive buffer (4 MiB: seconds of requests), where neither event-
// loop utilization (it cannot exceed 100 %) nor timer delay (libuv reads a few datagrams per turn, so
// turns stay short) shows how far behind the stack is: callers retransmit and time out while both look
// merely "busy". So the overload control sends itself a small datagram every sample through the
// listening socket and times how long it takes to come out of the queue, behind the requests that
// arrived before it.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';

/** A probe's payload: a NUL byte (no SIP message starts with one), the token, the sequence number. */
const TOKEN_BYTES = 16;
const PROBE_BYTES = 1 + TOKEN_BYTES + 4;
/** A probe not back after this long was lost (a full receive buffer drops datagrams): its age stops counting. */
const LOST_AFTER_MS = 10_000;
/** No probe back for this long: the path broke (a firewall reload on loopback), not a backlog; the
 * ages of probes still out stop counting until one comes back, or an idle server would shed forever. */
const PATH_BROKEN_AFTER_MS = 2 * LOST_AFTER_MS;

export interface QueueProbeOptions {
  /** Sends one probe datagram to the listening socket. */
  send: (payload: Buffer) => void;
  /** Monotonic milliseconds; tests give their own. */
  now?: () => number;
  /** Random token that marks this process's probes; tests give their own. */
  token?: Buffer;
}

export class QueueProbe {
  private readonly now: () => number;
  private readonly token: Buffer;
  private seq = 0;
  /** Probes sent and not yet back: sequence number → when it was sent. */
  private readonly outstanding = new Map<number, number>();
  /** The longest wait measured since the last reading. */
  private measured = 0;
  /** Whether any probe came back: until one does, the path is not known to work (a firewall, an odd
   * address) and probes still out say nothing, rather than reading as an ever-growing backlog. */
  private seen = false;
  /** When a probe last came back. */
  private lastBack = 0;

  constructor(private readonly opts: QueueProbeOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.token = opts.token ?? randomBytes(TOKEN_BYTES);
  }

  /** Sends the next probe. */
  send(): void {
    const payload = Buffer.alloc(PROBE_BYTES);
    this.token.copy(payload, 1);
    const seq = (this.seq = (this.seq + 1) >>> 0);
    payload.writeUInt32BE(seq, 1 + TOKEN_BYTES);
    this.outstanding.set(seq, this.now());
    this.opts.send(payload);
  }

  /** Whether this datagram is one of our probes (then it is consumed); called for every datagram, so cheap. */
  take(data: Buffer): boolean {
    if (data.length !== PROBE_BYTES || data[0] !== 0 || this.token.compare(data, 1, 1 + TOKEN_BYTES) !== 0) return false;
    const seq = data.readUInt32BE(1 + TOKEN_BYTES);
    const sentAt = this.outstanding.get(seq);
    if (sentAt !== undefined) {
      this.seen = true;
      this.lastBack = this.now();
      this.outstanding.delete(seq);
      this.measured = Math.max(this.measured, this.now() - sentAt);
      // The queue is first in, first out: a probe sent before this one and still out was dropped by a
      // full receive buffer. Counting its age until it is forgotten (10 s) read a drained queue as a
      // backlog that kept the control saturated, dropping requests whose retransmissions became the storm.
      for (const earlier of this.outstanding.keys()) {
        if (earlier < seq) this.outstanding.delete(earlier);
        else break;
      }
    }
    return true;
  }

  /**
   * The wait since the last reading (ms): the longest a probe took to come back, or longer if one is
   * still queued — a backlog shows at once, not only when its probe finally comes out.
   */
  read(): number {
    const now = this.now();
    if (this.seen && now - this.lastBack > PATH_BROKEN_AFTER_MS) {
      this.seen = false;
      this.outstanding.clear();
    }
    let wait = this.measured;
    for (const [seq, sentAt] of this.outstanding) {
      const age = now - sentAt;
      if (age > LOST_AFTER_MS) this.outstanding.delete(seq);
      else if (this.seen) wait = Math.max(wait, age);
    }
    this.measured = 0;
    return wait;
  }
}

/** The listening UDP socket to probe: its address (a wildcard is reached on loopback) and port. */
export interface ProbeTarget {
  host: string;
  port: number;
}

/** A probe that sends from its own loopback (or same-address) socket to the listening socket. */
export function udpQueueProbe(target: ProbeTarget): { probe: QueueProbe; close: () => void } {
  const wildcard = target.host === '0.0.0.0' || target.host === '::';
  // A `::` listener is dual-stack (node:dgram's default) and also reached on 127.0.0.1, which works
  // where IPv6 is disabled on loopback and ::1 would never answer.
  const host = wildcard ? '127.0.0.1' : target.host;
  const v6 = isIP(host) === 6;
  const socket: Socket = createSocket(v6 ? 'udp6' : 'udp4');
  // A lost probe is measured as a long wait; a send error has nothing else to report.
  socket.on('error', () => undefined);
  socket.unref();
  const probe = new QueueProbe({ send: (payload) => socket.send(payload, target.port, host) });
  return {
    probe,
    close: () => {
      try {
        socket.close();
      } catch {
        // already closed
      }
    },
  };
}
