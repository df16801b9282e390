// Conference mixing end to end on loopback (issue #15): the real media worker mixing what plain UDP "phones"
// send as RTP, each phone sending a tone of its own; what each phone receives is decoded and its tones found
// with a Goertzel filter (test/support/audio.ts).
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { BuiltinMediaEngine } from '../../../src/media/builtin/engine.js';
import { buildWav } from '../../../src/media/builtin/wav.js';
import { alawDecode, alawEncode, sine, toneShare, ulawDecode, ulawEncode } from '../../support/audio.js';
import { RtpPhone, eventPayload, freePortRange, phoneSdp, sdpPort, type Received } from './rtp-phone.js';

const logLines: { level: number; msg: string }[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as { level: number; msg: string });
      cb();
    },
  }),
);

const engines: BuiltinMediaEngine[] = [];
const phones: RtpPhone[] = [];
const stops: (() => void)[] = [];

async function startEngine(): Promise<BuiltinMediaEngine> {
  const engine = new BuiltinMediaEngine({ address: '127.0.0.1', bindAddress: '127.0.0.1', rtpPorts: await freePortRange(100), rtpTimeoutSec: 0, logger });
  engines.push(engine);
  await engine.start();
  return engine;
}

interface Leg {
  id: string;
  phone: RtpPhone;
  port: number;
  pt: 0 | 8;
}

async function leg(engine: BuiltinMediaEngine, pt: 0 | 8): Promise<Leg> {
  const phone = await RtpPhone.open();
  phones.push(phone);
  const id = await engine.createEndpoint({ label: `pt${pt}` });
  const { sdp } = await engine.answerOffer(id, phoneSdp(phone.port, { pts: [pt] }));
  return { id, phone, port: sdpPort(sdp), pt };
}

/**
 * The phone sends a continuous tone, a 20 ms packet every 20 ms, until the test ends. `level` may be changed
 * while it runs; `dc` sends a constant sample value instead of a sine.
 */
function talk(from: Leg, hz: number, opts: { amplitude?: number; dc?: number } = {}): void {
  const encode = from.pt === 0 ? ulawEncode : alawEncode;
  let n = 0;
  const ssrc = (Math.random() * 0xffffffff) >>> 0;
  const send = (): void => {
    const pcm = opts.dc !== undefined ? new Int16Array(160).fill(opts.dc) : sine(hz, 160, opts.amplitude ?? 8000, n * 160);
    from.phone.sendRtp({ pt: from.pt, seq: n, ts: n * 160, ssrc, marker: n === 0, payload: Uint8Array.from(pcm, encode) }, from.port);
    n++;
  };
  send();
  const timer = setInterval(send, 20);
  stops.push(() => clearInterval(timer));
}

function decodePacket(p: Received): Int16Array {
  const dec = p.rtp.payloadType === 8 ? alawDecode : ulawDecode;
  const out = new Int16Array(p.rtp.payloadLength);
  for (let i = 0; i < out.length; i++) out[i] = dec(p.buf[p.rtp.payloadOffset + i]!);
  return out;
}

/** The last `packets` audio packets received, decoded into one signal. */
function lastAudio(r: Received[], packets: number): Int16Array | null {
  const audio = r.filter((p) => p.rtp.payloadType === 0 || p.rtp.payloadType === 8);
  if (audio.length < packets) return null;
  const parts = audio.slice(-packets).map(decodePacket);
  const out = new Int16Array(parts.reduce((s, x) => s + x.length, 0));
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

const HEARD = 0.15;
const NOT_HEARD = 0.01;

/**
 * Waits until what the phone received lately (the last 10 packets, 200 ms) holds the `heard` tones and none of
 * the `unheard` ones. Only packets arriving after the call count, so a change made just before is waited for.
 */
async function hears(l: Leg, heard: number[], unheard: number[], what: string): Promise<void> {
  l.phone.clear();
  let last = '';
  await l.phone
    .waitFor(
      (r) => {
        const s = lastAudio(r, 10);
        if (!s) return false;
        const shares = (hzs: number[]): number[] => hzs.map((hz) => toneShare(s, hz));
        last = `heard ${JSON.stringify(shares(heard))} unheard ${JSON.stringify(shares(unheard))}`;
        return shares(heard).every((x) => x > HEARD) && shares(unheard).every((x) => x < NOT_HEARD);
      },
      4000,
      what,
    )
    .catch((err: Error) => {
      throw new Error(`${err.message} (${last})`);
    });
}

let promptDir: string;
beforeAll(async () => {
  promptDir = await mkdtemp(join(tmpdir(), 'hibiki-mix-'));
});

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await Promise.all(engines.splice(0).map((e) => e.stop()));
  await Promise.all(phones.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await rm(promptDir, { recursive: true, force: true });
  expect(logLines.filter((l) => l.level >= 50)).toEqual([]);
});

describe('BuiltinMediaEngine mixing', () => {
  it('each of three members (µ-law, µ-law, A-law) hears the other two and not itself; a member that does not speak is not heard', async () => {
    const engine = await startEngine();
    const a = await leg(engine, 0);
    const b = await leg(engine, 0);
    const c = await leg(engine, 8);
    const mix = engine.createMix();
    for (const l of [a, b, c]) engine.joinMix(mix, l.id, { hears: 'all', speaks: true });
    talk(a, 400);
    talk(b, 700);
    talk(c, 1100);
    await hears(a, [700, 1100], [400], 'A hears B and C');
    await hears(b, [400, 1100], [700], 'B hears A and C');
    await hears(c, [400, 700], [1100], 'C hears A and B');
    // Each phone gets its own payload type back.
    expect(c.phone.received.every((p) => p.rtp.payloadType === 8)).toBe(true);
    expect(a.phone.received.every((p) => p.rtp.payloadType === 0)).toBe(true);

    engine.joinMix(mix, b.id, { hears: 'all', speaks: false });
    await hears(a, [1100], [400, 700], 'A no longer hears muted B');
    await hears(c, [400], [700, 1100], 'C no longer hears muted B');
    // B still hears both.
    await hears(b, [400, 1100], [700], 'muted B still hears A and C');
  });

  it('a member that hears only A hears only A (a supervisor-style list)', async () => {
    const engine = await startEngine();
    const [a, b, c] = [await leg(engine, 0), await leg(engine, 0), await leg(engine, 8)];
    const mix = engine.createMix();
    engine.joinMix(mix, a.id, { hears: 'all', speaks: true });
    engine.joinMix(mix, b.id, { hears: 'all', speaks: true });
    engine.joinMix(mix, c.id, { hears: [a.id], speaks: true });
    talk(a, 400);
    talk(b, 700);
    talk(c, 1100);
    await hears(c, [400], [700, 1100], 'C hears only A');
    await hears(a, [700, 1100], [400], 'A hears B and C');
  });

  it('a member joining and leaving mid-way: the others stream on with the same SSRC and no sequence or timestamp gap', async () => {
    const engine = await startEngine();
    const [a, b, c] = [await leg(engine, 0), await leg(engine, 0), await leg(engine, 8)];
    const mix = engine.createMix();
    engine.joinMix(mix, a.id, { hears: 'all', speaks: true });
    engine.joinMix(mix, b.id, { hears: 'all', speaks: true });
    talk(a, 400);
    talk(b, 700);
    talk(c, 1100);
    await hears(a, [700], [400, 1100], 'A hears B');
    engine.joinMix(mix, c.id, { hears: 'all', speaks: true });
    await hears(a, [700, 1100], [400], 'A hears B and C');
    engine.leaveMix(mix, c.id);
    await hears(a, [700], [400, 1100], 'A hears B after C left');
    // The stream A and B receive across another join and leave, packet by packet.
    a.phone.clear();
    b.phone.clear();
    await a.phone.waitFor((r) => r.length >= 10);
    engine.joinMix(mix, c.id, { hears: 'all', speaks: true });
    await a.phone.waitFor((r) => r.length >= 25);
    engine.leaveMix(mix, c.id);
    await a.phone.waitFor((r) => r.length >= 40);
    await b.phone.waitFor((r) => r.length >= 40);
    for (const r of [a.phone.received, b.phone.received]) {
      expect(new Set(r.map((p) => p.rtp.ssrc)).size).toBe(1);
      for (let i = 1; i < r.length; i++) {
        expect((r[i]!.rtp.sequence - r[i - 1]!.rtp.sequence) & 0xffff).toBe(1);
        expect((r[i]!.rtp.timestamp - r[i - 1]!.rtp.timestamp) >>> 0).toBe(160);
      }
      expect(r.slice(1).some((p) => p.rtp.marker)).toBe(false);
    }
    // C, out of the mix again, is sent nothing.
    c.phone.clear();
    await a.phone.waitFor((r) => r.length >= 50);
    expect(c.phone.received.length).toBeLessThanOrEqual(1);
  });

  it('a loud pair is clamped at full scale, not wrapped round', async () => {
    const engine = await startEngine();
    const [a, b, c] = [await leg(engine, 0), await leg(engine, 8), await leg(engine, 0)];
    const mix = engine.createMix();
    for (const l of [a, b, c]) engine.joinMix(mix, l.id, { hears: 'all', speaks: l !== c });
    talk(a, 0, { dc: 30000 });
    talk(b, 0, { dc: 30000 });
    // Both at once reach full scale (µ-law's largest value, 32124); either alone stays near 30000.
    await c.phone.waitFor((r) => r.some((p) => decodePacket(p).every((s) => s === 32124)), 3000, 'a full-scale frame');
    c.phone.clear();
    await c.phone.waitFor((r) => r.length >= 25);
    // A 16-bit wrap of 60000 would be −5536: never a negative sample.
    const samples = c.phone.received.flatMap((p) => [...decodePacket(p)]);
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(samples.filter((s) => s === 32124).length).toBeGreaterThan(samples.length / 2);
  });

  it('a prompt played to a member is heard on top of the mix, then the mix alone again', async () => {
    const engine = await startEngine();
    const [a, b, c] = [await leg(engine, 0), await leg(engine, 0), await leg(engine, 8)];
    const mix = engine.createMix();
    for (const l of [a, b, c]) engine.joinMix(mix, l.id, { hears: 'all', speaks: true });
    talk(a, 400);
    talk(b, 700);
    talk(c, 1100);
    const file = join(promptDir, 'tone1500.wav');
    await writeFile(file, buildWav(sine(1500, 8000, 8000)));
    const handle = engine.play(a.id, [file], { loop: true });
    await hears(a, [700, 1100, 1500], [400], 'A hears B, C and the prompt');
    await hears(b, [400, 1100], [700, 1500], 'B does not hear A’s prompt');
    handle.stop();
    expect(await handle.done).toBe('stopped');
    await hears(a, [700, 1100], [400, 1500], 'A hears B and C after the prompt');
  });

  it('volume: a member’s gain changes what it hears', async () => {
    const engine = await startEngine();
    const [a, b] = [await leg(engine, 0), await leg(engine, 0)];
    const mix = engine.createMix();
    engine.joinMix(mix, a.id, { hears: 'all', speaks: true });
    engine.joinMix(mix, b.id, { hears: 'all', speaks: true, volumeDb: -12 });
    talk(a, 400, { amplitude: 8000 });
    const rms = (s: Int16Array): number => Math.sqrt(s.reduce((acc, x) => acc + x * x, 0) / s.length);
    const level = async (): Promise<number> => {
      b.phone.clear();
      const n = (await b.phone.waitFor((x) => (lastAudio(x, 1) ?? new Int16Array()).some((v) => v !== 0))).length;
      await b.phone.waitFor((x) => x.length >= n + 10);
      return rms(lastAudio(b.phone.received, 10)!);
    };
    const quiet = await level();
    engine.joinMix(mix, b.id, { hears: 'all', speaks: true, volumeDb: 12 });
    b.phone.clear();
    await b.phone.waitFor((x) => {
      const s = lastAudio(x, 10);
      return s !== null && rms(s) > quiet * 10;
    });
    // 8000 × 10^(−12/20) ≈ 2000 peak, rms ≈ 1420.
    expect(quiet).toBeGreaterThan(1000);
    expect(quiet).toBeLessThan(2000);
  });

  it('telephone-events of a member are reported, never mixed; destroying a member takes it out of the mix', async () => {
    const engine = await startEngine();
    const [a, b] = [await leg(engine, 0), await leg(engine, 0)];
    const digits: string[] = [];
    engine.on('dtmf', (id, digit) => digits.push(`${id}:${digit}`));
    const mix = engine.createMix();
    engine.joinMix(mix, a.id, { hears: 'all', speaks: true });
    engine.joinMix(mix, b.id, { hears: 'all', speaks: true });
    talk(b, 700);
    await a.phone.waitFor((r) => r.length >= 3);
    let seq = 500;
    for (const [end, duration] of [
      [false, 160],
      [false, 320],
      [true, 480],
      [true, 480],
    ] as const) {
      a.phone.sendRtp({ pt: 101, seq: seq++, ts: 9000, ssrc: 77, marker: seq === 501, payload: eventPayload(5, end, duration) }, a.port);
    }
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no dtmf event')), 2000);
      engine.on('dtmf', () => {
        clearTimeout(t);
        resolve();
      });
    });
    expect(digits).toEqual([`${a.id}:5`]);
    await b.phone.waitFor((r) => r.length >= 10);
    expect(b.phone.received.filter((p) => p.rtp.payloadType === 101)).toEqual([]);

    engine.destroy(a.id);
    // B is alone in the mix: it hears silence, still as a continuous stream.
    await hears(b, [], [400, 700], 'B alone');
    const s = lastAudio(b.phone.received, 10)!;
    expect(s.every((x) => x === 0)).toBe(true);
    engine.destroyMix(mix);
    const n = b.phone.received.length;
    // After destroyMix B is sent nothing more (at most a packet already on its way) while 10 more of its
    // own packets reach the engine.
    const base = (await engine.stats(b.id)).packetsIn;
    while ((await engine.stats(b.id)).packetsIn < base + 10) await new Promise<void>((resolve) => setTimeout(resolve, 20));
    expect(b.phone.received.length - n).toBeLessThanOrEqual(1);
  });
});
