// Two connected legs. The bridge owns both: audio flows between them, each local party's keypad goes
// through a feature-code matcher (F-CODES: suppression, DTMF-send, #72/#8/#9 to the features registered
// for them), the phone's hold and transfer keys go to the registered hold and REFER handlers, and a
// hang-up ends the call. A feature that takes one of the legs suspends the bridge on it; when the leg
// comes back, audio flows again.
import type { HibikiConfig } from '../config/schema.js';
import type { MediaEngine } from '../media/engine.js';
import type { Clock } from '../util/clock.js';
import type { SipRequest } from '../sip/message.js';
import type { ServerResponse } from '../sip/server-response.js';
import type { CallApi, HoldHandler, InCallAction, InCallContext, ReferHandler } from './application.js';
import { FeatureCodeMatcher } from './keypad.js';
import type { Leg, LegEnd, LegHandle, LegOwner } from './leg.js';

/** What bridges need from the feature registry. */
export interface InCallFeatures {
  code(action: InCallAction): ((ctx: InCallContext) => void) | undefined;
  readonly referHandler: ReferHandler | undefined;
  readonly holdHandler: HoldHandler | undefined;
}

export interface BridgeDeps {
  media: MediaEngine;
  clock: Clock;
  features: InCallFeatures;
  config: HibikiConfig;
  /** Instead of ending the call, a hang-up is told here (the feature that bridged decides). */
  ended?: LegOwner['ended'];
}

interface BridgeSide {
  leg: Leg;
  handle: LegHandle;
  /** A local user's leg: its digits go through a feature-code matcher. */
  hasKeypad: boolean;
  keypad: FeatureCodeMatcher | undefined;
}

export class Bridge implements LegOwner {
  readonly label = 'bridge';
  /**
   * The two legs, each with its handle and, for a local user's leg, its feature-code matcher, made on
   * the leg's first digit (most calls never see one; a matcher with its codes and handlers was ~700 B).
   * Two small records rather than two Maps keyed by leg, which were ~370 B of every call held.
   */
  private sides: BridgeSide[] = [];
  private flowing = false;
  private over = false;

  constructor(
    private readonly session: CallApi,
    private readonly deps: BridgeDeps,
  ) {}

  /** Take both legs from their current owners and connect them. */
  connect(a: LegHandle, b: LegHandle): void {
    // One array literal: pushed one by one, an array reserves room for 17.
    this.sides = [
      { leg: a.leg, handle: a.handOver(this), hasKeypad: false, keypad: undefined },
      { leg: b.leg, handle: b.handOver(this), hasKeypad: false, keypad: undefined },
    ];
    a.leg.peer = b.leg;
    b.leg.peer = a.leg;
    for (const leg of [a.leg, b.leg]) this.attachKeypad(leg);
    this.flow();
  }

  private side(leg: Leg): BridgeSide | undefined {
    for (const side of this.sides) if (side.leg === leg) return side;
    return undefined;
  }

  private other(leg: Leg): Leg | undefined {
    for (const side of this.sides) if (side.leg !== leg) return side.leg;
    return undefined;
  }

  private context(leg: Leg): InCallContext | undefined {
    const other = this.other(leg);
    return other ? { session: this.session, leg, other, keypad: (d) => this.keypad(leg)?.digit(d) } : undefined;
  }

  /** Audio both ways, once both legs are this bridge's again and alive. */
  private flow(): void {
    if (this.over || this.flowing) return;
    const legs = this.sides.map((s) => s.leg);
    if (legs.length !== 2 || this.sides.some((s) => s.leg.ended || s.leg.endpoint === undefined || !s.handle.current)) return;
    const [a, b] = legs as [Leg, Leg];
    if (a.holding || b.holding) return;
    this.deps.media.bridge(a.endpoint!, b.endpoint!);
    this.flowing = true;
  }

  private stopFlow(leg: Leg): void {
    if (!this.flowing) return;
    this.flowing = false;
    if (leg.endpoint !== undefined) this.deps.media.unbridge(leg.endpoint);
  }

  /** A local user's digits go through the matcher; the engine never forwards them itself. Outside parties' digits pass. */
  private attachKeypad(leg: Leg): void {
    if (leg.extension === undefined || leg.endpoint === undefined) return;
    this.deps.media.setDtmfPolicy(leg.endpoint, 'suppress');
    const side = this.side(leg);
    if (side) side.hasKeypad = true;
  }

  /** The leg's matcher, made on its first digit; undefined for a leg without a keypad or after the bridge ended. */
  private keypad(leg: Leg): FeatureCodeMatcher | undefined {
    const side = this.side(leg);
    if (this.over || !side?.hasKeypad) return undefined;
    if (side.keypad) return side.keypad;
    const { config, media } = this.deps;
    const log = this.session.log;
    const matcher = new FeatureCodeMatcher({
      codes: config.codes,
      suppress: config.dtmf.suppress,
      featureDigitTimeoutMs: config.dtmf.featureDigitTimeout,
      clock: this.deps.clock,
      logger: log,
      events: {
        onForward: (digits) => {
          const other = this.other(leg);
          if (other && !other.ended && other.endpoint !== undefined) media.sendDtmf(other.endpoint, digits);
        },
        onCode: (action) => {
          log.info({ leg: leg.role, extension: leg.extension, action }, 'feature code');
          if (action === 'dtmfSend' || !this.side(leg)?.handle.current) return;
          const ctx = this.context(leg);
          const handler = this.deps.features.code(action);
          if (ctx && handler) handler(ctx);
        },
      },
    });
    side.keypad = matcher;
    return matcher;
  }

  private end(): void {
    this.over = true;
    for (const side of this.sides) {
      side.keypad?.dispose();
      side.keypad = undefined;
      side.hasKeypad = false;
    }
  }

  // ---- leg events ------------------------------------------------------------------

  ended(leg: Leg, end: LegEnd): void {
    this.end();
    if (this.deps.ended) {
      this.deps.ended(leg, end);
      return;
    }
    const by = end.by === 'party' ? (leg.role === 'caller' ? 'caller' : 'callee') : 'system';
    this.session.hangup(by, end.cause, end.reason, leg);
  }

  digit(leg: Leg, digit: string): void {
    this.keypad(leg)?.digit(digit);
  }

  hold(leg: Leg, holding: boolean): void {
    const ctx = this.context(leg);
    if (!ctx) return;
    this.session.call.report({ state: holding ? 'held' : 'resumed', by: leg.extension ?? leg.party.number });
    if (holding) {
      this.stopFlow(ctx.other);
      this.deps.features.holdHandler?.hold(ctx);
    } else {
      this.deps.features.holdHandler?.resume(ctx);
      this.flow();
    }
  }

  refer(leg: Leg, req: SipRequest, res: ServerResponse): void {
    const ctx = this.context(leg);
    const handler = this.deps.features.referHandler;
    if (ctx && handler) handler(ctx, req, res);
    else res.send(501);
  }

  suspended(leg: Leg): void {
    this.stopFlow(leg);
    // Not bridged any more: its offers are answered locally until it is back.
    const other = this.other(leg);
    leg.peer = undefined;
    if (other && other.peer === leg) other.peer = undefined;
  }

  resumed(leg: Leg): void {
    if (this.over) return;
    const other = this.other(leg);
    if (other) {
      leg.peer = other;
      other.peer = leg;
    }
    this.flow();
  }
}
