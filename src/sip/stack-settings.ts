// The SIP stack's settings read from the YAML configuration: listen points, timers and limits, session
// timers, digest and flood protection. server.ts builds the stack from these, and a reload re-applies them.
import { resolve } from 'node:path';
import type { HibikiConfig } from '../config/schema.js';
import type { DigestSettings } from './digest.js';
import type { ProtectionSettings, SipStack, StackOptions } from './stack.js';
import type { ListenPoint } from './transport/types.js';

/** Everything of StackOptions that comes from the file (the rest is the process's: clock, logger, TLS checks, trust). */
export function stackSettings(config: HibikiConfig): Pick<StackOptions, 'listen' | 'userAgent' | 'timers' | 'limits' | 'sessionTimer'> {
  const sip = config.sip;
  return {
    listen: config.listen.map(toListenPoint),
    userAgent: sip.userAgent,
    timers: { t1: sip.t1, t2: sip.t2, t4: sip.t4 },
    limits: {
      maxMessageBytes: sip.maxMessageBytes,
      idleTimeoutMs: sip.tcpIdleTimeout * 1000,
      unprovenIdleTimeoutMs: sip.tcpUnprovenIdleTimeout * 1000,
      messageTimeoutMs: sip.tcpMessageTimeout * 1000,
      handshakeTimeoutMs: sip.tcpHandshakeTimeout * 1000,
      maxConnections: sip.maxConnections,
      maxConnectionsPerAddress: sip.maxConnectionsPerAddress,
      securityReportIntervalMs: sip.connectionReportInterval * 1000,
    },
    // RFC 4028 on every dialog hibiki is part of, so each leg of a call is refreshed on its own.
    sessionTimer: { sessionExpires: config.calls.sessionExpires, minSE: config.calls.minSE, maxSessionExpires: config.calls.maxSessionExpires },
  };
}

export function digestSettings(config: HibikiConfig): DigestSettings {
  return { realm: config.auth.realm, algorithms: config.auth.algorithms, nonceTtlSec: config.auth.nonceExpires };
}

/** Issue #14: the stack's flood and overload limits from sip.maxServerTransactions and security. */
export function protectionOf(config: HibikiConfig): ProtectionSettings {
  return { maxServerTransactions: config.sip.maxServerTransactions, rateLimit: config.security.rateLimit, overload: config.security.overload };
}

function toListenPoint(l: HibikiConfig['listen'][number]): ListenPoint {
  return {
    transport: l.transport,
    host: l.host,
    port: l.port,
    cert: l.cert ? resolve(l.cert) : undefined,
    key: l.key ? resolve(l.key) : undefined,
  };
}

/** SDP c= address: the stack's advertised address for its first listener. */
export function mediaAddress(stack: SipStack, config: HibikiConfig): string {
  const first = config.listen[0];
  const host = first ? stack.advertisedHost({ transport: first.transport, host: first.host, port: first.port }) : '127.0.0.1';
  return host;
}
