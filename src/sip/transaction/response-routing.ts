// Where responses to a request go: the received/rport stamp on arrival (RFC 3261 §18.2.1,
// RFC 3581 §4) and the response destination (RFC 3261 §18.2.2, RFC 3581 §4).
import { isIP } from 'node:net';
import type { SipMessage, SipRequest, TransportSource } from '../message.js';
import { isReliable, type SendTarget } from '../transport/types.js';
import { parseVia, type Via } from '../via.js';
import { stripBrackets } from './branch.js';

/** The top Via as parsed, falling back to parsing only the top value when a lower Via is broken. */
export function topViaOf(msg: SipMessage): Via | null {
  const parsed = msg.topVia;
  if (parsed) return parsed;
  const raw = msg.getAll('via')[0];
  return raw === undefined ? null : parseVia(raw);
}

/**
 * RFC 3261 §18.2.1: add `received` when the sent-by host is not the packet's source address.
 * RFC 3581 §4: an empty `rport` gets the source port, and then `received` is added even when
 * the addresses are equal. The Via is only rewritten when something changed.
 */
export function stampReceived(req: SipRequest, via: Via, source: TransportSource): void {
  const hasRport = via.params.has('rport');
  const rportEmpty = hasRport && !via.params.get('rport');
  const needReceived = hasRport || !sameAddress(via.host, source.address);
  if (!needReceived && !rportEmpty) return;
  const params = new Map(via.params);
  if (needReceived) params.set('received', plainAddress(source.address));
  if (rportEmpty) params.set('rport', String(source.port));
  req.replaceTopVia({ ...via, params });
}

/**
 * RFC 3261 §18.2.2 with RFC 3581 §4. Reliable transports answer over the connection the
 * request came in on (address/port kept for the transport to reconnect if it is gone). UDP
 * answers go to the packet's source address — never the Via host, which may name anything,
 * even a broadcast address (RFC 4475 §3.3.10) — and to the rport value when rport
 * is present, else to the sent-by port (default 5060, 5061 for TLS).
 */
export function responseTarget(req: SipRequest): SendTarget {
  const source = req.source;
  if (!source) throw new Error('responseTarget: request has no transport source');
  if (isReliable(source.transport)) {
    const target: SendTarget = { transport: source.transport, address: source.address, port: source.port };
    if (source.connectionId !== undefined) target.connectionId = source.connectionId;
    return target;
  }
  const via = topViaOf(req);
  return { transport: source.transport, address: source.address, port: via ? viaResponsePort(via, source.port) : source.port };
}

function viaResponsePort(via: Via, sourcePort: number): number {
  if (via.params.has('rport')) {
    const rport = Number(via.params.get('rport'));
    return Number.isInteger(rport) && rport > 0 && rport < 65536 ? rport : sourcePort;
  }
  if (via.port !== undefined) return via.port;
  return via.transport.toUpperCase() === 'TLS' ? 5061 : 5060;
}

/** A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; compare and stamp the IPv4 form. */
function plainAddress(address: string): string {
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4) return lower.slice(7);
  return address;
}

function sameAddress(viaHost: string, sourceAddress: string): boolean {
  const host = stripBrackets(viaHost).toLowerCase();
  const src = plainAddress(sourceAddress).toLowerCase();
  if (host === src) return true;
  if (isIP(host) === 6 && isIP(src) === 6) return canonicalIpv6(host) === canonicalIpv6(src);
  return false;
}

/** The WHATWG URL parser writes IPv6 addresses in their canonical compressed form (RFC 5952). */
function canonicalIpv6(address: string): string {
  try {
    return new URL(`http://[${address}]/`).hostname;
  } catch {
    return address;
  }
}

/**
 * Where a stateless answer to `req` goes: by its Via (RFC 3261 §18.2.2), or back where it came from when the
 * Via cannot be parsed; undefined when neither can route it (it is then not answered).
 */
export function replyTarget(req: SipRequest): SendTarget | undefined {
  const source = req.source;
  if (req.vias === null && source) return { transport: source.transport, address: source.address, port: source.port, connectionId: source.connectionId };
  try {
    return responseTarget(req);
  } catch {
    return undefined;
  }
}
