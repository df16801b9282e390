// A set of IP addresses and CIDR blocks (IPv4 and IPv6), e.g. the sources exempt from rate limiting.
import { BlockList, isIP } from 'node:net';
import { normalizeAddress } from './transport/connection-registry.js';

export class AddressSet {
  private constructor(
    private readonly list: BlockList,
    readonly size: number,
  ) {}

  /** Entries like `192.0.2.10`, `10.0.0.0/8`, `2001:db8::/32`; throws on anything else. */
  static parse(entries: readonly string[]): AddressSet {
    const list = new BlockList();
    for (const entry of entries) {
      const parsed = parseEntry(entry);
      if (!parsed) throw new RangeError(`not an IP address or CIDR block: ${entry}`);
      const type = parsed.family === 6 ? 'ipv6' : 'ipv4';
      if (parsed.prefix === undefined) list.addAddress(parsed.address, type);
      else list.addSubnet(parsed.address, parsed.prefix, type);
    }
    return new AddressSet(list, entries.length);
  }

  has(address: string): boolean {
    if (this.size === 0) return false;
    const a = normalizeAddress(address);
    const family = isIP(a);
    if (family === 0) return false;
    return this.list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** An address or CIDR block as written in the configuration; undefined when it is neither. */
export function parseEntry(entry: string): { address: string; family: 4 | 6; prefix?: number } | undefined {
  const slash = entry.indexOf('/');
  const address = normalizeAddress(slash < 0 ? entry : entry.slice(0, slash));
  const family = isIP(address) === 6 ? 6 : isIP(address) === 4 ? 4 : undefined;
  if (family === undefined) return undefined;
  if (slash < 0) return { address, family };
  const text = entry.slice(slash + 1);
  const prefix = Number(text);
  if (!/^[0-9]{1,3}$/.test(text) || prefix > (family === 6 ? 128 : 32)) return undefined;
  return { address, family, prefix };
}
