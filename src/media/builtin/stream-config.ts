// What the main thread tells the media worker about a negotiated endpoint (its stream configuration), and
// the SDP session id of a new endpoint. Split from engine.ts.
import { directionReceives, directionSends, type Negotiation } from '../sdp.js';
import type { StreamConfig } from './protocol.js';

export function sessionId(): string {
  // RFC 4566 §5.2: a numeric id, unique enough; NTP-like time plus randomness.
  // One number made into one flat string (below 2^53, so exact): the two-part template made a cons
  // string, twice the size, kept by every endpoint for the whole call.
  return String(Math.floor(Date.now() / 1000) * 1e6 + Math.floor(Math.random() * 1e6));
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
