// One Via value (RFC 3261 §20.42, §25.1 via-parm):
//   sent-protocol LWS sent-by *( SEMI via-params )
//   sent-protocol = protocol-name SLASH protocol-version SLASH transport
// SLASH and COLON allow LWS on both sides.

import { formatParams, isLws, isTokenChar, parseParams, skipLws, type Params } from './params.js';
import { formatHostPort, parseHostPort, type HostPort } from './uri.js';

export interface Via {
  /** e.g. "SIP/2.0" */
  protocol: string;
  /** Upper-case: "UDP", "TCP", "TLS", "WS", "WSS", "SCTP"… */
  transport: string;
  /** Lower-case; IPv6 without brackets. */
  host: string;
  port?: number;
  params: Params;
}

const SLASH = 0x2f;

function readToken(text: string, i: number): number {
  while (i < text.length && isTokenChar(text.charCodeAt(i))) i++;
  return i;
}

function upper(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) return s.toUpperCase();
  }
  return s;
}

export function parseVia(text: string): Via | null {
  const n = text.length;
  let i = skipLws(text, 0);
  const nameStart = i;
  i = readToken(text, i);
  if (i === nameStart) return null;
  const nameEnd = i;
  i = skipLws(text, i);
  if (text.charCodeAt(i) !== SLASH) return null;
  i = skipLws(text, i + 1);
  const versionStart = i;
  i = readToken(text, i);
  if (i === versionStart) return null;
  const versionEnd = i;
  i = skipLws(text, i);
  if (text.charCodeAt(i) !== SLASH) return null;
  i = skipLws(text, i + 1);
  const transportStart = i;
  i = readToken(text, i);
  if (i === transportStart) return null;
  const transport = upper(text.slice(transportStart, i));
  // sent-by must be separated from the protocol by LWS.
  if (i >= n || !isLws(text.charCodeAt(i))) return null;
  i = skipLws(text, i);

  let semi = text.indexOf(';', i);
  if (semi < 0) semi = n;
  let end = semi;
  while (end > i && isLws(text.charCodeAt(end - 1))) end--;
  let hostport: HostPort | null;
  let space = i;
  while (space < end && !isLws(text.charCodeAt(space))) space++;
  if (space === end) {
    hostport = parseHostPort(text, i, end);
  } else {
    // LWS is legal only around the port colon (COLON = SWS ":" SWS).
    const colon = text.lastIndexOf(':', end - 1);
    if (colon < space) return null;
    let hostEnd = colon;
    while (hostEnd > i && isLws(text.charCodeAt(hostEnd - 1))) hostEnd--;
    const portStart = skipLws(text, colon + 1);
    const compact = text.slice(i, hostEnd) + ':' + text.slice(portStart, end);
    for (let k = 0; k < compact.length; k++) if (isLws(compact.charCodeAt(k))) return null;
    hostport = parseHostPort(compact);
  }
  if (!hostport) return null;
  let params: Params;
  if (semi < n) {
    const p = parseParams(text, semi, n);
    if (!p) return null;
    params = p;
  } else {
    params = new Map();
  }
  return {
    protocol: upper(text.slice(nameStart, nameEnd)) + '/' + text.slice(versionStart, versionEnd),
    transport,
    host: hostport.host,
    port: hostport.port,
    params,
  };
}

export function formatVia(v: Via): string {
  return v.protocol + '/' + v.transport + ' ' + formatHostPort(v.host, v.port) + formatParams(v.params);
}

export function viaBranch(v: Via): string | undefined {
  return v.params.get('branch') ?? undefined;
}
