// Typing a transfer target during a call (#8 / #9 + number + confirm, F-CODES): both legs are taken from
// the bridge, the other party hears the transferor's music on hold while the transferor dials. A number
// that reaches nothing plays "not available", a number that is too long "invalid code", and either way —
// or when entry times out empty — both legs go back to the bridge. Shared by blind and attended transfer.
import type { HibikiConfig } from '../config/schema.js';
import type { PlayHandle } from '../media/engine.js';
import type { PromptCatalogue } from '../media/prompts.js';
import type { Clock } from '../util/clock.js';
import type { InCallContext } from '../pbx/application.js';
import type { Leg, LegEnd, LegHandle, LegOwner } from '../pbx/leg.js';
import { TargetCollector } from '../pbx/keypad.js';
import { mohFiles, promptLanguage } from '../pbx/extension-audio.js';

export interface TargetEntryDeps {
  prompts: PromptCatalogue;
  clock: Clock;
  config: () => HibikiConfig;
}

export interface EnteredTarget {
  number: string;
  /** The music the other party hears; the feature stops it when the other party is connected again. */
  moh: PlayHandle | undefined;
  /** The transferor's leg, held by the entry: the feature hands it on or releases it. */
  transferor: LegHandle;
  /** The other party's leg, likewise. */
  other: LegHandle;
}

/** The owner's usual answer to a hang-up: the whole call ends (the party who hung up is the caller or the callee). */
export function hangUpCall(ctx: InCallContext, leg: Leg, end: LegEnd): void {
  const by = end.by === 'party' ? (leg.role === 'caller' ? 'caller' : 'callee') : 'system';
  ctx.session.hangup(by, end.cause, end.reason, leg);
}

/**
 * Hold ctx.other and collect a number from ctx.leg. `onTarget` gets every number that can be dialled
 * (or that `accepts` claims, such as the park lot); anything else goes back to the call with a prompt.
 */
export function enterTarget(deps: TargetEntryDeps, ctx: InCallContext, handlers: { onTarget: (target: EnteredTarget) => void; accepts?: (number: string) => boolean }): void {
  const { session, leg: transferor, other } = ctx;
  const config = deps.config();
  let collector: TargetCollector | undefined;
  let moh: PlayHandle | undefined;
  // Stop collecting if the call ends meanwhile; the listener goes when entry ends (one per attempt, not more).
  const call = session.call;
  const onCallEnded = (): void => collector?.dispose();
  call.once('ended', onCallEnded);
  const owner: LegOwner = {
    label: 'transfer target entry',
    ended: (leg, end) => {
      collector?.dispose();
      moh?.stop();
      hangUpCall(ctx, leg, end);
    },
    digit: (leg, d) => {
      if (leg === transferor) collector?.digit(d);
    },
  };
  const mineT = transferor.take(owner);
  const mineO = other.take(owner);
  moh = session.play(other, mohFiles(config, deps.prompts, transferor.extension), { loop: true });
  const backToCall = (prompt?: 'not-available' | 'invalid-code') => {
    call.off('ended', onCallEnded);
    const rejoin = () => {
      moh?.stop();
      mineT.release();
      mineO.release();
    };
    if (prompt && !transferor.ended) {
      session.play(transferor, [deps.prompts.file(prompt, promptLanguage(deps.config(), transferor.extension))]).done.then(rejoin, rejoin);
    } else rejoin();
  };
  collector = new TargetCollector({
    dialConfirm: config.codes.dialConfirm,
    transferDigitTimeoutMs: config.dtmf.transferDigitTimeout,
    clock: deps.clock,
    logger: session.log,
    events: {
      onTarget: (number) => {
        if (!handlers.accepts?.(number) && !session.canReach(number)) {
          session.log.info({ target: number }, 'transfer target does not exist');
          backToCall('not-available');
          return;
        }
        call.off('ended', onCallEnded);
        handlers.onTarget({ number, moh, transferor: mineT, other: mineO });
      },
      onCancel: (reason) => backToCall(reason === 'tooLong' ? 'invalid-code' : undefined),
    },
  });
}
