// Worker-side state of one media endpoint: its sockets, negotiated stream, latching, counters, DTMF state.
import type { Codec, DtmfPolicy, EndpointStats } from '../engine.js';
import type { StreamConfig } from './protocol.js';
import { OutStream } from './out-stream.js';
import type { DtmfReceiver } from './rfc4733.js';
import type { DtmfSender } from './dtmf-sender.js';
import type { PromptPlayer } from './player.js';
import type { InbandDtmfDetector } from './goertzel.js';
import type { WavRecorder } from './recorder.js';
import type { MixInput } from './mix-math.js';
import type { CallSide } from './call-recorder.js';
import type { PacketSource, RtpSocket } from './rtp-socket.js';

/** What an inbound payload type carries, as a small number for the per-packet lookup table. */
export const Kind = { None: 0, Pcmu: 1, Pcma: 2, TelephoneEvent: 3 } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export function kindOf(k: Codec | 'telephone-event'): Kind {
  return k === 'PCMU' ? Kind.Pcmu : k === 'PCMA' ? Kind.Pcma : Kind.TelephoneEvent;
}

/** Distinct payload-type tables kept for sharing; a few serve every endpoint (the offers phones make). */
const MAX_SHARED_TABLES = 256;
const sharedTables = new Map<string, Uint8Array>();

/**
 * The payload type → Kind table for these pairs (later pairs win), shared by every endpoint with the same
 * pairs and never written to: a table of its own was ~300 B of each endpoint held (issue #13 goal 5).
 */
export function inboundTable(pairs: ReadonlyArray<readonly [number, Kind]>): Uint8Array {
  let key = '';
  for (const [pt, kind] of pairs) key += `${pt}:${kind},`;
  const known = sharedTables.get(key);
  if (known) return known;
  const table = new Uint8Array(128);
  for (const [pt, kind] of pairs) if (pt >= 0 && pt < 128) table[pt] = kind;
  if (sharedTables.size < MAX_SHARED_TABLES) sharedTables.set(key, table);
  return table;
}

/** The pairs a table holds (for a copy sent to another worker). */
export function tablePairs(table: Uint8Array): [number, Kind][] {
  const pairs: [number, Kind][] = [];
  table.forEach((kind, pt) => {
    if (kind !== Kind.None) pairs.push([pt, kind as Kind]);
  });
  return pairs;
}

/** Until the first configure, the static G.711 types are understood (RFC 3551). */
const STATIC_G711: ReadonlyArray<readonly [number, Kind]> = [
  [0, Kind.Pcmu],
  [8, Kind.Pcma],
];

/** Where the sequence numbers of one inbound SSRC have got to, for the loss counter. */
const MAX_GAP = 3000;

export class RelayEndpoint {
  readonly out = new OutStream();
  stream: StreamConfig | null = null;
  /** Payload type → Kind, read per packet; shared between endpoints (inboundTable), so replaced, never written. */
  inbound: Uint8Array = inboundTable(STATIC_G711);
  /** The SDP remote in the socket's address family (IPv4 behind ::ffff: on an IPv6 socket). */
  sdpAddress: string | null = null;
  sdpPort = 0;
  latchedAddress: string | null = null;
  latchedPort = 0;
  /** The latched address as the native I/O gives it (PacketSource words), compared per packet. */
  private latchedW0 = 0;
  private latchedW1 = 0;
  private latchedW2 = 0;
  private latchedW3 = 0;
  latchedLastAt = 0;
  peer: RelayEndpoint | null = null;
  policy: DtmfPolicy = 'pass';
  /**
   * What generates RFC 4733 digits toward this leg, made for the first digit (relay-dtmf.ts): most
   * calls never send one, and a sender with its event object and callbacks was ~300 B per endpoint.
   */
  dtmfSender: DtmfSender | null = null;
  /** What reads this leg's RFC 4733 events, made on the first telephone-event packet (relay.ts). */
  dtmfReceiver: DtmfReceiver | null = null;
  readonly held: { digit: string; durationMs: number }[] = [];
  /** Set while the leg negotiated no telephone-event: its DTMF can only arrive as tones in the audio. */
  inbandDtmf: InbandDtmfDetector | null = null;
  /** `moved`: stopped because the endpoint went to another worker, where the prompt goes on (no play-done here). */
  player: { playId: number; player: PromptPlayer; moved?: boolean } | null = null;
  /** What the party says is being written to a file (voicemail). */
  recorder: { recId: number; recorder: WavRecorder } | null = null;
  /** Set while the endpoint is in a mix: its audio and prompts go to the mix's tick, not to a peer. */
  mix: MixInput | null = null;
  /** What the party says also goes to this side of a call recording. */
  callTap: CallSide | null = null;
  // Counters (EndpointStats).
  packetsIn = 0;
  packetsOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  lost = 0;
  lastPacketAt = -1;
  dtmfEvents = 0;
  // Loss tracking over the current inbound SSRC (read and set only here and by relay-move.ts).
  lossSsrc = -1;
  highestSequence = 0;
  // RTP inactivity.
  armedAt = 0;
  timedOut = false;
  sendErrors = 0;

  constructor(
    readonly id: string,
    readonly label: string,
    /** Names this endpoint as a feed of its peer's OutStream. */
    readonly source: number,
    /** Names this endpoint's generated DTMF as a feed of its own OutStream. */
    readonly dtmfSource: number,
    readonly port: number,
    readonly rtp: RtpSocket,
    readonly rtcp: RtpSocket,
  ) {}

  get sendsIpv6(): boolean {
    return this.rtp.ipv6;
  }

  /** Whether a datagram from `source` comes from the latched source (false while none is latched). */
  fromLatched(source: PacketSource): boolean {
    if (this.latchedAddress === null || source.port !== this.latchedPort) return false;
    if (source.address !== null) return source.address === this.latchedAddress;
    return source.w0 === this.latchedW0 && source.w1 === this.latchedW1 && source.w2 === this.latchedW2 && source.w3 === this.latchedW3;
  }

  /** Latches to `source` (its address formatted once, here, not per packet). */
  latchTo(source: PacketSource): void {
    this.latchedAddress = source.address ?? source.text();
    this.latchedPort = source.port;
    this.latchedW0 = source.w0;
    this.latchedW1 = source.w1;
    this.latchedW2 = source.w2;
    this.latchedW3 = source.w3;
  }

  /** Forgets the latched source (a new SDP remote may be another device): the next packet latches again. */
  unlatch(): void {
    this.restoreLatch(null, 0, [0, 0, 0, 0]);
    this.disconnect();
  }

  /** The latched address's words, for a move to another worker (relay-move.ts). */
  latchWords(): [number, number, number, number] {
    return [this.latchedW0, this.latchedW1, this.latchedW2, this.latchedW3];
  }

  /** The latch the endpoint had on the worker it moved from (relay-move.ts). */
  restoreLatch(address: string | null, port: number, [w0, w1, w2, w3]: [number, number, number, number]): void {
    this.latchedAddress = address;
    this.latchedPort = port;
    this.latchedW0 = w0;
    this.latchedW1 = w1;
    this.latchedW2 = w2;
    this.latchedW3 = w3;
  }

  /** Whether we may send to the leg now and know where to. */
  get canSend(): boolean {
    return this.stream !== null && this.stream.send && (this.latchedAddress !== null || this.sdpAddress !== null);
  }

  /** Whether generated or bridged audio is replaced right now by a prompt or by generated DTMF. */
  get busyWithOwnMedia(): boolean {
    return this.player !== null || this.dtmfSender?.active === true;
  }

  /**
   * Whether `rtp` is connected to the latched source. A connected UDP socket sends without Node resolving
   * and checking the address for every packet (the relay's costliest per-packet step after the syscall),
   * but the kernel then delivers it only datagrams from that source (connect(2), udp(7)); so it is connected
   * only to a latched source, never to the SDP remote (behind NAT the packets come from elsewhere), and
   * the relay disconnects it once that source has been silent long enough that another may take over.
   */
  connected = false;

  send(buf: Uint8Array, length = buf.length): void {
    if (this.connected) {
      this.packetsOut++;
      this.bytesOut += length;
      this.rtp.send(buf, length, 0, null);
      return;
    }
    const address = this.latchedAddress ?? this.sdpAddress;
    if (address === null) return;
    const port = this.latchedAddress !== null ? this.latchedPort : this.sdpPort;
    this.packetsOut++;
    this.bytesOut += length;
    this.rtp.send(buf, length, port, address);
  }

  /**
   * Connects `rtp` to the latched source; if that fails, sends keep naming the address and nothing else
   * changes.
   */
  connectToLatched(): void {
    if (this.connected || this.latchedAddress === null || this.latchedPort <= 0) return;
    if (this.rtp.connect(this.latchedPort, this.latchedAddress)) this.connected = true;
    else this.disconnect();
  }

  /** Lets datagrams from any source reach the relay again (for re-latching); a no-op when not connected. */
  disconnect(): void {
    if (this.connected) this.rtp.disconnect();
    this.connected = false;
  }

  /** RFC 3550 Appendix A.1-style accounting: a forward jump of n counts n - 1 lost, a late packet one less. */
  countSequence(ssrc: number, sequence: number): void {
    if (ssrc !== this.lossSsrc) {
      this.lossSsrc = ssrc;
      this.highestSequence = sequence;
      return;
    }
    const delta = (sequence - this.highestSequence) & 0xffff;
    if (delta === 0) return;
    if (delta < 0x8000) {
      // A huge jump is a restarted sender, not loss.
      if (delta <= MAX_GAP) this.lost += delta - 1;
      this.highestSequence = sequence;
    } else if (this.lost > 0) {
      this.lost--;
    }
  }

  stats(): EndpointStats {
    const latched = this.latchedAddress !== null;
    const address = latched ? this.latchedAddress : (this.stream?.remote?.address ?? null);
    const port = latched ? this.latchedPort : (this.stream?.remote?.port ?? 0);
    return {
      packetsIn: this.packetsIn,
      packetsOut: this.packetsOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      lost: this.lost,
      remote: address === null ? null : { address: address.startsWith('::ffff:') ? address.slice(7) : address, port },
      latched,
      lastPacketAt: this.lastPacketAt < 0 ? null : Math.round(performance.timeOrigin + this.lastPacketAt),
      dtmfEvents: this.dtmfEvents,
    };
  }
}
