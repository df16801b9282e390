// Typing a transfer target during a call (#8 / #9 + number + confirm, F-CODES): the other party is held
// with the transferor's music on hold while the transferor dials. A number that reaches nothing plays
// "not available", a number that is too long "invalid code", and either way — or when entry times out
// empty — the transferor is back with the other party. Shared by blind and attended transfer.
import type { HibikiConfig } from '../config/schema.js';
import type { MediaEngine, PlayHandle } from '../media/engine.js';
import type { PromptCatalogue } from '../media/prompts.js';
import type { Clock } from '../sip/clock.js';
import type { Call, Leg } from '../pbx/call.js';
import type { CallManager } from '../pbx/b2bua.js';
import { TargetCollector } from './codes.js';
import { mohFiles, promptLanguage } from './extension-audio.js';

export interface TargetEntryDeps {
  calls: CallManager;
  media: MediaEngine;
  prompts: PromptCatalogue;
  clock: Clock;
  config: () => HibikiConfig;
}

export interface EnteredTarget {
  number: string;
  /** The music the other party hears; the feature stops it when the other party is connected again. */
  moh: PlayHandle | undefined;
  /** The transferor's digit handler from before the entry (the in-call codes), to hand back. */
  resumeDigits: Leg['onDigit'];
}

/**
 * Hold `other` and collect a number from `transferor`. `onTarget` gets every number that can be dialled
 * (or that `accepts` claims, such as the park lot); anything else goes back to the call with a prompt.
 */
export function enterTarget(
  deps: TargetEntryDeps,
  call: Call,
  transferor: Leg,
  other: Leg,
  handlers: { onTarget: (target: EnteredTarget) => void; accepts?: (number: string) => boolean },
): void {
  const config = deps.config();
  deps.media.unbridge(other.endpoint);
  const music = mohFiles(config, deps.prompts, transferor.extension);
  const moh = music.length > 0 ? deps.media.play(other.endpoint, music, { loop: true }) : undefined;
  const resumeDigits = transferor.onDigit;
  const backToCall = (prompt?: 'not-available' | 'invalid-code') => {
    transferor.onDigit = resumeDigits;
    const rejoin = () => {
      moh?.stop();
      if (!transferor.ended && !other.ended) deps.calls.bridgeLegs(call, transferor, other);
    };
    if (prompt && !transferor.ended) {
      void deps.media.play(transferor.endpoint, [deps.prompts.file(prompt, promptLanguage(deps.config(), transferor.extension))]).done.then(rejoin);
    } else rejoin();
  };
  const collector = new TargetCollector({
    dialConfirm: config.codes.dialConfirm,
    transferDigitTimeoutMs: config.dtmf.transferDigitTimeout,
    clock: deps.clock,
    logger: call.log,
    events: {
      onTarget: (number) => {
        if (!handlers.accepts?.(number) && !deps.calls.canReach(number)) {
          call.log.info({ target: number }, 'transfer target does not exist');
          backToCall('not-available');
          return;
        }
        handlers.onTarget({ number, moh, resumeDigits });
      },
      onCancel: (reason) => backToCall(reason === 'tooLong' ? 'invalid-code' : undefined),
    },
  });
  transferor.onDigit = (d) => collector.digit(d);
  call.once('ended', () => collector.dispose());
}
