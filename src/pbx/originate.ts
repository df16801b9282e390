// Click-to-call (issue #12, F-API): hibiki rings an extension's phones first, showing the number it is about
// to call; when one answers, that leg goes to the number's destination exactly as if the extension had
// dialled it — the same dial plan, screening, features and restrictions, and a CDR whose caller is the
// extension. Only the INVITE from the phone is missing: the caller leg is one hibiki dialled itself.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { MediaEngine } from '../media/engine.js';
import type { Clock } from '../util/clock.js';
import { Call, type Party } from './call.js';
import type { CallRegistry } from './calls.js';
import type { DialPlan } from './dial-plan.js';
import { failure } from './delivery.js';
import type { LegEnd, Leg } from './leg.js';
import type { RingTarget } from './ringer.js';
import type { CoreSession } from './services.js';
import type { DeliveryOutcome, Destination, ExtensionConfig, Origin, RingContext, ScreenHandler } from './application.js';

export interface OriginateRequest {
  /** The extension whose phones ring first; the call is placed as this extension. */
  from: ExtensionConfig;
  /** The number dialled once `from` answers (as the extension would dial it). */
  to: string;
  /** The devices of `from` to ring (its registered contacts, a hot-desk device included). */
  contacts: RingTarget[];
  /** Ask the phone to answer by itself (Call-Info answer-after=0, Alert-Info info=alert-autoanswer). */
  autoAnswer: boolean;
}

export type OriginateResult = { ok: true; call: Call } | { ok: false; problem: 'unreachable' | 'not-registered'; message: string };

export interface OriginateDeps {
  media: MediaEngine;
  clock: Clock;
  logger: Logger;
  registry: CallRegistry;
  dialPlan: DialPlan;
  config: () => HibikiConfig;
  screen: () => ScreenHandler | undefined;
  session(call: Call, context: { origin: Origin; presentation: 'present' | 'withhold' }): CoreSession;
}

/** The auto-answer requests phones understand (Polycom/Yealink Alert-Info, Snom/Grandstream Call-Info). */
const autoAnswerHeaders = (domain: string): [string, string][] => [
  ['call-info', `<sip:${domain}>;answer-after=0`],
  ['alert-info', `<sip:${domain}>;info=alert-autoanswer`],
];

/**
 * Start a click-to-call. The number is resolved first, so a number that reaches nothing is refused before
 * any phone rings; anything decided later (busy, a restriction of the outside line) ends the call with its CDR.
 */
export function originate(deps: OriginateDeps, req: OriginateRequest): OriginateResult {
  const config = deps.config();
  const origin: Origin = { kind: 'device', extension: req.from };
  const resolution = deps.dialPlan.resolve(req.to, origin, config);
  const destination = resolution.destination;
  if (!destination) return { ok: false, problem: 'unreachable', message: `${req.to} reaches nothing from extension ${req.from.number}` };
  if (req.contacts.length === 0) return { ok: false, problem: 'not-registered', message: `extension ${req.from.number} has no registered phone` };
  const presentation = resolution.presentation === 'default' ? req.from.presentation : resolution.presentation;
  const caller: Party = { number: req.from.number, name: req.from.name };
  const direction = destination.outbound ? 'outbound' : 'internal';
  const call = new Call(`c2c-${randomUUID()}`, direction, caller, resolution.dialled, destination.callee, deps.media, deps.clock, deps.logger);
  deps.registry.add(call);
  const session = deps.session(call, { origin, presentation });
  call.log.info({ from: req.from.number, to: resolution.dialled, contacts: req.contacts.length }, 'click-to-call');
  run(deps, session, req, destination, resolution.number).catch((err: unknown) => {
    call.log.error({ err }, 'click-to-call failed');
    if (!call.isFinished) session.hangup('system', 41, 'click-to-call failed');
  });
  return { ok: true, call };
}

async function run(deps: OriginateDeps, session: CoreSession, req: OriginateRequest, destination: Destination, number: string): Promise<void> {
  const call = session.call;
  const config = deps.config();
  const from = req.from;
  const ringTimeoutSec = from.ringTimeout ?? config.calls.ringTimeout;
  const ringCaller = async (d: RingContext): Promise<DeliveryOutcome> => {
    const outcome = await d.ring({
      contacts: req.contacts,
      // Not offered to call pickup: the call is this extension's own.
      extensions: [],
      from: d.fromHeader(d.caller.name),
      to: `<sip:${from.number}@${config.tenant.domain}>`,
      ringTimeoutSec,
      local: true,
      headers: req.autoAnswer ? autoAnswerHeaders(config.tenant.domain) : undefined,
    });
    if (outcome.kind === 'answered') return { kind: 'answered', dialog: outcome.dialog, label: outcome.label, party: call.caller, extension: from.number };
    if (outcome.kind === 'picked' || outcome.kind === 'cancelled') return outcome;
    if (outcome.kind === 'timeout') return failure(480, 19, 'no_answer', `click-to-call: ${from.number} did not answer`);
    if (outcome.kind === 'unresponsive') return failure(408, 18, 'failed', `click-to-call: ${from.number} did not respond`);
    return failure(outcome.status, outcome.cause, outcome.disposition, `click-to-call: ${from.number} answered ${outcome.status}`);
  };
  const dialled = await session.dial(
    { label: `click-to-call ${from.number}`, ring: ringCaller },
    {
      // The phone shows whom it is about to call.
      presentedAs: { number, name: destination.callee.name },
      ringTimeoutSec,
      owner: { label: 'click-to-call caller', ended: (leg: Leg, end: LegEnd) => session.hangup(end.by === 'party' ? 'caller' : 'system', end.cause, end.reason, leg) },
    },
  );
  if (!dialled.ok) {
    if (!call.isFinished) {
      const reason = dialled.disposition === 'cancelled' ? 'click-to-call cancelled' : `click-to-call: ${from.number} did not answer`;
      call.end({ disposition: dialled.disposition, hangupBy: 'system', q850: dialled.cause, sipStatus: dialled.status, reason });
    }
    return;
  }
  const leg = dialled.leg.leg;
  leg.role = 'caller';
  leg.party = call.caller;
  // F-SCREEN as for a call the extension dialled: the destination's incoming screening decides first.
  if (destination.screening !== undefined && destination.screening !== 'none') {
    const verdict = deps.screen()?.({ extension: destination.screening.extension }, { number: from.number, anonymous: session.presentation === 'withhold' }) ?? { ok: true };
    if (!verdict.ok) {
      call.feature = verdict.feature;
      session.hangup('system', verdict.cause, verdict.reason);
      return;
    }
  }
  try {
    await destination.app.run(session, leg, destination.args);
  } catch (err) {
    call.log.error({ err }, `${destination.app.name} failed`);
    if (!call.isFinished) session.hangup('system', 41, `${destination.app.name} failed`);
  }
}
