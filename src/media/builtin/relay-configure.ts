// An endpoint's negotiated stream (after offer/answer) applied in the media worker: which payload types it
// may receive, where to send before anything is latched, and whether DTMF must be listened for in the audio.
import { isIP, isIPv4 } from 'node:net';
import { InbandDtmfDetector } from './goertzel.js';
import { inboundTable, kindOf, type RelayEndpoint } from './endpoint.js';
import type { StreamConfig } from './protocol.js';

const NO_PAIRS = Object.freeze([]) as unknown as StreamConfig['inbound'];

export function configureEndpoint(ep: RelayEndpoint, stream: StreamConfig, now: number, warn: (msg: string, id: string) => void): void {
  ep.inbound = inboundTable(stream.inbound.map(([pt, kind]) => [pt, kindOf(kind)] as const));
  const remote = stream.remote;
  let address: string | null = null;
  if (remote && remote.port > 0 && remote.address !== '0.0.0.0' && remote.address !== '::') {
    const v4 = isIPv4(remote.address);
    // SDP allows a host name in c=; not resolved here: the first packet from the phone gives the address.
    if (isIP(remote.address) === 0) warn(`remote ${remote.address} is not an IP address: sending only after latching`, ep.id);
    else if (ep.sendsIpv6) address = v4 ? `::ffff:${remote.address}` : remote.address;
    else if (v4) address = remote.address;
    else warn(`remote ${remote.address} is IPv6 but RTP sockets are IPv4: not sending`, ep.id);
  }
  const port = address === null ? 0 : remote!.port;
  // A new SDP address is a new remote: forget the latched source (it may be a different device).
  if (address !== ep.sdpAddress || port !== ep.sdpPort) ep.unlatch();
  ep.sdpAddress = address;
  ep.sdpPort = port;
  // The pairs live on in ep.inbound; the list (an array per payload type) is not read again, and the
  // message is this worker's own copy.
  stream.inbound = NO_PAIRS;
  ep.stream = stream;
  ep.inbandDtmf = stream.telephoneEventPt < 0 ? (ep.inbandDtmf ?? new InbandDtmfDetector()) : null;
  ep.armedAt = now;
  ep.timedOut = false;
}
