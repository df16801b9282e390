// A test phone for the call-core unit tests: a real SipStack (transactions, dialogs, CANCEL, re-INVITE) on the
// in-memory network, with SDP from the real SDP code and no RTP at all. What the phone's user hears and types
// lives in the test media engine, on the PBX endpoint the phone's SDP points at: press() types digits there,
// and the test asks the engine what that endpoint plays or is bridged to.
import type { Logger } from 'pino';
import { SipStack } from '../../src/sip/stack.js';
import { type ServerResponse } from '../../src/sip/server-response.js';
import type { SipRequest, SipResponse } from '../../src/sip/message.js';
import { UacError } from '../../src/sip/dialog-layer.js';
import type { Dialog } from '../../src/sip/dialog.js';
import type { SendTarget } from '../../src/sip/transport/types.js';
import type { HeaderInput } from '../../src/sip/response-builder.js';
import type { Clock } from '../../src/util/clock.js';
import type { SessionTimerConfig } from '../../src/sip/session-timer.js';
import { MediaError, type Codec, type Direction, type DtmfSource, type EndpointId } from '../../src/media/engine.js';
import { DEFAULT_TELEPHONE_EVENT_PT, answerOffer, buildOffer } from '../../src/media/sdp.js';
import type { MemoryTransport } from './sip-network.js';

/** What a phone needs of the PBX's media engine: find the endpoint it talks to, and type on it. */
export interface PbxMedia {
  endpointAt(port: number): EndpointId | undefined;
  press(id: EndpointId, digits: string, source?: DtmfSource): void;
}

export interface PhoneOptions {
  /** The user part of From and Contact (an extension number, or a carrier's name). */
  user: string;
  domain: string;
  /** Where calls go (the PBX). */
  pbx: SendTarget;
  /** An address of its own (a trunk's host); otherwise the network picks one. */
  address?: string;
  codecs?: Codec[];
  /** RFC 4028 session timers on the phone's dialogs (as phones that support `timer`); off by default. */
  sessionTimer?: SessionTimerConfig;
}

/** The port of the (first) audio stream of an SDP body. */
function audioPort(sdp: string | undefined): number | undefined {
  const m = sdp ? /^m=audio (\d+)/m.exec(sdp) : null;
  return m ? Number(m[1]) : undefined;
}

/** The phone's side of SDP: a port per call, the real offer/answer code, session versions that move on. */
class PhoneSdp {
  private version = 0;

  constructor(
    private readonly address: string,
    readonly port: number,
    private readonly codecs: Codec[],
  ) {}

  private local(direction: Direction) {
    return { address: this.address, port: this.port, sessionId: String(this.port), sessionVersion: ++this.version, direction };
  }

  offer(direction: Direction = 'sendrecv'): string {
    return buildOffer(this.local(direction), { codecs: this.codecs, telephoneEventPt: DEFAULT_TELEPHONE_EVENT_PT, direction });
  }

  /** Our answer, or undefined when nothing in the offer is acceptable (488). */
  answer(offer: string, direction: Direction = 'sendrecv'): string | undefined {
    try {
      return answerOffer(offer, { ...this.local(direction), codecs: this.codecs }).sdp;
    } catch (err) {
      if (err instanceof MediaError) return undefined;
      throw err;
    }
  }
}

export class Phone {
  readonly stack: SipStack;
  /** INVITEs that arrived and that the test has not taken yet (takeCall). */
  readonly incoming: IncomingCall[] = [];
  private nextPort = 40000;

  constructor(
    readonly opts: PhoneOptions,
    readonly transport: MemoryTransport,
    private readonly media: PbxMedia,
    clock: Clock,
    logger: Logger,
  ) {
    this.stack = new SipStack({ listen: [], transport, clock, logger, userAgent: `test-phone/${opts.user}`, sessionTimer: opts.sessionTimer });
    this.stack.use('INVITE', (req, res) => this.incoming.push(new IncomingCall(this, req, res)));
  }

  get user(): string {
    return this.opts.user;
  }

  get address(): SendTarget {
    return this.transport.target;
  }

  /** The Contact a registration of this phone holds. */
  get contact(): string {
    return `sip:${this.user}@${this.address.address}:${this.address.port}`;
  }

  /** @internal */
  sdp(): PhoneSdp {
    return new PhoneSdp(this.address.address, (this.nextPort += 2), this.opts.codecs ?? ['PCMU', 'PCMA']);
  }

  /** @internal */
  endpointFor(sdp: string | undefined): EndpointId | undefined {
    const port = audioPort(sdp);
    return port === undefined ? undefined : this.media.endpointAt(port);
  }

  /** @internal */
  press(sdp: string | undefined, digits: string, source?: DtmfSource): void {
    const ep = this.endpointFor(sdp);
    if (ep === undefined) throw new Error(`${this.user}: no PBX media endpoint to type on`);
    this.media.press(ep, digits, source);
  }

  /** Dial a number through the PBX (From: this phone's user). */
  dial(number: string, opts: { sdp?: string; headers?: HeaderInput; from?: string } = {}): OutgoingCall {
    return new OutgoingCall(this, number, opts);
  }

  /** The oldest INVITE not taken yet; throws when none has arrived. */
  takeCall(): IncomingCall {
    const call = this.incoming.shift();
    if (!call) throw new Error(`no incoming call at ${this.user}`);
    return call;
  }

  start(): Promise<void> {
    return this.stack.start();
  }

  stop(): Promise<void> {
    return this.stack.stop();
  }
}

/** An INVITE the phone sent and the PBX has not answered finally yet. */
export class OutgoingCall {
  /** Statuses of the provisional responses, in order. */
  readonly provisional: number[] = [];
  /** The answered call, once the PBX answered. */
  call: PhoneCall | undefined;
  /** The final non-2xx response, once the PBX refused. */
  failure: SipResponse | undefined;
  readonly answered: Promise<PhoneCall>;
  private readonly media: PhoneSdp;
  private cancelHandle: (() => void) | undefined;
  private cancelWanted = false;
  private earlySdp: string | undefined;

  constructor(
    private readonly phone: Phone,
    readonly number: string,
    opts: { sdp?: string; headers?: HeaderInput; from?: string },
  ) {
    const { domain, pbx, user } = phone.opts;
    this.media = phone.sdp();
    this.answered = phone.stack
      .createUAC({
        uri: `sip:${number}@${domain}`,
        target: pbx,
        localSdp: opts.sdp ?? this.media.offer(),
        headers: opts.headers,
        from: opts.from ?? `<sip:${user}@${domain}>`,
        onProvisional: (r) => {
          this.provisional.push(r.status);
          if (r.body.length > 0) this.earlySdp = r.body.toString('utf8');
        },
        onRequestSent: (h) => {
          this.cancelHandle = h.cancel;
          if (this.cancelWanted) h.cancel();
        },
      })
      .then(
        (dialog) => {
          const call = new PhoneCall(phone, dialog, this.media);
          this.call = call;
          // The 200 crossed our CANCEL: the call exists, so end it with BYE (RFC 3261 §9.1).
          if (this.cancelWanted) call.hangup();
          return call;
        },
        (err: unknown) => {
          if (err instanceof UacError) this.failure = err.response;
          throw err;
        },
      );
    // A test that expects a failure may look at `failure` rather than await `answered`.
    this.answered.catch(() => undefined);
  }

  /** The final status: 200 when answered, the refusal's status, or undefined while pending. */
  get status(): number | undefined {
    return this.call ? 200 : this.failure?.status;
  }

  /** The Reason header of the refusal (Q.850 cause). */
  get reason(): string | undefined {
    return this.failure?.get('reason');
  }

  /** The PBX endpoint of early media (183 with SDP). */
  get earlyEndpoint(): EndpointId | undefined {
    return this.phone.endpointFor(this.earlySdp);
  }

  /** CANCEL (sent once a provisional response has arrived, RFC 3261 §9.1). */
  cancel(): void {
    this.cancelWanted = true;
    this.cancelHandle?.();
  }
}

/** An INVITE that reached the phone and has no final response yet. */
export class IncomingCall {
  cancelled = false;
  /** The answer, once the phone answered. */
  call: PhoneCall | undefined;
  private readonly media: PhoneSdp;

  constructor(
    private readonly phone: Phone,
    readonly request: SipRequest,
    private readonly res: ServerResponse,
  ) {
    this.media = phone.sdp();
    res.onCancel(() => (this.cancelled = true));
  }

  get from(): string | undefined {
    return this.request.get('from');
  }

  /** The PBX endpoint the offer points at (what this phone will talk to). */
  get endpoint(): EndpointId | undefined {
    return this.phone.endpointFor(this.request.body.toString('utf8'));
  }

  private contact(): HeaderInput {
    return { contact: `<${this.phone.contact}>` };
  }

  ring(status = 180): void {
    this.res.send(status, undefined, { headers: this.contact() });
  }

  /** 183 with our answer: early media. */
  progress(): void {
    const answer = this.media.answer(this.request.body.toString('utf8'));
    this.res.send(183, undefined, { headers: { ...this.contact(), 'content-type': 'application/sdp' }, body: answer });
  }

  answer(): PhoneCall {
    const offer = this.request.body.toString('utf8');
    const sdp = this.media.answer(offer);
    if (!sdp) {
      this.res.send(488);
      throw new Error(`${this.phone.user}: no codec in common with the offer: answered 488`);
    }
    const dialog = this.phone.stack.createUAS(this.request, this.res, { localSdp: sdp, headers: this.contact() });
    this.call = new PhoneCall(this.phone, dialog, this.media);
    return this.call;
  }

  reject(status = 486): void {
    this.res.send(status);
  }
}

/** An established call at the phone. */
export class PhoneCall {
  ended: { by: 'remote' | 'local'; reason?: string } | undefined;
  /** Bodies of the NOTIFYs received (REFER progress). */
  readonly notifies: string[] = [];
  /** Directions the PBX offered in re-INVITEs it sent. */
  readonly reoffers: Direction[] = [];
  private holding = false;

  constructor(
    private readonly phone: Phone,
    readonly dialog: Dialog,
    private readonly media: PhoneSdp,
  ) {
    dialog.on('destroy', (req) => {
      this.ended ??= { by: req ? 'remote' : 'local', reason: req?.get('reason') };
    });
    dialog.on('modify', (req, res) => {
      const offer = req.body.toString('utf8');
      const dir = /^a=(sendrecv|sendonly|recvonly|inactive)/m.exec(offer)?.[1] as Direction | undefined;
      this.reoffers.push(dir ?? 'sendrecv');
      const sdp = offer ? this.media.answer(offer, this.holding ? 'sendonly' : 'sendrecv') : this.media.offer();
      if (!sdp) return void res.send(488);
      res.send(200, undefined, { headers: { contact: `<${phone.contact}>`, 'content-type': 'application/sdp' }, body: sdp });
    });
    dialog.on('notify', (req, res) => {
      this.notifies.push(req.body.toString('utf8'));
      res.send(200);
    });
  }

  /** The PBX endpoint this phone talks to. */
  get endpoint(): EndpointId {
    const ep = this.phone.endpointFor(this.dialog.remote.sdp);
    if (ep === undefined) throw new Error(`${this.phone.user}: the PBX's SDP names no known endpoint`);
    return ep;
  }

  /** Keys pressed on the phone (RFC 4733 on the media stream). */
  press(digits: string): void {
    this.phone.press(this.dialog.remote.sdp, digits);
  }

  /** Digits sent as SIP INFO (application/dtmf-relay), one request each. */
  async info(digits: string): Promise<void> {
    for (const d of digits) await this.dialog.request({ method: 'INFO', headers: { 'content-type': 'application/dtmf-relay' }, body: `Signal=${d}\r\nDuration=160\r\n` });
  }

  /** BYE (the BYE leaves now; its response comes later). */
  hangup(): void {
    if (this.ended) return;
    this.ended = { by: 'local' };
    void this.dialog.destroy();
  }

  /** Hold by re-INVITE with a=sendonly (RFC 3264 §8.4). */
  hold(): Promise<SipResponse> {
    this.holding = true;
    return this.dialog.modify(this.media.offer('sendonly'));
  }

  resume(): Promise<SipResponse> {
    this.holding = false;
    return this.dialog.modify(this.media.offer('sendrecv'));
  }

  /** A phone's transfer key: REFER to `target` (a number, or a full Refer-To value). */
  refer(target: string): Promise<SipResponse> {
    const referTo = target.startsWith('<') ? target : `<sip:${target}@${this.phone.opts.domain}>`;
    return this.dialog.request({ method: 'REFER', headers: { 'refer-to': referTo } });
  }
}
