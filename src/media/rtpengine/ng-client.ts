// rtpengine's ng control protocol (bencode dictionaries over UDP, each datagram "<cookie> <dictionary>"):
// one request per cookie, resent on a timer until the reply with that cookie comes (rtpengine answers a
// resent cookie from its cache, so a resend never applies a command twice), then refused as unreachable.
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import bencode from 'bencode';
import { readNgAddress } from '../../config/ng-address.js';

export type NgValue = string | number | NgValue[] | { [key: string]: NgValue };
export type NgDictionary = { [key: string]: NgValue };

export interface NgClientOptions {
  /** host:port of rtpengine's listen-ng socket ([v6]:port for IPv6). */
  address: string;
  /** How long one try waits for the reply (ms). */
  timeoutMs: number;
  /** Tries after the first before the request fails as unreachable. */
  retries: number;
}

/** rtpengine did not answer within the tries: it is down, or the address is wrong. */
export class NgUnreachable extends Error {}

/** rtpengine answered result=error: the request itself was refused (unknown call, bad SDP). */
export class NgRefused extends Error {
  constructor(
    readonly command: string,
    readonly reason: string,
  ) {
    super(`rtpengine refused ${command}: ${reason}`);
  }
}

interface Pending {
  resolve: (reply: NgDictionary) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export function parseNgAddress(address: string): { host: string; port: number } {
  const parsed = readNgAddress(address);
  if (!parsed) throw new Error(`not an ng address (IP:port): ${address}`);
  return parsed;
}

export class NgClient {
  private socket: Socket | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly target: { host: string; port: number };
  private next = 0;
  private readonly prefix = `${process.pid.toString(36)}${Date.now().toString(36)}`;

  constructor(private readonly options: NgClientOptions) {
    this.target = parseNgAddress(options.address);
  }

  get address(): string {
    return this.options.address;
  }

  async open(): Promise<void> {
    if (this.socket) return;
    const socket = createSocket(isIP(this.target.host) === 6 ? 'udp6' : 'udp4');
    socket.on('message', (msg) => this.onReply(msg));
    // A send to a closed port comes back as an ICMP error on some systems: the timer decides, not this.
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.bind(0, resolve));
    this.socket = socket;
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new NgUnreachable('ng client closed'));
    }
    this.pending.clear();
    this.socket?.close();
    this.socket = undefined;
  }

  /** One command; resolves with the reply dictionary (result ok or pong), rejects NgRefused / NgUnreachable. */
  async request(command: string, params: NgDictionary = {}): Promise<NgDictionary> {
    if (!this.socket) await this.open();
    const cookie = `${this.prefix}_${(this.next++).toString(36)}`;
    const datagram = Buffer.concat([Buffer.from(`${cookie} `), bencode.encode({ ...params, command })]);
    const reply = await new Promise<NgDictionary>((resolve, reject) => {
      let tries = 0;
      const entry: Pending = { resolve, reject, timer: setTimeout(() => undefined, 0) };
      const send = () => {
        tries++;
        this.socket?.send(datagram, this.target.port, this.target.host);
        entry.timer = setTimeout(onTimeout, this.options.timeoutMs);
      };
      const onTimeout = () => {
        if (tries <= this.options.retries) return send();
        this.pending.delete(cookie);
        reject(new NgUnreachable(`rtpengine at ${this.options.address} did not answer ${command}`));
      };
      this.pending.set(cookie, entry);
      send();
    });
    const result = reply.result;
    if (result === 'error') throw new NgRefused(command, typeof reply['error-reason'] === 'string' ? reply['error-reason'] : 'unknown error');
    return reply;
  }

  private onReply(msg: Buffer): void {
    const space = msg.indexOf(0x20);
    if (space <= 0) return;
    const cookie = msg.subarray(0, space).toString('latin1');
    const p = this.pending.get(cookie);
    if (!p) return;
    let decoded: unknown;
    try {
      // Without an encoding: bencode 4's text decoding fails on some dictionaries; byte strings are made text here.
      decoded = asText(bencode.decode(msg.subarray(space + 1)));
    } catch {
      return; // a reply we cannot read: the try times out and is resent
    }
    if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) return;
    clearTimeout(p.timer);
    this.pending.delete(cookie);
    p.resolve(decoded as NgDictionary);
  }
}

function asText(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
  if (Array.isArray(v)) return v.map(asText);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asText(x)]));
  return v;
}
