// Messages between the main thread (BuiltinMediaEngine) and the media worker: small control messages in,
// events and replies out. Nothing here is per packet.
import type { Codec, DtmfPolicy, DtmfSource, EndpointStats, MediaTotals } from '../engine.js';
import type { RecordStopReason } from './recorder.js';

export interface WorkerSettings {
  bindAddress: string;
  rtpPorts: [number, number];
  /** 0 = off. */
  rtpTimeoutMs: number;
  /** How long the latched source must be silent before another source may take over (anti-spoofing). */
  relatchAfterMs: number;
  /** RTP socket I/O (media.udpIo): the native batching addon (falls back to dgram) or node:dgram. */
  udpIo?: 'native' | 'dgram';
}

/** What the worker needs to run an endpoint's stream after offer/answer. */
export interface StreamConfig {
  /** From the remote SDP; null when it gave no usable address (0.0.0.0 hold). */
  remote: { address: string; port: number } | null;
  /** Payload types we may receive and what they carry: 'PCMU' | 'PCMA' | 'telephone-event'. */
  inbound: [number, Codec | 'telephone-event'][];
  codec: Codec;
  payloadType: number;
  /** -1 when the leg negotiated no telephone-event. */
  telephoneEventPt: number;
  /** Our direction allows sending to / receiving from this leg. */
  send: boolean;
  receive: boolean;
  /** The remote is meant to be sending to us now (sendrecv, not holding us): RTP inactivity counts. */
  expectInbound: boolean;
}

/** RTP sequence/timestamp/SSRC mapping of an OutStream (out-stream.ts); times on the wall clock (ms). */
export interface OutStreamState {
  ssrc: number;
  lastSequence: number;
  lastTimestamp: number;
  lastExtent: number;
  lastSentAt: number;
}

/**
 * An endpoint handed from one media worker to another (a join across workers, see placement.ts): all it
 * needs to go on where it was, apart from its sockets, which the new worker binds again on the same port.
 * Times are on the wall clock (ms since the epoch; -1 for never): each thread has its own performance.now().
 */
export interface EndpointSnapshot {
  id: string;
  label: string;
  port: number;
  stream: StreamConfig | null;
  inbound: Uint8Array;
  sdpAddress: string | null;
  sdpPort: number;
  latchedAddress: string | null;
  latchedPort: number;
  /** The latched address as the native I/O compares it (endpoint.ts), so the new worker compares the same way. */
  latchedWords: [number, number, number, number];
  latchedLastAt: number;
  policy: DtmfPolicy;
  held: { digit: string; durationMs: number }[];
  out: OutStreamState;
  counters: { packetsIn: number; packetsOut: number; bytesIn: number; bytesOut: number; lost: number; lastPacketAt: number; dtmfEvents: number; sendErrors: number };
  loss: { ssrc: number; highest: number };
  armedAt: number;
  timedOut: boolean;
  /** A prompt playing: it goes on from this frame. */
  player: { playId: number; audio: Uint8Array; codec: Codec; loop: boolean; frame: number } | null;
}

export type ToWorker =
  | { t: 'init'; settings: WorkerSettings }
  | { t: 'create'; req: number; id: string; label: string }
  | { t: 'configure'; id: string; stream: StreamConfig }
  | { t: 'destroy'; id: string }
  | { t: 'bridge'; a: string; b: string }
  | { t: 'unbridge'; id: string }
  /** `audio`: G.711 bytes in `codec` (the worker transcodes when the leg's codec differs). */
  | { t: 'play'; id: string; playId: number; audio: Uint8Array; codec: Codec; loop: boolean }
  | { t: 'stop-play'; playId: number }
  /** Record the endpoint's inbound audio to `path` (see recorder.ts). */
  | { t: 'record'; id: string; recId: number; path: string; maxSamples: number; maxSilenceMs: number; silenceThreshold: number }
  | { t: 'stop-record'; recId: number }
  /** Record both parties of a call (see call-recorder.ts); ends with a 'record-done' of the same recId. */
  | { t: 'record-call'; recId: number; a: string; b: string; path: string; channels: 1 | 2 }
  | { t: 'retarget-record-call'; recId: number; a: string; b: string }
  | { t: 'pause-record-call'; recId: number; paused: boolean }
  | { t: 'stop-record-call'; recId: number }
  | { t: 'dtmf-policy'; id: string; policy: DtmfPolicy }
  | { t: 'release-dtmf'; id: string; forward: boolean }
  | { t: 'send-dtmf'; id: string; digits: string; durationMs: number }
  | { t: 'inject-dtmf'; id: string; digit: string; durationMs: number }
  | { t: 'stats'; req: number; id: string }
  | { t: 'totals'; req: number }
  /** Mixing (mixer.ts). `volumeDb` is the listener's gain, already clamped to −12…+12. */
  | { t: 'mix-create'; mix: string }
  | { t: 'mix-join'; mix: string; id: string; hears: 'all' | string[]; speaks: boolean; volumeDb: number }
  | { t: 'mix-leave'; mix: string; id: string }
  | { t: 'mix-destroy'; mix: string }
  /** Take the endpoint out of this worker (sockets closed, port kept reserved here): answered by 'detached'. */
  | { t: 'detach'; req: number; id: string }
  /** Go on with an endpoint another worker detached: answered by 'created' (its port) or 'failed'. */
  | { t: 'attach'; req: number; snapshot: EndpointSnapshot }
  /** A port of this worker's range that an endpoint moved elsewhere had: free again. */
  | { t: 'release-port'; port: number }
  | { t: 'shutdown' };

export type WorkerLogLevel = 'debug' | 'info' | 'warn' | 'error';

export type FromWorker =
  | { t: 'ready' }
  | { t: 'created'; req: number; port: number }
  | { t: 'failed'; req: number; message: string; sipStatus: number }
  | { t: 'detached'; req: number; snapshot: EndpointSnapshot }
  | { t: 'stats'; req: number; stats: EndpointStats | null }
  | { t: 'totals'; req: number; totals: MediaTotals }
  | { t: 'dtmf'; id: string; digit: string; durationMs: number; source: DtmfSource }
  | { t: 'rtp-timeout'; id: string }
  | { t: 'play-done'; playId: number; reason: 'completed' | 'stopped' }
  | { t: 'record-done'; recId: number; reason: RecordStopReason; samples: number; error?: string }
  | { t: 'log'; level: WorkerLogLevel; msg: string; id?: string }
  | { t: 'closed' };
