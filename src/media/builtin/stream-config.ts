// What the main thread tells the media worker about a negotiated endpoint (its stream configuration), and
// the SDP session id of a new endpoint. Split from engine.ts.
import { directionReceives, directionSends, type Negotiation } from '../sdp.js';
import type { StreamConfig } from './protocol.js';

export function sessionId(): string {
  // RFC 4566 §5.2: a numeric id, unique enough; NTP-like time plus randomness.
  return `${Math.floor(Date.now() / 1000)}${Math.floor(Math.random() * 1e6)
    .toString()
    .padStart(6, '0')}`;
}

export function streamConfig(n: Negotiation): StreamConfig {
  const m = n.media;
  return {
    remote: { address: m.remoteAddress, port: m.remotePort },
    inbound: [...n.inbound],
    codec: m.codec,
    payloadType: m.payloadType,
    telephoneEventPt: m.telephoneEventPt ?? -1,
    send: directionSends(n.localDirection),
    receive: directionReceives(n.localDirection),
    // Inactivity counts only while the remote is meant to send: not when it holds us (sendonly/inactive).
    expectInbound: m.remoteDirection === 'sendrecv' && directionReceives(n.localDirection),
  };
}
