// The end-to-end test UA: a phone made of hibiki's own SipStack (one instance per UA, so it gets
// transactions, dialogs, re-INVITE, CANCEL and retransmissions) and an independent RTP peer
// (rtp-peer.ts). It registers with digest auth, calls, answers, holds, sends and receives real RTP
// and DTMF (RFC 4733 and SIP INFO), and records every SIP message it receives, per Call-ID, so
// tests assert on packets and headers. Every wait is bounded and fails with a readable message.
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { SipStack } from '../../src/sip/stack.js';
import type { RequestOptions } from '../../src/sip/dialog-host.js';
import { type ServerResponse } from '../../src/sip/server-response.js';
import { SipRequest, SipResponse, type HeaderEntry, type TransportSource } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';
import { buildAuthorization, parseAuthParams, type DigestAlgorithm } from '../../src/sip/digest.js';
import { headerEntries, newTag, type HeaderInput } from '../../src/sip/response-builder.js';
import { UacError } from '../../src/sip/dialog-layer.js';
import type { Dialog } from '../../src/sip/dialog.js';
import type { SendTarget } from '../../src/sip/transport/types.js';
import { ChangeSignal, RtpPeer, type Codec, type Direction } from './rtp-peer.js';

export type { Codec, Direction } from './rtp-peer.js';
export type UaTransport = 'udp' | 'tcp';
export type SipMessage = SipRequest | SipResponse;
export type DtmfMethod = 'rfc4733' | 'info';

export interface HostPort {
  host: string;
  port: number;
}

/** Where a UA can be reached: pass one as `target` to call a UA directly (no server). */
export interface UaAddress extends HostPort {
  transport: UaTransport;
}

export interface TestUAOptions {
  user: string;
  password?: string;
  /** Digest username when it is not `user`. */
  authUser?: string;
  displayName?: string;
  /** The registrar/proxy (hibiki); calls go there unless a call names another target. */
  server?: HostPort;
  transport?: UaTransport;
  domain?: string;
  /** Local address to bind SIP and RTP sockets to (default 127.0.0.1). */
  host?: string;
  /** Defaults for calls and answers. */
  codecs?: Codec[];
  telephoneEvent?: boolean;
  logger?: Logger;
}

export interface MediaOptions {
  /** Codecs offered/accepted in preference order (default the UA's, else PCMU, PCMA). */
  codecs?: Codec[];
  /** Offer/accept RFC 4733 telephone-event (default true; PT 101 in offers). */
  telephoneEvent?: boolean;
  telephoneEventPt?: number;
  /** Default method of call.sendDtmf(): SIP INFO when true, RFC 4733 otherwise. */
  infoDtmf?: boolean;
  /** Seed written into this call's test-tone frames (default random). */
  toneSeed?: number;
}

export interface CallOptions extends MediaOptions {
  headers?: HeaderInput;
  /** Send the INVITE here instead of the UA's server (e.g. another TestUA's `address`). */
  target?: UaAddress;
  /** From value (without tag); default the UA's identity. */
  from?: string;
  /** Direction of the initial offer (default sendrecv). */
  direction?: Direction;
}

export interface AnswerOptions extends MediaOptions {
  headers?: HeaderInput;
}

export interface CallEnd {
  by: 'local' | 'remote';
  /** The Reason header of the far end's BYE, when it had one. */
  reason?: string;
  /** The BYE that ended the call (remote hangup). */
  request?: SipRequest;
  /** Set when the dialog ended without a BYE from either side (no ACK, 481/408 to a request). */
  detail?: string;
}

export interface InfoDigit {
  digit: string;
  durationMs: number | undefined;
  contentType: string;
}

/** A request answered with a final non-2xx response. */
export class SipStatusError extends Error {
  readonly status: number;
  constructor(
    readonly what: string,
    readonly response: SipResponse,
  ) {
    super(`${what} failed: ${response.status} ${response.reason}`);
    this.status = response.status;
  }
}

/** An outgoing call that was not answered: status is the INVITE's final response. */
export class CallFailedError extends SipStatusError {
  constructor(
    response: SipResponse,
    readonly provisional: number[],
  ) {
    super('INVITE', response);
  }
}

const DTMF_CHARS = /^[0-9*#A-D]$/;
const MAX_RECORDED_MESSAGES = 10_000;

function isSuccess(res: SipResponse): boolean {
  return res.status >= 200 && res.status < 300;
}

function isStaleChallenge(res: SipResponse): boolean {
  return res.getAll(res.status === 407 ? 'proxy-authenticate' : 'www-authenticate').some((c) => parseAuthParams(c)?.params.get('stale')?.toLowerCase() === 'true');
}

function quoteDisplayName(name: string): string {
  return `"${name.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

// ---------------------------------------------------------------------------------------------

export class TestUA {
  readonly user: string;
  readonly domain: string;
  readonly transport: UaTransport;
  readonly stack: SipStack;
  readonly server: HostPort | undefined;
  /** Every SIP message received, in arrival order (retransmissions included). */
  readonly messages: SipMessage[] = [];
  /** Calls in progress (answered and not ended). */
  readonly calls = new Set<Call>();
  /** @internal wakes every wait on this UA's state */
  readonly changed = new ChangeSignal();

  private readonly password: string | undefined;
  private readonly authUser: string;
  private readonly displayName: string | undefined;
  private readonly media: MediaOptions;
  private readonly host: string;
  private readonly byCallId = new Map<string, SipMessage[]>();
  private readonly incoming: IncomingCall[] = [];
  /** Every RTP peer this UA opened, so close() releases the sockets of calls that never ended. */
  private readonly peers = new Set<RtpPeer>();
  private readonly registerCallId = `${randomBytes(8).toString('hex')}@test-ua`;
  private registerCseq = 0;
  private closed = false;
  registered = false;

  private constructor(opts: TestUAOptions) {
    this.user = opts.user;
    this.password = opts.password;
    this.authUser = opts.authUser ?? opts.user;
    this.displayName = opts.displayName;
    this.domain = opts.domain ?? 'hibiki.test';
    this.transport = opts.transport ?? 'udp';
    this.server = opts.server;
    this.host = opts.host ?? '127.0.0.1';
    this.media = { codecs: opts.codecs, telephoneEvent: opts.telephoneEvent };
    this.stack = new SipStack({
      listen: [{ transport: this.transport, host: this.host, port: 0 }],
      logger: opts.logger ?? pino({ level: 'silent' }),
      userAgent: `hibiki-test-ua/${opts.user}`,
    });
    // A tap next to the stack: every message received is recorded, whatever the stack does with it.
    this.stack.transport.onMessage((data, source) => this.record(data, source));
    this.stack.use('INVITE', (req, res) => this.onInvite(req, res));
    this.stack.use('MESSAGE', (_req, res) => res.send(200));
    this.stack.use('NOTIFY', (_req, res) => res.send(200));
  }

  static async create(opts: TestUAOptions): Promise<TestUA> {
    const ua = new TestUA(opts);
    await ua.stack.start();
    return ua;
  }

  /** Where this UA listens (a `target` for direct calls). */
  get address(): UaAddress {
    const p = this.stack.listening()[0];
    if (!p) throw new Error('test UA is not listening');
    return { host: p.host, port: p.port, transport: this.transport };
  }

  /** The address-of-record as a name-addr, e.g. `"Alice" <sip:2001@hibiki.test>`. */
  get identity(): string {
    const uri = `<sip:${this.user}@${this.domain}>`;
    return this.displayName ? `${quoteDisplayName(this.displayName)} ${uri}` : uri;
  }

  /** @internal digest credentials for challenges, when the UA has a password. */
  get credentials(): { username: string; password: string } | undefined {
    return this.password === undefined ? undefined : { username: this.authUser, password: this.password };
  }

  /** The messages received for one Call-ID (the live array). */
  messagesFor(callId: string): SipMessage[] {
    let list = this.byCallId.get(callId);
    if (!list) {
      list = [];
      this.byCallId.set(callId, list);
    }
    return list;
  }

  /** Wait for a received message (already recorded ones count) that matches. */
  waitForMessage(match: (m: SipMessage) => boolean, timeoutMs = 5000, what = 'a matching SIP message'): Promise<SipMessage> {
    return this.changed.waitFor(
      () => this.messages.find(match),
      timeoutMs,
      () => `${what} at ${this.user}`,
    );
  }

  private record(data: Buffer, source: TransportSource): void {
    const parsed = parseMessage(data, { stream: source.transport !== 'udp' });
    if (!parsed.ok) return;
    const msg = parsed.message;
    msg.source = source;
    if (this.messages.length < MAX_RECORDED_MESSAGES) {
      this.messages.push(msg);
      this.messagesFor(msg.callId).push(msg);
    }
    this.changed.notify();
  }

  // ---- registration ------------------------------------------------------------------------

  private requireServer(): HostPort {
    if (!this.server) throw new Error(`test UA ${this.user} has no server`);
    return this.server;
  }

  private serverTarget(): SendTarget {
    const server = this.requireServer();
    return { transport: this.transport, address: server.host, port: server.port };
  }

  /** The Contact this UA registers. */
  get contact(): string {
    return `<${this.stack.contactUri(this.transport, this.server?.host ?? this.host, this.user)}>`;
  }

  /** REGISTER (answering a digest challenge); resolves with the 2xx, rejects with SipStatusError. */
  async register(opts: { expires?: number; headers?: HeaderInput; algorithm?: DigestAlgorithm; contact?: string } = {}): Promise<SipResponse> {
    const expires = opts.expires ?? 600;
    const res = await this.registerRequest(expires, opts);
    if (!isSuccess(res)) throw new SipStatusError('REGISTER', res);
    this.registered = expires > 0;
    return res;
  }

  /** Remove this UA's binding (Expires: 0). */
  async unregister(): Promise<SipResponse> {
    return this.register({ expires: 0 });
  }

  private registerRequest(expires: number, opts: { headers?: HeaderInput; algorithm?: DigestAlgorithm; contact?: string }): Promise<SipResponse> {
    const fromTag = newTag();
    const target = this.serverTarget();
    return this.withAuth(
      (cseq) => ({
        method: 'REGISTER',
        uri: `sip:${this.domain}`,
        from: `${this.identity};tag=${fromTag}`,
        to: this.identity,
        callId: this.registerCallId,
        cseq,
        target,
        headers: [['contact', opts.contact ?? this.contact], ['expires', String(expires)], ...headerEntries(opts.headers)],
      }),
      opts.algorithm,
    );
  }

  /** Send an out-of-dialog request, answering a 401/407 challenge (RFC 3261 §22.2) and a stale one after it. */
  private async withAuth(build: (cseq: number) => RequestOptions, algorithm?: DigestAlgorithm): Promise<SipResponse> {
    let opts = build(++this.registerCseq);
    let res = await this.stack.request(opts);
    for (let round = 0; round < 2 && (res.status === 401 || res.status === 407); round++) {
      // Credentials already refused: only a stale nonce is worth another try (RFC 7616 §3.3).
      if (round > 0 && !isStaleChallenge(res)) break;
      const authorization = this.answerChallenge(res, opts.method, opts.uri, algorithm);
      if (!authorization) break;
      opts = build(++this.registerCseq);
      opts.headers = [...headerEntries(opts.headers), authorization];
      res = await this.stack.request(opts);
    }
    return res;
  }

  /** The Authorization for the first challenge we can answer (or the one with the wanted algorithm). */
  private answerChallenge(res: SipResponse, method: string, uri: string, algorithm?: DigestAlgorithm): HeaderEntry | undefined {
    const creds = this.credentials;
    if (!creds) return undefined;
    const proxy = res.status === 407;
    for (const challenge of res.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate')) {
      if (algorithm) {
        const offered = parseAuthParams(challenge)?.params.get('algorithm') ?? 'MD5';
        if (offered.toUpperCase() !== algorithm) continue;
      }
      try {
        return [proxy ? 'proxy-authorization' : 'authorization', buildAuthorization(challenge, creds, method, uri)];
      } catch {
        // A challenge we cannot answer (another scheme or algorithm): try the next one.
      }
    }
    return undefined;
  }

  // ---- calls -------------------------------------------------------------------------------

  private uriFor(dest: string): string {
    return /^(sips?|tel):/i.test(dest) ? dest : `sip:${dest}@${this.domain}`;
  }

  /** @internal */
  mediaOptions(opts: MediaOptions): MediaOptions {
    return {
      codecs: opts.codecs ?? this.media.codecs,
      telephoneEvent: opts.telephoneEvent ?? this.media.telephoneEvent,
      telephoneEventPt: opts.telephoneEventPt,
      infoDtmf: opts.infoDtmf,
      toneSeed: opts.toneSeed,
    };
  }

  /** @internal */
  async openRtp(opts: MediaOptions): Promise<RtpPeer> {
    if (this.closed) throw new Error(`test UA ${this.user} is closed`);
    const m = this.mediaOptions(opts);
    const peer = await RtpPeer.open({ host: this.host, codecs: m.codecs, telephoneEvent: m.telephoneEvent, telephoneEventPt: m.telephoneEventPt, toneSeed: m.toneSeed });
    this.peers.add(peer);
    return peer;
  }

  /** Start a call; the INVITE is on its way when this resolves (see OutgoingCall.answered). */
  async dial(dest: string, opts: CallOptions = {}): Promise<OutgoingCall> {
    if (this.closed) throw new Error(`test UA ${this.user} is closed`);
    const target: SendTarget = opts.target ? { transport: opts.target.transport, address: opts.target.host, port: opts.target.port } : this.serverTarget();
    const rtp = await this.openRtp(opts);
    return new OutgoingCall(this, rtp, this.uriFor(dest), target, opts);
  }

  /** Call and wait for the answer; rejects with CallFailedError ({ status }) when not answered. */
  async call(dest: string, opts: CallOptions = {}): Promise<Call> {
    return (await this.dial(dest, opts)).answered;
  }

  private onInvite(req: SipRequest, res: ServerResponse): void {
    if (this.closed) {
      res.send(480);
      return;
    }
    this.incoming.push(new IncomingCall(this, req, res));
    this.changed.notify();
  }

  /** The next INVITE that arrived (or arrives within the timeout) and was not taken yet. */
  waitForCall(opts: { timeoutMs?: number } = {}): Promise<IncomingCall> {
    return this.changed.waitFor(
      () => this.incoming.shift(),
      opts.timeoutMs ?? 5000,
      () => `an incoming call at ${this.user}`,
    );
  }

  /** Stop everything: RTP of every call closes (no BYE is sent; hang up first when it matters). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const call of [...this.calls]) call.abandon();
    this.incoming.splice(0);
    for (const peer of this.peers) peer.close();
    this.peers.clear();
    await this.stack.stop();
    this.changed.notify();
  }
}

// ---------------------------------------------------------------------------------------------

/** An INVITE we sent and that has no final response yet. */
export class OutgoingCall {
  readonly callId = `${randomBytes(8).toString('hex')}@test-ua`;
  /** Statuses of the provisional responses received, in order. */
  readonly provisional: number[] = [];
  readonly provisionalResponses: SipResponse[] = [];
  /** Resolves with the call when answered; rejects with CallFailedError otherwise. */
  readonly answered: Promise<Call>;
  /** The INVITE as last sent (the authenticated one after a challenge). */
  request: SipRequest | undefined;
  private handle: { cancel: () => void } | undefined;
  private cancelWanted = false;

  constructor(
    private readonly ua: TestUA,
    readonly rtp: RtpPeer,
    readonly uri: string,
    target: SendTarget,
    private readonly opts: CallOptions,
  ) {
    const offer = rtp.createOffer(opts.direction ?? 'sendrecv');
    this.answered = ua.stack
      .createUAC({
        uri,
        localSdp: offer,
        headers: opts.headers,
        from: opts.from ?? ua.identity,
        to: `<${uri}>`,
        callId: this.callId,
        target,
        auth: ua.credentials,
        onProvisional: (r) => this.onProvisional(r),
        onRequestSent: (h) => {
          this.handle = h;
          this.request = h.request;
          if (this.cancelWanted) h.cancel();
        },
      })
      .then(
        (dialog) => this.onAnswered(dialog),
        (err: unknown) => {
          rtp.close();
          if (err instanceof UacError) throw new CallFailedError(err.response, [...this.provisional]);
          throw err;
        },
      );
    // Tests that cancel or expect failure may never await `answered`: that is not an unhandled rejection.
    this.answered.catch(() => undefined);
  }

  /** Everything received for this Call-ID. */
  get messages(): SipMessage[] {
    return this.ua.messagesFor(this.callId);
  }

  /** CANCEL the INVITE (sent once a provisional response has arrived, RFC 3261 §9.1). */
  cancel(): void {
    this.cancelWanted = true;
    this.handle?.cancel();
  }

  /** Wait for a provisional response with this status (180 by default); earlier ones count. */
  waitForProvisional(status = 180, timeoutMs = 5000): Promise<SipResponse> {
    return this.ua.changed.waitFor(
      () => this.provisionalResponses.find((r) => r.status === status),
      timeoutMs,
      () => `a ${status} for ${this.uri} (got ${this.provisional.join(', ') || 'none'})`,
    );
  }

  private onProvisional(res: SipResponse): void {
    this.provisional.push(res.status);
    this.provisionalResponses.push(res);
    // Early media: an answer in a provisional response (RFC 3261 §13.2.1, RFC 3264).
    if (res.body.length > 0 && (res.contentType ?? '').toLowerCase().startsWith('application/sdp')) this.rtp.applyAnswer(res.body.toString('utf8'));
    this.ua.changed.notify();
  }

  private onAnswered(dialog: Dialog): Call {
    if (dialog.remote.sdp) this.rtp.applyAnswer(dialog.remote.sdp);
    const call = new Call(this.ua, dialog, this.rtp, 'caller', this.request as SipRequest, [...this.provisional], this.ua.mediaOptions(this.opts));
    if (this.cancelWanted) {
      // The 200 crossed our CANCEL: the call exists, so end it with BYE (RFC 3261 §9.1).
      void call.hangup();
      throw new Error(`call to ${this.uri} was answered after CANCEL and hung up`);
    }
    return call;
  }
}

// ---------------------------------------------------------------------------------------------

/** An INVITE that arrived and has no final response yet. */
export class IncomingCall {
  rtp: RtpPeer | undefined;
  private earlyAnswer: string | undefined;
  private cancelled = false;

  constructor(
    private readonly ua: TestUA,
    readonly request: SipRequest,
    private readonly res: ServerResponse,
  ) {
    res.onCancel(() => {
      this.cancelled = true;
      this.rtp?.close();
      ua.changed.notify();
    });
  }

  get callId(): string {
    return this.request.callId;
  }

  /** The From header value (caller identity as presented). */
  get from(): string | undefined {
    return this.request.get('from');
  }

  get to(): string | undefined {
    return this.request.get('to');
  }

  get isCancelled(): boolean {
    return this.cancelled;
  }

  get messages(): SipMessage[] {
    return this.ua.messagesFor(this.callId);
  }

  /** Wait for the caller's CANCEL (the stack has already answered it and sent 487). */
  waitForCancel(timeoutMs = 5000): Promise<true> {
    return this.ua.changed.waitFor(
      () => (this.cancelled ? true : undefined),
      timeoutMs,
      () => `CANCEL of ${this.callId}`,
    );
  }

  private contactHeader(): string {
    const src = this.request.source;
    return `<${this.ua.stack.contactUri(src?.transport ?? this.ua.transport, src?.address, this.ua.user)}>`;
  }

  private assertPending(action: string): void {
    if (this.res.finalResponseSent) throw new Error(`cannot ${action} ${this.callId}: ${this.cancelled ? 'it was cancelled' : 'it already has a final response'}`);
  }

  /** Send 180 Ringing (or another provisional status) without SDP. */
  ring(opts: { status?: number; headers?: HeaderInput } = {}): void {
    this.assertPending('ring');
    this.res.send(opts.status ?? 180, undefined, { headers: [['contact', this.contactHeader()], ...headerEntries(opts.headers)] });
  }

  /** 183 Session Progress with our SDP answer: early media flows both ways on `rtp` from now on. */
  async progress(opts: AnswerOptions = {}): Promise<RtpPeer> {
    this.assertPending('send early media on');
    const rtp = this.rtp ?? (this.rtp = await this.ua.openRtp(opts));
    const offer = this.request.body.toString('utf8');
    const answer = this.earlyAnswer ?? rtp.answerOffer(offer);
    if (!answer) throw new Error(`no usable offer in ${this.callId} for early media`);
    this.earlyAnswer = answer;
    this.assertPending('send early media on');
    this.res.send(183, undefined, {
      headers: [['contact', this.contactHeader()], ['content-type', 'application/sdp'], ...headerEntries(opts.headers)],
      body: answer,
    });
    return rtp;
  }

  /** Answer with 200 and our SDP (488 and a rejection when no codec is in common). */
  async answer(opts: AnswerOptions = {}): Promise<Call> {
    this.assertPending('answer');
    const rtp = this.rtp ?? (this.rtp = await this.ua.openRtp(opts));
    this.assertPending('answer');
    const offer = this.request.body.length > 0 ? this.request.body.toString('utf8') : undefined;
    let sdp: string | undefined;
    let answerInAck = false;
    if (offer === undefined) {
      // Delayed offer (RFC 3261 §13.2.1): we offer in the 200 and the answer comes in the ACK.
      sdp = rtp.createOffer('sendrecv');
      answerInAck = true;
    } else {
      sdp = this.earlyAnswer ?? rtp.answerOffer(offer);
    }
    if (!sdp) {
      this.res.send(488);
      rtp.close();
      throw new Error(`no codec in common with the offer of ${this.callId}: answered 488`);
    }
    const headers: HeaderEntry[] = headerEntries(opts.headers);
    if (!headers.some(([k]) => k === 'contact')) headers.push(['contact', this.contactHeader()]);
    const dialog = this.ua.stack.createUAS(this.request, this.res, { localSdp: sdp, headers });
    return new Call(this.ua, dialog, rtp, 'callee', this.request, [], this.ua.mediaOptions(opts), answerInAck);
  }

  /** Refuse the call with a final response (486 Busy Here by default). */
  reject(status = 486, opts: { headers?: HeaderInput; reason?: string } = {}): void {
    this.assertPending('reject');
    this.res.send(status, opts.reason, { headers: opts.headers });
    this.rtp?.close();
  }
}

// ---------------------------------------------------------------------------------------------

/** An established call (a confirmed dialog with its RTP peer). */
export class Call {
  /** Digits received by SIP INFO (application/dtmf-relay or application/dtmf). */
  readonly infoDtmf: InfoDigit[] = [];
  ended: CallEnd | undefined;
  /** We put the call on hold (our last offer was sendonly). */
  localHold = false;
  private readonly defaultDtmf: DtmfMethod;

  constructor(
    private readonly ua: TestUA,
    readonly dialog: Dialog,
    readonly rtp: RtpPeer,
    readonly role: 'caller' | 'callee',
    /** The initial INVITE (sent or received). */
    readonly request: SipRequest,
    /** Provisional statuses received before the answer (caller side). */
    readonly provisional: number[],
    media: MediaOptions,
    private answerInAck = false,
  ) {
    this.defaultDtmf = media.infoDtmf ? 'info' : 'rfc4733';
    ua.calls.add(this);
    dialog.on('destroy', (req) => this.onDialogEnd(req));
    dialog.on('modify', (req, res) => this.onOffer(req, res));
    dialog.on('update', (req, res) => this.onOffer(req, res));
    dialog.on('info', (req, res) => this.onInfo(req, res));
    dialog.on('ack', (req) => this.onAck(req));
  }

  get callId(): string {
    return this.dialog.callId;
  }

  /** Everything received for this Call-ID (responses to our requests included). */
  get messages(): SipMessage[] {
    return this.ua.messagesFor(this.callId);
  }

  /** The 2xx that answered our INVITE (caller side). */
  get answerResponse(): SipResponse | undefined {
    const seq = this.request.cseq?.seq;
    return this.messages.find((m): m is SipResponse => m instanceof SipResponse && isSuccess(m) && m.cseq?.method === 'INVITE' && m.cseq.seq === seq);
  }

  /** The direction the far end declared in its last SDP. */
  get remoteDirection(): Direction | undefined {
    return this.rtp.remote?.direction;
  }

  /** Digits received by SIP INFO, as one string. */
  get infoDigits(): string {
    return this.infoDtmf.map((d) => d.digit).join('');
  }

  // ---- in-dialog requests received ----------------------------------------------------------

  private contactHeader(): string {
    return `<${this.ua.stack.contactUri(this.dialog.flow.transport, this.dialog.flow.address, this.ua.user)}>`;
  }

  private wantedDirection(): Direction {
    return this.localHold ? 'sendonly' : 'sendrecv';
  }

  /** A re-INVITE or UPDATE: answer its offer (hold/resume/new address), or offer when it has none. */
  private onOffer(req: SipRequest, res: ServerResponse): void {
    if (req.body.length === 0) {
      if (req.method === 'UPDATE') {
        res.send(200, undefined, { headers: { contact: this.contactHeader() } });
        return;
      }
      const offer = this.rtp.createOffer(this.wantedDirection());
      this.answerInAck = true;
      this.dialog.local.sdp = offer;
      res.send(200, undefined, { headers: { contact: this.contactHeader(), 'content-type': 'application/sdp' }, body: offer });
      return;
    }
    const offer = req.body.toString('utf8');
    const answer = this.rtp.answerOffer(offer, this.wantedDirection());
    if (!answer) {
      res.send(488);
      return;
    }
    this.dialog.remote.sdp = offer;
    this.dialog.local.sdp = answer;
    res.send(200, undefined, { headers: { contact: this.contactHeader(), 'content-type': 'application/sdp' }, body: answer });
    this.ua.changed.notify();
  }

  private onAck(req: SipRequest): void {
    if (!this.answerInAck || req.body.length === 0) return;
    this.answerInAck = false;
    this.rtp.applyAnswer(req.body.toString('utf8'));
    this.ua.changed.notify();
  }

  private onInfo(req: SipRequest, res: ServerResponse): void {
    const type = (req.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const body = req.body.toString('utf8');
    if (type === 'application/dtmf-relay') {
      const signal = /^\s*signal\s*=\s*(\S)/im.exec(body)?.[1];
      const duration = /^\s*duration\s*=\s*(\d+)/im.exec(body)?.[1];
      if (signal && DTMF_CHARS.test(signal.toUpperCase())) {
        this.infoDtmf.push({ digit: signal.toUpperCase(), durationMs: duration ? Number(duration) : undefined, contentType: type });
      }
    } else if (type === 'application/dtmf') {
      const text = body.trim().toUpperCase();
      const digit = /^1[0-5]$/.test(text) ? '0123456789*#ABCD'[Number(text)] : text;
      if (digit && DTMF_CHARS.test(digit)) this.infoDtmf.push({ digit, durationMs: undefined, contentType: type });
    }
    res.send(200);
    this.ua.changed.notify();
  }

  private onDialogEnd(req: SipRequest | undefined): void {
    if (this.ended) return;
    this.ended = req ? { by: 'remote', reason: req.get('reason'), request: req } : { by: 'local', detail: 'the dialog ended without a BYE (no ACK, or 481/408 to a request)' };
    this.finish();
  }

  private finish(): void {
    this.rtp.close();
    this.ua.calls.delete(this);
    this.ua.changed.notify();
  }

  /** @internal the UA is closing: drop the call without signalling. */
  abandon(): void {
    if (this.ended) return;
    this.ended = { by: 'local', detail: 'test UA closed' };
    this.finish();
  }

  // ---- actions ------------------------------------------------------------------------------

  /** Wait for a request received in this call (earlier ones count unless `since` skips them). */
  waitForRequest(method: string, opts: { timeoutMs?: number; since?: number; match?: (req: SipRequest) => boolean } = {}): Promise<SipRequest> {
    const m = method.toUpperCase();
    return this.ua.changed.waitFor(
      () => this.messages.slice(opts.since ?? 0).find((msg): msg is SipRequest => msg instanceof SipRequest && msg.method === m && (opts.match?.(msg) ?? true)),
      opts.timeoutMs ?? 5000,
      () => `a ${m} in call ${this.callId}`,
    );
  }

  /** Wait until the far end's SDP says this direction (e.g. sendonly when it holds us). */
  waitForRemoteDirection(direction: Direction, timeoutMs = 5000): Promise<Direction> {
    return this.ua.changed.waitFor(
      () => (this.remoteDirection === direction ? direction : undefined),
      timeoutMs,
      () => `remote direction ${direction} in call ${this.callId} (it is ${this.remoteDirection ?? 'unknown'})`,
    );
  }

  /** Wait until the digits received by SIP INFO end with `digits`. */
  waitForInfoDigits(digits: string, timeoutMs = 5000): Promise<string> {
    const want = digits.toUpperCase();
    return this.ua.changed.waitFor(
      () => (this.infoDigits.endsWith(want) ? this.infoDigits : undefined),
      timeoutMs,
      () => `INFO digits "${want}" in call ${this.callId} (got "${this.infoDigits}")`,
    );
  }

  /** Send digits by RFC 4733 events on the RTP stream or by SIP INFO (application/dtmf-relay by default). */
  async sendDtmf(digits: string, opts: { method?: DtmfMethod; durationMs?: number; contentType?: 'application/dtmf-relay' | 'application/dtmf' } = {}): Promise<void> {
    const method = opts.method ?? this.defaultDtmf;
    if (method === 'rfc4733') {
      await this.rtp.sendDtmf(digits, { durationMs: opts.durationMs });
      return;
    }
    const contentType = opts.contentType ?? 'application/dtmf-relay';
    const durationMs = opts.durationMs ?? 160;
    for (const raw of digits) {
      const digit = raw.toUpperCase();
      if (!DTMF_CHARS.test(digit)) throw new Error(`not a DTMF digit: ${JSON.stringify(raw)}`);
      const body = contentType === 'application/dtmf' ? digit : `Signal=${digit}\r\nDuration=${durationMs}\r\n`;
      const res = await this.dialog.request({ method: 'INFO', headers: { 'content-type': contentType }, body });
      if (!isSuccess(res)) throw new SipStatusError('INFO', res);
    }
  }

  /** Send a re-INVITE offering this direction; resolves with the 2xx, rejects with SipStatusError. */
  async reinvite(direction: Direction): Promise<SipResponse> {
    if (this.ended) throw new Error(`call ${this.callId} has ended`);
    const offer = this.rtp.createOffer(direction);
    const res = await this.dialog.modify(offer);
    if (!isSuccess(res)) {
      this.rtp.discardOffer();
      throw new SipStatusError('re-INVITE', res);
    }
    if (res.body.length > 0) this.rtp.applyAnswer(res.body.toString('utf8'));
    this.ua.changed.notify();
    return res;
  }

  /** Hold (RFC 3264 §8.4): re-INVITE with a=sendonly. */
  async hold(): Promise<SipResponse> {
    const res = await this.reinvite('sendonly');
    this.localHold = true;
    return res;
  }

  /** Resume: re-INVITE with a=sendrecv. */
  async resume(): Promise<SipResponse> {
    const res = await this.reinvite('sendrecv');
    this.localHold = false;
    return res;
  }

  /** Send BYE (with a Reason header when given) and wait for its response. */
  async hangup(opts: { headers?: HeaderInput; reason?: string } = {}): Promise<void> {
    if (this.ended) return;
    this.ended = { by: 'local' };
    this.finish();
    const headers = headerEntries(opts.headers);
    if (opts.reason) headers.push(['reason', opts.reason]);
    await this.dialog.destroy({ headers });
  }

  /** Wait for the call to end, by either side. */
  waitForEnd(timeoutMs = 5000): Promise<CallEnd> {
    return this.ua.changed.waitFor(
      () => this.ended,
      timeoutMs,
      () => `the end of call ${this.callId}`,
    );
  }
}
