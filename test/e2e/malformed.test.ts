// Robustness against hostile input, end to end: a burst of 2,000 bad datagrams, garbage and
// never-ending headers on TCP. Afterwards hibiki must still serve, must not have thrown or
// leaked, and its transaction tables must drain back to empty.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHibiki, type RunningHibiki } from '../support/hibiki.js';
import { RawUa } from '../support/raw-ua.js';
import { heapAfterGc } from '../support/heap.js';

// Timers short enough that every transaction the burst creates ends within a few seconds:
// Timer J and H are 64*T1 = 3.2 s, Timer I and K are T4 = 100 ms.
const sip = { t1: 50, t2: 400, t4: 100 };

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Garbage {
  private readonly rnd: () => number;
  constructor(seed: number) {
    this.rnd = prng(seed);
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.rnd() * (max - min + 1));
  }

  pick<T>(list: readonly T[]): T {
    return list[this.int(0, list.length - 1)] as T;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }

  /** Printable ASCII without CR/LF. */
  printable(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.int(0x20, 0x7e));
    return s;
  }
}

const METHODS = ['INVITE', 'OPTIONS', 'REGISTER', 'BYE', 'CANCEL', 'ACK', 'MESSAGE', 'SUBSCRIBE', 'NOTIFY', 'INFO', 'FOO'] as const;

/** A well-formed request (LF line ends, converted to CRLF by the caller). */
function validRequest(g: Garbage, sentBy: string, n: number): string[] {
  const method = g.pick(METHODS);
  const body = method === 'INVITE' ? 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n' : '';
  return [
    `${method} sip:${g.pick(['2001', '2002', '9999', 'hibiki'])}@hibiki.test SIP/2.0`,
    `Via: SIP/2.0/UDP ${sentBy};rport;branch=z9hG4bK-burst-${n}-${g.int(0, 1e9)}`,
    'Max-Forwards: 70',
    `From: <sip:burst@hibiki.test>;tag=b${n}`,
    `To: <sip:2001@hibiki.test>${g.int(0, 4) === 0 ? ';tag=t' + n : ''}`,
    `Call-ID: burst-${n}-${g.int(0, 1e9)}@127.0.0.1`,
    `CSeq: ${g.int(1, 1000)} ${method}`,
    'Contact: <sip:burst@127.0.0.1:9>',
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
}

/** One hostile datagram of the kind chosen by `n`. */
function hostileDatagram(g: Garbage, sentBy: string, n: number): Buffer {
  const lines = validRequest(g, sentBy, n);
  const wire = (ls: string[]): Buffer => Buffer.from(ls.join('\r\n'), 'latin1');
  switch (n % 8) {
    case 0: // random bytes
      return g.bytes(g.int(1, 1500));
    case 1: {
      // a valid message cut short anywhere
      const whole = wire(lines);
      return whole.subarray(0, g.int(1, whole.length - 1));
    }
    case 2: {
      // a giant header (up to 64 KB, the UDP maximum being 65,507 bytes)
      const size = g.int(4_000, 64_000);
      lines.splice(2, 0, `X-Giant: ${'A'.repeat(size)}`);
      return wire(lines).subarray(0, 65_000);
    }
    case 3: // binary garbage behind a plausible start line
      return Buffer.concat([Buffer.from(`${g.pick(METHODS)} sip:2001@hibiki.test SIP/2.0\r\n`), g.bytes(g.int(10, 3000))]);
    case 4: {
      // half-valid: one header line replaced by printable junk
      const i = g.int(1, lines.length - 3);
      lines[i] = g.int(0, 1) === 0 ? g.printable(g.int(0, 200)) : `${(lines[i] ?? '').split(':')[0]}: ${g.printable(g.int(0, 200))}`;
      return wire(lines);
    }
    case 5: {
      // half-valid: a header dropped, duplicated, or the Content-Length lying
      const kind = g.int(0, 2);
      const i = g.int(1, lines.length - 3);
      if (kind === 0) lines.splice(i, 1);
      else if (kind === 1) lines.splice(i, 0, lines[i] ?? '');
      else lines[lines.length - 3] = `Content-Length: ${g.pick(['-1', '99999', '4294967296', '1e3', '', '0x10', '00000000000000000000001'])}`;
      return wire(lines);
    }
    case 6: {
      // a response that matches nothing, sometimes broken
      const status = g.pick(['200 OK', '180 Ringing', '4294967301 Big', '99 Low', 'abc Letters', '487 Request Terminated']);
      return wire([`SIP/2.0 ${status}`, ...lines.slice(1)]);
    }
    default: {
      // a valid request: gives the transaction layer real work
      return wire(lines);
    }
  }
}

async function waitUntil(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let hibiki: RunningHibiki;
let rejections: unknown[] = [];
const onRejection = (reason: unknown): void => {
  rejections.push(reason);
};
const uas: RawUa[] = [];

async function ua(transport: 'udp' | 'tcp'): Promise<RawUa> {
  const u = await RawUa.open({ transport, port: hibiki.port(transport) });
  uas.push(u);
  return u;
}

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  hibiki = await startHibiki({ transports: [{ transport: 'udp' }, { transport: 'tcp' }], config: { sip } });
});

afterEach(async () => {
  await Promise.all(uas.splice(0).map((u) => u.close()));
});

afterAll(async () => {
  process.off('unhandledRejection', onRejection);
  await hibiki?.stop();
});

function internalErrors(): Array<Record<string, unknown>> {
  return hibiki.logs.filter((l) => typeof l.level === 'number' && l.level >= 50);
}

/** Sends `count` hostile datagrams, batch by batch, each batch handed to the kernel before the next. */
async function burst(attacker: RawUa, g: Garbage, first: number, count: number): Promise<number> {
  const batch = 100;
  let sentBytes = 0;
  for (let start = first; start < first + count; start += batch) {
    const sends: Array<Promise<void>> = [];
    for (let n = start; n < Math.min(first + count, start + batch); n++) {
      const datagram = hostileDatagram(g, attacker.sentBy, n);
      sentBytes += datagram.length;
      sends.push(attacker.send(datagram));
    }
    await Promise.all(sends);
    await new Promise((r) => setImmediate(r));
  }
  return sentBytes;
}

async function drained(): Promise<void> {
  // Every transaction a burst opens ends on its timers (64*T1 = 3.2 s at most).
  await waitUntil(
    'the transaction tables are empty',
    () => {
      const size = hibiki.server.stack.transactions.size;
      return size.client === 0 && size.server === 0;
    },
    15_000,
  );
}

/** After a burst: OPTIONS from a fresh socket gets 200 and a full digest registration works. */
async function stillServing(user: string, password: string): Promise<void> {
  const probe = await ua('udp');
  expect((await probe.request(probe.buildRequest({ method: 'OPTIONS', uri: 'sip:hibiki.test' }))).status).toBe(200);
  const reg = await probe.register({ user, password, expires: 300 });
  expect(reg.final.status).toBe(200);
  expect(hibiki.server.registrar.contacts(user).map((c) => c.target.port)).toContain(probe.localPort);
}

describe('a burst of malformed datagrams', () => {
  it('leaves hibiki serving, without errors, rejections or leaks', async () => {
    const g = new Garbage(4475);
    rejections = [];

    // Two halves of 1,000. The first also warms every code path up (compiled code and caches
    // are not leaks); what the second half leaves behind once its transactions ended is.
    const sentFirst = await burst(await ua('udp'), g, 0, 1000);
    await stillServing('2001', 'secret-2001');
    await drained();
    await Promise.all(uas.splice(0).map((u) => u.close()));
    const baseline = heapAfterGc();
    const logsBefore = hibiki.logs.length;

    const sentSecond = await burst(await ua('udp'), g, 1000, 1000);
    expect(sentFirst + sentSecond).toBeGreaterThan(2000 * 100);
    await stillServing('2002', 'secret-2002');
    // The burst reached hibiki (the kernel may drop part of a flood, but not most of it).
    expect(hibiki.logs.length - logsBefore).toBeGreaterThan(300);

    await drained();
    expect(hibiki.server.stack.transactions.size).toEqual({ client: 0, server: 0 });
    expect(hibiki.server.stack.dialogs.size).toBe(0);
    expect(rejections).toEqual([]);
    expect(internalErrors()).toEqual([]);

    await Promise.all(uas.splice(0).map((u) => u.close()));
    const growth = heapAfterGc() - baseline;
    // The test keeps every log line (hibiki.logs, ~600 more); beyond that nothing may stay.
    expect(growth).toBeLessThan(2 * 1024 * 1024);
  });
});

describe('hostile TCP connections', () => {
  it('closes a connection that sends garbage and leaves the others alone', async () => {
    const good = await ua('tcp');
    expect((await good.register({ user: '2002', password: 'secret-2002', expires: 300 })).final.status).toBe(200);

    // Bytes that never make a header block: closed once they pass sip.maxMessageBytes.
    const g = new Garbage(7);
    const noise = await ua('tcp');
    await noise.send(Buffer.from(g.printable(80_000), 'latin1'));
    expect(await noise.waitClosed(5000)).toBe(true);

    // A header block whose Content-Length cannot frame a body: the stream cannot be trusted.
    const badLength = await ua('tcp');
    await badLength.send('OPTIONS sip:hibiki.test SIP/2.0\r\nContent-Length: banana\r\n\r\n');
    expect(await badLength.waitClosed(5000)).toBe(true);

    // Raw binary, CR/LF included.
    const binary = await ua('tcp');
    await binary.send(g.bytes(100_000));
    expect(await binary.waitClosed(5000)).toBe(true);

    expect(hibiki.logs.some((l) => l.msg === 'stream framing error: closing connection')).toBe(true);
    expect(good.closed).toBe(false);
    const res = await good.request(good.buildRequest({ method: 'OPTIONS', uri: 'sip:hibiki.test' }));
    expect(res.status).toBe(200);
    const [binding] = hibiki.server.registrar.contacts('2002');
    expect(binding?.target.transport).toBe('tcp');
    expect(binding?.target.connectionId && hibiki.server.stack.transport.hasConnection(binding.target.connectionId)).toBe(true);
    expect(internalErrors()).toEqual([]);
  });

  it('closes a slowloris connection whose header never ends once it passes the limit', async () => {
    const good = await ua('tcp');
    const slow = await ua('tcp');
    const limit = hibiki.server.currentConfig.sip.maxMessageBytes;
    await slow.send('OPTIONS sip:hibiki.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-slow\r\nX-Endless: ');
    const chunk = 'z'.repeat(2048);
    let sent = 0;
    // Bounded: four times the limit is far more than it takes.
    while (!slow.closed && sent < 4 * limit) {
      await slow.send(chunk).catch(() => undefined);
      sent += chunk.length;
      await sleep(2);
    }
    expect(await slow.waitClosed(5000)).toBe(true);
    expect(sent).toBeGreaterThan(limit - 2 * chunk.length);
    expect(sent).toBeLessThan(2 * limit);
    expect(hibiki.logs.some((l) => l.msg === 'stream framing error: closing connection' && String(l.reason).includes('header block larger'))).toBe(true);

    expect(good.closed).toBe(false);
    expect((await good.request(good.buildRequest({ method: 'OPTIONS', uri: 'sip:hibiki.test' }))).status).toBe(200);
    expect(internalErrors()).toEqual([]);
    expect(rejections).toEqual([]);
  });
});
