// F-XFER-ATTENDED: #9 + target + confirm holds the other party (music on hold) and calls the target
// for a consultation. Then:
// - the transferor hangs up → held party and target are connected (if the target still rings, the held
//   party hears ringback and is connected on answer — blonde transfer — or the transferor is recalled
//   when the target fails);
// - #9 again → the consultation leg is dropped and the transferor is back with the held party;
// - the held party hangs up → the consultation continues as a normal call.
import type { HibikiConfig } from '../config/schema.js';
import type { PlayHandle } from '../media/engine.js';
import type { PromptCatalogue, PromptLanguage } from '../media/prompts.js';
import type { Clock } from '../util/clock.js';
import type { CallApi, Feature, FeatureRegistry, InCallContext } from '../pbx/application.js';
import type { Leg, LegEnd, LegOwner } from '../pbx/leg.js';
import { FeatureCodeMatcher } from '../pbx/keypad.js';
import { promptLanguage } from '../pbx/extension-audio.js';
import { endCallOnFailure } from '../pbx/failures.js';
import { enterTarget, hangUpCall } from './target-entry.js';

export interface AttendedTransferDeps {
  prompts: PromptCatalogue;
  clock: Clock;
  config: () => HibikiConfig;
}

interface Consultation {
  ctx: InCallContext;
  session: CallApi;
  transferor: Leg;
  held: Leg;
  target: Leg | undefined;
  /** The number dialled for the target. */
  number: string;
  /** Cancels the target's ringing while it has not answered. */
  cancelRinging: (() => void) | undefined;
  heldAudio: PlayHandle | undefined;
  transferorAudio: PlayHandle | undefined;
  /** Watches the transferor's keypad for #9 while the target rings. */
  keypad: FeatureCodeMatcher | undefined;
  /** The transferor left while the target rang: connect on answer (blonde transfer). */
  blonde: boolean;
  /** The held party hung up: whatever the target does, this is now an ordinary call. */
  heldGone: boolean;
  done: boolean;
  /** Forget the consultation if the call ends some other way (RTP timeout, shutdown). */
  forgetOnCallEnd: () => void;
}

/** Take a leg for a moment, to hand it to a bridge. */
const PASSING: LegOwner = { label: 'attended transfer', ended: () => undefined };

export class AttendedTransfer implements Feature {
  private byTransferor = new Map<Leg, Consultation>();

  constructor(private readonly deps: AttendedTransferDeps) {}

  register(r: FeatureRegistry): void {
    r.inCallCode('attendedTransfer', (ctx) => {
      const running = this.byTransferor.get(ctx.leg);
      if (running) this.abort(running);
      else this.collectTarget(ctx);
    });
  }

  private language(leg: Leg): PromptLanguage {
    return promptLanguage(this.deps.config(), leg.extension);
  }

  private collectTarget(ctx: InCallContext): void {
    enterTarget(this.deps, ctx, {
      onTarget: ({ number, moh }) => {
        this.consult(ctx, number, moh).catch(endCallOnFailure(ctx.session, 'attended transfer failed'));
      },
    });
  }

  /** What the consultation does when one of its legs hangs up, whoever holds the leg at the time. */
  private owner(c: Consultation): LegOwner {
    return {
      label: 'consultation',
      ended: (leg, end) => this.legEnded(c, leg, end),
      digit: (leg, d) => {
        if (leg === c.transferor) c.keypad?.digit(d);
      },
    };
  }

  private legEnded(c: Consultation, leg: Leg, end: LegEnd): void {
    if (leg === c.transferor) this.transferorLeft(c);
    else if (leg === c.held) this.heldLeft(c);
    else if (leg === c.target) this.targetLeft(c);
    else hangUpCall(c.ctx, leg, end);
  }

  private async consult(ctx: InCallContext, number: string, moh: PlayHandle | undefined): Promise<void> {
    const { prompts, config } = this.deps;
    const { session, leg: transferor, other: held } = ctx;
    const call = session.call;
    const c: Consultation = {
      ctx,
      session,
      transferor,
      held,
      target: undefined,
      number,
      cancelRinging: undefined,
      heldAudio: moh,
      transferorAudio: session.play(transferor, [prompts.file('ringback', this.language(transferor))], { loop: true }),
      keypad: undefined,
      blonde: false,
      heldGone: false,
      done: false,
      forgetOnCallEnd: () => this.finishConsultation(c),
    };
    call.once('ended', c.forgetOnCallEnd);
    const cfg = config();
    // #9 again while the target rings drops the consultation.
    c.keypad = new FeatureCodeMatcher({
      codes: cfg.codes,
      suppress: true,
      featureDigitTimeoutMs: cfg.dtmf.featureDigitTimeout,
      clock: this.deps.clock,
      logger: session.log,
      events: { onForward: () => undefined, onCode: (action) => action === 'attendedTransfer' && this.abort(c) },
    });
    this.byTransferor.set(transferor, c);
    call.log.info({ target: number }, 'consultation call');
    const owner = this.owner(c);
    transferor.take(owner);
    held.take(owner);
    const result = await session.dial(number, {
      presentedAs: transferor.party,
      ringTimeoutSec: cfg.calls.transferRingTimeout,
      onRinging: (cancel) => (c.cancelRinging = cancel),
      by: transferor.extension,
      owner,
    });
    c.cancelRinging = undefined;
    c.keypad.dispose();
    c.keypad = undefined;
    if (c.heldGone && !call.isFinished) {
      // The consultation became the call: connect it as an ordinary call, or end it if the target failed.
      c.transferorAudio?.stop();
      if (result.ok) session.bridge(transferor.take(PASSING), result.leg);
      else session.hangup('system', result.cause, 'consultation failed');
      return;
    }
    if (c.done || call.isFinished) {
      if (result.ok) session.drop(result.leg);
      return;
    }
    if (result.ok) {
      c.target = result.leg.leg;
      if (c.blonde || transferor.ended) {
        this.complete(c);
        return;
      }
      c.transferorAudio?.stop();
      // Consultation: transferor and target talk; the held party keeps its music. Hang-ups are the consultation's.
      session.bridge(transferor.take(PASSING), result.leg, { ended: owner.ended });
      return;
    }
    // The target failed: back to the held party, or recall the transferor if it already left.
    if (c.blonde || transferor.ended) {
      await this.recall(c);
      return;
    }
    c.transferorAudio?.stop();
    this.finishConsultation(c);
    const rejoin = () => this.rejoin(c);
    session.play(transferor, [prompts.file('transfer-failed', this.language(transferor))]).done.then(rejoin, rejoin);
  }

  /** #9 again: drop the consultation leg (even if voicemail answered it) and return to the held party. */
  private abort(c: Consultation): void {
    c.session.log.info('consultation aborted');
    c.cancelRinging?.();
    c.transferorAudio?.stop();
    if (c.target) c.session.drop(c.target);
    this.finishConsultation(c);
    this.rejoin(c);
  }

  private rejoin(c: Consultation): void {
    c.heldAudio?.stop();
    if (!c.transferor.ended && !c.held.ended) c.session.bridge(c.transferor.take(PASSING), c.held.take(PASSING));
  }

  private finishConsultation(c: Consultation): void {
    c.done = true;
    c.keypad?.dispose();
    c.session.call.off('ended', c.forgetOnCallEnd);
    this.byTransferor.delete(c.transferor);
  }

  /** The transferor hung up: the transfer completes (now, or on the target's answer). */
  private transferorLeft(c: Consultation): void {
    const call = c.session.call;
    call.feature = 'transfer_attended';
    call.transferredBy = c.transferor.extension ?? c.transferor.party.number;
    c.session.drop(c.transferor);
    if (c.target && !c.target.ended) {
      this.complete(c);
      return;
    }
    // Blonde transfer: the held party hears ringback until the target answers.
    c.blonde = true;
    call.report({ state: 'transferred', kind: 'attended', by: call.transferredBy, to: c.number });
    c.heldAudio?.stop();
    c.heldAudio = c.session.play(c.held, [this.deps.prompts.file('ringback', this.language(c.held))], { loop: true });
  }

  private complete(c: Consultation): void {
    const target = c.target;
    if (!target) return;
    this.finishConsultation(c);
    c.heldAudio?.stop();
    const call = c.session.call;
    call.feature = 'transfer_attended';
    call.transferredBy = c.transferor.extension ?? c.transferor.party.number;
    call.callee = target.party;
    call.report({ state: 'transferred', kind: 'attended', by: call.transferredBy, to: target.party.number });
    c.session.bridge(c.held.take(PASSING), target.take(PASSING));
    call.log.info('attended transfer completed');
  }

  /** The held party hung up: the consultation goes on as an ordinary call. */
  private heldLeft(c: Consultation): void {
    c.heldAudio?.stop();
    c.session.drop(c.held);
    c.heldGone = true;
    this.finishConsultation(c);
    if (c.target && !c.target.ended && !c.transferor.ended) c.session.bridge(c.transferor.take(PASSING), c.target.take(PASSING));
  }

  /** The target hung up during the consultation: back to the held party. */
  private targetLeft(c: Consultation): void {
    if (c.target) c.session.drop(c.target);
    c.target = undefined;
    if (c.heldGone) {
      c.session.hangup('callee', 16, 'consultation ended');
      return;
    }
    this.finishConsultation(c);
    this.rejoin(c);
  }

  private async recall(c: Consultation): Promise<void> {
    this.finishConsultation(c);
    const { session } = c;
    const call = session.call;
    // From now on the held party hanging up simply ends the call.
    c.held.take({ label: 'awaiting recall', ended: (leg, end) => hangUpCall(c.ctx, leg, end) });
    const ext = c.transferor.extension;
    if (!ext) {
      session.hangup('system', 19, 'attended transfer failed');
      return;
    }
    const result = await session.dial(ext, { presentedAs: c.held.party, ringTimeoutSec: this.deps.config().calls.transferRingTimeout });
    if (call.isFinished) {
      if (result.ok) session.drop(result.leg);
      return;
    }
    c.heldAudio?.stop();
    if (result.ok) {
      call.callee = result.leg.leg.party;
      session.bridge(c.held.take(PASSING), result.leg);
      return;
    }
    session.hangup('system', result.cause, 'attended transfer and recall failed');
  }
}
