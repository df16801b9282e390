// INVITE client transaction: RFC 3261 §17.1.1 with the Accepted state of RFC 6026 §8.4.
import type { SipRequest, SipResponse } from '../message.js';
import { isReliable, type SendTarget } from '../transport/types.js';
import { buildCancel, buildNon2xxAck } from './ack.js';
import { deriveTimers, TimerSet, type DerivedTimers } from './timers.js';
import { notify, TransactionLog } from './log.js';
import type { ClientTransaction, ClientTransactionHandlers, TransactionContext } from './types.js';

export type ClientInviteState = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

type ClientInviteTimer = 'A' | 'B' | 'D' | 'M' | 'cancelWait';

/** How a client transaction talks back to the layer that owns it. */
export interface ClientTransactionHooks {
  /** The transaction reached Terminated: forget it. */
  terminated(): void;
  /** Run a CANCEL as its own non-INVITE client transaction (§9.1). */
  startCancel(cancel: SipRequest, target: SendTarget): void;
}

const ignore = (): void => {};

export class ClientInviteTransaction implements ClientTransaction {
  private current: ClientInviteState = 'calling';
  private readonly durations: DerivedTimers;
  private readonly reliable: boolean;
  private readonly timers: TimerSet<ClientInviteTimer>;
  private readonly log: TransactionLog;
  private intervalA: number;
  private ack: SipRequest | undefined;
  /** Set when the TU asked to cancel before any provisional response arrived. */
  private pendingCancel: [string, string][] | undefined;
  private cancelSent = false;

  constructor(
    readonly request: SipRequest,
    readonly target: SendTarget,
    private handlers: ClientTransactionHandlers,
    private readonly ctx: TransactionContext,
    private readonly hooks: ClientTransactionHooks,
  ) {
    this.reliable = isReliable(target.transport);
    this.durations = deriveTimers(ctx.timers, this.reliable);
    this.intervalA = this.durations.a;
    this.timers = new TimerSet(ctx.clock);
    this.log = new TransactionLog(ctx.logger, request.callId, 'ict');
  }

  get state(): ClientInviteState {
    return this.current;
  }

  /** §17.1.1.2: enter Calling — send the INVITE, start Timer A (unreliable only) and Timer B. */
  start(): void {
    if (!this.reliable) this.timers.start('A', this.intervalA, () => this.onTimerA());
    this.timers.start('B', this.durations.b, () => this.onTimerB());
    this.transmit(this.request);
  }

  receive(res: SipResponse): void {
    const status = res.status;
    switch (this.current) {
      case 'calling':
      case 'proceeding':
        if (status < 200) {
          // §17.1.1.2: a provisional response stops retransmissions (A) and Timer B, which only
          // guards the Calling state; every provisional is passed up.
          this.current = 'proceeding';
          this.timers.stop('A');
          this.timers.stop('B');
          notify(this.log, 'onProvisional', () => this.handlers.onProvisional?.(res));
          // §9.1: a CANCEL asked for earlier may go now that the server has answered.
          if (this.pendingCancel && this.current === 'proceeding') this.sendCancel(this.pendingCancel);
        } else if (status < 300) {
          // RFC 6026 §8.4: a 2xx moves Calling/Proceeding to Accepted and starts Timer M, so
          // retransmitted and forked 2xx still reach the TU (which ACKs them itself).
          this.current = 'accepted';
          this.pendingCancel = undefined;
          this.timers.stop('A');
          this.timers.stop('B');
          this.timers.stop('cancelWait');
          this.startTimer('M');
          this.log.debug('accepted', { status });
          this.passFinal(res, this.handlers.onAdditional2xx);
        } else {
          // §17.1.1.2: 300–699 moves to Completed: ACK it, pass it up, start Timer D
          // (zero over reliable transports: straight to Terminated).
          this.current = 'completed';
          this.pendingCancel = undefined;
          this.timers.stop('A');
          this.timers.stop('B');
          this.timers.stop('cancelWait');
          this.ack = buildNon2xxAck(this.request, res);
          this.transmit(this.ack);
          this.log.debug('completed', { status });
          this.passFinal(res, undefined);
          if (this.durations.d === 0) this.terminate();
          else this.startTimer('D');
        }
        return;
      case 'completed':
        // §17.1.1.2: each retransmission of the final response is ACKed again, not passed up.
        if (status >= 300 && this.ack) this.transmit(this.ack);
        return;
      case 'accepted':
        // RFC 6026 §8.4: further 2xx (retransmissions or other forks) go to the TU.
        if (status >= 200 && status < 300) notify(this.log, 'onAdditional2xx', () => this.handlers.onAdditional2xx?.(res));
        return;
      case 'terminated':
        return;
    }
  }

  /**
   * Timers that outlive receive() (M and D run 32 s) are started here: a callback made in receive()
   * would share its scope with the closures there that use the response, and keep it alive to the end.
   */
  private startTimer(name: 'M' | 'D'): void {
    if (name === 'M') this.timers.start('M', this.durations.m, () => this.onTimerM());
    else this.timers.start('D', this.durations.d, () => this.onTimerD());
  }

  /**
   * Pass the final response up. After it only further 2xx can still reach the TU (Accepted), so the other
   * handlers are let go, and what they hold (the call that placed the INVITE) is not kept for the 32 s of
   * Timer M / D. A method of its own: a closure made in receive() would share its scope with the timer
   * callbacks made there, and keep the response and the handler alive through them.
   */
  private passFinal(res: SipResponse, onAdditional2xx: ClientTransactionHandlers['onAdditional2xx']): void {
    const onFinal = this.handlers.onFinal;
    this.handlers = { onFinal: ignore, onTimeout: ignore, onTransportError: ignore, onAdditional2xx };
    notify(this.log, 'onFinal', () => onFinal(res));
  }

  cancel(extraHeaders: [string, string][] = []): void {
    switch (this.current) {
      case 'calling':
        // §9.1: a CANCEL must not be sent before a provisional response; remember the wish.
        this.pendingCancel ??= extraHeaders;
        return;
      case 'proceeding':
        this.sendCancel(extraHeaders);
        return;
      case 'completed':
      case 'accepted':
      case 'terminated':
        // §9.1: once a final response has arrived the CANCEL would have no effect.
        return;
    }
  }

  /** Stop without telling anyone (the layer is shutting down). */
  dispose(): void {
    this.current = 'terminated';
    this.timers.close();
  }

  private sendCancel(extraHeaders: [string, string][]): void {
    this.pendingCancel = undefined;
    if (this.cancelSent) return;
    this.cancelSent = true;
    this.log.debug('sending CANCEL');
    this.hooks.startCancel(buildCancel(this.request, extraHeaders), this.target);
    // §9.1: if no final response arrives 64*T1 after the CANCEL, the INVITE is given up.
    this.timers.start('cancelWait', 64 * this.ctx.timers.t1, () => this.onCancelWait());
  }

  // §17.1.1.2: Timer A fires in Calling — retransmit and double the interval (no cap).
  private onTimerA(): void {
    switch (this.current) {
      case 'calling':
        this.intervalA *= 2;
        this.timers.start('A', this.intervalA, () => this.onTimerA());
        this.transmit(this.request);
        return;
      default:
        return;
    }
  }

  // §17.1.1.2: Timer B fires in Calling — tell the TU of the timeout, go to Terminated.
  private onTimerB(): void {
    switch (this.current) {
      case 'calling':
        this.log.debug('timer B fired');
        this.terminate();
        notify(this.log, 'onTimeout', () => this.handlers.onTimeout());
        return;
      default:
        return;
    }
  }

  // §9.1: still no final response 64*T1 after the CANCEL — consider the INVITE cancelled.
  private onCancelWait(): void {
    switch (this.current) {
      case 'proceeding':
        this.log.debug('no final response after CANCEL');
        this.terminate();
        notify(this.log, 'onTimeout', () => this.handlers.onTimeout());
        return;
      default:
        return;
    }
  }

  // §17.1.1.2: Timer D fires in Completed — Terminated.
  private onTimerD(): void {
    if (this.current === 'completed') this.terminate();
  }

  // RFC 6026 §8.4: Timer M fires in Accepted — Terminated.
  private onTimerM(): void {
    if (this.current === 'accepted') this.terminate();
  }

  private onTransportError(err: Error): void {
    switch (this.current) {
      case 'calling':
      case 'proceeding':
        // §17.1.1.2 / §8.1.3.1: the TU treats it as a 503.
        this.log.debug('transport error', { err: err.message });
        this.terminate();
        notify(this.log, 'onTransportError', () => this.handlers.onTransportError(err));
        return;
      case 'completed':
      case 'accepted':
        // The TU already has its final response; an ACK that could not be sent only ends us.
        this.terminate();
        return;
      case 'terminated':
        return;
    }
  }

  private transmit(msg: SipRequest): void {
    try {
      this.ctx.send(msg, this.target, (err) => {
        if (err) this.onTransportError(err);
      });
    } catch (err) {
      this.onTransportError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private terminate(): void {
    if (this.current === 'terminated') return;
    this.current = 'terminated';
    this.timers.close();
    this.hooks.terminated();
  }
}
