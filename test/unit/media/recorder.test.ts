// The media worker's WAV recorder (voicemail): G.711 frames in, an 8 kHz mono 16-bit WAV out, with the
// header's sizes fixed up at the end; stops on max length and on silence (quiet frames, or no frames at
// all), and keeps the real timing across lost packets. Time is passed in, so nothing here waits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WavRecorder, type RecorderOptions, type RecorderResult } from '../../../src/media/builtin/recorder.js';
import { ULAW_DECODE } from '../../../src/media/builtin/g711.js';
import { readWav, sine, toneShare, ulawEncode, zeroCrossingHz } from '../../support/audio.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hibiki-recorder-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
function recorder(opts: Partial<RecorderOptions> = {}): { rec: WavRecorder; path: string; done: Promise<RecorderResult> } {
  const path = join(dir, `r${n++}.wav`);
  let rec!: WavRecorder;
  const done = new Promise<RecorderResult>((resolve) => {
    rec = new WavRecorder({ path, maxSamples: 8000 * 60, maxSilenceMs: 0, silenceThreshold: 300, ...opts }, 0, resolve);
  });
  return { rec, path, done };
}

/** Frame `i` (20 ms) of a µ-law sine, as a phone sends it. */
function frame(hz: number, i: number, amplitude = 8000): Uint8Array {
  return Uint8Array.from(sine(hz, 160, amplitude, i * 160), (s) => ulawEncode(s));
}

const SSRC = 0x1234;

describe('WavRecorder', () => {
  it('writes an 8 kHz mono 16-bit PCM WAV of the decoded frames, header sizes fixed up at the end', async () => {
    const { rec, path, done } = recorder();
    for (let i = 0; i < 100; i++) rec.push(frame(1000, i), 0, 160, ULAW_DECODE, 5000 + i * 160, SSRC, i * 20);
    rec.stop('stopped');
    expect(await done).toEqual({ reason: 'stopped', samples: 16000 });
    const buf = await readFile(path);
    const wav = readWav(buf);
    expect(wav).toMatchObject({ format: 1, channels: 1, rate: 8000, bits: 16, dataBytes: 32000, riffSize: 36 + 32000 });
    expect(buf.length).toBe(44 + 32000);
    expect(zeroCrossingHz(wav.samples)).toBeCloseTo(1000, -1);
    expect(toneShare(wav.samples, 1000)).toBeGreaterThan(0.9);
    expect(toneShare(wav.samples, 1400)).toBeLessThan(0.01);
  });

  it('stops by itself at maxSamples, mid-frame', async () => {
    const { rec, path, done } = recorder({ maxSamples: 8000 + 80 });
    for (let i = 0; i < 200 && !rec.isFinished; i++) rec.push(frame(440, i), 0, 160, ULAW_DECODE, i * 160, SSRC, i * 20);
    expect(await done).toEqual({ reason: 'max-length', samples: 8080 });
    expect(readWav(await readFile(path)).samples.length).toBe(8080);
  });

  it('stops after maxSilenceMs of quiet frames and leaves the silence out (0.2 s kept)', async () => {
    const { rec, path, done } = recorder({ maxSilenceMs: 3000 });
    let i = 0;
    for (; i < 50; i++) rec.push(frame(440, i), 0, 160, ULAW_DECODE, i * 160, SSRC, i * 20);
    for (; !rec.isFinished && i < 1000; i++) rec.push(frame(440, i, 20), 0, 160, ULAW_DECODE, i * 160, SSRC, i * 20);
    // The frame that arrived 3 s after the last loud one ended it.
    expect(i * 20).toBe(50 * 20 + 3000);
    expect(await done).toEqual({ reason: 'silence', samples: 50 * 160 + 1600 });
    expect(readWav(await readFile(path)).samples.length).toBe(50 * 160 + 1600);
  });

  it('counts no packets at all as silence (the timer tick)', async () => {
    const { rec, done } = recorder({ maxSilenceMs: 2000 });
    for (let i = 0; i < 10; i++) rec.push(frame(440, i), 0, 160, ULAW_DECODE, i * 160, SSRC, i * 20);
    rec.tick(180 + 1999);
    expect(rec.isFinished).toBe(false);
    rec.tick(180 + 2000);
    expect(await done).toEqual({ reason: 'silence', samples: 1600 });
  });

  it('fills lost packets with silence so the file keeps the real length, and drops late ones', async () => {
    const { rec, path, done } = recorder();
    rec.push(frame(440, 0), 0, 160, ULAW_DECODE, 0, SSRC, 0);
    // Frames 1 and 2 lost; frame 3 arrives; then frame 2 arrives late.
    rec.push(frame(440, 3), 0, 160, ULAW_DECODE, 480, SSRC, 60);
    rec.push(frame(440, 2), 0, 160, ULAW_DECODE, 320, SSRC, 61);
    rec.stop('ended');
    expect(await done).toEqual({ reason: 'ended', samples: 640 });
    const { samples } = readWav(await readFile(path));
    expect([...samples.subarray(160, 480)].every((s) => s === 0)).toBe(true);
    expect(Math.abs(samples[490]!)).toBeGreaterThan(1000);
  });

  it('reports a file that cannot be written as failed', async () => {
    let rec!: WavRecorder;
    const done = new Promise<RecorderResult>((resolve) => {
      rec = new WavRecorder({ path: join(dir, 'no-such-folder', 'x.wav'), maxSamples: 8000, maxSilenceMs: 0, silenceThreshold: 300 }, 0, resolve);
    });
    rec.push(frame(440, 0), 0, 160, ULAW_DECODE, 0, SSRC, 0);
    const r = await done;
    expect(r.reason).toBe('failed');
    expect(r.error).toMatch(/ENOENT/);
    await expect(stat(join(dir, 'no-such-folder'))).rejects.toThrow();
  });
});
