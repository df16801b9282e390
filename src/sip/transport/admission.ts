// Admission of stream connections: a socket is counted from the moment it is accepted (before any
// TLS handshake or WebSocket upgrade, so those in progress count too) until it closes. An inbound
// socket over the total or the per-address cap is reset at once, before any work is spent on it.

import { isIP, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { normalizeAddress } from './address.js';
import type { SecurityReporter } from './security-report.js';
import type { TransportLimits, TransportName } from './types.js';

/**
 * The unit the per-address cap counts: an IPv4 address, or an IPv6 /64 — one end site's LAN, which
 * a single host can fill with addresses of its own at will (RFC 4291 §2.5.1, RFC 6177).
 */
export function admissionKey(address: string): string {
  const a = normalizeAddress(address);
  if (isIP(a) !== 6) return a;
  return `${expandIPv6(a).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, without leading zeros. */
function expandIPv6(address: string): string[] {
  const zone = address.indexOf('%');
  let a = zone === -1 ? address : address.slice(0, zone);
  // A dotted IPv4 tail (::ffff:192.0.2.1 forms that normalizeAddress left alone) counts as two groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (dotted) {
    const [b1, b2, b3, b4] = dotted.slice(1).map(Number) as [number, number, number, number];
    a = `${a.slice(0, dotted.index)}${((b1 << 8) | b2).toString(16)}:${((b3 << 8) | b4).toString(16)}`;
  }
  const [head, tail] = a.includes('::') ? (a.split('::') as [string, string]) : [a, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => (parseInt(g, 16) || 0).toString(16));
}

export type AdmissionRefusal = 'connection-limit' | 'address-limit';

export class ConnectionAdmission {
  private readonly perKey = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly limits: Pick<TransportLimits, 'maxConnections' | 'maxConnectionsPerAddress'>,
    private readonly logger: Logger,
    private readonly reporter: SecurityReporter,
    /** A source the rate limiter has blocked: its connections are reset (its block is logged there, once). */
    private readonly blocked: (address: string) => boolean = () => false,
  ) {}

  /** Live sockets counted (inbound from accept, outbound from connect). */
  get size(): number {
    return this.total;
  }

  /**
   * Counts an accepted socket until it closes, or resets it when a cap is reached (false).
   * A socket whose peer is already gone has no address and is dropped too.
   */
  admitInbound(socket: Socket, transport: TransportName): boolean {
    // From accept on, an error must never go unhandled (that would end the process). Whoever owns the
    // socket next — the TLS handshake, the HTTP parser, the flow — logs errors in its own terms.
    socket.on('error', () => undefined);
    const address = socket.remoteAddress;
    if (!address) {
      socket.destroy();
      return false;
    }
    if (this.blocked(normalizeAddress(address))) {
      this.logger.debug({ transport, src: normalizeAddress(address), srcPort: socket.remotePort }, 'connection refused: source blocked');
      reset(socket);
      return false;
    }
    const key = admissionKey(address);
    const refusal: AdmissionRefusal | undefined =
      this.total >= this.limits.maxConnections ? 'connection-limit' : (this.perKey.get(key) ?? 0) >= this.limits.maxConnectionsPerAddress ? 'address-limit' : undefined;
    if (refusal) {
      const src = normalizeAddress(address);
      this.logger.debug({ transport, src, srcPort: socket.remotePort, reason: refusal }, 'connection refused');
      this.reporter.report('connection-refused', src, transport, { reason: refusal });
      reset(socket);
      return false;
    }
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    this.total += 1;
    socket.once('close', () => {
      this.total -= 1;
      const left = (this.perKey.get(key) ?? 1) - 1;
      if (left > 0) this.perKey.set(key, left);
      else this.perKey.delete(key);
    });
    return true;
  }

  /** Counts a socket hibiki opened against the total (never refused: hibiki chose to open it). */
  trackOutbound(socket: Socket): void {
    this.total += 1;
    socket.once('close', () => {
      this.total -= 1;
    });
  }
}

/** A reset rather than a FIN: nothing more is owed to this peer, and no TIME_WAIT is left behind. */
function reset(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
