// BuiltinMediaEngine: the MediaEngine of DESIGN.md on the main thread. SDP offer/answer is done here; the
// RTP sockets and the per-packet work live in media.workers worker threads (worker.ts, each with its own
// slice of rtpPorts) that this class drives with small control messages (routed by worker-pool.ts to the
// worker holding the endpoint) and that report DTMF, RTP timeouts, prompt ends and stats back.
import type { Logger } from 'pino';
import {
  MediaError,
  type CallRecordHandle,
  type CallRecordOptions,
  type Codec,
  type Direction,
  type DtmfPolicy,
  type EndpointId,
  type EndpointOptions,
  type EndpointStats,
  type MediaTotals,
  type MediaEngine,
  type MediaEngineEvents,
  type MixId,
  type MixMember,
  type NegotiatedMedia,
  type OfferOptions,
  type PlayHandle,
  type RecordHandle,
  type RecordOptions,
} from '../engine.js';
import { MAX_VOLUME_DB, MIN_VOLUME_DB } from './mix-math.js';
import { DEFAULT_TELEPHONE_EVENT_PT, acceptAnswer, answerOffer, buildOffer, type Negotiation, type OfferedMedia } from '../sdp.js';
import { DEFAULT_DTMF_DURATION_MS } from './dtmf-sender.js';
import { EngineRecordings } from './engine-recordings.js';
import { sessionId, streamConfig } from './stream-config.js';
import { PromptCache } from './prompt-cache.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { digitToEvent } from './rfc4733.js';
import { splitPortRange } from './ports.js';
import { WorkerPool } from './worker-pool.js';

export interface BuiltinMediaEngineOptions {
  /** Address advertised in SDP (c=, o=). */
  address: string;
  /** Address the RTP sockets bind to (default: the wildcard of the advertised address's family). */
  bindAddress?: string;
  rtpPorts: [number, number];
  /** RTP inactivity before 'rtp-timeout' (0 = off). */
  rtpTimeoutSec: number;
  /** RTP socket I/O (media.udpIo); default native, falling back to node:dgram without the addon. */
  udpIo?: 'native' | 'dgram';
  logger: Logger;
  /** Media worker threads (media.workers, resolved): default 1. Each gets an even slice of rtpPorts. */
  workerCount?: number;
}

interface EndpointState {
  label: string;
  codecs: readonly Codec[];
  port: number;
  sessionId: string;
  sessionVersion: number;
  offered: OfferedMedia | null;
  negotiated: NegotiatedMedia | undefined;
}

interface PlayEntry {
  id: EndpointId;
  resolve: (reason: 'completed' | 'stopped') => void;
  posted: boolean;
  stopped: boolean;
}

const ALL_CODECS: readonly Codec[] = ['PCMU', 'PCMA'];

/**
 * One frozen array per distinct list of allowed codecs (there are at most four: G.711 µ-law and A-law in
 * either order, or one of them): each endpoint kept its own copy, ~180 B, for the whole call.
 */
const codecLists = new Map<string, readonly Codec[]>();
function sharedCodecList(codecs: readonly Codec[]): readonly Codec[] {
  const key = codecs.join(',');
  let list = codecLists.get(key);
  if (!list) codecLists.set(key, (list = Object.freeze([...codecs])));
  return list;
}
/** How long the latched RTP source must be silent before another may take over (symmetric RTP). */
const RELATCH_AFTER_MS = 2000;

type Listeners = { [E in keyof MediaEngineEvents]: Set<MediaEngineEvents[E]> };

export class BuiltinMediaEngine implements MediaEngine {
  /** Plain RTP only: WebRTC legs need rtpengine in front (src/media/rtpengine/). */
  readonly webrtc = false;
  private readonly logger: Logger;
  private readonly pool: WorkerPool;
  private readonly endpoints = new Map<EndpointId, EndpointState>();
  private readonly plays = new Map<number, PlayEntry>();
  private readonly recordings = new EngineRecordings({
    post: (msg) => this.pool.routeRecording(msg),
    hasEndpoint: (id) => this.endpoints.has(id),
  });
  private readonly prompts = new PromptCache();
  private readonly listeners: Listeners = { dtmf: new Set(), 'rtp-timeout': new Set() };
  private nextEndpoint = 1;
  private nextPlay = 1;
  private nextMix = 1;

  constructor(private readonly options: BuiltinMediaEngineOptions) {
    this.logger = options.logger.child({ component: 'media' });
    const bindAddress = options.bindAddress ?? (options.address.includes(':') ? '::' : '0.0.0.0');
    const count = Math.max(1, Math.floor(options.workerCount ?? 1));
    // One worker keeps the range exactly as configured (its allocator checks it).
    const slices = count === 1 ? [options.rtpPorts] : splitPortRange(options.rtpPorts, count);
    const base = { bindAddress, rtpTimeoutMs: Math.max(0, options.rtpTimeoutSec) * 1000, relatchAfterMs: RELATCH_AFTER_MS, udpIo: options.udpIo };
    this.pool = new WorkerPool(slices, base, this.logger, {
      message: (index, msg) => this.onMessage(index, msg),
      lost: (id) => this.lost(id),
      workerLost: (index) => this.workerLost(index),
    });
    this.pool.portOf = (id) => this.endpoints.get(id)?.port;
  }

  /** How many media workers run (media.workers, capped by the pairs in rtpPorts). */
  get workerCount(): number {
    return this.pool.slots.length;
  }

  /** Endpoints per worker now (tests, diagnostics). */
  workerLoads(): number[] {
    return this.pool.slots.map((slot) => this.pool.placement.loadOf(slot.index));
  }

  /** The worker holding the endpoint (tests, diagnostics). */
  workerOf(id: EndpointId): number | undefined {
    return this.pool.placement.workerOf(id);
  }

  // ---- lifecycle ------------------------------------------------------------------------------------

  start(): Promise<void> {
    return this.pool.start();
  }

  async stop(): Promise<void> {
    await this.pool.stop(new MediaError('media engine stopped', 503));
    this.abandonAll(new MediaError('media engine stopped', 503));
    this.endpoints.clear();
  }

  /** Lost with its worker (or a failed move): reported as timed out, so its call ends with cause 41. */
  private lost(id: EndpointId): void {
    if (!this.endpoints.delete(id)) return;
    for (const [playId, p] of this.plays) if (p.id === id) this.finishPlay(playId, 'stopped');
    this.emit('rtp-timeout', id);
  }

  /** A worker died with calls up: its recordings and mixes are gone with it (a new worker is starting). */
  private workerLost(index: number): void {
    const recIds = new Set(this.pool.placement.recordingsIn(index));
    this.recordings.abandon(new MediaError('media worker exited', 500), (recId) => recIds.has(recId));
    for (const recId of recIds) this.pool.placement.endRecording(recId);
    for (const mix of this.pool.placement.mixesIn(index)) this.pool.placement.destroyMix(mix);
  }

  private abandonAll(err: Error): void {
    for (const [playId] of this.plays) this.finishPlay(playId, 'stopped');
    this.recordings.abandon(err);
  }

  private onMessage(index: number, msg: FromWorker): void {
    switch (msg.t) {
      case 'dtmf':
        if (this.endpoints.has(msg.id)) this.emit('dtmf', msg.id, msg.digit, msg.durationMs, msg.source);
        break;
      case 'rtp-timeout':
        if (this.endpoints.has(msg.id)) this.emit('rtp-timeout', msg.id);
        break;
      case 'play-done':
        this.finishPlay(msg.playId, msg.reason);
        break;
      case 'record-done':
        this.pool.placement.endRecording(msg.recId);
        this.recordings.done(msg.recId, msg.reason, msg.samples, msg.error);
        break;
      case 'log': {
        const worker = this.pool.slots.length > 1 ? { worker: index } : {};
        const fields = msg.id === undefined ? worker : { ...worker, endpoint: msg.id, label: this.endpoints.get(msg.id)?.label };
        this.logger[msg.level](fields, msg.msg);
        break;
      }
      default:
        break;
    }
  }

  // ---- events ---------------------------------------------------------------------------------------

  on<E extends keyof MediaEngineEvents>(event: E, listener: MediaEngineEvents[E]): this {
    (this.listeners[event] as Set<MediaEngineEvents[E]>).add(listener);
    return this;
  }

  off<E extends keyof MediaEngineEvents>(event: E, listener: MediaEngineEvents[E]): this {
    (this.listeners[event] as Set<MediaEngineEvents[E]>).delete(listener);
    return this;
  }

  private emit<E extends keyof MediaEngineEvents>(event: E, ...args: Parameters<MediaEngineEvents[E]>): void {
    for (const listener of this.listeners[event] as Set<(...a: Parameters<MediaEngineEvents[E]>) => void>) {
      // A failing listener must not break the worker's message handling or the other listeners.
      try {
        listener(...args);
      } catch (err) {
        this.logger.error({ err, event }, 'media event listener threw');
      }
    }
  }

  // ---- endpoints and offer/answer -------------------------------------------------------------------

  private state(id: EndpointId): EndpointState {
    const s = this.endpoints.get(id);
    if (!s) throw new MediaError(`unknown media endpoint ${id}`, 500);
    return s;
  }

  async createEndpoint(opts: EndpointOptions = {}): Promise<EndpointId> {
    const codecs = sharedCodecList([...new Set(opts.codecs ?? ALL_CODECS)].filter((c) => ALL_CODECS.includes(c)));
    if (codecs.length === 0) throw new MediaError('no G.711 codec allowed for the endpoint', 488);
    const id = `m${this.nextEndpoint++}`;
    const label = opts.label ?? id;
    // Counted in its worker's load from now, so that endpoints made at the same moment spread out.
    const placement = this.pool.placement;
    const worker = placement.pick(opts.near, (w) => this.pool.usable(w));
    placement.add(id, worker);
    let reply: FromWorker;
    try {
      reply = await this.pool.request(worker, (req) => ({ t: 'create', req, id, label }));
    } catch (err) {
      placement.remove(id);
      throw err;
    }
    if (reply.t !== 'created') {
      placement.remove(id);
      throw reply.t === 'failed' ? new MediaError(reply.message, reply.sipStatus) : new MediaError('unexpected reply from the media worker', 500);
    }
    if (!placement.has(id)) throw new MediaError('media worker exited', 500);
    this.endpoints.set(id, { label, codecs, port: reply.port, sessionId: sessionId(), sessionVersion: 0, offered: null, negotiated: undefined });
    return id;
  }

  private local(s: EndpointState, direction: Direction): { address: string; port: number; sessionId: string; sessionVersion: number; direction: Direction } {
    return { address: this.options.address, port: s.port, sessionId: s.sessionId, sessionVersion: s.sessionVersion + 1, direction };
  }

  async createOffer(id: EndpointId, opts: OfferOptions = {}): Promise<string> {
    const s = this.state(id);
    if (opts.profile === 'webrtc') throw new MediaError('the built-in media engine cannot offer WebRTC (configure media.rtpengine)', 488);
    const offered: OfferedMedia = { codecs: s.codecs, telephoneEventPt: DEFAULT_TELEPHONE_EVENT_PT, direction: opts.direction ?? 'sendrecv' };
    const sdp = buildOffer(this.local(s, offered.direction), offered);
    s.sessionVersion++;
    s.offered = offered;
    return sdp;
  }

  async acceptAnswer(id: EndpointId, answerSdp: string): Promise<NegotiatedMedia> {
    const s = this.state(id);
    if (!s.offered) throw new MediaError('no offer outstanding for this endpoint', 500);
    const negotiation = acceptAnswer(answerSdp, s.offered);
    s.offered = null;
    return this.apply(id, s, negotiation);
  }

  async answerOffer(id: EndpointId, offerSdp: string, opts: OfferOptions = {}): Promise<{ sdp: string; media: NegotiatedMedia }> {
    const s = this.state(id);
    const { sdp, negotiation } = answerOffer(offerSdp, { ...this.local(s, opts.direction ?? 'sendrecv'), codecs: s.codecs });
    s.sessionVersion++;
    return { sdp, media: this.apply(id, s, negotiation) };
  }

  async checkOffer(id: EndpointId, offerSdp: string): Promise<void> {
    const s = this.state(id);
    answerOffer(offerSdp, { ...this.local(s, 'sendrecv'), codecs: s.codecs });
  }

  private apply(id: EndpointId, s: EndpointState, negotiation: Negotiation): NegotiatedMedia {
    s.negotiated = negotiation.media;
    this.pool.send(id, { t: 'configure', id, stream: streamConfig(negotiation) });
    return negotiation.media;
  }

  negotiated(id: EndpointId): NegotiatedMedia | undefined {
    return this.endpoints.get(id)?.negotiated;
  }

  destroy(id: EndpointId): void {
    const s = this.endpoints.get(id);
    if (!s) return;
    this.endpoints.delete(id);
    const placement = this.pool.placement;
    const home = placement.homeOf(id);
    this.pool.send(id, { t: 'destroy', id });
    // A port lent to another worker (the endpoint moved): its own worker may hand it out again.
    if (home !== undefined && home !== placement.workerOf(id)) this.pool.post(home, { t: 'release-port', port: s.port });
    this.pool.mixJoins.delete(id);
    placement.remove(id);
  }

  async stats(id: EndpointId): Promise<EndpointStats> {
    this.state(id);
    const reply = await this.pool.requestFor(id, (req) => ({ t: 'stats', req, id }));
    if (reply.t !== 'stats' || !reply.stats) throw new MediaError(`unknown media endpoint ${id}`, 500);
    return reply.stats;
  }

  async totals(): Promise<MediaTotals> {
    // Summed over the workers; one being restarted counts as nothing yet.
    const up = this.pool.slots.filter((slot) => slot.running).map((slot) => slot.index);
    // None running: asked of the first, which waits for a start in progress or refuses (503) as before.
    const running = up.length > 0 ? up : [0];
    const replies = await Promise.all(running.map((w) => this.pool.request(w, (req) => ({ t: 'totals', req }))));
    const sum: MediaTotals = { packetsIn: 0, packetsOut: 0, relayed: 0, lost: 0, endpoints: 0, sendsDropped: 0, truncated: 0, pooledPairs: 0 };
    for (const reply of replies) {
      if (reply.t !== 'totals') throw new MediaError('media worker answered a totals request with something else', 500);
      for (const k of Object.keys(sum) as (keyof MediaTotals)[]) sum[k] += reply.totals[k];
    }
    return sum;
  }

  // ---- bridging, prompts, DTMF (fire-and-forget: an unknown endpoint is ignored, it may just have ended) ----

  bridge(a: EndpointId, b: EndpointId): void {
    if (!this.endpoints.has(a) || !this.endpoints.has(b) || a === b) return;
    const placement = this.pool.placement;
    placement.loosen(a);
    placement.loosen(b);
    this.pool.mixJoins.delete(a);
    this.pool.mixJoins.delete(b);
    this.pool.together(a, b);
    placement.bridge(a, b);
    // A side still moving is bridged when it arrives (worker-pool.ts).
    if (!this.pool.isMoving(a) && !this.pool.isMoving(b)) this.pool.send(a, { t: 'bridge', a, b });
  }

  unbridge(id: EndpointId): void {
    if (!this.endpoints.has(id)) return;
    this.pool.placement.unbridge(id);
    if (!this.pool.isMoving(id)) this.pool.send(id, { t: 'unbridge', id });
  }

  // ---- mixing (mixer.ts in the worker; like bridging, an unknown endpoint or mix is ignored) ----------------

  createMix(): MixId {
    const mix = `x${this.nextMix++}`;
    // Created in a worker when its first member joins (the member's worker).
    this.pool.placement.createMix(mix);
    return mix;
  }

  joinMix(mix: MixId, id: EndpointId, member: MixMember): void {
    const placement = this.pool.placement;
    if (!placement.hasMix(mix) || !this.endpoints.has(id)) {
      this.logger.debug({ mix, endpoint: id }, 'joinMix: mix or endpoint not found');
      return;
    }
    const db = member.volumeDb;
    const volumeDb = db === undefined || !Number.isFinite(db) ? 0 : Math.min(MAX_VOLUME_DB, Math.max(MIN_VOLUME_DB, db));
    const join = { t: 'mix-join', mix, id, hears: member.hears === 'all' ? 'all' : [...member.hears], speaks: member.speaks, volumeDb } satisfies ToWorker;
    const wasIn = placement.mixMembers(mix).includes(id);
    if (!wasIn) {
      placement.loosen(id);
      this.pool.mixJoins.delete(id);
      this.placeMix(mix, id);
    }
    placement.joinMix(mix, id);
    this.pool.mixJoins.set(id, join);
    if (!this.pool.isMoving(id)) this.pool.send(id, join);
  }

  /** Before `id` joins the mix: both in one worker (an empty mix is made, or made again, in id's). */
  private placeMix(mix: MixId, id: EndpointId): void {
    const placement = this.pool.placement;
    const w = placement.workerOf(id)!;
    const at = placement.mixWorker(mix);
    const members = placement.mixMembers(mix);
    if (members.length > 0) {
      this.pool.together(members[0]!, id);
      return;
    }
    if (at === w) return;
    if (at !== undefined) this.pool.post(at, { t: 'mix-destroy', mix });
    this.pool.post(w, { t: 'mix-create', mix });
    placement.setMixWorker(mix, w);
  }

  leaveMix(mix: MixId, id: EndpointId): void {
    const placement = this.pool.placement;
    if (!placement.hasMix(mix) || !placement.mixMembers(mix).includes(id)) return;
    placement.leaveMix(mix, id);
    this.pool.mixJoins.delete(id);
    if (!this.pool.isMoving(id)) this.pool.send(id, { t: 'mix-leave', mix, id });
  }

  destroyMix(mix: MixId): void {
    const placement = this.pool.placement;
    if (!placement.hasMix(mix)) return;
    const at = placement.mixWorker(mix);
    for (const id of placement.mixMembers(mix)) this.pool.mixJoins.delete(id);
    placement.destroyMix(mix);
    if (at !== undefined) this.pool.post(at, { t: 'mix-destroy', mix });
  }

  play(id: EndpointId, files: string[], opts: { loop?: boolean } = {}): PlayHandle {
    const playId = this.nextPlay++;
    let resolve!: (reason: 'completed' | 'stopped') => void;
    const done = new Promise<'completed' | 'stopped'>((r) => (resolve = r));
    const entry: PlayEntry = { id, resolve, posted: false, stopped: false };
    this.plays.set(playId, entry);
    const s = this.endpoints.get(id);
    if (!s || !this.pool.anyRunning) {
      this.finishPlay(playId, 'stopped');
      return { stop: () => undefined, done };
    }
    // Encoded once for the leg's codec; the worker transcodes if the codec changes while it plays.
    const codec = s.negotiated?.codec ?? s.codecs[0]!;
    this.prompts.load(files, codec).then(
      (audio) => {
        if (entry.stopped || !this.plays.has(playId) || !this.endpoints.has(id)) {
          this.finishPlay(playId, 'stopped');
          return;
        }
        entry.posted = true;
        this.pool.send(id, { t: 'play', id, playId, audio, codec, loop: opts.loop === true });
      },
      (err: unknown) => {
        this.logger.warn({ err, endpoint: id, label: s.label, files }, 'prompt not played');
        this.finishPlay(playId, 'stopped');
      },
    );
    return {
      stop: () => {
        if (entry.stopped || !this.plays.has(playId)) return;
        entry.stopped = true;
        if (entry.posted) this.pool.send(id, { t: 'stop-play', playId });
        else this.finishPlay(playId, 'stopped');
      },
      done,
    };
  }

  private finishPlay(playId: number, reason: 'completed' | 'stopped'): void {
    const entry = this.plays.get(playId);
    if (!entry) return;
    this.plays.delete(playId);
    entry.resolve(reason);
  }

  record(id: EndpointId, path: string, opts: RecordOptions): RecordHandle {
    return this.recordings.record(id, path, opts);
  }

  recordCall(a: EndpointId, b: EndpointId, path: string, opts: CallRecordOptions): CallRecordHandle {
    return this.recordings.recordCall(a, b, path, opts);
  }

  sendDtmf(id: EndpointId, digits: string, opts: { durationMs?: number } = {}): void {
    const valid = [...digits].filter((d) => digitToEvent(d) >= 0).join('');
    if (valid === '' || !this.endpoints.has(id)) return;
    this.pool.send(id, { t: 'send-dtmf', id, digits: valid, durationMs: opts.durationMs ?? DEFAULT_DTMF_DURATION_MS });
  }

  injectDtmf(id: EndpointId, digit: string, durationMs: number): void {
    if (digitToEvent(digit) < 0 || !this.endpoints.has(id)) return;
    this.pool.send(id, { t: 'inject-dtmf', id, digit: digit.toUpperCase(), durationMs: Number.isFinite(durationMs) && durationMs > 0 ? durationMs : DEFAULT_DTMF_DURATION_MS });
  }

  setDtmfPolicy(id: EndpointId, policy: DtmfPolicy): void {
    if (this.endpoints.has(id)) this.pool.send(id, { t: 'dtmf-policy', id, policy });
  }

  releaseDtmf(id: EndpointId, forward: boolean): void {
    if (this.endpoints.has(id)) this.pool.send(id, { t: 'release-dtmf', id, forward });
  }
}
