// Peer addresses in the one form used for keys, sources and limits.

import { isIP } from 'node:net';

/** Address as used in keys and sources: no brackets, IPv4-mapped IPv6 unwrapped, lower case. */
export function normalizeAddress(address: string): string {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  a = a.toLowerCase();
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  return a;
}
