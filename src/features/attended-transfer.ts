// F-XFER-ATTENDED: #9 + target + confirm holds the other party (music on hold) and calls the target
// for a consultation. Then:
// - the transferor hangs up → held party and target are connected (if the target still rings, the held
//   party hears ringback and is connected on answer — blonde transfer — or the transferor is recalled
//   when the target fails);
// - #9 again → the consultation leg is dropped and the transferor is back with the held party;
// - the held party hangs up → the consultation continues as a normal call.
import type { HibikiConfig } from '../config/schema.js';
import type { MediaEngine, PlayHandle } from '../media/engine.js';
import type { PromptCatalogue, PromptLanguage } from '../media/prompts.js';
import type { Clock } from '../sip/clock.js';
import type { Call, Leg } from '../pbx/call.js';
import type { CallManager } from '../pbx/b2bua.js';
import type { InCallCodes } from './in-call-codes.js';
import { endCallOnFailure } from '../pbx/failures.js';
import { enterTarget } from './target-entry.js';
import { promptLanguage } from './extension-audio.js';

export interface AttendedTransferDeps {
  calls: CallManager;
  codes: InCallCodes;
  media: MediaEngine;
  prompts: PromptCatalogue;
  clock: Clock;
  config: () => HibikiConfig;
}

interface Consultation {
  call: Call;
  transferor: Leg;
  held: Leg;
  target: Leg | undefined;
  /** Cancels the target's ringing while it has not answered. */
  cancelRinging: (() => void) | undefined;
  heldAudio: PlayHandle | undefined;
  transferorAudio: PlayHandle | undefined;
  /** The transferor left while the target rang: connect on answer (blonde transfer). */
  blonde: boolean;
  /** The held party hung up: whatever the target does, this is now an ordinary call. */
  heldGone: boolean;
  done: boolean;
}

export class AttendedTransfer {
  private byTransferor = new Map<Leg, Consultation>();

  constructor(private readonly deps: AttendedTransferDeps) {}

  start(): void {
    this.deps.codes.onFeature((call, leg, other, action) => {
      if (action !== 'attendedTransfer') return;
      const running = this.byTransferor.get(leg);
      if (running) this.abort(running);
      else this.collectTarget(call, leg, other);
    });
  }

  private language(leg: Leg): PromptLanguage {
    return promptLanguage(this.deps.config(), leg.extension);
  }

  private loop(leg: Leg, files: string[]): PlayHandle | undefined {
    return files.length > 0 ? this.deps.media.play(leg.endpoint, files, { loop: true }) : undefined;
  }

  private collectTarget(call: Call, transferor: Leg, held: Leg): void {
    enterTarget(this.deps, call, transferor, held, {
      onTarget: ({ number, moh, resumeDigits }) => {
        transferor.onDigit = resumeDigits;
        this.consult(call, transferor, held, number, moh).catch(endCallOnFailure(this.deps.calls, call, 'attended transfer failed'));
      },
    });
  }


  private async consult(call: Call, transferor: Leg, held: Leg, number: string, moh: PlayHandle | undefined): Promise<void> {
    const { calls, prompts } = this.deps;
    const c: Consultation = {
      call,
      transferor,
      held,
      target: undefined,
      cancelRinging: undefined,
      heldAudio: moh,
      transferorAudio: this.loop(transferor, [prompts.file('ringback', this.language(transferor))]),
      blonde: false,
      heldGone: false,
      done: false,
    };
    this.byTransferor.set(transferor, c);
    call.log.info({ target: number }, 'consultation call');
    transferor.onEnded = () => this.transferorLeft(c);
    held.onEnded = () => this.heldLeft(c);
    const result = await calls.dialLeg(call, number, {
      presentedAs: transferor.party,
      ringTimeoutSec: this.deps.config().calls.transferRingTimeout,
      onRinging: (cancel) => (c.cancelRinging = cancel),
      by: transferor.extension,
    });
    c.cancelRinging = undefined;
    if (c.heldGone && !call.isFinished) {
      // The consultation became the call: connect it as an ordinary call, or end it if the target failed.
      c.transferorAudio?.stop();
      if ('leg' in result) calls.bridgeLegs(call, transferor, result.leg);
      else calls.hangup(call, 'system', result.failure.cause, 'consultation failed');
      return;
    }
    if (c.done || call.isFinished) {
      if ('leg' in result) calls.dropLeg(result.leg);
      return;
    }
    if ('leg' in result) {
      c.target = result.leg;
      c.target.onEnded = () => this.targetLeft(c);
      if (c.blonde || transferor.ended) {
        this.complete(c);
        return;
      }
      c.transferorAudio?.stop();
      // Consultation: transferor and target talk; the held party keeps its music.
      calls.bridgeLegs(call, transferor, c.target);
      return;
    }
    // The target failed: back to the held party, or recall the transferor if it already left.
    if (c.blonde || transferor.ended) {
      await this.recall(c);
      return;
    }
    c.transferorAudio?.stop();
    this.finishConsultation(c);
    void this.deps.media.play(transferor.endpoint, [prompts.file('transfer-failed', this.language(transferor))]).done.then(() => this.rejoin(c));
  }

  /** #9 again: drop the consultation leg (even if voicemail answered it) and return to the held party. */
  private abort(c: Consultation): void {
    c.call.log.info('consultation aborted');
    c.cancelRinging?.();
    c.transferorAudio?.stop();
    if (c.target) this.deps.calls.dropLeg(c.target);
    this.finishConsultation(c);
    this.rejoin(c);
  }

  private rejoin(c: Consultation): void {
    c.heldAudio?.stop();
    c.transferor.onEnded = undefined;
    c.held.onEnded = undefined;
    if (!c.transferor.ended && !c.held.ended) this.deps.calls.bridgeLegs(c.call, c.transferor, c.held);
  }

  private finishConsultation(c: Consultation): void {
    c.done = true;
    this.byTransferor.delete(c.transferor);
  }

  /** The transferor hung up: the transfer completes (now, or on the target's answer). */
  private transferorLeft(c: Consultation): void {
    c.call.feature = 'transfer_attended';
    c.call.transferredBy = c.transferor.extension ?? c.transferor.party.number;
    this.deps.calls.dropLeg(c.transferor);
    if (c.target && !c.target.ended) {
      this.complete(c);
      return;
    }
    // Blonde transfer: the held party hears ringback until the target answers.
    c.blonde = true;
    c.heldAudio?.stop();
    c.heldAudio = this.loop(c.held, [this.deps.prompts.file('ringback', this.language(c.held))]);
  }

  private complete(c: Consultation): void {
    const target = c.target;
    if (!target) return;
    this.finishConsultation(c);
    c.heldAudio?.stop();
    c.held.onEnded = undefined;
    target.onEnded = undefined;
    c.call.feature = 'transfer_attended';
    c.call.transferredBy = c.transferor.extension ?? c.transferor.party.number;
    c.call.callee = target.party;
    this.deps.calls.bridgeLegs(c.call, c.held, target);
    c.call.log.info('attended transfer completed');
  }

  /** The held party hung up: the consultation goes on as an ordinary call. */
  private heldLeft(c: Consultation): void {
    c.heldAudio?.stop();
    this.deps.calls.dropLeg(c.held);
    c.heldGone = true;
    this.finishConsultation(c);
    c.transferor.onEnded = undefined;
    if (c.target) c.target.onEnded = undefined;
  }

  /** The target hung up during the consultation: back to the held party. */
  private targetLeft(c: Consultation): void {
    if (c.target) this.deps.calls.dropLeg(c.target);
    c.target = undefined;
    this.finishConsultation(c);
    this.rejoin(c);
  }

  private async recall(c: Consultation): Promise<void> {
    this.finishConsultation(c);
    const { calls } = this.deps;
    const ext = c.transferor.extension;
    if (!ext) {
      calls.hangup(c.call, 'system', 19, 'attended transfer failed');
      return;
    }
    const result = await calls.dialLeg(c.call, ext, { presentedAs: c.held.party, ringTimeoutSec: this.deps.config().calls.transferRingTimeout });
    if (c.call.isFinished) {
      if ('leg' in result) calls.dropLeg(result.leg);
      return;
    }
    c.heldAudio?.stop();
    c.held.onEnded = undefined;
    if ('leg' in result) {
      c.call.callee = result.leg.party;
      calls.bridgeLegs(c.call, c.held, result.leg);
      return;
    }
    calls.hangup(c.call, 'system', result.failure.cause, 'attended transfer and recall failed');
  }
}
