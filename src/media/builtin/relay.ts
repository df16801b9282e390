// The media worker's core: owns every RTP/RTCP socket, relays packets between bridged endpoints (payload
// type remap, G.711 transcoding, SSRC/sequence/timestamp continuity), latches to the real source (symmetric
// RTP), detects and forwards DTMF per policy, plays prompts, and watches for RTP inactivity. Everything that
// arrives from the network is validated; nothing here may throw out of a socket or timer callback.
import type { Codec, DtmfSource, MediaTotals } from '../engine.js';
import { DtmfSender } from './dtmf-sender.js';
import { RelayEndpoint, Kind } from './endpoint.js';
import { ALAW_DECODE, ALAW_TO_ULAW, ULAW_DECODE, ULAW_TO_ALAW, transcodeInPlace } from './g711.js';
import { InbandDtmfDetector } from './goertzel.js';
import { decodeTable } from './mix-math.js';
import { RelayMixes } from './mixer.js';
import { PromptPlayer } from './player.js';
import { PortPairAllocator } from './ports.js';
import { BoundPairPool } from './pair-pool.js';
import { RelayRecordings } from './relay-recordings.js';
import { generateDtmf, receivedDigit, releaseDigits, type DtmfHost } from './relay-dtmf.js';
import { createRtpIo, type PacketSource, type RtpIo, type RtpSocket } from './rtp-io.js';
import { sendPromptFrame, sendTelephoneEvent } from './relay-frames.js';
import { openSilentSockets, sweepInactive } from './relay-watch.js';
import { RelayCallRecordings } from './relay-call-recordings.js';
import type { FromWorker, ToWorker, WorkerLogLevel, WorkerSettings } from './protocol.js';
import { attachEndpoint, bindPair, detachEndpoint, restoreEndpoint } from './relay-move.js';
import { configureEndpoint } from './relay-configure.js';
import { DtmfReceiver, parseTelephoneEvent, type TelephoneEvent } from './rfc4733.js';
import { newRtpView, parseRtp, setPayloadType } from './rtp.js';

type Post = (msg: FromWorker) => void;

const now = (): number => performance.now();

/** How often sockets connected to a silent latched source are checked (see openSilentSockets). */
const UNLATCH_CHECK_MS = 250;
/** Socket pairs kept bound for reuse (pair-pool.ts), and how long one must be quiet before it is reused. */
const POOL_MAX_PAIRS = 1024;
const POOL_QUIET_MS = 1000;

export class MediaRelay {
  private readonly endpoints = new Map<string, RelayEndpoint>();
  /** Packet counts of the endpoints already destroyed, and the packets relayed so far (MediaTotals). */
  private readonly gone = { packetsIn: 0, packetsOut: 0, lost: 0 };
  private relayed = 0;
  private readonly allocator: PortPairAllocator;
  private readonly pool = new BoundPairPool(POOL_MAX_PAIRS, POOL_QUIET_MS, now);
  private closing = false;
  private readonly io: RtpIo;
  private nextSource = 1;
  private readonly view = newRtpView();
  private readonly event: TelephoneEvent = { event: 0, end: false, volume: 0, duration: 0 };
  private sweepTimer: NodeJS.Timeout | undefined;
  private unlatchTimer: NodeJS.Timeout | undefined;
  private readonly recordings: RelayRecordings;
  private readonly mixes: RelayMixes;
  private readonly callRecordings: RelayCallRecordings;
  /** Packets dropped as not RTP (any socket), for diagnosis. */
  garbage = 0;
  private readonly dtmfHost: DtmfHost = {
    post: (msg) => this.post(msg),
    log: (level, msg, id) => this.log(level, msg, id),
    dtmfSender: (ep) =>
      (ep.dtmfSender ??= new DtmfSender(
        (ev, marker, sequence, timestamp) => this.guard(() => sendTelephoneEvent(ep, ev, marker, sequence, timestamp)),
        () => undefined,
      )),
  };

  constructor(
    private readonly settings: WorkerSettings,
    private readonly post: Post,
  ) {
    this.recordings = new RelayRecordings(post, (fn) => this.guard(fn));
    this.mixes = new RelayMixes(
      (fn) => this.guard(fn),
      () => this.nextSource++,
      (msg, id) => this.log('debug', msg, id),
    );
    this.callRecordings = new RelayCallRecordings(
      post,
      (fn) => this.guard(fn),
      (id) => this.endpoints.get(id),
    );
    this.allocator = new PortPairAllocator(settings.rtpPorts[0], settings.rtpPorts[1]);
    const { io, note } = createRtpIo(settings.udpIo ?? 'native');
    this.io = io;
    this.log('info', note);
    if (settings.rtpTimeoutMs > 0) {
      // Check often enough that a timeout is reported within a quarter of its length.
      const every = Math.min(1000, Math.max(50, Math.floor(settings.rtpTimeoutMs / 4)));
      this.sweepTimer = setInterval(() => this.guard(() => sweepInactive(this.endpoints.values(), this.settings.rtpTimeoutMs, this.post)), every);
    }
    if (settings.relatchAfterMs > 0) {
      const every = Math.min(UNLATCH_CHECK_MS, settings.relatchAfterMs);
      this.unlatchTimer = setInterval(() => this.guard(() => openSilentSockets(this.endpoints.values(), this.settings.relatchAfterMs - every)), every);
    }
  }

  handle(msg: ToWorker): void {
    switch (msg.t) {
      case 'create':
        void this.create(msg.req, msg.id, msg.label);
        break;
      case 'configure':
        this.withEndpoint(msg.id, (ep) => configureEndpoint(ep, msg.stream, now(), (msg, id) => this.log('warn', msg, id)));
        break;
      case 'destroy':
        // In the worker an unhandled rejection would end the thread, and every call with it.
        this.withEndpoint(msg.id, (ep) => this.destroy(ep).catch((err: unknown) => this.log('error', `media endpoint not destroyed: ${String(err)}`, ep.id)));
        break;
      case 'bridge':
        this.bridge(msg.a, msg.b);
        break;
      case 'unbridge':
        this.withEndpoint(msg.id, (ep) => this.unbridge(ep));
        break;
      case 'play':
        this.play(msg.id, msg.playId, msg.audio, msg.codec, msg.loop);
        break;
      case 'stop-play':
        this.stopPlay(msg.playId);
        break;
      case 'record': {
        const ep = this.endpoints.get(msg.id);
        if (ep) this.recordings.start(ep, msg);
        else this.post({ t: 'record-done', recId: msg.recId, reason: 'failed', samples: 0, error: 'unknown media endpoint' });
        break;
      }
      case 'stop-record':
        this.recordings.stop(msg.recId);
        break;
      case 'record-call':
        this.callRecordings.start(msg);
        break;
      case 'retarget-record-call':
        this.callRecordings.retarget(msg.recId, msg.a, msg.b);
        break;
      case 'pause-record-call':
        this.callRecordings.pause(msg.recId, msg.paused);
        break;
      case 'stop-record-call':
        this.callRecordings.stop(msg.recId);
        break;
      case 'dtmf-policy':
        this.withEndpoint(msg.id, (ep) => {
          ep.policy = msg.policy;
        });
        break;
      case 'release-dtmf':
        this.withEndpoint(msg.id, (ep) => releaseDigits(this.dtmfHost, ep, msg.forward));
        break;
      case 'send-dtmf':
        this.withEndpoint(msg.id, (ep) => {
          for (const digit of msg.digits) generateDtmf(this.dtmfHost, ep, digit, msg.durationMs);
        });
        break;
      case 'inject-dtmf':
        this.withEndpoint(msg.id, (ep) => this.digit(ep, msg.digit, msg.durationMs, 'info'));
        break;
      case 'stats': {
        const ep = this.endpoints.get(msg.id);
        this.post({ t: 'stats', req: msg.req, stats: ep ? ep.stats() : null });
        break;
      }
      case 'totals':
        this.post({ t: 'totals', req: msg.req, totals: this.totals() });
        break;
      case 'mix-create':
        this.mixes.create(msg.mix);
        break;
      case 'mix-join':
        this.withEndpoint(msg.id, (ep) => {
          // A mixed endpoint is not bridged (MediaEngine.joinMix).
          this.unbridge(ep);
          this.mixes.join(ep, msg);
        });
        break;
      case 'mix-leave':
        this.withEndpoint(msg.id, (ep) => this.mixes.leave(ep, msg.mix));
        break;
      case 'mix-destroy':
        this.mixes.destroy(msg.mix);
        break;
      // An endpoint moving between workers (relay-move.ts): its port stays reserved in the worker it left.
      case 'detach':
        void detachEndpoint(this.endpoints.get(msg.id), msg.req, this.post, (ep) => this.forget(ep));
        break;
      case 'attach':
        void attachEndpoint(msg.req, msg.snapshot, this.io, this.settings.bindAddress, this.post, (s, rtp, rtcp) => {
          this.endpoints.set(s.id, restoreEndpoint(this.wire(s.id, s.label, s.port, rtp, rtcp), s));
          if (s.player) this.play(s.id, s.player.playId, s.player.audio, s.player.codec, s.player.loop, s.player.frame);
        });
        break;
      case 'release-port':
        this.allocator.release(msg.port);
        break;
      case 'init':
      case 'shutdown':
        break;
    }
  }

  /** Closes every socket; resolves when all are closed. */
  async shutdown(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.unlatchTimer) clearInterval(this.unlatchTimer);
    this.recordings.shutdown();
    this.mixes.shutdown();
    // Before the thread ends: a call recording's header (its sizes) is written when it stops.
    const recordings = this.callRecordings.shutdown();
    this.sweepTimer = undefined;
    this.unlatchTimer = undefined;
    this.closing = true;
    await Promise.all([...this.endpoints.values()].map((ep) => this.destroy(ep)));
    await Promise.all(this.pool.drain().flatMap((p) => [p.rtp.close(), p.rtcp.close()]));
    this.io.shutdown();
    await recordings;
  }

  private log(level: WorkerLogLevel, msg: string, id?: string): void {
    this.post(id === undefined ? { t: 'log', level, msg } : { t: 'log', level, msg, id });
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log('error', `media worker: ${(err as Error).stack ?? String(err)}`);
    }
  }

  private withEndpoint(id: string, fn: (ep: RelayEndpoint) => void): void {
    const ep = this.endpoints.get(id);
    if (ep) fn(ep);
    else this.log('debug', 'media endpoint not found', id);
  }

  // ---- endpoints ------------------------------------------------------------------------------------

  private async openPair(): Promise<{ port: number; rtp: RtpSocket; rtcp: RtpSocket } | null> {
    const kept = this.pool.take();
    if (kept) return kept;
    // A pair taken by another process is skipped (and stays at the back of the queue); try each pair once.
    const attempts = this.allocator.available;
    for (let i = 0; i < attempts; i++) {
      const port = this.allocator.acquire();
      if (port === null) return null;
      const pair = await bindPair(this.io, this.settings.bindAddress, port);
      if (pair) return { port, ...pair };
      this.allocator.release(port);
    }
    return this.pool.take(true);
  }

  private async create(req: number, id: string, label: string): Promise<void> {
    try {
      const pair = await this.openPair();
      if (!pair) {
        this.post({ t: 'failed', req, message: 'no free RTP port', sipStatus: 503 });
        return;
      }
      this.endpoints.set(id, this.wire(id, label, pair.port, pair.rtp, pair.rtcp));
      this.post({ t: 'created', req, port: pair.port });
    } catch (err) {
      this.post({ t: 'failed', req, message: (err as Error).message, sipStatus: 500 });
    }
  }

  /** A RelayEndpoint on a bound socket pair (created here, or taken in from another worker), its handlers installed. */
  private wire(id: string, label: string, port: number, rtp: RtpSocket, rtcp: RtpSocket): RelayEndpoint {
    const source = this.nextSource++;
    const dtmfSource = this.nextSource++;
    const created = new RelayEndpoint(id, label, source, dtmfSource, port, rtp, rtcp);
    rtp.onPacket = (msg: Buffer, length: number, from: PacketSource) => {
      try {
        this.onRtp(created, msg, length, from);
      } catch (err) {
        this.log('error', `media worker packet handler: ${(err as Error).stack ?? String(err)}`, id);
      }
    };
    const onError = (code: string, message: string): void => {
      // A socket connected to its latched source is told (ICMP port unreachable) when that source has gone;
      // an unconnected one never is. Expected at the end of a call, so not worth a warning.
      if (code === 'ECONNREFUSED') return;
      if (created.sendErrors++ === 0) this.log('warn', `RTP socket error: ${message}`, id);
    };
    rtp.onError = onError;
    rtcp.onError = onError;
    return created;
  }

  /** The counts of the endpoints that are gone, plus those of the live ones. */
  private totals(): MediaTotals {
    const [sendsDropped, truncated] = this.io.counters();
    const t = { ...this.gone, relayed: this.relayed, endpoints: this.endpoints.size, sendsDropped, truncated, pooledPairs: this.pool.size };
    for (const ep of this.endpoints.values()) {
      t.packetsIn += ep.packetsIn;
      t.packetsOut += ep.packetsOut;
      t.lost += ep.lost;
    }
    return t;
  }

  private async destroy(ep: RelayEndpoint): Promise<void> {
    if (this.endpoints.get(ep.id) !== ep) return;
    this.forget(ep);
    this.gone.packetsIn += ep.packetsIn;
    this.gone.packetsOut += ep.packetsOut;
    this.gone.lost += ep.lost;
    if (ep.player) ep.player.player.stop();
    // The party hung up while recording: what was said is kept (a voicemail left by hanging up).
    ep.recorder?.recorder.stop('ended');
    ep.dtmfSender?.stop();
    ep.dtmfReceiver?.dispose();
    ep.rtp.onPacket = null;
    ep.disconnect();
    if (!this.closing && this.allocator.owns(ep.port) && this.pool.put({ port: ep.port, rtp: ep.rtp, rtcp: ep.rtcp })) return;
    await Promise.all([ep.rtp.close(), ep.rtcp.close()]);
    this.allocator.release(ep.port);
  }

  /** Out of the maps, the bridge and any mix: destroyed, or moved to another worker. */
  private forget(ep: RelayEndpoint): void {
    this.endpoints.delete(ep.id);
    this.unbridge(ep);
    this.mixes.leaveAny(ep);
  }

  private bridge(aId: string, bId: string): void {
    const a = this.endpoints.get(aId);
    const b = this.endpoints.get(bId);
    if (!a || !b || a === b) {
      this.log('debug', `bridge ${aId} ↔ ${bId}: endpoint missing`);
      return;
    }
    if (a.peer !== b) this.unbridge(a);
    if (b.peer !== a) this.unbridge(b);
    // A bridged endpoint is in no mix (MediaEngine.bridge).
    this.mixes.leaveAny(a);
    this.mixes.leaveAny(b);
    a.peer = b;
    b.peer = a;
  }

  private unbridge(ep: RelayEndpoint): void {
    if (ep.peer && ep.peer.peer === ep) ep.peer.peer = null;
    ep.peer = null;
  }

  // ---- packet path ----------------------------------------------------------------------------------

  /** `msg` may be longer than the datagram (the native I/O's slot): only its first `length` bytes count. */
  private onRtp(ep: RelayEndpoint, msg: Buffer, length: number, source: PacketSource): void {
    const view = this.view;
    if (!parseRtp(msg, view, length)) {
      this.garbage++;
      return;
    }
    const t = now();
    // Symmetric RTP (RFC 4961): send back to where the packets come from. Another source may take over only
    // once the latched one has been silent for relatchAfterMs, so a stray or spoofed packet cannot steal it.
    if (ep.latchedAddress === null) {
      ep.latchTo(source);
    } else if (!ep.fromLatched(source)) {
      if (t - ep.latchedLastAt < this.settings.relatchAfterMs) return;
      const from = `${ep.latchedAddress}:${ep.latchedPort}`;
      ep.disconnect();
      ep.latchTo(source);
      this.log('debug', `RTP source moved from ${from} to ${ep.latchedAddress}:${ep.latchedPort}`, ep.id);
    }
    if (!ep.connected) ep.connectToLatched();
    ep.latchedLastAt = t;
    ep.packetsIn++;
    ep.bytesIn += length;
    ep.lastPacketAt = t;
    ep.timedOut = false;
    ep.countSequence(view.ssrc, view.sequence);

    const kind = ep.inbound[view.payloadType];
    if (kind === Kind.TelephoneEvent) {
      this.onTelephoneEvent(ep, msg, length, t);
      return;
    }
    // Before transcoding below, which rewrites the payload in place.
    if (ep.inbandDtmf !== null && ep.stream?.receive) this.detectInband(ep, ep.inbandDtmf, msg, kind);
    if (ep.recorder !== null && ep.stream?.receive && (kind === Kind.Pcmu || kind === Kind.Pcma)) {
      ep.recorder.recorder.push(msg, view.payloadOffset, view.payloadLength, kind === Kind.Pcmu ? ULAW_DECODE : ALAW_DECODE, view.timestamp, view.ssrc, t);
    }
    if (ep.callTap !== null && ep.stream?.receive && (kind === Kind.Pcmu || kind === Kind.Pcma)) {
      ep.callTap.push(msg, view.payloadOffset, view.payloadLength, kind === Kind.Pcmu ? ULAW_DECODE : ALAW_DECODE);
    }
    // Comfort noise and anything not negotiated is not relayed.
    if (kind === Kind.None || !ep.stream?.receive) return;
    // A mixed endpoint's audio waits, decoded, for its mix's next tick.
    if (ep.mix !== null) {
      if (ep.mix.speaks) ep.mix.speech.pushG711(msg, view.payloadOffset, view.payloadLength, kind === Kind.Pcmu ? ULAW_DECODE : ALAW_DECODE);
      return;
    }
    const peer = ep.peer;
    if (!peer || !peer.canSend || peer.busyWithOwnMedia) return;
    const target = peer.stream!;
    if (kind === Kind.Pcmu ? target.codec === 'PCMA' : target.codec === 'PCMU') {
      transcodeInPlace(msg, view.payloadOffset, view.payloadLength, kind === Kind.Pcmu ? ULAW_TO_ALAW : ALAW_TO_ULAW);
    }
    const switched = peer.out.rewrite(msg, ep.source, view.ssrc, 0, t);
    setPayloadType(msg, target.payloadType, view.marker || switched);
    peer.send(msg, length);
    this.relayed++;
  }

  private onTelephoneEvent(ep: RelayEndpoint, msg: Buffer, length: number, t: number): void {
    const view = this.view;
    const ev = this.event;
    if (!parseTelephoneEvent(msg, view.payloadOffset, view.payloadLength, ev)) return;
    const { ssrc, marker } = view;
    ep.dtmfReceiver ??= new DtmfReceiver((digit, durationMs) => this.guard(() => this.digit(ep, digit, durationMs, 'rfc4733')));
    ep.dtmfReceiver.onPacket(ssrc, view.timestamp, ev);
    // `pass` forwards the event packets as they come; suppress and holdback never forward them (the digits
    // were reported above, and holdback queued them for releaseDtmf).
    if (ep.policy !== 'pass' || !ep.stream?.receive) return;
    const peer = ep.peer;
    // No telephone-event on the peer: the digit is dropped (in-band tone generation is not implemented).
    if (!peer || !peer.canSend || peer.busyWithOwnMedia || peer.stream!.telephoneEventPt < 0) return;
    peer.out.rewrite(msg, ep.source, ssrc, ev.duration, t);
    setPayloadType(msg, peer.stream!.telephoneEventPt, marker);
    peer.send(msg, length);
    this.relayed++;
  }

  // ---- DTMF -----------------------------------------------------------------------------------------

  /**
   * In-band DTMF of a leg without telephone-event: the G.711 payload is decoded straight into the Goertzel
   * filters (no decode buffer). A packet that is not audio (comfort noise,
   * RFC 3389) means the phone stopped sending sound, so a tone in progress has ended. The tones are not
   * removed from the audio forwarded to the peer (no in-band DTMF suppression): the far end hears them.
   */
  private detectInband(ep: RelayEndpoint, detector: InbandDtmfDetector, msg: Buffer, kind: number): void {
    const view = this.view;
    const ended = kind === Kind.Pcmu || kind === Kind.Pcma ? detector.pushG711(msg, view.payloadOffset, view.payloadLength, kind === Kind.Pcmu ? ULAW_DECODE : ALAW_DECODE) : detector.flush();
    for (const d of ended) this.digit(ep, d.digit, d.durationMs, 'inband');
  }

  /** A digit received from `ep`'s party (RFC 4733, SIP INFO or in-band): see relay-dtmf.ts. */
  private digit(ep: RelayEndpoint, digit: string, durationMs: number, source: DtmfSource): void {
    receivedDigit(this.dtmfHost, ep, digit, durationMs, source);
  }

  // ---- prompts --------------------------------------------------------------------------------------

  private play(id: string, playId: number, audio: Uint8Array, codec: Codec, loop: boolean, firstFrame = 0): void {
    const ep = this.endpoints.get(id);
    if (!ep) {
      this.post({ t: 'play-done', playId, reason: 'stopped' });
      return;
    }
    if (ep.player) ep.player.player.stop();
    const source = this.nextSource++;
    const entry: NonNullable<RelayEndpoint['player']> = {
      playId,
      player: new PromptPlayer(
        audio,
        codec,
        loop,
        // In a mix the prompt is heard on top of the conference: the mix's tick adds it in.
        (payload, n) => this.guard(() => (ep.mix !== null ? ep.mix.prompt.pushG711(payload, 0, payload.length, decodeTable(codec)) : sendPromptFrame(ep, source, payload, codec, n))),
        (reason) => {
          if (ep.player === entry) ep.player = null;
          if (!entry.moved) this.post({ t: 'play-done', playId, reason });
        },
        undefined,
        firstFrame,
      ),
    };
    ep.player = entry;
    entry.player.start();
  }

  private stopPlay(playId: number): void {
    for (const ep of this.endpoints.values()) {
      if (ep.player?.playId === playId) {
        ep.player.player.stop();
        return;
      }
    }
  }
}
