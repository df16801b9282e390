// INVITE server transaction: RFC 3261 §17.2.1 with the Accepted state of RFC 6026 §8.5–8.7.
import type { SipRequest, SipResponse } from '../message.js';
import { isReliable, type SendTarget } from '../transport/types.js';
import { deriveTimers, TimerSet, type DerivedTimers } from './timers.js';
import { buildTrying } from './trying.js';
import { notify, TransactionLog } from './log.js';
import { ownString } from '../strings.js';
import type { ServerTransaction, ServerTransactionEvents, TransactionContext } from './types.js';

export type ServerInviteState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

type ServerInviteTimer = 'G' | 'H' | 'I' | 'L';

/** What the layer should do with an ACK that matched this transaction. */
export type AckDisposition = 'absorbed' | 'pass-to-tu';

export class ServerInviteTransaction implements ServerTransaction {
  events: ServerTransactionEvents = {};
  private current: ServerInviteState = 'proceeding';
  private last: SipResponse | undefined;
  /** The To tag of what was last sent (legacy ACK matching, RFC 3261 §17.2.3), kept once `last` is let go. */
  private lastToTag: string | undefined;
  private req: SipRequest | undefined;
  private readonly durations: DerivedTimers;
  private readonly reliable: boolean;
  private readonly timers: TimerSet<ServerInviteTimer>;
  private readonly log: TransactionLog;
  private intervalG: number;

  constructor(
    request: SipRequest,
    readonly target: SendTarget,
    private readonly ctx: TransactionContext,
    private readonly onTerminated: () => void,
  ) {
    this.req = request;
    this.reliable = isReliable(target.transport);
    this.durations = deriveTimers(ctx.timers, this.reliable);
    this.intervalG = this.durations.g;
    this.timers = new TimerSet(ctx.clock);
    // The log outlives the request (let go in Accepted): copy the Call-ID out of the datagram's text.
    this.log = new TransactionLog(ctx.logger, ownString(request.callId), 'ist');
  }

  get state(): ServerInviteState {
    return this.current;
  }

  get lastResponse(): SipResponse | undefined {
    return this.last;
  }

  /** The To tag of the last response sent (undefined for none, or a 100 without one). */
  get responseToTag(): string | undefined {
    return this.lastToTag;
  }

  /**
   * Undefined once a 2xx has been sent: in Accepted (RFC 6026, 64*T1) the transaction only absorbs
   * retransmitted INVITEs and passes the TU's 2xx retransmissions on, for which the parsed INVITE is not
   * needed; keeping it that long costs kilobytes per finished call under load (issue #13).
   */
  get request(): SipRequest | undefined {
    return this.req;
  }

  /**
   * §17.2.1: the 100 Trying that stops the client's Timer A. The stack sends it once the TU has had
   * the request and not answered it at once: the RFC asks for it only when the TU will not answer
   * within 200 ms, and sending it before the TU has looked would put a 100 ahead of every
   * challenge and refusal (one more datagram per request of a flood). Nothing once a response went out.
   */
  sendTrying(): void {
    if (this.current !== 'proceeding' || this.last || !this.req) return;
    this.last = buildTrying(this.req);
    this.transmit(this.last);
  }

  /**
   * The TU answered the request statelessly (RFC 3261 §8.2.7): end at once, with no timer and no
   * retransmission; a retransmitted INVITE finds no transaction and is answered again.
   */
  discard(): void {
    this.terminate();
  }

  respond(res: SipResponse): void {
    const status = res.status;
    switch (this.current) {
      case 'proceeding':
        this.last = res;
        this.lastToTag = res.toTag;
        if (status < 200) {
          // §17.2.1: provisional responses from the TU are sent, state unchanged.
          this.transmit(res);
        } else if (status < 300) {
          // RFC 6026 §8.5: a 2xx moves Proceeding to Accepted and starts Timer L; its
          // retransmission is the UAS core's job (§13.3.1.4), not ours.
          this.current = 'accepted';
          this.timers.start('L', this.durations.l, () => this.onTimerL());
          this.transmit(res);
          this.last = undefined;
          this.req = undefined;
        } else {
          // §17.2.1: 300–699 moves to Completed; Timer G (unreliable only) retransmits it,
          // Timer H bounds the wait for the ACK.
          this.current = 'completed';
          if (!this.reliable) this.timers.start('G', this.intervalG, () => this.onTimerG());
          this.timers.start('H', this.durations.h, () => this.onTimerH());
          this.transmit(res);
        }
        return;
      case 'accepted':
        // RFC 6026 §8.7: 2xx retransmissions from the TU are passed to the transport.
        if (status >= 200 && status < 300) {
          this.lastToTag = res.toTag;
          this.transmit(res);
        } else this.log.debug('response ignored in accepted', { status });
        return;
      case 'completed':
      case 'confirmed':
      case 'terminated':
        this.log.debug('response ignored', { status, state: this.current });
        return;
    }
  }

  /** A retransmission of the INVITE arrived. */
  receiveRetransmission(): void {
    switch (this.current) {
      case 'proceeding':
      case 'completed':
        // §17.2.1: resend the most recent provisional (Proceeding) or final (Completed) response.
        if (this.last) this.transmit(this.last);
        return;
      case 'accepted':
        // RFC 6026 §8.7: absorbed; the TU retransmits the 2xx on its own schedule.
        return;
      case 'confirmed':
        // §17.2.1: Confirmed absorbs everything.
        return;
      case 'terminated':
        return;
    }
  }

  /** An ACK matched this transaction's INVITE. */
  receiveAck(): AckDisposition {
    switch (this.current) {
      case 'completed':
        // §17.2.1: the ACK moves Completed to Confirmed; Timer I (zero if reliable) absorbs
        // further ACKs before Terminated.
        this.current = 'confirmed';
        this.timers.stop('G');
        this.timers.stop('H');
        if (this.durations.i === 0) this.terminate();
        else this.timers.start('I', this.durations.i, () => this.onTimerI());
        return 'absorbed';
      case 'accepted':
        // RFC 6026 §8.7: an ACK in Accepted is for the 2xx: the TU (dialog) gets it.
        return 'pass-to-tu';
      case 'proceeding':
        // No final response yet: an ACK here acknowledges nothing.
        return 'absorbed';
      case 'confirmed':
      case 'terminated':
        return 'absorbed';
    }
  }

  dispose(): void {
    this.current = 'terminated';
    this.timers.close();
  }

  // §17.2.1: Timer G fires in Completed — resend the final response, interval doubles up to T2.
  private onTimerG(): void {
    switch (this.current) {
      case 'completed':
        this.intervalG = Math.min(2 * this.intervalG, this.ctx.timers.t2);
        this.timers.start('G', this.intervalG, () => this.onTimerG());
        if (this.last) this.transmit(this.last);
        return;
      default:
        return;
    }
  }

  // §17.2.1: Timer H fires in Completed — no ACK ever came; Terminated, and the TU is told.
  private onTimerH(): void {
    switch (this.current) {
      case 'completed':
        this.log.debug('timer H fired');
        this.terminate(() => notify(this.log, 'onAckTimeout', () => this.events.onAckTimeout?.()));
        return;
      default:
        return;
    }
  }

  // §17.2.1: Timer I fires in Confirmed — Terminated.
  private onTimerI(): void {
    if (this.current === 'confirmed') this.terminate();
  }

  // RFC 6026 §8.7: Timer L fires in Accepted — Terminated.
  private onTimerL(): void {
    if (this.current === 'accepted') this.terminate();
  }

  private onTransportError(err: Error): void {
    this.log.debug('transport error', { err: err.message, state: this.current });
    switch (this.current) {
      case 'proceeding':
      case 'completed':
      case 'confirmed':
        // §17.2.1 / §17.2.4: a transport failure ends the transaction and is reported to the TU.
        this.terminate(() => notify(this.log, 'onTransportError', () => this.events.onTransportError?.(err)));
        return;
      case 'accepted':
        // RFC 6026 §7.1 (Figure 5): in Accepted the TU is told and the state is kept; the TU
        // may still retransmit its 2xx over a new flow, and Timer L ends the transaction.
        notify(this.log, 'onTransportError', () => this.events.onTransportError?.(err));
        return;
      case 'terminated':
        return;
    }
  }

  private transmit(res: SipResponse): void {
    try {
      this.ctx.send(res, this.target, (err) => {
        if (err) this.onTransportError(err);
      });
    } catch (err) {
      this.onTransportError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Leave the maps first (so a re-entrant TU sees a dead transaction), then tell the TU why, then that it ended. */
  private terminate(cause?: () => void): void {
    if (this.current === 'terminated') return;
    this.current = 'terminated';
    this.timers.close();
    this.onTerminated();
    cause?.();
    notify(this.log, 'onTerminated', () => this.events.onTerminated?.());
  }
}
