// SIP over UDP (RFC 3261 §18): one datagram is one message. Replies and
// requests leave from the listening socket itself, so a NATed phone sees them
// come from the address and port it registered to (RFC 3581 symmetric routing).

import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { normalizeAddress } from './connection-registry.js';
import { settleSend, type ListenPoint, type SendCallback, type TransportLimits, type TransportSource } from './types.js';

export interface UdpContext {
  readonly limits: TransportLimits;
  readonly logger: Logger;
  deliver(data: Buffer, source: TransportSource): void;
}

const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/** True for a datagram carrying nothing but whitespace, e.g. a CRLF keep-alive. */
function isBlank(data: Buffer): boolean {
  for (const byte of data) {
    if (byte !== 0x0d && byte !== 0x0a && byte !== 0x20 && byte !== 0x09) return false;
  }
  return true;
}

export class UdpListener {
  readonly family: 4 | 6;
  private readonly point: ListenPoint;
  private readonly ctx: UdpContext;
  private readonly socket: dgram.Socket;
  private bound: ListenPoint | undefined;
  private closed = false;

  constructor(point: ListenPoint, ctx: UdpContext) {
    this.point = point;
    this.ctx = ctx;
    this.family = isIP(normalizeAddress(point.host)) === 6 ? 6 : 4;
    this.socket = dgram.createSocket({ type: this.family === 6 ? 'udp6' : 'udp4' });
  }

  /** A socket bound to the IPv6 wildcard also receives IPv4 (as IPv4-mapped addresses). */
  get isDualStack(): boolean {
    return this.family === 6 && normalizeAddress(this.point.host) === '::';
  }

  start(): Promise<ListenPoint> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.socket.once('error', onError);
      this.socket.bind(this.point.port, normalizeAddress(this.point.host), () => {
        this.socket.off('error', onError);
        this.socket.on('error', (err) => this.ctx.logger.warn({ err: err.message }, 'udp socket error'));
        this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
        this.enlargeReceiveBuffer();
        const address = this.socket.address();
        this.bound = { ...this.point, host: normalizeAddress(address.address), port: address.port };
        resolve(this.bound);
      });
    });
  }

  stop(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.bound) {
      // Never bound (bind failed): release the handle, there is nothing to wait for.
      this.closed = true;
      try {
        this.socket.close();
      } catch {
        // already closed by the failed bind
      }
      return Promise.resolve();
    }
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  send(data: Buffer, address: string, port: number, cb?: SendCallback): void {
    const onThrow = (err: unknown): void => this.ctx.logger.error({ err }, 'send callback threw');
    if (this.closed || !this.bound) {
      settleSend(cb, new Error('udp socket is not open'), onThrow);
      return;
    }
    let host = normalizeAddress(address);
    if (this.family === 6 && isIP(host) === 4) host = `::ffff:${host}`;
    try {
      this.socket.send(data, port, host, (err) => settleSend(cb, err ?? undefined, onThrow));
    } catch (err) {
      // dgram throws synchronously on a bad port or a socket closed under us.
      settleSend(cb, err instanceof Error ? err : new Error(String(err)), onThrow);
    }
  }

  /** Room for a burst of datagrams while the event loop is busy; the kernel caps it at net.core.rmem_max. */
  private enlargeReceiveBuffer(): void {
    try {
      if (this.socket.getRecvBufferSize() < RECEIVE_BUFFER_BYTES) this.socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
    } catch (err) {
      this.ctx.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'cannot enlarge udp receive buffer');
    }
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length > this.ctx.limits.maxMessageBytes) {
      this.ctx.logger.debug({ remote: `${rinfo.address}:${rinfo.port}`, bytes: msg.length }, 'oversize datagram dropped');
      return;
    }
    if (isBlank(msg)) return;
    const bound = this.bound;
    if (!bound) return;
    this.ctx.deliver(msg, {
      transport: 'udp',
      address: normalizeAddress(rinfo.address),
      port: rinfo.port,
      localAddress: bound.host,
      localPort: bound.port,
    });
  }
}
