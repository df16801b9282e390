// RFC 3262 reliable provisional responses: the UAS side (RSeq numbering, retransmission until PRACK,
// one unacknowledged response at a time, PRACK matching) and the UAC side (which provisionals to PRACK).
import { randomInt } from 'node:crypto';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { SipRequest, SipResponse } from './message.js';
import { hasOptionTag } from './session-timer.js';

/** When a UAS sends its 101–199 responses reliably. */
export type ReliableProvisionalPolicy = 'required-only' | 'when-supported';

export interface RAck {
  rseq: number;
  cseq: number;
  method: string;
}

const UINT32 = /^\d{1,10}$/;
const MAX_UINT32 = 2 ** 32 - 1;

function uint32(text: string | undefined): number | undefined {
  if (text === undefined || !UINT32.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_UINT32 ? n : undefined;
}

/** RSeq: 1*DIGIT (RFC 3262 §7.1). */
export function parseRSeq(value: string | undefined): number | undefined {
  return uint32(value?.trim());
}

/** RAck: response-num LWS CSeq-num LWS Method (RFC 3262 §7.2). */
export function parseRAck(value: string | undefined): RAck | undefined {
  if (value === undefined) return undefined;
  const parts = value.trim().split(/\s+/);
  if (parts.length !== 3) return undefined;
  const rseq = uint32(parts[0]);
  const cseq = uint32(parts[1]);
  const method = parts[2] as string;
  if (rseq === undefined || cseq === undefined || !/^[A-Za-z!%*_+`'~.-]+$/.test(method)) return undefined;
  return { rseq, cseq, method };
}

/**
 * RFC 3262 §3: Require: 100rel obliges the UAS to send provisionals reliably; Supported: 100rel
 * merely allows it, which we do only when configured to.
 */
export function wantsReliableProvisionals(invite: SipRequest, policy: ReliableProvisionalPolicy): boolean {
  if (invite.method !== 'INVITE') return false;
  if (invite.getAll('require').some((t) => t.trim().toLowerCase() === '100rel')) return true;
  return policy === 'when-supported' && hasOptionTag(invite, '100rel');
}

export interface ReliableSenderOptions {
  clock: Clock;
  t1: number;
  /** CSeq number of the INVITE the provisionals answer (matched against RAck). */
  inviteCSeq: number;
  /** Hand a response to the INVITE server transaction. */
  transmit(res: SipResponse): void;
  /** 64*T1 passed without a PRACK: the INVITE must be rejected with a 5xx (§3). */
  onGiveUp(): void;
  /** Nothing is left to acknowledge: the early-dialog entry can go. */
  onDone(): void;
  /** First RSeq (tests); random in 1..2^31-1 otherwise (§3). */
  firstRSeq?: number;
}

interface Outstanding {
  res: SipResponse;
  rseq: number;
  interval: number;
  retransmit?: TimerHandle;
  giveUp?: TimerHandle;
}

/** The reliable provisional responses of one INVITE server transaction (RFC 3262 §3). */
export class ReliableProvisionalSender {
  private nextRSeq: number;
  private outstanding: Outstanding | undefined;
  private readonly queue: SipResponse[] = [];
  /** Sent and not yet PRACKed; PRACKs for these are honoured even after the final response (§3). */
  private readonly unacked = new Set<number>();
  private finalSent = false;
  private done = false;
  private linger: TimerHandle | undefined;

  constructor(private readonly opts: ReliableSenderOptions) {
    this.nextRSeq = opts.firstRSeq ?? randomInt(1, 2 ** 31);
  }

  /** Number a 101–199 response and send it, or queue it behind the one awaiting its PRACK. */
  send(res: SipResponse): void {
    if (this.done || this.finalSent) return;
    if (!res.getAll('require').some((t) => t.trim().toLowerCase() === '100rel')) res.add('require', '100rel');
    res.set('rseq', this.nextRSeq++);
    // §3: "the UAS MUST NOT send a second reliable provisional response until the first is acknowledged".
    if (this.outstanding) this.queue.push(res);
    else this.start(res);
  }

  /** A PRACK in this early dialog: true when its RAck names a provisional still awaiting one. */
  receivePrack(prack: SipRequest): boolean {
    const rack = parseRAck(prack.get('rack'));
    if (!rack || rack.method.toUpperCase() !== 'INVITE' || rack.cseq !== this.opts.inviteCSeq) return false;
    if (!this.unacked.has(rack.rseq)) return false;
    this.unacked.delete(rack.rseq);
    if (this.outstanding?.rseq === rack.rseq) {
      this.stopTimers();
      this.outstanding = undefined;
      const next = this.queue.shift();
      if (next && !this.finalSent) this.start(next);
    }
    if (this.finalSent && this.unacked.size === 0) this.finish();
    return true;
  }

  /**
   * The final response went out. §3: retransmissions stop and queued provisionals are dropped, but
   * PRACKs for responses already sent must still be answered, so the entry lingers 64*T1 if needed.
   */
  onFinalSent(): void {
    if (this.finalSent) return;
    this.finalSent = true;
    this.stopTimers();
    this.outstanding = undefined;
    this.queue.length = 0;
    if (this.unacked.size === 0) {
      this.finish();
      return;
    }
    this.linger = this.opts.clock.setTimer(64 * this.opts.t1, () => this.finish());
  }

  /** Cancel every timer without telling anyone (stack shutdown). */
  dispose(): void {
    this.done = true;
    this.stopTimers();
    this.linger?.cancel();
  }

  private start(res: SipResponse): void {
    const rseq = Number(res.get('rseq'));
    const state: Outstanding = { res, rseq, interval: this.opts.t1 };
    this.outstanding = state;
    this.unacked.add(rseq);
    this.opts.transmit(res);
    // §3: retransmit at T1, doubling each time, until the PRACK comes or 64*T1 has passed.
    const tick = (): void => {
      if (this.outstanding !== state) return;
      this.opts.transmit(state.res);
      state.interval *= 2;
      state.retransmit = this.opts.clock.setTimer(state.interval, tick);
    };
    state.retransmit = this.opts.clock.setTimer(state.interval, tick);
    state.giveUp = this.opts.clock.setTimer(64 * this.opts.t1, () => {
      if (this.outstanding !== state) return;
      this.stopTimers();
      this.outstanding = undefined;
      this.queue.length = 0;
      this.unacked.clear();
      this.opts.onGiveUp();
      this.finish();
    });
  }

  private stopTimers(): void {
    this.outstanding?.retransmit?.cancel();
    this.outstanding?.giveUp?.cancel();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.linger?.cancel();
    this.opts.onDone();
  }
}

/** What a UAC does with one provisional response (RFC 3262 §4). */
export type ProvisionalDisposition =
  /** An ordinary provisional: pass it on, nothing to acknowledge. */
  | { kind: 'unreliable' }
  /** A reliable provisional in order: pass it on and PRACK it. */
  | { kind: 'prack'; rseq: number; rack: string }
  /** A retransmission or out-of-order reliable provisional: drop it. */
  | { kind: 'discard' };

/** The UAC's RSeq bookkeeping for one INVITE, per early dialog (To tag). */
export class ProvisionalAcknowledger {
  private readonly lastRSeq = new Map<string, number>();

  classify(res: SipResponse): ProvisionalDisposition {
    if (res.status <= 100 || res.status >= 200) return { kind: 'unreliable' };
    if (!res.getAll('require').some((t) => t.trim().toLowerCase() === '100rel')) return { kind: 'unreliable' };
    const rseq = parseRSeq(res.get('rseq'));
    const tag = res.toTag;
    const cseq = res.cseq;
    // Without RSeq or a To tag there is no early dialog to PRACK in; treat it as an ordinary provisional.
    if (rseq === undefined || tag === undefined || !cseq) return { kind: 'unreliable' };
    const last = this.lastRSeq.get(tag);
    // §4: only the first reliable provisional, or the one numbered last+1, is acknowledged and processed.
    if (last !== undefined && rseq !== last + 1) return { kind: 'discard' };
    this.lastRSeq.set(tag, rseq);
    return { kind: 'prack', rseq, rack: `${rseq} ${cseq.seq} ${cseq.method}` };
  }
}
