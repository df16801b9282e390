// Non-INVITE server transaction: RFC 3261 §17.2.2.
import { WireResponse, type SipRequest, type SipResponse } from '../message.js';
import { isReliable, type SendTarget } from '../transport/types.js';
import { deriveTimers, TimerSet, type DerivedTimers } from './timers.js';
import { notify, TransactionLog } from './log.js';
import { ownString } from '../strings.js';
import type { ServerTransaction, ServerTransactionEvents, TransactionContext } from './types.js';

export type ServerNonInviteState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export class ServerNonInviteTransaction implements ServerTransaction {
  events: ServerTransactionEvents = {};
  private current: ServerNonInviteState = 'trying';
  private last: SipResponse | undefined;
  private req: SipRequest | undefined;
  private readonly durations: DerivedTimers;
  private readonly timers: TimerSet<'J'>;
  private readonly log: TransactionLog;

  constructor(
    request: SipRequest,
    readonly target: SendTarget,
    private readonly ctx: TransactionContext,
    private readonly onTerminated: () => void,
  ) {
    this.req = request;
    this.durations = deriveTimers(ctx.timers, isReliable(target.transport));
    this.timers = new TimerSet(ctx.clock);
    // The log outlives the request (it is let go once Completed): copy the Call-ID out of its text.
    this.log = new TransactionLog(ctx.logger, ownString(request.callId), 'nist');
  }

  get state(): ServerNonInviteState {
    return this.current;
  }

  get lastResponse(): SipResponse | undefined {
    return this.last;
  }

  /** Undefined once a final response has been sent over an unreliable transport (see ServerTransaction). */
  get request(): SipRequest | undefined {
    return this.req;
  }

  respond(res: SipResponse): void {
    const status = res.status;
    switch (this.current) {
      case 'trying':
      case 'proceeding':
        this.last = res;
        if (status < 200) {
          // §17.2.2: a provisional from the TU moves Trying to Proceeding and is sent.
          this.current = 'proceeding';
          this.transmit(res);
        } else {
          // §17.2.2: a final response moves to Completed and starts Timer J (64*T1 over
          // unreliable transports so retransmitted requests are still answered; zero otherwise).
          this.current = 'completed';
          if (this.durations.j === 0) {
            this.transmit(res);
            this.terminate();
            return;
          }
          // Only the response's bytes are needed from here on, so the parsed request and response are
          // let go. What goes out keeps its headers for anyone inspecting it; what stays keeps none.
          const bytes = res.toBuffer();
          this.transmit(new WireResponse(res, res.headers, bytes));
          if (this.current === 'completed') {
            this.last = new WireResponse(res, [], bytes.toString('latin1'));
            this.req = undefined;
            this.timers.start('J', this.durations.j, () => this.onTimerJ());
          }
        }
        return;
      case 'completed':
      case 'terminated':
        // §17.2.2: any other final response from the TU is discarded.
        this.log.debug('response ignored', { status, state: this.current });
        return;
    }
  }

  /** A retransmission of the request arrived. */
  receiveRetransmission(): void {
    switch (this.current) {
      case 'trying':
        // §17.2.2: nothing has been sent yet, so retransmissions are discarded.
        return;
      case 'proceeding':
      case 'completed':
        // §17.2.2: answer with the most recent response.
        if (this.last) this.transmit(this.last);
        return;
      case 'terminated':
        return;
    }
  }

  /** Only INVITE server transactions send a 100 Trying of their own (§17.2.1). */
  sendTrying(): void {}

  /** The TU answered the request statelessly (RFC 3261 §8.2.7): end at once, with no Timer J. */
  discard(): void {
    this.terminate();
  }

  dispose(): void {
    this.current = 'terminated';
    this.timers.close();
  }

  // §17.2.2: Timer J fires in Completed — Terminated.
  private onTimerJ(): void {
    if (this.current === 'completed') this.terminate();
  }

  // §17.2.4: a transport failure ends the transaction and is reported to the TU.
  private onTransportError(err: Error): void {
    if (this.current === 'terminated') return;
    this.log.debug('transport error', { err: err.message, state: this.current });
    this.terminate(() => notify(this.log, 'onTransportError', () => this.events.onTransportError?.(err)));
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
