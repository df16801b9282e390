// An endpoint's state as it moves between media workers (placement.ts says why it moves): what the old
// worker snapshots before it closes the sockets, and what the new one restores on the sockets it bound to
// the same port. Latching, the outbound SSRC/sequence/timestamp, counters, DTMF policy and held digits, and
// a prompt in progress all go on; a telephone-event being generated or received at that instant is cut.
import { inboundTable, tablePairs, type RelayEndpoint } from './endpoint.js';
import { InbandDtmfDetector } from './goertzel.js';
import type { EndpointSnapshot, FromWorker } from './protocol.js';
import type { RtpIo, RtpSocket } from './rtp-socket.js';

/** performance.now() of this thread to the wall clock, and back (-1 stays "never"). */
const toWall = (t: number): number => (t < 0 ? -1 : performance.timeOrigin + t);
const fromWall = (t: number): number => (t < 0 ? -1 : t - performance.timeOrigin);

export function snapshotEndpoint(ep: RelayEndpoint): EndpointSnapshot {
  const p = ep.player;
  return {
    id: ep.id,
    label: ep.label,
    port: ep.port,
    stream: ep.stream,
    inbound: ep.inbound.slice(),
    sdpAddress: ep.sdpAddress,
    sdpPort: ep.sdpPort,
    latchedAddress: ep.latchedAddress,
    latchedPort: ep.latchedPort,
    latchedWords: ep.latchWords(),
    latchedLastAt: toWall(ep.latchedLastAt),
    policy: ep.policy,
    held: ep.held.slice(),
    out: ep.out.state(),
    counters: {
      packetsIn: ep.packetsIn,
      packetsOut: ep.packetsOut,
      bytesIn: ep.bytesIn,
      bytesOut: ep.bytesOut,
      lost: ep.lost,
      lastPacketAt: toWall(ep.lastPacketAt),
      dtmfEvents: ep.dtmfEvents,
      sendErrors: ep.sendErrors,
    },
    loss: { ssrc: ep.lossSsrc, highest: ep.highestSequence },
    armedAt: toWall(ep.armedAt),
    timedOut: ep.timedOut,
    player: p ? { playId: p.playId, audio: p.player.audio, codec: p.player.codec, loop: p.player.loop, frame: p.player.nextFrame } : null,
  };
}

/** Onto a fresh endpoint of the same id and port (its sockets bound, nothing received yet). */
export function restoreEndpoint(ep: RelayEndpoint, s: EndpointSnapshot): RelayEndpoint {
  ep.stream = s.stream;
  ep.inbound = inboundTable(tablePairs(s.inbound));
  ep.sdpAddress = s.sdpAddress;
  ep.sdpPort = s.sdpPort;
  ep.restoreLatch(s.latchedAddress, s.latchedPort, s.latchedWords);
  ep.latchedLastAt = fromWall(s.latchedLastAt);
  ep.policy = s.policy;
  ep.held.push(...s.held);
  ep.out.restore(s.out);
  const c = s.counters;
  ep.packetsIn = c.packetsIn;
  ep.packetsOut = c.packetsOut;
  ep.bytesIn = c.bytesIn;
  ep.bytesOut = c.bytesOut;
  ep.lost = c.lost;
  ep.lastPacketAt = fromWall(c.lastPacketAt);
  ep.dtmfEvents = c.dtmfEvents;
  ep.sendErrors = c.sendErrors;
  ep.lossSsrc = s.loss.ssrc;
  ep.highestSequence = s.loss.highest;
  ep.armedAt = s.armedAt < 0 ? performance.now() : fromWall(s.armedAt);
  ep.timedOut = s.timedOut;
  ep.inbandDtmf = s.stream !== null && s.stream.telephoneEventPt < 0 ? new InbandDtmfDetector() : null;
  if (ep.latchedAddress !== null) ep.connectToLatched();
  return ep;
}

/** The old worker's half: `ep` leaves the relay (forget), its sockets close, then the snapshot goes. */
export async function detachEndpoint(ep: RelayEndpoint | undefined, req: number, post: (msg: FromWorker) => void, forget: (ep: RelayEndpoint) => void): Promise<void> {
  if (!ep) {
    post({ t: 'failed', req, message: 'unknown media endpoint', sipStatus: 500 });
    return;
  }
  try {
    forget(ep);
    const snapshot = snapshotEndpoint(ep);
    if (ep.player) {
      ep.player.moved = true;
      ep.player.player.stop();
    }
    ep.recorder?.recorder.stop('ended');
    ep.dtmfSender?.stop();
    ep.dtmfReceiver?.dispose();
    // Through the RTP I/O in use (native or dgram): closed before the new worker binds the port again.
    ep.rtp.onPacket = null;
    await Promise.all([ep.rtp.close(), ep.rtcp.close()]);
    post({ t: 'detached', req, snapshot });
  } catch (err) {
    post({ t: 'failed', req, message: String(err), sipStatus: 500 });
  }
}

/** The new worker's half: binds the same port again and hands the sockets to `install` (answered 'created'). */
export async function attachEndpoint(
  req: number,
  s: EndpointSnapshot,
  io: RtpIo,
  bindAddress: string,
  post: (msg: FromWorker) => void,
  install: (s: EndpointSnapshot, rtp: RtpSocket, rtcp: RtpSocket) => void,
): Promise<void> {
  try {
    const pair = await bindPair(io, bindAddress, s.port);
    if (!pair) {
      post({ t: 'failed', req, message: `RTP port ${s.port} could not be bound again`, sipStatus: 500 });
      return;
    }
    install(s, pair.rtp, pair.rtcp);
    post({ t: 'created', req, port: s.port });
  } catch (err) {
    post({ t: 'failed', req, message: String(err), sipStatus: 500 });
  }
}

/**
 * An RTP socket on `port` (its datagrams reported) and its RTCP socket on the next (received and dropped: a
 * bound port avoids ICMP errors), through the worker's RTP I/O; null (the one bound closed again) when
 * either cannot bind. Both creating and moving an endpoint open its sockets here.
 */
export async function bindPair(io: RtpIo, bindAddress: string, port: number): Promise<{ rtp: RtpSocket; rtcp: RtpSocket } | null> {
  const rtp = await io.bind(bindAddress, port, true);
  const rtcp = rtp && (await io.bind(bindAddress, port + 1, false));
  if (rtp && rtcp) return { rtp, rtcp };
  await rtp?.close();
  return null;
}
