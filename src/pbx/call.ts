// The call model: a Call owns its Legs; a Leg is one SIP dialog (once answered) plus one media endpoint.
// Features act on legs through these primitives (hang up, bridge, re-offer), never on SIP messages.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Dialog } from '../sip/dialog.js';
import type { SipRequest } from '../sip/message.js';
import type { EndpointId, MediaEngine } from '../media/engine.js';

export type LegRole = 'caller' | 'callee';
export type CallDirection = 'internal' | 'inbound' | 'outbound';
export type Disposition = 'answered' | 'no_answer' | 'busy' | 'failed' | 'cancelled';
export type HangupBy = 'caller' | 'callee' | 'system';

export interface Party {
  number: string;
  name?: string;
}

export class Leg {
  dialog: Dialog | undefined;
  ended = false;
  /** Receives the DTMF digits this leg's party types (set by the feature-code layer). */
  onDigit: ((digit: string) => void) | undefined;
  /** This leg's phone has put the call on hold (F-HOLD). */
  holding = false;
  /** The leg this one is bridged to now (changes on transfer). */
  peer: Leg | undefined;
  /** When set, a feature decides what the end of this leg means (instead of hanging up the call). */
  onEnded: ((req: SipRequest | undefined) => void) | undefined;
  /** Resources this leg holds (a trunk channel), given back once when the leg ends. */
  private releases: Array<() => void> = [];

  /** Give `fn` back when this leg ends (at once if it already has). */
  holds(fn: () => void): void {
    if (this.ended) fn();
    else this.releases.push(fn);
  }

  /** The leg has ended: give back what it held. Idempotent. */
  release(): void {
    for (const fn of this.releases.splice(0)) fn();
  }

  constructor(
    readonly role: LegRole,
    readonly endpoint: EndpointId,
    public party: Party,
    /** Extension number when this leg is a local device. */
    public extension?: string,
  ) {}
}

/** What a finished call knows, for its CDR. */
export interface CallOutcome {
  startedAt: number;
  answeredAt?: number;
  endedAt: number;
  direction: CallDirection;
  disposition: Disposition;
  caller: Party;
  dialled: string;
  callee: Party;
  answeredBy?: string;
  hangupBy: HangupBy;
  q850: number;
  sipStatus?: number;
  reason: string;
  trunk?: string;
  feature?: CallFeature;
  transferredBy?: string;
  forwardedFrom?: string;
  hops: ForwardHop[];
}

/** What a call knows before it ends: every fact of its CDR but how it ended. */
export type CallSummary = Omit<CallOutcome, 'endedAt' | 'disposition' | 'hangupBy' | 'q850' | 'sipStatus' | 'reason'>;

export type ForwardFeature = 'forward_cfu' | 'forward_cfb' | 'forward_cfna' | 'forward_cfur' | 'forward_bulk';
export type CallFeature =
  | 'transfer_blind'
  | 'transfer_attended'
  | 'park'
  | 'park_empty'
  | 'pickup'
  | 'pickup_none'
  | 'service_code'
  | 'blocked'
  | 'anonymous_rejected'
  | 'barred'
  | ForwardFeature;

/**
 * One forwarding hop the call went through before reaching its last destination (F-FWD): the
 * destination that was tried and why the call left it. Each becomes a CDR row of its own.
 */
export interface ForwardHop {
  /** The extension (or number) that was tried. */
  callee: Party;
  /** The extension whose forwarding brought the call here; undefined for the number first dialled. */
  forwardedFrom: string | undefined;
  /** How the call arrived here. */
  feature: ForwardFeature | undefined;
  startedAt: number;
  endedAt: number;
  q850: number;
  sipStatus?: number;
  reason: string;
}

export declare interface Call {
  on(event: 'ended', listener: (outcome: CallOutcome) => void): this;
}

let seq = 0;

export class Call extends EventEmitter {
  readonly id: string;
  /** Same for every leg of one call, including later transfers (CDR linked_id). */
  readonly linkedId: string;
  readonly startedAt = Date.now();
  answeredAt: number | undefined;
  readonly legs: Leg[] = [];
  readonly log: Logger;
  private finished = false;
  trunk: string | undefined;
  answeredBy: string | undefined;
  feature: CallFeature | undefined;
  transferredBy: string | undefined;
  /** The extension whose forwarding sent the call to its current callee (CDR forwarded_from). */
  forwardedFrom: string | undefined;
  /** Earlier forwarding hops, oldest first. */
  readonly hops: ForwardHop[] = [];

  constructor(
    readonly callId: string,
    readonly direction: CallDirection,
    readonly caller: Party,
    readonly dialled: string,
    public callee: Party,
    private readonly media: MediaEngine,
    logger: Logger,
  ) {
    super();
    this.id = `${Date.now().toString(36)}-${(++seq).toString(36)}`;
    this.linkedId = this.id;
    this.log = logger.child({ callId: callId, linkedId: this.linkedId });
  }

  get isFinished(): boolean {
    return this.finished;
  }

  get isAnswered(): boolean {
    return this.answeredAt !== undefined;
  }

  addLeg(leg: Leg): Leg {
    this.legs.push(leg);
    return leg;
  }

  removeLeg(leg: Leg): void {
    const i = this.legs.indexOf(leg);
    if (i >= 0) this.legs.splice(i, 1);
  }

  leg(role: LegRole): Leg | undefined {
    return this.legs.find((l) => l.role === role && !l.ended);
  }

  /** Extensions this call occupies (for busy / call-waiting decisions). */
  extensions(): string[] {
    return this.legs.filter((l) => !l.ended && l.extension).map((l) => l.extension as string);
  }

  markAnswered(by: string): void {
    this.answeredAt = Date.now();
    this.answeredBy = by;
  }

  summary(): CallSummary {
    return {
      startedAt: this.startedAt,
      answeredAt: this.answeredAt,
      direction: this.direction,
      caller: this.caller,
      dialled: this.dialled,
      callee: this.callee,
      answeredBy: this.answeredBy,
      trunk: this.trunk,
      feature: this.feature,
      transferredBy: this.transferredBy,
      forwardedFrom: this.forwardedFrom,
      hops: this.hops,
    };
  }

  /** End the call once: free media, and report the outcome. Idempotent. */
  finish(outcome: Omit<CallOutcome, keyof CallSummary | 'endedAt'>): void {
    if (this.finished) return;
    this.finished = true;
    for (const leg of this.legs) {
      leg.ended = true;
      leg.onDigit = undefined;
      leg.release();
      this.media.destroy(leg.endpoint);
    }
    const full: CallOutcome = { ...outcome, ...this.summary(), endedAt: Date.now() };
    this.log.info(
      { disposition: full.disposition, q850: full.q850, sipStatus: full.sipStatus, hangupBy: full.hangupBy, billsec: full.answeredAt ? Math.round((full.endedAt - full.answeredAt) / 1000) : 0 },
      'call ended',
    );
    this.emit('ended', full);
  }
}
