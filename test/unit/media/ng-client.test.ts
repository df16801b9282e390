// The ng client of rtpengine's control protocol (issue #16): bencode dictionaries over UDP, each datagram
// "<cookie> <dictionary>". Against a responder written here (a real UDP socket on loopback that answers as
// rtpengine does) and against a real rtpengine: round trips with nested values and UTF-8 text, a resend
// with the same cookie when a reply is lost, NgUnreachable after the tries, NgRefused on result=error.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import bencode from 'bencode';
import { afterEach, describe, expect, it } from 'vitest';
import { NgClient, NgRefused, NgUnreachable, parseNgAddress, type NgDictionary, type NgValue } from '../../../src/media/rtpengine/ng-client.js';
import { waitUntil } from '../../support/call-helpers.js';
import { startRtpengine, type TestRtpengine } from '../../support/rtpengine.js';

/** A request as the responder read it off the wire. */
interface Received {
  cookie: string;
  /** The bytes after "<cookie> ", as sent. */
  payload: Buffer;
  request: NgDictionary;
  from: RemoteInfo;
}

/** What the responder does with the n-th datagram (0-based): a reply dictionary, raw bytes after the cookie, or nothing. */
type Answer = (req: Received, n: number) => NgDictionary | Buffer | undefined;

/** Byte strings of a decoded bencode value as UTF-8 text (what rtpengine means by them). */
function text(v: unknown): NgValue {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) return v.map(text);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, text(x)]));
  throw new Error(`not a bencode value: ${String(v)}`);
}

class Responder {
  readonly received: Received[] = [];
  private constructor(
    private readonly socket: Socket,
    public answer: Answer,
  ) {
    socket.on('message', (msg: Buffer, from: RemoteInfo) => this.onMessage(msg, from));
  }

  static async start(answer: Answer): Promise<Responder> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new Responder(socket, answer);
  }

  get address(): string {
    return `127.0.0.1:${this.socket.address().port}`;
  }

  close(): void {
    this.socket.close();
  }

  private onMessage(msg: Buffer, from: RemoteInfo): void {
    const space = msg.indexOf(0x20);
    if (space <= 0) throw new Error(`not an ng datagram: ${msg.toString('latin1')}`);
    const cookie = msg.subarray(0, space).toString('latin1');
    const payload = Buffer.from(msg.subarray(space + 1));
    const decoded = text(bencode.decode(payload));
    if (typeof decoded !== 'object' || Array.isArray(decoded)) throw new Error('the request is not a dictionary');
    const req: Received = { cookie, payload, request: decoded, from };
    const n = this.received.push(req) - 1;
    const reply = this.answer(req, n);
    if (reply !== undefined) this.send(req, reply);
  }

  /** Sends `reply` to where `req` came from, under `cookie` (the request's own by default). */
  send(req: Received, reply: NgDictionary | Buffer, cookie = req.cookie): void {
    const body = Buffer.isBuffer(reply) ? reply : Buffer.from(bencode.encode(reply));
    this.socket.send(Buffer.concat([Buffer.from(`${cookie} `), body]), req.from.port, req.from.address);
  }
}

/** Answers every request as rtpengine answers ping, or with result ok and the request echoed back. */
const echo: Answer = (req): NgDictionary => (req.request.command === 'ping' ? { result: 'pong' } : { result: 'ok', echo: req.request });

let responders: Responder[] = [];
let clients: NgClient[] = [];
let rtpengine: TestRtpengine | undefined;

afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  for (const r of responders) r.close();
  responders = [];
  await rtpengine?.stop();
  rtpengine = undefined;
});

async function responder(answer: Answer): Promise<Responder> {
  const r = await Responder.start(answer);
  responders.push(r);
  return r;
}

function client(address: string, timeoutMs: number, retries: number): NgClient {
  const c = new NgClient({ address, timeoutMs, retries });
  clients.push(c);
  return c;
}

/** What `p` rejects with; the test fails if it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
}

function countBy(values: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

describe('NgClient against a responder on loopback', () => {
  it('sends "<cookie> <bencode>" and returns the reply, nested lists, dictionaries, integers and UTF-8 text intact', async () => {
    const r = await responder(echo);
    const c = client(r.address, 1000, 0);
    const params: NgDictionary = {
      'call-id': 'a84b4c76e66710@pc33.example.com',
      'from-tag': '1928301774',
      flags: ['trust-address', 'SIP-source-address'],
      replace: ['origin', 'session-connection'],
      'rtcp-mux': ['demux'],
      label: '受付 ☎ Zoë',
      nested: { depth: [1, 'two', { three: ['四', 5] }], empty: [], count: 42 },
    };
    const reply = await c.request('offer', params);
    expect(r.received).toHaveLength(1);
    const got = r.received[0] as Received;
    expect(got.cookie).toMatch(/^\S+$/);
    // The command travels inside the dictionary, next to the parameters.
    expect(got.request).toEqual({ ...params, command: 'offer' });
    expect(reply).toEqual({ result: 'ok', echo: { ...params, command: 'offer' } });

    expect(await c.request('ping')).toEqual({ result: 'pong' });
    expect(r.received).toHaveLength(2);
    // Every request has a cookie of its own.
    expect((r.received[1] as Received).cookie).not.toBe(got.cookie);
  });

  it('keeps several requests apart by cookie when the replies come back in another order', async () => {
    const r = await responder(() => undefined);
    const c = client(r.address, 2000, 0);
    const replies = [0, 1, 2].map((n) => c.request('query', { n }));
    await waitUntil(() => r.received.length === 3, 2000);
    // Answered last first: each request still gets its own reply.
    for (const req of [...r.received].reverse()) r.send(req, { result: 'ok', n: String(req.request.n) });
    expect(await Promise.all(replies)).toEqual([
      { result: 'ok', n: '0' },
      { result: 'ok', n: '1' },
      { result: 'ok', n: '2' },
    ]);
    expect(new Set(r.received.map((x) => x.cookie)).size).toBe(3);
  });

  it('resends with the same cookie and the same bytes when the first datagram goes unanswered, and succeeds', async () => {
    const r = await responder((req, n) => (n === 0 ? undefined : echo(req, n)));
    const c = client(r.address, 100, 2);
    const reply = await c.request('offer', { 'call-id': 'resend-1', sdp: 'v=0' });
    expect(reply).toEqual({ result: 'ok', echo: { 'call-id': 'resend-1', sdp: 'v=0', command: 'offer' } });
    expect(r.received).toHaveLength(2);
    const [first, second] = r.received as [Received, Received];
    expect(second.cookie).toBe(first.cookie);
    expect(second.payload.equals(first.payload)).toBe(true);
  });

  it('resends when the reply with its cookie cannot be read, and ignores replies with a cookie it did not send', async () => {
    const r = await responder((req, n) => {
      if (n > 0) return echo(req, n);
      // To the first try: a well-formed reply under a cookie the client never sent, then an unreadable one
      // (a truncated dictionary) under the right cookie. Neither may settle the request.
      r.send(req, { result: 'error', 'error-reason': 'not yours' }, `${req.cookie}x`);
      r.send(req, Buffer.from('d6:result2:ok'));
      return undefined;
    });
    const c = client(r.address, 150, 3);
    expect(await c.request('ping')).toEqual({ result: 'pong' });
    expect(r.received).toHaveLength(2);
    expect((r.received[1] as Received).cookie).toBe((r.received[0] as Received).cookie);
  });

  it('fails with NgUnreachable after retries+1 tries when nothing answers, each try timeoutMs long', async () => {
    const r = await responder(() => undefined);
    const timeoutMs = 80;
    const retries = 2;
    const c = client(r.address, timeoutMs, retries);
    const started = Date.now();
    const err = await rejection(c.request('ping'));
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(NgUnreachable);
    expect((err as Error).message).toContain(r.address);
    expect(elapsed).toBeGreaterThanOrEqual((retries + 1) * timeoutMs - 5);
    await waitUntil(() => r.received.length >= retries + 1, 2000);

    // Nothing more is sent for that request: the next request is the next datagram on the wire.
    r.answer = echo;
    expect(await c.request('ping')).toEqual({ result: 'pong' });
    const counts = countBy(r.received.map((x) => x.cookie));
    expect([...counts.values()]).toEqual([retries + 1, 1]);
    expect(r.received.every((x) => x.request.command === 'ping')).toBe(true);
  });

  it('fails with NgUnreachable at once for a request in flight when the client is closed', async () => {
    const r = await responder(() => undefined);
    const c = client(r.address, 5000, 0);
    const pending = c.request('ping');
    await waitUntil(() => r.received.length === 1, 2000);
    c.close();
    expect(await rejection(pending)).toBeInstanceOf(NgUnreachable);
  });

  it('fails with NgRefused carrying the command and the error-reason when the reply says result=error', async () => {
    const r = await responder(() => ({ result: 'error', 'error-reason': 'Unknown call-id' }));
    const c = client(r.address, 1000, 2);
    const err = await rejection(c.request('query', { 'call-id': 'nope' }));
    expect(err).toBeInstanceOf(NgRefused);
    expect(err).toMatchObject({ command: 'query', reason: 'Unknown call-id' });
    expect((err as Error).message).toContain('Unknown call-id');
    // A refusal is an answer: it is not resent.
    expect(r.received).toHaveLength(1);

    r.answer = () => ({ result: 'error' });
    expect(await rejection(c.request('delete'))).toMatchObject({ command: 'delete', reason: 'unknown error' });
  });
});

describe('parseNgAddress', () => {
  it('accepts IPv4:port and [IPv6]:port', () => {
    expect(parseNgAddress('127.0.0.1:22222')).toEqual({ host: '127.0.0.1', port: 22222 });
    expect(parseNgAddress('[::1]:22222')).toEqual({ host: '::1', port: 22222 });
    expect(parseNgAddress('192.0.2.1:1')).toEqual({ host: '192.0.2.1', port: 1 });
    expect(parseNgAddress('[2001:db8::7]:65535')).toEqual({ host: '2001:db8::7', port: 65535 });
  });

  it('refuses host names, bad ports and addresses without a port', () => {
    for (const bad of [
      'localhost:22222',
      'rtpengine.example.com:22222',
      '127.0.0.1:0',
      '127.0.0.1:65536',
      '127.0.0.1:99999',
      '127.0.0.1:',
      '127.0.0.1:port',
      '127.0.0.1',
      '::1:22222',
      '[::1]',
      '[localhost]:22222',
      '999.0.0.1:22222',
      '',
    ]) {
      expect(() => parseNgAddress(bad), bad).toThrow(/not an ng address/);
    }
  });

  it('makes a client refuse to be built on a bad address', () => {
    expect(() => new NgClient({ address: 'localhost:22222', timeoutMs: 100, retries: 0 })).toThrow(/not an ng address/);
  });
});

describe('NgClient against a real rtpengine', () => {
  const PLAIN_OFFER = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 41000 RTP/AVP 0 8', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=sendrecv', ''].join(
    '\r\n',
  );

  it('ping → pong; offer returns SDP on a port of its range; delete; a query of the deleted call is refused', async () => {
    rtpengine = await startRtpengine();
    const c = client(rtpengine.ng, 500, 2);
    expect(await c.request('ping')).toMatchObject({ result: 'pong' });

    const callId = `ng-client-test-${process.pid}-${Date.now()}@127.0.0.1`;
    const offer = await c.request('offer', { 'call-id': callId, 'from-tag': 'tag-a', sdp: PLAIN_OFFER, replace: ['origin'] });
    expect(offer.result).toBe('ok');
    const sdp = offer.sdp;
    if (typeof sdp !== 'string') throw new Error(`no SDP in the reply: ${JSON.stringify(offer)}`);
    expect(sdp).toMatch(/^v=0\r?$/m);
    expect(sdp).toMatch(/^c=IN IP4 127\.0\.0\.1\r?$/m);
    const m = /^m=audio (\d+) RTP\/AVP ([\d ]+)\r?$/m.exec(sdp);
    expect(m, sdp).not.toBeNull();
    const port = Number(m?.[1]);
    expect(port).toBeGreaterThanOrEqual(rtpengine.ports[0]);
    expect(port).toBeLessThanOrEqual(rtpengine.ports[1]);
    expect(port).not.toBe(41000);

    // The call exists until it is deleted.
    expect((await c.request('query', { 'call-id': callId })).result).toBe('ok');
    expect((await c.request('delete', { 'call-id': callId, 'from-tag': 'tag-a' })).result).toBe('ok');
    const err = await rejection(c.request('query', { 'call-id': callId }));
    expect(err).toBeInstanceOf(NgRefused);
    expect(err).toMatchObject({ command: 'query' });
    expect((err as NgRefused).reason).toMatch(/unknown call/i);
  });
});
