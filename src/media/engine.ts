// The media engine contract (DESIGN.md "The media engine interface"). The PBX layer drives legs' media
// only through this interface; the built-in engine (src/media/builtin/) implements it with RTP sockets in a
// worker thread, and src/media/rtpengine/ puts rtpengine on the wire side of those endpoints (WebRTC). It
// knows nothing of SIP: SDP text in, SDP text out.

export type EndpointId = string;
export type Codec = 'PCMU' | 'PCMA';
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/**
 * What the engine does with DTMF received on an endpoint before forwarding to its bridged peer:
 * - pass: forward at once (as RFC 4733 to the peer, whatever the source format);
 * - suppress: never forward (still reported as 'dtmf' events);
 * - holdback: keep the digits queued (still reported) until releaseDtmf() forwards or drops them.
 */
export type DtmfPolicy = 'pass' | 'suppress' | 'holdback';

export type DtmfSource = 'rfc4733' | 'info' | 'inband';

/** A set of endpoints whose audio is mixed (a conference room, a monitored call). */
export type MixId = string;

export interface MixMember {
  /** Whom this endpoint hears: every other member that speaks ('all'), or only these endpoints (a supervisor hears the agent and the caller; an agent hears the caller and, when whispered to, the supervisor). */
  hears: 'all' | EndpointId[];
  /** Whether what this endpoint's party says goes into the mix (false: muted, or a silent monitor). */
  speaks: boolean;
  /** Gain in dB applied to what this member hears (volume keys), −12…+12, default 0. */
  volumeDb?: number;
}

export interface EndpointOptions {
  /** For logs: the call's Call-ID / leg label. */
  label?: string;
  /** Codecs this endpoint may use, in preference order (default PCMU, PCMA). */
  codecs?: Codec[];
  /**
   * Placement hint: the endpoint this one will be bridged to (a call's A leg for its B leg). An engine with
   * several media workers puts it in that endpoint's worker, so their packets never cross threads.
   */
  near?: EndpointId;
}

/**
 * What the remote party speaks: plain RTP/AVP (desk phones, trunks) or WebRTC (a browser: ICE, DTLS-SRTP,
 * rtcp-mux). Only an engine with `webrtc` true can offer the latter; answers are recognised from the SDP.
 */
export type MediaProfile = 'rtp' | 'webrtc';

export interface OfferOptions {
  direction?: Direction;
  /** Default 'rtp', or what the endpoint already speaks once negotiated. */
  profile?: MediaProfile;
}

/** The negotiated media of an endpoint after offer/answer. */
export interface NegotiatedMedia {
  codec: Codec;
  /** RTP payload type for the codec on this leg. */
  payloadType: number;
  /** telephone-event payload type on this leg, when negotiated. */
  telephoneEventPt?: number;
  remoteAddress: string;
  remotePort: number;
  /** Direction as seen from the remote party (what it said in its SDP). */
  remoteDirection: Direction;
}

export interface EndpointStats {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Packets missing from the received sequence-number space. */
  lost: number;
  /** Where RTP is actually sent: the latched source, or the SDP address before any packet arrived. */
  remote: { address: string; port: number } | null;
  latched: boolean;
  lastPacketAt: number | null;
  dtmfEvents: number;
}

/** Packet counts of the whole engine since it started: every endpoint, those already destroyed included. */
export interface MediaTotals {
  /** RTP packets received. */
  packetsIn: number;
  /** RTP packets sent (relayed, prompts, telephone-events). */
  packetsOut: number;
  /** RTP packets forwarded from one endpoint to the one it is bridged to. */
  relayed: number;
  /** Packets missing from the received sequence-number spaces. */
  lost: number;
  /** Endpoints allocated now. */
  endpoints: number;
  /** RTP sends dropped because the socket's send buffer was full (native UDP I/O only; 0 on node:dgram). */
  sendsDropped: number;
  /** Datagrams received too long for an RTP receive slot, dropped (native UDP I/O only; 0 on node:dgram). */
  truncated: number;
  /** RTP/RTCP socket pairs kept bound, between endpoints, for the next one (two descriptors each). */
  pooledPairs: number;
}

export interface PlayHandle {
  stop(): void;
  /** Resolves when playback ends (completed or stopped). */
  done: Promise<'completed' | 'stopped'>;
}

export interface RecordOptions {
  /** The recording stops by itself at this length (s). */
  maxSeconds: number;
  /** Seconds without sound after which it stops (0 = never); the silent stretch is left out of the file. */
  maxSilenceSeconds?: number;
  /** Mean absolute 16-bit sample value under which a frame counts as silence (default about -40 dBFS). */
  silenceThreshold?: number;
}

/**
 * How a recording ended: stop() was called, it reached maxSeconds, maxSilenceSeconds of silence, the endpoint
 * was destroyed (the party hung up; the file is complete), or the file could not be written.
 */
export type RecordEnd = 'stopped' | 'max-length' | 'silence' | 'ended' | 'failed';

export interface RecordResult {
  reason: RecordEnd;
  /** Length of the audio in the file (ms); 0 when it failed. */
  durationMs: number;
  error?: string;
}

export interface RecordHandle {
  stop(): void;
  /** Resolves once the file is complete on disk (header written), however the recording ended. */
  done: Promise<RecordResult>;
}

/** A two-party call recording (F-CDR recording_path): stereo puts a's party left and b's right; mono sums them. */
export interface CallRecordOptions {
  format: 'stereo' | 'mono';
}

export interface CallRecordHandle {
  /** Record another pair of endpoints into the same file (a transfer or pickup replaced a leg). */
  retarget(a: EndpointId, b: EndpointId): void;
  /** Leave time out of the file (on-demand recording stopped) or write again; the clock keeps both channels aligned. */
  pause(paused: boolean): void;
  stop(): void;
  /** Resolves once the file is complete on disk; durationMs is the audio written (pauses left out). */
  done: Promise<RecordResult>;
}

export class MediaError extends Error {
  constructor(
    message: string,
    /** SIP status that describes the failure to the peer (488: no common codec). */
    readonly sipStatus: number = 500,
    /** Q.850 cause for the call record when the status alone does not say it (41: the media relay is down). */
    readonly q850?: number,
  ) {
    super(message);
  }
}

export interface MediaEngineEvents {
  dtmf: (id: EndpointId, digit: string, durationMs: number, source: DtmfSource) => void;
  'rtp-timeout': (id: EndpointId) => void;
}

export interface MediaEngine {
  /** Whether this engine can offer and answer WebRTC (a browser phone's legs). */
  readonly webrtc: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;

  /** Allocate an RTP/RTCP port pair. */
  createEndpoint(opts?: EndpointOptions): Promise<EndpointId>;
  /** Our SDP offer for this endpoint (also for re-offers; o= version increments on change). */
  createOffer(id: EndpointId, opts?: OfferOptions): Promise<string>;
  /**
   * Apply the remote answer to our offer. Throws MediaError(488) when it is unusable. `provisional`: early
   * media (a 183); the final answer may still come from another device (a fork) in another profile.
   */
  acceptAnswer(id: EndpointId, answerSdp: string, opts?: { provisional?: boolean }): Promise<NegotiatedMedia>;
  /** Answer a remote offer. Throws MediaError(488) when no G.711 codec is in common. */
  answerOffer(id: EndpointId, offerSdp: string, opts?: OfferOptions): Promise<{ sdp: string; media: NegotiatedMedia }>;
  /**
   * Whether answerOffer would accept this offer, without touching the endpoint: throws the MediaError it
   * would throw (400 malformed, 488 unusable). Lets a B2BUA refuse an offer before relaying it onwards.
   */
  checkOffer(id: EndpointId, offerSdp: string): Promise<void>;
  negotiated(id: EndpointId): NegotiatedMedia | undefined;

  /** Audio both ways between two endpoints (payload types remapped, SSRC/seq/ts continuous per leg). */
  bridge(a: EndpointId, b: EndpointId): void;
  unbridge(id: EndpointId): void;

  // Mixing: each member hears the saturating sum of the members it hears that speak (never itself), plus any
  // prompt played to it, encoded for its own codec. Telephone-events are never mixed; 'dtmf' events keep
  // coming for members (a conference reads its keypad controls from them).
  /** A new, empty mix (a conference room, a monitored call). */
  createMix(): MixId;
  /** Put an endpoint into a mix, or change its membership. An endpoint is in at most one mix, and a mixed endpoint is not bridged (joining unbridges it; bridge() takes it out of its mix). */
  joinMix(mix: MixId, id: EndpointId, member: MixMember): void;
  leaveMix(mix: MixId, id: EndpointId): void;
  /** Ends the mix; its members stay allocated, unbridged and silent. */
  destroyMix(mix: MixId): void;

  /** Play 8 kHz mono 16-bit WAV files in order, encoded to the endpoint's codec, paced at 20 ms. */
  play(id: EndpointId, files: string[], opts?: { loop?: boolean }): PlayHandle;
  /**
   * Record what the endpoint's party sends (its inbound audio) to `path` as an 8 kHz mono 16-bit PCM WAV.
   * The folder must exist. One recording per endpoint: a new one stops the previous.
   */
  record(id: EndpointId, path: string, opts: RecordOptions): RecordHandle;
  /**
   * Record what both parties of a call say to `path` as an 8 kHz 16-bit PCM WAV (2 channels: a's inbound
   * audio left, b's right; or 1 channel, the two summed with saturation), written on a 20 ms clock so the
   * channels stay aligned (silence where a side sent nothing). The folder must exist. It goes on across
   * endpoints being destroyed (a side is then silent) until stop() or retarget().
   */
  recordCall(a: EndpointId, b: EndpointId, path: string, opts: CallRecordOptions): CallRecordHandle;
  /** Send digits to the endpoint's remote party as RFC 4733 telephone-events. */
  sendDtmf(id: EndpointId, digits: string, opts?: { durationMs?: number }): void;
  /** A digit that arrived by signalling (SIP INFO) for this endpoint: treated exactly like RFC 4733 input. */
  injectDtmf(id: EndpointId, digit: string, durationMs: number): void;
  setDtmfPolicy(id: EndpointId, policy: DtmfPolicy): void;
  /** For holdback: forward (in order) or drop the digits held so far. */
  releaseDtmf(id: EndpointId, forward: boolean): void;

  stats(id: EndpointId): Promise<EndpointStats>;
  /** The engine's packet counts since it started (/metrics). */
  totals(): Promise<MediaTotals>;
  destroy(id: EndpointId): void;

  on<E extends keyof MediaEngineEvents>(event: E, listener: MediaEngineEvents[E]): this;
  off<E extends keyof MediaEngineEvents>(event: E, listener: MediaEngineEvents[E]): this;
}
