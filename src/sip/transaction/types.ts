// Public contracts of the transaction layer and what the four state machines share.
import type { Logger } from 'pino';
import type { Clock } from '../../util/clock.js';
import type { SipRequest, SipResponse } from '../message.js';
import type { SendTarget } from '../transport/types.js';
import type { TimerConfig } from './timers.js';

export type SendFn = (msg: SipRequest | SipResponse, target: SendTarget, cb?: (err?: Error) => void) => void;

export interface ClientTransactionHandlers {
  onProvisional?(res: SipResponse): void;
  /**
   * The first final response (2xx or error). For INVITE, later 2xx retransmissions and
   * 2xx from other forks go to onAdditional2xx (RFC 6026 Accepted state).
   */
  onFinal(res: SipResponse): void;
  onAdditional2xx?(res: SipResponse): void;
  /** Timer B / F fired, or no final response 64*T1 after a CANCEL (§9.1); the TU maps it to 408. */
  onTimeout(): void;
  /** The transport failed before a final response arrived; the TU maps it to 503 (§8.1.3.1). */
  onTransportError(err: Error): void;
}

export interface ServerTransactionEvents {
  onTerminated?(): void;
  onTransportError?(err: Error): void;
  /** Timer H fired: no ACK arrived for a non-2xx final response to an INVITE. */
  onAckTimeout?(): void;
}

export interface ServerTransaction {
  /**
   * The request that created the transaction. A non-INVITE transaction over an unreliable transport
   * lets go of it (undefined) once its final response is sent: for the 64*T1 it then lives it only
   * answers retransmissions (RFC 3261 §17.2.2), and keeping the parsed request that long costs
   * kilobytes per transaction under load. A TU that needs the request later keeps its own reference.
   */
  readonly request: SipRequest | undefined;
  readonly state: string;
  /** Where responses go (RFC 3261 §18.2.2, RFC 3581). */
  readonly target: SendTarget;
  readonly lastResponse?: SipResponse;
  /** Set by the TU to hear about the transaction's end. */
  events: ServerTransactionEvents;
  respond(res: SipResponse): void;
  /**
   * INVITE: send 100 Trying unless a response has been sent (RFC 3261 §17.2.1). The layer does not
   * send it when it creates the transaction; the TU calls this once it knows it will not answer at
   * once. Other methods: nothing.
   */
  sendTrying(): void;
  /** The TU answered statelessly (RFC 3261 §8.2.7): the transaction ends now, without timers. */
  discard(): void;
}

export interface ClientTransaction {
  readonly request: SipRequest;
  readonly state: string;
  readonly target: SendTarget;
  /**
   * Cancel an INVITE (§9.1): sent at once if a provisional response has arrived, otherwise
   * when the first one does; nothing happens once a final response has arrived. No-op for
   * non-INVITE requests, which §9.1 says should not be cancelled.
   */
  cancel(extraHeaders?: [string, string][]): void;
}

/** What every state machine gets from the layer. */
export interface TransactionContext {
  readonly send: SendFn;
  readonly clock: Clock;
  readonly timers: TimerConfig;
  readonly logger: Logger | undefined;
}
