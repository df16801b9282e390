// Where this stack is, as others must address it: the host advertised for a listen point (the configured
// address, loopback toward loopback peers, else the first outward interface), the listen point toward a
// remote address, our Contact URI and a new top Via. Split from stack.ts.
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { newBranch } from './transaction/branch.js';
import type { ListenPoint, SendTarget, SipTransport, TransportName } from './transport/types.js';
import { formatVia } from './via.js';

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

export class LocalAddressing {
  constructor(
    private readonly transport: SipTransport,
    /** Host to put in Via/Contact when a listen point is bound to a wildcard address. */
    private readonly advertisedAddress: string | undefined,
  ) {}

  /** The sent-by host to advertise for a listen point toward a remote address. */
  advertisedHost(point: ListenPoint, remoteAddress?: string): string {
    if (!WILDCARD_HOSTS.has(point.host)) return point.host;
    if (this.advertisedAddress) return this.advertisedAddress;
    const v6 = remoteAddress ? isIP(remoteAddress) === 6 : point.host === '::';
    if (remoteAddress && (remoteAddress.startsWith('127.') || remoteAddress === '::1')) return v6 ? '::1' : '127.0.0.1';
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? []) {
        if (!a.internal && a.family === (v6 ? 'IPv6' : 'IPv4') && !a.address.startsWith('fe80')) return a.address;
      }
    }
    return v6 ? '::1' : '127.0.0.1';
  }

  localPoint(transport: TransportName, remoteAddress?: string): { host: string; port: number; transport: TransportName } {
    const point = this.transport.localPoint(transport, remoteAddress);
    if (!point) throw new Error(`no ${transport} listener configured`);
    return { host: this.advertisedHost(point, remoteAddress), port: point.port, transport };
  }

  /** A Contact URI for this stack reachable over the given transport. */
  contactUri(transport: TransportName, remoteAddress?: string, user?: string): string {
    const p = this.localPoint(transport, remoteAddress);
    const host = p.host.includes(':') ? `[${p.host}]` : p.host;
    const t = transport === 'udp' ? '' : `;transport=${transport}`;
    return `sip:${user ? `${user}@` : ''}${host}:${p.port}${t}`;
  }

  /** A new top Via for the target's transport, with a fresh branch and rport (RFC 3581). */
  topVia(target: SendTarget): string {
    const local = this.localPoint(target.transport, target.address);
    return formatVia({
      protocol: 'SIP/2.0',
      transport: target.transport.toUpperCase(),
      host: local.host,
      port: local.port,
      params: new Map<string, string | null>([
        ['branch', newBranch()],
        ['rport', null],
      ]),
    });
  }
}
