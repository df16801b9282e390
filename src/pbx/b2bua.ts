// The back-to-back user agent: an INVITE from a device or trunk becomes a Call whose caller leg is
// answered by hibiki and whose callee leg is a new INVITE to every contact of the callee (parallel
// forking) or to a trunk. Media is anchored in the media engine; each leg has its own offer/answer.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { ServerResponse, SipStack } from '../sip/stack.js';
import { isSipUri, isTelUri } from '../sip/uri.js';
import type { SendTarget } from '../sip/transport/types.js';
import { MediaError, type Direction, type EndpointId, type MediaEngine } from '../media/engine.js';
import { formatReason, parseReasonHeader, q850ToSip, sipToQ850 } from './q850.js';
import { Call, Leg, type CallOutcome, type Disposition, type HangupBy, type Party } from './call.js';
import type { Registrar } from './registrar.js';
import type { RequestAuthenticator } from './authenticator.js';
import type { ExtensionConfig, Router, TrunkConfig } from './router.js';
import type { TrunkManager } from './trunks.js';
import { Ringer, type RingTarget } from './ringer.js';

export interface CallManagerDeps {
  stack: SipStack;
  registrar: Registrar;
  authenticator: RequestAuthenticator;
  router: Router;
  trunks: TrunkManager;
  media: MediaEngine;
  logger: Logger;
  config: () => HibikiConfig;
  onCallEnded: (call: Call, outcome: CallOutcome) => void;
}


/** Outcome of the callee side before answer, used for the response to the caller and the CDR. */
interface Failure {
  status: number;
  cause: number;
  disposition: Disposition;
  reason: string;
  hangupBy: HangupBy;
}

export interface DialContext {
  req: SipRequest;
  res: ServerResponse;
  /** The calling extension. */
  extension: ExtensionConfig;
  dialled: string;
  offer: string | undefined;
}

export type DialHandler = (ctx: DialContext) => boolean;

type Origin = { kind: 'device'; extension: ExtensionConfig } | { kind: 'trunk'; trunk: TrunkConfig };

const DTMF_INFO_TYPES = new Set(['application/dtmf-relay', 'application/dtmf']);

export class CallManager {
  private calls = new Set<Call>();
  private byEndpoint = new Map<EndpointId, Call>();
  private dialHandlers: DialHandler[] = [];
  private answeredHooks: Array<(call: Call, caller: Leg, callee: Leg, config: HibikiConfig) => void> = [];

  constructor(private readonly deps: CallManagerDeps) {}

  start(): void {
    this.deps.stack.use('INVITE', (req, res) => {
      this.onInvite(req, res).catch((err: unknown) => {
        this.deps.logger.error({ err, callId: req.callId }, 'INVITE handling failed');
        if (!res.finalResponseSent) res.send(500, undefined, { headers: { reason: formatReason(41) } });
      });
    });
    this.deps.media.on('dtmf', (id, digit, durationMs, source) => {
      const call = this.byEndpoint.get(id);
      const leg = call?.legs.find((l) => l.endpoint === id);
      if (!call || !leg || leg.ended) return;
      call.log.debug({ leg: leg.role, digit, durationMs, source }, 'dtmf');
      leg.onDigit?.(digit);
    });
    this.deps.media.on('rtp-timeout', (id) => {
      const call = this.byEndpoint.get(id);
      if (!call || call.isFinished) return;
      call.log.warn({ endpoint: id }, 'no RTP received: ending call');
      this.hangup(call, 'system', 41, 'RTP timeout');
    });
  }

  /** Calls in progress (answered or ringing). */
  active(): Call[] {
    return [...this.calls];
  }

  /** How many calls an extension is part of right now (call waiting / busy decisions). */
  callsOf(extension: string): number {
    let n = 0;
    for (const c of this.calls) if (c.extensions().includes(extension)) n++;
    return n;
  }

  /** Hang up every call (shutdown). */
  stopAll(): void {
    for (const c of [...this.calls]) this.hangup(c, 'system', 16, 'server shutdown');
  }

  // ---- set-up ----------------------------------------------------------------

  private async onInvite(req: SipRequest, res: ServerResponse): Promise<void> {
    const { authenticator, router, trunks } = this.deps;
    const config = this.deps.config();
    const log = this.deps.logger.child({ callId: req.callId });
    const reject = (status: number, cause: number, text?: string) => res.send(status, undefined, { headers: { reason: formatReason(cause, text) } });

    // Loop detection (RFC 3261 §16.3 step 2 applied to our own forwarding).
    const mf = req.maxForwards ?? config.calls.maxForwards;
    if (mf <= 0) {
      reject(483, 25);
      return;
    }
    if (!req.source) return;
    if (req.contacts === null) {
      res.send(400, 'Bad Request (unparsable Contact)');
      return;
    }

    const trunk = trunks.matchInbound(req.source.address);
    let origin: Origin;
    if (trunk) origin = { kind: 'trunk', trunk };
    else {
      const ext = authenticator.authenticate(req, res, 401);
      if (!ext) return;
      origin = { kind: 'device', extension: ext };
    }

    const ruri = req.requestUri;
    const dialledRaw = isSipUri(ruri) ? ruri.user : isTelUri(ruri) ? ruri.number : undefined;
    if (!dialledRaw) {
      reject(404, 1);
      return;
    }

    const offer = isSdp(req) ? req.body.toString('utf8') : undefined;
    const caller = origin.kind === 'device' ? { number: origin.extension.number, name: origin.extension.name } : callerFromRequest(req);

    if (origin.kind === 'trunk') {
      const ext = router.resolveInbound(dialledRaw, origin.trunk.name);
      const attempt = { direction: 'inbound' as const, caller, dialled: dialledRaw, trunk: origin.trunk.name };
      if (!ext) {
        log.info({ did: dialledRaw, trunk: origin.trunk.name }, 'inbound call to unknown DID');
        this.refuse(req, res, attempt, 404, 1, 'unknown DID');
        return;
      }
      if (!trunks.acquire(origin.trunk.name)) {
        this.refuse(req, res, attempt, 503, 34, 'trunk channel limit');
        return;
      }
      const call = new Call(req.callId, 'inbound', caller, dialledRaw, { number: ext.number, name: ext.name }, this.deps.media, this.deps.logger);
      call.trunk = origin.trunk.name;
      call.once('ended', () => trunks.release(origin.trunk.name));
      await this.placeCall(call, req, res, offer, mf, { kind: 'extension', extension: ext, presentation: 'present' });
      return;
    }

    // Numbers owned by features (park slots, later service codes) come before the dial plan (F-DIALPLAN).
    for (const handler of this.dialHandlers) {
      if (handler({ req, res, extension: origin.extension, dialled: dialledRaw, offer })) return;
    }

    const resolution = router.resolve(dialledRaw);
    const presentation = resolution.presentation === 'default' ? origin.extension.presentation : resolution.presentation;
    const target = resolution.target;
    if (target.kind === 'not-found') {
      log.info({ dialled: resolution.dialled }, 'call to unknown number');
      this.refuse(req, res, { direction: 'internal', caller, dialled: resolution.dialled }, 404, 1, 'unknown number');
      return;
    }
    if (target.kind === 'extension') {
      const call = new Call(req.callId, 'internal', caller, resolution.dialled, { number: target.extension.number, name: target.extension.name }, this.deps.media, this.deps.logger);
      await this.placeCall(call, req, res, offer, mf, { kind: 'extension', extension: target.extension, presentation });
      return;
    }
    // Outbound through a trunk.
    const attempt = { direction: 'outbound' as const, caller, dialled: resolution.dialled, trunk: target.trunk.name };
    if (origin.extension.callerId === 'none') {
      log.info({ dialled: resolution.dialled }, 'external calls barred for this extension');
      this.refuse(req, res, attempt, 403, 21, 'external calls barred');
      return;
    }
    if (!trunks.acquire(target.trunk.name)) {
      log.info({ trunk: target.trunk.name }, 'trunk channel limit reached');
      this.refuse(req, res, attempt, 503, 34, 'trunk channel limit');
      return;
    }
    const presented = origin.extension.callerId ?? target.route.callerId ?? target.trunk.callerId ?? origin.extension.number;
    const call = new Call(req.callId, 'outbound', { ...caller, number: caller.number }, resolution.dialled, { number: target.number }, this.deps.media, this.deps.logger);
    call.trunk = target.trunk.name;
    call.once('ended', () => trunks.release(target.trunk.name));
    await this.placeCall(call, req, res, offer, mf, { kind: 'trunk', trunk: target.trunk, number: target.number, presented, presentation });
  }

  /** A call attempt refused before anything rang: answer it and still leave its CDR row (F-CDR). */
  private refuse(
    req: SipRequest,
    res: ServerResponse,
    attempt: { direction: 'internal' | 'inbound' | 'outbound'; caller: Party; dialled: string; trunk?: string },
    status: number,
    cause: number,
    reason: string,
  ): void {
    res.send(status, undefined, { headers: { reason: formatReason(cause) } });
    const call = new Call(req.callId, attempt.direction, attempt.caller, attempt.dialled, { number: attempt.dialled }, this.deps.media, this.deps.logger);
    call.trunk = attempt.trunk;
    this.register(call);
    call.finish({ disposition: 'failed', hangupBy: 'system', q850: cause, sipStatus: status, reason });
  }

  /** Answer-side media, the callee forks, and the race between answer, failure, timeout and CANCEL. */
  private async placeCall(
    call: Call,
    req: SipRequest,
    res: ServerResponse,
    offer: string | undefined,
    maxForwards: number,
    dest:
      | { kind: 'extension'; extension: ExtensionConfig; presentation: 'present' | 'withhold' }
      | { kind: 'trunk'; trunk: TrunkConfig; number: string; presented: string; presentation: 'present' | 'withhold' },
  ): Promise<void> {
    const { media, stack, registrar } = this.deps;
    const config = this.deps.config();
    const domain = config.tenant.domain;
    this.register(call);

    const fail = (f: Failure) => {
      if (!res.finalResponseSent) res.send(f.status, undefined, { headers: { reason: formatReason(f.cause) } });
      call.finish({ disposition: f.disposition, hangupBy: f.hangupBy, q850: f.cause, sipStatus: f.status, reason: f.reason });
    };

    // Callee availability before any media is allocated.
    let contacts: Array<{ uri: string; target: SendTarget; label: string }> = [];
    let ringTimeout = config.calls.ringTimeout;
    if (dest.kind === 'extension') {
      const ext = dest.extension;
      if (ext.suspended) return fail({ status: 480, cause: 20, disposition: 'failed', reason: 'callee suspended', hangupBy: 'system' });
      const live = registrar.contacts(ext.number).filter((c) => c.binding.reachable);
      if (live.length === 0) return fail({ status: 480, cause: 20, disposition: 'failed', reason: 'callee not registered', hangupBy: 'system' });
      if (!ext.callWaiting && this.callsOf(ext.number) > 0) {
        return fail({ status: 486, cause: 17, disposition: 'busy', reason: 'callee in a call (no call waiting)', hangupBy: 'callee' });
      }
      contacts = live.map((c) => ({ uri: c.binding.contact, target: c.target, label: c.binding.contact }));
      ringTimeout = ext.ringTimeout ?? config.calls.ringTimeout;
    } else {
      try {
        contacts = [{ uri: this.deps.trunks.requestUri(dest.trunk, dest.number), target: await this.deps.trunks.target(dest.trunk), label: `trunk:${dest.trunk.name}` }];
      } catch (err) {
        call.log.warn({ err: (err as Error).message, trunk: dest.trunk.name }, 'trunk unreachable');
        return fail({ status: 503, cause: 38, disposition: 'failed', reason: 'trunk unreachable', hangupBy: 'system' });
      }
    }

    // Caller leg media: answer the caller's offer now so a codec mismatch fails fast with 488.
    let epA: EndpointId;
    let answerA: string | undefined;
    try {
      epA = await media.createEndpoint({ label: `${call.callId}/a` });
    } catch (err) {
      call.log.error({ err }, 'no media endpoint');
      return fail({ status: 503, cause: 47, disposition: 'failed', reason: 'no RTP ports', hangupBy: 'system' });
    }
    const legA = call.addLeg(new Leg('caller', epA, call.caller, call.direction === 'inbound' ? undefined : call.caller.number));
    this.byEndpoint.set(epA, call);
    this.applyDtmfPolicy(legA, config);
    if (offer !== undefined) {
      try {
        answerA = (await media.answerOffer(epA, offer)).sdp;
      } catch (err) {
        const status = err instanceof MediaError ? err.sipStatus : 500;
        return fail({ status, cause: status === 488 ? 65 : 41, disposition: 'failed', reason: (err as Error).message, hangupBy: 'system' });
      }
    }
    let epB: EndpointId;
    let offerB: string;
    try {
      epB = await media.createEndpoint({ label: `${call.callId}/b` });
      offerB = await media.createOffer(epB);
    } catch (err) {
      call.log.error({ err }, 'no media endpoint');
      return fail({ status: 503, cause: 47, disposition: 'failed', reason: 'no RTP ports', hangupBy: 'system' });
    }
    const legB = call.addLeg(new Leg('callee', epB, call.callee, dest.kind === 'extension' ? dest.extension.number : undefined));
    this.byEndpoint.set(epB, call);
    this.applyDtmfPolicy(legB, config);
    if (call.isFinished) return;

    // Identity presented to the callee (F-CLIR).
    const withhold = dest.presentation === 'withhold';
    const callerNumber = dest.kind === 'trunk' ? dest.presented : call.caller.number;
    const fromDomain = dest.kind === 'trunk' ? this.deps.trunks.domainOf(dest.trunk) : domain;
    const from = withhold
      ? '"Anonymous" <sip:anonymous@anonymous.invalid>'
      : `${call.caller.name ? `${quoteDisplay(call.caller.name)} ` : ''}<sip:${callerNumber}@${fromDomain}>`;
    const headers: [string, string][] = [['max-forwards', String(maxForwards - 1)]];
    if (withhold) {
      headers.push(['privacy', 'id']);
      // RFC 3325: the asserted identity travels only toward a trusted trunk, which strips it onward.
      if (dest.kind === 'trunk') headers.push(['p-asserted-identity', `<sip:${callerNumber}@${fromDomain}>`]);
    }
    const to = dest.kind === 'trunk' ? `<sip:${dest.number}@${fromDomain}>` : `<sip:${dest.extension.number}@${domain}>`;
    const auth = dest.kind === 'trunk' && dest.trunk.password && dest.trunk.username ? { username: dest.trunk.authUsername ?? dest.trunk.username, password: dest.trunk.password } : undefined;

    let ringingSent = false;
    let earlyMedia = false;
    let settled = false;

    const ringer = new Ringer(stack, {
      contacts,
      offer: offerB,
      from,
      to,
      headers,
      auth,
      ringTimeoutSec: ringTimeout,
      local: dest.kind === 'extension',
      log: call.log,
      onProvisional: (r) => void onProvisional(r),
    });
    res.onLocalFinal((final) => {
      if (settled) return;
      settled = true;
      ringer.cancel();
      call.finish({ disposition: 'failed', hangupBy: 'system', q850: sipToQ850(final.status), sipStatus: final.status, reason: 'no PRACK from the caller' });
    });
    res.onCancel(() => {
      if (settled) return;
      settled = true;
      ringer.cancel();
      call.log.info('caller cancelled');
      // The stack already answered 487 to the INVITE.
      call.finish({ disposition: 'cancelled', hangupBy: 'caller', q850: 16, sipStatus: 487, reason: 'caller cancelled' });
    });

    const onProvisional = async (r: SipResponse) => {
      if (settled) return;
      if (r.status === 183 || (r.status === 180 && r.body.length > 0)) {
        if (!earlyMedia && isSdp(r) && answerA !== undefined) {
          earlyMedia = true;
          try {
            await media.acceptAnswer(epB, r.body.toString('utf8'));
            media.bridge(epA, epB);
            if (!settled && !res.finalResponseSent) {
              res.send(183, undefined, { headers: { 'content-type': 'application/sdp', contact: `<${stack.contactUri(req.source!.transport, req.source!.address)}>` }, body: answerA });
              ringingSent = true;
            }
          } catch (err) {
            call.log.debug({ err: (err as Error).message }, 'unusable early media');
          }
          return;
        }
      }
      if (!ringingSent && (r.status === 180 || r.status === 183)) {
        ringingSent = true;
        res.send(180);
      }
    };

    const outcome = await ringer.outcome;
    if (outcome.kind === 'cancelled') return;
    if (settled) {
      if (outcome.kind === 'answered') void outcome.dialog.destroy({ headers: { reason: formatReason(16) } });
      return;
    }
    settled = true;
    if (outcome.kind === 'timeout') {
      fail({ status: 480, cause: 19, disposition: 'no_answer', reason: 'ring timeout', hangupBy: 'system' });
      return;
    }
    if (outcome.kind === 'failed') {
      call.log.info({ status: outcome.response.status, cause: outcome.cause }, 'callee side failed');
      fail({ status: outcome.status, cause: outcome.cause, disposition: outcome.disposition, reason: `callee answered ${outcome.response.status}`, hangupBy: outcome.disposition === 'busy' ? 'callee' : 'system' });
      return;
    }
    const dialog = outcome.dialog;
    try {
      if (dialog.remote.sdp) await media.acceptAnswer(epB, dialog.remote.sdp);
      let localSdpA = answerA;
      if (localSdpA === undefined) localSdpA = await media.createOffer(epA);
      media.bridge(epA, epB);
      legA.peer = legB;
      legB.peer = legA;
      legB.dialog = dialog;
      legA.dialog = stack.createUAS(req, res, { localSdp: localSdpA });
      call.markAnswered(outcome.label);
      call.log.info({ answeredBy: outcome.label }, 'call answered');
      this.wireLeg(call, legA);
      this.wireLeg(call, legB);
      for (const hook of this.answeredHooks) hook(call, legA, legB, config);
    } catch (err) {
      call.log.warn({ err: (err as Error).message }, 'answer could not be bridged');
      void dialog.destroy({ headers: { reason: formatReason(65) } });
      fail({ status: err instanceof MediaError ? err.sipStatus : 500, cause: err instanceof MediaError && err.sipStatus === 488 ? 65 : 41, disposition: 'failed', reason: (err as Error).message, hangupBy: 'system' });
    }
  }

  // ---- DTMF and feature codes (F-CODES) ------------------------------------------

  /**
   * A local user's digits never go straight through the engine: the feature-code matcher decides what
   * reaches the far end. Digits from the outside (trunk legs) pass untouched.
   */
  private applyDtmfPolicy(leg: Leg, config: HibikiConfig): void {
    if (leg.extension === undefined) return;
    // Before the call is answered codes are inactive; with suppression on, digits are simply not sent.
    this.deps.media.setDtmfPolicy(leg.endpoint, config.dtmf.suppress ? 'suppress' : 'pass');
  }

  // ---- primitives for features (transfer, recall, park) -----------------------------

  /**
   * Ring a number on behalf of an existing call and return the answered leg (not yet bridged).
   * The leg belongs to `call`; when the call ends while ringing, ringing stops.
   */
  async dialLeg(
    call: Call,
    number: string,
    opts: { presentedAs: Party; ringTimeoutSec: number; onRinging?: (cancel: () => void) => void },
  ): Promise<{ leg: Leg } | { failure: { status: number; cause: number; disposition: Disposition } }> {
    const { media, stack, registrar, router, trunks } = this.deps;
    const config = this.deps.config();
    const resolution = router.resolve(number);
    const target = resolution.target;
    let contacts: RingTarget[] = [];
    let to: string;
    let auth: { username: string; password: string } | undefined;
    let extension: string | undefined;
    let fromDomain = config.tenant.domain;
    if (target.kind === 'extension') {
      const ext = target.extension;
      if (ext.suspended) return { failure: { status: 480, cause: 20, disposition: 'failed' } };
      contacts = registrar.contacts(ext.number).filter((c) => c.binding.reachable).map((c) => ({ uri: c.binding.contact, target: c.target, label: c.binding.contact }));
      if (contacts.length === 0) return { failure: { status: 480, cause: 20, disposition: 'failed' } };
      if (!ext.callWaiting && this.callsOf(ext.number) > 0) return { failure: { status: 486, cause: 17, disposition: 'busy' } };
      to = `<sip:${ext.number}@${config.tenant.domain}>`;
      extension = ext.number;
    } else if (target.kind === 'trunk') {
      try {
        contacts = [{ uri: trunks.requestUri(target.trunk, target.number), target: await trunks.target(target.trunk), label: `trunk:${target.trunk.name}` }];
      } catch {
        return { failure: { status: 503, cause: 38, disposition: 'failed' } };
      }
      fromDomain = trunks.domainOf(target.trunk);
      to = `<sip:${target.number}@${fromDomain}>`;
      if (target.trunk.password && target.trunk.username) auth = { username: target.trunk.authUsername ?? target.trunk.username, password: target.trunk.password };
    } else {
      return { failure: { status: 404, cause: 1, disposition: 'failed' } };
    }
    const ep = await media.createEndpoint({ label: `${call.callId}/${number}` });
    let offer: string;
    try {
      offer = await media.createOffer(ep);
    } catch {
      media.destroy(ep);
      return { failure: { status: 503, cause: 47, disposition: 'failed' } };
    }
    const name = opts.presentedAs.name;
    const ringer = new Ringer(stack, {
      contacts,
      offer,
      from: `${name ? `${quoteDisplay(name)} ` : ''}<sip:${opts.presentedAs.number}@${fromDomain}>`,
      to,
      headers: [['max-forwards', String(config.calls.maxForwards)]],
      auth,
      ringTimeoutSec: opts.ringTimeoutSec,
      local: target.kind === 'extension',
      log: call.log,
    });
    const stop = () => ringer.cancel();
    call.once('ended', stop);
    opts.onRinging?.(stop);
    const outcome = await ringer.outcome;
    call.off('ended', stop);
    if (outcome.kind !== 'answered' || call.isFinished) {
      media.destroy(ep);
      if (outcome.kind === 'answered') void outcome.dialog.destroy({ headers: { reason: formatReason(16) } });
      if (outcome.kind === 'failed') return { failure: { status: outcome.status, cause: outcome.cause, disposition: outcome.disposition } };
      return { failure: { status: 480, cause: outcome.kind === 'timeout' ? 19 : 16, disposition: outcome.kind === 'timeout' ? 'no_answer' : 'cancelled' } };
    }
    try {
      if (outcome.dialog.remote.sdp) await media.acceptAnswer(ep, outcome.dialog.remote.sdp);
    } catch {
      media.destroy(ep);
      void outcome.dialog.destroy({ headers: { reason: formatReason(65) } });
      return { failure: { status: 488, cause: 65, disposition: 'failed' } };
    }
    const leg = call.addLeg(new Leg('callee', ep, { number: target.kind === 'extension' ? target.extension.number : target.number, name: target.kind === 'extension' ? target.extension.name : undefined }, extension));
    leg.dialog = outcome.dialog;
    this.byEndpoint.set(ep, call);
    this.applyDtmfPolicy(leg, config);
    this.wireLeg(call, leg);
    call.log.info({ number, answeredBy: outcome.label }, 'leg answered');
    return { leg };
  }

  /** A feature claims dialled numbers (park slots…): return true when it took the INVITE. */
  onDial(handler: DialHandler): void {
    this.dialHandlers.push(handler);
  }

  /** Start tracking a call created by a feature (its CDR is written when it ends). */
  adopt(call: Call): void {
    this.register(call);
  }

  /**
   * Answer an INVITE into an existing call (retrieving a parked call): the new leg is answered with
   * our SDP and wired, but not bridged. Undefined when the offer is unusable (the INVITE is rejected).
   */
  async answerInto(call: Call, req: SipRequest, res: ServerResponse, party: Party, extension: string | undefined): Promise<Leg | undefined> {
    const { media, stack } = this.deps;
    const ep = await media.createEndpoint({ label: `${call.callId}/${party.number}` });
    let sdp: string;
    try {
      sdp = isSdp(req) ? (await media.answerOffer(ep, req.body.toString('utf8'))).sdp : await media.createOffer(ep);
    } catch (err) {
      media.destroy(ep);
      res.send(err instanceof MediaError ? err.sipStatus : 500);
      return undefined;
    }
    const leg = call.addLeg(new Leg('callee', ep, party, extension));
    this.byEndpoint.set(ep, call);
    this.applyDtmfPolicy(leg, this.deps.config());
    leg.dialog = stack.createUAS(req, res, { localSdp: sdp });
    this.wireLeg(call, leg);
    return leg;
  }

  /** The answered leg whose dialog has these identifiers (Replaces, RFC 3891). */
  findLeg(callId: string, localTag: string, remoteTag: string): { call: Call; leg: Leg } | undefined {
    for (const call of this.calls) {
      for (const leg of call.legs) {
        const d = leg.dialog;
        if (!leg.ended && d && d.callId === callId && d.localTag === localTag && d.remoteTag === remoteTag) return { call, leg };
      }
    }
    return undefined;
  }

  /** Move a leg into another call (it keeps its dialog and media endpoint). */
  moveLeg(leg: Leg, from: Call, to: Call): void {
    from.removeLeg(leg);
    to.addLeg(leg);
    this.byEndpoint.set(leg.endpoint, to);
  }

  /** Whether a number resolves to something that can be dialled (transfer targets). */
  canReach(number: string): boolean {
    return this.deps.router.resolve(number).target.kind !== 'not-found';
  }

  /** Connect two legs of a call (audio both ways) and give them in-call features. */
  bridgeLegs(call: Call, a: Leg, b: Leg): void {
    this.deps.media.bridge(a.endpoint, b.endpoint);
    a.peer = b;
    b.peer = a;
    const config = this.deps.config();
    for (const hook of this.answeredHooks) hook(call, a, b, config);
  }

  /** End one leg of a call without ending the call (a transferor leaving). */
  dropLeg(leg: Leg, cause = 16): void {
    if (leg.ended) return;
    leg.ended = true;
    leg.onDigit = undefined;
    if (leg.dialog && leg.dialog.state !== 'terminated') void leg.dialog.destroy({ headers: { reason: formatReason(cause) } });
    this.deps.media.destroy(leg.endpoint);
  }

  /** Called when a call is answered and both legs are bridged (features attach here). */
  onAnswered(hook: (call: Call, caller: Leg, callee: Leg, config: HibikiConfig) => void): void {
    this.answeredHooks.push(hook);
  }

  // ---- established call -------------------------------------------------------

  /** In-dialog requests of one answered leg; the other party is whatever leg it is bridged to now. */
  wireLeg(initial: Call, leg: Leg): void {
    const d = leg.dialog;
    if (!d) return;
    // A leg can move to another call (attended transfer by REFER/Replaces): look its call up each time.
    const callOf = (): Call => this.byEndpoint.get(leg.endpoint) ?? initial;
    d.on('destroy', (req, why) => {
      leg.ended = true;
      if (leg.onEnded) {
        // A feature (transfer, park) owns what happens when this leg goes away.
        leg.onEnded(req);
        return;
      }
      if (why === 'session-expired') {
        // RFC 4028 expiry is recovery on timer expiry (Q.850 102).
        this.hangup(callOf(), 'system', 102, 'session timer expired', leg);
        return;
      }
      const reason = req ? parseReasonHeader(req.getAll('reason')) : undefined;
      const cause = reason?.protocol === 'Q.850' ? reason.cause : 16;
      const by: HangupBy = req ? (leg.role === 'caller' ? 'caller' : 'callee') : 'system';
      this.hangup(callOf(), by, cause, req ? 'BYE' : (why ?? 'dialog ended'), leg);
    });
    d.on('modify', (req, res) => void this.relayOffer(callOf(), leg, req, res));
    d.on('update', (req, res) => {
      if (isSdp(req)) void this.relayOffer(callOf(), leg, req, res);
      else res.send(200);
    });
    d.on('info', (req, res) => {
      const digit = dtmfFromInfo(req);
      if (digit) {
        this.deps.media.injectDtmf(leg.endpoint, digit.digit, digit.durationMs);
        res.send(200);
        return;
      }
      res.send(isDtmfInfo(req) ? 400 : 200);
    });
    d.on('refer', (req, res) => {
      if (this.onRefer) this.onRefer(callOf(), leg, req, res);
      else res.send(501);
    });
    d.on('ack', (req) => {
      // ACK with an answer to the offer we made in a 200 (delayed-offer call or re-INVITE without SDP).
      if (isSdp(req)) void this.deps.media.acceptAnswer(leg.endpoint, req.body.toString('utf8')).catch(() => this.hangup(callOf(), 'system', 65, 'bad SDP in ACK'));
    });
  }

  /** Set by the hold feature (music on hold); without it, hold is passed to the other party by re-INVITE. */
  holdHandler: { hold(call: Call, holder: Leg, held: Leg): void; resume(call: Call, holder: Leg, held: Leg): void; release(held: Leg): void } | undefined;

  /** Set by the transfer feature to handle REFER from a phone's transfer key (RFC 3515). */
  onRefer: ((call: Call, leg: Leg, req: SipRequest, res: ServerResponse) => void) | undefined;

  /** Pass a new offer (hold/resume, codec change) from one leg to the other, SDP rewritten per leg. */
  private async relayOffer(call: Call, from: Leg, req: SipRequest, res: ServerResponse): Promise<void> {
    const { media, stack } = this.deps;
    const to = from.peer;
    const contact = { contact: `<${stack.contactUri(from.dialog!.flow.transport, from.dialog!.flow.address)}>` };
    if (call.isFinished) {
      res.send(481);
      return;
    }
    if (!isSdp(req)) {
      // Offer-less re-INVITE: we offer in the 200, the answer arrives in the ACK.
      const sdp = await media.createOffer(from.endpoint);
      res.send(200, undefined, { headers: { ...contact, 'content-type': 'application/sdp' }, body: sdp });
      return;
    }
    const offer = req.body.toString('utf8');
    const direction = sdpDirection(offer);
    if (isSameSessionVersion(from.dialog?.remote.sdp, offer)) {
      // A session refresh (RFC 4028) or a repeated offer: nothing changed, so the other leg is not disturbed.
      const { sdp } = await media.answerOffer(from.endpoint, offer);
      res.send(200, undefined, { headers: { ...contact, 'content-type': 'application/sdp' }, body: sdp });
      return;
    }
    if (!to || !to.dialog || to.ended) {
      const { sdp } = await media.answerOffer(from.endpoint, offer);
      res.send(200, undefined, { headers: { ...contact, 'content-type': 'application/sdp' }, body: sdp });
      return;
    }
    // F-HOLD: a hold (sendonly/inactive) or resume is answered here; the other party hears music on
    // hold instead of being re-INVITEd, so its phone keeps an ordinary call.
    const holding = direction === 'sendonly' || direction === 'inactive';
    if (this.holdHandler && holding !== from.holding) {
      const { sdp } = await media.answerOffer(from.endpoint, offer);
      res.send(200, undefined, { headers: { ...contact, 'content-type': 'application/sdp' }, body: sdp });
      from.holding = holding;
      call.log.info({ leg: from.role, holding }, holding ? 'call held' : 'call resumed');
      if (holding) this.holdHandler.hold(call, from, to);
      else this.holdHandler.resume(call, from, to);
      return;
    }
    try {
      const reoffer = await media.createOffer(to.endpoint, { direction });
      const answer = await to.dialog.modify(reoffer);
      if (answer.status >= 300) {
        res.send(answer.status === 491 ? 491 : answer.status === 488 ? 488 : 500);
        return;
      }
      if (isSdp(answer)) await media.acceptAnswer(to.endpoint, answer.body.toString('utf8'));
      const { sdp } = await media.answerOffer(from.endpoint, offer);
      res.send(200, undefined, { headers: { ...contact, 'content-type': 'application/sdp' }, body: sdp });
      call.log.info({ from: from.role, direction }, 'session modified');
    } catch (err) {
      call.log.warn({ err: (err as Error).message }, 're-INVITE relay failed');
      if (!res.finalResponseSent) res.send(err instanceof MediaError ? err.sipStatus : 500);
    }
  }

  /** End an established or ringing call: BYE the legs still up, with a Q.850 Reason. */
  hangup(call: Call, by: HangupBy, cause: number, reason: string, except?: Leg): void {
    if (call.isFinished) return;
    for (const leg of call.legs) {
      if (leg === except || leg.ended || !leg.dialog) continue;
      leg.ended = true;
      void leg.dialog.destroy({ headers: { reason: formatReason(cause) } });
    }
    call.finish({
      disposition: call.isAnswered ? 'answered' : 'failed',
      hangupBy: by,
      q850: cause,
      sipStatus: call.isAnswered ? 200 : q850ToSip(cause),
      reason,
    });
  }

  private register(call: Call): void {
    this.calls.add(call);
    call.once('ended', (outcome) => {
      this.calls.delete(call);
      for (const leg of call.legs) this.byEndpoint.delete(leg.endpoint);
      this.deps.onCallEnded(call, outcome);
    });
  }
}

// ---- helpers -------------------------------------------------------------------

function isSdp(m: SipRequest | SipResponse): boolean {
  return m.body.length > 0 && (m.contentType ?? '').toLowerCase().startsWith('application/sdp');
}

function isDtmfInfo(req: SipRequest): boolean {
  return DTMF_INFO_TYPES.has((req.contentType ?? '').split(';')[0]!.trim().toLowerCase());
}

/** SIP INFO DTMF: application/dtmf-relay ("Signal=5\r\nDuration=160") or application/dtmf ("5"). */
export function dtmfFromInfo(req: SipRequest): { digit: string; durationMs: number } | undefined {
  if (!isDtmfInfo(req)) return undefined;
  const body = req.body.toString('utf8');
  const type = (req.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  let signal: string | undefined;
  let duration = 100;
  if (type === 'application/dtmf') signal = body.trim();
  else {
    for (const line of body.split(/\r?\n/)) {
      const m = /^\s*(signal|duration)\s*=\s*(\S+)\s*$/i.exec(line);
      if (!m) continue;
      if (m[1]!.toLowerCase() === 'signal') signal = m[2];
      else if (/^\d{1,6}$/.test(m[2]!)) duration = Number(m[2]);
    }
  }
  if (!signal) return undefined;
  const digit = signal === '10' ? '*' : signal === '11' ? '#' : signal.toUpperCase();
  if (!/^[0-9*#A-D]$/.test(digit)) return undefined;
  return { digit, durationMs: Math.min(Math.max(duration, 40), 5000) };
}

function sdpDirection(sdp: string): Direction {
  let session: Direction = 'sendrecv';
  let media: Direction | undefined;
  let inMedia = false;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      if (inMedia) break;
      inMedia = line.startsWith('m=audio');
      continue;
    }
    const m = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/.exec(line);
    if (m) {
      if (inMedia) media = m[1] as Direction;
      else session = m[1] as Direction;
    }
    if (/^c=IN IP4 0\.0\.0\.0/.test(line)) media = media ?? 'sendonly';
  }
  return media ?? session;
}

/** RFC 3264 §8: an offer whose o= line (incl. version) is unchanged changes nothing. */
function isSameSessionVersion(previous: string | undefined, offer: string): boolean {
  if (!previous) return false;
  const origin = (sdp: string) => /^o=.*$/m.exec(sdp)?.[0]?.trim();
  const a = origin(previous);
  return a !== undefined && a === origin(offer);
}

function quoteDisplay(name: string): string {
  return `"${name.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

function callerFromRequest(req: SipRequest): Party {
  const pai = req.get('p-asserted-identity');
  const from = req.from;
  const uri = from?.uri;
  const number = isSipUri(uri) ? uri.user ?? 'anonymous' : isTelUri(uri) ? uri.number : 'anonymous';
  const assertedMatch = pai ? /sip:([^@;>]+)@|tel:([^;>]+)/.exec(pai) : null;
  const asserted = assertedMatch ? assertedMatch[1] ?? assertedMatch[2] : undefined;
  return { number: asserted ?? number, name: from?.displayName };
}

