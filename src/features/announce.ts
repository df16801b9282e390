// Answers to dialled numbers that end in an announcement: a refusal heard as early media before the
// final error (empty park slot, nothing to pick up, a barred or screened call), or a confirmation
// played in an answered call before hibiki hangs up (service codes). Each leaves its CDR row.
import type { Logger } from 'pino';
import type { MediaEngine } from '../media/engine.js';
import { Call, type CallDirection, type CallFeature, type Party } from '../pbx/call.js';
import type { CallManager } from '../pbx/b2bua.js';
import { formatReason } from '../pbx/q850.js';
import type { SipRequest } from '../sip/message.js';
import type { ServerResponse, SipStack } from '../sip/stack.js';

export interface AnnounceDeps {
  calls: CallManager;
  media: MediaEngine;
  stack: SipStack;
  logger: Logger;
}

export interface AnnouncedAttempt {
  req: SipRequest;
  res: ServerResponse;
  /** The caller's SDP offer; without one the refusal is sent at once (nothing to play into). */
  offer: string | undefined;
  direction: CallDirection;
  caller: Party;
  dialled: string;
  feature: CallFeature | undefined;
  trunk?: string;
}

/** Prompt files (already resolved in the caller's language) as early media, then `status` with a Q.850 Reason. */
export async function refuseWithPrompt(
  deps: AnnounceDeps,
  attempt: AnnouncedAttempt,
  files: string[],
  final: { status: number; cause: number; reason: string },
): Promise<void> {
  const { media, calls, logger } = deps;
  const call = new Call(attempt.req.callId, attempt.direction, attempt.caller, attempt.dialled, { number: attempt.dialled }, media, logger);
  call.feature = attempt.feature;
  call.trunk = attempt.trunk;
  calls.adopt(call);
  // A CANCEL can come at any point, even before the prompt starts (the stack has answered it 487 then).
  let stopPrompt: (() => void) | undefined;
  attempt.res.onCancel(() => {
    stopPrompt?.();
    call.finish({ disposition: 'cancelled', hangupBy: 'caller', q850: 16, sipStatus: 487, reason: 'caller cancelled during the announcement' });
  });
  const finish = () => {
    if (!attempt.res.finalResponseSent) attempt.res.send(final.status, undefined, { headers: { reason: formatReason(final.cause) } });
    call.finish({ disposition: 'failed', hangupBy: 'system', q850: final.cause, sipStatus: final.status, reason: final.reason });
  };
  if (attempt.offer === undefined || files.length === 0) {
    finish();
    return;
  }
  try {
    const ep = await media.createEndpoint({ label: `${attempt.req.callId}/announce` });
    try {
      const { sdp } = await media.answerOffer(ep, attempt.offer);
      if (!call.isFinished && !attempt.res.finalResponseSent) {
        const headers: Record<string, string> = { 'content-type': 'application/sdp' };
        if (attempt.req.source) headers.contact = `<${deps.stack.contactUri(attempt.req.source.transport, attempt.req.source.address)}>`;
        attempt.res.send(183, undefined, { headers, body: sdp });
        const h = media.play(ep, files);
        stopPrompt = () => h.stop();
        await h.done;
      }
    } finally {
      media.destroy(ep);
    }
  } catch (err) {
    call.log.warn({ err: (err as Error).message }, 'announcement not played');
  }
  finish();
}

/** Answer the INVITE, play the files, then hang up (BYE with cause 16). */
export async function answerWithPrompt(deps: AnnounceDeps, attempt: AnnouncedAttempt, files: string[], reason: string): Promise<void> {
  const { media, calls, logger, stack } = deps;
  const call = new Call(attempt.req.callId, attempt.direction, attempt.caller, attempt.dialled, { number: attempt.dialled }, media, logger);
  call.feature = attempt.feature;
  calls.adopt(call);
  // A CANCEL before the answer (the stack has answered it 487) ends the attempt; the setting already took effect.
  attempt.res.onCancel(() => call.finish({ disposition: 'cancelled', hangupBy: 'caller', q850: 16, sipStatus: 487, reason: `${reason} (caller cancelled before the confirmation)` }));
  let ep;
  try {
    ep = await media.createEndpoint({ label: `${attempt.req.callId}/announce` });
  } catch (err) {
    call.log.error({ err }, 'no media endpoint');
    if (!attempt.res.finalResponseSent) attempt.res.send(503, undefined, { headers: { reason: formatReason(47) } });
    call.finish({ disposition: 'failed', hangupBy: 'system', q850: 47, sipStatus: 503, reason: 'no RTP ports' });
    return;
  }
  let sdp: string;
  try {
    sdp = attempt.offer !== undefined ? (await media.answerOffer(ep, attempt.offer)).sdp : await media.createOffer(ep);
  } catch (err) {
    media.destroy(ep);
    if (!attempt.res.finalResponseSent) attempt.res.send(488, undefined, { headers: { reason: formatReason(65) } });
    call.finish({ disposition: 'failed', hangupBy: 'system', q850: 65, sipStatus: 488, reason: (err as Error).message });
    return;
  }
  if (call.isFinished || attempt.res.finalResponseSent) {
    media.destroy(ep);
    return;
  }
  const dialog = stack.createUAS(attempt.req, attempt.res, { localSdp: sdp });
  call.markAnswered('hibiki');
  let hungUp = false;
  const h = media.play(ep, files);
  dialog.on('destroy', () => {
    hungUp = true;
    h.stop();
  });
  await h.done;
  media.destroy(ep);
  if (!hungUp) void dialog.destroy({ headers: { reason: formatReason(16) } });
  call.finish({ disposition: 'answered', hangupBy: hungUp ? 'caller' : 'system', q850: 16, sipStatus: 200, reason });
}
