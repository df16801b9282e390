// SIP.js calls in Node with real RTP. SIP.js hands media to a SessionDescriptionHandler (its default
// one drives a browser's WebRTC stack); this one is a plain RTP/AVP endpoint instead: a UDP socket
// whose port goes into a G.711 + telephone-event SDP (the test UA's RtpPeer), so hibiki's media engine
// relays real packets to and from a SIP.js client over its WebSocket signalling.
import {
  SessionDescriptionHandlerError,
  Invitation,
  Inviter,
  SessionState,
  UserAgent,
  type BodyAndContentType,
  type Session,
  type SessionDescriptionHandler,
  type SessionDescriptionHandlerFactory,
} from 'sip.js';
import { ChangeSignal, RtpPeer, type RtpPeerOptions } from './rtp-peer.js';
import { startSipJsClient, type SipJsClient, type SipJsClientOptions } from './sipjs-client.js';

type OfferAnswerState = 'stable' | 'have-local-offer' | 'have-remote-offer';

const SDP = 'application/sdp';

/** RFC 3264 offer/answer for one SIP.js session over an RtpPeer, opened on first use. */
export class RtpSessionDescriptionHandler implements SessionDescriptionHandler {
  /** Every SDP produced (local) and applied (remote), in order, for assertions. */
  readonly exchanged: Array<{ side: 'local' | 'remote'; sdp: string }> = [];
  private peer: RtpPeer | undefined;
  private opening: Promise<RtpPeer> | undefined;
  private state: OfferAnswerState = 'stable';
  private pendingAnswer: string | undefined;
  private closed = false;

  constructor(private readonly opts: RtpPeerOptions = {}) {}

  /** The RTP endpoint, once the first offer or answer opened it. */
  get rtp(): RtpPeer | undefined {
    return this.peer;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private async open(): Promise<RtpPeer> {
    if (this.closed) throw new SessionDescriptionHandlerError('session description handler closed');
    this.opening ??= RtpPeer.open(this.opts).then((peer) => {
      // close() may have come while the socket was being bound.
      if (this.closed) peer.close();
      else this.peer = peer;
      return peer;
    });
    const peer = await this.opening;
    if (this.closed) throw new SessionDescriptionHandlerError('session description handler closed');
    return peer;
  }

  async getDescription(): Promise<BodyAndContentType> {
    const peer = await this.open();
    let body: string;
    if (this.state === 'have-remote-offer' && this.pendingAnswer !== undefined) {
      body = this.pendingAnswer;
      this.pendingAnswer = undefined;
      this.state = 'stable';
    } else {
      body = peer.createOffer();
      this.state = 'have-local-offer';
    }
    this.exchanged.push({ side: 'local', sdp: body });
    return { body, contentType: SDP };
  }

  hasDescription(contentType: string): boolean {
    return (contentType.split(';')[0] ?? '').trim().toLowerCase() === SDP;
  }

  async setDescription(sdp: string): Promise<void> {
    const peer = await this.open();
    this.exchanged.push({ side: 'remote', sdp });
    if (this.state === 'have-local-offer') {
      if (!peer.applyAnswer(sdp)) throw new Error(`unusable SDP answer:\n${sdp}`);
      this.state = 'stable';
      return;
    }
    const answer = peer.answerOffer(sdp);
    if (answer === undefined) throw new Error(`no G.711 codec in common with the SDP offer:\n${sdp}`);
    this.pendingAnswer = answer;
    this.state = 'have-remote-offer';
  }

  async rollbackDescription(): Promise<void> {
    this.peer?.discardOffer();
    this.pendingAnswer = undefined;
    this.state = 'stable';
  }

  /** RFC 4733 digits on the negotiated telephone-event payload type; false when there is none. */
  sendDtmf(tones: string): boolean {
    const peer = this.peer;
    if (!peer || peer.remote?.telephoneEventPt === undefined) return false;
    peer.sendDtmf(tones).catch(() => undefined);
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.peer?.close();
  }
}

/** A factory for UserAgentOptions.sessionDescriptionHandlerFactory; `handlers` lists every one it made. */
export function rtpSessionDescriptionHandlerFactory(opts: RtpPeerOptions = {}): {
  factory: SessionDescriptionHandlerFactory;
  handlers: RtpSessionDescriptionHandler[];
} {
  const handlers: RtpSessionDescriptionHandler[] = [];
  const factory: SessionDescriptionHandlerFactory = () => {
    const h = new RtpSessionDescriptionHandler(opts);
    handlers.push(h);
    return h;
  };
  return { factory, handlers };
}

/** The RTP endpoint of a session whose media was negotiated by an RtpSessionDescriptionHandler. */
export function rtpOf(session: Session): RtpPeer {
  const sdh = session.sessionDescriptionHandler;
  if (!(sdh instanceof RtpSessionDescriptionHandler)) throw new Error('the session has no RTP session description handler');
  const peer = sdh.rtp;
  if (!peer) throw new Error('the session has not negotiated media yet');
  return peer;
}

/** Resolves when the session reaches `wanted`; rejects when it terminates first or the time runs out. */
export function waitForSessionState(session: Session, wanted: SessionState, timeoutMs: number, why: () => string = () => ''): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (session.state === wanted) {
      resolve();
      return;
    }
    const done = (err?: Error): void => {
      clearTimeout(timer);
      session.stateChange.removeListener(listener);
      if (err) reject(err);
      else resolve();
    };
    const listener = (state: SessionState): void => {
      if (state === wanted) done();
      else if (state === SessionState.Terminated) done(new Error(`session terminated before ${wanted} ${why()}`));
    };
    const timer = setTimeout(() => done(new Error(`session not ${wanted} within ${timeoutMs} ms (state ${session.state}) ${why()}`)), timeoutMs);
    session.stateChange.addListener(listener);
  });
}

/** An established SIP.js call and its media. */
export class SipJsCall {
  /** The peer sent BYE (set before the session reaches Terminated). */
  byeReceived = false;
  private readonly terminated: Promise<void>;

  constructor(
    readonly session: Session,
    readonly rtp: RtpPeer,
  ) {
    session.delegate = { ...session.delegate, onBye: () => (this.byeReceived = true) };
    this.terminated = new Promise<void>((resolve) => {
      if (session.state === SessionState.Terminated) resolve();
      session.stateChange.addListener((s) => {
        if (s === SessionState.Terminated) resolve();
      });
    });
  }

  /** Send BYE and wait until the session is over. */
  async hangup(timeoutMs = 5000): Promise<void> {
    await this.session.bye();
    await this.waitForEnd(timeoutMs);
  }

  /** Wait until the session is over (BYE sent or received). */
  async waitForEnd(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`SIP.js session still ${this.session.state} after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.terminated, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface SipJsPhone extends SipJsClient {
  /** The media handlers of every session so far. */
  readonly handlers: RtpSessionDescriptionHandler[];
  /** Call a number at the client's domain; resolves once established, rejects with the final status otherwise. */
  call(number: string, timeoutMs?: number): Promise<SipJsCall>;
  /** The next INVITE that arrived (or arrives within the timeout) and was not taken yet. */
  waitForInvitation(timeoutMs?: number): Promise<Invitation>;
  /** Send 180, then accept with an SDP answer; resolves once established. */
  answer(invitation: Invitation, timeoutMs?: number): Promise<SipJsCall>;
}

export interface SipJsPhoneOptions extends Omit<SipJsClientOptions, 'sessionDescriptionHandlerFactory' | 'delegate'> {
  rtp?: RtpPeerOptions;
}

/** A SIP.js user agent that can place and take calls with real RTP. */
export async function startSipJsPhone(opts: SipJsPhoneOptions): Promise<SipJsPhone> {
  const { factory, handlers } = rtpSessionDescriptionHandlerFactory(opts.rtp);
  const invitations: Invitation[] = [];
  const changed = new ChangeSignal();
  const domain = opts.domain ?? 'hibiki.test';
  const client = await startSipJsClient({
    ...opts,
    sessionDescriptionHandlerFactory: factory,
    delegate: {
      onInvite: (invitation) => {
        invitations.push(invitation);
        changed.notify();
      },
    },
  });
  const trace = () => `\n${client.logs.slice(-40).join('\n')}`;

  return {
    ...client,
    handlers,
    async call(number, timeoutMs = 8000) {
      const target = UserAgent.makeURI(`sip:${number}@${domain}`);
      if (!target) throw new Error(`bad SIP.js target ${number}`);
      const inviter = new Inviter(client.ua, target);
      let rejected: number | undefined;
      const established = waitForSessionState(inviter, SessionState.Established, timeoutMs, () => (rejected ? `(final response ${rejected})` : trace()));
      established.catch(() => undefined);
      await inviter.invite({ requestDelegate: { onReject: (r) => (rejected = r.message.statusCode) } });
      await established;
      return new SipJsCall(inviter, rtpOf(inviter));
    },
    waitForInvitation(timeoutMs = 5000) {
      return changed.waitFor(
        () => invitations.shift(),
        timeoutMs,
        () => `an INVITE at SIP.js ${opts.user}`,
      );
    },
    async answer(invitation, timeoutMs = 5000) {
      await invitation.progress();
      const established = waitForSessionState(invitation, SessionState.Established, timeoutMs, trace);
      established.catch(() => undefined);
      await invitation.accept();
      await established;
      return new SipJsCall(invitation, rtpOf(invitation));
    },
    async stop() {
      await client.stop();
      // SIP.js closes handlers when sessions end; sockets of sessions it never finished close here.
      for (const h of handlers) h.close();
    },
  };
}
