// The call model: a Call is the unit a CDR row describes. It owns its Legs (pbx/leg.ts) and knows what the
// CDR needs: who called whom, who answered, which feature shaped the call, the forwarding hops. It ends
// once, through end() with the outcome, or leaves no row through dissolve() when its only leg joined
// another call (pickup, park retrieval).
import { CompactEmitter } from '../util/compact-emitter.js';
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.js';
import type { MediaEngine } from '../media/engine.js';
import type { Leg, LegRole, Party } from './leg.js';

export type { Party, LegRole } from './leg.js';
export type CallDirection = 'internal' | 'inbound' | 'outbound';
export type Disposition = 'answered' | 'no_answer' | 'busy' | 'failed' | 'cancelled';
export type HangupBy = 'caller' | 'callee' | 'system';

export type ForwardFeature = 'forward_cfu' | 'forward_cfb' | 'forward_cfna' | 'forward_cfur' | 'forward_bulk';
/** An IVR's path through its menus and the keys pressed, e.g. `ivr:100>1>ivr:110>2>2001` (F-IVR). */
export type IvrPath = `ivr:${string}`;

export function isIvrPath(feature: string | undefined): feature is IvrPath {
  return feature !== undefined && feature.startsWith('ivr:');
}
/** F-VM: `voicemail:<box>` a message left in (or refused by) that box; `voicemail` a retrieval call (1410). */
export type VoicemailFeature = `voicemail:${string}` | 'voicemail';
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
  | ForwardFeature
  | IvrPath
  | VoicemailFeature
  /** F-CONF: a call into a conference room. */
  | 'conference'
  /** F-SPY: a supervisor's monitor, whisper or barge session. */
  | 'spy';

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

/** How a call ended: what the code that ends it decides. */
export interface CallEnd {
  disposition: Disposition;
  hangupBy: HangupBy;
  q850: number;
  sipStatus?: number;
  reason: string;
}

/** What a finished call knows, for its CDR. */
export interface CallOutcome extends CallEnd {
  startedAt: number;
  answeredAt?: number;
  endedAt: number;
  direction: CallDirection;
  caller: Party;
  dialled: string;
  callee: Party;
  answeredBy?: string;
  trunk?: string;
  feature?: CallFeature;
  transferredBy?: string;
  forwardedFrom?: string;
  /** The queue the call waited in (F-QUEUE), and how long (ms) until an agent answered or it left. */
  queue?: string;
  queueWaitMs?: number;
  /** The call's recording (CDR recording_path), when it was recorded. */
  recordingPath?: string;
  hops: ForwardHop[];
}

/** What a call knows before it ends: every fact of its CDR but how it ended. */
export type CallSummary = Omit<CallOutcome, 'endedAt' | 'disposition' | 'hangupBy' | 'q850' | 'sipStatus' | 'reason'>;

/** A moment in a call's life. `ended` comes once per call that ends with a CDR (a dissolved call has none). */
export type CallMoment =
  /** The PBX took the call in (an INVITE it will route): counted as a call attempt per second. */
  | { state: 'started' }
  /** The PBX rings these extensions' phones (none: a trunk or another destination): its INVITEs went out. */
  | { state: 'ringing'; extensions: string[] }
  /** The call was answered, by an extension or by the PBX itself (`hibiki`: IVR, voicemail, queue). */
  | { state: 'answered'; by: string }
  /** A party put the call on hold (held) or took it off hold (resumed); `by` is its extension or number. */
  | { state: 'held' | 'resumed'; by: string }
  /** The call was transferred by `by` to `to` (a number; for attended transfers the target party). */
  | { state: 'transferred'; kind: 'blind' | 'attended'; by: string; to: string }
  /** The call was parked in `slot` by `by`. */
  | { state: 'parked'; slot: string; by: string | undefined }
  | { state: 'ended'; outcome: CallOutcome };

/** The events of a call: 'ended' with the outcome for its CDR, or undefined when it dissolved into another call. */
export interface CallEvents {
  ended: [outcome: CallOutcome | undefined];
  /** A moment worth telling watchers (the registry relays it to CallActivity). */
  moment: [moment: Exclude<CallMoment, { state: 'ended' | 'started' }>];
}

let seq = 0;

export class Call extends CompactEmitter<CallEvents> {
  readonly id: string;
  /** Same for every leg of one call, including later transfers (CDR linked_id). */
  readonly linkedId: string;
  readonly startedAt: number;
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
  /** The queue the call waited in and for how long (CDR queue, queue_wait). */
  queue: string | undefined;
  queueWaitMs: number | undefined;
  /** Where the call is being recorded (set when recording starts, so the CDR names the file). */
  recordingPath: string | undefined;
  /** Earlier forwarding hops, oldest first. */
  readonly hops: ForwardHop[] = [];

  constructor(
    readonly callId: string,
    readonly direction: CallDirection,
    readonly caller: Party,
    readonly dialled: string,
    public callee: Party,
    private readonly media: MediaEngine,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    super();
    this.startedAt = clock.now();
    this.id = `${this.startedAt.toString(36)}-${(++seq).toString(36)}`;
    this.linkedId = this.id;
    this.log = logger.child({ callId, linkedId: this.linkedId });
  }

  get isFinished(): boolean {
    return this.finished;
  }

  get isAnswered(): boolean {
    return this.answeredAt !== undefined;
  }

  now(): number {
    return this.clock.now();
  }

  addLeg(leg: Leg): Leg {
    if (!this.legs.includes(leg)) this.legs.push(leg);
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
    const out: string[] = [];
    for (const l of this.legs) if (!l.ended && l.extension !== undefined) out.push(l.extension);
    return out;
  }

  markAnswered(by: string): void {
    this.answeredAt = this.clock.now();
    this.answeredBy = by;
    this.report({ state: 'answered', by });
  }

  /** Tell watchers of a moment of this call (ringing, hold, transfer, park); nothing after it ended. */
  report(moment: Exclude<CallMoment, { state: 'ended' | 'started' }>): void {
    if (!this.finished) this.emit('moment', moment);
  }

  /** Every fact of the CDR known so far (crash recovery keeps it while the call is up). */
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
      queue: this.queue,
      queueWaitMs: this.queueWaitMs,
      recordingPath: this.recordingPath,
      hops: this.hops,
    };
  }

  /** End the call once: free every leg's media, and report the outcome for the CDR. Idempotent. */
  end(how: CallEnd): void {
    if (this.finished) return;
    this.finished = true;
    this.freeLegs();
    const full: CallOutcome = { ...how, ...this.summary(), endedAt: this.clock.now() };
    this.log.info(
      { disposition: full.disposition, q850: full.q850, sipStatus: full.sipStatus, hangupBy: full.hangupBy, billsec: full.answeredAt ? Math.round((full.endedAt - full.answeredAt) / 1000) : 0 },
      'call ended',
    );
    this.emit('ended', full);
  }

  /** Leave without a CDR row: the call's legs went into another call (pickup, park retrieval). */
  dissolve(): void {
    if (this.finished) return;
    this.finished = true;
    this.freeLegs();
    this.log.debug('call dissolved into another call');
    this.emit('ended', undefined);
  }

  private freeLegs(): void {
    for (const leg of this.legs) {
      leg.markEnded();
      if (leg.endpoint !== undefined) this.media.destroy(leg.endpoint);
    }
  }
}

/** The usual ends of a call, so each is spelled once. */
export const ends = {
  cancelled: (reason = 'caller cancelled'): CallEnd => ({ disposition: 'cancelled', hangupBy: 'caller', q850: 16, sipStatus: 487, reason }),
  failed: (status: number, q850: number, reason: string, hangupBy: HangupBy = 'system'): CallEnd => ({ disposition: 'failed', hangupBy, q850, sipStatus: status, reason }),
} as const;
