// The media worker's RTP socket I/O behind one small interface, so the relay does not care whether its
// sockets are node:dgram's or the native batching addon's (rtp-io-native.ts, issue #13): bind a port,
// receive datagrams with their source, send (to an address, or on the socket connected to the latched
// source), close. `media.udpIo` chooses; native falls back to dgram when the addon cannot be loaded.
import { createSocket, type RemoteInfo, type Socket, type SocketOptions } from 'node:dgram';
import { bindSocket, closeSocket, literalLookup } from './udp-sockets.js';
import { NativeRtpIo } from './rtp-io-native.js';
import { loadUdpBatch } from './udp-native.js';
import type { PacketHandler, PacketSource, RtpIo, RtpSocket, UdpIoMode } from './rtp-socket.js';

export type { PacketSource, RtpIo, RtpSocket, UdpIoMode } from './rtp-socket.js';

/** Overrides media.udpIo for the whole process (tests and benchmarks of the fallback): native | dgram. */
export const UDP_IO_ENV = 'HIBIKI_MEDIA_UDP_IO';

/** The I/O `configured` asks for (or the environment forces), and a line saying which one runs. */
export function createRtpIo(configured: UdpIoMode): { io: RtpIo; note: string } {
  const forced = process.env[UDP_IO_ENV];
  const mode = forced === 'native' || forced === 'dgram' ? forced : configured;
  if (mode === 'native') {
    const { addon, error } = loadUdpBatch();
    if (addon) return { io: new NativeRtpIo(addon), note: 'RTP sockets: native batched I/O (recvmmsg, media.udpIo native)' };
    return { io: new DgramRtpIo(), note: `RTP sockets: node:dgram (native addon not loaded: ${error ?? 'unknown'})` };
  }
  return { io: new DgramRtpIo(), note: 'RTP sockets: node:dgram (media.udpIo dgram)' };
}

// ---- node:dgram -----------------------------------------------------------------------------------

class DgramSource implements PacketSource {
  port = 0;
  address: string | null = null;
  w0 = 0;
  w1 = 0;
  w2 = 0;
  w3 = 0;
  text(): string {
    return this.address ?? '';
  }
}

class DgramRtpSocket implements RtpSocket {
  onPacket: PacketHandler | null = null;
  onError: ((code: string, message: string) => void) | null = null;
  readonly ipv6: boolean;
  private readonly source = new DgramSource();

  constructor(private readonly socket: Socket) {
    this.ipv6 = socket.address().family === 'IPv6';
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      if (this.onPacket === null) return;
      this.source.port = rinfo.port;
      this.source.address = rinfo.address;
      this.onPacket(msg, msg.length, this.source);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.onError?.(err.code ?? 'EIO', err.message));
  }

  send(buf: Uint8Array, length: number, port: number, address: string | null): void {
    if (address === null) {
      if (length === buf.length) this.socket.send(buf);
      else this.socket.send(buf, 0, length);
    } else if (length === buf.length) {
      this.socket.send(buf, port, address);
    } else {
      this.socket.send(buf, 0, length, port, address);
    }
  }

  connect(port: number, address: string): boolean {
    try {
      // The lookup answers synchronously (an IP literal), so the socket is connected when connect()
      // returns; the callback takes a failure that would otherwise be emitted as 'error'.
      this.socket.connect(port, address, () => undefined);
      this.socket.remoteAddress();
      return true;
    } catch {
      this.disconnect();
      return false;
    }
  }

  disconnect(): void {
    try {
      this.socket.disconnect();
    } catch {
      // Not connected (or the socket is closed).
    }
  }

  close(): Promise<void> {
    this.onPacket = null;
    this.socket.removeAllListeners('message');
    return closeSocket(this.socket);
  }
}

class DgramRtpIo implements RtpIo {
  readonly mode = 'dgram';

  async bind(address: string, port: number, report: boolean): Promise<RtpSocket | null> {
    const family = address.includes(':') ? 'udp6' : 'udp4';
    const socket = report ? createSocket({ type: family, lookup: literalLookup as unknown as SocketOptions['lookup'] }) : createSocket({ type: family });
    // Never an unhandled 'error' event (it would end the worker).
    socket.on('error', () => undefined);
    if (!(await bindSocket(socket, port, address))) {
      await closeSocket(socket);
      return null;
    }
    // RTCP is received and dropped: a bound port avoids ICMP errors.
    if (!report) socket.on('message', () => undefined);
    return new DgramRtpSocket(socket);
  }

  shutdown(): void {
    // Every socket is closed by its endpoint.
  }

  counters(): [number, number] {
    return [0, 0];
  }
}
