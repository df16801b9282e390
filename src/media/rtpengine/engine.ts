// RtpengineMediaEngine: rtpengine on the wire side of the built-in engine's endpoints. rtpengine speaks to the
// party (ICE, DTLS-SRTP, rtcp-mux, latching; kernel forwarding when its module is loaded) and hands plain
// G.711 RTP to a built-in endpoint, which does everything a call needs (bridges, mixes, prompts, DTMF
// detection and suppression, recording). So every feature works the same on an rtpengine leg.
//
// Each endpoint gets its own rtpengine call per profile it offered, with two monologues: tag `w` (the party)
// and tag `i` (the built-in endpoint). An offer from the party is sent as `offer` from `w` and comes out plain
// for the built-in endpoint; the built-in answer goes back as `answer` and comes out in the party's profile.
// Offers of ours go the other way round. `wrap: 'webrtc'` (mixed mode) sends only WebRTC legs through
// rtpengine; `wrap: 'all'` sends every leg.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import {
  MediaError,
  type CallRecordHandle,
  type CallRecordOptions,
  type DtmfPolicy,
  type EndpointId,
  type EndpointOptions,
  type EndpointStats,
  type MediaEngine,
  type MediaEngineEvents,
  type MediaProfile,
  type MediaTotals,
  type MixId,
  type MixMember,
  type NegotiatedMedia,
  type OfferOptions,
  type PlayHandle,
  type RecordHandle,
  type RecordOptions,
} from '../engine.js';
import { NgRefused, NgUnreachable, type NgClient, type NgDictionary } from './ng-client.js';
import { mediaProfileOf } from '../sdp.js';
import { checkWebRtcOffer } from './webrtc-sdp.js';

export interface RtpengineEngineOptions {
  /** The built-in engine behind rtpengine; started and stopped with this one. */
  inner: MediaEngine;
  client: NgClient;
  /** Which endpoints go through rtpengine: every one, or only those whose party speaks WebRTC. */
  wrap: 'all' | 'webrtc';
  /** How often rtpengine is asked whether it still has our calls (ms). */
  checkIntervalMs: number;
  /** A local rtpengine to start before and stop after (media.rtpengine.launch); its exits end our calls at once. */
  launcher?: { start(): Promise<void>; stop(): Promise<void>; onExit(fn: () => void): void; onRestart(fn: () => void): void };
  logger: Logger;
}

const PARTY = 'w';
/** Checks in a row without an answer before the calls through rtpengine are ended (one may be a lost datagram). */
const DOWN_AFTER_CHECKS = 2;

/** rtpengine's uptime in seconds from its `statistics` reply (totalstatistics.uptime, a decimal string). */
function uptimeOf(reply: NgDictionary): number {
  const stats = reply.statistics;
  const total = stats !== null && typeof stats === 'object' && !Array.isArray(stats) ? stats.totalstatistics : undefined;
  const uptime = total !== null && typeof total === 'object' && !Array.isArray(total) ? Number(total.uptime) : NaN;
  if (!Number.isFinite(uptime)) throw new Error('rtpengine statistics without an uptime');
  return uptime;
}
const INNER = 'i';

interface Through {
  /** rtpengine call-id of each profile offered or answered on this endpoint. */
  calls: Map<MediaProfile, string>;
  /** Profiles whose rtpengine call has both sides (an answer was taken): re-offers name the other side. */
  established: Set<MediaProfile>;
  /** The profile the party speaks once an answer (or its offer) said so. */
  active: MediaProfile | undefined;
  /** For logs: the call's Call-ID / leg label. */
  label: string;
  /** The endpoint was destroyed: a reply still in flight deletes what it made. */
  destroyed: boolean;
}

/** The rtpengine call that carries the endpoint's media now, if rtpengine carries it. */
function relayed(t: Through): string | undefined {
  return t.active === undefined ? undefined : t.calls.get(t.active);
}

const PROFILE_FLAGS: Record<MediaProfile, NgDictionary> = {
  rtp: { 'transport-protocol': 'RTP/AVP', ICE: 'remove', 'rtcp-mux': ['demux'], SDES: ['off'] },
  webrtc: { 'transport-protocol': 'UDP/TLS/RTP/SAVPF', ICE: 'force', 'rtcp-mux': ['offer', 'require'], SDES: ['off'], flags: ['generate-mid'] },
};
/** What the built-in endpoint can read: plain RTP, no ICE, RTCP on its own port. */
const TO_INNER: NgDictionary = { 'transport-protocol': 'RTP/AVP', ICE: 'remove', 'rtcp-mux': ['demux'] };

export class RtpengineMediaEngine implements MediaEngine {
  readonly webrtc = true;
  private readonly through = new Map<EndpointId, Through>();
  private readonly events = new EventEmitter();
  private readonly logger: Logger;
  private checkTimer: NodeJS.Timeout | undefined;
  private checking = false;
  private up = false;
  /** rtpengine's uptime (s) at the last check: a smaller one is a new process. */
  private uptime: number | undefined;
  private failedChecks = 0;
  private nextCall = 0;
  private readonly callPrefix = `hibiki-${process.pid.toString(36)}-${Date.now().toString(36)}`;

  constructor(private readonly options: RtpengineEngineOptions) {
    this.logger = options.logger.child({ component: 'rtpengine' });
  }

  async start(): Promise<void> {
    await this.options.inner.start();
    await this.options.client.open();
    this.options.launcher?.onExit(() => {
      this.up = false;
      this.uptime = undefined;
      this.lost(() => true);
    });
    this.options.launcher?.onRestart(() => void this.check());
    await this.options.launcher?.start();
    await this.check();
    this.checkTimer = setInterval(() => {
      // One check at a time: a slow rtpengine must not pile them up.
      if (this.checking) return;
      this.checking = true;
      void this.check().finally(() => (this.checking = false));
    }, this.options.checkIntervalMs);
    this.checkTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.checkTimer) clearInterval(this.checkTimer);
    // Deletes for every call left, and time for them to leave before a launched rtpengine is stopped.
    const left = [...this.through.values()].flatMap((t) => [...t.calls.values()]);
    await Promise.all(left.map((callId) => this.options.client.request('delete', { 'call-id': callId }).catch(() => undefined)));
    await this.options.launcher?.stop();
    this.options.client.close();
    await this.options.inner.stop();
  }

  /**
   * Is rtpengine there, and does it still hold our calls? A restarted rtpengine has forgotten them (no media
   * flows any more): its uptime went down, or the oldest call we gave it is unknown to it. Those legs get
   * 'rtp-timeout', so their calls end with cause 41 and a CDR. Two requests per check whatever the number
   * of calls; every call is asked about only when the oldest is unknown. New legs are refused from the first
   * check without an answer; calls end at the DOWN_AFTER_CHECKS-th in a row.
   */
  private async check(): Promise<void> {
    let uptime: number;
    try {
      uptime = uptimeOf(await this.options.client.request('statistics'));
    } catch (err) {
      this.failedChecks++;
      if (this.up) this.logger.error({ err: (err as Error).message, ng: this.options.client.address }, 'rtpengine not answering: new calls that need it are refused');
      this.up = false;
      if (this.failedChecks === DOWN_AFTER_CHECKS) {
        this.logger.error({ ng: this.options.client.address, checks: DOWN_AFTER_CHECKS }, 'rtpengine not answering: the calls through it end');
        this.lost(() => true);
      }
      return;
    }
    this.failedChecks = 0;
    const restarted = this.uptime !== undefined && uptime + 1 < this.uptime;
    this.uptime = uptime;
    if (!this.up) this.logger.info({ ng: this.options.client.address }, 'rtpengine answering');
    this.up = true;
    if (restarted) {
      this.logger.error({ ng: this.options.client.address }, 'rtpengine restarted: the calls it carried end');
      this.lost(() => true);
      return;
    }
    const oldest = [...this.through.values()].find((t) => relayed(t) !== undefined);
    if (oldest && !(await this.holds(oldest))) {
      this.logger.error({ ng: this.options.client.address }, 'rtpengine forgot our calls (restarted?): the calls it lost end');
      const verdicts = await Promise.all([...this.through.values()].map(async (t) => [t, await this.holds(t)] as const));
      const forgotten = new Set(verdicts.filter(([, held]) => !held).map(([t]) => t));
      this.lost((t) => forgotten.has(t));
    }
  }

  /** Whether rtpengine still knows the call carrying this leg (true when it is not carried, or when unsure). */
  private async holds(t: Through): Promise<boolean> {
    const callId = relayed(t);
    if (callId === undefined) return true;
    try {
      await this.options.client.request('query', { 'call-id': callId });
      return true;
    } catch (err) {
      // Unknown only if the leg still uses that call: it may have been deleted by us meanwhile.
      return !(err instanceof NgRefused) || relayed(t) !== callId;
    }
  }

  /** These legs rtpengine carried have lost their media: their rtpengine calls are gone, their owners are told. */
  private lost(which: (t: Through) => boolean): void {
    for (const [id, t] of this.through) {
      if (relayed(t) === undefined || !which(t)) continue;
      this.logger.warn({ endpoint: id, label: t.label }, 'media through rtpengine lost');
      // If rtpengine is in fact alive (a slow reply), what it still holds is freed.
      this.sendDeletes(t, [...t.calls.values()]);
      t.calls.clear();
      t.established.clear();
      t.active = undefined;
      this.events.emit('rtp-timeout', id);
    }
  }

  // ---- endpoints and offer/answer -------------------------------------------------------------------

  async createEndpoint(opts: EndpointOptions = {}): Promise<EndpointId> {
    if (this.options.wrap === 'all') this.needUp();
    const id = await this.options.inner.createEndpoint(opts);
    this.through.set(id, { calls: new Map(), established: new Set(), active: undefined, label: opts.label ?? id, destroyed: false });
    return id;
  }

  private needUp(): void {
    if (!this.up) throw new MediaError('rtpengine is not answering', 503, 41);
  }

  private wraps(profile: MediaProfile): boolean {
    return this.options.wrap === 'all' || profile === 'webrtc';
  }

  private entry(id: EndpointId): Through {
    const t = this.through.get(id);
    if (!t) throw new MediaError(`unknown media endpoint ${id}`, 500);
    return t;
  }

  private callId(t: Through, profile: MediaProfile): string {
    let callId = t.calls.get(profile);
    if (callId === undefined) {
      callId = `${this.callPrefix}-${(this.nextCall++).toString(36)}`;
      t.calls.set(profile, callId);
    }
    return callId;
  }

  async createOffer(id: EndpointId, opts: OfferOptions = {}): Promise<string> {
    const t = this.entry(id);
    const profile = opts.profile ?? t.active ?? 'rtp';
    const inner = await this.options.inner.createOffer(id, { direction: opts.direction });
    if (!this.wraps(profile)) return inner;
    const reply = await this.ng(t, 'offer', {
      'call-id': this.callId(t, profile),
      'from-tag': INNER,
      ...this.otherSide(t, profile, PARTY),
      sdp: inner,
      ...PROFILE_FLAGS[profile],
    });
    return this.sdpOf(reply);
  }

  /** A re-offer on an rtpengine call that has both sides names the other one (either side may re-offer). */
  private otherSide(t: Through, profile: MediaProfile, other: typeof PARTY | typeof INNER): NgDictionary {
    return t.established.has(profile) ? { 'to-tag': other } : {};
  }

  async acceptAnswer(id: EndpointId, answerSdp: string, opts: { provisional?: boolean } = {}): Promise<NegotiatedMedia> {
    const t = this.entry(id);
    const profile: MediaProfile = mediaProfileOf(answerSdp);
    // The final answer decides the profile: the offer made for the other kind of device (browsers, or desk
    // phones) is not needed any more. Early media does not: another fork may still answer in the other.
    const settle = () => {
      t.active = profile;
      if (!opts.provisional) this.deleteCalls(t, profile === 'rtp' ? 'webrtc' : 'rtp');
    };
    if (!this.wraps(profile)) {
      settle();
      return this.options.inner.acceptAnswer(id, answerSdp, opts);
    }
    const callId = t.calls.get(profile);
    if (callId === undefined) throw new MediaError(`a ${profile} answer to an offer that was not made for ${profile}`, 488);
    const reply = await this.ng(t, 'answer', { 'call-id': callId, 'from-tag': INNER, 'to-tag': PARTY, sdp: answerSdp, ...TO_INNER });
    t.established.add(profile);
    settle();
    return this.options.inner.acceptAnswer(id, this.sdpOf(reply), opts);
  }

  async answerOffer(id: EndpointId, offerSdp: string, opts: OfferOptions = {}): Promise<{ sdp: string; media: NegotiatedMedia }> {
    const t = this.entry(id);
    const profile: MediaProfile = mediaProfileOf(offerSdp);
    if (!this.wraps(profile)) {
      t.active = 'rtp';
      return this.options.inner.answerOffer(id, offerSdp, opts);
    }
    if (profile === 'webrtc') checkWebRtcOffer(offerSdp);
    const callId = this.callId(t, profile);
    const offered = await this.ng(t, 'offer', { 'call-id': callId, 'from-tag': PARTY, ...this.otherSide(t, profile, INNER), sdp: offerSdp, ...TO_INNER });
    const inner = await this.options.inner.answerOffer(id, this.sdpOf(offered), opts);
    const answered = await this.ng(t, 'answer', { 'call-id': callId, 'from-tag': PARTY, 'to-tag': INNER, sdp: inner.sdp, ...PROFILE_FLAGS[profile] });
    t.established.add(profile);
    t.active = profile;
    return { sdp: this.sdpOf(answered), media: inner.media };
  }

  async checkOffer(id: EndpointId, offerSdp: string): Promise<void> {
    const profile: MediaProfile = mediaProfileOf(offerSdp);
    if (profile === 'webrtc') {
      checkWebRtcOffer(offerSdp);
      this.needUp();
      return;
    }
    if (this.options.wrap === 'all') this.needUp();
    await this.options.inner.checkOffer(id, offerSdp);
  }

  private async ng(t: Through, command: string, params: NgDictionary): Promise<NgDictionary> {
    if (t.destroyed) throw new MediaError('the media endpoint was freed', 500);
    this.needUp();
    try {
      const reply = await this.options.client.request(command, params);
      if (t.destroyed) {
        // Freed while this request was on its way: what it made is freed too.
        this.sendDeletes(t, [params['call-id'] as string]);
        throw new MediaError('the media endpoint was freed', 500);
      }
      return reply;
    } catch (err) {
      if (err instanceof NgUnreachable) {
        this.up = false;
        this.logger.error({ label: t.label, command, err: err.message }, 'rtpengine not answering');
        throw new MediaError('rtpengine is not answering', 503, 41);
      }
      if (err instanceof MediaError) throw err;
      if (err instanceof NgRefused) {
        this.logger.warn({ label: t.label, command, reason: err.reason }, 'rtpengine refused the SDP');
        throw new MediaError(`rtpengine refused the media: ${err.reason}`, 488);
      }
      throw err;
    }
  }

  private sdpOf(reply: NgDictionary): string {
    if (typeof reply.sdp !== 'string') throw new MediaError('rtpengine replied without SDP', 500);
    return reply.sdp;
  }

  /** Frees the endpoint's rtpengine calls (of one profile, or all), without waiting for the replies. */
  private deleteCalls(t: Through, only?: MediaProfile): void {
    const gone: string[] = [];
    for (const [profile, callId] of [...t.calls]) {
      if (only !== undefined && profile !== only) continue;
      t.calls.delete(profile);
      t.established.delete(profile);
      gone.push(callId);
    }
    this.sendDeletes(t, gone);
  }

  /** Sent whether or not rtpengine answered lately: a delete it never gets is timed out by rtpengine itself. */
  private sendDeletes(t: Through, callIds: string[]): void {
    for (const callId of callIds) {
      this.options.client.request('delete', { 'call-id': callId }).catch((err: unknown) => {
        this.logger.debug({ label: t.label, callId, err: (err as Error).message }, 'rtpengine delete failed (it times the call out itself)');
      });
    }
  }

  negotiated(id: EndpointId): NegotiatedMedia | undefined {
    return this.options.inner.negotiated(id);
  }

  destroy(id: EndpointId): void {
    const t = this.through.get(id);
    if (t) {
      t.destroyed = true;
      this.through.delete(id);
      this.deleteCalls(t);
    }
    this.options.inner.destroy(id);
  }

  // ---- what the built-in endpoint behind rtpengine does -----------------------------------------------

  bridge(a: EndpointId, b: EndpointId): void {
    this.options.inner.bridge(a, b);
  }
  unbridge(id: EndpointId): void {
    this.options.inner.unbridge(id);
  }
  createMix(): MixId {
    return this.options.inner.createMix();
  }
  joinMix(mix: MixId, id: EndpointId, member: MixMember): void {
    this.options.inner.joinMix(mix, id, member);
  }
  leaveMix(mix: MixId, id: EndpointId): void {
    this.options.inner.leaveMix(mix, id);
  }
  destroyMix(mix: MixId): void {
    this.options.inner.destroyMix(mix);
  }
  play(id: EndpointId, files: string[], opts?: { loop?: boolean }): PlayHandle {
    return this.options.inner.play(id, files, opts);
  }
  record(id: EndpointId, path: string, opts: RecordOptions): RecordHandle {
    return this.options.inner.record(id, path, opts);
  }
  recordCall(a: EndpointId, b: EndpointId, path: string, opts: CallRecordOptions): CallRecordHandle {
    return this.options.inner.recordCall(a, b, path, opts);
  }
  sendDtmf(id: EndpointId, digits: string, opts?: { durationMs?: number }): void {
    this.options.inner.sendDtmf(id, digits, opts);
  }
  injectDtmf(id: EndpointId, digit: string, durationMs: number): void {
    this.options.inner.injectDtmf(id, digit, durationMs);
  }
  setDtmfPolicy(id: EndpointId, policy: DtmfPolicy): void {
    this.options.inner.setDtmfPolicy(id, policy);
  }
  releaseDtmf(id: EndpointId, forward: boolean): void {
    this.options.inner.releaseDtmf(id, forward);
  }
  stats(id: EndpointId): Promise<EndpointStats> {
    return this.options.inner.stats(id);
  }
  totals(): Promise<MediaTotals> {
    return this.options.inner.totals();
  }

  on<E extends keyof MediaEngineEvents>(event: E, listener: MediaEngineEvents[E]): this {
    this.options.inner.on(event, listener);
    this.events.on(event, listener);
    return this;
  }
  off<E extends keyof MediaEngineEvents>(event: E, listener: MediaEngineEvents[E]): this {
    this.options.inner.off(event, listener);
    this.events.off(event, listener);
    return this;
  }
}
