// The media side of the end-to-end test UA: one UDP socket per call that sends and receives real RTP.
// It is written independently of src/media/ on purpose, so hibiki's media engine is checked against a
// second implementation: minimal SDP offer/answer for one audio stream (RFC 4566, RFC 3264), G.711
// "test tone" frames whose payload carries a sender seed and a counter (integrity and order can be
// checked at the far end), RFC 4733 telephone-events, and a record of every datagram received.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { alawEncode, sine, ulawEncode } from './audio.js';

export type Codec = 'PCMU' | 'PCMA';
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** RFC 3551 static payload types. */
const STATIC_PAYLOAD_TYPES: Record<Codec, number> = { PCMU: 0, PCMA: 8 };
const SAMPLES_PER_FRAME = 160; // 20 ms at 8000 Hz
const FRAME_MS = 20;
const FRAME_BYTES = 160; // one G.711 byte per sample
/** RFC 4733 §3.2: events 0–9, *, #, A–D are 0–15. */
const DTMF_EVENTS = '0123456789*#ABCD';
/** RFC 4733 §2.5.1.4: the final packet of an event is sent three times. */
const END_PACKET_COPIES = 3;
const DEFAULT_DTMF_VOLUME = 10;
const TONE_MAGIC = [0x48, 0x42]; // "HB"

// ---------------------------------------------------------------------------------------------
// Bounded waiting

/** Wakes waiters when the state they watch may have changed; every wait has a deadline. */
export class ChangeSignal {
  private waiters = new Set<() => void>();

  notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves with the first defined value `check` returns (checked now and on every notify). */
  waitFor<T>(check: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let first: T | undefined;
      try {
        first = check();
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (first !== undefined) {
        resolve(first);
        return;
      }
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = (): void => {
        try {
          const value = check();
          if (value === undefined) return;
          finish();
          resolve(value);
        } catch (err) {
          finish();
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// SDP (only what one G.711 audio stream with telephone-event needs)

export interface SdpAudio {
  /** Connection address (c=) for the audio stream, media level over session level. */
  address: string;
  port: number;
  /** Payload types in m= line order (the sender's preference). */
  payloadTypes: number[];
  /** Encoding name (upper case) per payload type, from a=rtpmap or the static table. */
  encodings: Map<number, string>;
  telephoneEventPt?: number;
  direction: Direction;
  originVersion?: number;
}

const DIRECTIONS = new Set<string>(['sendrecv', 'sendonly', 'recvonly', 'inactive']);
const STATIC_ENCODINGS = new Map<number, string>([
  [0, 'PCMU'],
  [8, 'PCMA'],
]);

/** The first audio stream of an SDP body, or undefined when there is none or it is malformed. */
export function parseSdp(text: string): SdpAudio | undefined {
  let sessionAddress: string | undefined;
  let sessionDirection: Direction = 'sendrecv';
  let originVersion: number | undefined;
  let media: { address?: string; port: number; payloadTypes: number[]; direction?: Direction } | undefined;
  const rtpmap = new Map<number, string>();
  let inAudio = false;
  let seenAudio = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.length < 2 || line[1] !== '=') continue;
    const type = line[0];
    const value = line.slice(2);
    if (type === 'm') {
      if (seenAudio) {
        inAudio = false;
        continue;
      }
      const m = /^audio\s+(\d+)(?:\/\d+)?\s+\S+\s*(.*)$/.exec(value);
      if (!m) continue;
      const payloadTypes = (m[2] ?? '')
        .split(/\s+/)
        .filter((t) => /^\d+$/.test(t))
        .map(Number);
      media = { port: Number(m[1]), payloadTypes };
      inAudio = true;
      seenAudio = true;
      continue;
    }
    if (seenAudio && !inAudio) continue;
    if (type === 'o') {
      const parts = value.split(/\s+/);
      const v = Number(parts[2]);
      if (Number.isFinite(v)) originVersion = v;
    } else if (type === 'c') {
      const m = /^IN\s+IP[46]\s+([^\s/]+)/.exec(value);
      if (!m) continue;
      if (inAudio && media) media.address = m[1];
      else sessionAddress = m[1];
    } else if (type === 'a') {
      if (DIRECTIONS.has(value)) {
        if (inAudio && media) media.direction = value as Direction;
        else sessionDirection = value as Direction;
        continue;
      }
      const m = /^rtpmap:(\d+)\s+([^/\s]+)\//.exec(value);
      if (m && inAudio) rtpmap.set(Number(m[1]), (m[2] as string).toUpperCase());
    }
  }
  if (!media) return undefined;
  const address = media.address ?? sessionAddress;
  if (address === undefined) return undefined;
  const encodings = new Map<number, string>();
  for (const pt of media.payloadTypes) {
    const name = rtpmap.get(pt) ?? STATIC_ENCODINGS.get(pt);
    if (name) encodings.set(pt, name);
  }
  const telephoneEventPt = media.payloadTypes.find((pt) => encodings.get(pt) === 'TELEPHONE-EVENT');
  return {
    address,
    port: media.port,
    payloadTypes: media.payloadTypes,
    encodings,
    telephoneEventPt,
    direction: media.direction ?? sessionDirection,
    originVersion,
  };
}

/** The stream direction of an SDP body (sendrecv when absent), or undefined when it has no audio. */
export function sdpDirection(text: string | Buffer): Direction | undefined {
  return parseSdp(typeof text === 'string' ? text : text.toString('utf8'))?.direction;
}

function codecOf(sdp: SdpAudio, pt: number): Codec | undefined {
  const name = sdp.encodings.get(pt);
  return name === 'PCMU' || name === 'PCMA' ? name : undefined;
}

/** RFC 3264 §6.1: the answerer's direction for an offered direction and what it wants itself. */
function answerDirection(offered: Direction, wanted: Direction): Direction {
  const wantSend = wanted === 'sendrecv' || wanted === 'sendonly';
  const wantRecv = wanted === 'sendrecv' || wanted === 'recvonly';
  const mayRecv = offered === 'sendrecv' || offered === 'sendonly';
  const maySend = offered === 'sendrecv' || offered === 'recvonly';
  const send = wantSend && maySend;
  const recv = wantRecv && mayRecv;
  return send && recv ? 'sendrecv' : send ? 'sendonly' : recv ? 'recvonly' : 'inactive';
}

// ---------------------------------------------------------------------------------------------
// Payloads

/**
 * A 20 ms G.711 frame that identifies its sender and position: "HB", seed (u32), counter (u32),
 * then bytes derived from both, so a damaged or foreign payload does not pass readToneFrame.
 */
export function toneFrame(seed: number, counter: number): Buffer {
  const buf = Buffer.alloc(FRAME_BYTES);
  buf[0] = TONE_MAGIC[0] as number;
  buf[1] = TONE_MAGIC[1] as number;
  buf.writeUInt32BE(seed >>> 0, 2);
  buf.writeUInt32BE(counter >>> 0, 6);
  for (let i = 10; i < FRAME_BYTES; i++) buf[i] = patternByte(seed, counter, i);
  return buf;
}

function patternByte(seed: number, counter: number, i: number): number {
  return (seed * 31 + counter * 7 + i * 13) & 0xff;
}

/** The seed and counter of a test-tone frame, or undefined when the payload is anything else. */
export function readToneFrame(payload: Buffer): { seed: number; counter: number } | undefined {
  if (payload.length !== FRAME_BYTES || payload[0] !== TONE_MAGIC[0] || payload[1] !== TONE_MAGIC[1]) return undefined;
  const seed = payload.readUInt32BE(2);
  const counter = payload.readUInt32BE(6);
  for (let i = 10; i < FRAME_BYTES; i++) if (payload[i] !== patternByte(seed, counter, i)) return undefined;
  return { seed, counter };
}

export interface TelephoneEvent {
  event: number;
  /** The event as a DTMF character (undefined for events above 15). */
  digit: string | undefined;
  end: boolean;
  volume: number;
  /** In timestamp units (1/8000 s). */
  duration: number;
  /** RTP timestamp: the start of the event (RFC 4733 §2.5.1.2). */
  ts: number;
  seq: number;
  ssrc: number;
  marker: boolean;
}

/** RFC 4733 §2.3 payload: event (8) | E R volume(6) | duration (16). */
export function parseTelephoneEvent(payload: Buffer): { event: number; end: boolean; volume: number; duration: number } | undefined {
  if (payload.length < 4) return undefined;
  const event = payload[0] as number;
  const flags = payload[1] as number;
  return { event, end: (flags & 0x80) !== 0, volume: flags & 0x3f, duration: payload.readUInt16BE(2) };
}

function telephoneEventPayload(event: number, end: boolean, duration: number): Buffer {
  const buf = Buffer.alloc(4);
  buf[0] = event;
  buf[1] = (end ? 0x80 : 0) | DEFAULT_DTMF_VOLUME;
  buf.writeUInt16BE(duration, 2);
  return buf;
}

export interface RtpHeader {
  payloadType: number;
  marker: boolean;
  seq: number;
  timestamp: number;
  ssrc: number;
}

/** RFC 3550 §5.1 fixed header (+ CSRCs, extension and padding skipped); undefined when not RTP. */
export function parseRtp(data: Buffer): { header: RtpHeader; payload: Buffer } | undefined {
  if (data.length < 12) return undefined;
  const b0 = data[0] as number;
  const b1 = data[1] as number;
  if (b0 >> 6 !== 2) return undefined;
  let offset = 12 + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    if (offset + 4 > data.length) return undefined;
    offset += 4 + data.readUInt16BE(offset + 2) * 4;
  }
  let end = data.length;
  if (b0 & 0x20) end -= data[data.length - 1] as number;
  if (offset > end) return undefined;
  return {
    header: { payloadType: b1 & 0x7f, marker: (b1 & 0x80) !== 0, seq: data.readUInt16BE(2), timestamp: data.readUInt32BE(4), ssrc: data.readUInt32BE(8) },
    payload: Buffer.from(data.subarray(offset, end)),
  };
}

function buildRtp(h: RtpHeader, payload: Buffer): Buffer {
  const buf = Buffer.alloc(12 + payload.length);
  buf[0] = 0x80;
  buf[1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  buf.writeUInt16BE(h.seq & 0xffff, 2);
  buf.writeUInt32BE(h.timestamp >>> 0, 4);
  buf.writeUInt32BE(h.ssrc >>> 0, 8);
  payload.copy(buf, 12);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// The peer

export interface RtpPeerOptions {
  /** Local address to bind (default 127.0.0.1). */
  host?: string;
  /** Codecs offered or accepted, in preference order (default PCMU, PCMA). */
  codecs?: Codec[];
  /** Offer/accept telephone-event (default true). */
  telephoneEvent?: boolean;
  /** Payload type for telephone-event in our offers (default 101). */
  telephoneEventPt?: number;
  /** Seed written into test-tone frames (default random). */
  toneSeed?: number;
  /** How many received packets are kept in `packets` (counters go on regardless; default 20000). */
  maxRecordedPackets?: number;
}

/** What was negotiated for sending to the far end. */
export interface RemoteMedia {
  address: string;
  port: number;
  codec: Codec;
  /** Payload type for the codec as the far end declared it (we send with it). */
  payloadType: number;
  /** The far end's telephone-event payload type, when both sides do RFC 4733. */
  telephoneEventPt: number | undefined;
  /** The direction the far end declared. */
  direction: Direction;
}

export interface ReceivedPacket extends RtpHeader {
  payload: Buffer;
  /** "address:port" it came from. */
  from: string;
  at: number;
}

export interface RtpReceived {
  /** RTP packets of any kind. */
  packets: number;
  /** Packets that are not telephone-events on our declared payload type. */
  audioPackets: number;
  eventPackets: number;
  /** Datagrams that were not RTP. */
  invalid: number;
  payloadTypes: Set<number>;
  ssrcs: Set<number>;
  sources: Set<string>;
  telephoneEvents: TelephoneEvent[];
  /** One character per distinct event (SSRC + timestamp), in order of arrival. */
  digits(): string;
  /** The last (up to 20) audio payloads, oldest first. */
  lastPayloads: Buffer[];
  tone: {
    /** Audio payloads that are intact test-tone frames. */
    intact: number;
    /** Audio payloads that are not test-tone frames (prompts, ringback, silence, or damage). */
    foreign: number;
    /** Tone frames whose counter did not increase over the last one from the same seed. */
    outOfOrder: number;
    seeds: Set<number>;
  };
}

export interface RtpSent {
  packets: number;
  audioPackets: number;
  eventPackets: number;
  /** Frames not sent because the negotiated direction forbade sending (held). */
  withheld: number;
  ssrc: number;
}

interface QueuedDigit {
  event: number;
  frames: number;
  gapFrames: number;
  done: () => void;
}

interface ActiveDigit extends QueuedDigit {
  ts: number;
  sent: number;
  ends: number;
  gapLeft: number;
}

const LAST_PAYLOADS = 20;

export class RtpPeer {
  readonly address: string;
  readonly port: number;
  readonly ssrc = randomInt(1, 0xffffffff);
  /** Seed written into our test-tone frames (the far end sees it in received().tone.seeds). */
  toneSeed: number;
  /** Received packets (up to maxRecordedPackets). */
  readonly packets: ReceivedPacket[] = [];
  readonly changed = new ChangeSignal();
  /** Our direction as last offered/answered and accepted. */
  localDirection: Direction = 'sendrecv';
  remote: RemoteMedia | undefined;
  localSdp: string | undefined;

  private readonly codecs: Codec[];
  private readonly telephoneEvent: boolean;
  private readonly maxRecorded: number;
  /** The telephone-event payload type we declared: events arrive on it. */
  private localEventPt: number | undefined;
  /** The telephone-event payload type we put in our own offers. */
  private readonly offerEventPt: number | undefined;
  private pendingOffer: { direction: Direction } | undefined;
  private readonly sessionId = randomInt(1, 2 ** 47);
  private sdpVersion = randomInt(1, 1000);
  private closed = false;

  // sending
  private readonly epoch = Date.now();
  private lastFrame = -1;
  /** Wall time of the next paced send; undefined while idle. */
  private nextDue: number | undefined;
  /** The next tick starts a new run: its timestamp follows the wall clock, not the last frame. */
  private resuming = true;
  private readonly tsBase = randomInt(0, 2 ** 31);
  private seq = randomInt(0, 0x8000);
  private toneCounter = 0;
  private toneOn = false;
  /** While set, audio frames carry a real sine (for tests that analyse the audio) instead of test-tone frames. */
  private sineTone: { hz: number; amplitude: number; sample: number } | undefined;
  private burst: Array<{ remaining: number; done: () => void }> = [];
  private digits: QueuedDigit[] = [];
  private activeDigit: ActiveDigit | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastAudioFrame = -2;
  private readonly sentCounts = { packets: 0, audioPackets: 0, eventPackets: 0, withheld: 0 };

  // receiving
  private counts = { packets: 0, audioPackets: 0, eventPackets: 0, invalid: 0 };
  private readonly payloadTypes = new Set<number>();
  private readonly ssrcs = new Set<number>();
  private readonly sources = new Set<string>();
  private readonly events: TelephoneEvent[] = [];
  private readonly eventKeys = new Set<string>();
  private digitText = '';
  private readonly lastPayloads: Buffer[] = [];
  private readonly tone = { intact: 0, foreign: 0, outOfOrder: 0, seeds: new Set<number>() };
  private readonly lastCounterBySeed = new Map<number, number>();

  private constructor(
    private readonly socket: Socket,
    opts: RtpPeerOptions,
  ) {
    const addr = socket.address();
    this.address = addr.address;
    this.port = addr.port;
    this.codecs = opts.codecs && opts.codecs.length > 0 ? [...opts.codecs] : ['PCMU', 'PCMA'];
    this.telephoneEvent = opts.telephoneEvent ?? true;
    this.offerEventPt = this.telephoneEvent ? (opts.telephoneEventPt ?? 101) : undefined;
    this.localEventPt = this.offerEventPt;
    this.toneSeed = opts.toneSeed ?? randomInt(1, 0xffffffff);
    this.maxRecorded = opts.maxRecordedPackets ?? 20000;
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    // A stray ICMP error or send failure must not crash the test process.
    socket.on('error', () => undefined);
  }

  static async open(opts: RtpPeerOptions = {}): Promise<RtpPeer> {
    const host = opts.host ?? '127.0.0.1';
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new RtpPeer(socket, opts);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The telephone-event payload type we declared (events must arrive on it). */
  get telephoneEventPt(): number | undefined {
    return this.localEventPt;
  }

  // ---- offer/answer ------------------------------------------------------------------------

  /** An SDP offer; the direction takes effect when the answer is applied. */
  createOffer(direction: Direction = 'sendrecv'): string {
    this.pendingOffer = { direction };
    this.localEventPt ??= this.offerEventPt;
    const formats = this.codecs.map((codec) => ({ pt: STATIC_PAYLOAD_TYPES[codec], codec }));
    this.localSdp = this.buildSdp(formats, this.localEventPt, direction);
    return this.localSdp;
  }

  /** Apply the far end's answer to our last offer; false when it is unusable (no common codec). */
  applyAnswer(answerSdp: string): boolean {
    const answer = parseSdp(answerSdp);
    const offered = this.pendingOffer?.direction ?? this.localDirection;
    if (!answer) return false;
    const pt = answer.payloadTypes.find((p) => {
      const codec = codecOf(answer, p);
      return codec !== undefined && this.codecs.includes(codec);
    });
    if (pt === undefined || answer.port === 0) return false;
    this.localDirection = offered;
    this.remote = {
      address: answer.address,
      port: answer.port,
      codec: codecOf(answer, pt) as Codec,
      payloadType: pt,
      telephoneEventPt: this.localEventPt !== undefined ? answer.telephoneEventPt : undefined,
      direction: answer.direction,
    };
    this.changed.notify();
    return true;
  }

  /** The last offer was refused: keep the state negotiated before it. */
  discardOffer(): void {
    this.pendingOffer = undefined;
  }

  /**
   * Answer an offer (RFC 3264 §6): the offerer's codec order restricted to ours, the offered
   * telephone-event payload type, and a direction compatible with the offer. Undefined when no
   * codec is in common or the stream is rejected (port 0).
   */
  answerOffer(offerSdp: string, wanted: Direction = 'sendrecv'): string | undefined {
    const offer = parseSdp(offerSdp);
    if (!offer || offer.port === 0) return undefined;
    const formats = offer.payloadTypes.map((pt) => ({ pt, codec: codecOf(offer, pt) })).filter((f): f is { pt: number; codec: Codec } => f.codec !== undefined && this.codecs.includes(f.codec));
    const first = formats[0];
    if (!first) return undefined;
    const eventPt = this.telephoneEvent ? offer.telephoneEventPt : undefined;
    this.localEventPt = eventPt;
    this.pendingOffer = undefined;
    this.localDirection = answerDirection(offer.direction, wanted);
    this.remote = {
      address: offer.address,
      port: offer.port,
      codec: first.codec,
      payloadType: first.pt,
      telephoneEventPt: eventPt,
      direction: offer.direction,
    };
    this.localSdp = this.buildSdp(formats, eventPt, this.localDirection);
    this.changed.notify();
    return this.localSdp;
  }

  private buildSdp(formats: Array<{ pt: number; codec: Codec }>, eventPt: number | undefined, direction: Direction): string {
    this.sdpVersion++;
    const ip = this.address.includes(':') ? 'IP6' : 'IP4';
    const pts = formats.map((f) => f.pt);
    if (eventPt !== undefined) pts.push(eventPt);
    const lines = [
      'v=0',
      `o=- ${this.sessionId} ${this.sdpVersion} IN ${ip} ${this.address}`,
      's=hibiki-test-ua',
      `c=IN ${ip} ${this.address}`,
      't=0 0',
      `m=audio ${this.port} RTP/AVP ${pts.join(' ')}`,
      ...formats.map((f) => `a=rtpmap:${f.pt} ${f.codec}/8000`),
      ...(eventPt !== undefined ? [`a=rtpmap:${eventPt} telephone-event/8000`, `a=fmtp:${eventPt} 0-16`] : []),
      'a=ptime:20',
      `a=${direction}`,
    ];
    return lines.join('\r\n') + '\r\n';
  }

  /** Whether RTP may be sent now (RFC 3264 §5.1 directions, and a usable remote address). */
  get canSend(): boolean {
    const r = this.remote;
    if (!r || r.port === 0 || r.address === '0.0.0.0' || r.address === '::') return false;
    const localSends = this.localDirection === 'sendrecv' || this.localDirection === 'sendonly';
    const remoteReceives = r.direction === 'sendrecv' || r.direction === 'recvonly';
    return localSends && remoteReceives;
  }

  // ---- sending -----------------------------------------------------------------------------

  /** Send a test-tone frame every 20 ms until stopTone() (paused while the direction forbids it). */
  startTone(opts: { seed?: number } = {}): void {
    if (opts.seed !== undefined) this.toneSeed = opts.seed >>> 0;
    this.toneOn = true;
    this.schedule();
  }

  stopTone(): void {
    this.toneOn = false;
  }

  /**
   * Make the audio frames sent from now on (startTone, sendPackets) a sine of `hz` — real sound, such as a
   * voicemail recording keeps — instead of the marked test-tone frames; undefined goes back to those.
   */
  useSine(hz: number | undefined, amplitude = 8000): void {
    this.sineTone = hz === undefined ? undefined : { hz, amplitude, sample: 0 };
  }

  get toneRunning(): boolean {
    return this.toneOn;
  }

  /** Send n test-tone frames: paced at 20 ms, or all at once with { burst: true }. */
  async sendPackets(n: number, opts: { burst?: boolean } = {}): Promise<void> {
    if (!Number.isInteger(n) || n < 0) throw new Error(`bad packet count ${n}`);
    if (n === 0) return;
    if (opts.burst) {
      for (let i = 0; i < n; i++) this.audioFrame(this.nextFrame(false));
      return;
    }
    await new Promise<void>((resolve) => {
      this.burst.push({ remaining: n, done: resolve });
      this.schedule();
    });
  }

  /**
   * Send digits as RFC 4733 events: per digit, ceil(durationMs/20) updates 20 ms apart (marker on
   * the first, all with the event's start timestamp and a growing duration), then the final packet
   * with the E bit three times (§2.5.1.4), then gapMs before the next digit. Audio pauses meanwhile.
   */
  async sendDtmf(digits: string, opts: { durationMs?: number; gapMs?: number } = {}): Promise<void> {
    if (this.remote?.telephoneEventPt === undefined) throw new Error('telephone-event was not negotiated on this call');
    const frames = Math.max(1, Math.ceil((opts.durationMs ?? 100) / FRAME_MS));
    if (frames * SAMPLES_PER_FRAME > 0xffff) throw new Error('digit too long for one RFC 4733 event');
    const gapFrames = Math.max(0, Math.ceil((opts.gapMs ?? 60) / FRAME_MS));
    const done: Array<Promise<void>> = [];
    for (const ch of digits.toUpperCase()) {
      const event = DTMF_EVENTS.indexOf(ch);
      if (event < 0) throw new Error(`not a DTMF digit: ${JSON.stringify(ch)}`);
      done.push(new Promise<void>((resolve) => this.digits.push({ event, frames, gapFrames, done: resolve })));
    }
    this.schedule();
    await Promise.all(done);
  }

  sent(): RtpSent {
    return { ...this.sentCounts, ssrc: this.ssrc };
  }

  private hasWork(): boolean {
    return this.toneOn || this.burst.length > 0 || this.activeDigit !== undefined || this.digits.length > 0;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    if (!this.hasWork()) {
      this.nextDue = undefined;
      return;
    }
    const now = Date.now();
    // Paced against the wall clock (no drift); after idling or a long stall, start again from now.
    if (this.nextDue === undefined || this.nextDue < now - 5 * FRAME_MS) {
      this.nextDue = now;
      this.resuming = true;
    }
    this.timer = setTimeout(() => this.onTick(), Math.max(0, this.nextDue - now));
  }

  /** The media clock: one frame after the last, or the wall-clock frame when resuming (never going back). */
  private nextFrame(fromClock: boolean): number {
    const byClock = fromClock ? Math.floor((Date.now() - this.epoch) / FRAME_MS) : 0;
    this.lastFrame = Math.max(this.lastFrame + 1, byClock);
    return this.lastFrame;
  }

  private timestampOf(frame: number): number {
    return (this.tsBase + frame * SAMPLES_PER_FRAME) >>> 0;
  }

  private onTick(): void {
    this.timer = undefined;
    if (this.closed) return;
    this.nextDue = (this.nextDue ?? Date.now()) + FRAME_MS;
    // Within a run every tick is exactly one frame later, so a late timer never opens a timestamp gap.
    const frame = this.nextFrame(this.resuming);
    this.resuming = false;
    if (this.activeDigit || this.digits.length > 0) this.digitFrame(frame);
    else this.audioTick(frame);
    this.schedule();
  }

  private audioTick(frame: number): void {
    const burst = this.burst[0];
    if (burst) {
      this.audioFrame(frame);
      burst.remaining--;
      if (burst.remaining <= 0) {
        this.burst.shift();
        burst.done();
      }
      return;
    }
    if (this.toneOn) this.audioFrame(frame);
  }

  private audioFrame(frame: number): void {
    // RFC 3551 §4.1: the marker bit flags the first packet of a talkspurt.
    const marker = frame !== this.lastAudioFrame + 1;
    this.lastAudioFrame = frame;
    const r = this.remote;
    if (!r || !this.canSend) {
      this.sentCounts.withheld++;
      return;
    }
    const payload = this.sineTone ? this.sineFrame(this.sineTone, r.codec) : toneFrame(this.toneSeed, this.toneCounter++);
    this.transmit({ payloadType: r.payloadType, marker, seq: this.seq++, timestamp: this.timestampOf(frame), ssrc: this.ssrc }, payload);
    this.sentCounts.audioPackets++;
  }

  private sineFrame(t: { hz: number; amplitude: number; sample: number }, codec: Codec): Buffer {
    const pcm = sine(t.hz, FRAME_BYTES, t.amplitude, t.sample);
    t.sample += FRAME_BYTES;
    const encode = codec === 'PCMU' ? ulawEncode : alawEncode;
    return Buffer.from(Array.from(pcm, encode));
  }

  private digitFrame(frame: number): void {
    let d = this.activeDigit;
    if (!d) {
      const next = this.digits.shift() as QueuedDigit;
      d = { ...next, ts: this.timestampOf(frame), sent: 0, ends: 0, gapLeft: next.gapFrames };
      this.activeDigit = d;
    }
    if (d.sent < d.frames) {
      d.sent++;
      this.eventPacket(d, false, d.sent * SAMPLES_PER_FRAME, d.sent === 1);
      return;
    }
    if (d.ends < END_PACKET_COPIES) {
      d.ends++;
      this.eventPacket(d, true, d.frames * SAMPLES_PER_FRAME, false);
      if (d.ends === END_PACKET_COPIES && d.gapLeft === 0) this.finishDigit(d);
      return;
    }
    // The pause after a digit carries audio when a tone is running.
    this.audioTick(frame);
    d.gapLeft--;
    if (d.gapLeft <= 0) this.finishDigit(d);
  }

  private finishDigit(d: ActiveDigit): void {
    this.activeDigit = undefined;
    d.done();
  }

  private eventPacket(d: ActiveDigit, end: boolean, duration: number, marker: boolean): void {
    const pt = this.remote?.telephoneEventPt;
    if (pt === undefined || !this.canSend) {
      this.sentCounts.withheld++;
      return;
    }
    this.transmit({ payloadType: pt, marker, seq: this.seq++, timestamp: d.ts, ssrc: this.ssrc }, telephoneEventPayload(d.event, end, duration));
    this.sentCounts.eventPackets++;
  }

  private transmit(header: RtpHeader, payload: Buffer): void {
    const r = this.remote;
    if (!r || this.closed) return;
    this.socket.send(buildRtp(header, payload), r.port, r.address, () => undefined);
    this.sentCounts.packets++;
  }

  // ---- receiving ---------------------------------------------------------------------------

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    try {
      const b1 = msg[1];
      // RTCP (RFC 5761 §4: packet types 200–204 sit where RTP has marker + PT 72–76).
      const parsed = b1 !== undefined && b1 >= 200 && b1 <= 204 ? undefined : parseRtp(msg);
      if (!parsed) {
        this.counts.invalid++;
        this.changed.notify();
        return;
      }
      const { header, payload } = parsed;
      const from = `${rinfo.address}:${rinfo.port}`;
      this.counts.packets++;
      this.payloadTypes.add(header.payloadType);
      this.ssrcs.add(header.ssrc);
      this.sources.add(from);
      if (this.packets.length < this.maxRecorded) this.packets.push({ ...header, payload, from, at: Date.now() });
      if (header.payloadType === this.localEventPt) this.onEvent(header, payload);
      else this.onAudio(payload);
      this.changed.notify();
    } catch {
      // Bad input from the network must never crash the test process.
      this.counts.invalid++;
    }
  }

  private onEvent(header: RtpHeader, payload: Buffer): void {
    this.counts.eventPackets++;
    const ev = parseTelephoneEvent(payload);
    if (!ev) return;
    const digit = ev.event < DTMF_EVENTS.length ? DTMF_EVENTS[ev.event] : undefined;
    this.events.push({ ...ev, digit, ts: header.timestamp, seq: header.seq, ssrc: header.ssrc, marker: header.marker });
    // RFC 4733 §2.5.1.2: every packet of one event carries the event's start timestamp.
    const key = `${header.ssrc}:${header.timestamp}:${ev.event}`;
    if (this.eventKeys.has(key)) return;
    this.eventKeys.add(key);
    this.digitText += digit ?? '?';
  }

  private onAudio(payload: Buffer): void {
    this.counts.audioPackets++;
    this.lastPayloads.push(payload);
    if (this.lastPayloads.length > LAST_PAYLOADS) this.lastPayloads.shift();
    const frame = readToneFrame(payload);
    if (!frame) {
      this.tone.foreign++;
      return;
    }
    this.tone.intact++;
    this.tone.seeds.add(frame.seed);
    const last = this.lastCounterBySeed.get(frame.seed);
    if (last !== undefined && frame.counter <= last) this.tone.outOfOrder++;
    else this.lastCounterBySeed.set(frame.seed, frame.counter);
  }

  /** A snapshot of everything received so far. */
  received(): RtpReceived {
    const digits = this.digitText;
    return {
      ...this.counts,
      payloadTypes: new Set(this.payloadTypes),
      ssrcs: new Set(this.ssrcs),
      sources: new Set(this.sources),
      telephoneEvents: [...this.events],
      digits: () => digits,
      lastPayloads: [...this.lastPayloads],
      tone: { ...this.tone, seeds: new Set(this.tone.seeds) },
    };
  }

  /** Wait until at least n audio packets have arrived (counting from `since`, a previous audioPackets). */
  waitForPackets(n: number, timeoutMs = 5000, opts: { since?: number } = {}): Promise<RtpReceived> {
    const target = (opts.since ?? 0) + n;
    return this.changed.waitFor(
      () => (this.counts.audioPackets >= target ? this.received() : undefined),
      timeoutMs,
      () => `${target} audio packets on ${this.address}:${this.port} (got ${this.counts.audioPackets}, ${this.counts.eventPackets} events, ${this.counts.invalid} invalid)`,
    );
  }

  /** Wait until the digits received (as RFC 4733 events) end with `digits`. */
  waitForDigits(digits: string, timeoutMs = 5000): Promise<string> {
    const want = digits.toUpperCase();
    return this.changed.waitFor(
      () => (this.digitText.endsWith(want) ? this.digitText : undefined),
      timeoutMs,
      () => `RFC 4733 digits "${want}" on ${this.address}:${this.port} (got "${this.digitText}")`,
    );
  }

  /** Stop sending and close the socket; what was received stays readable. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.toneOn = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const b of this.burst.splice(0)) b.done();
    for (const d of this.digits.splice(0)) d.done();
    if (this.activeDigit) this.finishDigit(this.activeDigit);
    try {
      this.socket.close();
    } catch {
      // already closed
    }
    this.changed.notify();
  }
}
