// recordCall() in the built-in engine, with its real worker: two phones send µ-law sines of different pitch,
// the WAV holds each in its own channel; retarget() moves a channel to another endpoint (a transfer) in the
// same file; stopping the engine completes the file (header sizes written) and ends the recording 'ended'.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { BuiltinMediaEngine } from '../../../src/media/builtin/engine.js';
import { applied, RtpPhone, freePortRange, phoneSdp, sdpPort } from './rtp-phone.js';
import { readWav, sine, ulawEncode, zeroCrossingHz } from '../../support/audio.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface Leg {
  id: string;
  phone: RtpPhone;
  port: number;
}

async function leg(engine: BuiltinMediaEngine): Promise<Leg> {
  const phone = await RtpPhone.open();
  cleanup.push(() => phone.close());
  const id = await engine.createEndpoint({ label: 'test' });
  const { sdp } = await engine.answerOffer(id, phoneSdp(phone.port));
  return { id, phone, port: sdpPort(sdp) };
}

/** Each leg sends n µ-law frames of its sine, 20 ms apart (a phone's pacing), all legs at once. */
async function speak(legs: Array<[Leg, number]>, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) {
    for (const [l, hz] of legs) {
      const payload = Uint8Array.from(sine(hz, 160, 8000, i * 160), (s) => ulawEncode(s));
      l.phone.sendRtp({ pt: 0, seq: i, ts: i * 160, ssrc: hz, marker: i === from, payload }, l.port);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Indices of the 20 ms frames of a channel that carry `hz`. */
function framesAt(samples: Int16Array, channel: number, hz: number): number[] {
  const out: number[] = [];
  for (let f = 0; (f + 1) * 160 * 2 <= samples.length; f++) {
    const frame = Int16Array.from({ length: 160 }, (_, i) => samples[(f * 160 + i) * 2 + channel]!);
    if (frame.some((s) => Math.abs(s) > 2000) && Math.abs(zeroCrossingHz(frame) - hz) < hz * 0.1) out.push(f);
  }
  return out;
}

describe('BuiltinMediaEngine.recordCall', () => {
  it('records a left and b right, follows retarget() into the same file, and completes the file when the engine stops', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hibiki-engine-rec-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const engine = new BuiltinMediaEngine({ address: '127.0.0.1', bindAddress: '127.0.0.1', rtpPorts: await freePortRange(50), rtpTimeoutSec: 0, logger: pino({ level: 'silent' }) });
    await engine.start();
    cleanup.push(() => engine.stop());
    const [a, b, c] = [await leg(engine), await leg(engine), await leg(engine)];
    engine.bridge(a.id, b.id);
    await applied(engine);
    const path = join(dir, 'call.wav');
    const rec = engine.recordCall(a.id, b.id, path, { format: 'stereo' });
    await applied(engine);
    await speak(
      [
        [a, 500],
        [b, 900],
        [c, 700],
      ],
      50,
    );
    // A transfer: c replaces b; c's audio goes on in the right channel.
    engine.bridge(a.id, c.id);
    await applied(engine);
    rec.retarget(a.id, c.id);
    await speak(
      [
        [a, 500],
        [b, 900],
        [c, 700],
      ],
      50,
      50,
    );
    await engine.stop();
    const r = await rec.done;
    expect(r.reason).toBe('ended');
    expect(r.durationMs).toBeGreaterThan(1500);
    const wav = readWav(await readFile(path));
    expect(wav).toMatchObject({ rate: 8000, channels: 2, bits: 16, dataBytes: (r.durationMs / 20) * 160 * 4 });
    expect(framesAt(wav.samples, 0, 500).length).toBeGreaterThan(70);
    const before = framesAt(wav.samples, 1, 900);
    const after = framesAt(wav.samples, 1, 700);
    expect(before.length).toBeGreaterThan(30);
    expect(after.length).toBeGreaterThan(30);
    // b's sine is in the file only before the retarget, c's only after it.
    expect(Math.max(...before)).toBeLessThan(Math.min(...after));
  });
});
