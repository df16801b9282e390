// Connecting an offered caller to whatever a ringable destination answers with: the caller's media is set up
// first (a codec mismatch fails fast with 488), the destination is rung with our offer, its ringing and early
// media reach the caller (180 / 183), and on answer the caller is answered and both legs are bridged — or
// the caller gets the destination's failure. CANCEL and a missing PRACK can end it at any point.
import { isSdp } from './in-dialog.js';
import { ends, type Disposition, type HangupBy } from './call.js';
import { Leg, type LegHandle, type LegOwner } from './leg.js';
import { formatReason, sipToQ850 } from './q850.js';
import type { PlayHandle } from '../media/engine.js';
import { mediaProfileOf } from '../media/sdp.js';
import type { ConnectOptions, DeliveryOutcome, RingContext } from './application.js';
import type { CoreServices, CoreSession } from './services.js';

interface Failure {
  status: number;
  cause: number;
  disposition: Disposition;
  reason: string;
  hangupBy: HangupBy;
}

export async function connectCaller(session: CoreSession, core: CoreServices, legA: Leg, ring: (delivery: RingContext) => Promise<DeliveryOutcome>, opts: ConnectOptions): Promise<void> {
  const { media, legMedia, registry, inDialog } = core;
  const call = session.call;
  const config = session.config();
  const invite = legA.invite;
  // Handed on after it was answered (by an IVR), or rung by hibiki itself (click-to-call, which has no
  // INVITE from the caller): no provisional or final response is left to send; the caller hears ringback
  // from us, and a failure ends the call with a BYE.
  const answeredCaller = legA.state === 'answered';
  if (!invite && !answeredCaller) throw new Error('connect: the caller leg has no INVITE to answer');
  // A click-to-call caller answered its own phone, not this call: until the destination answers, the call
  // is not answered (its CDR keeps the destination's disposition).
  const billed = call.isAnswered;
  let ringback: PlayHandle | undefined;

  let settled = false;
  let cancelRinging: (() => void) | undefined;
  // While the callee side rings, the caller's CANCEL (or a missing PRACK) ends the attempt.
  const owner: LegOwner = {
    label: 'connecting',
    ended: (_leg, end) => {
      if (settled) return;
      settled = true;
      cancelRinging?.();
      if (answeredCaller && !billed) {
        call.log.info('caller hung up while the destination rang');
        call.end(ends.cancelled(`caller hung up while ${call.callee.number} rang`));
        return;
      }
      if (answeredCaller) {
        call.log.info('caller hung up while the destination rang');
        call.end({ disposition: 'answered', hangupBy: 'caller', q850: end.cause, sipStatus: 200, reason: `caller hung up while ${call.callee.number} rang` });
        return;
      }
      if (end.localFinal !== undefined) {
        call.end({ disposition: 'failed', hangupBy: 'system', q850: sipToQ850(end.localFinal), sipStatus: end.localFinal, reason: 'no PRACK from the caller' });
        return;
      }
      call.log.info('caller cancelled');
      call.end(ends.cancelled());
    },
  };
  const mine = legA.take(owner);

  const fail = (f: Failure) => {
    ringback?.stop();
    if (answeredCaller && !billed) {
      if (call.isFinished) return;
      for (const leg of call.legs) core.legs.drop(leg, f.cause);
      call.end({ disposition: f.disposition, hangupBy: f.hangupBy, q850: f.cause, sipStatus: f.status, reason: f.reason });
      return;
    }
    if (answeredCaller) {
      if (!call.isFinished) core.legs.hangup(call, f.hangupBy, f.cause, f.reason);
      return;
    }
    if (!invite) return;
    if (!invite.res.finalResponseSent) invite.res.send(f.status, undefined, { headers: { reason: formatReason(f.cause) } });
    call.end({ disposition: f.disposition, hangupBy: f.hangupBy, q850: f.cause, sipStatus: f.status, reason: f.reason });
  };

  // Caller leg media: answer the caller's offer now so a codec mismatch fails fast with 488.
  const prepared = await legMedia.prepare(legA);
  if (!prepared.ok) return fail({ ...prepared, disposition: 'failed', hangupBy: 'system' });
  session.applyDtmfPolicy(legA);
  const offered = await legMedia.offer(`${call.callId}/b`, legA.endpoint);
  if (!offered.ok) return fail({ ...offered, disposition: 'failed', hangupBy: 'system' });
  if (call.isFinished || settled) {
    // The caller went away while the endpoint was made; the call has freed its legs already.
    media.destroy(offered.endpoint);
    return;
  }
  // The callee leg belongs to whoever answers; until then it occupies no extension (busy decisions).
  const legB = new Leg('callee', call.callee, undefined);
  legB.endpoint = offered.endpoint;
  registry.attach(call, legB);
  const epA = legA.endpoint!;
  const epB = offered.endpoint;

  let ringingSent = false;
  let earlyMedia = false;
  const onProvisional = async (r: import('../sip/message.js').SipResponse) => {
    if (settled) return;
    if ((r.status === 183 || (r.status === 180 && r.body.length > 0)) && !earlyMedia && isSdp(r) && (invite?.sdp !== undefined || answeredCaller)) {
      earlyMedia = true;
      try {
        await media.acceptAnswer(epB, r.body.toString('utf8'), { provisional: true });
        // The destination's own early media (a carrier's announcement) replaces our ringback.
        ringback?.stop();
        media.bridge(epA, epB);
        if (!settled && legMedia.sendEarlyMedia(legA)) ringingSent = true;
      } catch (err) {
        call.log.debug({ err: (err as Error).message }, 'unusable early media');
      }
      return;
    }
    if (!ringingSent && (r.status === 180 || r.status === 183) && invite && !invite.res.finalResponseSent) {
      ringingSent = true;
      invite.res.send(180);
    }
  };

  const delivery = session.delivery({
    offer: offered.sdp,
    webrtcOffer: media.webrtc ? () => media.createOffer(epB, { profile: 'webrtc' }) : undefined,
    presentation: opts.presentation,
    maxForwards: invite?.req.maxForwards ?? config.calls.maxForwards,
    origin: opts.origin,
    did: opts.did,
    channelHeld: opts.channelHeld,
    onProvisional: (r) => {
      onProvisional(r).catch((err: unknown) => call.log.warn({ err }, 'provisional response not relayed'));
    },
  });
  cancelRinging = () => delivery.cancel();
  // The call can also be ended from outside (an administrator's hang-up): nothing keeps ringing for it.
  call.once('ended', cancelRinging);
  if (answeredCaller) ringback = session.play(legA, core.ringback(legA), { loop: true });

  const outcome = await ring(delivery);
  call.off('ended', cancelRinging);
  ringback?.stop();
  if (outcome.kind === 'cancelled') return;
  if (outcome.kind === 'application' && !settled) {
    // The caller goes to a call application (voicemail) instead of a phone: the callee-side endpoint is not
    // needed, and the application takes the caller's leg from here (it answers or refuses it).
    settled = true;
    call.removeLeg(legB);
    media.destroy(epB);
    mine.release();
    call.log.info({ application: outcome.destination.app.name, callee: outcome.destination.callee.number }, 'caller handed to a call application');
    await outcome.destination.app.run(session, legA, outcome.destination.args);
    return;
  }
  if (settled) {
    if (outcome.kind === 'answered') {
      outcome.release?.();
      void outcome.dialog.destroy({ headers: { reason: formatReason(16) } });
    }
    if (outcome.kind === 'picked') core.legs.drop(outcome.leg);
    return;
  }
  settled = true;
  if (outcome.kind === 'failed') {
    call.log.info({ status: outcome.status, cause: outcome.cause, reason: outcome.reason }, 'callee side failed');
    fail(outcome);
    return;
  }
  if (outcome.kind === 'picked') {
    await completePickup(session, core, mine, legB, outcome.leg, outcome.extension);
    return;
  }
  // Handled above before `settled`; here only for the type.
  if (outcome.kind === 'application') return;

  const dialog = outcome.dialog;
  try {
    if (dialog.remote.sdp) {
      // Early media already took the answer to our offer (the same phone's 183, or an earlier hunt or
      // forwarding hop): offer again — the same ports and codecs — so the final answer can be applied.
      if (earlyMedia) await media.createOffer(epB, { profile: mediaProfileOf(dialog.remote.sdp) });
      await media.acceptAnswer(epB, dialog.remote.sdp);
    }
  } catch (err) {
    call.log.warn({ err: (err as Error).message }, 'answer could not be bridged');
    outcome.release?.();
    void dialog.destroy({ headers: { reason: formatReason(65) } });
    const f = { status: 488, cause: 65, reason: (err as Error).message };
    return fail({ ...f, disposition: 'failed', hangupBy: 'system' });
  }
  legB.party = outcome.party;
  legB.extension = outcome.extension;
  legB.markAnswered(dialog);
  if (outcome.release) legB.holds(outcome.release);
  call.callee = outcome.party;
  inDialog.wire(legB);
  const calleeHandle = legB.take({ label: 'answered callee', ended: (leg, end) => session.hangup(end.by === 'party' ? 'callee' : 'system', end.cause, end.reason, leg) });
  const answered = answeredCaller ? { ok: !legA.ended } : await legMedia.answer(legA);
  if (!answered.ok) {
    // The caller went away (CANCEL) just as the callee answered.
    core.legs.drop(legB);
    if (!call.isFinished) call.end(ends.cancelled('caller cancelled as the callee answered'));
    return;
  }
  // answered_by names the extension (as pickup and park do); the device that answered is in the log line.
  // A caller answered earlier (by an IVR) keeps its answer time: billing runs from there.
  if (billed) {
    call.answeredBy = outcome.extension ?? outcome.label;
    call.report({ state: 'answered', by: call.answeredBy });
  } else call.markAnswered(outcome.extension ?? outcome.label);
  call.log.info({ answeredBy: outcome.label, callee: outcome.party.number }, 'call answered');
  if (outcome.whenCallEnds) call.once('ended', outcome.whenCallEnds);
  session.applyDtmfPolicy(legB);
  session.bridge(mine, calleeHandle);
}

/**
 * F-PICKUP: the picker's leg (already answered into this call) takes the ringing call: the caller is
 * answered and bridged to it, and the unused callee-side endpoint goes.
 */
async function completePickup(session: CoreSession, core: CoreServices, caller: LegHandle, placeholder: Leg, picked: Leg, extension: string): Promise<void> {
  const call = session.call;
  call.removeLeg(placeholder);
  if (placeholder.endpoint !== undefined) core.media.destroy(placeholder.endpoint);
  const pickedHandle = picked.take({ label: 'picker', ended: (leg, end) => session.hangup(end.by === 'party' ? 'callee' : 'system', end.cause, end.reason, leg) });
  const answered = call.isFinished ? { ok: false } : await core.legMedia.answer(caller.leg);
  if (!answered.ok || call.isFinished) {
    // The caller gave up (CANCEL, answered 487 by the stack) just as the picker was answered.
    core.legs.drop(picked);
    call.end(ends.cancelled('caller cancelled during pickup'));
    return;
  }
  const picker = picked.extension ?? picked.party.number;
  call.feature = 'pickup';
  call.callee = { number: extension, name: core.router.extension(extension)?.name };
  call.markAnswered(picker);
  call.log.info({ callee: extension, pickedUpBy: picker }, 'call answered by pickup');
  session.bridge(caller, pickedHandle);
}
