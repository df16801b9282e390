// RTP sockets on the native batching addon (native/udp-batch): every datagram of a wake-up lands in one
// receive buffer shared with the addon, one JS call per batch walks the descriptor table, and the relayed
// packets (rewritten in place in that buffer) are queued and sent by one flush() at the end of the batch.
// Per packet: no Buffer, no rinfo, no string, no crossing into native code.
import type { PacketHandler, PacketSource, RtpIo, RtpSocket } from './rtp-socket.js';
import { META_WORDS, SEND_WORDS, errnoName, type PollerHandle, type UdpBatchAddon } from './udp-native.js';

/** Room per datagram: an RTP packet fits an Ethernet MTU; a longer datagram is reported as length 0. */
const SLOT_SIZE = 2048;
/** Datagrams per batch (the receive buffer is SLOTS × SLOT_SIZE = 128 KiB). */
const SLOTS = 64;
const EAGAIN = 11;

class NativeSource implements PacketSource {
  port = 0;
  readonly address = null;
  w0 = 0;
  w1 = 0;
  w2 = 0;
  w3 = 0;
  index = 0;
  constructor(private readonly format: (index: number) => string) {}
  text(): string {
    return this.format(this.index);
  }
}

class NativeRtpSocket implements RtpSocket {
  onPacket: PacketHandler | null = null;
  onError: ((code: string, message: string) => void) | null = null;
  closed = false;

  constructor(
    private readonly io: NativeRtpIo,
    readonly fd: number,
    readonly ipv6: boolean,
  ) {}

  send(buf: Uint8Array, length: number, port: number, address: string | null): void {
    if (this.closed || this.io.closed) return;
    if (address === null && this.io.queue(this.fd, buf, length)) return;
    const r = this.io.addon.send(this.io.poller, this.fd, buf, length, address, port);
    if (r < 0) this.failed(-r);
  }

  failed(errno: number): void {
    // A full socket buffer drops the packet, as the kernel would for dgram (counted in the addon).
    if (errno === EAGAIN) return;
    const code = errnoName(errno);
    this.onError?.(code, `send failed: ${code}`);
  }

  connect(port: number, address: string): boolean {
    return !this.closed && !this.io.closed && this.io.addon.connect(this.io.poller, this.fd, address, port) === 0;
  }

  disconnect(): void {
    if (!this.closed && !this.io.closed) this.io.addon.connect(this.io.poller, this.fd, null, 0);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.onPacket = null;
      this.io.forget(this);
    }
    return Promise.resolve();
  }
}

export class NativeRtpIo implements RtpIo {
  readonly mode = 'native';
  readonly poller: PollerHandle;
  private readonly recv = new ArrayBuffer(SLOTS * SLOT_SIZE);
  private readonly meta = new Uint32Array(SLOTS * META_WORDS);
  private readonly sends = new Int32Array(SLOTS * SEND_WORDS);
  /** One Buffer per slot, made once: a packet is handed to the relay as its slot's view. */
  private readonly slots: Buffer[] = [];
  /** Sockets by fd (small integers): no Map lookup per packet. */
  private readonly byFd: (NativeRtpSocket | undefined)[] = [];
  private readonly source: NativeSource;
  private queued = 0;
  private inBatch = false;
  /** After shutdown the addon refuses every call on the poller (its sockets are already closed). */
  closed = false;
  /** The counters read at shutdown, when the addon no longer answers for the poller. */
  private final: [number, number] | undefined;

  constructor(readonly addon: UdpBatchAddon) {
    for (let i = 0; i < SLOTS; i++) this.slots.push(Buffer.from(this.recv, i * SLOT_SIZE, SLOT_SIZE));
    this.poller = addon.createPoller(this.recv, SLOT_SIZE, this.meta.buffer as ArrayBuffer, this.sends.buffer as ArrayBuffer, (count) => this.onBatch(count));
    this.source = new NativeSource((index) => addon.address(this.poller, index));
  }

  bind(address: string, port: number, report: boolean): Promise<RtpSocket | null> {
    if (this.closed) return Promise.resolve(null);
    let fd: number;
    try {
      fd = this.addon.open(this.poller, address, port, report);
    } catch {
      // Taken by another process (EADDRINUSE) or not bindable: the allocator tries the next pair.
      return Promise.resolve(null);
    }
    const socket = new NativeRtpSocket(this, fd, address.includes(':'));
    this.byFd[fd] = socket;
    return Promise.resolve(socket);
  }

  /** Queues a send from the receive buffer during a batch; false when it must be sent now. */
  queue(fd: number, buf: Uint8Array, length: number): boolean {
    if (!this.inBatch || buf.buffer !== this.recv) return false;
    if (this.queued === SLOTS) this.flush();
    const row = this.queued++ * SEND_WORDS;
    this.sends[row] = fd;
    this.sends[row + 1] = buf.byteOffset;
    this.sends[row + 2] = length;
    return true;
  }

  forget(socket: NativeRtpSocket): void {
    if (this.byFd[socket.fd] === socket) this.byFd[socket.fd] = undefined;
    if (this.closed) return;
    // Queued packets of this socket are sent (or fail) before its fd can be reused.
    if (this.queued > 0) this.flush();
    this.addon.close(this.poller, socket.fd);
  }

  shutdown(): void {
    if (this.closed) return;
    this.final = this.addon.counters(this.poller);
    this.closed = true;
    this.queued = 0;
    this.addon.closePoller(this.poller);
  }

  /** [sends dropped because the socket buffer was full, datagrams too long for a slot]. */
  counters(): [number, number] {
    return this.final ?? this.addon.counters(this.poller);
  }

  private onBatch(count: number): void {
    const meta = this.meta;
    const source = this.source;
    this.inBatch = true;
    try {
      for (let i = 0; i < count; i++) {
        const row = i * META_WORDS;
        const socket = this.byFd[meta[row]!];
        const handler = socket?.onPacket;
        if (!handler) continue;
        // Every socket of a relay has one family, so the address words alone tell sources apart.
        source.port = meta[row + 3]! & 0xffff;
        source.w0 = meta[row + 4]!;
        source.w1 = meta[row + 5]!;
        source.w2 = meta[row + 6]!;
        source.w3 = meta[row + 7]!;
        source.index = i;
        try {
          handler(this.slots[(meta[row + 1]! / SLOT_SIZE) | 0]!, meta[row + 2]!, source);
        } catch {
          // The relay's handler catches and logs its own errors; an exception escaping into the addon is
          // an uncaught exception that ends the worker, so one packet's failure must not leave this loop.
        }
      }
    } finally {
      this.inBatch = false;
      if (this.queued > 0) this.flush();
    }
  }

  private flush(): void {
    const count = this.queued;
    this.queued = 0;
    if (this.addon.flush(this.poller, count) === 0) return;
    for (let i = 0; i < count; i++) {
      const row = i * SEND_WORDS;
      const r = this.sends[row + 3]!;
      if (r < 0) this.byFd[this.sends[row]!]?.failed(-r);
    }
  }
}
