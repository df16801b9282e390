// A new INVITE becomes a call: loop check, who is calling (a trunk by its address, or a device by digest
// authentication), what was dialled, the dial plan's destination, incoming screening and the trunk channel,
// then the call with its caller leg goes to the destination's application.
import { ownString } from '../sip/strings.js';
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { SipRequest } from '../sip/message.js';
import type { SipStack } from '../sip/stack.js';
import type { ServerResponse } from '../sip/server-response.js';
import { isSipUri, isTelUri } from '../sip/uri.js';
import { callingParty, isAnonymousCaller } from '../sip/privacy.js';
import { Call, type CallDirection, type CallFeature } from './call.js';
import { Leg, type Party } from './leg.js';
import type { CallRegistry } from './calls.js';
import type { LegControl } from './leg-control.js';
import type { DialPlan } from './dial-plan.js';
import { isSdp } from './in-dialog.js';
import { formatReason, sipToQ850 } from './q850.js';
import { answerOnFailure } from './failures.js';
import type { Destination, ExtensionConfig, Origin, ScreenHandler, ScreenVerdict } from './application.js';
import type { CoreSession } from './services.js';
import type { MediaEngine } from '../media/engine.js';
import type { Clock } from '../util/clock.js';

export interface InviteAuthenticator {
  /** The extension the request authenticated as, or null after answering it (challenge or refusal). */
  authenticate(req: SipRequest, res: ServerResponse, challengeStatus: 401 | 407): ExtensionConfig | null;
}

export interface TrunkChannels {
  /** The trunk a request from this address comes from (IP authentication). */
  matchInbound(address: string): { name: string } | undefined;
  acquire(name: string): boolean;
  release(name: string): void;
}

export interface CallSetupDeps {
  stack: SipStack;
  media: MediaEngine;
  clock: Clock;
  logger: Logger;
  authenticator: InviteAuthenticator;
  trunks: TrunkChannels;
  dialPlan: DialPlan;
  registry: CallRegistry;
  legs: LegControl;
  config: () => HibikiConfig;
  screen: () => ScreenHandler | undefined;
  session(call: Call, context: { origin: Origin; presentation: 'present' | 'withhold' }): CoreSession;
}

interface Attempt {
  req: SipRequest;
  res: ServerResponse;
  direction: CallDirection;
  caller: Party;
  dialled: string;
  trunk?: string;
}

export class CallSetup {
  constructor(private readonly deps: CallSetupDeps) {}

  start(): void {
    this.deps.stack.use('INVITE', (req, res) => {
      this.onInvite(req, res).catch((err: unknown) => {
        this.deps.logger.error({ err, callId: req.callId }, 'INVITE handling failed');
        if (!res.finalResponseSent) res.send(500, undefined, { headers: { reason: formatReason(41) } });
      });
    });
  }

  private async onInvite(req: SipRequest, res: ServerResponse): Promise<void> {
    const { authenticator, trunks, dialPlan } = this.deps;
    const config = this.deps.config();
    const log = this.deps.logger.child({ callId: req.callId });
    const reject = (status: number, cause: number) => res.send(status, undefined, { headers: { reason: formatReason(cause) } });

    // Loop detection (RFC 3261 §16.3 step 2 applied to our own forwarding).
    const mf = req.maxForwards ?? config.calls.maxForwards;
    if (mf <= 0) return void reject(483, 25);
    if (!req.source) return;
    if (req.contacts === null) return void res.send(400, 'Bad Request (unparsable Contact)');

    const trunk = trunks.matchInbound(req.source.address);
    let device: ExtensionConfig | undefined;
    if (!trunk) {
      device = authenticator.authenticate(req, res, 401) ?? undefined;
      if (!device) return;
    }
    const ruri = req.requestUri;
    const dialledRaw = isSipUri(ruri) ? ruri.user : isTelUri(ruri) ? ruri.number : undefined;
    if (!dialledRaw) return void reject(404, 1);
    const offer = isSdp(req) ? req.body.toString('utf8') : undefined;

    if (trunk) {
      const origin: Origin = { kind: 'trunk', trunk: trunk.name, did: dialledRaw };
      const caller = callingParty(req);
      const attempt: Attempt = { req, res, direction: 'inbound', caller, dialled: dialledRaw, trunk: trunk.name };
      const destination = dialPlan.inbound(dialledRaw, origin, config);
      if (!destination) {
        log.info({ did: dialledRaw, trunk: trunk.name }, 'inbound call to unknown DID');
        return this.refuse(attempt, { status: 404, cause: 1, reason: 'unknown DID' });
      }
      // F-CLIR: a caller who withheld their number (Privacy, or an anonymous From) stays withheld toward
      // our phones and, when forwarded back out, toward the carrier (with the asserted identity only).
      const anonymous = isAnonymousCaller(req);
      const screening = destination.screening === 'none' ? {} : (destination.screening ?? {});
      const verdict = this.screen({ did: origin.did, trunk: trunk.name, extension: screening.extension }, { number: caller.number, anonymous });
      if (!verdict.ok) return this.refuse(attempt, verdict, verdict.feature, verdict.prompt);
      if (!trunks.acquire(trunk.name)) {
        if (destination.uncountedWithoutChannel) {
          // A queue does not count such calls, and they leave no CDR (F-QUEUE, the seed's rule).
          log.info({ did: dialledRaw, trunk: trunk.name }, 'trunk channel limit: call to a queue refused without a record');
          return void res.send(503, undefined, { headers: { reason: formatReason(34) } });
        }
        return this.refuse(attempt, { status: 503, cause: 34, reason: 'trunk channel limit' });
      }
      const call = this.open(attempt, destination, offer);
      call.once('ended', () => trunks.release(trunk.name));
      await this.run(call, destination, origin, anonymous ? 'withhold' : 'present');
      return;
    }

    const ext = device!;
    const origin: Origin = { kind: 'device', extension: ext };
    const caller = { number: ext.number, name: ext.name };
    const resolution = dialPlan.resolve(dialledRaw, origin, config);
    const destination = resolution.destination;
    const presentation = resolution.presentation === 'default' ? ext.presentation : resolution.presentation;
    const attempt: Attempt = { req, res, direction: destination?.outbound ? 'outbound' : 'internal', caller, dialled: resolution.dialled };
    if (!destination) {
      log.info({ dialled: resolution.dialled }, 'call to unknown number');
      return this.refuse(attempt, { status: 404, cause: 1, reason: 'unknown number' });
    }
    if (destination.screening !== undefined && destination.screening !== 'none') {
      const verdict = this.screen({ extension: destination.screening.extension }, { number: caller.number, anonymous: presentation === 'withhold' });
      if (!verdict.ok) return this.refuse(attempt, verdict, verdict.feature, verdict.prompt);
    }
    const call = this.open(attempt, destination, offer, ext.number);
    await this.run(call, destination, origin, presentation);
  }

  private screen(target: { extension?: string; did?: string; trunk?: string }, caller: { number: string; anonymous: boolean }): ScreenVerdict {
    return this.deps.screen()?.(target, caller) ?? { ok: true };
  }

  /** The call and its caller leg, tracked from now on; a CANCEL or a missing PRACK ends the leg. */
  private open(attempt: Attempt, destination: Destination, offer: string | undefined, extension?: string): Call {
    const { registry, legs, media, clock, logger } = this.deps;
    const { req, res } = attempt;
    // Its own copy: a slice would keep the INVITE's whole datagram text for the length of the call.
    const call = new Call(ownString(req.callId), attempt.direction, attempt.caller, attempt.dialled, destination.callee, media, clock, logger);
    call.trunk = attempt.trunk;
    registry.add(call);
    const leg = new Leg('caller', attempt.caller, extension, { req, res, sdp: offer });
    registry.attach(call, leg);
    // Until the application takes the leg, a CANCEL simply ends the attempt.
    leg.take({
      label: 'call set-up',
      ended: (_l, end) => {
        if (end.cancelled) call.end({ disposition: 'cancelled', hangupBy: 'caller', q850: 16, sipStatus: 487, reason: 'caller cancelled' });
        else call.end({ disposition: 'failed', hangupBy: 'system', q850: end.cause, sipStatus: end.localFinal, reason: end.reason });
      },
    });
    res.onCancel(() => legs.ended(leg, { by: 'party', cause: 16, reason: 'caller cancelled', cancelled: true }));
    res.onLocalFinal((final) => legs.ended(leg, { by: 'system', cause: sipToQ850(final.status), reason: 'no PRACK from the caller', localFinal: final.status }));
    return call;
  }

  /**
   * Hand the call to its application. Whatever it fails with, nothing is left hanging: the INVITE gets a
   * final response if it has none, and the call ends (cause 41) if it has not.
   */
  private async run(call: Call, destination: Destination, origin: Origin, presentation: 'present' | 'withhold'): Promise<void> {
    const session = this.deps.session(call, { origin, presentation });
    const leg = call.legs[0]!;
    try {
      await destination.app.run(session, leg, destination.args);
    } catch (err) {
      if (leg.invite) answerOnFailure(leg.invite.res, call.log, `${destination.app.name} failed`)(err);
      else call.log.error({ err }, `${destination.app.name} failed`);
      if (!call.isFinished) session.hangup('system', 41, `${destination.app.name} failed`);
    }
  }

  /** A call refused before anything rang: answered (after an announcement, when there is one) and still a CDR row (F-CDR). */
  private async refuse(attempt: Attempt, refusal: { status: number; cause: number; reason: string }, feature?: CallFeature, prompt?: string[]): Promise<void> {
    const call = this.open(
      attempt,
      { app: NO_APP, args: undefined, callee: { number: attempt.dialled } },
      attempt.req.body.length > 0 && isSdp(attempt.req) ? attempt.req.body.toString('utf8') : undefined,
    );
    call.feature = feature;
    const session = this.deps.session(call, { origin: { kind: 'trunk', trunk: attempt.trunk ?? '', did: attempt.dialled }, presentation: 'present' });
    const leg = call.legs[0]!;
    await session.refuse(leg.take({ label: 'refusal', ended: () => undefined }), refusal, { prompt });
  }
}

/** The destination of a refused attempt: nothing runs. */
const NO_APP = { name: 'refused', run: async () => undefined };
