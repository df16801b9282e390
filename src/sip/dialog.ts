// One SIP dialog (RFC 3261 §12) with a drachtio-srf-like surface:
// request()/modify()/destroy() and events 'destroy', 'modify', 'info', 'refer', 'notify', 'update', 'message', 'ack'.
import { EventEmitter } from 'node:events';
import { SipRequest, type SipResponse } from './message.js';
import type { SendTarget } from './transport/types.js';
import type { ServerResponse, SipStack } from './stack.js';
import { headerEntries, type HeaderInput } from './response-builder.js';
import { parseUri } from './uri.js';
import { resolveTarget } from './target.js';
import type { TimerHandle } from './clock.js';
import { formatVia } from './via.js';
import { newBranch } from './transaction/branch.js';

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

export declare interface Dialog {
  on(event: 'destroy', listener: (req: SipRequest | undefined) => void): this;
  on(event: 'modify' | 'update' | 'info' | 'refer' | 'notify' | 'message' | 'options', listener: (req: SipRequest, res: ServerResponse) => void): this;
  on(event: 'ack', listener: (req: SipRequest) => void): this;
}

export class Dialog extends EventEmitter {
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
  lastAck: { cseq: number; ack: SipRequest } | undefined;

  constructor(
    private readonly stack: SipStack,
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
      if (req.method !== 'BYE') this.terminate(undefined);
    }
    return res;
  }

  /** Re-INVITE with a new offer (hold/resume, codec change). */
  async modify(sdp: string): Promise<SipResponse> {
    const res = await this.request({ method: 'INVITE', body: sdp, headers: { 'content-type': 'application/sdp', contact: `<${this.stack.contactUri(this.flow.transport, this.flow.address)}>` } });
    if (res.status >= 200 && res.status < 300) {
      this.local.sdp = sdp;
      if (res.body.length > 0) this.remote.sdp = res.body.toString('utf8');
    }
    return res;
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
      this.lastAck = { cseq, ack };
      void this.nextHop().then(
        (target) => {
          const local = this.stack.localPoint(target.transport, target.address);
          ack.prepend(
            'via',
            formatVia({
              protocol: 'SIP/2.0',
              transport: target.transport.toUpperCase(),
              host: local.host,
              port: local.port,
              params: new Map<string, string | null>([['branch', newBranch()], ['rport', null]]),
            }),
          );
          ack.set('max-forwards', 70);
          this.stack.sendRaw(ack, target);
        },
        (err: Error) => this.stack.logger.debug({ callId: this.callId, err: err.message }, 'ACK not sent'),
      );
      return;
    }
    const ack = this.lastAck.ack;
    if (ack.has('via')) void this.nextHop().then((t) => this.stack.sendRaw(ack, t), () => undefined);
  }

  /** @internal */
  terminate(req: SipRequest | undefined, emit = true): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.pending2xx?.timer?.cancel();
    this.pending2xx = undefined;
    this.stack.dialogs.remove(this);
    if (emit) this.emit('destroy', req);
  }
}

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\n${localTag}\n${remoteTag}`;
}
