// The media worker's periodic watch over its endpoints: sockets connected to a latched source that went
// silent are opened again (so another source can take over), and endpoints whose party stopped sending
// RTP are reported once as timed out. Split from relay.ts.
import type { RelayEndpoint } from './endpoint.js';
import type { FromWorker } from './protocol.js';

const now = (): number => performance.now();

/**
 * A socket connected to its latched source hears no one else, so it is disconnected a little before that
 * source has been silent for relatchAfterMs (one check period early: `silentForMs` is relatchAfterMs minus
 * the period): by then a new source's packets reach onRtp, which still applies the relatchAfterMs rule, and a
 * returning source simply reconnects.
 */
export function openSilentSockets(endpoints: Iterable<RelayEndpoint>, silentForMs: number): void {
  const t = now();
  for (const ep of endpoints) {
    if (ep.connected && t - ep.latchedLastAt >= silentForMs) ep.disconnect();
  }
}

/** Endpoints whose party was meant to send but sent nothing for rtpTimeoutMs: reported once each. */
export function sweepInactive(endpoints: Iterable<RelayEndpoint>, rtpTimeoutMs: number, post: (msg: FromWorker) => void): void {
  const t = now();
  for (const ep of endpoints) {
    if (ep.timedOut || !ep.stream || !ep.stream.expectInbound) continue;
    if (t - Math.max(ep.armedAt, ep.lastPacketAt) >= rtpTimeoutMs) {
      ep.timedOut = true;
      post({ t: 'rtp-timeout', id: ep.id });
    }
  }
}
