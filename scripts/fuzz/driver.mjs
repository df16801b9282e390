// @ts-check
// Sends mutated messages to a running hibiki over UDP and TCP, in batches, each batch followed by a
// barrier: an OPTIONS from another loopback address that hibiki answers only once it has read
// everything queued before it (one UDP socket is one FIFO). So the run never overruns the kernel's
// receive buffer, and every message counted as sent was also read and handled, which is what makes
// "20,000 messages" mean something. TCP writes wait for the kernel to take them; a connection the
// server closes (it does, on a framing error) is reopened, and connections are rotated so that one
// Content-Length lie does not swallow the rest of the run as a body.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { fuzzMessage } from './mutator.mjs';

/**
 * @typedef {import('./corpus.mjs').CorpusEntry} CorpusEntry
 * @typedef {import('./mutator.mjs').FuzzMessage} FuzzMessage
 * @typedef {'udp' | 'tcp'} Transport
 * @typedef {FuzzMessage & { transport: Transport }} SentMessage
 *
 * @typedef {object} DriverOptions
 * @property {string} host              hibiki's address
 * @property {number} udpPort
 * @property {number} tcpPort
 * @property {Transport | 'both'} transport
 * @property {number} seed
 * @property {number} count             messages to send
 * @property {number} [first]           index of the first message (default 0)
 * @property {readonly number[]} [only] send exactly these indexes instead of first…first+count-1
 * @property {readonly CorpusEntry[]} corpus
 * @property {string} domain
 * @property {readonly string[]} users
 * @property {string} [localAddress]    where the fuzz traffic comes from (default 127.0.0.66)
 * @property {string} [barrierAddress]  where the barrier OPTIONS come from (default 127.0.0.67)
 * @property {number} [batchSize]       messages between barriers (default 100)
 * @property {number} [tcpConnections]  connections used at once (default 4)
 * @property {number} [tcpRotate]       messages per connection before it is replaced (default 64)
 * @property {number} [barrierTimeoutMs] how long one barrier attempt waits (default 2000)
 * @property {boolean} [learnTags]  remember the To tags of hibiki's answers to the fuzzer's INVITEs and
 *   use them in later messages of the same Call-ID, so in-dialog requests reach the calls they belong
 *   to (the bytes then depend on hibiki's answers: --replay, not --index, reproduces them)
 * @property {(batch: SentMessage[]) => Promise<boolean | void> | boolean | void} [afterBatch]
 *   runs after each barrier; false stops the run
 *
 * @typedef {object} DriverStats
 * @property {number} udp              datagrams sent
 * @property {number} tcp              messages written on TCP
 * @property {number} bytes
 * @property {number} tcpConnects
 * @property {number} tcpClosedByServer
 * @property {number} tcpWriteErrors
 * @property {number} udpResponses     datagrams hibiki sent back to the fuzzer
 * @property {Record<string, number>} statuses  those datagrams by status code ('request' for requests)
 * @property {number} tcpResponseBytes
 * @property {number} barriers
 * @property {number} barrierTimeouts  barrier attempts that got no answer in time (retried)
 * @property {number} barrierFailures  barriers given up on after every retry
 * @property {boolean} stopped         afterBatch asked to stop
 */

/** Largest datagram the fuzzer sends (UDP over IPv4 carries at most 65,507 bytes). */
export const UDP_MAX_BYTES = 65_000;
/** Largest TCP message: beyond hibiki's default sip.maxMessageBytes, so that limit is met too. */
export const TCP_MAX_BYTES = 100_000;

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @param {import('node:dgram').Socket} sock @param {string} address */
function bind(sock, address) {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, address, () => {
      sock.off('error', reject);
      resolve(undefined);
    });
  });
}

class TcpLane {
  /** @param {FuzzDriver} driver */
  constructor(driver) {
    this.driver = driver;
    /** @type {import('node:net').Socket | undefined} */
    this.socket = undefined;
    this.closed = true;
    this.carried = 0;
    this.sentBy = '';
  }

  /** A connected socket, reopened when the server closed the last one or it carried its share. */
  async ready() {
    const o = this.driver.opts;
    if (this.socket && !this.closed && !this.socket.destroyed && this.carried < (o.tcpRotate ?? 64)) return;
    this.socket?.destroy();
    const stats = this.driver.stats;
    const socket = await new Promise((resolve, reject) => {
      const s = connect({ host: o.host, port: o.tcpPort, localAddress: o.localAddress ?? '127.0.0.66' }, () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    stats.tcpConnects++;
    this.socket = socket;
    this.closed = false;
    this.carried = 0;
    this.sentBy = `${socket.localAddress}:${socket.localPort}`;
    socket.on('data', (/** @type {Buffer} */ d) => (stats.tcpResponseBytes += d.length));
    // A reset is how a server may end a hostile connection: not an error of the run.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket !== socket) return;
      if (!this.closed && !this.driver.closing) stats.tcpClosedByServer++;
      this.closed = true;
    });
  }

  /**
   * Resolves false only when the socket was already closed (the message did not go out).
   * @param {Buffer} bytes
   * @returns {Promise<boolean>}
   */
  write(bytes) {
    const socket = this.socket;
    if (!socket || this.closed || socket.destroyed) return Promise.resolve(false);
    this.carried++;
    return new Promise((resolve) => {
      socket.write(bytes, (err) => {
        if (err) this.driver.stats.tcpWriteErrors++;
        resolve(true);
      });
    });
  }

  close() {
    this.closed = true;
    this.socket?.destroy();
  }
}

export class FuzzDriver {
  /** @param {DriverOptions} opts */
  constructor(opts) {
    this.opts = opts;
    /** @type {DriverStats} */
    this.stats = {
      udp: 0,
      tcp: 0,
      bytes: 0,
      tcpConnects: 0,
      tcpClosedByServer: 0,
      tcpWriteErrors: 0,
      udpResponses: 0,
      statuses: {},
      tcpResponseBytes: 0,
      barriers: 0,
      barrierTimeouts: 0,
      barrierFailures: 0,
      stopped: false,
    };
    this.closing = false;
    this.udp = createSocket('udp4');
    this.barrierSock = createSocket('udp4');
    this.udpSentBy = '';
    /** @type {TcpLane[]} */
    this.lanes = [];
    /** @type {Map<string, () => void>} */
    this.barrierWaiters = new Map();
    /** @type {Map<string, string>} Call-ID → To tag of hibiki's answer to an INVITE */
    this.tags = new Map();
  }

  /** @param {Buffer} data a datagram from hibiki */
  learn(data) {
    const text = data.toString('latin1', 0, Math.min(data.length, 4096));
    // 18x and 2xx carry the tag hibiki chose; a 100 only echoes what the request said.
    if (!/^SIP\/2\.0 (?:18\d|2\d\d)/.test(text) || !/^(?:CSeq)[ \t]*:[ \t]*\d+[ \t]+INVITE/im.test(text)) return;
    const callId = /^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)/im.exec(text)?.[1];
    const tag = /^(?:To|t)[ \t]*:[^\r\n]*;[ \t]*tag=([^;>\s]+)/im.exec(text)?.[1];
    if (!callId || !tag || this.tags.has(callId)) return;
    // Bounded: only the recent groups matter.
    if (this.tags.size >= 10_000) this.tags.clear();
    this.tags.set(callId, tag);
  }

  async open() {
    const o = this.opts;
    // Late ICMP "port unreachable" reports must not end the run.
    this.udp.on('error', () => undefined);
    this.barrierSock.on('error', () => undefined);
    this.udp.on('message', (/** @type {Buffer} */ data) => {
      this.stats.udpResponses++;
      if (this.opts.learnTags) this.learn(data);
      const status = /^SIP\/2\.0 (\d{3})/.exec(data.toString('latin1', 0, 12))?.[1] ?? 'request';
      this.stats.statuses[status] = (this.stats.statuses[status] ?? 0) + 1;
    });
    this.barrierSock.on('message', (/** @type {Buffer} */ data) => {
      const m = /branch=(z9hG4bKbarrier[0-9a-z]+)/.exec(data.toString('latin1'));
      const done = m && this.barrierWaiters.get(m[1] ?? '');
      if (done) done();
    });
    await bind(this.udp, o.localAddress ?? '127.0.0.66');
    await bind(this.barrierSock, o.barrierAddress ?? '127.0.0.67');
    const a = this.udp.address();
    this.udpSentBy = `${a.address}:${a.port}`;
    const lanes = o.transport === 'udp' ? 0 : (o.tcpConnections ?? 4);
    for (let i = 0; i < lanes; i++) this.lanes.push(new TcpLane(this));
  }

  /** @param {number} index @returns {Transport} */
  transportOf(index) {
    const t = this.opts.transport;
    return t === 'both' ? (index % 2 === 0 ? 'udp' : 'tcp') : t;
  }

  /** @param {number} index */
  laneOf(index) {
    const lane = this.lanes[Math.floor(index / 2) % this.lanes.length];
    if (!lane) throw new Error('no TCP lane');
    return lane;
  }

  /** @param {number} index @returns {Promise<SentMessage>} */
  async send(index) {
    const o = this.opts;
    const transport = this.transportOf(index);
    const lane = transport === 'tcp' ? this.laneOf(index) : undefined;
    if (lane) await lane.ready();
    const msg = fuzzMessage({
      seed: o.seed,
      index,
      corpus: o.corpus,
      sentBy: lane ? lane.sentBy : this.udpSentBy,
      transport: transport === 'tcp' ? 'TCP' : 'UDP',
      domain: o.domain,
      users: o.users,
      maxBytes: transport === 'tcp' ? TCP_MAX_BYTES : UDP_MAX_BYTES,
      learnedTag: o.learnTags ? (callId) => this.tags.get(callId) : undefined,
    });
    this.stats.bytes += msg.bytes.length;
    if (lane) {
      // A write that fails after the socket took it was (at least partly) read: typically the
      // message itself made the server close the connection (too large, a bad Content-Length).
      let written = await lane.write(msg.bytes);
      // The server closed the connection (after an earlier message) before this one went out.
      if (!written) {
        await lane.ready();
        written = await lane.write(msg.bytes);
      }
      if (written) this.stats.tcp++;
    } else {
      await new Promise((resolve) => this.udp.send(msg.bytes, o.udpPort, o.host, () => resolve(undefined)));
      this.stats.udp++;
    }
    return { ...msg, transport };
  }

  /** OPTIONS from the barrier address; resolves true once answered. Retried, since UDP may lose it. */
  async barrier() {
    const o = this.opts;
    this.stats.barriers++;
    const a = this.barrierSock.address();
    for (let attempt = 0; attempt < 3; attempt++) {
      const branch = `z9hG4bKbarrier${this.stats.barriers.toString(36)}x${attempt}`;
      const msg = [
        `OPTIONS sip:${o.host}:${o.udpPort} SIP/2.0`,
        `Via: SIP/2.0/UDP ${a.address}:${a.port};rport;branch=${branch}`,
        'Max-Forwards: 70',
        `From: <sip:barrier@${o.domain}>;tag=b${this.stats.barriers}`,
        `To: <sip:${o.domain}>`,
        `Call-ID: barrier-${this.stats.barriers}-${attempt}@fuzz.invalid`,
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      const answered = await new Promise((resolve) => {
        const timer = setTimeout(() => {
          this.barrierWaiters.delete(branch);
          resolve(false);
        }, o.barrierTimeoutMs ?? 2000);
        this.barrierWaiters.set(branch, () => {
          clearTimeout(timer);
          this.barrierWaiters.delete(branch);
          resolve(true);
        });
        this.barrierSock.send(msg, o.udpPort, o.host);
      });
      if (answered) return true;
      this.stats.barrierTimeouts++;
    }
    this.stats.barrierFailures++;
    return false;
  }

  /** Sends every message, batch by batch. */
  async run() {
    const o = this.opts;
    const indexes = o.only ?? Array.from({ length: o.count }, (_, i) => (o.first ?? 0) + i);
    const batchSize = o.batchSize ?? 100;
    for (let b = 0; b < indexes.length; b += batchSize) {
      const batch = indexes.slice(b, b + batchSize);
      // One message per lane at a time keeps each TCP stream in index order.
      /** @type {SentMessage[]} */
      const sent = [];
      for (const index of batch) sent.push(await this.send(index));
      await this.barrier();
      if (o.afterBatch && (await o.afterBatch(sent)) === false) {
        this.stats.stopped = true;
        break;
      }
    }
    return this.stats;
  }

  async close() {
    this.closing = true;
    for (const lane of this.lanes) lane.close();
    for (const done of this.barrierWaiters.values()) done();
    await Promise.all([new Promise((r) => this.udp.close(() => r(undefined))), new Promise((r) => this.barrierSock.close(() => r(undefined)))]);
    // Let the TCP closes reach the server before whoever called us looks at its tables.
    await sleep(10);
  }
}
