// rtpengine's ng control address, IP:port or [IPv6]:port: read the same way by the config schema (which
// refuses a bad one with its line) and by the ng client.
import { isIP } from 'node:net';

export function readNgAddress(text: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || isIP(m[1] as string) === 0 || !(port > 0 && port < 65536)) return undefined;
  return { host: m[1] as string, port };
}
