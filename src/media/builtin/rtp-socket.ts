// The interface between the relay and its RTP sockets (rtp-io.ts: node:dgram, rtp-io-native.ts: the
// native batching addon), so the relay does not care which one runs.
export type UdpIoMode = 'native' | 'dgram';

/**
 * Where a datagram came from. One object is reused for every packet: dgram gives `address` as text; the
 * native I/O gives the address as four words (compared without building a string) and `text()` formats it
 * only when the relay needs it (a new latch), valid during the packet's handler only.
 */
export interface PacketSource {
  port: number;
  /** Set by dgram; null from the native I/O (use the words). */
  address: string | null;
  w0: number;
  w1: number;
  w2: number;
  w3: number;
  text(): string;
}

export type PacketHandler = (buf: Buffer, length: number, source: PacketSource) => void;

export interface RtpSocket {
  readonly ipv6: boolean;
  /** Datagrams (only on a socket bound with `report`); the buffer is reused once the handler returns. */
  onPacket: PacketHandler | null;
  /** A failed send or a socket error, by errno name (ECONNREFUSED when a connected source has gone). */
  onError: ((code: string, message: string) => void) | null;
  /** To `address` (an IP literal of the socket's family), or on the connected socket when it is null. */
  send(buf: Uint8Array, length: number, port: number, address: string | null): void;
  /** Connects to the latched source (the kernel then delivers only its datagrams); false when it failed. */
  connect(port: number, address: string): boolean;
  disconnect(): void;
  close(): Promise<void>;
}

export interface RtpIo {
  readonly mode: UdpIoMode;
  /** Bound exclusively to `port`; null when it is taken (or cannot be bound). */
  bind(address: string, port: number, report: boolean): Promise<RtpSocket | null>;
  shutdown(): void;
  /** [sends dropped because the socket buffer was full, datagrams too long to receive]; dgram counts neither. */
  counters(): [sendsDropped: number, truncated: number];
}
