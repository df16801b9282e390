// BuiltinMediaEngine: the MediaEngine of DESIGN.md on the main thread. SDP offer/answer is done here; the
// RTP sockets and the per-packet work live in one worker thread (worker.ts) that this class drives with small
// control messages and that reports DTMF, RTP timeouts, prompt ends and stats back.
import { checkBuild, workerLocation } from './worker-location.js';
import { Worker } from 'node:worker_threads';
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
  /** Only one media worker for now. */
  workerCount?: 1;
}

interface EndpointState {
  label: string;
  codecs: Codec[];
  port: number;
  sessionId: string;
  sessionVersion: number;
  offered: OfferedMedia | null;
  negotiated: NegotiatedMedia | undefined;
}

interface PendingRequest {
  resolve: (msg: FromWorker) => void;
  reject: (err: Error) => void;
}

interface PlayEntry {
  id: EndpointId;
  resolve: (reason: 'completed' | 'stopped') => void;
  posted: boolean;
  stopped: boolean;
}

const ALL_CODECS: readonly Codec[] = ['PCMU', 'PCMA'];
/** How long the latched RTP source must be silent before another may take over (symmetric RTP). */
const RELATCH_AFTER_MS = 2000;
const SHUTDOWN_GRACE_MS = 2000;
/** Worker restarts allowed within RESTART_WINDOW_MS before the engine gives up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

type Listeners = { [E in keyof MediaEngineEvents]: Set<MediaEngineEvents[E]> };

export class BuiltinMediaEngine implements MediaEngine {
  /** Plain RTP only: WebRTC legs need rtpengine in front (src/media/rtpengine/). */
  readonly webrtc = false;
  private readonly logger: Logger;
  private readonly bindAddress: string;
  private worker: Worker | null = null;
  private starting: Promise<void> | null = null;
  private stopping = false;
  private readonly endpoints = new Map<EndpointId, EndpointState>();
  private readonly requests = new Map<number, PendingRequest>();
  private readonly plays = new Map<number, PlayEntry>();
  private readonly recordings = new EngineRecordings({
    post: (msg) => {
      if (!this.worker) return false;
      this.post(msg);
      return true;
    },
    hasEndpoint: (id) => this.endpoints.has(id),
  });
  private readonly prompts = new PromptCache();
  private readonly listeners: Listeners = { dtmf: new Set(), 'rtp-timeout': new Set() };
  private readonly restarts: number[] = [];
  private nextRequest = 1;
  private nextEndpoint = 1;
  private nextPlay = 1;
  private nextMix = 1;
  /** Mixes that exist in the worker (gone with it when it exits). */
  private readonly mixes = new Set<MixId>();

  constructor(private readonly options: BuiltinMediaEngineOptions) {
    this.logger = options.logger.child({ component: 'media' });
    this.bindAddress = options.bindAddress ?? (options.address.includes(':') ? '::' : '0.0.0.0');
  }

  // ---- lifecycle ------------------------------------------------------------------------------------

  start(): Promise<void> {
    if (this.worker) return Promise.resolve();
    this.stopping = false;
    this.starting ??= this.spawn().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  async stop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const worker = this.worker;
    this.stopping = true;
    if (!worker) return;
    // Let the worker close its sockets, then end the thread whatever happened.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SHUTDOWN_GRACE_MS);
      const onMessage = (msg: FromWorker): void => {
        if (msg.t !== 'closed') return;
        clearTimeout(timer);
        resolve();
      };
      worker.on('message', onMessage);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage({ t: 'shutdown' } satisfies ToWorker);
    });
    this.worker = null;
    await worker.terminate();
    this.abandonAll(new MediaError('media engine stopped', 503));
    this.endpoints.clear();
    this.mixes.clear();
  }

  private async spawn(): Promise<void> {
    const { url, fromSource } = workerLocation();
    if (fromSource) await checkBuild(url);
    const worker = new Worker(url);
    await new Promise<void>((resolve, reject) => {
      const onReady = (msg: FromWorker): void => {
        if (msg.t !== 'ready') return;
        worker.off('message', onReady);
        worker.off('error', onError);
        resolve();
      };
      const onError = (err: Error): void => {
        worker.off('message', onReady);
        reject(new MediaError(`media worker failed to start: ${err.message}`, 500));
      };
      worker.on('message', onReady);
      worker.once('error', onError);
      worker.postMessage({
        t: 'init',
        settings: {
          bindAddress: this.bindAddress,
          rtpPorts: this.options.rtpPorts,
          rtpTimeoutMs: Math.max(0, this.options.rtpTimeoutSec) * 1000,
          relatchAfterMs: RELATCH_AFTER_MS,
          udpIo: this.options.udpIo,
        },
      } satisfies ToWorker);
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (err) => this.logger.error({ err }, 'media worker crashed'));
    worker.on('exit', (code) => this.onExit(worker, code));
    this.worker = worker;
  }

  /**
   * The worker died with calls up: its sockets are gone, so every endpoint is reported as timed out (the
   * calls end with cause 41) and a new worker is started for new calls.
   */
  private onExit(worker: Worker, code: number): void {
    if (this.worker !== worker || this.stopping) return;
    this.worker = null;
    this.logger.error({ code, endpoints: this.endpoints.size }, 'media worker exited unexpectedly');
    this.abandonAll(new MediaError('media worker exited', 500));
    const lost = [...this.endpoints.keys()];
    this.endpoints.clear();
    this.mixes.clear();
    for (const id of lost) this.emit('rtp-timeout', id);
    const t = Date.now();
    while (this.restarts.length > 0 && t - this.restarts[0]! > RESTART_WINDOW_MS) this.restarts.shift();
    if (this.restarts.length >= MAX_RESTARTS) {
      this.logger.fatal('media worker keeps exiting: not restarted');
      return;
    }
    this.restarts.push(t);
    this.start().catch((err: unknown) => this.logger.error({ err }, 'media worker restart failed'));
  }

  private abandonAll(err: Error): void {
    for (const r of this.requests.values()) r.reject(err);
    this.requests.clear();
    for (const [playId] of this.plays) this.finishPlay(playId, 'stopped');
    this.recordings.abandon(err);
  }

  private post(msg: ToWorker): void {
    this.worker?.postMessage(msg);
  }

  private async request(build: (req: number) => ToWorker): Promise<FromWorker> {
    // A worker being (re)started is waited for rather than failing the call that needs it.
    if (!this.worker && this.starting) await this.starting.catch(() => undefined);
    const worker = this.worker;
    if (!worker) throw new MediaError('media engine not started', 503);
    const req = this.nextRequest++;
    return new Promise((resolve, reject) => {
      this.requests.set(req, { resolve, reject });
      worker.postMessage(build(req));
    });
  }

  private onMessage(msg: FromWorker): void {
    switch (msg.t) {
      case 'created':
      case 'failed':
      case 'stats':
      case 'totals': {
        const pending = this.requests.get(msg.req);
        this.requests.delete(msg.req);
        pending?.resolve(msg);
        break;
      }
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
        this.recordings.done(msg.recId, msg.reason, msg.samples, msg.error);
        break;
      case 'log': {
        const fields = msg.id === undefined ? {} : { endpoint: msg.id, label: this.endpoints.get(msg.id)?.label };
        this.logger[msg.level](fields, msg.msg);
        break;
      }
      case 'ready':
      case 'closed':
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
    const codecs = [...new Set(opts.codecs ?? ALL_CODECS)].filter((c) => ALL_CODECS.includes(c));
    if (codecs.length === 0) throw new MediaError('no G.711 codec allowed for the endpoint', 488);
    const id = `m${this.nextEndpoint++}`;
    const label = opts.label ?? id;
    const reply = await this.request((req) => ({ t: 'create', req, id, label }));
    if (reply.t === 'failed') throw new MediaError(reply.message, reply.sipStatus);
    if (reply.t !== 'created') throw new MediaError('unexpected reply from the media worker', 500);
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
    this.post({ t: 'configure', id, stream: streamConfig(negotiation) });
    return negotiation.media;
  }

  negotiated(id: EndpointId): NegotiatedMedia | undefined {
    return this.endpoints.get(id)?.negotiated;
  }

  destroy(id: EndpointId): void {
    if (!this.endpoints.delete(id)) return;
    this.post({ t: 'destroy', id });
  }

  async stats(id: EndpointId): Promise<EndpointStats> {
    this.state(id);
    const reply = await this.request((req) => ({ t: 'stats', req, id }));
    if (reply.t !== 'stats' || !reply.stats) throw new MediaError(`unknown media endpoint ${id}`, 500);
    return reply.stats;
  }

  async totals(): Promise<MediaTotals> {
    const reply = await this.request((req) => ({ t: 'totals', req }));
    if (reply.t !== 'totals') throw new MediaError('media worker answered a totals request with something else', 500);
    return reply.totals;
  }

  // ---- bridging, prompts, DTMF (fire-and-forget: an unknown endpoint is ignored, it may just have ended) ----

  bridge(a: EndpointId, b: EndpointId): void {
    if (this.endpoints.has(a) && this.endpoints.has(b)) this.post({ t: 'bridge', a, b });
  }

  unbridge(id: EndpointId): void {
    if (this.endpoints.has(id)) this.post({ t: 'unbridge', id });
  }

  // ---- mixing (mixer.ts in the worker; like bridging, an unknown endpoint or mix is ignored) ----------------

  createMix(): MixId {
    const mix = `x${this.nextMix++}`;
    this.mixes.add(mix);
    this.post({ t: 'mix-create', mix });
    return mix;
  }

  joinMix(mix: MixId, id: EndpointId, member: MixMember): void {
    if (!this.mixes.has(mix) || !this.endpoints.has(id)) {
      this.logger.debug({ mix, endpoint: id }, 'joinMix: mix or endpoint not found');
      return;
    }
    const db = member.volumeDb;
    const volumeDb = db === undefined || !Number.isFinite(db) ? 0 : Math.min(MAX_VOLUME_DB, Math.max(MIN_VOLUME_DB, db));
    this.post({ t: 'mix-join', mix, id, hears: member.hears === 'all' ? 'all' : [...member.hears], speaks: member.speaks, volumeDb });
  }

  leaveMix(mix: MixId, id: EndpointId): void {
    if (this.mixes.has(mix) && this.endpoints.has(id)) this.post({ t: 'mix-leave', mix, id });
  }

  destroyMix(mix: MixId): void {
    if (this.mixes.delete(mix)) this.post({ t: 'mix-destroy', mix });
  }

  play(id: EndpointId, files: string[], opts: { loop?: boolean } = {}): PlayHandle {
    const playId = this.nextPlay++;
    let resolve!: (reason: 'completed' | 'stopped') => void;
    const done = new Promise<'completed' | 'stopped'>((r) => (resolve = r));
    const entry: PlayEntry = { id, resolve, posted: false, stopped: false };
    this.plays.set(playId, entry);
    const s = this.endpoints.get(id);
    if (!s || !this.worker) {
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
        this.post({ t: 'play', id, playId, audio, codec, loop: opts.loop === true });
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
        if (entry.posted) this.post({ t: 'stop-play', playId });
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
    this.post({ t: 'send-dtmf', id, digits: valid, durationMs: opts.durationMs ?? DEFAULT_DTMF_DURATION_MS });
  }

  injectDtmf(id: EndpointId, digit: string, durationMs: number): void {
    if (digitToEvent(digit) < 0 || !this.endpoints.has(id)) return;
    this.post({ t: 'inject-dtmf', id, digit: digit.toUpperCase(), durationMs: Number.isFinite(durationMs) && durationMs > 0 ? durationMs : DEFAULT_DTMF_DURATION_MS });
  }

  setDtmfPolicy(id: EndpointId, policy: DtmfPolicy): void {
    if (this.endpoints.has(id)) this.post({ t: 'dtmf-policy', id, policy });
  }

  releaseDtmf(id: EndpointId, forward: boolean): void {
    if (this.endpoints.has(id)) this.post({ t: 'release-dtmf', id, forward });
  }
}
