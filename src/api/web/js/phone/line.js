// The browser phone's SIP side: one SIP.js UserAgent registered over hibiki's WebSocket as an extension, at
// most one call on screen plus one consultation call (attended transfer), and the media of a call (remote
// audio to an <audio> element, mute, DTMF as RFC 4733 through the peer connection). The UI listens to
// `change` events and reads the state; nothing here touches the DOM but the audio element it is given.
import { Inviter, Registerer, RegistererState, SessionState, UserAgent } from '/vendor/sip.js/index.js';

/** How long logging in waits for the WebSocket and for the REGISTER's answer. */
const REGISTER_TIMEOUT_MS = 15_000;

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Call states the UI shows. */
const SHOWN = {
  [SessionState.Initial]: 'calling',
  [SessionState.Establishing]: 'calling',
  [SessionState.Established]: 'talking',
  [SessionState.Terminating]: 'ended',
  [SessionState.Terminated]: 'ended',
};

export class PhoneLine extends EventTarget {
  /**
   * @param {{extension: string, password: string, domain: string, server: string, audio: HTMLAudioElement}} opts
   */
  constructor(opts) {
    super();
    this.opts = opts;
    this.registered = false;
    /** The call on screen: {session, direction: 'in'|'out', peer, state, held, muted}. */
    this.call = undefined;
    /** An incoming call waiting to be answered. */
    this.incoming = undefined;
    /** The consultation call of an attended transfer (the first call is on hold meanwhile). */
    this.consult = undefined;
    /** {number, reason} of the last call that failed, until the page has shown it. */
    this.lastError = undefined;
    this.ua = new UserAgent({
      uri: UserAgent.makeURI(`sip:${opts.extension}@${opts.domain}`),
      authorizationUsername: opts.extension,
      authorizationPassword: opts.password,
      transportOptions: { server: opts.server, traceSip: false },
      logLevel: 'warn',
      sessionDescriptionHandlerFactoryOptions: { iceGatheringTimeout: 500, peerConnectionConfiguration: { iceServers: [] } },
      delegate: { onInvite: (invitation) => this.onInvite(invitation), onDisconnect: (err) => this.onDisconnect(err) },
    });
    // +sip.ice (RFC 5768): hibiki offers this device WebRTC (ICE, DTLS-SRTP) when it rings.
    this.registerer = new Registerer(this.ua, { extraContactHeaderParams: ['+sip.ice'] });
    this.registerer.stateChange.addListener((s) => {
      this.registered = s === RegistererState.Registered;
      this.changed();
    });
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }

  /** Connects and registers; rejects with the reason when hibiki refuses (wrong password: 401/403). */
  /**
   * Connects and registers; rejects with the reason when hibiki refuses (wrong password: 401/403), when the
   * WebSocket cannot be opened (a certificate the browser does not trust yet), or with no answer in 15 s.
   * Whatever fails, nothing is left running.
   */
  async start() {
    try {
      await withTimeout(this.ua.start(), REGISTER_TIMEOUT_MS, 'no WebSocket connection');
      await withTimeout(
        new Promise((resolve, reject) => {
          this.registerer
            .register({
              requestDelegate: {
                onAccept: () => resolve(),
                onReject: (res) => reject(new Error(`${res.message.statusCode} ${res.message.reasonPhrase}`)),
              },
            })
            .catch(reject);
        }),
        REGISTER_TIMEOUT_MS,
        'no answer to REGISTER',
      );
    } catch (err) {
      await this.ua.stop().catch(() => undefined);
      throw err;
    }
  }

  async stop() {
    for (const c of [this.consult, this.call, this.incoming]) if (c) this.end(c);
    try {
      await this.registerer.unregister();
    } catch {
      // Already gone: the socket closed.
    }
    await this.ua.stop();
  }

  onDisconnect(err) {
    this.registered = false;
    this.changed();
    if (!err) return;
    // The WebSocket dropped: reconnect and register again, a few times, then leave it to the user.
    let tries = 0;
    const retry = () => {
      if (tries++ >= 5) return;
      this.ua
        .reconnect()
        .then(() => this.registerer.register())
        .catch(() => setTimeout(retry, 2000 * tries));
    };
    setTimeout(retry, 1000);
  }

  /** Calls a number (extension, feature code, outside number). */
  dial(number) {
    const target = UserAgent.makeURI(`sip:${encodeURIComponent(number)}@${this.opts.domain}`);
    if (!target) throw new Error(`not a number: ${number}`);
    const inviter = new Inviter(this.ua, target, { sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } } });
    const call = this.track(inviter, 'out', number);
    const failed = (reason) => {
      // Shown once by the page: why the last call did not connect (busy, 503 when the media relay is down).
      this.lastError = { number, reason };
      this.changed();
    };
    inviter.invite({ requestDelegate: { onReject: (r) => failed(`${r.message.statusCode} ${r.message.reasonPhrase}`) } }).catch((err) => failed(err.message));
    return call;
  }

  onInvite(invitation) {
    if (this.incoming || (this.call && this.consult)) {
      invitation.reject({ statusCode: 486 });
      return;
    }
    const from = invitation.remoteIdentity;
    this.incoming = this.track(invitation, 'in', from.uri.user ?? '', from.displayName);
    this.incoming.state = 'ringing';
    this.changed();
  }

  track(session, direction, peer, name) {
    const call = { session, direction, peer, name, state: 'calling', held: false, muted: false, startedAt: Date.now() };
    session.stateChange.addListener((s) => {
      call.state = SHOWN[s] ?? call.state;
      if (s === SessionState.Established) {
        call.answeredAt = Date.now();
        this.attachAudio(call);
      }
      if (s === SessionState.Terminated) this.forget(call);
      this.changed();
    });
    if (direction === 'out') {
      if (this.call && !this.consult) this.consult = call;
      else this.call = call;
    }
    return call;
  }

  forget(call) {
    if (this.incoming === call) this.incoming = undefined;
    if (this.consult === call) this.consult = undefined;
    if (this.call === call) {
      // The first call ended while consulting: the consultation becomes the call.
      this.call = this.consult;
      this.consult = undefined;
    }
    if (this.call && this.call.state === 'talking') this.attachAudio(this.call);
  }

  /** The remote audio of a call plays in the page's audio element. */
  attachAudio(call) {
    const pc = call.session.sessionDescriptionHandler?.peerConnection;
    if (!pc) return;
    const stream = new MediaStream();
    for (const r of pc.getReceivers()) if (r.track) stream.addTrack(r.track);
    this.opts.audio.srcObject = stream;
    this.opts.audio.play().catch(() => undefined);
  }

  async answer() {
    const call = this.incoming;
    if (!call) return;
    // A call in progress is held first; if that fails the new call is still waiting on screen.
    if (this.call) await this.setHeld(this.call, true);
    this.incoming = undefined;
    if (this.call) this.consult = call;
    else this.call = call;
    await call.session.accept({ sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } } });
    this.changed();
  }

  decline() {
    const call = this.incoming;
    if (!call) return;
    call.session.reject({ statusCode: 486 });
  }

  end(call = this.consult ?? this.call) {
    if (!call) return;
    const s = call.session;
    if (s.state === SessionState.Established) s.bye();
    else if (s.state === SessionState.Initial || s.state === SessionState.Establishing) {
      if (s instanceof Inviter) s.cancel();
      else s.reject();
    }
  }

  /** Hold (re-INVITE a=sendonly; hibiki plays music to the other party) or resume. */
  async setHeld(call, held) {
    if (!call || call.state !== 'talking' || call.held === held) return;
    call.session.sessionDescriptionHandlerOptionsReInvite = { hold: held };
    await new Promise((resolve, reject) => {
      call.session.invite({ requestDelegate: { onAccept: () => resolve(), onReject: (r) => reject(new Error(`${r.message.statusCode}`)) } }).catch(reject);
    });
    call.held = held;
    this.changed();
  }

  setMuted(call, muted) {
    const pc = call?.session.sessionDescriptionHandler?.peerConnection;
    if (!pc) return;
    for (const s of pc.getSenders()) if (s.track) s.track.enabled = !muted;
    call.muted = muted;
    this.changed();
  }

  /**
   * Keypad digits during a call: RFC 4733 telephone-events (hibiki's feature codes read them). Queued after
   * the digits still being sent: insertDTMF alone would replace them, losing keys pressed quickly.
   */
  sendDigits(call, digits) {
    const pc = call?.session.sessionDescriptionHandler?.peerConnection;
    const dtmf = pc?.getSenders().find((s) => s.track?.kind === 'audio')?.dtmf;
    if (!dtmf || !dtmf.canInsertDTMF) return false;
    dtmf.insertDTMF(dtmf.toneBuffer + digits, 120, 80);
    return true;
  }

  /** Blind transfer with the phone's own REFER: the other party is sent to `number`, this phone leaves. */
  async referTo(call, number) {
    const target = UserAgent.makeURI(`sip:${encodeURIComponent(number)}@${this.opts.domain}`);
    await this.refer(call, target);
  }

  /** REFER on the call; resolves once hibiki accepted it (202), then this phone leaves the call. */
  refer(call, target) {
    return new Promise((resolve, reject) => {
      call.session
        .refer(target, {
          requestDelegate: {
            onAccept: () => {
              this.end(call);
              resolve();
            },
            onReject: (r) => reject(new Error(`REFER: ${r.message.statusCode} ${r.message.reasonPhrase}`)),
          },
        })
        .catch(reject);
    });
  }

  /** Attended transfer: put the call on hold and call the target (the consultation). */
  async consultTo(number) {
    if (!this.call || this.consult) return;
    await this.setHeld(this.call, true);
    this.dial(number);
  }

  /** Completes an attended transfer: REFER with Replaces joins the held party and the target. */
  async completeTransfer() {
    const { call, consult } = this;
    if (!call || !consult) return;
    await this.refer(call, consult.session);
  }
}
