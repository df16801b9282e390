// Per-leg in-call feature-code matching (SPEC F-CODES): decides, digit by digit, which DTMF from the local user is a
// feature code, which is forwarded to the far end, and which is swallowed by DTMF suppression.
import type { Logger } from 'pino';
import { realClock } from '../util/clock.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { InCallCodes } from '../rules/code-config.js';

export type CodeAction = 'park' | 'blindTransfer' | 'attendedTransfer' | 'dtmfSend' | 'record';

export interface MatcherEvents {
  /** Digits that turned out not to be a code: forward them to the far end, in order (suppress=false mode). */
  onForward(digits: string): void;
  /** A full code was typed. */
  onCode(action: CodeAction): void;
}

export const DEFAULT_FEATURE_DIGIT_TIMEOUT_MS = 1000;

export interface FeatureCodeMatcherOptions {
  codes: InCallCodes;
  /** dtmf.suppress: forward nothing the user types until the DTMF-send code was pressed in this call. */
  suppress: boolean;
  /** Longest gap allowed between the digits of one code (Asterisk featuredigittimeout, 1000 ms). */
  featureDigitTimeoutMs: number;
  clock?: Clock;
  events: MatcherEvents;
  /** Where a handler that throws from a timer callback is reported (there is no caller to hand it to). */
  logger?: Logger;
}

const ACTIONS: readonly CodeAction[] = ['park', 'blindTransfer', 'attendedTransfer', 'dtmfSend', 'record'];

/** RFC 4733 §3.2 events 0–15: the sixteen DTMF keys. */
const DTMF_KEY = /^[0-9*#A-D]$/;

type Emission = { kind: 'forward'; digits: string } | { kind: 'code'; action: CodeAction };

/**
 * Matching follows Asterisk's bridge feature hooks (anchors-features §1.1, ast_bridge_channel_feature_digit): digits
 * are held while they are a prefix of some code, an exact match fires the code and swallows its digits, and a mismatch
 * or featureDigitTimeout releases the held digits. Whether released digits go to the far end depends on the mode:
 *
 * - suppress=true: nothing is ever forwarded (released digits are dropped) until the DTMF-send code is typed.
 * - suppress=false, or after DTMF-send: released digits are forwarded in order; a digit that cannot start a code is
 *   forwarded at once.
 *
 * The DTMF-send code lifts suppression for the rest of the call but does not switch codes off: after it, #8 still
 * transfers. This keeps the user able to reach features once they have needed to send digits (to an IVR, say), and a
 * code's own digits still never reach the far end. Partial matches are therefore still held back, exactly as in
 * suppress=false mode.
 *
 * On a mismatch, matching restarts from the longest tail of the held digits that can still start a code (for the
 * default codes that is just the digit that broke the match, as in Asterisk; with codes such as `#1#2` it also catches
 * `#1#1#2`). Only the digits before that tail are released.
 *
 * Codes are expected to be prefix-free (validateCodes rejects overlaps). Should overlapping codes reach the matcher
 * anyway, the shorter code fires as soon as it is complete, which is what Asterisk does.
 */
export class FeatureCodeMatcher {
  private readonly codes: ReadonlyArray<{ action: CodeAction; code: string }>;
  private readonly suppress: boolean;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly events: MatcherEvents;
  private readonly logger: Logger | undefined;
  private held = '';
  private timer: TimerHandle | null = null;
  private sendActive = false;
  private disposed = false;

  constructor(opts: FeatureCodeMatcherOptions) {
    // An empty code would match before any digit is typed; treat it as switched off.
    this.codes = ACTIONS.map((action) => ({ action, code: opts.codes[action] })).filter((c) => c.code.length > 0);
    this.suppress = opts.suppress;
    this.timeoutMs = opts.featureDigitTimeoutMs;
    this.clock = opts.clock ?? realClock;
    this.events = opts.events;
    this.logger = opts.logger;
  }

  /** True once the DTMF-send code was typed: from then on non-code digits are forwarded. */
  get dtmfSendActive(): boolean {
    return this.sendActive;
  }

  /** Digits currently held back as a possible start of a code. */
  get pending(): string {
    return this.held;
  }

  /** One DTMF digit from the local user. Anything that is not a DTMF key is ignored (network input). */
  digit(d: string): void {
    if (this.disposed || typeof d !== 'string') return;
    const key = d.toUpperCase();
    if (!DTMF_KEY.test(key)) return;
    this.cancelTimer();
    this.emit(this.match(this.held + key));
  }

  /** Forget held digits without releasing them (e.g. the bridge was torn down). DTMF-send stays active: it is per call. */
  reset(): void {
    this.cancelTimer();
    this.held = '';
  }

  /** Stop for good: held digits are dropped, the timer cancelled, later digits ignored. */
  dispose(): void {
    this.reset();
    this.disposed = true;
  }

  private get forwarding(): boolean {
    return !this.suppress || this.sendActive;
  }

  /** Settle the state for the digits typed so far and return what to tell the events, in order. */
  private match(typed: string): Emission[] {
    const out: Emission[] = [];
    for (let start = 0; start < typed.length; start++) {
      const tail = typed.slice(start);
      const exact = this.codes.find((c) => c.code === tail);
      if (exact) {
        this.release(typed.slice(0, start), out);
        this.held = '';
        if (exact.action === 'dtmfSend') this.sendActive = true;
        out.push({ kind: 'code', action: exact.action });
        return out;
      }
      if (this.codes.some((c) => c.code.startsWith(tail))) {
        this.release(typed.slice(0, start), out);
        this.held = tail;
        this.timer = this.clock.setTimer(this.timeoutMs, () => this.onTimeout());
        return out;
      }
    }
    this.release(typed, out);
    this.held = '';
    return out;
  }

  private release(digits: string, out: Emission[]): void {
    if (digits.length > 0 && this.forwarding) out.push({ kind: 'forward', digits });
  }

  private onTimeout(): void {
    this.timer = null;
    const released: Emission[] = [];
    this.release(this.held, released);
    this.held = '';
    try {
      this.emit(released);
    } catch (err) {
      this.logger?.error({ err }, 'feature-code matcher: event handler threw on digit timeout');
    }
  }

  /** State is already settled, so a handler may call reset() or dispose(); after dispose() nothing more is told. */
  private emit(emissions: Emission[]): void {
    for (const e of emissions) {
      if (this.disposed) return;
      if (e.kind === 'forward') this.events.onForward(e.digits);
      else this.events.onCode(e.action);
    }
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}

export const DEFAULT_TRANSFER_DIGIT_TIMEOUT_MS = 4000;
export const MAX_TARGET_LENGTH = 32;

export type TargetCancelReason = 'nothingDialled' | 'tooLong';

export interface TargetCollectorEvents {
  /** Entry ended (dial-confirm, `terminated`, or transferDigitTimeout of silence) with this number. */
  onTarget(number: string, terminated: boolean): void;
  /** Entry ended without a usable number: nothing dialled, or more than maxLength digits (given). */
  onCancel(reason: TargetCancelReason, digits: string): void;
}

export interface TargetCollectorOptions {
  /** The dial-confirm code (InCallCodes.dialConfirm). */
  dialConfirm: string;
  /** Silence that ends entry (SPEC F-CODES transferDigitTimeout, 4 s). */
  transferDigitTimeoutMs: number;
  /** Silence before the first digit that ends entry; default transferDigitTimeoutMs. */
  firstDigitTimeoutMs?: number;
  maxLength?: number;
  clock?: Clock;
  events: TargetCollectorEvents;
  logger?: Logger;
}

/** Transfer-target digits: the keys a number can hold. A–D are not dialable and are ignored. */
const TARGET_KEY = /^[0-9*#]$/;

/**
 * Collects a transfer target after #8/#9 (SPEC F-CODES, F-XFER-*). The silence timer starts at construction, so a user
 * who dials nothing is returned to the call after transferDigitTimeout; every digit restarts it. The dial-confirm code
 * ends entry at once; digits that only begin a multi-character confirm code are held, and join the number if the code
 * is not completed (so with confirm `##`, `12#` then silence dials `12#`). Exactly one of onTarget/onCancel is called.
 */
export class TargetCollector {
  private readonly confirm: string;
  private readonly timeoutMs: number;
  private readonly maxLength: number;
  private readonly clock: Clock;
  private readonly events: TargetCollectorEvents;
  private readonly logger: Logger | undefined;
  private number = '';
  private held = '';
  private timer: TimerHandle | null = null;
  private finished = false;
  private terminated = false;

  constructor(opts: TargetCollectorOptions) {
    this.confirm = opts.dialConfirm;
    this.timeoutMs = opts.transferDigitTimeoutMs;
    this.maxLength = opts.maxLength ?? MAX_TARGET_LENGTH;
    this.clock = opts.clock ?? realClock;
    this.events = opts.events;
    this.logger = opts.logger;
    this.armTimer(opts.firstDigitTimeoutMs ?? this.timeoutMs);
  }

  /** The number dialled so far (without held confirm-code digits). */
  get digits(): string {
    return this.number;
  }

  get done(): boolean {
    return this.finished;
  }

  digit(d: string): void {
    if (this.finished || typeof d !== 'string' || !TARGET_KEY.test(d)) return;
    this.cancelTimer();
    const typed = this.held + d;
    if (this.confirm.length > 0 && typed.endsWith(this.confirm)) {
      // The confirm code can only complete from held digits plus this one; anything before it belongs to the number.
      this.number += typed.slice(0, typed.length - this.confirm.length);
      this.held = '';
      this.terminated = true;
      this.finish();
      return;
    }
    let start = 0;
    while (start < typed.length && !this.confirm.startsWith(typed.slice(start))) start++;
    this.number += typed.slice(0, start);
    this.held = typed.slice(start);
    if (this.number.length > this.maxLength) {
      this.finish();
      return;
    }
    this.armTimer();
  }

  /** Abandon entry silently (e.g. the call ended); no event is raised. */
  dispose(): void {
    this.cancelTimer();
    this.finished = true;
  }

  private armTimer(ms = this.timeoutMs): void {
    this.timer = this.clock.setTimer(ms, () => {
      this.timer = null;
      this.number += this.held;
      this.held = '';
      try {
        this.finish();
      } catch (err) {
        this.logger?.error({ err }, 'transfer target collector: event handler threw on digit timeout');
      }
    });
  }

  private finish(): void {
    this.cancelTimer();
    this.finished = true;
    if (this.number.length > this.maxLength) this.events.onCancel('tooLong', this.number);
    else if (this.number.length === 0) this.events.onCancel('nothingDialled', '');
    else this.events.onTarget(this.number, this.terminated);
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}
