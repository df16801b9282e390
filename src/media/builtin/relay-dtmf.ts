// What the media worker does with a DTMF digit a party sent, per the endpoint's policy (pass, suppress,
// holdback), and the digits it generates as RFC 4733 toward a party. Split from relay.ts.
import type { DtmfSource } from '../engine.js';
import type { RelayEndpoint } from './endpoint.js';
import type { DtmfSender } from './dtmf-sender.js';
import type { FromWorker, WorkerLogLevel } from './protocol.js';

/** What these functions need of the relay: posting to the main thread and its log. */
export interface DtmfHost {
  post(msg: FromWorker): void;
  log(level: WorkerLogLevel, msg: string, id?: string): void;
  /** The endpoint's RFC 4733 generator, made on first use. */
  dtmfSender(ep: RelayEndpoint): DtmfSender;
}

/**
 * A digit received from `ep`'s party, by RFC 4733 or SIP INFO: reported, then handled per policy. RFC 4733
 * digits under `pass` were already forwarded packet by packet; INFO digits are generated as RFC 4733.
 * In-band digits (detectInband) are only reported: their tones already went to the peer in the audio,
 * so regenerating or holding them for release would make the far end hear them twice.
 */
export function receivedDigit(host: DtmfHost, ep: RelayEndpoint, digit: string, durationMs: number, source: DtmfSource): void {
  ep.dtmfEvents++;
  host.post({ t: 'dtmf', id: ep.id, digit, durationMs, source });
  if (source === 'inband') return;
  if (ep.policy === 'holdback') ep.held.push({ digit, durationMs });
  else if (ep.policy === 'pass' && source !== 'rfc4733' && ep.peer) generateDtmf(host, ep.peer, digit, durationMs);
}

/** Forward (in order) or drop the held digits; with no peer to forward to they are dropped. */
export function releaseDigits(host: DtmfHost, ep: RelayEndpoint, forward: boolean): void {
  const digits = ep.held.splice(0);
  if (!forward || !ep.peer) return;
  for (const d of digits) generateDtmf(host, ep.peer, d.digit, d.durationMs);
}

export function generateDtmf(host: DtmfHost, target: RelayEndpoint, digit: string, durationMs: number): void {
  if (!target.stream || target.stream.telephoneEventPt < 0) {
    host.log('debug', `DTMF ${digit} dropped: no telephone-event negotiated`, target.id);
    return;
  }
  if (!host.dtmfSender(target).enqueue(digit, durationMs)) host.log('debug', `not a DTMF digit: ${JSON.stringify(digit)}`, target.id);
}
