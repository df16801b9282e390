// A Leg is one party of a call: a media endpoint plus the SIP dialog that reaches the party (or, before
// the party is answered, its pending INVITE). A leg has exactly one owner at a time: taking it returns a
// handle, and the leg's events (digits, hang-up, hold, REFER, media timeout) reach that owner only.
// Giving it back (release) or handing it on (handOver) is one call on the handle.
import type { Dialog, DestroyCause } from '../sip/dialog.js';
import type { SipRequest } from '../sip/message.js';
import type { ServerResponse } from '../sip/server-response.js';
import type { EndpointId } from '../media/engine.js';

export type LegRole = 'caller' | 'callee';

export interface Party {
  number: string;
  name?: string;
}

/** How a leg ended, as its owner is told. */
export interface LegEnd {
  /** 'party': the party hung up (BYE, CANCEL); 'system': a timer or a failure ended it. */
  by: 'party' | 'system';
  /** Q.850 cause (from the party's Reason header when it sent one). */
  cause: number;
  reason: string;
  /** The BYE (or CANCEL) that ended it, when there was one. */
  request?: SipRequest;
  /** The dialog layer's account of why the dialog ended. */
  why?: DestroyCause;
  /** An unanswered INVITE was cancelled by the caller (the stack has answered it 487). */
  cancelled?: boolean;
  /** The stack sent the final response itself (RFC 3262: no PRACK came): the status it sent. */
  localFinal?: number;
}

/**
 * What an owner hears from its legs. `ended` must be handled; the others are optional: digits without a
 * handler are dropped, a hold without one is answered without music, a REFER without one gets 501, and a
 * media timeout without one ends the call (cause 41).
 */
export interface LegOwner {
  /** Names the owner in logs. */
  readonly label: string;
  ended(leg: Leg, end: LegEnd): void;
  digit?(leg: Leg, digit: string): void;
  /**
   * The party's phone put the call on hold (true) or took it off hold (false); the offer has been answered.
   * Without this handler the offer is relayed to the leg it is bridged to, as any other change.
   */
  hold?(leg: Leg, holding: boolean): void;
  refer?(leg: Leg, req: SipRequest, res: ServerResponse): void;
  mediaTimeout?(leg: Leg): void;
  /** Another owner took the leg from this one (it comes back by release()). */
  suspended?(leg: Leg): void;
  /** The leg came back to this owner. */
  resumed?(leg: Leg): void;
}

/** The pending INVITE of a leg that has not been answered yet (the caller of a new call). */
export interface OfferedInvite {
  req: SipRequest;
  res: ServerResponse;
  /** The caller's SDP offer; undefined for a delayed-offer INVITE. */
  sdp: string | undefined;
}

/** offered: an incoming INVITE not answered yet; ringing: being dialled; answered: its dialog is up. */
export type LegState = 'offered' | 'ringing' | 'answered' | 'ended';

let legSeq = 0;

export class Leg {
  readonly id = `L${(++legSeq).toString(36)}`;
  dialog: Dialog | undefined;
  /** The media endpoint; undefined until the leg's media is set up. */
  endpoint: EndpointId | undefined;
  /** Our SDP for an offered leg, computed when its media was set up (the answer we will send). */
  localSdp: string | undefined;
  /** This leg's phone has put the call on hold (F-HOLD). */
  holding = false;
  /** The leg this one is bridged to now (changes on transfer). */
  peer: Leg | undefined;
  private current: LegState;
  private owners: LegHandle[] = [];
  /** Resources this leg holds (a trunk channel), given back once when the leg ends. */
  private releases: Array<() => void> = [];

  constructor(
    /** The party's part in the call it belongs to now (a picker or retriever becomes the callee). */
    public role: LegRole,
    public party: Party,
    /** Extension number when this leg is a local device. */
    public extension: string | undefined,
    /** The pending INVITE of an offered (caller) leg. */
    public invite?: OfferedInvite,
  ) {
    this.current = invite ? 'offered' : 'ringing';
  }

  get state(): LegState {
    return this.current;
  }

  get ended(): boolean {
    return this.current === 'ended';
  }

  /** @internal the leg's INVITE was answered (its dialog exists). */
  markAnswered(dialog: Dialog): void {
    this.dialog = dialog;
    // Kept for the whole call but seldom read again once answered.
    this.invite?.req.forgetParsed();
    this.invite?.req.forgetBody();
    this.invite?.req.packHeaders();
    // The dialog decoded the same offer again: keep one copy of it for the call.
    if (this.invite && this.invite.sdp === dialog.remote.sdp) this.invite.sdp = dialog.remote.sdp;
    if (this.current !== 'ended') this.current = 'answered';
  }

  /** @internal the leg is over; returns false when it already was. Releases what it held. */
  markEnded(): boolean {
    if (this.current === 'ended') return false;
    this.current = 'ended';
    this.peer = undefined;
    for (const fn of this.releases.splice(0)) fn();
    return true;
  }

  /** Give `fn` back when this leg ends (at once if it already has). */
  holds(fn: () => void): void {
    if (this.ended) fn();
    else this.releases.push(fn);
  }

  /** The owner events go to now. */
  get owner(): LegOwner | undefined {
    return this.owners[this.owners.length - 1]?.owner;
  }

  /**
   * Become this leg's owner. The previous owner is told it was suspended and gets the leg back when the
   * returned handle is released.
   */
  take(owner: LegOwner): LegHandle {
    const previous = this.owner;
    const handle = new LegHandle(this, owner);
    // The first owner as a one-element literal: pushed onto an empty array, it reserves room for 17
    // (~130 B more per leg held for the whole call), and most legs only ever have one at a time.
    if (this.owners.length === 0) this.owners = [handle];
    else this.owners.push(handle);
    if (previous && previous !== owner) previous.suspended?.(this);
    return handle;
  }

  /** @internal */
  isCurrent(handle: LegHandle): boolean {
    return this.owners[this.owners.length - 1] === handle;
  }

  /** @internal give the leg back to whoever had it before `handle`. */
  drop(handle: LegHandle): void {
    const i = this.owners.indexOf(handle);
    if (i < 0) return;
    const wasCurrent = i === this.owners.length - 1;
    this.owners.splice(i, 1);
    if (wasCurrent && !this.ended) this.owner?.resumed?.(this);
  }

  /** @internal put `next` where `handle` was. */
  replace(handle: LegHandle, next: LegHandle): void {
    const i = this.owners.indexOf(handle);
    if (i < 0) this.owners.push(next);
    else this.owners[i] = next;
  }

  /** A short description for logs. */
  describe(): string {
    return `${this.role}:${this.extension ?? this.party.number}`;
  }
}

/** An owner's hold on a leg. Stale once released or handed over. */
export class LegHandle {
  private live = true;

  constructor(
    readonly leg: Leg,
    readonly owner: LegOwner,
  ) {}

  /** True while this handle's owner is the one the leg's events go to. */
  get current(): boolean {
    return this.live && this.leg.isCurrent(this);
  }

  get held(): boolean {
    return this.live;
  }

  /** Give the leg back to the owner it had before this handle took it. */
  release(): void {
    if (!this.live) return;
    this.live = false;
    this.leg.drop(this);
  }

  /** Hand the leg on to another owner, in this handle's place (a stale handle simply takes it). */
  handOver(owner: LegOwner): LegHandle {
    if (!this.live) return this.leg.take(owner);
    this.live = false;
    const next = new LegHandle(this.leg, owner);
    this.leg.replace(this, next);
    return next;
  }
}
