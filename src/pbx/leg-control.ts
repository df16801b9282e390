// Ending legs and calls, in one place: a leg that ended on its own (its owner is told), a leg we end
// ourselves (BYE with a Q.850 Reason), and a whole call (every live leg, then the CDR).
import type { MediaEngine } from '../media/engine.js';
import type { Call, HangupBy } from './call.js';
import type { Leg, LegEnd } from './leg.js';
import { formatReason, q850ToSip } from './q850.js';

export class LegControl {
  constructor(private readonly media: MediaEngine) {}

  /** The leg ended on its own (BYE, CANCEL, a timer): free its media and tell its owner. */
  ended(leg: Leg, end: LegEnd): void {
    if (!leg.markEnded()) return;
    this.freeMedia(leg);
    leg.owner?.ended(leg, end);
  }

  /** End one leg ourselves (its owner is not told): BYE with the cause, media freed. */
  drop(leg: Leg, cause = 16): void {
    if (!leg.markEnded()) return;
    if (leg.dialog && leg.dialog.state !== 'terminated') void leg.dialog.destroy({ headers: { reason: formatReason(cause) } });
    else if (leg.invite && !leg.invite.res.finalResponseSent) {
      leg.invite.res.send(q850ToSip(cause), undefined, { headers: { reason: formatReason(cause) } });
    }
    this.freeMedia(leg);
  }

  /** End the call: every live leg but `except` gets a BYE (or its final response), then the CDR. */
  hangup(call: Call, by: HangupBy, cause: number, reason: string, except?: Leg): void {
    if (call.isFinished) return;
    for (const leg of call.legs) if (leg !== except) this.drop(leg, cause);
    call.end({
      disposition: call.isAnswered ? 'answered' : 'failed',
      hangupBy: by,
      q850: cause,
      sipStatus: call.isAnswered ? 200 : q850ToSip(cause),
      reason,
    });
  }

  private freeMedia(leg: Leg): void {
    if (leg.endpoint !== undefined) this.media.destroy(leg.endpoint);
  }
}
