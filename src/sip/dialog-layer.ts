// Dialog creation and in-dialog request routing (RFC 3261 §12–§15).
import type { SipRequest, SipResponse } from './message.js';
import type { ServerResponse, SipStack } from './stack.js';
import { Dialog, dialogKey } from './dialog.js';
import { headerEntries, type HeaderInput } from './response-builder.js';
import { parseUri } from './uri.js';
import { resolveTarget } from './target.js';
import type { SendTarget } from './transport/types.js';
import { responseTarget } from './transaction/response-routing.js';
import type { ClientTransaction } from './transaction/layer.js';

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
  /** Receives a handle that can CANCEL the INVITE before a final response. */
  onRequestSent?: (handle: { cancel: () => void; request: SipRequest }) => void;
}

export class UacError extends Error {
  constructor(readonly response: SipResponse) {
    super(`INVITE failed: ${response.status} ${response.reason}`);
  }
  get status(): number {
    return this.response.status;
  }
}

const IN_DIALOG_EVENTS: Record<string, string> = {
  INVITE: 'modify',
  UPDATE: 'update',
  INFO: 'info',
  REFER: 'refer',
  NOTIFY: 'notify',
  MESSAGE: 'message',
  OPTIONS: 'options',
};

export class DialogLayer {
  private dialogs = new Map<string, Dialog>();

  constructor(private readonly stack: SipStack) {}

  get size(): number {
    return this.dialogs.size;
  }

  remove(d: Dialog): void {
    this.dialogs.delete(d.id);
  }

  stop(): void {
    for (const d of this.dialogs.values()) d.pending2xx?.timer?.cancel();
    this.dialogs.clear();
  }

  find(callId: string, localTag: string, remoteTag: string): Dialog | undefined {
    return this.dialogs.get(dialogKey(callId, localTag, remoteTag));
  }

  /** Answer an INVITE with 2xx and return the confirmed dialog (drachtio's createUAS). */
  createUAS(req: SipRequest, res: ServerResponse, opts: UasOptions = {}): Dialog {
    if (!req.source) throw new Error('request has no source');
    const headers = headerEntries(opts.headers);
    if (!headers.some(([k]) => k === 'contact')) {
      headers.push(['contact', `<${this.stack.contactUri(req.source.transport, req.source.address)}>`]);
    }
    if (opts.localSdp !== undefined) headers.push(['content-type', 'application/sdp']);
    const ok = res.send(200, undefined, { headers, body: opts.localSdp });
    const remoteContact = req.contacts?.[0];
    const remoteTarget = remoteContact && !remoteContact.wildcard ? contactUriText(req.get('contact') as string) : req.uri;
    const d = new Dialog(this.stack, {
      role: 'uas',
      callId: req.callId,
      localTag: res.toTag,
      remoteTag: req.fromTag ?? '',
      localAddress: ok.get('to') as string,
      remoteAddress: req.get('from') as string,
      remoteTarget,
      routeSet: req.getAll('record-route'),
      localSeq: Math.floor(Math.random() * 10000),
      remoteSeq: req.cseq?.seq ?? 0,
      flow: responseTarget(req),
      localSdp: opts.localSdp,
      remoteSdp: req.body.length > 0 ? req.body.toString('utf8') : undefined,
    });
    this.dialogs.set(d.id, d);
    this.startRetransmit2xx(d, ok, req.cseq?.seq ?? 0);
    return d;
  }

  /** Send an INVITE and resolve with the confirmed dialog on 2xx; rejects with UacError otherwise. */
  createUAC(opts: UacOptions): Promise<Dialog> {
    const stack = this.stack;
    return (async () => {
      const uri = parseUri(opts.uri);
      if (!uri) throw new Error(`bad URI ${opts.uri}`);
      const target = opts.target ?? (await resolveTarget(uri));
      const headers = headerEntries(opts.headers);
      if (!headers.some(([k]) => k === 'contact')) headers.push(['contact', `<${stack.contactUri(target.transport, target.address)}>`]);
      if (opts.localSdp !== undefined && !headers.some(([k]) => k === 'content-type')) headers.push(['content-type', 'application/sdp']);
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
        const tx: ClientTransaction = stack.sendRequest(req, target, {
          onProvisional: (r) => opts.onProvisional?.(r),
          onFinal: (r) => {
            if (r.status >= 200 && r.status < 300) {
              dialog = this.uacDialog(req, r, target, opts.localSdp);
              dialog.sendAck(r);
              resolve(dialog);
            } else reject(new UacError(r));
          },
          onAdditional2xx: (r) => {
            if (dialog && r.toTag === dialog.remoteTag) dialog.sendAck(r);
            else this.ackAndBye(req, r, target);
          },
        });
        opts.onRequestSent?.({ cancel: () => tx.cancel(), request: req });
      });
    })();
  }

  private uacDialog(req: SipRequest, res: SipResponse, target: SendTarget, localSdp: string | undefined): Dialog {
    const contact = res.get('contact');
    const d = new Dialog(this.stack, {
      role: 'uac',
      callId: req.callId,
      localTag: req.fromTag ?? '',
      remoteTag: res.toTag ?? '',
      localAddress: req.get('from') as string,
      remoteAddress: res.get('to') as string,
      remoteTarget: contact ? contactUriText(contact) : req.uri,
      routeSet: res.getAll('record-route').reverse(),
      localSeq: req.cseq?.seq ?? 1,
      remoteSeq: 0,
      flow: res.source?.connectionId ? { ...target, connectionId: res.source.connectionId } : target,
      localSdp,
      remoteSdp: res.body.length > 0 ? res.body.toString('utf8') : undefined,
    });
    this.dialogs.set(d.id, d);
    return d;
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
      d.pending2xx = { res, cseq, interval: 0, deadline: this.stack.clock.now() + 64 * t1 };
      d.pending2xx.timer = this.stack.clock.setTimer(64 * t1, () => this.ackTimeout(d));
      return;
    }
    const state: NonNullable<Dialog['pending2xx']> = { res, cseq, interval: t1, deadline: this.stack.clock.now() + 64 * t1 };
    d.pending2xx = state;
    const tick = (): void => {
      if (d.pending2xx !== state) return;
      if (this.stack.clock.now() >= state.deadline) {
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
    d.emit('destroy', undefined);
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
      if (contact) d.remoteTarget = contactUriText(contact);
    }
    const event = IN_DIALOG_EVENTS[req.method];
    if (event && d.listenerCount(event) > 0) {
      if (req.method === 'INVITE') this.watch2xx(d, res);
      d.emit(event, req, res);
      return;
    }
    if (req.method === 'INVITE') {
      // No application interest: accept the new offer with our current SDP (session refresh).
      if (req.body.length > 0) d.remote.sdp = req.body.toString('utf8');
      const ok = res.send(200, undefined, {
        headers: { contact: `<${this.stack.contactUri(d.flow.transport, d.flow.address)}>`, ...(d.local.sdp ? { 'content-type': 'application/sdp' } : {}) },
        body: d.local.sdp,
      });
      this.startRetransmit2xx(d, ok, seq);
      return;
    }
    if (req.method === 'INFO' || req.method === 'NOTIFY' || req.method === 'UPDATE' || req.method === 'OPTIONS') {
      res.send(200);
      return;
    }
    res.send(405, undefined, { headers: { allow: this.stack.allowHeader } });
  }

  /** When the application answers a re-INVITE, retransmit its 2xx until ACKed. */
  private watch2xx(d: Dialog, res: ServerResponse): void {
    const original = res.send.bind(res);
    res.send = (status, reason, opts) => {
      const sent = original(status, reason, opts);
      if (status >= 200 && status < 300) this.startRetransmit2xx(d, sent, res.req.cseq?.seq ?? 0);
      return sent;
    };
  }
}

/** The URI inside a Contact/Record-Route header value. */
export function contactUriText(value: string): string {
  const lt = value.indexOf('<');
  if (lt >= 0) {
    const gt = value.indexOf('>', lt);
    return value.slice(lt + 1, gt < 0 ? undefined : gt);
  }
  const semi = value.indexOf(';');
  return (semi >= 0 ? value.slice(0, semi) : value).trim();
}

