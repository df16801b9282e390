// Dialog creation and in-dialog request routing (RFC 3261 §12–§15), with reliable provisionals and
// PRACK (RFC 3262) and session timers (RFC 4028) on top.
import { ownString } from './strings.js';
import type { SipRequest, SipResponse } from './message.js';
import type { DialogHost } from './dialog-host.js';
import type { ServerResponse } from './server-response.js';
import { Dialog, dialogKey, type RefreshBy } from './dialog.js';
import { headerEntries, type HeaderInput } from './response-builder.js';
import { parseUri } from './uri.js';
import { contactUriText, uacDialogInit, uasDialogInit } from './dialog-init.js';
import { inviteHeaders, nextInviteAttempt } from './invite-request.js';
import { resolveTarget } from './target.js';
import type { SendTarget } from './transport/types.js';
import { ConnectionHolds } from './transport/connection-holds.js';
import type { ClientTransaction } from './transaction/layer.js';
import { buildAuthorization } from './digest.js';
import { ProvisionalAcknowledger, ReliableProvisionalSender, type ReliableSenderOptions } from './reliable-provisional.js';
import { maxSessionExpires, negotiateAsUas, parseMinSE, parseSessionExpires, sessionTimerFromAnswer, sessionTimerResponseHeaders } from './session-timer.js';

export interface UasOptions {
  localSdp?: string;
  headers?: HeaderInput;
}

export interface UacOptions {
  uri: string;
  localSdp?: string;
  headers?: HeaderInput;
  from?: string;
  to?: string;
  callId?: string;
  /** Explicit destination (e.g. a registered contact's flow). */
  target?: SendTarget;
  onProvisional?: (res: SipResponse) => void;
  /** Receives a handle that can CANCEL the INVITE before a final response (again after an auth retry). */
  onRequestSent?: (handle: { cancel: () => void; request: SipRequest }) => void;
  /** Credentials to answer one 401/407 challenge with (trunks). */
  auth?: { username: string; password: string };
}

export class UacError extends Error {
  constructor(readonly response: SipResponse) {
    super(`INVITE failed: ${response.status} ${response.reason}`);
  }
  get status(): number {
    return this.response.status;
  }
}

const IN_DIALOG_EVENTS: Record<string, 'modify' | 'update' | 'info' | 'refer' | 'notify' | 'message' | 'options' | 'subscribe'> = {
  INVITE: 'modify',
  UPDATE: 'update',
  INFO: 'info',
  REFER: 'refer',
  NOTIFY: 'notify',
  MESSAGE: 'message',
  OPTIONS: 'options',
  SUBSCRIBE: 'subscribe',
};

/** Option tags every INVITE we send advertises (RFC 3262 §4; RFC 4028 §7.1 when timers are on). */
export class DialogLayer {
  private dialogs = new Map<string, Dialog>();
  /** Each confirmed dialog keeps the connection it was made over open until it ends. */
  private readonly flows: ConnectionHolds<Dialog>;
  /** UAS early dialogs with reliable provisionals, by Call-ID + our tag: where PRACKs go (RFC 3262 §3). */
  private early = new Map<string, { sender: ReliableProvisionalSender; onPrack: (prack: SipRequest) => void }>();

  constructor(private readonly stack: DialogHost<Dialog>) {
    this.flows = new ConnectionHolds(stack.transport, 'dialog');
  }

  get size(): number {
    return this.dialogs.size;
  }

  /** Early dialogs still holding reliable provisionals. */
  get earlySize(): number {
    return this.early.size;
  }

  remove(d: Dialog): void {
    // An early-dialog stand-in (PRACK sender) shares the id of the confirmed dialog: remove only itself.
    if (this.dialogs.get(d.id) === d) this.dialogs.delete(d.id);
    this.flows.delete(d);
  }

  /** @internal Track a dialog (also one restored from a snapshot after a restart), holding its connection open. */
  add(d: Dialog): void {
    this.dialogs.set(d.id, d);
    this.flows.set(d, d.flow.connectionId);
  }

  stop(): void {
    for (const d of this.dialogs.values()) {
      d.pending2xx?.timer?.cancel();
      d.stopSessionTimer();
    }
    this.dialogs.clear();
    this.flows.clear();
    for (const { sender } of this.early.values()) sender.dispose();
    this.early.clear();
  }

  /** @internal The sender of one INVITE's reliable provisionals, registered so PRACKs find it. */
  startReliableProvisionals(res: ServerResponse, hooks: Pick<ReliableSenderOptions, 'transmit' | 'onGiveUp'> & { onPrack: (prack: SipRequest) => void }): ReliableProvisionalSender {
    const key = earlyKey(res.req.callId, res.toTag);
    const sender: ReliableProvisionalSender = new ReliableProvisionalSender({
      transmit: hooks.transmit,
      onGiveUp: hooks.onGiveUp,
      clock: this.stack.clock,
      t1: this.stack.timers.t1,
      inviteCSeq: res.req.cseq?.seq ?? 0,
      onDone: () => {
        if (this.early.get(key)?.sender === sender) this.early.delete(key);
      },
    });
    this.early.set(key, { sender, onPrack: hooks.onPrack });
    return sender;
  }

  /** RFC 3262 §3: a PRACK matching an unacknowledged reliable provisional gets 200, anything else 481. */
  private onPrack(req: SipRequest, res: ServerResponse): void {
    const entry = this.early.get(earlyKey(req.callId, req.toTag ?? ''));
    if (!entry || !entry.sender.receivePrack(req)) {
      res.send(481);
      return;
    }
    res.send(200);
    const d = this.find(req.callId, req.toTag ?? '', req.fromTag ?? '');
    const seq = req.cseq?.seq ?? 0;
    if (d && seq > d.remoteSeq) d.remoteSeq = seq;
    // After our 200, so an application answering the INVITE on PRACK sends its 2xx second.
    entry.onPrack(req);
  }

  find(callId: string, localTag: string, remoteTag: string): Dialog | undefined {
    return this.dialogs.get(dialogKey(callId, localTag, remoteTag));
  }

  /** Whether an in-dialog request belongs to a dialog, or to an early dialog awaiting PRACKs, that exists. */
  knows(req: SipRequest): boolean {
    const localTag = req.toTag ?? '';
    return this.find(req.callId, localTag, req.fromTag ?? '') !== undefined || this.early.has(earlyKey(req.callId, localTag));
  }

  /** Answer an INVITE with 2xx and return the confirmed dialog (drachtio's createUAS). */
  createUAS(req: SipRequest, res: ServerResponse, opts: UasOptions = {}): Dialog {
    if (!req.source) throw new Error('request has no source');
    const headers = headerEntries(opts.headers);
    if (!headers.some(([k]) => k === 'contact')) {
      headers.push(['contact', `<${this.stack.contactUri(req.source.transport, req.source.address)}>`]);
    }
    if (opts.localSdp !== undefined) headers.push(['content-type', 'application/sdp']);
    // RFC 3261 §12.1.1: the dialog-making 2xx copies the Record-Route of the request.
    if (!headers.some(([k]) => k === 'record-route')) for (const rr of req.getAll('record-route')) headers.push(['record-route', rr]);
    const st = res.sessionTimer;
    if (st && !headers.some(([k]) => k === 'session-expires')) headers.push(...sessionTimerResponseHeaders(st));
    const ok = res.send(200, undefined, { headers, body: opts.localSdp });
    const remoteContact = req.contacts?.[0];
    const remoteTarget = ownString(remoteContact && !remoteContact.wildcard ? contactUriText(req.get('contact') as string) : req.uri);
    const d = new Dialog(this.stack, {
      ...uasDialogInit(req, res, ok),
      remoteTarget,
      localSdp: opts.localSdp,
      remoteSdp: req.body.length > 0 ? req.body.toString('utf8') : undefined,
    });
    this.add(d);
    this.startRetransmit2xx(d, ok, req.cseq?.seq ?? 0);
    // RFC 4028 §9: refresher 'uac' is the caller, i.e. the remote side of this dialog.
    if (st) d.armSessionTimer(st.interval, st.refresher === 'uas' ? 'local' : 'remote');
    return d;
  }

  /**
   * Accept a SUBSCRIBE with 200 and return the notifier's dialog (RFC 6665 §4.2.1, §4.3). Unlike an
   * INVITE dialog there is no ACK and no 2xx retransmission: the dialog is confirmed by this answer.
   * `headers` carries Expires (and anything else the event package adds). The caller checked that the
   * request has a Contact.
   */
  createNotifierDialog(req: SipRequest, res: ServerResponse, opts: { headers?: HeaderInput } = {}): Dialog {
    if (!req.source) throw new Error('request has no source');
    const headers = headerEntries(opts.headers);
    if (!headers.some(([k]) => k === 'contact')) headers.push(['contact', `<${this.stack.contactUri(req.source.transport, req.source.address)}>`]);
    // RFC 3261 §12.1.1, which RFC 6665 §4.3 applies to subscription dialogs: the 2xx copies Record-Route.
    if (!headers.some(([k]) => k === 'record-route')) for (const rr of req.getAll('record-route')) headers.push(['record-route', rr]);
    const ok = res.send(200, undefined, { headers });
    const d = new Dialog(this.stack, { ...uasDialogInit(req, res, ok), remoteTarget: ownString(contactUriText(req.get('contact') as string)) });
    this.add(d);
    return d;
  }

  /** Send an INVITE and resolve with the confirmed dialog on 2xx; rejects with UacError otherwise. */
  createUAC(opts: UacOptions): Promise<Dialog> {
    const stack = this.stack;
    const cfg = stack.sessionTimerConfig;
    return (async () => {
      const uri = parseUri(opts.uri);
      if (!uri) throw new Error(`bad URI ${opts.uri}`);
      const target = opts.target ?? (await resolveTarget(uri));
      const headers = inviteHeaders(opts.headers, `<${stack.contactUri(target.transport, target.address)}>`, opts.localSdp !== undefined, cfg);
      const req = stack.buildRequest({
        method: 'INVITE',
        uri: opts.uri,
        headers,
        body: opts.localSdp,
        from: opts.from,
        to: opts.to,
        callId: opts.callId,
        cseq: 1,
      });
      return new Promise<Dialog>((resolve, reject) => {
        let dialog: Dialog | undefined;
        // The dialog the 2xx made, for the handler of further 2xx (which outlives this scope by 32 s).
        const answered: { dialog?: Dialog } = {};
        let cancelled = false;
        let authRetried = false;
        let intervalRetried = false;
        // The highest CSeq used in this INVITE's (early) dialogs: retries and PRACKs take the next one.
        let cseq = req.cseq?.seq ?? 1;
        /** RFC 3261 §22.2 / RFC 4028 §7.4 retries: same Call-ID, From tag and target, next CSeq, new branch. */
        const retry = (invite: SipRequest, amend: (again: SipRequest) => void): void => {
          const again = nextInviteAttempt(stack, invite, ++cseq);
          amend(again);
          send(again);
        };
        const send = (invite: SipRequest): void => {
          const acknowledger = new ProvisionalAcknowledger();
          const tx: ClientTransaction = stack.sendRequest(invite, target, {
            onProvisional: (r) => {
              const disposition = acknowledger.classify(r);
              if (disposition.kind === 'discard') return;
              if (disposition.kind === 'prack') cseq = this.sendPrack(invite, r, target, cseq, disposition.rack);
              opts.onProvisional?.(r);
            },
            onFinal: (r) => {
              if (r.status >= 200 && r.status < 300) {
                dialog = this.uacDialog(invite, r, target, opts.localSdp, cseq);
                answered.dialog = dialog;
                dialog.sendAck(r);
                const st = cfg ? sessionTimerFromAnswer(r, maxSessionExpires(cfg)) : undefined;
                // RFC 4028 §7.4: the 2xx decides; without Session-Expires there is no session timer.
                if (st) dialog.armSessionTimer(st.interval, st.refresher === 'uac' ? 'local' : 'remote');
                resolve(dialog);
                return;
              }
              const challenge = r.status === 401 ? r.get('www-authenticate') : r.status === 407 ? r.get('proxy-authenticate') : undefined;
              if (challenge && opts.auth && !authRetried && !cancelled) {
                authRetried = true;
                const auth = opts.auth;
                retry(invite, (again) => {
                  again.remove('authorization');
                  again.remove('proxy-authorization');
                  again.add(r.status === 401 ? 'authorization' : 'proxy-authorization', buildAuthorization(challenge, auth, 'INVITE', invite.uri));
                });
                return;
              }
              if (r.status === 422 && !intervalRetried && !cancelled) {
                const theirMin = parseMinSE(r.get('min-se'));
                const ours = parseSessionExpires(invite.get('session-expires'));
                // A peer minimum above the most we run is refused rather than agreed to.
                if (theirMin !== undefined && ours && theirMin > ours.interval && (!cfg || theirMin <= maxSessionExpires(cfg))) {
                  // RFC 4028 §7.4: retry with Session-Expires and Min-SE raised to the peer's minimum.
                  intervalRetried = true;
                  retry(invite, (again) => {
                    again.set('session-expires', ours.refresher ? `${theirMin};refresher=${ours.refresher}` : String(theirMin));
                    again.set('min-se', String(theirMin));
                  });
                  return;
                }
              }
              reject(new UacError(r));
            },
            onAdditional2xx: this.additional2xx(invite, target, answered),
          });
          opts.onRequestSent?.({
            cancel: () => {
              cancelled = true;
              tx.cancel();
            },
            request: invite,
          });
        };
        send(req);
      });
    })();
  }

  /**
   * RFC 6026 §8.4: a further 2xx to our INVITE — a retransmission is ACKed again, another fork's is ACKed
   * and hung up. Built apart from the INVITE's other handlers so that, kept by the transaction through
   * Timer M, it keeps only the request, its target and the dialog, not the caller's whole call.
   */
  private additional2xx(invite: SipRequest, target: SendTarget, answered: { dialog?: Dialog }): (r: SipResponse) => void {
    return (r) => {
      const dialog = answered.dialog;
      if (dialog && r.toTag === dialog.remoteTag) dialog.sendAck(r);
      else this.ackAndBye(invite, r, target);
    };
  }

  /**
   * RFC 3262 §4: PRACK a reliable provisional inside its early dialog (Request-URI from its Contact,
   * route set from its Record-Route, next CSeq). Returns the CSeq number used.
   */
  private sendPrack(invite: SipRequest, provisional: SipResponse, target: SendTarget, cseq: number, rack: string): number {
    const early = this.earlyUacDialog(invite, provisional, target, cseq);
    early.request({ method: 'PRACK', headers: { rack } }).then(
      (res) => {
        if (res.status >= 300) this.stack.logger.debug({ callId: invite.callId, status: res.status }, 'PRACK refused');
      },
      (err: Error) => this.stack.logger.debug({ callId: invite.callId, err: err.message }, 'PRACK not sent'),
    );
    // buildRequest ran synchronously inside request(), so localSeq is already the PRACK's CSeq.
    return early.localSeq;
  }

  /** A stand-in for the early dialog a provisional made (never registered: only its request building is used). */
  private earlyUacDialog(req: SipRequest, res: SipResponse, target: SendTarget, localSeq: number): Dialog {
    const d = this.uacDialogObject(req, res, target, undefined, localSeq);
    d.state = 'early';
    return d;
  }

  private uacDialog(req: SipRequest, res: SipResponse, target: SendTarget, localSdp: string | undefined, localSeq?: number): Dialog {
    const d = this.uacDialogObject(req, res, target, localSdp, localSeq);
    this.add(d);
    return d;
  }

  private uacDialogObject(req: SipRequest, res: SipResponse, target: SendTarget, localSdp: string | undefined, localSeq?: number): Dialog {
    return new Dialog(this.stack, uacDialogInit(req, res, target, localSdp, localSeq));
  }

  /** A 2xx from a fork we did not keep: ACK it and hang it up (RFC 3261 §13.2.2.4). */
  private ackAndBye(req: SipRequest, res: SipResponse, target: SendTarget): void {
    const d = this.uacDialog(req, res, target, undefined);
    d.sendAck(res);
    void d.destroy();
  }

  private startRetransmit2xx(d: Dialog, res: SipResponse, cseq: number): void {
    const { t1, t2 } = this.stack.timers;
    if (d.flow.transport !== 'udp') {
      // Reliable transports: no retransmission, but the ACK must still arrive within 64*T1.
      d.pending2xx = { res, cseq, interval: 0, deadline: this.stack.clock.monotonic() + 64 * t1 };
      d.pending2xx.timer = this.stack.clock.setTimer(64 * t1, () => this.ackTimeout(d));
      return;
    }
    const state: NonNullable<Dialog['pending2xx']> = { res, cseq, interval: t1, deadline: this.stack.clock.monotonic() + 64 * t1 };
    d.pending2xx = state;
    const tick = (): void => {
      if (d.pending2xx !== state) return;
      if (this.stack.clock.monotonic() >= state.deadline) {
        this.ackTimeout(d);
        return;
      }
      this.stack.sendRaw(state.res, d.flow);
      state.interval = Math.min(state.interval * 2, t2);
      state.timer = this.stack.clock.setTimer(state.interval, tick);
    };
    state.timer = this.stack.clock.setTimer(t1, tick);
  }

  private ackTimeout(d: Dialog): void {
    // RFC 3261 §13.3.1.4: no ACK for our 2xx → the session is not established; end it with BYE.
    d.pending2xx = undefined;
    this.stack.logger.info({ callId: d.callId }, 'no ACK for 2xx; ending dialog');
    try {
      d.emit('destroy', undefined, 'ack-timeout');
    } catch (err) {
      this.stack.logger.error({ err, callId: d.callId }, 'destroy listener failed');
    }
    void d.destroy();
  }

  onAck(req: SipRequest): void {
    const d = this.find(req.callId, req.toTag ?? '', req.fromTag ?? '');
    if (!d) return;
    if (d.pending2xx && req.cseq?.seq === d.pending2xx.cseq) {
      d.pending2xx.timer?.cancel();
      d.pending2xx = undefined;
      if (req.body.length > 0) d.remote.sdp = req.body.toString('utf8');
      d.emit('ack', req);
    }
  }

  onStray2xx(res: SipResponse): void {
    const d = this.find(res.callId, res.fromTag ?? '', res.toTag ?? '');
    if (d && d.role === 'uac') d.sendAck(res);
  }

  onInDialogRequest(req: SipRequest, res: ServerResponse): void {
    if (req.method === 'PRACK') {
      this.onPrack(req, res);
      return;
    }
    const d = this.find(req.callId, req.toTag ?? '', req.fromTag ?? '');
    if (!d) {
      res.send(481);
      return;
    }
    const seq = req.cseq?.seq ?? 0;
    if (seq <= d.remoteSeq && req.method !== 'ACK') {
      // RFC 3261 §12.2.2: out of order.
      res.send(500, 'Out of Order', { headers: { 'retry-after': '1' } });
      return;
    }
    d.remoteSeq = seq;
    if (req.method === 'BYE') {
      res.send(200);
      d.terminate(req);
      return;
    }
    const contact = req.get('contact');
    if (req.method === 'INVITE' || req.method === 'UPDATE') {
      if (contact) d.remoteTarget = ownString(contactUriText(contact));
      if (!this.watchOffer(d, req, res)) return;
    }
    const event = IN_DIALOG_EVENTS[req.method];
    if (event && d.listenerCount(event) > 0) {
      try {
        d.emit(event, req, res);
      } catch (err) {
        // A listener that throws must not leave the request unanswered (the UAC would retransmit to Timer F/B).
        this.stack.logger.error({ err, callId: d.callId, method: req.method }, 'in-dialog request handler failed');
        if (!res.finalResponseSent) res.send(500);
      }
      return;
    }
    if (req.method === 'INVITE') {
      // No application interest: accept the new offer with our current SDP (session refresh).
      if (req.body.length > 0) d.remote.sdp = req.body.toString('utf8');
      res.send(200, undefined, {
        headers: { contact: `<${this.stack.contactUri(d.flow.transport, d.flow.address)}>`, ...(d.local.sdp ? { 'content-type': 'application/sdp' } : {}) },
        body: d.local.sdp,
      });
      return;
    }
    if (req.method === 'INFO' || req.method === 'NOTIFY' || req.method === 'UPDATE' || req.method === 'OPTIONS') {
      res.send(200);
      return;
    }
    res.send(405, undefined, { headers: { allow: this.stack.allowHeader } });
  }

  /**
   * A re-INVITE or UPDATE from the peer, however it gets answered: its 2xx is retransmitted until
   * ACKed (INVITE), records the session descriptions, and — being a session refresh (RFC 4028 §9) —
   * carries Session-Expires and re-arms the session timer. False when it was refused here with 422.
   */
  private watchOffer(d: Dialog, req: SipRequest, res: ServerResponse): boolean {
    const cfg = this.stack.sessionTimerConfig;
    const running = d.sessionTimer?.state;
    const st = cfg ? negotiateAsUas(req, cfg, running) : undefined;
    if (st?.kind === 'reject') {
      res.send(422, 'Session Interval Too Small', { headers: { 'min-se': st.minSE } });
      return false;
    }
    const seq = req.cseq?.seq ?? 0;
    res.addFinalHook({
      decorate: (status, headers) => {
        if (st && status >= 200 && status < 300 && !headers.some(([k]) => k === 'session-expires')) {
          headers.push(...sessionTimerResponseHeaders(st));
        }
      },
      sent: (sent) => {
        if (sent.status < 200 || sent.status >= 300) return;
        if (req.method === 'INVITE') this.startRetransmit2xx(d, sent, seq);
        // What we answered with is now our session description; a refresh must offer it again.
        if (isSdp(sent)) d.local.sdp = sent.body.toString('utf8');
        if (isSdp(req)) d.remote.sdp = req.body.toString('utf8');
        if (st) {
          d.armSessionTimer(st.interval, st.refresher === 'uas' ? 'local' : 'remote');
          emitRefresh(this.stack, d, 'remote');
        }
      },
    });
    return true;
  }
}

/** Tell a dialog's listeners about a session refresh; a listener that throws is only logged. */
function emitRefresh(stack: DialogHost<Dialog>, d: Dialog, by: RefreshBy): void {
  try {
    d.emit('refresh', by);
  } catch (err) {
    stack.logger.error({ err, callId: d.callId, event: 'refresh' }, 'dialog listener failed');
  }
}

function isSdp(m: SipRequest | SipResponse): boolean {
  return m.body.length > 0 && (m.contentType ?? '').toLowerCase().startsWith('application/sdp');
}

function earlyKey(callId: string, localTag: string): string {
  return `${callId}\n${localTag}`;
}
