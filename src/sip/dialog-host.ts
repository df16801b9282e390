// What dialogs and the dialog layer need of the stack, as an interface: they are made by the stack and
// send through it, and depending on this instead of SipStack keeps the stack → dialog layer → dialog
// imports one-way.
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.js';
import type { SipRequest, SipResponse } from './message.js';
import type { HeaderInput } from './response-builder.js';
import type { SessionTimerConfig } from './session-timer.js';
import type { ClientTransaction } from './transaction/types.js';
import type { TimerConfig } from './transaction/timers.js';
import type { Retainer } from './transport/connection-holds.js';
import type { SendTarget, TransportName } from './transport/types.js';

export interface RequestOptions {
  method: string;
  uri: string;
  headers?: HeaderInput;
  body?: string | Buffer;
  /** Explicit destination (e.g. a registered contact's flow); otherwise resolved from the URI. */
  target?: SendTarget;
  from?: string;
  to?: string;
  callId?: string;
  cseq?: number;
}

/** Handlers of an out-of-dialog or in-dialog request's client transaction. */
export interface RequestHandlers {
  onProvisional?: (res: SipResponse) => void;
  onFinal: (res: SipResponse) => void;
  onAdditional2xx?: (res: SipResponse) => void;
}

/** `D` is the dialog type (the host keeps them in its dialog index); left open so this file names no dialog. */
export interface DialogHost<D> {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly timers: TimerConfig;
  /** RFC 4028 settings; undefined when session timers are off. */
  readonly sessionTimerConfig: SessionTimerConfig | undefined;
  readonly allowHeader: string;
  /** Keeps the connection a dialog runs over open while the dialog lives. */
  readonly transport: Retainer;
  /** Where dialogs are found by their identifiers (a dialog leaves it when it ends). */
  readonly dialogs: { add(d: D): void; remove(d: D): void };
  contactUri(transport: TransportName, remoteAddress?: string, user?: string): string;
  buildRequest(opts: RequestOptions): SipRequest;
  sendRequest(req: SipRequest, target: SendTarget, handlers: RequestHandlers): ClientTransaction;
  /** Send a message outside any transaction (ACK for 2xx, 2xx retransmissions). */
  sendRaw(msg: SipRequest | SipResponse, target: SendTarget): void;
  /** Put a new top Via for the target's transport. */
  stampVia(req: SipRequest, target: SendTarget): void;
}
