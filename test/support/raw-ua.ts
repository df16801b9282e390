// A small SIP test UA for end-to-end tests: it sends hand-built SIP text over UDP, TCP or TLS
// and collects what comes back, parsed with hibiki's own parser. It knows just enough SIP to
// run a digest registration, ACK a failed INVITE and answer keep-alive OPTIONS; everything
// else is left to the test, which may send any bytes it likes.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { parseMessage } from '../../src/sip/parser.js';
import { SipRequest, SipResponse, type HeaderEntry } from '../../src/sip/message.js';
import { headerDisplayName, headerKey } from '../../src/sip/headers.js';
import { StreamFramer } from '../../src/sip/transport/stream-framer.js';
import { buildAuthorization, parseAuthParams } from '../../src/sip/digest.js';

export type RawTransport = 'udp' | 'tcp' | 'tls';
export type SipMessage = SipRequest | SipResponse;

export interface RawUaOptions {
  /** hibiki's port for this transport. */
  port: number;
  host?: string;
  transport?: RawTransport;
  /** Local address to bind (UDP) or connect from (TCP); default 127.0.0.1. */
  localHost?: string;
}

export interface RequestSpec {
  method: string;
  uri: string;
  /** Full From value; default `<sip:{user}@hibiki.test>;tag=…`. */
  from?: string;
  /** Full To value; default `<{uri}>`. */
  to?: string;
  callId?: string;
  cseq?: number;
  /** Full Contact value, or null for none. Default: this UA's address, with `user` when given. */
  contact?: string | null;
  user?: string;
  /** Extra header lines, e.g. `Expires: 600`. */
  headers?: string[];
  body?: string;
  branch?: string;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface RegisterSpec {
  user: string;
  /** Password; without it the first 401 is returned as the final answer. */
  password?: string;
  /** Username to authenticate as, when it is not `user` (third-party registration). */
  authUser?: string;
  /** Contact value; default `<sip:{user}@{local address}:{port};transport=…>`. null sends none. */
  contact?: string | null;
  expires?: number;
  /** Which challenge to answer when several are offered; default the first. */
  algorithm?: 'MD5' | 'SHA-256';
  callId?: string;
  /** CSeq of the first REGISTER (the authenticated one uses the next number). */
  cseq?: number;
  headers?: string[];
}

export interface RegisterResult {
  /** The challenge (or whatever the first REGISTER got). */
  challenge: SipResponse;
  /** The answer to the authenticated REGISTER; equals `challenge` when there was none to answer. */
  final: SipResponse;
  /** The Authorization value sent, if any. */
  authorization?: string;
  callId: string;
}

interface Waiter {
  match: (m: SipMessage) => boolean;
  resolve: (m: SipMessage | undefined) => void;
  timer: NodeJS.Timeout;
}

const DOMAIN = 'hibiki.test';

export function randomToken(bytes = 6): string {
  return randomBytes(bytes).toString('hex');
}

/** Every line of a text message ends in CRLF on the wire; builders here write `\n` for brevity. */
export function crlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

/** The challenge values of a 401/407, optionally only those for one algorithm. */
export function challenges(res: SipResponse, algorithm?: 'MD5' | 'SHA-256'): string[] {
  const values = res.getAll(res.status === 407 ? 'proxy-authenticate' : 'www-authenticate');
  if (!algorithm) return values;
  return values.filter((v) => (parseAuthParams(v)?.params.get('algorithm') ?? 'MD5').toUpperCase() === algorithm);
}

/** One auth parameter of a challenge or credentials value. */
export function authParam(value: string, name: string): string | undefined {
  return parseAuthParams(value)?.params.get(name);
}

export class RawUa {
  readonly transport: RawTransport;
  readonly serverHost: string;
  readonly serverPort: number;
  localAddress = '';
  localPort = 0;
  /** Every message received, in arrival order (responses hibiki's parser refuses read loosely). */
  readonly messages: SipMessage[] = [];
  /** What arrived and hibiki's parser refused, as received. */
  readonly unparsable: Buffer[] = [];
  /**
   * Status for keep-alive OPTIONS from the server; null leaves them unanswered (a device
   * that went away).
   */
  optionsAnswer: number | null = 200;
  /** Requests from the server other than OPTIONS: answered with this status, or left alone when null. */
  otherRequestAnswer: number | null = null;

  private udp: UdpSocket | undefined;
  private stream: Socket | undefined;
  private framer: StreamFramer | undefined;
  private waiters = new Set<Waiter>();
  private closedFlag = false;
  private closeWaiters: Array<() => void> = [];
  private cseqCounter = 1;

  private constructor(opts: RawUaOptions) {
    this.transport = opts.transport ?? 'udp';
    this.serverHost = opts.host ?? '127.0.0.1';
    this.serverPort = opts.port;
  }

  static async open(opts: RawUaOptions): Promise<RawUa> {
    const ua = new RawUa(opts);
    await ua.connect(opts.localHost ?? '127.0.0.1');
    return ua;
  }

  /** True once the socket is closed, by us or (stream transports) by the server. */
  get closed(): boolean {
    return this.closedFlag;
  }

  private connect(localHost: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.transport === 'udp') {
        const s = createSocket(this.serverHost.includes(':') ? 'udp6' : 'udp4');
        this.udp = s;
        s.once('error', reject);
        s.on('message', (data) => this.onData(data, false));
        s.on('close', () => this.markClosed());
        s.bind(0, localHost, () => {
          s.off('error', reject);
          // A late ICMP "port unreachable" must not throw out of the test.
          s.on('error', () => undefined);
          const a = s.address();
          this.localAddress = a.address;
          this.localPort = a.port;
          resolve();
        });
        return;
      }
      this.framer = new StreamFramer({ maxMessageBytes: 1024 * 1024, maxPendingBytes: 4 * 1024 * 1024 });
      const onConnected = (): void => {
        socket.off('error', reject);
        socket.on('error', () => undefined);
        this.localAddress = socket.localAddress ?? '';
        this.localPort = socket.localPort ?? 0;
        resolve();
      };
      const socket =
        this.transport === 'tls'
          ? tlsConnect({ host: this.serverHost, port: this.serverPort, rejectUnauthorized: false }, onConnected)
          : netConnect({ host: this.serverHost, port: this.serverPort, localAddress: localHost }, onConnected);
      this.stream = socket;
      socket.once('error', reject);
      socket.on('data', (chunk: Buffer) => this.onStreamData(chunk));
      socket.on('close', () => this.markClosed());
    });
  }

  // ---- sending -------------------------------------------------------------------------

  /** Sends bytes as they are: one datagram over UDP, a write on a stream. */
  send(data: string | Buffer): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return new Promise<void>((resolve, reject) => {
      if (this.udp) {
        this.udp.send(buf, this.serverPort, this.serverHost, (err) => (err ? reject(err) : resolve()));
      } else if (this.stream && !this.closedFlag) {
        this.stream.write(buf, (err) => (err ? reject(err) : resolve()));
      } else {
        reject(new Error('raw UA socket is closed'));
      }
    });
  }

  /** The sent-by of this UA's Via, e.g. `127.0.0.1:40000`. */
  get sentBy(): string {
    const host = this.localAddress.includes(':') ? `[${this.localAddress}]` : this.localAddress;
    return `${host}:${this.localPort}`;
  }

  /** The Via this UA puts on its requests (RFC 3581 rport, RFC 3261 magic-cookie branch). */
  via(branch = `z9hG4bK${randomToken()}`): string {
    return `Via: SIP/2.0/${this.transport.toUpperCase()} ${this.sentBy};rport;branch=${branch}`;
  }

  /** A Contact URI reaching this UA. */
  contactUri(user?: string): string {
    const t = this.transport === 'udp' ? '' : `;transport=${this.transport}`;
    return `sip:${user ? `${user}@` : ''}${this.sentBy}${t}`;
  }

  nextCSeq(): number {
    return this.cseqCounter++;
  }

  /** Builds a well-formed request as text (CRLF line ends, Content-Length set). */
  buildRequest(spec: RequestSpec): string {
    const body = spec.body ?? '';
    const cseq = spec.cseq ?? this.nextCSeq();
    const contact = spec.contact === undefined ? `<${this.contactUri(spec.user)}>` : spec.contact;
    const lines = [
      `${spec.method} ${spec.uri} SIP/2.0`,
      this.via(spec.branch),
      'Max-Forwards: 70',
      `From: ${spec.from ?? `<sip:${spec.user ?? 'raw'}@${DOMAIN}>;tag=${randomToken()}`}`,
      `To: ${spec.to ?? `<${spec.uri}>`}`,
      `Call-ID: ${spec.callId ?? `${randomToken(8)}@${this.localAddress}`}`,
      `CSeq: ${cseq} ${spec.method}`,
      ...(contact !== null ? [`Contact: ${contact}`] : []),
      'User-Agent: hibiki-raw-ua',
      ...(spec.headers ?? []),
      `Content-Length: ${Buffer.byteLength(body)}`,
    ];
    return lines.join('\r\n') + '\r\n\r\n' + body;
  }

  /**
   * Sends a request (text) and resolves with its final response, matched on Call-ID and CSeq.
   * Over UDP the request is retransmitted like Timer E/A would (500 ms doubling up to 4 s), so
   * a datagram lost in a flood does not fail a test. A non-2xx final response to an INVITE is
   * ACKed (RFC 3261 §17.1.1.3).
   */
  async request(text: string, timeoutMs = 3000): Promise<SipResponse> {
    const parsed = parseMessage(Buffer.from(text, 'utf8'), { stream: this.transport !== 'udp' });
    if (!parsed.ok || !(parsed.message instanceof SipRequest)) throw new Error('raw UA: request() needs a well-formed request');
    const req = parsed.message;
    const cseq = req.cseq;
    if (!cseq) throw new Error('raw UA: request without CSeq');
    const waiting = this.waitFor((m) => m instanceof SipResponse && m.status >= 200 && m.callId === req.callId && m.cseq?.seq === cseq.seq && m.cseq.method === cseq.method, timeoutMs);
    await this.send(text);
    let retransmit: NodeJS.Timeout | undefined;
    if (this.transport === 'udp') {
      let interval = 500;
      const again = (): void => {
        retransmit = setTimeout(() => {
          this.send(text).catch(() => undefined);
          interval = Math.min(interval * 2, 4000);
          again();
        }, interval);
      };
      again();
    }
    const res = await waiting.finally(() => clearTimeout(retransmit));
    if (!(res instanceof SipResponse)) throw new Error(`raw UA: no final response to ${req.method} ${req.callId} within ${timeoutMs} ms`);
    if (req.method === 'INVITE' && res.status >= 300) await this.send(ackFor(req, res));
    return res;
  }

  /** Registers with digest authentication: REGISTER, 401, REGISTER with Authorization. */
  async register(spec: RegisterSpec): Promise<RegisterResult> {
    const uri = `sip:${DOMAIN}`;
    const callId = spec.callId ?? `${randomToken(8)}@${this.localAddress}`;
    const from = `<sip:${spec.user}@${DOMAIN}>;tag=${randomToken()}`;
    const to = `<sip:${spec.user}@${DOMAIN}>`;
    const contact = spec.contact === undefined ? `<${this.contactUri(spec.user)}>` : spec.contact;
    const headers = [...(spec.expires !== undefined ? [`Expires: ${spec.expires}`] : []), ...(spec.headers ?? [])];
    const cseq = spec.cseq ?? this.nextCSeq();
    const first = await this.request(this.buildRequest({ method: 'REGISTER', uri, from, to, callId, cseq, contact, headers }));
    if (first.status !== 401 || spec.password === undefined) return { challenge: first, final: first, callId };
    const offered = challenges(first, spec.algorithm);
    const challenge = offered[0];
    if (challenge === undefined) throw new Error(`raw UA: no ${spec.algorithm ?? ''} challenge in the 401`);
    const authorization = buildAuthorization(challenge, { username: spec.authUser ?? spec.user, password: spec.password }, 'REGISTER', uri);
    this.cseqCounter = Math.max(this.cseqCounter, cseq + 2);
    const final = await this.request(this.buildRequest({ method: 'REGISTER', uri, from, to, callId, cseq: cseq + 1, contact, headers: [...headers, `Authorization: ${authorization}`] }));
    return { challenge: first, final, authorization, callId };
  }

  // ---- receiving -----------------------------------------------------------------------

  /** Resolves with the first message (already received or arriving) that matches, or undefined on timeout. */
  waitFor(match: (m: SipMessage) => boolean, timeoutMs = 3000): Promise<SipMessage | undefined> {
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        match,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          resolve(undefined);
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  responses(callId?: string): SipResponse[] {
    return this.messages.filter((m): m is SipResponse => m instanceof SipResponse && (callId === undefined || m.callId === callId));
  }

  requests(method?: string): SipRequest[] {
    return this.messages.filter((m): m is SipRequest => m instanceof SipRequest && (method === undefined || m.method === method));
  }

  /** Resolves true once the socket is closed, false if it is still open after timeoutMs. */
  waitClosed(timeoutMs = 3000): Promise<boolean> {
    if (this.closedFlag) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private onStreamData(chunk: Buffer): void {
    const framer = this.framer;
    if (!framer) return;
    for (const event of framer.push(chunk)) {
      if (event.kind === 'message') this.onData(event.data, true);
    }
  }

  private onData(data: Buffer, stream: boolean): void {
    const parsed = parseMessage(data, { stream });
    let msg: SipMessage | undefined;
    if (parsed.ok) {
      msg = parsed.message;
    } else {
      // An error response echoes the request's headers, broken ones included (a 400 for a
      // malformed To copies that To): keep it, read loosely, so tests can still match it.
      this.unparsable.push(data);
      msg = looseResponse(data);
      if (!msg) return;
    }
    this.messages.push(msg);
    if (msg instanceof SipRequest) this.answerServerRequest(msg);
    for (const w of this.waiters) {
      if (!w.match(msg)) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve(msg);
    }
  }

  private answerServerRequest(req: SipRequest): void {
    if (req.method === 'ACK') return;
    const status = req.method === 'OPTIONS' ? this.optionsAnswer : this.otherRequestAnswer;
    if (status === null) return;
    this.send(responseTo(req, status)).catch(() => undefined);
  }

  private markClosed(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const fn of this.closeWaiters.splice(0)) fn();
  }

  async close(): Promise<void> {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(undefined);
    }
    this.waiters.clear();
    if (this.closedFlag) return;
    const closed = this.waitClosed(2000);
    if (this.udp) this.udp.close();
    else this.stream?.destroy();
    await closed;
  }
}

/** A response to a request from the server, with the headers RFC 3261 §8.2.6.2 copies. */
export function responseTo(req: SipRequest, status: number, reason = status < 300 ? 'OK' : 'Error'): string {
  const lines = [`SIP/2.0 ${status} ${reason}`];
  for (const [k, v] of req.headers) {
    if (k === 'via' || k === 'from' || k === 'call-id' || k === 'cseq') lines.push(`${headerDisplayName(k)}: ${v}`);
    if (k === 'to') lines.push(`To: ${v}${req.toTag === undefined ? `;tag=${randomToken()}` : ''}`);
  }
  lines.push('Content-Length: 0');
  return lines.join('\r\n') + '\r\n\r\n';
}

/** The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): top Via, To with the response's tag. */
export function ackFor(req: SipRequest, res: SipResponse): string {
  const lines = [
    `ACK ${req.uri} SIP/2.0`,
    `Via: ${req.getAll('via')[0] ?? ''}`,
    'Max-Forwards: 70',
    `From: ${req.get('from') ?? ''}`,
    `To: ${res.get('to') ?? req.get('to') ?? ''}`,
    `Call-ID: ${req.callId}`,
    `CSeq: ${req.cseq?.seq ?? 0} ACK`,
    'Content-Length: 0',
  ];
  return lines.join('\r\n') + '\r\n\r\n';
}

/**
 * A response read with no validation: status line, then header lines (folded lines joined,
 * names mapped to hibiki's keys). Undefined when the first line is not a SIP/2.0 status line.
 */
export function looseResponse(data: Buffer): SipResponse | undefined {
  const text = data.toString('utf8');
  const headEnd = text.search(/\r?\n\r?\n/);
  const lines = (headEnd < 0 ? text : text.slice(0, headEnd)).split(/\r?\n/);
  const status = /^SIP\/2\.0 ([1-6][0-9][0-9])(?: (.*))?$/i.exec(lines.shift() ?? '');
  if (!status) return undefined;
  const headers: HeaderEntry[] = [];
  for (const line of lines) {
    const last = headers[headers.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.push([headerKey(line.slice(0, colon).trim()), line.slice(colon + 1).trim()]);
  }
  return new SipResponse(Number(status[1]), status[2] ?? '', headers);
}
