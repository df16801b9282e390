// Test helper: a "phone" that is just a UDP socket on loopback sending and receiving raw RTP, plus helpers
// to build its SDP and to find a free RTP port range for an engine under test.
import { createSocket, type Socket } from 'node:dgram';
import { newRtpView, parseRtp, type RtpView } from '../../../src/media/builtin/rtp.js';

export interface Received {
  buf: Buffer;
  rtp: RtpView;
  from: number;
  at: number;
}

export interface RtpFields {
  pt: number;
  seq: number;
  ts: number;
  ssrc: number;
  marker?: boolean;
  payload: Uint8Array;
}

export function rtpPacket(f: RtpFields): Buffer {
  const buf = Buffer.alloc(12 + f.payload.length);
  buf[0] = 0x80;
  buf[1] = (f.marker ? 0x80 : 0) | f.pt;
  buf.writeUInt16BE(f.seq & 0xffff, 2);
  buf.writeUInt32BE(f.ts >>> 0, 4);
  buf.writeUInt32BE(f.ssrc >>> 0, 8);
  buf.set(f.payload, 12);
  return buf;
}

/** RFC 4733 payload: event, E bit, volume 10, duration. */
export function eventPayload(event: number, end: boolean, duration: number): Uint8Array {
  return Uint8Array.of(event, (end ? 0x80 : 0) | 10, (duration >> 8) & 0xff, duration & 0xff);
}

export class RtpPhone {
  readonly received: Received[] = [];
  private waiters: (() => void)[] = [];

  private constructor(
    readonly socket: Socket,
    readonly address: string,
  ) {
    socket.on('message', (buf, rinfo) => {
      const rtp = newRtpView();
      if (!parseRtp(buf, rtp)) return;
      this.received.push({ buf, rtp, from: rinfo.port, at: performance.now() });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(address = '127.0.0.1'): Promise<RtpPhone> {
    const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return new RtpPhone(socket, address);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Sends to the engine, which listens on the same loopback address as this phone. */
  send(buf: Uint8Array, port: number): void {
    this.socket.send(buf, port, this.address);
  }

  sendRtp(f: RtpFields, port: number): void {
    this.send(rtpPacket(f), port);
  }

  /** Resolves once `pred` holds for the received packets; rejects after timeoutMs. */
  async waitFor(pred: (r: Received[]) => boolean, timeoutMs = 2000, what = 'packets'): Promise<Received[]> {
    const deadline = performance.now() + timeoutMs;
    while (!pred(this.received)) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}: got ${this.received.length} packets`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.received;
  }

  clear(): void {
    this.received.length = 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** An SDP offer/answer as a phone would write it. */
export function phoneSdp(port: number, opts: { pts?: number[]; tePt?: number | null; direction?: string; address?: string; extra?: string[] } = {}): string {
  const pts = opts.pts ?? [0, 8];
  const te = opts.tePt === undefined ? 101 : opts.tePt;
  const names: Record<number, string> = { 0: 'PCMU', 8: 'PCMA' };
  const address = opts.address ?? '127.0.0.1';
  const type = address.includes(':') ? 'IP6' : 'IP4';
  const lines = ['v=0', `o=phone 1 1 IN ${type} ${address}`, 's=-', `c=IN ${type} ${address}`, 't=0 0'];
  lines.push(`m=audio ${port} RTP/AVP ${[...pts, ...(te === null ? [] : [te])].join(' ')}`);
  for (const pt of pts) lines.push(`a=rtpmap:${pt} ${names[pt] ?? 'X'}/8000`);
  if (te !== null) lines.push(`a=rtpmap:${te} telephone-event/8000`, `a=fmtp:${te} 0-16`);
  lines.push(`a=${opts.direction ?? 'sendrecv'}`, ...(opts.extra ?? []));
  return lines.join('\r\n') + '\r\n';
}

export function sdpPort(sdp: string): number {
  const m = /^m=audio (\d+) /m.exec(sdp);
  if (!m) throw new Error(`no audio m-line in ${sdp}`);
  return Number(m[1]);
}

async function udpFree(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  const ok = await new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => resolve(true));
  });
  await new Promise<void>((resolve) => {
    try {
      s.close(() => resolve());
    } catch {
      resolve();
    }
  });
  return ok;
}

/** A range [min, min + size - 1] of UDP ports that were all free a moment ago (min even). */
export async function freePortRange(size: number): Promise<[number, number]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const min = 20000 + 2 * Math.floor(Math.random() * 20000);
    let ok = true;
    for (let p = min; p < min + size && ok; p++) ok = await udpFree(p);
    if (ok) return [min, min + size - 1];
  }
  throw new Error('no free port range');
}

/**
 * Resolves once every media worker has applied the control messages posted before it: they travel once per
 * event-loop turn (turn-batch.ts), so a packet sent right after `engine.bridge()` could reach the worker first.
 * A round trip through each worker.
 */
export async function applied(engine: { totals(): Promise<unknown> }): Promise<void> {
  await engine.totals();
}
