// F-CODES on answered calls: each local user's keypad goes through a FeatureCodeMatcher, which decides
// which digits reach the far end (DTMF suppression, the DTMF-send code) and which are feature codes.
import type { HibikiConfig } from '../config/schema.js';
import type { MediaEngine } from '../media/engine.js';
import type { Clock } from '../sip/clock.js';
import type { Call, Leg } from '../pbx/call.js';
import { FeatureCodeMatcher, type CodeAction } from './codes.js';

export type FeatureHandler = (call: Call, leg: Leg, other: Leg, action: Exclude<CodeAction, 'dtmfSend'>) => void;

export class InCallCodes {
  private handlers: FeatureHandler[] = [];

  constructor(
    private readonly media: MediaEngine,
    private readonly clock: Clock,
  ) {}

  /** Park and transfer modules register here to act on their codes. */
  onFeature(handler: FeatureHandler): void {
    this.handlers.push(handler);
  }

  /** Attach matching to both legs of an answered call (local users only: trunk legs pass DTMF through). */
  attach(call: Call, caller: Leg, callee: Leg, config: HibikiConfig): void {
    this.attachLeg(call, caller, callee, config);
    this.attachLeg(call, callee, caller, config);
  }

  private attachLeg(call: Call, leg: Leg, other: Leg, config: HibikiConfig): void {
    if (leg.extension === undefined) return;
    // The engine never forwards this leg's digits itself; the matcher re-sends what may pass.
    this.media.setDtmfPolicy(leg.endpoint, 'suppress');
    const matcher = new FeatureCodeMatcher({
      codes: config.codes,
      suppress: config.dtmf.suppress,
      featureDigitTimeoutMs: config.dtmf.featureDigitTimeout,
      clock: this.clock,
      logger: call.log,
      events: {
        onForward: (digits) => {
          if (!other.ended) this.media.sendDtmf(other.endpoint, digits);
        },
        onCode: (action) => {
          call.log.info({ leg: leg.role, extension: leg.extension, action }, 'feature code');
          if (action === 'dtmfSend') return;
          for (const h of this.handlers) h(call, leg, other, action);
        },
      },
    });
    leg.onDigit = (digit) => matcher.digit(digit);
    call.once('ended', () => matcher.dispose());
  }
}
