// The media worker's two-party call recorder: frames from each side are written on the recorder's own
// 20 ms clock, so the channels stay aligned whatever the packets do (a silent side is silence, a late
// side is not shifted against the other), mono sums saturate instead of wrapping, a pause leaves time
// out, and the header's sizes are fixed up at the end. Time is passed in, so nothing here waits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallRecorder, CallSide, FRAME, mixFrame, type CallRecorderResult } from '../../../src/media/builtin/call-recorder.js';
import { ULAW_DECODE } from '../../../src/media/builtin/g711.js';
import { readWav, sine, ulawEncode, zeroCrossingHz } from '../../support/audio.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hibiki-call-recorder-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
function recorder(channels: 1 | 2): { rec: CallRecorder; path: string; done: Promise<CallRecorderResult> } {
  const path = join(dir, `c${n++}.wav`);
  let rec!: CallRecorder;
  const done = new Promise<CallRecorderResult>((resolve) => {
    rec = new CallRecorder(path, channels, 0, resolve);
  });
  return { rec, path, done };
}

function ulaw(hz: number, i: number): Uint8Array {
  return Uint8Array.from(sine(hz, FRAME, 8000, i * FRAME), (s) => ulawEncode(s));
}

function split(samples: Int16Array): [Int16Array, Int16Array] {
  const l = new Int16Array(samples.length / 2);
  const r = new Int16Array(samples.length / 2);
  for (let i = 0; i < l.length; i++) {
    l[i] = samples[2 * i]!;
    r[i] = samples[2 * i + 1]!;
  }
  return [l, r];
}

describe('CallSide', () => {
  it('gives silence until a frame of slack is buffered, then frames in order; runs dry into silence', () => {
    const side = new CallSide();
    const out = new Int16Array(FRAME);
    side.pushPcm(new Int16Array(FRAME).fill(1));
    side.take(out);
    expect(out.every((s) => s === 0)).toBe(true);
    side.pushPcm(new Int16Array(FRAME).fill(2));
    side.take(out);
    expect(out.every((s) => s === 1)).toBe(true);
    side.take(out);
    expect(out.every((s) => s === 2)).toBe(true);
    side.take(out);
    expect(out.every((s) => s === 0)).toBe(true);
  });

  it('cuts a backlog (a burst, a fast clock) back to one frame of slack', () => {
    const side = new CallSide();
    for (let i = 0; i < 20; i++) side.pushPcm(new Int16Array(FRAME).fill(i));
    expect(side.buffered).toBeLessThanOrEqual(6 * FRAME);
    const out = new Int16Array(FRAME);
    side.take(out);
    // The newest audio is kept, the oldest dropped.
    expect(out[0]).toBeGreaterThan(10);
  });
});

describe('mixFrame', () => {
  it('interleaves a left and b right in stereo', () => {
    const a = new Int16Array(FRAME).fill(100);
    const b = new Int16Array(FRAME).fill(-200);
    const out = new Int16Array(2 * FRAME);
    mixFrame(a, b, 2, out, 0);
    expect([out[0], out[1], out[2], out[3]]).toEqual([100, -200, 100, -200]);
  });

  it('sums with saturation in mono: loud parties clip at the 16-bit limits instead of wrapping round', () => {
    const a = Int16Array.from({ length: FRAME }, (_, i) => (i % 2 === 0 ? 30000 : -30000));
    const b = Int16Array.from({ length: FRAME }, (_, i) => (i % 2 === 0 ? 20000 : -20000));
    const out = new Int16Array(FRAME);
    mixFrame(a, b, 1, out, 0);
    expect(out[0]).toBe(32767);
    expect(out[1]).toBe(-32768);
    const c = new Int16Array(FRAME).fill(1000);
    mixFrame(c, new Int16Array(FRAME).fill(-300), 1, out, 0);
    expect(out[0]).toBe(700);
  });
});

describe('CallRecorder', () => {
  it('keeps the channels aligned on its clock: a side that starts late is silent before, not shifted', async () => {
    const { rec, path, done } = recorder(2);
    // 100 frames (2 s) of clock; a sends all along, b only from frame 50 on.
    for (let i = 0; i < 100; i++) {
      rec.a.push(ulaw(500, i), 0, FRAME, ULAW_DECODE);
      if (i >= 50) rec.b.push(ulaw(900, i), 0, FRAME, ULAW_DECODE);
      rec.tick((i + 1) * 20);
    }
    rec.stop('stopped');
    expect(await done).toEqual({ reason: 'stopped', samples: 100 * FRAME });
    const wav = readWav(await readFile(path));
    expect(wav).toMatchObject({ rate: 8000, channels: 2, bits: 16, dataBytes: 100 * FRAME * 4 });
    const [l, r] = split(wav.samples);
    // One frame of slack at the start of each side: a is late by that, b by that after frame 50.
    expect(zeroCrossingHz(l.subarray(2 * FRAME))).toBeCloseTo(500, -1);
    expect(r.subarray(0, 51 * FRAME).every((s) => s === 0)).toBe(true);
    expect(zeroCrossingHz(r.subarray(52 * FRAME))).toBeCloseTo(900, -1);
  });

  it('catches up a late timer, writes silence for a side that sent nothing, and leaves paused time out', async () => {
    const { rec, path, done } = recorder(1);
    rec.tick(200); // 10 frames owed at once
    rec.setPaused(true);
    rec.tick(400); // 10 more, not written
    rec.setPaused(false);
    rec.tick(500);
    rec.stop('ended');
    expect(await done).toEqual({ reason: 'ended', samples: 15 * FRAME });
    const wav = readWav(await readFile(path));
    expect(wav.channels).toBe(1);
    expect(wav.samples.length).toBe(15 * FRAME);
    expect(wav.samples.every((s) => s === 0)).toBe(true);
  });

  it('reports a file it cannot write as failed', async () => {
    const path = join(dir, 'no-such-folder', 'x.wav');
    const r = await new Promise<CallRecorderResult>((resolve) => {
      const rec = new CallRecorder(path, 2, 0, resolve);
      rec.tick(100);
    });
    expect(r.reason).toBe('failed');
  });
});
