// One SIP dialog (RFC 3261 §12) with a drachtio-srf-like surface:
// request()/modify()/destroy() and events 'destroy', 'modify', 'info', 'refer', 'notify', 'update', 'message', 'ack',
// 'subscribe' (a refresh or end of a subscription this dialog carries, RFC 6665),
// plus 'refresh' after each RFC 4028 session refresh.
import { CompactEmitter } from '../util/compact-emitter.js';
import { SipRequest, WireRequest, type HeaderEntry, type SipResponse } from './message.js';
import type { SendTarget } from './transport/types.js';
import type { DialogHost } from './dialog-host.js';
import type { ServerResponse } from './server-response.js';
import { headerEntries, type HeaderInput } from './response-builder.js';
import { parseUri } from './uri.js';
import { resolveTarget } from './target.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { parseMinSE, SESSION_EXPIRED_REASON, maxSessionExpires, SessionTimer, sessionTimerFromAnswer, sessionTimerRequestHeaders } from './session-timer.js';

export type DialogRole = 'uas' | 'uac';
export type DialogState = 'early' | 'confirmed' | 'terminated';

export interface DialogInit {
  role: DialogRole;
  callId: string;
  localTag: string;
  remoteTag: string;
  /** Local party as a header value (From for UAC, To for UAS), including our tag. */
  localAddress: string;
  remoteAddress: string;
  remoteTarget: string;
  routeSet: string[];
  localSeq: number;
  remoteSeq: number;
  flow: SendTarget;
  localSdp?: string;
  remoteSdp?: string;
}

export interface DialogRequestOptions {
  method: string;
  headers?: HeaderInput;
  body?: string | Buffer;
}

/**
 * Why a dialog ended, as the second argument of 'destroy': a BYE arrived (the first argument), our
 * 2xx was never ACKed, no session refresh came in time (RFC 4028 §10), or an in-dialog request was
 * answered 408/481 (RFC 3261 §12.2.1.2).
 */
export type DestroyCause = 'bye' | 'ack-timeout' | 'session-expired' | 'remote-gone';

/** Which side sent a session refresh (RFC 4028). */
export type RefreshBy = 'local' | 'remote';

/** The events of a dialog and their arguments. */
type InDialogRequest = [req: SipRequest, res: ServerResponse];
export interface DialogEvents {
  destroy: [req: SipRequest | undefined, cause?: DestroyCause];
  refresh: [by: RefreshBy];
  modify: InDialogRequest;
  update: InDialogRequest;
  info: InDialogRequest;
  refer: InDialogRequest;
  notify: InDialogRequest;
  message: InDialogRequest;
  options: InDialogRequest;
  subscribe: InDialogRequest;
  ack: [req: SipRequest];
}

export class Dialog extends CompactEmitter<DialogEvents> {
  readonly role: DialogRole;
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly localAddress: string;
  readonly remoteAddress: string;
  remoteTarget: string;
  readonly routeSet: string[];
  localSeq: number;
  remoteSeq: number;
  /** Where in-dialog requests go when there is no route set: the flow the dialog was made over. */
  flow: SendTarget;
  state: DialogState = 'confirmed';
  readonly local: { sdp: string | undefined };
  readonly remote: { sdp: string | undefined };
  /** @internal 2xx awaiting ACK (UAS) — retransmitted per RFC 3261 §13.3.1.4. */
  pending2xx: { res: SipResponse; cseq: number; timer?: TimerHandle; interval: number; deadline: number } | undefined;
  /** @internal last ACK we sent for our INVITE 2xx (UAC), re-sent on 2xx retransmissions. */
  /** The ACK of our INVITE's 2xx as sent (for that 2xx's retransmissions); `ack` is unset until it went out. */
  lastAck: { cseq: number; ack: WireRequest | undefined } | undefined;
  /** @internal RFC 4028 session timer, when one was negotiated. */
  sessionTimer: SessionTimer | undefined;
  /** A re-INVITE/UPDATE of ours is awaiting its final response. */
  private offerInFlight = false;
  /** The refresh timer fired while offerInFlight; refresh when that transaction fails. */
  private refreshWanted = false;

  constructor(
    private readonly stack: DialogHost<Dialog>,
    init: DialogInit,
  ) {
    super();
    this.role = init.role;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localAddress = init.localAddress;
    this.remoteAddress = init.remoteAddress;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.flow = init.flow;
    this.local = { sdp: init.localSdp };
    this.remote = { sdp: init.remoteSdp };
  }

  get id(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  get sip(): { callId: string; localTag: string; remoteTag: string } {
    return { callId: this.callId, localTag: this.localTag, remoteTag: this.remoteTag };
  }

  /** The negotiated session timer (RFC 4028): interval in seconds and who refreshes; undefined when none. */
  get session(): { interval: number; refresher: RefreshBy } | undefined {
    const st = this.sessionTimer?.state;
    return st ? { interval: st.interval, refresher: st.localRefresher ? 'local' : 'remote' } : undefined;
  }

  /** Build an in-dialog request (RFC 3261 §12.2.1.1). */
  buildRequest(opts: DialogRequestOptions, cseq?: number): SipRequest {
    const method = opts.method.toUpperCase();
    const seq = cseq ?? (method === 'ACK' || method === 'CANCEL' ? this.localSeq : ++this.localSeq);
    const req = new SipRequest(method, this.remoteTarget);
    req.set('from', this.localAddress);
    req.set('to', this.remoteAddress);
    req.set('call-id', this.callId);
    req.set('cseq', `${seq} ${method}`);
    for (const r of this.routeSet) req.add('route', r);
    for (const [k, v] of headerEntries(opts.headers)) req.add(k, v);
    if (opts.body !== undefined) req.body = typeof opts.body === 'string' ? Buffer.from(opts.body, 'utf8') : opts.body;
    return req;
  }

  /** Where in-dialog requests are sent: the first loose route, else the dialog's flow. */
  async nextHop(): Promise<SendTarget> {
    const first = this.routeSet[0];
    if (first) {
      const m = /<([^>]+)>/.exec(first);
      const uri = parseUri(m ? (m[1] as string) : first);
      if (uri) return resolveTarget(uri);
    }
    return this.flow;
  }

  /** Send an in-dialog request and resolve with its final response. */
  async request(opts: DialogRequestOptions): Promise<SipResponse> {
    if (this.state === 'terminated' && opts.method.toUpperCase() !== 'BYE') {
      throw new Error(`dialog ${this.callId} is terminated`);
    }
    const req = this.buildRequest(opts);
    const target = await this.nextHop();
    const res = await new Promise<SipResponse>((resolve) => {
      this.stack.sendRequest(req, target, { onFinal: resolve, onAdditional2xx: (r) => this.sendAck(r) });
    });
    if (req.method === 'INVITE' && res.status >= 200 && res.status < 300) this.sendAck(res);
    if (res.status === 481 || res.status === 408) {
      // RFC 3261 §12.2.1.2: the dialog is gone at the far end.
      if (req.method !== 'BYE') this.terminate(undefined, true, 'remote-gone');
    }
    return res;
  }

  /** Re-INVITE with a new offer (hold/resume, codec change). */
  async modify(sdp: string): Promise<SipResponse> {
    return this.offer(sdp, false);
  }

  /** @internal (Re)start the session timer: interval in seconds, and the side that refreshes. */
  armSessionTimer(interval: number, refresher: RefreshBy): void {
    if (this.state === 'terminated') return;
    this.sessionTimer ??= new SessionTimer(this.stack.clock, {
      refresh: () => void this.refreshSession(),
      expire: () => this.expireSession(),
    });
    this.sessionTimer.arm(interval, refresher === 'local');
  }

  /** @internal */
  stopSessionTimer(): void {
    this.sessionTimer?.stop();
  }

  /**
   * Send a re-INVITE (or, without SDP, an UPDATE). While a session timer runs every such request is
   * a session refresh (RFC 4028 §7.4, §10) that carries Session-Expires and keeps the refresher.
   */
  private async offer(sdp: string | undefined, isRefresh: boolean, peerMinSE?: number): Promise<SipResponse> {
    const headers: HeaderEntry[] = [['contact', `<${this.stack.contactUri(this.flow.transport, this.flow.address)}>`]];
    if (sdp !== undefined) headers.push(['content-type', 'application/sdp']);
    const cfg = this.stack.sessionTimerConfig;
    const running = cfg ? this.sessionTimer?.state : undefined;
    let interval = 0;
    if (cfg && running) {
      const floor = Math.max(cfg.minSE, peerMinSE ?? 0);
      interval = Math.max(running.interval, floor);
      headers.push(['supported', 'timer'], ...sessionTimerRequestHeaders(interval, floor, running.localRefresher ? 'uac' : 'uas'));
    }
    this.offerInFlight = true;
    let res: SipResponse;
    try {
      res = await this.request({ method: sdp !== undefined ? 'INVITE' : 'UPDATE', body: sdp, headers });
    } finally {
      this.offerInFlight = false;
    }
    const ok = res.status >= 200 && res.status < 300;
    if (ok) {
      if (sdp !== undefined) this.local.sdp = sdp;
      if (res.body.length > 0) this.remote.sdp = res.body.toString('utf8');
      if (running && cfg) this.applyRefreshAnswer(res, running, maxSessionExpires(cfg));
    } else if (res.status === 422 && cfg && running && peerMinSE === undefined) {
      // RFC 4028 §7.4: retry once with the peer's larger minimum — unless it is above the most we run.
      const theirs = parseMinSE(res.get('min-se'));
      if (theirs !== undefined && theirs > interval && theirs <= maxSessionExpires(cfg)) return this.offer(sdp, isRefresh, theirs);
    } else if (isRefresh && (res.status === 408 || res.status === 481) && this.state === 'terminated') {
      // RFC 4028 §10: a refresh answered 408/481 means the session is gone: BYE it (request() already ended the dialog).
      this.request({ method: 'BYE', headers: { reason: SESSION_EXPIRED_REASON } }).catch((err: Error) => this.stack.logger.debug({ callId: this.callId, err: err.message }, 'BYE not sent'));
    }
    if (this.refreshWanted) {
      this.refreshWanted = false;
      if (!ok) void this.refreshSession();
    }
    return res;
  }

  /** RFC 4028 §7.4: the 2xx to our refresh sets the next interval and refresher. */
  private applyRefreshAnswer(res: SipResponse, before: { interval: number; localRefresher: boolean }, maxInterval: number): void {
    const st = sessionTimerFromAnswer(res, maxInterval);
    if (st) this.armSessionTimer(st.interval, st.refresher === 'uac' ? 'local' : 'remote');
    // A peer without timer support never echoes Session-Expires; as refresher we keep refreshing.
    else if (before.localRefresher) this.armSessionTimer(before.interval, 'local');
    // §7.4: otherwise a 2xx without Session-Expires ends the session timer.
    else this.stopSessionTimer();
    try {
      this.emit('refresh', 'local');
    } catch (err) {
      this.stack.logger.error({ err, callId: this.callId }, 'refresh listener failed');
    }
  }

  private async refreshSession(): Promise<void> {
    if (this.state === 'terminated') return;
    if (this.offerInFlight) {
      this.refreshWanted = true;
      return;
    }
    try {
      // The unchanged session description (same o= version) refreshes without changing the session.
      await this.offer(this.local.sdp, true);
    } catch (err) {
      this.stack.logger.debug({ callId: this.callId, err: (err as Error).message }, 'session refresh not sent');
    }
  }

  /** RFC 4028 §10: no refresh in time — BYE with a Reason, and tell the application. */
  private expireSession(): void {
    if (this.state === 'terminated') return;
    this.stack.logger.info({ callId: this.callId }, 'session timer expired; ending dialog');
    this.terminate(undefined, false, undefined, false);
    this.request({ method: 'BYE', headers: { reason: SESSION_EXPIRED_REASON } }).catch((err: Error) => this.stack.logger.debug({ callId: this.callId, err: err.message }, 'BYE not sent'));
    try {
      this.emit('destroy', undefined, 'session-expired');
    } catch (err) {
      this.stack.logger.error({ err, callId: this.callId }, 'destroy listener failed');
    } finally {
      this.removeAllListeners();
    }
  }

  /** Send BYE and end the dialog. */
  async destroy(opts: { headers?: HeaderInput } = {}): Promise<void> {
    if (this.state === 'terminated') return;
    this.terminate(undefined, false);
    try {
      await this.request({ method: 'BYE', headers: opts.headers });
    } catch (err) {
      this.stack.logger.debug({ callId: this.callId, err: (err as Error).message }, 'BYE not sent');
    }
  }

  /** @internal ACK a 2xx to our INVITE (RFC 3261 §13.2.2.4): new branch, same CSeq number. */
  sendAck(res: SipResponse): void {
    const cseq = res.cseq?.seq ?? this.localSeq;
    if (!this.lastAck || this.lastAck.cseq !== cseq) {
      const ack = this.buildRequest({ method: 'ACK' }, cseq);
      const kept: { cseq: number; ack: WireRequest | undefined } = { cseq, ack: undefined };
      this.lastAck = kept;
      // stampVia throws when no listener serves the target's transport: still only "ACK not sent".
      this.nextHop()
        .then((target) => {
          this.stack.stampVia(ack, target);
          ack.set('max-forwards', 70);
          // Serialized once: what is sent is what is kept for retransmitted 2xx.
          kept.ack = new WireRequest('ACK', ack.uri, ack.toBuffer().toString('latin1'));
          this.stack.sendRaw(kept.ack, target);
          forgetAckLater(this.stack.clock, 64 * this.stack.timers.t1, kept);
        })
        .catch((err: Error) => this.stack.logger.debug({ callId: this.callId, err: err.message }, 'ACK not sent'));
      return;
    }
    const ack = this.lastAck.ack;
    if (ack) {
      this.nextHop()
        .then((t) => this.stack.sendRaw(ack, t))
        .catch((err: Error) => this.stack.logger.debug({ callId: this.callId, err: err.message }, 'ACK not re-sent'));
    }
  }

  /**
   * @internal Once terminated (and its 'destroy' told) the dialog lets go of its listeners: nothing is
   * emitted after that, and the transactions that outlive the dialog for 64*T1 (Timer L/M/J) keep it
   * reachable, which would keep the listeners' call, legs and sessions on the heap for those 32 s.
   * `release` false: the caller emits 'destroy' itself and lets go after it.
   */
  terminate(req: SipRequest | undefined, emit = true, cause?: DestroyCause, release = true): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.pending2xx?.timer?.cancel();
    this.pending2xx = undefined;
    this.sessionTimer?.stop();
    this.stack.dialogs.remove(this);
    try {
      if (emit) this.emit('destroy', req, cause ?? (req ? 'bye' : undefined));
    } finally {
      if (release) this.removeAllListeners();
    }
  }
}

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\n${localTag}\n${remoteTag}`;
}

/**
 * The 2xx is retransmitted for at most 64*T1 (RFC 3261 §13.3.1.4); a call lasts longer, and keeping its
 * ACK's bytes all along was ~500 B of every call held. A 2xx after that gets a new ACK built (the kept
 * CSeq no longer matches). Made here, outside the dialog's methods, so that the timer holds the kept ACK
 * and not the dialog (a closure shares its scope's context, which would keep a finished call for 32 s).
 */
function forgetAckLater(clock: Clock, ms: number, kept: { cseq: number; ack: WireRequest | undefined }): void {
  clock.setTimer(ms, () => {
    kept.ack = undefined;
    kept.cseq = -1;
  });
}
