// The back-to-back user agent: an INVITE from a device or trunk becomes a Call whose caller leg is
// answered by hibiki and whose callee leg is a new INVITE to every contact of the callee (parallel
// forking) or to a trunk. Media is anchored in the media engine; each leg has its own offer/answer.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { ServerResponse, SipStack } from '../sip/stack.js';
import { isSipUri, isTelUri } from '../sip/uri.js';
import { MediaError, type Direction, type EndpointId, type MediaEngine } from '../media/engine.js';
import { formatReason, parseReasonHeader, q850ToSip, sipToQ850 } from './q850.js';
import { Call, Leg, type CallFeature, type CallOutcome, type Disposition, type ForwardFeature, type HangupBy, type Party } from './call.js';
import type { Registrar } from './registrar.js';
import type { RequestAuthenticator } from './authenticator.js';
import { normaliseDialled, type ExtensionConfig, type GroupConfig, type RouteConfig, type RouteTarget, type Router, type TrunkConfig } from './router.js';
import type { TrunkManager } from './trunks.js';
import { Delivery, type DeliveryDeps, type DeliveryOutcome, type ForwardingLookup } from './delivery.js';
import type { HuntGroups } from './hunt.js';
import type { RingingCalls } from './ringing.js';
import { outboundVerdict } from './number-rules.js';
import { isAnonymousCaller, type ScreenVerdict } from './screening.js';

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
  forwarding: ForwardingLookup & { didBulkDestination(did: string): string | undefined };
  hunt: HuntGroups;
  ringing: RingingCalls;
  screening: { check(target: { extension?: string; did?: string; trunk?: string }, caller: { number: string; anonymous: boolean }): ScreenVerdict };
  /** Wall clock (schedules, hunt order); default Date.now. */
  now?: () => number;
}

/** Prompts the call manager asks the announcer to play before a refusal. */
export type AnnouncementPrompt = 'anonymous-rejected' | 'call-barred';

/** Where placeCall sends the callee side. */
type Destination =
  | { kind: 'extension'; extension: ExtensionConfig }
  | { kind: 'group'; group: GroupConfig }
  | { kind: 'trunk'; trunk: TrunkConfig; route: RouteConfig; number: string; dialled: string }
  | { kind: 'number'; number: string; arrival: { from: string | undefined; feature: ForwardFeature | undefined } };


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

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private deliveryDeps(): DeliveryDeps {
    const { stack, registrar, router, trunks, forwarding, hunt, ringing } = this.deps;
    return {
      stack,
      registrar,
      router,
      trunks,
      forwarding,
      hunt,
      ringing,
      callsOf: (e) => this.callsOf(e),
      now: () => this.now(),
      answerPicker: (call, picker) => this.answerInto(call, picker.req, picker.res, { number: picker.extension.number, name: picker.extension.name }, picker.extension.number),
      dropLeg: (leg) => this.dropLeg(leg),
    };
  }

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
      const trunkName = origin.trunk.name;
      const did = normaliseDialled(dialledRaw);
      const attempt = { direction: 'inbound' as const, caller, dialled: dialledRaw, trunk: trunkName };
      // F-FWD bulk forwarding of a DID takes the call before its normal routing.
      const bulk = this.deps.forwarding.didBulkDestination(did);
      const target = router.resolveInbound(dialledRaw, trunkName);
      if (bulk === undefined && target.kind !== 'extension' && target.kind !== 'group') {
        log.info({ did: dialledRaw, trunk: trunkName }, 'inbound call to unknown DID');
        this.refuse(req, res, attempt, 404, 1, 'unknown DID');
        return;
      }
      const screenedExtension = bulk === undefined && target.kind === 'extension' ? target.extension.number : undefined;
      // F-CLIR: a caller who withheld their number (Privacy, or an anonymous From) stays withheld toward
      // our phones and, when forwarded back out, toward the carrier (with the asserted identity only).
      const anonymous = isAnonymousCaller(req);
      if (!(await this.screen(req, res, offer, attempt, { did, trunk: trunkName, extension: screenedExtension }, { number: caller.number, anonymous }))) return;
      if (!trunks.acquire(trunkName)) {
        this.refuse(req, res, attempt, 503, 34, 'trunk channel limit');
        return;
      }
      const callee = target.kind === 'extension' ? { number: target.extension.number, name: target.extension.name } : target.kind === 'group' ? { number: target.group.number, name: target.group.name } : { number: did };
      const call = new Call(req.callId, 'inbound', caller, dialledRaw, callee, this.deps.media, this.deps.logger);
      call.trunk = trunkName;
      call.once('ended', () => trunks.release(trunkName));
      const dest: Destination =
        bulk !== undefined
          ? { kind: 'number', number: bulk, arrival: { from: did, feature: 'forward_bulk' } }
          : target.kind === 'extension'
            ? { kind: 'extension', extension: target.extension }
            : { kind: 'group', group: (target as Extract<RouteTarget, { kind: 'group' }>).group };
      await this.placeCall(call, req, res, offer, mf, dest, { presentation: anonymous ? 'withhold' : 'present', origin: undefined, did });
      return;
    }

    // Numbers owned by features (service codes, pickup, park slots) come before the dial plan (F-DIALPLAN).
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
    const placeOpts = { presentation, origin: origin.extension };
    if (target.kind === 'extension') {
      const attempt = { direction: 'internal' as const, caller, dialled: resolution.dialled };
      if (!(await this.screen(req, res, offer, attempt, { extension: target.extension.number }, { number: caller.number, anonymous: presentation === 'withhold' }))) return;
      const call = new Call(req.callId, 'internal', caller, resolution.dialled, { number: target.extension.number, name: target.extension.name }, this.deps.media, this.deps.logger);
      await this.placeCall(call, req, res, offer, mf, { kind: 'extension', extension: target.extension }, placeOpts);
      return;
    }
    if (target.kind === 'group') {
      // A group has no block list of its own: the tenant's applies.
      const attempt = { direction: 'internal' as const, caller, dialled: resolution.dialled };
      if (!(await this.screen(req, res, offer, attempt, {}, { number: caller.number, anonymous: presentation === 'withhold' }))) return;
      const call = new Call(req.callId, 'internal', caller, resolution.dialled, { number: target.group.number, name: target.group.name }, this.deps.media, this.deps.logger);
      await this.placeCall(call, req, res, offer, mf, { kind: 'group', group: target.group }, placeOpts);
      return;
    }
    // Outbound through a trunk.
    const attempt = { direction: 'outbound' as const, caller, dialled: resolution.dialled, trunk: target.trunk.name };
    if (origin.extension.callerId === 'none') {
      log.info({ dialled: resolution.dialled }, 'external calls barred for this extension');
      this.refuse(req, res, attempt, 403, 21, 'external calls barred');
      return;
    }
    // F-SCREEN outbound restriction: the extension's class and the tenant restriction list.
    const verdict = outboundVerdict(resolution.number, origin.extension.outboundClass, config.restrictions);
    if (!verdict.ok) {
      log.info({ dialled: resolution.dialled, reason: verdict.reason }, 'outbound call barred');
      await this.refuseAnnounced(req, res, offer, { ...attempt, feature: 'barred' }, 'call-barred', origin.extension.number, { status: 403, cause: 21, reason: verdict.reason });
      return;
    }
    if (!trunks.acquire(target.trunk.name)) {
      log.info({ trunk: target.trunk.name }, 'trunk channel limit reached');
      this.refuse(req, res, attempt, 503, 34, 'trunk channel limit');
      return;
    }
    const call = new Call(req.callId, 'outbound', { ...caller, number: caller.number }, resolution.dialled, { number: target.number }, this.deps.media, this.deps.logger);
    call.trunk = target.trunk.name;
    call.once('ended', () => trunks.release(target.trunk.name));
    await this.placeCall(call, req, res, offer, mf, { kind: 'trunk', trunk: target.trunk, route: target.route, number: target.number, dialled: resolution.number }, { ...placeOpts, channelHeld: true });
  }

  /**
   * F-SCREEN incoming screening of the dialled extension or DID: an anonymous caller refused with its
   * announcement (433), a blocked number refused (403). True when the call may go on.
   */
  private async screen(
    req: SipRequest,
    res: ServerResponse,
    offer: string | undefined,
    attempt: { direction: 'internal' | 'inbound'; caller: Party; dialled: string; trunk?: string },
    target: { extension?: string; did?: string; trunk?: string },
    caller: { number: string; anonymous: boolean },
  ): Promise<boolean> {
    const verdict = this.deps.screening.check(target, caller);
    if (verdict.ok) return true;
    const final = { status: verdict.status, cause: verdict.cause, reason: verdict.reason };
    if (verdict.kind === 'anonymous') {
      await this.refuseAnnounced(req, res, offer, { ...attempt, feature: 'anonymous_rejected' }, 'anonymous-rejected', target.extension, final);
    } else {
      await this.refuseAnnounced(req, res, offer, { ...attempt, feature: 'blocked' }, undefined, target.extension, final);
    }
    return false;
  }

  /** A refusal with an announcement as early media when a prompt is named and an announcer is wired. */
  private async refuseAnnounced(
    req: SipRequest,
    res: ServerResponse,
    offer: string | undefined,
    attempt: { direction: 'internal' | 'inbound' | 'outbound'; caller: Party; dialled: string; trunk?: string; feature: CallFeature },
    prompt: AnnouncementPrompt | undefined,
    listener: string | undefined,
    final: { status: number; cause: number; reason: string },
  ): Promise<void> {
    if (this.announcer) {
      await this.announcer({ req, res, offer, ...attempt }, prompt, listener, final);
      return;
    }
    this.refuse(req, res, attempt, final.status, final.cause, final.reason);
  }

  /**
   * Set by the server: plays a refusal announcement (prompt in the listener's language) as early media,
   * then sends the final response and writes the CDR. Without it refusals are silent.
   */
  announcer:
    | ((
        attempt: { req: SipRequest; res: ServerResponse; offer: string | undefined; direction: 'internal' | 'inbound' | 'outbound'; caller: Party; dialled: string; trunk?: string; feature: CallFeature },
        prompt: AnnouncementPrompt | undefined,
        listener: string | undefined,
        final: { status: number; cause: number; reason: string },
      ) => Promise<void>)
    | undefined;

  /** A call attempt refused before anything rang: answer it and still leave its CDR row (F-CDR). */
  private refuse(
    req: SipRequest,
    res: ServerResponse,
    attempt: { direction: 'internal' | 'inbound' | 'outbound'; caller: Party; dialled: string; trunk?: string; feature?: CallFeature },
    status: number,
    cause: number,
    reason: string,
  ): void {
    res.send(status, undefined, { headers: { reason: formatReason(cause) } });
    const call = new Call(req.callId, attempt.direction, attempt.caller, attempt.dialled, { number: attempt.dialled }, this.deps.media, this.deps.logger);
    call.trunk = attempt.trunk;
    call.feature = attempt.feature;
    this.register(call);
    call.finish({ disposition: 'failed', hangupBy: 'system', q850: cause, sipStatus: status, reason });
  }

  /**
   * Answer-side media, then the callee side (a Delivery: forwarding, hunt groups, trunks, pickup), and
   * the race between answer, failure, timeout and CANCEL.
   */
  private async placeCall(
    call: Call,
    req: SipRequest,
    res: ServerResponse,
    offer: string | undefined,
    maxForwards: number,
    dest: Destination,
    opts: { presentation: 'present' | 'withhold'; origin: ExtensionConfig | undefined; did?: string; channelHeld?: boolean },
  ): Promise<void> {
    const { media, stack } = this.deps;
    const config = this.deps.config();
    this.register(call);

    const fail = (f: Failure) => {
      if (!res.finalResponseSent) res.send(f.status, undefined, { headers: { reason: formatReason(f.cause) } });
      call.finish({ disposition: f.disposition, hangupBy: f.hangupBy, q850: f.cause, sipStatus: f.status, reason: f.reason });
    };

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
    // The callee leg belongs to whoever answers; until then it occupies no extension (busy decisions).
    const legB = call.addLeg(new Leg('callee', epB, call.callee, undefined));
    this.byEndpoint.set(epB, call);
    if (call.isFinished) return;

    let ringingSent = false;
    let earlyMedia = false;
    let settled = false;

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

    const delivery = new Delivery(this.deliveryDeps(), config, call, {
      offer: offerB,
      presentation: opts.presentation,
      maxForwards,
      origin: opts.origin,
      did: opts.did,
      channelHeld: opts.channelHeld,
      onProvisional: (r) => void onProvisional(r),
    });
    res.onLocalFinal((final) => {
      if (settled) return;
      settled = true;
      delivery.cancel();
      call.finish({ disposition: 'failed', hangupBy: 'system', q850: sipToQ850(final.status), sipStatus: final.status, reason: 'no PRACK from the caller' });
    });
    res.onCancel(() => {
      if (settled) return;
      settled = true;
      delivery.cancel();
      call.log.info('caller cancelled');
      // The stack already answered 487 to the INVITE.
      call.finish({ disposition: 'cancelled', hangupBy: 'caller', q850: 16, sipStatus: 487, reason: 'caller cancelled' });
    });

    const outcome = await this.startDelivery(delivery, dest);
    if (outcome.kind === 'cancelled') return;
    if (settled) {
      if (outcome.kind === 'answered') void outcome.dialog.destroy({ headers: { reason: formatReason(16) } });
      if (outcome.kind === 'picked') this.dropLeg(outcome.leg);
      return;
    }
    settled = true;
    if (outcome.kind === 'failed') {
      call.log.info({ status: outcome.status, cause: outcome.cause, reason: outcome.reason }, 'callee side failed');
      fail(outcome);
      return;
    }
    if (outcome.kind === 'picked') {
      this.completePickup(call, req, res, legA, legB, answerA, outcome.leg, outcome.extension);
      return;
    }
    const dialog = outcome.dialog;
    try {
      if (dialog.remote.sdp) {
        // Early media already took the answer to our offer (the same phone's 183, or an earlier hunt or
        // forwarding hop): offer again — the same ports and codecs — so the final answer can be applied.
        if (earlyMedia) await media.createOffer(epB);
        await media.acceptAnswer(epB, dialog.remote.sdp);
      }
      let localSdpA = answerA;
      if (localSdpA === undefined) localSdpA = await media.createOffer(epA);
      media.bridge(epA, epB);
      legA.peer = legB;
      legB.peer = legA;
      legB.dialog = dialog;
      if (outcome.release) legB.holds(outcome.release);
      legB.party = outcome.party;
      legB.extension = outcome.extension;
      call.callee = outcome.party;
      legA.dialog = stack.createUAS(req, res, { localSdp: localSdpA });
      // answered_by names the extension (as pickup and park do); the device that answered is in the log line.
      call.markAnswered(outcome.extension ?? outcome.label);
      call.log.info({ answeredBy: outcome.label, callee: outcome.party.number }, 'call answered');
      if (outcome.group && outcome.extension) {
        const group = outcome.group;
        const member = outcome.extension;
        call.once('ended', () => this.deps.hunt.callEnded(group, member, this.now()));
      }
      this.applyDtmfPolicy(legB, config);
      this.wireLeg(call, legA);
      this.wireLeg(call, legB);
      for (const hook of this.answeredHooks) hook(call, legA, legB, config);
    } catch (err) {
      call.log.warn({ err: (err as Error).message }, 'answer could not be bridged');
      void dialog.destroy({ headers: { reason: formatReason(65) } });
      fail({ status: err instanceof MediaError ? err.sipStatus : 500, cause: err instanceof MediaError && err.sipStatus === 488 ? 65 : 41, disposition: 'failed', reason: (err as Error).message, hangupBy: 'system' });
    }
  }

  private startDelivery(delivery: Delivery, dest: Destination): Promise<DeliveryOutcome> {
    switch (dest.kind) {
      case 'extension':
        return delivery.toExtension(dest.extension);
      case 'group':
        return delivery.toGroup(dest.group);
      case 'trunk':
        return delivery.toTrunk(dest.trunk, dest.route, dest.number, dest.dialled);
      case 'number':
        return delivery.toNumber(dest.number, dest.arrival);
    }
  }

  /**
   * F-PICKUP: the picker's leg (already answered by the Delivery) takes the ringing call: the caller is
   * answered and bridged to it, and the unused callee-side endpoint goes.
   */
  private completePickup(call: Call, req: SipRequest, res: ServerResponse, legA: Leg, legB: Leg, answerA: string | undefined, leg: Leg, extension: string): void {
    const { media } = this.deps;
    call.removeLeg(legB);
    this.byEndpoint.delete(legB.endpoint);
    media.destroy(legB.endpoint);
    if (call.isFinished || res.finalResponseSent) {
      // The caller gave up (CANCEL, answered 487 by the stack) just as the picker was answered.
      this.dropLeg(leg);
      call.finish({ disposition: 'cancelled', hangupBy: 'caller', q850: 16, sipStatus: 487, reason: 'caller cancelled during pickup' });
      return;
    }
    if (answerA === undefined) {
      // A delayed-offer caller: offer in the 200, the answer comes in the ACK (wireLeg applies it).
      void media.createOffer(legA.endpoint).then(
        (sdp) => this.answerPickedCaller(call, req, res, legA, leg, sdp, extension),
        (err: unknown) => {
          call.log.warn({ err: (err as Error).message }, 'picked call could not be answered');
          this.hangup(call, 'system', 41, 'pickup failed');
        },
      );
      return;
    }
    this.answerPickedCaller(call, req, res, legA, leg, answerA, extension);
  }

  private answerPickedCaller(call: Call, req: SipRequest, res: ServerResponse, legA: Leg, leg: Leg, sdp: string, extension: string): void {
    if (call.isFinished || res.finalResponseSent) {
      this.dropLeg(leg);
      call.finish({ disposition: 'cancelled', hangupBy: 'caller', q850: 16, sipStatus: 487, reason: 'caller cancelled during pickup' });
      return;
    }
    legA.dialog = this.deps.stack.createUAS(req, res, { localSdp: sdp });
    const picker = leg.extension ?? leg.party.number;
    call.feature = 'pickup';
    call.callee = { number: extension, name: this.deps.router.extension(extension)?.name };
    call.markAnswered(picker);
    call.log.info({ callee: extension, pickedUpBy: picker }, 'call answered by pickup');
    this.wireLeg(call, legA);
    this.bridgeLegs(call, legA, leg);
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
    opts: {
      presentedAs: Party;
      ringTimeoutSec: number;
      onRinging?: (cancel: () => void) => void;
      /** The extension on whose behalf the number is dialled (a transferor): its outbound class and restrictions apply. */
      by?: string;
    },
  ): Promise<{ leg: Leg } | { failure: { status: number; cause: number; disposition: Disposition } }> {
    const { media } = this.deps;
    const config = this.deps.config();
    const ep = await media.createEndpoint({ label: `${call.callId}/${number}` });
    let offer: string;
    try {
      offer = await media.createOffer(ep);
    } catch {
      media.destroy(ep);
      return { failure: { status: 503, cause: 47, disposition: 'failed' } };
    }
    // The number is dialled like a new call (groups, forwarding, pickup), presenting the transferred party.
    const delivery = new Delivery(this.deliveryDeps(), config, call, {
      offer,
      presentation: 'present',
      maxForwards: config.calls.maxForwards,
      origin: opts.by !== undefined ? this.deps.router.extension(opts.by) : undefined,
      caller: opts.presentedAs,
      ringTimeoutSec: opts.ringTimeoutSec,
      annotate: false,
    });
    const stop = () => delivery.cancel();
    call.once('ended', stop);
    opts.onRinging?.(stop);
    const outcome = await delivery.toNumber(number);
    call.off('ended', stop);
    if (outcome.kind === 'picked') {
      media.destroy(ep);
      if (call.isFinished) {
        this.dropLeg(outcome.leg);
        return { failure: { status: 487, cause: 16, disposition: 'cancelled' } };
      }
      call.log.info({ number, pickedUpBy: outcome.leg.extension }, 'leg answered by pickup');
      return { leg: outcome.leg };
    }
    if (outcome.kind !== 'answered' || call.isFinished) {
      media.destroy(ep);
      if (outcome.kind === 'answered') {
        outcome.release?.();
        void outcome.dialog.destroy({ headers: { reason: formatReason(16) } });
      }
      if (outcome.kind === 'failed') return { failure: { status: outcome.status, cause: outcome.cause, disposition: outcome.disposition } };
      return { failure: { status: 487, cause: 16, disposition: 'cancelled' } };
    }
    try {
      if (outcome.dialog.remote.sdp) await media.acceptAnswer(ep, outcome.dialog.remote.sdp);
    } catch {
      media.destroy(ep);
      outcome.release?.();
      void outcome.dialog.destroy({ headers: { reason: formatReason(65) } });
      return { failure: { status: 488, cause: 65, disposition: 'failed' } };
    }
    const leg = call.addLeg(new Leg('callee', ep, outcome.party, outcome.extension));
    if (outcome.release) leg.holds(outcome.release);
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
    let ep: EndpointId;
    try {
      ep = await media.createEndpoint({ label: `${call.callId}/${party.number}` });
    } catch {
      if (!res.finalResponseSent) res.send(503, undefined, { headers: { reason: formatReason(47) } });
      return undefined;
    }
    let sdp: string;
    try {
      sdp = isSdp(req) ? (await media.answerOffer(ep, req.body.toString('utf8'))).sdp : await media.createOffer(ep);
    } catch (err) {
      media.destroy(ep);
      if (!res.finalResponseSent) res.send(err instanceof MediaError ? err.sipStatus : 500);
      return undefined;
    }
    // The INVITE may have been cancelled (487 already sent) while its media was being set up.
    if (res.finalResponseSent || call.isFinished) {
      media.destroy(ep);
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
    leg.release();
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
      leg.release();
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

  /**
   * Pass a new offer (hold/resume, codec change) from one leg to the other, SDP rewritten per leg.
   * Never rejects: the callers fire and forget, and any failure (a malformed offer included, on
   * every path) is the re-INVITE's or UPDATE's final response.
   */
  private async relayOffer(call: Call, from: Leg, req: SipRequest, res: ServerResponse): Promise<void> {
    try {
      await this.relayOfferOrThrow(call, from, req, res);
    } catch (err) {
      call.log.warn({ err: (err as Error).message }, 're-INVITE relay failed');
      if (!res.finalResponseSent) res.send(err instanceof MediaError ? err.sipStatus : 500);
    }
  }

  private async relayOfferOrThrow(call: Call, from: Leg, req: SipRequest, res: ServerResponse): Promise<void> {
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

function callerFromRequest(req: SipRequest): Party {
  const pai = req.get('p-asserted-identity');
  const from = req.from;
  const uri = from?.uri;
  const number = isSipUri(uri) ? uri.user ?? 'anonymous' : isTelUri(uri) ? uri.number : 'anonymous';
  const assertedMatch = pai ? /sip:([^@;>]+)@|tel:([^;>]+)/.exec(pai) : null;
  const asserted = assertedMatch ? assertedMatch[1] ?? assertedMatch[2] : undefined;
  return { number: asserted ?? number, name: from?.displayName };
}

