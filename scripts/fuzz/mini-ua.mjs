// @ts-check
// The few well-behaved SIP clients `npm run fuzz` needs beside the fuzzer: a phone that checks
// hibiki still answers OPTIONS and accepts a digest registration, and a callee that answers every
// INVITE with 486 so fuzzed calls get a second leg and still end at once. Built on hibiki's own
// parser, stream framer and digest code from dist/ (the script runs after `npm run build`).
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';

/**
 * @typedef {typeof import('../../src/sip/parser.js')} ParserModule
 * @typedef {typeof import('../../src/sip/digest.js')} DigestModule
 * @typedef {typeof import('../../src/sip/transport/stream-framer.js')} FramerModule
 * @typedef {typeof import('../../src/sip/message.js')} MessageModule
 * @typedef {import('../../src/sip/message.js').SipRequest} SipRequest
 * @typedef {import('../../src/sip/message.js').SipResponse} SipResponse
 */

const dist = (/** @type {string} */ path) => new URL(`../../dist/${path}`, import.meta.url).href;
const { parseMessage } = /** @type {ParserModule} */ (await import(dist('sip/parser.js')));
const { buildAuthorization } = /** @type {DigestModule} */ (await import(dist('sip/digest.js')));
const { StreamFramer } = /** @type {FramerModule} */ (await import(dist('sip/transport/stream-framer.js')));
const { SipRequest, SipResponse } = /** @type {MessageModule} */ (await import(dist('sip/message.js')));

const token = () => randomBytes(6).toString('hex');
/** The callee's answer: G.711 and telephone-event at a port nothing listens on (no RTP flows). */
const SDP = ['v=0', 'o=callee 1 1 IN IP4 HOST', 's=-', 'c=IN IP4 HOST', 't=0 0', 'm=audio 9 RTP/AVP 0 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');

/**
 * @typedef {object} MiniUaOptions
 * @property {'udp' | 'tcp'} transport
 * @property {string} host
 * @property {number} port
 * @property {string} localAddress
 * @property {string} domain
 */

export class MiniUa {
  /** @param {MiniUaOptions} opts */
  constructor(opts) {
    this.opts = opts;
    this.sentBy = '';
    /**
     * As a callee: 486 refuses every INVITE; 200 answers it with SDP (and every other request
     * with 200), so fuzzed calls get established; null leaves requests alone.
     * @type {486 | 200 | null}
     */
    this.answerInvites = null;
    /** @type {Set<(m: SipRequest | SipResponse) => void>} */
    this.listeners = new Set();
    /** @type {(data: Buffer) => void} */
    this.write = () => undefined;
    /** @type {() => void} */
    this.close = () => undefined;
  }

  /** @param {MiniUaOptions} opts */
  static async open(opts) {
    const ua = new MiniUa(opts);
    await (opts.transport === 'udp' ? ua.openUdp() : ua.openTcp());
    return ua;
  }

  async openUdp() {
    const o = this.opts;
    const sock = createSocket('udp4');
    sock.on('error', () => undefined);
    sock.on('message', (/** @type {Buffer} */ d) => this.receive(d, false));
    await new Promise((resolve) => sock.bind(0, o.localAddress, () => resolve(undefined)));
    this.sentBy = `${o.localAddress}:${sock.address().port}`;
    this.write = (data) => sock.send(data, o.port, o.host);
    this.close = () => sock.close();
  }

  async openTcp() {
    const o = this.opts;
    const framer = new StreamFramer({ maxMessageBytes: 1024 * 1024, maxPendingBytes: 4 * 1024 * 1024 });
    /** @type {import('node:net').Socket} */
    const sock = await new Promise((resolve, reject) => {
      const s = connect({ host: o.host, port: o.port, localAddress: o.localAddress }, () => resolve(s));
      s.once('error', reject);
    });
    sock.on('error', () => undefined);
    sock.on('data', (/** @type {Buffer} */ chunk) => {
      for (const event of framer.push(chunk)) if (event.kind === 'message') this.receive(event.data, true);
    });
    this.sentBy = `${sock.localAddress}:${sock.localPort}`;
    this.write = (data) => sock.write(data);
    this.close = () => sock.destroy();
  }

  /** @param {Buffer} data @param {boolean} stream */
  receive(data, stream) {
    const parsed = parseMessage(data, { stream });
    if (!parsed.ok) return;
    const msg = parsed.message;
    if (msg instanceof SipRequest && this.answerInvites !== null && msg.method !== 'ACK') {
      if (msg.method === 'INVITE') this.write(Buffer.from(this.responseTo(msg, this.answerInvites)));
      else if (this.answerInvites === 200) this.write(Buffer.from(this.responseTo(msg, 200)));
    }
    for (const l of this.listeners) l(msg);
  }

  /** @param {SipRequest} req @param {number} status */
  responseTo(req, status) {
    const lines = [`SIP/2.0 ${status} ${status === 200 ? 'OK' : 'Busy Here'}`];
    for (const [k, v] of req.headers) {
      if (k === 'via') lines.push(`Via: ${v}`);
      else if (k === 'from') lines.push(`From: ${v}`);
      else if (k === 'to') lines.push(`To: ${v}${req.toTag === undefined ? `;tag=${token()}` : ''}`);
      else if (k === 'call-id') lines.push(`Call-ID: ${v}`);
      else if (k === 'cseq') lines.push(`CSeq: ${v}`);
    }
    const body = status === 200 && req.method === 'INVITE' ? SDP.replace('HOST', this.opts.localAddress) : '';
    if (status === 200) lines.push(`Contact: <sip:callee@${this.sentBy}${this.opts.transport === 'tcp' ? ';transport=tcp' : ''}>`);
    if (body) lines.push('Content-Type: application/sdp');
    return lines.join('\r\n') + `\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  }

  /**
   * Sends a request and resolves with its final response (retransmitted over UDP), or undefined.
   * @param {{ method: string, uri: string, callId: string, cseq: number, from: string, to: string, headers?: string[] }} spec
   * @param {number} timeoutMs
   * @returns {Promise<SipResponse | undefined>}
   */
  request(spec, timeoutMs) {
    const o = this.opts;
    const text = [
      `${spec.method} ${spec.uri} SIP/2.0`,
      `Via: SIP/2.0/${o.transport.toUpperCase()} ${this.sentBy};rport;branch=z9hG4bK${token()}`,
      'Max-Forwards: 70',
      `From: ${spec.from}`,
      `To: ${spec.to}`,
      `Call-ID: ${spec.callId}`,
      `CSeq: ${spec.cseq} ${spec.method}`,
      `Contact: <sip:fuzz-check@${this.sentBy}${o.transport === 'tcp' ? ';transport=tcp' : ''}>`,
      ...(spec.headers ?? []),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const data = Buffer.from(text);
    return new Promise((resolve) => {
      /** @type {NodeJS.Timeout | undefined} */
      let again;
      const done = (/** @type {SipResponse | undefined} */ res) => {
        clearTimeout(timer);
        clearTimeout(again);
        this.listeners.delete(listener);
        resolve(res);
      };
      const listener = (/** @type {SipRequest | SipResponse} */ m) => {
        if (m instanceof SipResponse && m.status >= 200 && m.callId === spec.callId && m.cseq?.seq === spec.cseq) done(m);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.listeners.add(listener);
      let interval = 500;
      const send = () => {
        this.write(data);
        if (o.transport !== 'udp') return;
        again = setTimeout(send, interval);
        interval = Math.min(2 * interval, 4000);
      };
      send();
    });
  }

  /** OPTIONS to hibiki: its status, or undefined when there was no answer. */
  async options(timeoutMs = 5000) {
    const d = this.opts.domain;
    const res = await this.request({ method: 'OPTIONS', uri: `sip:${d}`, callId: `${token()}@fuzz-check`, cseq: 1, from: `<sip:fuzz-check@${d}>;tag=${token()}`, to: `<sip:${d}>` }, timeoutMs);
    return res?.status;
  }

  /**
   * REGISTER, 401, REGISTER with credentials: the final status, or undefined on silence.
   * @param {{ user: string, password: string, expires: number }} spec
   */
  async register(spec, timeoutMs = 5000) {
    const d = this.opts.domain;
    const base = { method: 'REGISTER', uri: `sip:${d}`, callId: `${token()}@fuzz-check`, from: `<sip:${spec.user}@${d}>;tag=${token()}`, to: `<sip:${spec.user}@${d}>` };
    const headers = [`Expires: ${spec.expires}`];
    const first = await this.request({ ...base, cseq: 1, headers }, timeoutMs);
    if (first?.status !== 401) return first?.status;
    const challenge = first.getAll('www-authenticate')[0];
    if (!challenge) return 401;
    const authorization = buildAuthorization(challenge, { username: spec.user, password: spec.password }, 'REGISTER', base.uri);
    const final = await this.request({ ...base, cseq: 2, headers: [...headers, `Authorization: ${authorization}`] }, timeoutMs);
    return final?.status;
  }
}
