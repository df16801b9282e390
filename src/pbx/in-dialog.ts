// In-dialog requests of an answered leg, turned into leg events for its owner: BYE (ended), INFO DTMF
// (digits, through the media engine like RFC 4733 digits), REFER, hold and resume. New offers (re-INVITE,
// UPDATE) are answered per leg: a refresh or a hold is answered here, any other change is relayed to the
// leg it is bridged to, each leg with its own SDP.
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { SipStack } from '../sip/stack.js';
import type { ServerResponse } from '../sip/server-response.js';
import type { DestroyCause, DialogEvents } from '../sip/dialog.js';
import type { EventDelegate } from '../util/compact-emitter.js';
import { dtmfFromInfo, isDtmfInfo } from '../sip/dtmf-info.js';
import { MediaError, type MediaEngine } from '../media/engine.js';
import { isSameSessionVersion, sdpDirection } from '../media/sdp.js';
import type { CallRegistry } from './calls.js';
import type { Leg } from './leg.js';
import type { LegControl } from './leg-control.js';
import { parseReasonHeader } from './q850.js';

export interface InDialogDeps {
  stack: SipStack;
  media: MediaEngine;
  registry: CallRegistry;
  legs: LegControl;
}

export function isSdp(m: SipRequest | SipResponse): boolean {
  return m.body.length > 0 && (m.contentType ?? '').toLowerCase().startsWith('application/sdp');
}

export class InDialog {
  constructor(private readonly deps: InDialogDeps) {}

  /** Route the answered leg's dialog events to the leg's owner. */
  wire(leg: Leg): void {
    leg.dialog?.delegateTo(new LegDialogEvents(leg, this));
  }

  /** @internal LegDialogEvents: the dialog ended (BYE, session timer, or torn down). */
  destroyed(leg: Leg, req: SipRequest | undefined, why: DestroyCause | undefined): void {
    const { legs } = this.deps;
    if (why === 'session-expired') {
      // RFC 4028 expiry is recovery on timer expiry (Q.850 102).
      legs.ended(leg, { by: 'system', cause: 102, reason: 'session timer expired', why });
      return;
    }
    const reason = req ? parseReasonHeader(req.getAll('reason')) : undefined;
    const cause = reason?.protocol === 'Q.850' ? reason.cause : 16;
    legs.ended(leg, { by: req ? 'party' : 'system', cause, reason: req ? 'BYE' : (why ?? 'dialog ended'), request: req, why });
  }

  /** @internal LegDialogEvents: a re-INVITE, or an UPDATE with SDP. */
  offered(leg: Leg, req: SipRequest, res: ServerResponse): void {
    this.guard(leg, res, () => this.offer(leg, req, res));
  }

  /** @internal LegDialogEvents: INFO, which may carry a DTMF digit. */
  info(leg: Leg, req: SipRequest, res: ServerResponse): void {
    const digit = dtmfFromInfo(req);
    if (digit && leg.endpoint !== undefined) {
      this.deps.media.injectDtmf(leg.endpoint, digit.digit, digit.durationMs);
      res.send(200);
      return;
    }
    res.send(isDtmfInfo(req) ? 400 : 200);
  }

  /** @internal LegDialogEvents: the ACK of our 200, with the answer to the offer we made in it. */
  acked(leg: Leg, req: SipRequest): void {
    // ACK with an answer to the offer we made in a 200 (delayed-offer call or re-INVITE without SDP).
    if (!isSdp(req) || leg.endpoint === undefined) return;
    this.deps.media.acceptAnswer(leg.endpoint, req.body.toString('utf8')).catch((err: unknown) => {
      const call = this.deps.registry.callOf(leg);
      call?.log.warn({ err: (err as Error).message, leg: leg.describe() }, 'unusable SDP in ACK');
      if (call) this.deps.legs.hangup(call, 'system', 65, 'bad SDP in ACK');
    });
  }

  /**
   * Every failure of an offer's handling ends in a final response — a MediaError's own status (488 no
   * common codec, 400 malformed SDP), else 500 — so the request is never left unanswered; a refused
   * offer changes nothing (RFC 3264 §8, RFC 3261 §14.2).
   */
  private guard(leg: Leg, res: ServerResponse, fn: () => Promise<void>): void {
    fn().catch((err: unknown) => {
      const status = err instanceof MediaError ? err.sipStatus : 500;
      const call = this.deps.registry.callOf(leg);
      call?.log.warn({ err: (err as Error).message, leg: leg.describe(), status }, 'in-dialog offer refused');
      if (!res.finalResponseSent) res.send(status, undefined, { headers: offerRefusalHeaders(status) });
    });
  }

  /** A new offer from the leg's party: answer it here, or relay it to the bridged leg. */
  private async offer(from: Leg, req: SipRequest, res: ServerResponse): Promise<void> {
    const { media, stack, registry } = this.deps;
    const call = registry.callOf(from);
    const dialog = from.dialog;
    if (!call || call.isFinished || from.ended || !dialog || from.endpoint === undefined) {
      res.send(481);
      return;
    }
    const endpoint = from.endpoint;
    const contact = { contact: `<${stack.contactUri(dialog.flow.transport, dialog.flow.address)}>` };
    const answer = (sdp: string) => res.send(200, undefined, { headers: { ...contact, 'content-type': 'application/sdp' }, body: sdp });
    if (!isSdp(req)) {
      // Offer-less re-INVITE: we offer in the 200, the answer arrives in the ACK.
      answer(await media.createOffer(endpoint));
      return;
    }
    const offer = req.body.toString('utf8');
    // An offer we cannot answer is refused before anything is answered or relayed to the other party,
    // so neither leg's session changes.
    await media.checkOffer(endpoint, offer);
    const direction = sdpDirection(offer);
    const to = from.peer;
    // A session refresh (RFC 4028) or a repeated offer changes nothing: the other leg is not disturbed.
    // A leg that is not bridged has nobody to relay to.
    if (isSameSessionVersion(dialog.remote.sdp, offer) || !to || !to.dialog || to.ended || to.endpoint === undefined) {
      answer((await media.answerOffer(endpoint, offer)).sdp);
      return;
    }
    // F-HOLD: a hold (sendonly/inactive) or resume is answered here when the leg's owner takes care of
    // it (music on hold for the other party), so the other party's phone keeps an ordinary call.
    const holding = direction === 'sendonly' || direction === 'inactive';
    const owner = from.owner;
    if (holding !== from.holding && owner?.hold) {
      answer((await media.answerOffer(endpoint, offer)).sdp);
      from.holding = holding;
      call.log.info({ leg: from.describe(), holding }, holding ? 'call held' : 'call resumed');
      owner.hold(from, holding);
      return;
    }
    const reoffer = await media.createOffer(to.endpoint, { direction });
    const relayed = await to.dialog.modify(reoffer);
    if (relayed.status >= 300) {
      res.send(relayed.status === 491 ? 491 : relayed.status === 488 ? 488 : 500);
      return;
    }
    if (isSdp(relayed)) await media.acceptAnswer(to.endpoint, relayed.body.toString('utf8'));
    answer((await media.answerOffer(endpoint, offer)).sdp);
    call.log.info({ from: from.describe(), direction }, 'session modified');
  }
}

/** RFC 3261 §20.43: a Warning saying why an offer was refused (305: no media format in common). */
function offerRefusalHeaders(status: number): Record<string, string> {
  if (status === 488) return { warning: '305 hibiki "Incompatible media format"' };
  if (status === 400) return { warning: '399 hibiki "Malformed session description"' };
  return {};
}

/**
 * An answered leg's dialog events, as one small object per dialog (its methods on the prototype) rather
 * than a closure per event: six closures and their listener entries were about 600 B of each dialog of
 * every call held (issue #13 goal 5).
 */
class LegDialogEvents implements EventDelegate<DialogEvents> {
  constructor(
    private readonly leg: Leg,
    private readonly handler: InDialog,
  ) {}

  destroy(req: SipRequest | undefined, why?: DestroyCause): void {
    this.handler.destroyed(this.leg, req, why);
  }

  modify(req: SipRequest, res: ServerResponse): void {
    this.handler.offered(this.leg, req, res);
  }

  update(req: SipRequest, res: ServerResponse): void {
    if (isSdp(req)) this.handler.offered(this.leg, req, res);
    else res.send(200);
  }

  info(req: SipRequest, res: ServerResponse): void {
    this.handler.info(this.leg, req, res);
  }

  refer(req: SipRequest, res: ServerResponse): void {
    const owner = this.leg.owner;
    if (owner?.refer) owner.refer(this.leg, req, res);
    else res.send(501);
  }

  ack(req: SipRequest): void {
    this.handler.acked(this.leg, req);
  }
}
