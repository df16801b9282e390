// BuiltinMediaEngine with two media workers (media.workers, issue #13) on loopback: endpoints spread over
// the workers, each in its own port slice; a placement hint puts a B leg next to its A leg; and endpoints of
// different workers still join (a bridge, a mix, a call recording) after one side moves, with audio checked.
import { describe, it, expect, afterAll, afterEach } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Worker } from 'node:worker_threads';
import { BuiltinMediaEngine } from '../../../src/media/builtin/engine.js';
import { splitPortRange } from '../../../src/media/builtin/ports.js';
import { readWav, sine, toneShare, ulawDecode, ulawEncode, zeroCrossingHz } from '../../support/audio.js';
import { applied, RtpPhone, eventPayload, freePortRange, phoneSdp, sdpPort, type Received } from './rtp-phone.js';

const logLines: { level: number; msg: string; endpoint?: string }[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as { level: number; msg: string; endpoint?: string });
      cb();
    },
  }),
);

const engines: BuiltinMediaEngine[] = [];
const phones: RtpPhone[] = [];
const stops: (() => void)[] = [];
const dirs: string[] = [];

async function startEngine(range?: [number, number]): Promise<{ engine: BuiltinMediaEngine; range: [number, number] }> {
  const rtpPorts = range ?? (await freePortRange(200));
  const engine = new BuiltinMediaEngine({ address: '127.0.0.1', bindAddress: '127.0.0.1', rtpPorts, rtpTimeoutSec: 0, logger, workerCount: 2 });
  engines.push(engine);
  await engine.start();
  return { engine, range: rtpPorts };
}

interface Leg {
  id: string;
  phone: RtpPhone;
  port: number;
}

async function leg(engine: BuiltinMediaEngine, near?: string): Promise<Leg> {
  const phone = await RtpPhone.open();
  phones.push(phone);
  const id = await engine.createEndpoint(near === undefined ? { label: 'test' } : { label: 'test', near });
  const { sdp } = await engine.answerOffer(id, phoneSdp(phone.port, { pts: [0], tePt: 101 }));
  return { id, phone, port: sdpPort(sdp) };
}

/** The phone sends a continuous µ-law tone, a 20 ms packet every 20 ms, until the test ends. */
function talk(from: Leg, hz: number, ssrc = 0x1000 + hz): void {
  let n = 0;
  const send = (): void => {
    from.phone.sendRtp({ pt: 0, seq: n, ts: n * 160, ssrc, marker: n === 0, payload: Uint8Array.from(sine(hz, 160, 8000, n * 160), ulawEncode) }, from.port);
    n++;
  };
  send();
  const timer = setInterval(send, 20);
  stops.push(() => clearInterval(timer));
}

function lastAudio(r: Received[], packets: number): Int16Array | null {
  const audio = r.filter((p) => p.rtp.payloadType === 0);
  if (audio.length < packets) return null;
  const out = new Int16Array(packets * 160);
  audio.slice(-packets).forEach((p, k) => {
    for (let i = 0; i < 160; i++) out[k * 160 + i] = ulawDecode(p.buf[p.rtp.payloadOffset + i] ?? 0xff);
  });
  return out;
}

/** Waits until the phone's last 10 packets hold the `heard` tones and none of the `unheard`. */
async function hears(l: Leg, heard: number[], unheard: number[], what: string): Promise<void> {
  l.phone.clear();
  await l.phone.waitFor(
    (r) => {
      const s = lastAudio(r, 10);
      return s !== null && heard.every((hz) => toneShare(s, hz) > 0.15) && unheard.every((hz) => toneShare(s, hz) < 0.01);
    },
    4000,
    what,
  );
}

const workerOf = (engine: BuiltinMediaEngine, l: Leg): number | undefined => engine.workerOf(l.id);

/** Two legs that landed in different workers (no hint: the least-loaded worker). */
async function legsInBothWorkers(engine: BuiltinMediaEngine): Promise<[Leg, Leg]> {
  const a = await leg(engine);
  const b = await leg(engine);
  expect(new Set([workerOf(engine, a), workerOf(engine, b)])).toEqual(new Set([0, 1]));
  return [a, b];
}

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await Promise.all(engines.splice(0).map((e) => e.stop()));
  await Promise.all(phones.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  expect(logLines.filter((l) => l.level >= 50)).toEqual([]);
});

describe('BuiltinMediaEngine with two workers', () => {
  it('spreads endpoints over the workers, each on ports of its own slice, and puts a hinted endpoint next to its peer', async () => {
    const { engine, range } = await startEngine();
    expect(engine.workerCount).toBe(2);
    const slices = splitPortRange(range, 2);
    const legs = [await leg(engine), await leg(engine), await leg(engine), await leg(engine)];
    const workers = legs.map((l) => workerOf(engine, l)!);
    expect(workers.filter((w) => w === 0)).toHaveLength(2);
    for (const [i, l] of legs.entries()) {
      const [lo, hi] = slices[workers[i]!]!;
      expect(l.port).toBeGreaterThanOrEqual(lo);
      expect(l.port).toBeLessThanOrEqual(hi);
    }
    const near = await leg(engine, legs[1]!.id);
    expect(workerOf(engine, near)).toBe(workers[1]);
    const totals = await engine.totals();
    expect(totals).toMatchObject({ endpoints: 5, sendsDropped: 0, truncated: 0 });
  });

  it('bridges a hinted pair in one worker: audio both ways, DTMF reported', async () => {
    const { engine } = await startEngine();
    const a = await leg(engine);
    const b = await leg(engine, a.id);
    const digits: string[] = [];
    engine.on('dtmf', (id, digit) => {
      if (id === a.id) digits.push(digit);
    });
    engine.bridge(a.id, b.id);
    await applied(engine);
    talk(a, 500);
    talk(b, 1300);
    await hears(b, [500], [1300], 'B hears A');
    await hears(a, [1300], [500], 'A hears B');
    for (const [i, end] of [false, false, true].entries()) a.phone.sendRtp({ pt: 101, seq: 60_000 + i, ts: 999_040, ssrc: 0x77, payload: eventPayload(5, end, 160 * (i + 1)) }, a.port);
    for (let i = 0; i < 100 && digits.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(digits).toEqual(['5']);
  });

  it('bridges legs of different workers (a transfer): one moves, keeps its port, latch and outbound SSRC, and audio flows both ways', async () => {
    const { engine } = await startEngine();
    const [a, b] = await legsInBothWorkers(engine);
    talk(a, 500);
    talk(b, 1300);
    // Before the bridge: B's phone latched, nothing relayed.
    let before = await engine.stats(b.id);
    // B's phone sends every 20 ms: wait for its first packet (at most 5 s).
    for (let i = 0; i < 500 && !before.latched; i++) {
      await new Promise((r) => setTimeout(r, 10));
      before = await engine.stats(b.id);
    }
    expect(before.latched).toBe(true);
    engine.bridge(a.id, b.id);
    await applied(engine);
    await hears(b, [500], [1300], 'B hears A after the move');
    await hears(a, [1300], [500], 'A hears B after the move');
    expect(workerOf(engine, a)).toBe(workerOf(engine, b));
    // The latch went on as it was: B's phone was never taken for a new source (with the native I/O the
    // moved latch is known by its text only until the phone's next packet).
    expect(logLines.filter((l) => (l.endpoint === a.id || l.endpoint === b.id) && l.msg.startsWith('RTP source moved'))).toEqual([]);
    // Counters went on across the move; the moved side still answers on the port it had.
    const after = await engine.stats(b.id);
    expect(after.packetsIn).toBeGreaterThanOrEqual(before.packetsIn);
    expect(after.latched).toBe(true);
    // One SSRC per direction, sequence numbers contiguous.
    for (const r of [a.phone.received, b.phone.received]) {
      expect(new Set(r.map((p) => p.rtp.ssrc)).size).toBe(1);
      for (let i = 1; i < r.length; i++) expect((r[i]!.rtp.sequence - r[i - 1]!.rtp.sequence) & 0xffff).toBe(1);
    }
    // The moved endpoint's port goes back to its own worker's range when it is destroyed.
    engine.destroy(b.id);
    engine.destroy(a.id);
    expect((await engine.totals()).endpoints).toBe(0);
  });

  it('re-bridges after a transfer: A leaves B (worker 0) for C (worker 1), and hears C only', async () => {
    const { engine } = await startEngine();
    const a = await leg(engine);
    const b = await leg(engine, a.id);
    const c = await leg(engine);
    expect(workerOf(engine, c)).not.toBe(workerOf(engine, a));
    engine.bridge(a.id, b.id);
    await applied(engine);
    talk(a, 500);
    talk(b, 900);
    talk(c, 1300);
    await hears(a, [900], [1300], 'A hears B');
    engine.bridge(a.id, c.id);
    await applied(engine);
    await hears(a, [1300], [900], 'A hears C after the transfer');
    await hears(c, [500], [1300], 'C hears A');
  });

  it('mixes members of both workers (a conference): each hears the other two', async () => {
    const { engine } = await startEngine();
    const [a, b] = await legsInBothWorkers(engine);
    const c = await leg(engine);
    const mix = engine.createMix();
    for (const l of [a, b, c]) engine.joinMix(mix, l.id, { hears: 'all', speaks: true });
    talk(a, 400);
    talk(b, 700);
    talk(c, 1100);
    await hears(a, [700, 1100], [400], 'A hears B and C');
    await hears(b, [400, 1100], [700], 'B hears A and C');
    await hears(c, [400, 700], [1100], 'C hears A and B');
    engine.leaveMix(mix, c.id);
    await hears(a, [700], [400, 1100], 'A hears B after C left');
  });

  it('records a call whose legs came from different workers, both sides in the file', async () => {
    const { engine } = await startEngine();
    const [a, b] = await legsInBothWorkers(engine);
    const dir = await mkdtemp(join(tmpdir(), 'hibiki-workers-'));
    dirs.push(dir);
    const path = join(dir, 'call.wav');
    engine.bridge(a.id, b.id);
    const rec = engine.recordCall(a.id, b.id, path, { format: 'stereo' });
    await applied(engine);
    talk(a, 500);
    talk(b, 1000);
    await hears(b, [500], [1000], 'B hears A');
    await b.phone.waitFor((r) => r.length >= 25);
    rec.stop();
    const r = await rec.done;
    expect(r.reason).toBe('stopped');
    const wav = readWav(await readFile(path));
    expect(wav.channels).toBe(2);
    const left = wav.samples.filter((_, i) => i % 2 === 0).slice(-1600);
    const right = wav.samples.filter((_, i) => i % 2 === 1).slice(-1600);
    expect(Math.abs(zeroCrossingHz(Int16Array.from(left)) - 500)).toBeLessThan(60);
    expect(Math.abs(zeroCrossingHz(Int16Array.from(right)) - 1000)).toBeLessThan(100);
  });

  it('a worker that dies takes only its own endpoints; the other worker goes on', async () => {
    const { engine } = await startEngine();
    const [a, b] = await legsInBothWorkers(engine);
    const peerOfB = await leg(engine, b.id);
    engine.bridge(b.id, peerOfB.id);
    await applied(engine);
    const timeouts: string[] = [];
    engine.on('rtp-timeout', (id) => timeouts.push(id));
    const dying = workerOf(engine, a)!;
    const before = logLines.length;
    await (engine as unknown as { pool: { slots: { worker: Worker }[] } }).pool.slots[dying]!.worker.terminate();
    for (let i = 0; i < 100 && timeouts.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(timeouts).toEqual([a.id]);
    const crashLog = logLines.findIndex((l, i) => i >= before && l.msg === 'media worker exited unexpectedly');
    expect(crashLog).toBeGreaterThanOrEqual(0);
    logLines.splice(crashLog, 1);
    talk(b, 600);
    await hears(peerOfB, [600], [], 'the other worker still relays');
    // The restarted worker takes new calls.
    const c = await leg(engine);
    const d = await leg(engine, c.id);
    engine.bridge(c.id, d.id);
    await applied(engine);
    talk(c, 800);
    await hears(d, [800], [], 'new call on the restarted worker');
  });
});
