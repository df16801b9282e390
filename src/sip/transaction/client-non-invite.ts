// Non-INVITE client transaction: RFC 3261 §17.1.2.
import type { SipRequest, SipResponse } from '../message.js';
import { isReliable, type SendTarget } from '../transport/types.js';
import type { ClientTransactionHooks } from './client-invite.js';
import { deriveTimers, TimerSet, type DerivedTimers } from './timers.js';
import { notify, TransactionLog } from './log.js';
import type { ClientTransaction, ClientTransactionHandlers, TransactionContext } from './types.js';

export type ClientNonInviteState = 'trying' | 'proceeding' | 'completed' | 'terminated';

type ClientNonInviteTimer = 'E' | 'F' | 'K';

const ignore = (): void => {};

export class ClientNonInviteTransaction implements ClientTransaction {
  private current: ClientNonInviteState = 'trying';
  private readonly durations: DerivedTimers;
  private readonly reliable: boolean;
  private readonly timers: TimerSet<ClientNonInviteTimer>;
  private readonly log: TransactionLog;
  private intervalE: number;

  constructor(
    readonly request: SipRequest,
    readonly target: SendTarget,
    private handlers: ClientTransactionHandlers,
    private readonly ctx: TransactionContext,
    private readonly hooks: Pick<ClientTransactionHooks, 'terminated'>,
  ) {
    this.reliable = isReliable(target.transport);
    this.durations = deriveTimers(ctx.timers, this.reliable);
    this.intervalE = this.durations.e;
    this.timers = new TimerSet(ctx.clock);
    this.log = new TransactionLog(ctx.logger, request.callId, 'nict');
  }

  get state(): ClientNonInviteState {
    return this.current;
  }

  /** §17.1.2.2: enter Trying — send the request, start Timer E (unreliable only) and Timer F. */
  start(): void {
    if (!this.reliable) this.timers.start('E', this.intervalE, () => this.onTimerE());
    this.timers.start('F', this.durations.f, () => this.onTimerF());
    this.transmit();
  }

  receive(res: SipResponse): void {
    const status = res.status;
    switch (this.current) {
      case 'trying':
      case 'proceeding':
        if (status < 200) {
          // §17.1.2.2: a provisional response moves Trying to Proceeding and is passed up.
          this.current = 'proceeding';
          notify(this.log, 'onProvisional', () => this.handlers.onProvisional?.(res));
        } else {
          // §17.1.2.2: a final response moves to Completed, is passed up, and starts Timer K
          // (zero over reliable transports: straight to Terminated).
          this.current = 'completed';
          this.timers.stop('E');
          this.timers.stop('F');
          this.log.debug('completed', { status });
          this.passFinal(res);
          if (this.durations.k === 0) this.terminate();
          else this.startTimerK();
        }
        return;
      case 'completed':
        // §17.1.2.2: Completed absorbs retransmitted responses.
        return;
      case 'terminated':
        return;
    }
  }

  /**
   * Pass the final response up and let the handlers go: nothing else reaches the TU from Completed, and
   * they hold whatever sent the request (a call) for the T4 of Timer K.
   */
  private passFinal(res: SipResponse): void {
    const onFinal = this.handlers.onFinal;
    this.handlers = { onFinal: ignore, onTimeout: ignore, onTransportError: ignore };
    notify(this.log, 'onFinal', () => onFinal(res));
  }

  /** Not made in receive(): a callback made there would share its scope with the response, and keep it. */
  private startTimerK(): void {
    this.timers.start('K', this.durations.k, () => this.onTimerK());
  }

  /** §9.1: non-INVITE requests are not cancelled; they are answered quickly anyway. */
  cancel(): void {}

  dispose(): void {
    this.current = 'terminated';
    this.timers.close();
  }

  // §17.1.2.2: Timer E retransmits; in Trying the interval doubles up to T2, in Proceeding it is T2.
  private onTimerE(): void {
    switch (this.current) {
      case 'trying':
        this.intervalE = Math.min(2 * this.intervalE, this.ctx.timers.t2);
        this.timers.start('E', this.intervalE, () => this.onTimerE());
        this.transmit();
        return;
      case 'proceeding':
        this.intervalE = this.ctx.timers.t2;
        this.timers.start('E', this.intervalE, () => this.onTimerE());
        this.transmit();
        return;
      default:
        return;
    }
  }

  // §17.1.2.2: Timer F fires in Trying or Proceeding — timeout to the TU, Terminated.
  private onTimerF(): void {
    switch (this.current) {
      case 'trying':
      case 'proceeding':
        this.log.debug('timer F fired');
        this.terminate();
        notify(this.log, 'onTimeout', () => this.handlers.onTimeout());
        return;
      default:
        return;
    }
  }

  // §17.1.2.2: Timer K fires in Completed — Terminated.
  private onTimerK(): void {
    if (this.current === 'completed') this.terminate();
  }

  private onTransportError(err: Error): void {
    switch (this.current) {
      case 'trying':
      case 'proceeding':
        // §17.1.2.2 / §8.1.3.1: the TU treats it as a 503.
        this.log.debug('transport error', { err: err.message });
        this.terminate();
        notify(this.log, 'onTransportError', () => this.handlers.onTransportError(err));
        return;
      default:
        return;
    }
  }

  private transmit(): void {
    try {
      this.ctx.send(this.request, this.target, (err) => {
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
