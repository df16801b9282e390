// Where to send a request for a URI (a reduced RFC 3263: transport from the URI, A/AAAA lookup, default ports).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Uri } from './uri.js';
import type { SendTarget, TransportName } from './transport/types.js';

const TRANSPORTS = new Set<TransportName>(['udp', 'tcp', 'tls', 'ws', 'wss']);

export class TargetError extends Error {}

export function defaultPort(transport: TransportName): number {
  return transport === 'tls' ? 5061 : transport === 'wss' ? 443 : transport === 'ws' ? 80 : 5060;
}

/** Transport and host:port named by a sip/sips URI, without DNS. */
export function uriTransport(uri: Uri): { transport: TransportName; host: string; port: number } {
  if (uri.scheme !== 'sip' && uri.scheme !== 'sips') throw new TargetError(`cannot route to a ${uri.scheme}: URI`);
  const sip = uri as Extract<Uri, { scheme: 'sip' | 'sips' }>;
  const param = sip.params.get('transport')?.toLowerCase();
  let transport: TransportName = sip.scheme === 'sips' ? 'tls' : 'udp';
  if (param && TRANSPORTS.has(param as TransportName)) transport = param as TransportName;
  if (sip.scheme === 'sips' && transport === 'tcp') transport = 'tls';
  const port = sip.port ?? defaultPort(transport);
  return { transport, host: sip.host, port };
}

export async function resolveTarget(uri: Uri): Promise<SendTarget> {
  const { transport, host, port } = uriTransport(uri);
  if (isIP(host)) return { transport, address: host, port };
  try {
    const { address } = await lookup(host);
    return { transport, address, port };
  } catch (err) {
    throw new TargetError(`cannot resolve ${host}: ${(err as Error).message}`);
  }
}
