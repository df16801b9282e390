// How features plug into the call core. Every dialled target is a *call application* that receives a
// call and acts on it through the typed call API (CallApi); in-call features answer the codes typed in a
// bridged call and the phone's own transfer and hold keys. Each feature registers what it provides with
// the FeatureRegistry, in one list in server.ts.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { PlayHandle } from '../media/engine.js';
import type { SipRequest } from '../sip/message.js';
import type { ServerResponse } from '../sip/server-response.js';
import type { Dialog } from '../sip/dialog.js';
import type { Call, Disposition, ForwardFeature, HangupBy } from './call.js';
import type { CodeAction } from './keypad.js';
import type { Leg, LegHandle, LegOwner, LegRole, Party } from './leg.js';
import type { RingOutcome, RingTarget } from './ringer.js';

export type ExtensionConfig = HibikiConfig['extensions'][number];

/** A final refusal: SIP status, Q.850 cause and the reason kept in the CDR. */
export interface Refusal {
  status: number;
  cause: number;
  reason: string;
}

/** How the call arrived at a destination: directly, or through whose forwarding and why. */
export interface Arrival {
  from: string | undefined;
  feature: ForwardFeature | undefined;
}

export const DIRECT: Arrival = Object.freeze({ from: undefined, feature: undefined });

/** Who dialled: an authenticated extension, or an outside caller through a trunk. */
export type Origin = { kind: 'device'; extension: ExtensionConfig } | { kind: 'trunk'; trunk: string; did: string };

/** Incoming screening of a destination (F-SCREEN): the extension's own list, or the tenant's. */
export type Screening = { extension?: string } | 'none';

/** What the dial plan resolved a dialled string to. */
export interface Destination<A = unknown> {
  app: CallApplication<A>;
  args: A;
  /** Shown as the callee until someone answers (CDR callee_number). */
  callee: Party;
  /** A call to this destination leaves through a trunk (CDR direction outbound). */
  outbound?: boolean;
  /** The screening this destination gets when a call comes straight to it. */
  screening?: Screening;
  /** An inbound call refused for its trunk's channel limit leaves no CDR (a queue: such calls are not counted either). */
  uncountedWithoutChannel?: boolean;
}

/** How ringing a destination ended. */
export type DeliveryOutcome =
  | {
      kind: 'answered';
      dialog: Dialog;
      /** The device that answered (its contact), for the log. */
      label: string;
      party: Party;
      extension: string | undefined;
      /** Gives back what the answered destination holds (a trunk channel) once its leg ends. */
      release?: () => void;
      /** Told when the call that was answered here ends (hunt groups' least-recent order). */
      whenCallEnds?: () => void;
    }
  | { kind: 'picked'; leg: Leg; extension: string }
  /**
   * The destination rings no phone but takes the caller itself (an IVR, a voicemail box): a group's
   * no-answer destination or a forwarding target that is one gets the caller's leg, as if dialled. Only a
   * caller's own delivery (connect) can do that; a leg dialled by a feature (dial) treats it as not answered.
   */
  | { kind: 'application'; destination: Destination }
  | ({ kind: 'failed'; disposition: Disposition; hangupBy: HangupBy } & Refusal)
  | { kind: 'cancelled' };

/** One round of ringing: contacts in parallel, registered for pickup under `extensions` while they ring. */
export interface RingParams {
  contacts: RingTarget[];
  extensions: string[];
  from: string;
  to: string;
  ringTimeoutSec: number;
  /** Failures are reported as 480 instead of 408 when ringing local phones. */
  local: boolean;
  noResponseTimeoutSec?: number;
  auth?: { username: string; password: string };
  /** P-Asserted-Identity toward a trunk, for a withheld caller. */
  assertedIdentity?: string;
  /** More headers of the INVITEs (a click-to-call's auto-answer request). */
  headers?: [string, string][];
}

export type RingResult = RingOutcome | { kind: 'picked'; leg: Leg; extension: string };

/**
 * What a ringable destination gets while a call is offered to it: the call, who is calling and how, and
 * the primitives to ring phones, record where the call is going, and follow forwarding to another number.
 */
export interface RingContext {
  readonly call: Call;
  readonly config: HibikiConfig;
  /** Who the destinations see calling (a transfer presents the transferred party). */
  readonly caller: Party;
  readonly presentation: 'present' | 'withhold';
  /** The extension that placed the call, or the transferor a leg is dialled for. */
  readonly origin: ExtensionConfig | undefined;
  readonly did: string | undefined;
  /** A direct outbound call already holds its trunk channel. */
  readonly channelHeld: boolean;
  /** Ring time of an extension instead of its own (transfer targets). */
  readonly ringTimeoutSec: number | undefined;
  /** Whether this delivery describes the call in its CDR (false for an extra leg dialled by a feature). */
  readonly annotate: boolean;
  readonly cancelled: boolean;
  /** Forwarding hops taken so far in this delivery. */
  readonly hops: number;
  /** Whether the call has already been offered to this number in this delivery (loop detection). */
  visited(number: string): boolean;
  visit(number: string): void;
  /** Record on the call where it is going now (CDR callee, forwarded_from, feature). */
  arriving(callee: Party, arrival: Arrival): void;
  /**
   * Leave `from` for `destination` (F-FWD chains): undefined when the hop limit or a loop stops the chain
   * here. The hop becomes a CDR row of its own.
   */
  forward(
    from: { party: Party; arrival: Arrival; startedAt: number },
    destination: string,
    arrival: Arrival,
    why: { q850: number; status?: number; reason: string },
  ): Promise<DeliveryOutcome> | undefined;
  /** Deliver to another number (a group's no-answer destination, a forwarding target). */
  toNumber(number: string, arrival: Arrival): Promise<DeliveryOutcome>;
  ring(p: RingParams): Promise<RingResult>;
  /** The From of an INVITE: the caller as presented (F-CLIR), or Anonymous when withheld. */
  fromHeader(name: string | undefined, number?: string, domain?: string): string;
  /** Wall-clock time (CDR hop times). */
  now(): number;
  /** Monotonic time (ring deadlines). */
  monotonic(): number;
}

/** The result of dialling one more leg for a call (a transfer target, a recall). */
export type DialResult = { ok: true; leg: LegHandle } | { ok: false; status: number; cause: number; disposition: Disposition };

export interface DialOptions {
  /** Who the dialled phone sees calling. */
  presentedAs: Party;
  ringTimeoutSec: number;
  /** Receives a way to stop the ringing while it has not been answered. */
  onRinging?: (cancel: () => void) => void;
  /** The extension on whose behalf the number is dialled (a transferor): its outbound class and restrictions apply. */
  by?: string;
  /** Owner of the answered leg (default: a holder that hangs up the call when the leg hangs up). */
  owner?: LegOwner;
}

export interface CollectOptions {
  /** Ends entry at once (the dial-confirm code); may be several characters. */
  terminator?: string;
  /** Silence before the first digit that ends entry (ms). */
  firstDigitTimeoutMs: number;
  /** Silence between digits that ends entry (ms). */
  interDigitTimeoutMs: number;
  maxDigits?: number;
  /**
   * A prompt playing to the leg while digits are collected (an IVR greeting): the first digit stops it
   * (barge-in) and counts, and the first-digit timeout only starts once the prompt has finished.
   */
  prompt?: PlayHandle;
  /** Ends entry at once when the digits so far are complete (a one-key menu choice), without waiting for the inter-digit timeout. */
  complete?: (digits: string) => boolean;
}

export type CollectResult = { kind: 'digits'; digits: string; terminated: boolean } | { kind: 'timeout' } | { kind: 'too-long'; digits: string } | { kind: 'gone' };

export interface RecordCallOptions {
  maxSeconds: number;
  /** Seconds of silence that end the recording (0 or unset: never). */
  maxSilenceSeconds?: number;
  /** Keys that end the recording (e.g. '#'); the key itself is not part of the recording's result. */
  stopKeys?: string;
}

/**
 * How a recording on a leg ended: a stop key, its length limit, silence, the party hanging up (the file is
 * complete), or a failure to write it.
 */
export type RecordOutcome =
  { kind: 'key'; key: string; durationMs: number } | { kind: 'max-length' | 'silence' | 'hangup'; durationMs: number } | { kind: 'failed'; durationMs: number; error: string };

/** Options of connecting a caller to what a ringable destination answers with. */
export interface ConnectOptions {
  presentation: 'present' | 'withhold';
  /** The extension that placed the call (outside presentation and restrictions). */
  origin: ExtensionConfig | undefined;
  /** The DID an inbound call arrived on (F-CLIR presentCalledNumber). */
  did?: string;
  /** A direct outbound call already holds its trunk channel. */
  channelHeld?: boolean;
}

/** The typed call API: what an application or in-call feature may do with its call. */
export interface CallApi {
  readonly call: Call;
  readonly log: Logger;
  /** Who placed the call: an extension, or an outside caller through a trunk. */
  readonly origin: Origin;
  /** Whether the caller is presented or withheld on this call (F-CLIR). */
  readonly presentation: 'present' | 'withhold';
  /** The configuration in force now (a call keeps the plan it started with; settings are read when used). */
  config(): HibikiConfig;
  /** Answer an offered leg (its media is set up first); true at once for a leg already answered. False when it failed (refused) or went away. */
  answer(leg: LegHandle): Promise<boolean>;
  /** Refuse an offered leg, with an announcement as early media when files are given; ends the call with its CDR. */
  refuse(leg: LegHandle, refusal: Refusal, opts?: { prompt?: string[]; hangupBy?: HangupBy; disposition?: Disposition }): Promise<void>;
  /** Play files to a leg (a prompt, music on hold). */
  play(leg: LegHandle | Leg, files: string[], opts?: { loop?: boolean }): PlayHandle;
  /** Collect digits from a leg until the terminator, a timeout or too many digits. */
  collect(leg: LegHandle, opts: CollectOptions): Promise<CollectResult>;
  /**
   * Record what a leg's party says to `path` (8 kHz mono 16-bit WAV; the folder must exist) until a stop key,
   * maxSeconds, silence or hang-up. The leg is held while recording (its digits stop it) and given back after.
   */
  record(leg: LegHandle, path: string, opts: RecordCallOptions): Promise<RecordOutcome>;
  /**
   * Ring a number for this call (dial plan, forwarding, groups, pickup) and return the answered leg, not
   * bridged. Instead of a number, a feature may give its own ringing (a queue ringing its agents' phones
   * directly, without their forwarding); `label` then names the leg's media endpoint in logs.
   */
  dial(target: string | { label: string; ring: (delivery: RingContext) => Promise<DeliveryOutcome> }, opts: DialOptions): Promise<DialResult>;
  /**
   * Ring a destination for an offered caller (its media is set up first) and connect them on answer; the
   * caller gets the destination's failure otherwise. Options default to the call's own (origin, presentation, DID).
   * A caller already answered (handed on by an IVR) hears ringback meanwhile, and a failure ends the call
   * with a BYE carrying the destination's cause. A destination that takes the caller itself (outcome
   * `application`) runs with the caller's leg.
   */
  connect(caller: Leg, ring: (delivery: RingContext) => Promise<DeliveryOutcome>, opts?: Partial<ConnectOptions>): Promise<void>;
  /**
   * Connect two legs (audio both ways); in-call codes, hold and transfer keys work on them. A hang-up ends
   * the call, unless `ended` is given (a feature that keeps deciding, such as a consultation).
   */
  bridge(a: LegHandle, b: LegHandle, opts?: { ended?: LegOwner['ended'] }): void;
  /** End one leg (BYE with the cause); the call goes on. */
  drop(leg: LegHandle | Leg, cause?: number): void;
  /** End the call: every live leg but `except` gets a BYE, then the CDR. */
  hangup(by: HangupBy, cause: number, reason: string, except?: Leg): void;
  /** Hand a leg to whatever a number reaches (the dial plan decides), as if it had dialled it. */
  handTo(leg: LegHandle, number: string): Promise<void>;
  /**
   * Move a leg into another call (pickup, park retrieval), in the role it has there; this call leaves
   * without a CDR row when it has no live legs left.
   */
  moveInto(leg: LegHandle, other: CallApi, role?: LegRole): void;
  /** The answered leg of any call whose dialog has these identifiers (Replaces, RFC 3891). */
  findDialog(callId: string, localTag: string, remoteTag: string): { session: CallApi; leg: Leg } | undefined;
  /** Whether a number reaches anything (transfer targets). */
  canReach(number: string): boolean;
  /**
   * Whether a number reaches a destination that takes the caller's leg itself instead of ringing a phone
   * (an IVR, a voicemail box, a queue, a conference room): a transfer hands the leg to it (handTo).
   */
  takesLeg(number: string): boolean;
}

/** A destination: receives a call whose leg `leg` dialled it (or was sent to it). */
export interface CallApplication<A = unknown> {
  /** Names the application in logs. */
  readonly name: string;
  run(session: CallApi, leg: Leg, args: A): Promise<void>;
  /** Destinations that ring phones (extension, group, outside line) can also be rung from a delivery. */
  ring?(delivery: RingContext, args: A, arrival: Arrival): Promise<DeliveryOutcome>;
}

/** A feature's claim on dialled strings, consulted by the dial plan in tier order. */
export interface DialPlanEntry {
  readonly name: string;
  /**
   * service: codes dialled from an idle phone (forwarding, pickup, park slots), tried first and only for
   * local devices; local: this PBX's own numbers (extensions, groups…); outbound: routes to trunks, last;
   * inbound: DIDs from a trunk, before the inbound rules (bulk forwarding of a DID).
   */
  readonly tier: 'service' | 'local' | 'outbound' | 'inbound';
  resolve(dialled: string, origin: Origin, config: HibikiConfig): Destination | undefined;
}

/** The context of an in-call event in a bridged call: who did it, to whom they are connected. */
export interface InCallContext {
  session: CallApi;
  /** The leg that typed the code, pressed transfer or hold. */
  leg: Leg;
  /** The leg it is bridged to. */
  other: Leg;
  /**
   * Let the call's keypad see a digit the leg typed while a feature holds it (a parker hearing the slot
   * announcement): DTMF suppression and the DTMF-send code still apply and digits still reach the other
   * party; codes do not fire while the feature holds the leg.
   */
  keypad(digit: string): void;
}

export type InCallAction = Exclude<CodeAction, 'dtmfSend'>;

export interface HoldHandler {
  /** The party in ctx.leg put ctx.other on hold (the bridge has stopped their audio). */
  hold(ctx: InCallContext): void;
  /** Taken off hold (the bridge reconnects the audio). */
  resume(ctx: InCallContext): void;
  /** Stop whatever the held leg hears (it is being connected elsewhere by a transfer). */
  release(leg: Leg): void;
}

export type ReferHandler = (ctx: InCallContext, req: SipRequest, res: ServerResponse) => void;

/** A party's leg as seen by the pickup registry while it rings. */
export interface PickRequest {
  session: CallApi;
  leg: Leg;
  extension: ExtensionConfig;
}

/** F-SCREEN: what screening decides about a call coming to a destination. */
export type ScreenVerdict = { ok: true } | { ok: false; feature: 'blocked' | 'anonymous_rejected'; status: number; cause: number; reason: string; prompt?: string[] };

export type ScreenHandler = (target: { extension?: string; did?: string; trunk?: string }, caller: { number: string; anonymous: boolean }) => ScreenVerdict;

/** What features register with the call core (in server.ts, one list). */
export interface FeatureRegistry {
  /** Numbers and codes this feature answers (dial plan). */
  destination(entry: DialPlanEntry): void;
  /** An in-call code (#72, #8, #9) typed in a bridged call. */
  inCallCode(action: InCallAction, handler: (ctx: InCallContext) => void): void;
  /** A phone's transfer key (REFER) in a bridged call. */
  refer(handler: ReferHandler): void;
  /** A phone's hold key in a bridged call. */
  hold(handler: HoldHandler): void;
  /** Incoming screening, asked before a call comes straight to a destination. */
  screen(handler: ScreenHandler): void;
}

/** A feature: built with what it needs, it registers itself once. */
export interface Feature {
  register(registry: FeatureRegistry): void;
  stop?(): void;
}
