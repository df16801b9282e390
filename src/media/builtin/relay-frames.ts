// The packets the media worker makes itself for a party (not relayed ones): a prompt's audio frames and
// generated RFC 4733 telephone-events, numbered in the endpoint's outbound stream. Split from relay.ts.
import type { Codec } from '../engine.js';
import type { RelayEndpoint } from './endpoint.js';
import { transcodeInPlace, transcodeTable } from './g711.js';
import { FRAME_SAMPLES } from './player.js';
import { TELEPHONE_EVENT_LENGTH, writeTelephoneEvent, type TelephoneEvent } from './rfc4733.js';
import { buildRtp, setPayloadType } from './rtp.js';

const now = (): number => performance.now();

/** A telephone-event packet the endpoint's DTMF sender generated, sent to its party in the endpoint's SSRC space. */
export function sendTelephoneEvent(ep: RelayEndpoint, ev: TelephoneEvent, marker: boolean, sequence: number, timestamp: number): void {
  if (!ep.canSend || ep.stream!.telephoneEventPt < 0) return;
  const pt = ep.stream!.telephoneEventPt;
  const pkt = buildRtp(pt, marker, sequence, timestamp, 0, TELEPHONE_EVENT_LENGTH);
  writeTelephoneEvent(pkt, 12, ev);
  ep.out.rewrite(pkt, ep.dtmfSource, 0, ev.duration, now());
  ep.send(pkt);
}

/** Prompt frame n: timestamp n × 160, marker on the first; generated DTMF takes precedence over it. */
export function sendPromptFrame(ep: RelayEndpoint, source: number, payload: Uint8Array, codec: Codec, n: number): void {
  if (!ep.canSend || ep.dtmfSender?.active === true) return;
  const stream = ep.stream!;
  const pkt = buildRtp(stream.payloadType, false, n & 0xffff, (n * FRAME_SAMPLES) >>> 0, 0, payload.length);
  pkt.set(payload, 12);
  const tbl = transcodeTable(codec, stream.codec);
  if (tbl) transcodeInPlace(pkt, 12, payload.length, tbl);
  const switched = ep.out.rewrite(pkt, source, 0, 0, now());
  setPayloadType(pkt, stream.payloadType, n === 0 || switched);
  ep.send(pkt);
}
