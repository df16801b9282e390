// The SIP stack's application API, shaped like drachtio-srf: method handlers receive (req, res),
// out-of-dialog requests are sent with request(), dialogs are made with createUAS/createUAC.
// It wires transport → parser → transactions → (dialogs | application) and knows nothing of the PBX.
import { SipCounters } from './sip-counters.js';
import type { Logger } from 'pino';
import { parseMessage } from './parser.js';
import { SipRequest, SipResponse, type HeaderEntry, type TransportSource } from './message.js';
import { TransportLayer, type TransportLimits } from './transport/transport-layer.js';
import type { ListenPoint, SendTarget, SipTransport, TransportName } from './transport/types.js';
import { ConnectionHolds } from './transport/connection-holds.js';
import { TransactionLayer, type ServerTransaction, type ClientTransaction, type Refusal } from './transaction/layer.js';
import type { TimerConfig } from './transaction/timers.js';
import { replyTarget } from './transaction/response-routing.js';
import { buildResponse, headerEntries, newTag } from './response-builder.js';
import { checkRequest, KNOWN_METHODS, stackPolicies, type RequestCheckPolicy } from './request-checks.js';
import { formatNameAddr } from './address.js';
import { parseUri, type Uri } from './uri.js';
import { resolveTarget } from './target.js';
import { DialogLayer, type UacOptions, type UasOptions } from './dialog-layer.js';
import { ServerResponse, type RequestHandler, type ResponseHost } from './server-response.js';
import type { DialogHost, RequestOptions } from './dialog-host.js';
import type { Dialog } from './dialog.js';
import type { ReliableProvisionalPolicy, ReliableProvisionalSender } from './reliable-provisional.js';
import { systemClock, type Clock } from '../util/clock.js';
import { checkSessionTimer, negotiateAsUas, type SessionTimerConfig } from './session-timer.js';
import { LocalAddressing } from './local-addressing.js';
import { buildStatelessResponse, isStatelessTag } from './stateless.js';
import { RequestAdmission } from './admission.js';
import type { SourceRateLimiter } from './source-limiter.js';
import type { OverloadControl } from './overload.js';
import { StackProtection, type ProtectionOptions, type ProtectionSettings } from './stack-protection.js';
import { isNewInviteOrRegister, isRequestBytes } from './peek.js';

export type { ProtectionOptions, ProtectionSettings } from './stack-protection.js';

export interface StackOptions {
  /** Where to listen; not used when `transport` is given. */
  listen: ListenPoint[];
  /** A transport of the caller's instead of sockets bound to `listen` (unit tests run on an in-memory network). */
  transport?: SipTransport;
  logger: Logger;
  /** Server / User-Agent value of every message this stack builds; '' leaves both headers out. Default 'hibiki'. */
  userAgent?: string;
  timers?: Partial<TimerConfig>;
  limits?: Partial<TransportLimits>;
  tls?: { rejectUnauthorized?: boolean };
  clock?: Clock;
  /** Host to put in Via/Contact when a listen point is bound to a wildcard address. */
  advertisedAddress?: string;
  /** Option tags we support (Require of anything else → 420); default 100rel and timer. */
  supported?: string[];
  acceptedTypes?: string[];
  /**
   * When 101–199 responses to INVITE are sent reliably (RFC 3262): only when the INVITE has
   * Require: 100rel (default), or also when it has Supported: 100rel.
   */
  reliableProvisionals?: ReliableProvisionalPolicy;
  /** RFC 4028 session timers for the dialogs of this stack; off when unset. */
  sessionTimer?: SessionTimerConfig;
  /** Flood and overload protection; off when unset. */
  protection?: ProtectionOptions;
}

export interface ProvisionalHandler {
  (res: SipResponse): void;
}

export class SipStack implements ResponseHost, DialogHost<Dialog> {
  readonly transport: SipTransport;
  readonly transactions: TransactionLayer;
  /** Messages received and sent, by method and status (/metrics). */
  readonly counters = new SipCounters();
  readonly dialogs: DialogLayer;
  readonly logger: Logger;
  /** Server / User-Agent value; '' leaves both headers out. Settable: a reload changes it for new messages. */
  userAgent: string;
  readonly clock: Clock;
  readonly reliableProvisionalPolicy: ReliableProvisionalPolicy;
  /** RFC 4028 settings; undefined when session timers are off. */
  readonly sessionTimerConfig: SessionTimerConfig | undefined;
  private handlers = new Map<string, RequestHandler>();
  private pendingInvites = new Map<ServerTransaction, ServerResponse>();
  /** An INVITE awaiting its final response keeps its connection open (it may ring for minutes, silently). */
  private readonly inviteFlows: ConnectionHolds<ServerTransaction>;
  private readonly policy: RequestCheckPolicy;
  private readonly inDialogPolicy: RequestCheckPolicy;
  private readonly addressing: LocalAddressing;
  private started = false;
  /** Which new requests get a transaction (the server-transaction bound, overload shedding). */
  readonly admission: RequestAdmission;
  private readonly protection: StackProtection;
  /** Datagrams dropped unparsed: from rate-limited sources, and new INVITEs/REGISTERs while saturated. */
  readonly dropped = { rateLimited: 0, saturated: 0 };

  constructor(opts: StackOptions) {
    this.logger = opts.logger;
    this.userAgent = opts.userAgent ?? 'hibiki';
    this.clock = opts.clock ?? systemClock(opts.logger);
    this.reliableProvisionalPolicy = opts.reliableProvisionals ?? 'required-only';
    this.sessionTimerConfig = opts.sessionTimer ? checkSessionTimer(opts.sessionTimer) : undefined;
    this.protection = new StackProtection(opts.protection ?? {}, { clock: this.clock, logger: opts.logger, pendingInvites: () => this.pendingInvites.size });
    this.transport =
      opts.transport ??
      new TransportLayer({
        listen: opts.listen,
        logger: opts.logger,
        limits: opts.limits,
        tls: opts.tls,
        clock: this.clock,
        admitConnection: (address) => !this.protection.limiter?.isBlocked(address),
      });
    this.addressing = new LocalAddressing(this.transport, opts.advertisedAddress);
    this.inviteFlows = new ConnectionHolds(this.transport, 'transaction');
    this.transactions = new TransactionLayer({
      send: (msg, target, cb) => {
        this.counters.sent(msg);
        this.transport.send(msg.toBuffer(), target, cb);
      },
      clock: this.clock,
      timers: opts.timers,
      logger: opts.logger,
    });
    this.dialogs = new DialogLayer(this);
    this.admission = new RequestAdmission({
      maxServerTransactions: this.protection.options.maxServerTransactions ?? 0,
      retryAfter: () => this.protection.retryAfter(),
      serverTransactions: () => this.transactions.size.server,
      knowsDialog: (req) => this.dialogs.knows(req),
      overload: () => this.protection.overload,
      logger: opts.logger,
    });
    ({ outOfDialog: this.policy, inDialog: this.inDialogPolicy } = stackPolicies(opts));
    this.transport.onMessage((data, source) => this.protection.takeProbe(data) || this.receive(data, source));
  }

  get timers(): TimerConfig {
    return this.transactions.timers;
  }

  async start(): Promise<void> {
    await this.transport.start();
    this.started = true;
    this.protection.start(this.admission, this.transport.listening());
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.inviteFlows.clear();
    this.protection.stop();
    this.dialogs.stop();
    this.transactions.stop();
    await this.transport.stop();
  }

  listening(): ListenPoint[] {
    return this.transport.listening();
  }

  /**
   * Set or change the protection limits (at start, and on a configuration reload): counts and blocks
   * in progress are kept. A limit left out is turned off.
   */
  updateProtection(settings: ProtectionSettings): void {
    this.protection.update(settings);
  }

  /** The overload state, for metrics and tests; undefined when overload control is off. */
  get overloadControl(): OverloadControl | undefined {
    return this.protection.overload;
  }

  /** The rate limiter, for metrics and tests; undefined when the limit is off. */
  get rateLimiter(): SourceRateLimiter | undefined {
    return this.protection.limiter;
  }

  /** Register the handler for a method ('*' catches methods without their own handler). */
  use(method: string, handler: RequestHandler): this {
    const m = method.toUpperCase();
    this.handlers.set(m, handler);
    if (m !== '*') this.policy.allowed.add(m);
    else for (const known of KNOWN_METHODS) this.policy.allowed.add(known);
    return this;
  }

  get allowHeader(): string {
    return [...this.policy.allowed].join(', ');
  }

  get supportedHeader(): string {
    return [...this.policy.supported].join(', ');
  }

  get acceptHeader(): string {
    return [...this.policy.acceptedTypes].join(', ');
  }

  /** @internal The sender of an INVITE's reliable provisionals (the dialog layer keeps them, for PRACK). */
  startReliableProvisionals(...args: Parameters<ResponseHost['startReliableProvisionals']>): ReliableProvisionalSender {
    return this.dialogs.startReliableProvisionals(...args);
  }

  /** @internal an INVITE got its final response: CANCEL can no longer apply to it. */
  forgetPending(tx: ServerTransaction): void {
    this.pendingInvites.delete(tx);
    this.inviteFlows.delete(tx);
  }

  /**
   * Puts the configured Server header on a response this stack sends (every response path calls this,
   * so none can leak another value), unless the application set one or the admin turned it off.
   */
  stampServer(res: SipResponse): SipResponse {
    if (this.userAgent !== '' && !res.has('server')) res.set('server', this.userAgent);
    return res;
  }

  // ---- incoming ------------------------------------------------------------

  /**
   * One message from the transport. Public so that tests can feed the stack without sockets; the
   * transport layer calls it for every datagram and every framed stream message.
   */
  receive(data: Buffer, source: TransportSource): void {
    const { limiter, overload } = this.protection;
    if (limiter && limiter.check(source.address, isRequestBytes(data)) === 'drop') {
      this.dropped.rateLimited++;
      // A stream cannot be answered without a reply: the connection of a blocked source is closed.
      if (source.connectionId !== undefined) this.transport.closeConnection(source.connectionId, 'source rate-limited');
      return;
    }
    if (overload?.saturated && isNewInviteOrRegister(data)) {
      this.dropped.saturated++;
      return;
    }
    this.onData(data, source);
  }

  private onData(data: Buffer, source: TransportSource): void {
    try {
      const parsed = parseMessage(data, { stream: source.transport === 'tcp' || source.transport === 'tls' });
      if (!parsed.ok) {
        if (parsed.isResponse) {
          this.logger.debug({ src: `${source.address}:${source.port}`, reason: parsed.reason }, 'dropped unparsable response');
          return;
        }
        if (!parsed.request || parsed.request.method === 'ACK') {
          this.logger.info({ src: `${source.address}:${source.port}`, reason: parsed.reason }, 'dropped unparsable request');
          return;
        }
        parsed.request.source = source;
        this.sendStateless(parsed.request, parsed.status, parsed.reason);
        return;
      }
      const msg = parsed.message;
      msg.source = source;
      this.counters.received(msg);
      if (msg instanceof SipResponse) this.onResponse(msg);
      else this.onRequest(msg);
    } catch (err) {
      // A bug must never take the server down because of one bad message.
      this.logger.error({ err, src: `${source.address}:${source.port}` }, 'error while handling a message');
    }
  }

  private sendStateless(req: SipRequest, status: number, reason?: string, headers: HeaderEntry[] = []): void {
    if (!req.has('via')) return;
    const res = buildStatelessResponse(req, status, reason, { headers });
    this.stampServer(res);
    const target = replyTarget(req);
    if (!target) return;
    this.counters.sent(res);
    this.transport.send(res.toBuffer(), target);
  }

  private onResponse(res: SipResponse): void {
    if (this.transactions.receiveResponse(res)) return;
    if (res.status >= 200 && res.status < 300 && res.cseq?.method === 'INVITE') {
      this.dialogs.onStray2xx(res);
      return;
    }
    this.logger.debug({ callId: res.callId, status: res.status }, 'response matched no transaction');
  }

  private onRequest(req: SipRequest): void {
    const outcome = this.transactions.receiveRequest(req, this.admission.decide);
    switch (outcome.kind) {
      case 'absorbed':
        return;
      case 'refused':
        this.refuse(req, outcome.refusal);
        return;
      case 'ack':
        if (isStatelessTag(outcome.req.toTag)) {
          // The ACK of a stateless non-2xx answer: there is nothing to acknowledge.
          if (this.logger.isLevelEnabled('debug')) this.logger.debug({ callId: req.callId }, 'ACK of a stateless answer absorbed');
          return;
        }
        this.dialogs.onAck(outcome.req);
        return;
      case 'cancel': {
        const invite = outcome.invite;
        // RFC 3261 §9.2: 481 only when no INVITE transaction matches; one that has already sent its final
        // response still gets 200 for the CANCEL, which then changes nothing.
        if (!invite) {
          outcome.tx.respond(this.stampServer(buildResponse(req, 481)));
          return;
        }
        outcome.tx.respond(this.stampServer(buildResponse(req, 200)));
        const pending = this.pendingInvites.get(invite);
        if (pending && !pending.finalResponseSent) {
          pending.cancelled();
        }
        return;
      }
      case 'new':
        this.dispatch(req, outcome.tx);
        return;
    }
  }

  /** A request the admission kept out: answered statelessly (never logged per request: floods come this way). */
  private refuse(req: SipRequest, refusal: Refusal): void {
    this.sendStateless(req, refusal.status, refusal.reason, refusal.headers);
  }

  private dispatch(req: SipRequest, tx: ServerTransaction): void {
    const res = new ServerResponse(this, req, tx);
    this.route(req, res, tx);
    // RFC 3261 §17.2.1: a 100 Trying once the TU has not answered at once — never ahead of a
    // challenge or refusal, which would cost one more datagram per request of a flood.
    if (req.method === 'INVITE' && !res.responded) tx.sendTrying();
  }

  private route(req: SipRequest, res: ServerResponse, tx: ServerTransaction): void {
    // The stack's own answers to out-of-dialog requests are stateless: they do nothing that a
    // retransmission could repeat, so keeping a transaction for them would only cost memory under a flood.
    const outOfDialog = req.toTag === undefined;
    const answer = outOfDialog ? res.sendStateless.bind(res) : res.send.bind(res);
    // Within a dialog the dialog layer answers every method it knows, whatever the application registered.
    const failure = checkRequest(req, outOfDialog ? this.policy : this.inDialogPolicy);
    if (failure) {
      answer(failure.status, undefined, { headers: failure.headers });
      return;
    }
    if (req.method === 'INVITE') {
      this.pendingInvites.set(tx, res);
      this.inviteFlows.set(tx, req.source?.connectionId);
      // Not a closure over `res`: lingering through Timer L it would keep the call alive (issue #13).
      tx.events = { ...tx.events, onTerminated: () => this.pendingInvites.get(tx)?.release() };
    }
    if (req.method === 'INVITE' && req.toTag === undefined && this.sessionTimerConfig) {
      const st = negotiateAsUas(req, this.sessionTimerConfig);
      if (st?.kind === 'reject') {
        // RFC 4028 §9: too short an interval is refused before the application sees the INVITE.
        res.sendStateless(422, 'Session Interval Too Small', { headers: { 'min-se': st.minSE } });
        return;
      }
      res.sessionTimer = st;
    }
    if (req.toTag !== undefined) {
      this.dialogs.onInDialogRequest(req, res);
      return;
    }
    const handler = this.handlers.get(req.method) ?? this.handlers.get('*');
    if (handler) {
      try {
        handler(req, res);
      } catch (err) {
        this.logger.error({ err, callId: req.callId, method: req.method }, 'request handler failed');
        if (!res.finalResponseSent) res.send(500);
      }
      return;
    }
    if (req.method === 'OPTIONS') {
      // RFC 3261 §11.2: Allow, Accept and Supported SHOULD be present; an empty Supported says "no extensions".
      res.sendStateless(200, undefined, {
        headers: { allow: this.allowHeader, accept: 'application/sdp', supported: this.supportedHeader },
      });
      return;
    }
    if (req.method === 'BYE') {
      res.sendStateless(481);
      return;
    }
    res.sendStateless(405, undefined, { headers: { allow: this.allowHeader } });
  }

  // ---- outgoing ------------------------------------------------------------

  /** The sent-by host to advertise for a listen point toward a remote address. */
  advertisedHost(point: ListenPoint, remoteAddress?: string): string {
    return this.addressing.advertisedHost(point, remoteAddress);
  }

  localPoint(transport: TransportName, remoteAddress?: string): { host: string; port: number; transport: TransportName } {
    return this.addressing.localPoint(transport, remoteAddress);
  }

  /** A Contact URI for this stack reachable over the given transport. */
  contactUri(transport: TransportName, remoteAddress?: string, user?: string): string {
    return this.addressing.contactUri(transport, remoteAddress, user);
  }

  /** Stamp a top Via for the target's transport and hand the request to a client transaction. */
  sendRequest(
    req: SipRequest,
    target: SendTarget,
    handlers: {
      onProvisional?: (res: SipResponse) => void;
      onFinal: (res: SipResponse) => void;
      onAdditional2xx?: (res: SipResponse) => void;
    },
  ): ClientTransaction {
    this.stampVia(req, target);
    if (!req.has('max-forwards')) req.set('max-forwards', 70);
    if (this.userAgent !== '' && !req.has('user-agent')) req.set('user-agent', this.userAgent);
    return this.transactions.sendRequest(req, target, {
      onProvisional: handlers.onProvisional,
      onFinal: handlers.onFinal,
      onAdditional2xx: handlers.onAdditional2xx,
      onTimeout: () => handlers.onFinal(this.syntheticResponse(req, 408)),
      onTransportError: (err) => {
        this.logger.debug({ callId: req.callId, err: err.message }, 'transport error on request');
        handlers.onFinal(this.syntheticResponse(req, 503));
      },
    });
  }

  /** Put a new top Via for the target's transport, with a fresh branch and rport (RFC 3581). */
  stampVia(req: SipRequest, target: SendTarget): void {
    req.prepend('via', this.addressing.topVia(target));
  }

  /** A locally generated final response (RFC 3261 §8.1.3.1: timeout → 408, transport error → 503). */
  syntheticResponse(req: SipRequest, status: number): SipResponse {
    const res = buildResponse(req, status);
    res.set('reason', `SIP;cause=${status};text="local"`);
    return res;
  }

  /** Build and send an out-of-dialog request; resolves with the final response. */
  async request(opts: RequestOptions, onProvisional?: ProvisionalHandler): Promise<SipResponse> {
    const req = this.buildRequest(opts);
    let target = opts.target;
    if (!target) {
      const routeUri = req.requestUri;
      if (!routeUri) throw new Error(`bad request URI ${opts.uri}`);
      target = await resolveTarget(routeUri);
    }
    const finalTarget = target;
    return new Promise<SipResponse>((resolve) => {
      this.sendRequest(req, finalTarget, { onProvisional, onFinal: resolve });
    });
  }

  buildRequest(opts: RequestOptions): SipRequest {
    const uri = parseUri(opts.uri);
    if (!uri) throw new Error(`bad request URI ${opts.uri}`);
    const req = new SipRequest(opts.method.toUpperCase(), opts.uri);
    const from = opts.from ?? `<sip:hibiki@${hostOf(uri)}>`;
    req.set('from', from.includes(';tag=') ? from : `${from};tag=${newTag()}`);
    req.set('to', opts.to ?? formatNameAddr({ uri, params: new Map() }));
    req.set('call-id', opts.callId ?? `${newTag()}${newTag()}`);
    req.set('cseq', `${opts.cseq ?? 1} ${req.method}`);
    req.set('max-forwards', 70);
    for (const [k, v] of headerEntries(opts.headers)) {
      // Single-valued headers given by the caller replace the defaults above.
      if (k === 'max-forwards' || k === 'call-id' || k === 'cseq') req.set(k, v);
      else req.add(k, v);
    }
    if (opts.body !== undefined) req.body = typeof opts.body === 'string' ? Buffer.from(opts.body, 'utf8') : opts.body;
    return req;
  }

  /** Answer an INVITE with 2xx and get the dialog (drachtio's createUAS). */
  createUAS(req: SipRequest, res: ServerResponse, opts: UasOptions = {}): Dialog {
    return this.dialogs.createUAS(req, res, opts);
  }

  /** Send an INVITE and get the dialog on 2xx (drachtio's createUAC); rejects with UacError. */
  createUAC(opts: UacOptions): Promise<Dialog> {
    return this.dialogs.createUAC(opts);
  }

  /** Send a message outside any transaction (ACK for 2xx, 2xx retransmissions). */
  sendRaw(msg: SipRequest | SipResponse, target: SendTarget): void {
    this.counters.sent(msg);
    this.transport.send(msg.toBuffer(), target);
  }
}

function hostOf(uri: Uri): string {
  if (uri.scheme === 'sip' || uri.scheme === 'sips') {
    const host = (uri as { host: string }).host;
    return host.includes(':') ? `[${host}]` : host;
  }
  return 'invalid';
}
