// A MediaEngine for unit tests: no sockets and no worker. Offer/answer runs through the real SDP code
// (src/media/sdp.ts), so a codec mismatch fails with MediaError 488 exactly as in the built-in engine.
// Everything else is recorded for the test to ask about: which endpoints are bridged, what each one plays
// (prompts end after their length on the fake clock), the DTMF policy, the digits each party hears. The test
// plays the parties: press() is a key pressed on a phone, rtpTimeout() a party whose RTP stopped.
import { readFileSync, writeFileSync } from 'node:fs';
import {
  MediaError,
  type CallRecordHandle,
  type CallRecordOptions,
  type Codec,
  type Direction,
  type DtmfPolicy,
  type DtmfSource,
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
  type RecordResult,
} from '../../src/media/engine.js';
import { DEFAULT_TELEPHONE_EVENT_PT, acceptAnswer, answerOffer, buildOffer, type Negotiation, type OfferedMedia } from '../../src/media/sdp.js';
import { buildWav, parseWav } from '../../src/media/builtin/wav.js';
import { DEFAULT_SILENCE_THRESHOLD } from '../../src/media/builtin/recorder.js';
import type { Clock, TimerHandle } from '../../src/util/clock.js';

export const MEDIA_ADDRESS = '127.0.99.1';
const ALL_CODECS: readonly Codec[] = ['PCMU', 'PCMA'];
const FRAME_MS = 20;
const FRAME_SAMPLES = 160;
const DTMF_DIGIT = /^[0-9*#A-D]$/;

/** One play() call and how it went. */
export interface PlayRecord {
  endpoint: EndpointId;
  files: string[];
  loop: boolean;
  state: 'playing' | 'completed' | 'stopped';
}

interface Endpoint {
  id: EndpointId;
  label: string;
  codecs: Codec[];
  port: number;
  sessionId: string;
  sessionVersion: number;
  offered: OfferedMedia | null;
  negotiated: NegotiatedMedia | undefined;
  policy: DtmfPolicy;
  peer: Endpoint | undefined;
  /** Digits sent toward this endpoint's party (sendDtmf, or forwarded from its bridged peer). */
  heard: string;
  held: string[];
  player: { record: PlayRecord; finish: (reason: 'completed' | 'stopped') => void } | undefined;
  recorder: Recorder | undefined;
  live: boolean;
  /** The mix the endpoint is in, if any. */
  mix: MixId | undefined;
}

/**
 * A recording in progress: the samples the test's party "says" (talk()) are kept and written as a real WAV
 * when it ends; silence is timed on the fake clock from the last frame with sound, as the built-in engine
 * times it from the last packet with sound.
 */
interface Recorder {
  path: string;
  samples: number[];
  maxSamples: number;
  maxSilenceMs: number;
  threshold: number;
  lastSoundAtSample: number;
  silenceTimer: TimerHandle | undefined;
  finish: (reason: RecordResult['reason']) => void;
}

/**
 * A call recording (recordCall): the endpoint pairs it was pointed at, in order, whether it is paused, and
 * how it ended. Its file is written when it stops: a WAV of silence as long as the recorded (unpaused) time
 * on the fake clock, in the asked format.
 */
export interface CallRecording {
  path: string;
  format: CallRecordOptions['format'];
  targets: Array<[EndpointId, EndpointId]>;
  paused: boolean;
  state: 'recording' | 'stopped';
  /** Recorded (unpaused) time so far, up to the last pause or the stop (ms). */
  recordedMs: number;
}

/** Samples in each prompt file read so far (prompts do not change during a test run). */
const sampleCounts = new Map<string, number>();

type Listeners = { [E in keyof MediaEngineEvents]: Set<MediaEngineEvents[E]> };

export class MemoryMedia implements MediaEngine {
  readonly webrtc = false;
  private readonly endpoints = new Map<EndpointId, Endpoint>();
  private readonly byPort = new Map<number, Endpoint>();
  private readonly listeners: Listeners = { dtmf: new Set(), 'rtp-timeout': new Set() };
  private readonly history: PlayRecord[] = [];
  /** Every call recording started, oldest first. */
  readonly callRecordings: CallRecording[] = [];
  private gate: { skip: number; opened: Promise<void> } | undefined;
  private nextId = 1;
  private nextPort = 30000;
  private readonly mixes = new Map<MixId, Map<EndpointId, MixMember>>();
  private nextMix = 1;

  constructor(private readonly clock: Clock) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    for (const id of [...this.endpoints.keys()]) this.destroy(id);
  }

  // ---- test hooks ---------------------------------------------------------------------------------

  /**
   * Hold createEndpoint() calls — after letting `skip` more through — until the returned function is called:
   * the window in which a call's media is being set up (a busy media worker), for races with CANCEL.
   */
  holdEndpoints(skip = 0): () => void {
    let open!: () => void;
    this.gate = { skip, opened: new Promise<void>((r) => (open = r)) };
    return () => {
      this.gate = undefined;
      open();
    };
  }

  /** A key pressed on the phone of this endpoint's party (RFC 4733 by default, or SIP INFO). */
  press(id: EndpointId, digits: string, source: DtmfSource = 'rfc4733'): void {
    const ep = this.require(id);
    for (const d of digits) if (ep.live) this.received(ep, d.toUpperCase(), source);
  }

  /**
   * The party says something: `ms` of a sine at `hz` (amplitude 0 = silence), in 20 ms frames, all at once
   * (the fake clock does not move). What a recording on the endpoint keeps; otherwise it is not heard.
   */
  talk(id: EndpointId, ms: number, opts: { hz?: number; amplitude?: number } = {}): void {
    const ep = this.require(id);
    const rec = ep.recorder;
    if (!rec) return;
    const hz = opts.hz ?? 440;
    const amplitude = opts.amplitude ?? 8000;
    const frames = Math.round(ms / FRAME_MS);
    for (let f = 0; f < frames && ep.recorder === rec; f++) {
      let energy = 0;
      for (let i = 0; i < FRAME_SAMPLES && rec.samples.length < rec.maxSamples; i++) {
        const s = Math.round(amplitude * Math.sin((2 * Math.PI * hz * rec.samples.length) / 8000));
        rec.samples.push(s);
        energy += Math.abs(s);
      }
      if (energy / FRAME_SAMPLES >= rec.threshold) {
        rec.lastSoundAtSample = rec.samples.length;
        this.armSilence(rec);
      }
      if (rec.samples.length >= rec.maxSamples) rec.finish('max-length');
    }
  }

  /** Whether the endpoint is being recorded now. */
  isRecording(id: EndpointId): boolean {
    return this.endpoints.get(id)?.recorder !== undefined;
  }

  private armSilence(rec: Recorder): void {
    rec.silenceTimer?.cancel();
    if (rec.maxSilenceMs > 0) rec.silenceTimer = this.clock.setTimer(rec.maxSilenceMs, () => rec.finish('silence'));
  }

  /** The party's RTP stopped: the engine reports the timeout. */
  rtpTimeout(id: EndpointId): void {
    this.require(id);
    for (const l of this.listeners['rtp-timeout']) l(id);
  }

  /** The endpoint whose SDP carries this port (what a phone talks to). */
  endpointAt(port: number): EndpointId | undefined {
    return this.byPort.get(port)?.id;
  }

  bridged(a: EndpointId, b: EndpointId): boolean {
    const x = this.endpoints.get(a);
    return x !== undefined && x.peer !== undefined && x.peer.id === b && x.peer.peer === x;
  }

  /** The endpoint this one is bridged to now. */
  peerOf(id: EndpointId): EndpointId | undefined {
    return this.endpoints.get(id)?.peer?.id;
  }

  isLive(id: EndpointId): boolean {
    return this.endpoints.get(id)?.live === true;
  }

  /** What the endpoint's party hears from a prompt now, if anything. */
  nowPlaying(id: EndpointId): PlayRecord | undefined {
    return this.endpoints.get(id)?.player?.record;
  }

  /** Every play() on this endpoint, oldest first. */
  plays(id: EndpointId): PlayRecord[] {
    return this.history.filter((p) => p.endpoint === id);
  }

  /** Digits the endpoint's party has heard as DTMF, in order. */
  heard(id: EndpointId): string {
    return this.endpoints.get(id)?.heard ?? '';
  }

  dtmfPolicy(id: EndpointId): DtmfPolicy | undefined {
    return this.endpoints.get(id)?.policy;
  }

  /** The members of a mix now and how each is mixed (undefined when the mix does not exist). */
  mixMembers(mix: MixId): ReadonlyMap<EndpointId, MixMember> | undefined {
    return this.mixes.get(mix);
  }

  /** The mix the endpoint is in, if any. */
  mixOf(id: EndpointId): MixId | undefined {
    return this.endpoints.get(id)?.mix;
  }

  /** Mixes not destroyed. */
  get mixIds(): MixId[] {
    return [...this.mixes.keys()];
  }

  /** Endpoints not destroyed. */
  get liveCount(): number {
    return this.endpoints.size;
  }

  // ---- MediaEngine ----------------------------------------------------------------------------------

  on<E extends keyof MediaEngineEvents>(event: E, listener: MediaEngineEvents[E]): this {
    (this.listeners[event] as Set<MediaEngineEvents[E]>).add(listener);
    return this;
  }

  off<E extends keyof MediaEngineEvents>(event: E, listener: MediaEngineEvents[E]): this {
    (this.listeners[event] as Set<MediaEngineEvents[E]>).delete(listener);
    return this;
  }

  async createEndpoint(opts: EndpointOptions = {}): Promise<EndpointId> {
    const codecs = [...new Set(opts.codecs ?? ALL_CODECS)].filter((c) => ALL_CODECS.includes(c));
    if (codecs.length === 0) throw new MediaError('no G.711 codec allowed for the endpoint', 488);
    if (this.gate && this.gate.skip > 0) this.gate.skip--;
    else while (this.gate) await this.gate.opened;
    const id = `m${this.nextId++}`;
    const port = (this.nextPort += 2);
    const ep: Endpoint = {
      id,
      label: opts.label ?? id,
      codecs,
      port,
      sessionId: String(1000 + this.nextId),
      sessionVersion: 0,
      offered: null,
      negotiated: undefined,
      policy: 'pass',
      peer: undefined,
      heard: '',
      held: [],
      player: undefined,
      recorder: undefined,
      live: true,
      mix: undefined,
    };
    this.endpoints.set(id, ep);
    this.byPort.set(port, ep);
    return id;
  }

  private require(id: EndpointId): Endpoint {
    const ep = this.endpoints.get(id);
    if (!ep) throw new MediaError(`unknown media endpoint ${id}`, 500);
    return ep;
  }

  private local(ep: Endpoint, direction: Direction) {
    return { address: MEDIA_ADDRESS, port: ep.port, sessionId: ep.sessionId, sessionVersion: ep.sessionVersion + 1, direction };
  }

  async createOffer(id: EndpointId, opts: OfferOptions = {}): Promise<string> {
    const ep = this.require(id);
    const offered: OfferedMedia = { codecs: ep.codecs, telephoneEventPt: DEFAULT_TELEPHONE_EVENT_PT, direction: opts.direction ?? 'sendrecv' };
    const sdp = buildOffer(this.local(ep, offered.direction), offered);
    ep.sessionVersion++;
    ep.offered = offered;
    return sdp;
  }

  async acceptAnswer(id: EndpointId, answerSdp: string): Promise<NegotiatedMedia> {
    const ep = this.require(id);
    if (!ep.offered) throw new MediaError('no offer outstanding for this endpoint', 500);
    const n = acceptAnswer(answerSdp, ep.offered);
    ep.offered = null;
    return this.apply(ep, n);
  }

  async answerOffer(id: EndpointId, offerSdp: string, opts: OfferOptions = {}): Promise<{ sdp: string; media: NegotiatedMedia }> {
    const ep = this.require(id);
    const { sdp, negotiation } = answerOffer(offerSdp, { ...this.local(ep, opts.direction ?? 'sendrecv'), codecs: ep.codecs });
    ep.sessionVersion++;
    return { sdp, media: this.apply(ep, negotiation) };
  }

  /** A dry run of answerOffer, as the built-in engine does it: throws what answering would, changes nothing. */
  async checkOffer(id: EndpointId, offerSdp: string): Promise<void> {
    const ep = this.require(id);
    answerOffer(offerSdp, { ...this.local(ep, 'sendrecv'), codecs: ep.codecs });
  }

  private apply(ep: Endpoint, n: Negotiation): NegotiatedMedia {
    ep.negotiated = n.media;
    return n.media;
  }

  negotiated(id: EndpointId): NegotiatedMedia | undefined {
    return this.endpoints.get(id)?.negotiated;
  }

  async stats(id: EndpointId): Promise<EndpointStats> {
    this.require(id);
    return { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, lost: 0, remote: null, latched: false, lastPacketAt: null, dtmfEvents: 0 };
  }

  /** No packets flow in memory; the endpoint count is real. */
  async totals(): Promise<MediaTotals> {
    return { packetsIn: 0, packetsOut: 0, relayed: 0, lost: 0, endpoints: this.liveCount, sendsDropped: 0, truncated: 0, pooledPairs: 0 };
  }

  destroy(id: EndpointId): void {
    const ep = this.endpoints.get(id);
    if (!ep) return;
    this.unbridge(id);
    if (ep.mix !== undefined) this.leaveMix(ep.mix, id);
    ep.player?.finish('stopped');
    ep.recorder?.finish('ended');
    ep.live = false;
    this.endpoints.delete(id);
  }

  // As in the built-in engine, these ignore an unknown endpoint: it may just have ended.

  bridge(a: EndpointId, b: EndpointId): void {
    const x = this.endpoints.get(a);
    const y = this.endpoints.get(b);
    if (!x || !y || x === y) return;
    if (x.peer !== y) this.unbridge(a);
    if (y.peer !== x) this.unbridge(b);
    if (x.mix !== undefined) this.leaveMix(x.mix, a);
    if (y.mix !== undefined) this.leaveMix(y.mix, b);
    x.peer = y;
    y.peer = x;
  }

  unbridge(id: EndpointId): void {
    const ep = this.endpoints.get(id);
    if (!ep) return;
    if (ep.peer && ep.peer.peer === ep) ep.peer.peer = undefined;
    ep.peer = undefined;
  }

  // Mixing keeps membership only (no audio), for tests to inspect with mixMembers() / mixOf().

  createMix(): MixId {
    const mix = `x${this.nextMix++}`;
    this.mixes.set(mix, new Map());
    return mix;
  }

  joinMix(mix: MixId, id: EndpointId, member: MixMember): void {
    const members = this.mixes.get(mix);
    const ep = this.endpoints.get(id);
    if (!members || !ep) return;
    this.unbridge(id);
    if (ep.mix !== undefined && ep.mix !== mix) this.leaveMix(ep.mix, id);
    ep.mix = mix;
    members.set(id, { hears: member.hears === 'all' ? 'all' : [...member.hears], speaks: member.speaks, volumeDb: Math.min(12, Math.max(-12, member.volumeDb ?? 0)) });
  }

  leaveMix(mix: MixId, id: EndpointId): void {
    const members = this.mixes.get(mix);
    if (!members?.delete(id)) return;
    const ep = this.endpoints.get(id);
    if (ep?.mix === mix) ep.mix = undefined;
  }

  destroyMix(mix: MixId): void {
    const members = this.mixes.get(mix);
    if (!members) return;
    for (const id of [...members.keys()]) this.leaveMix(mix, id);
    this.mixes.delete(mix);
  }

  play(id: EndpointId, files: string[], opts: { loop?: boolean } = {}): PlayHandle {
    const ep = this.endpoints.get(id);
    const record: PlayRecord = { endpoint: id, files: [...files], loop: opts.loop === true, state: 'playing' };
    this.history.push(record);
    let resolve!: (reason: 'completed' | 'stopped') => void;
    const done = new Promise<'completed' | 'stopped'>((r) => (resolve = r));
    let timer: TimerHandle | undefined;
    const finish = (reason: 'completed' | 'stopped') => {
      if (record.state !== 'playing') return;
      record.state = reason;
      timer?.cancel();
      if (ep?.player?.record === record) ep.player = undefined;
      resolve(reason);
    };
    const length = ep ? this.lengthMs(files) : undefined;
    if (!ep || length === undefined) {
      finish('stopped');
      return { stop: () => undefined, done };
    }
    // One prompt at a time per endpoint: a new one replaces what was playing.
    ep.player?.finish('stopped');
    ep.player = { record, finish };
    if (length === 0) finish('completed');
    else if (!record.loop) timer = this.clock.setTimer(length, () => finish('completed'));
    return { stop: () => finish('stopped'), done };
  }

  record(id: EndpointId, path: string, opts: RecordOptions): RecordHandle {
    const ep = this.endpoints.get(id);
    let resolve!: (r: RecordResult) => void;
    const done = new Promise<RecordResult>((r) => (resolve = r));
    if (!ep) {
      resolve({ reason: 'failed', durationMs: 0, error: `unknown media endpoint ${id}` });
      return { stop: () => undefined, done };
    }
    ep.recorder?.finish('stopped');
    let finished = false;
    const rec: Recorder = {
      path,
      samples: [],
      maxSamples: Math.round(opts.maxSeconds * 8000),
      maxSilenceMs: Math.round((opts.maxSilenceSeconds ?? 0) * 1000),
      threshold: opts.silenceThreshold ?? DEFAULT_SILENCE_THRESHOLD,
      lastSoundAtSample: 0,
      silenceTimer: undefined,
      finish: (reason) => {
        if (finished) return;
        finished = true;
        rec.silenceTimer?.cancel();
        if (ep.recorder === rec) ep.recorder = undefined;
        // As the built-in engine: a recording stopped by silence leaves the silence out (0.2 s tail kept).
        const keep = reason === 'silence' ? Math.min(rec.samples.length, rec.lastSoundAtSample + 1600) : rec.samples.length;
        try {
          writeFileSync(path, buildWav(Int16Array.from(rec.samples.slice(0, keep))));
          resolve({ reason, durationMs: Math.round(keep / 8) });
        } catch (err) {
          resolve({ reason: 'failed', durationMs: 0, error: (err as Error).message });
        }
      },
    };
    ep.recorder = rec;
    this.armSilence(rec);
    return { stop: () => rec.finish('stopped'), done };
  }

  recordCall(a: EndpointId, b: EndpointId, path: string, opts: CallRecordOptions): CallRecordHandle {
    let resolve!: (r: RecordResult) => void;
    const done = new Promise<RecordResult>((r) => (resolve = r));
    const rec: CallRecording = { path, format: opts.format, targets: [[a, b]], paused: false, state: 'recording', recordedMs: 0 };
    this.callRecordings.push(rec);
    let since = this.clock.monotonic();
    const settle = (): void => {
      if (!rec.paused) rec.recordedMs += this.clock.monotonic() - since;
      since = this.clock.monotonic();
    };
    return {
      retarget: (x, y) => {
        if (rec.state === 'recording') rec.targets.push([x, y]);
      },
      pause: (paused) => {
        if (rec.state !== 'recording' || paused === rec.paused) return;
        settle();
        rec.paused = paused;
      },
      stop: () => {
        if (rec.state !== 'recording') return;
        settle();
        rec.state = 'stopped';
        const channels = opts.format === 'stereo' ? 2 : 1;
        try {
          writeFileSync(path, buildWav(new Int16Array(Math.round(rec.recordedMs * 8) * channels), 8000, channels));
          resolve({ reason: 'stopped', durationMs: rec.recordedMs });
        } catch (err) {
          resolve({ reason: 'failed', durationMs: 0, error: (err as Error).message });
        }
      },
      done,
    };
  }

  /** How long these files play (ms), as play() times them. */
  playLength(files: string[]): number {
    const ms = this.lengthMs(files);
    if (ms === undefined) throw new Error(`unreadable prompt among ${files.join(', ')}`);
    return ms;
  }

  /** How long the files play, at 20 ms per 160-sample frame (the last one padded); undefined if one is unreadable. */
  private lengthMs(files: string[]): number | undefined {
    let samples = 0;
    for (const f of files) {
      let n = sampleCounts.get(f);
      if (n === undefined) {
        try {
          n = parseWav(readFileSync(f), f).length;
        } catch {
          return undefined;
        }
        sampleCounts.set(f, n);
      }
      samples += n;
    }
    return Math.ceil(samples / FRAME_SAMPLES) * FRAME_MS;
  }

  sendDtmf(id: EndpointId, digits: string): void {
    const ep = this.endpoints.get(id);
    if (!ep) return;
    ep.heard += [...digits.toUpperCase()].filter((d) => DTMF_DIGIT.test(d)).join('');
  }

  injectDtmf(id: EndpointId, digit: string): void {
    const ep = this.endpoints.get(id);
    if (ep && DTMF_DIGIT.test(digit.toUpperCase())) this.received(ep, digit.toUpperCase(), 'info');
  }

  setDtmfPolicy(id: EndpointId, policy: DtmfPolicy): void {
    const ep = this.endpoints.get(id);
    if (ep) ep.policy = policy;
  }

  releaseDtmf(id: EndpointId, forward: boolean): void {
    const ep = this.endpoints.get(id);
    if (!ep) return;
    const digits = ep.held.splice(0);
    if (forward && ep.peer) for (const d of digits) this.forward(ep.peer, d);
  }

  /** A digit from the endpoint's party: reported, then forwarded, held or dropped per policy. */
  private received(ep: Endpoint, digit: string, source: DtmfSource): void {
    for (const l of this.listeners.dtmf) l(ep.id, digit, 100, source);
    if (!ep.live) return;
    if (ep.policy === 'holdback') ep.held.push(digit);
    else if (ep.policy === 'pass' && ep.peer) this.forward(ep.peer, digit);
  }

  private forward(to: Endpoint, digit: string): void {
    // As the built-in engine: DTMF reaches a party only over a negotiated telephone-event.
    if (to.negotiated?.telephoneEventPt !== undefined) to.heard += digit;
  }
}
