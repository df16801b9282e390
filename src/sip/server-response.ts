// The response side of one incoming request (drachtio's `res`): final and provisional responses (reliable
// ones per RFC 3262), stateless answers, and the CANCEL/PRACK events of the request. It works through a
// ResponseHost — the stack — so that the dialog layer, which needs it, does not need the stack itself.
import type { Logger } from 'pino';
import type { HeaderEntry, SipRequest, SipResponse } from './message.js';
import type { SendTarget, TransportName } from './transport/types.js';
import type { ServerTransaction } from './transaction/types.js';
import { buildResponse, headerEntries, newTag, type HeaderInput } from './response-builder.js';
import { buildStatelessResponse } from './stateless.js';
import { wantsReliableProvisionals, type ReliableProvisionalPolicy, type ReliableProvisionalSender, type ReliableSenderOptions } from './reliable-provisional.js';
import type { AcceptedSessionTimer } from './session-timer.js';

/** What a ServerResponse needs of the stack. */
export interface ResponseHost {
  readonly logger: Logger;
  readonly reliableProvisionalPolicy: ReliableProvisionalPolicy;
  /** Put the configured Server header on a response (unless it has one). */
  stampServer(res: SipResponse): SipResponse;
  /** An INVITE got its final response: CANCEL can no longer apply to it. */
  forgetPending(tx: ServerTransaction): void;
  contactUri(transport: TransportName, remoteAddress?: string, user?: string): string;
  sendRaw(msg: SipRequest | SipResponse, target: SendTarget): void;
  /** The sender of one INVITE's reliable provisionals, registered so PRACKs find it. */
  startReliableProvisionals(res: ServerResponse, hooks: Pick<ReliableSenderOptions, 'transmit' | 'onGiveUp'> & { onPrack: (prack: SipRequest) => void }): ReliableProvisionalSender;
}

/** @internal Lets the dialog layer add headers to, and watch, the final response of a request. */
export interface FinalResponseHook {
  /** Add headers to the final response before it is built. */
  decorate?(status: number, headers: HeaderEntry[]): void;
  /** The final response has been handed to the transaction. */
  sent?(res: SipResponse): void;
}

export type RequestHandler = (req: SipRequest, res: ServerResponse) => void;

/** The response side of one incoming request (drachtio's `res`). */
export class ServerResponse {
  private finalSent = false;
  /** Anything at all went out for this request (a 100 Trying too): a stateless answer is then too late. */
  private anythingSent = false;
  private cancelHandlers: Array<() => void> = [];
  private prackHandlers: Array<(prack: SipRequest) => void> = [];
  private localFinalHandlers: Array<(res: SipResponse) => void> = [];
  private finalHooks: FinalResponseHook[] = [];
  private reliable: ReliableProvisionalSender | undefined;
  private reliability: boolean | undefined;
  /** To-tag used by every response to this request that needs one (one dialog per request). */
  readonly toTag = newTag();
  /** @internal RFC 4028 §9 outcome for this INVITE, worked out by the stack before dispatch. */
  sessionTimer: AcceptedSessionTimer | undefined;

  /** Until the transaction ends: the call keeps this object as long as it lasts, and must not keep
   * the transaction's INVITE, final response and timers with it (issue #13, memory per call). */
  private tx: ServerTransaction | undefined;

  constructor(
    private readonly stack: ResponseHost,
    readonly req: SipRequest,
    tx: ServerTransaction,
  ) {
    this.tx = tx;
  }

  /** @internal The transaction ended: nothing more goes out through it. */
  release(): void {
    if (this.tx) this.stack.forgetPending(this.tx);
    this.tx = undefined;
  }

  get finalResponseSent(): boolean {
    return this.finalSent;
  }

  /** @internal Whether any response has gone out for this request. */
  get responded(): boolean {
    return this.anythingSent;
  }

  /** True when this INVITE's 101–199 responses go out reliably (RFC 3262 §3). */
  get reliableProvisionals(): boolean {
    this.reliability ??= wantsReliableProvisionals(this.req, this.stack.reliableProvisionalPolicy);
    return this.reliability;
  }

  send(status: number, reason?: string, opts: { headers?: HeaderInput; body?: string | Buffer } = {}): SipResponse {
    if (status > 100 && status < 200 && this.reliableProvisionals) return this.sendReliable(status, reason, opts);
    if (status >= 200 && this.finalSent) throw new Error(`final response already sent for ${this.req.method} ${this.req.callId}`);
    let headers = opts.headers;
    if (status >= 200 && this.finalHooks.length > 0) {
      const entries = headerEntries(opts.headers);
      for (const hook of this.finalHooks) hook.decorate?.(status, entries);
      headers = entries;
    }
    const res = buildResponse(this.req, status, reason, { ...opts, headers, toTag: this.toTag });
    this.stack.stampServer(res);
    if (status >= 200) {
      this.finalSent = true;
      if (this.tx) this.stack.forgetPending(this.tx);
      this.reliable?.onFinalSent();
    }
    this.anythingSent = true;
    this.tx?.respond(res);
    if (status >= 200) {
      // Nothing more goes out through the transaction (a 2xx is retransmitted by the dialog layer).
      this.tx = undefined;
      for (const hook of this.finalHooks) hook.sent?.(res);
      this.dropHandlers();
    }
    return res;
  }

  /**
   * A final answer without a server transaction (RFC 3261 §8.2.7), for challenges and refusals of
   * out-of-dialog requests: no retransmissions, no Timer H/J, nothing kept; the transaction is
   * discarded at once. A retransmission of the request is answered afresh, and the ACK of a
   * non-2xx answer is absorbed by its To tag (stateless.ts). Only the first thing sent for a request
   * can be stateless: once a response has gone out, or the dialog layer is watching the request,
   * this sends through the transaction as send() does.
   */
  sendStateless(status: number, reason?: string, opts: { headers?: HeaderInput; body?: string | Buffer } = {}): SipResponse {
    // A 2xx to an INVITE makes a dialog and is retransmitted until ACKed: never stateless.
    const statefulOnly = status < 200 || (status < 300 && this.req.method === 'INVITE');
    if (statefulOnly || this.anythingSent || this.finalHooks.length > 0 || !this.tx) return this.send(status, reason, opts);
    const res = buildStatelessResponse(this.req, status, reason, opts);
    this.stack.stampServer(res);
    this.finalSent = true;
    this.anythingSent = true;
    // Discarding ends the transaction, which releases it from here.
    const tx = this.tx;
    this.stack.forgetPending(tx);
    tx.discard();
    this.stack.sendRaw(res, tx.target);
    return res;
  }

  /**
   * After the final response none of these can run again (a CANCEL no longer applies, the stack's own
   * 504 is moot, the hooks ran), but the INVITE transaction keeps this object through Timer L (32 s):
   * the handlers' closures would keep the caller's whole call that long (issue #13, GC cost per call).
   * PRACK handlers stay while reliable provisionals were sent: a PRACK may still be on its way.
   */
  private dropHandlers(): void {
    this.cancelHandlers = [];
    this.localFinalHandlers = [];
    this.finalHooks = [];
    if (!this.reliable) this.prackHandlers = [];
  }

  /** Called when the caller CANCELs this (INVITE) request before a final response. */
  onCancel(fn: () => void): void {
    this.cancelHandlers.push(fn);
  }

  /** Called when a PRACK acknowledges one of this INVITE's reliable provisionals (RFC 3262). */
  onPrack(fn: (prack: SipRequest) => void): void {
    this.prackHandlers.push(fn);
  }

  /**
   * Called when the stack itself sent the final response — RFC 3262 §3: no PRACK came for a
   * reliable provisional within 64*T1, so the INVITE was rejected with 504.
   */
  onLocalFinal(fn: (res: SipResponse) => void): void {
    this.localFinalHandlers.push(fn);
  }

  /** @internal A CANCEL matched this pending INVITE (RFC 3261 §9.2): 487 to it, then the handlers. */
  cancelled(): void {
    const handlers = this.cancelHandlers;
    this.cancelHandlers = [];
    this.send(487);
    for (const fn of handlers) fn();
  }

  /** @internal */
  addFinalHook(hook: FinalResponseHook): void {
    this.finalHooks.push(hook);
  }

  /** RFC 3262 §3: Require: 100rel and RSeq, plus the Contact and Record-Route of the early dialog. */
  private sendReliable(status: number, reason: string | undefined, opts: { headers?: HeaderInput; body?: string | Buffer }): SipResponse {
    const headers = headerEntries(opts.headers);
    if (!headers.some(([k]) => k === 'contact') && this.req.source) {
      headers.push(['contact', `<${this.stack.contactUri(this.req.source.transport, this.req.source.address)}>`]);
    }
    // RFC 3261 §12.1.1: a response that makes a dialog (early here) copies the Record-Route.
    if (!headers.some(([k]) => k === 'record-route')) for (const rr of this.req.getAll('record-route')) headers.push(['record-route', rr]);
    const res = buildResponse(this.req, status, reason, { ...opts, headers, toTag: this.toTag });
    this.stack.stampServer(res);
    // After the final response a provisional means nothing (the transaction would drop it anyway).
    if (this.finalSent) return res;
    this.anythingSent = true;
    this.reliable ??= this.stack.startReliableProvisionals(this, {
      transmit: (r) => this.tx?.respond(r),
      onGiveUp: () => this.giveUp(),
      onPrack: (prack) => {
        for (const fn of this.prackHandlers) this.guard(() => fn(prack), 'PRACK handler failed');
      },
    });
    this.reliable.send(res);
    return res;
  }

  private giveUp(): void {
    if (this.finalSent) return;
    this.stack.logger.info({ callId: this.req.callId }, 'no PRACK for a reliable provisional; rejecting the INVITE');
    const handlers = this.localFinalHandlers;
    this.localFinalHandlers = [];
    const res = this.send(504, 'No PRACK Received');
    for (const fn of handlers) this.guard(() => fn(res), 'local-final handler failed');
  }

  // These handlers run from timers and network callbacks, where a throw must not escape.
  private guard(fn: () => void, msg: string): void {
    try {
      fn();
    } catch (err) {
      this.stack.logger.error({ err, callId: this.req.callId }, msg);
    }
  }
}
