import { describe, it, expect } from 'vitest';
import { FramePacer, PromptPlayer } from '../../../src/media/builtin/player.js';
import { DtmfSender } from '../../../src/media/builtin/dtmf-sender.js';
import type { TelephoneEvent } from '../../../src/media/builtin/rfc4733.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('FramePacer', () => {
  it('paces 20 ms frames without drift: every frame that fell due is sent, none before its slot', async () => {
    const at: number[] = [];
    const start = performance.now();
    const pacer = new FramePacer((n) => {
      at.push(performance.now() - start);
      expect(n).toBe(at.length - 1);
      return true;
    });
    pacer.start();
    await sleep(1000);
    // Measured, not assumed: on a busy machine the sleep (and each wake-up) may run late.
    const elapsed = performance.now() - start;
    pacer.stop();
    // Frames 0 … ⌊elapsed / 20⌋ fell due; a late wake-up sends the ones it missed at once.
    const due = Math.floor(elapsed / 20) + 1;
    expect(at.length).toBeGreaterThanOrEqual(due - 1);
    expect(at.length).toBeLessThanOrEqual(due);
    // No drift: frame n is never sent before its slot.
    at.forEach((t, n) => expect(t).toBeGreaterThanOrEqual(n * 20 - 1));
  });

  it('catches up after a stall with the frames that fell due', async () => {
    let clock = 0;
    const frames: number[] = [];
    const pacer = new FramePacer(
      (n) => (frames.push(n), true),
      20,
      () => clock,
    );
    pacer.start();
    expect(frames).toEqual([0]);
    clock = 65;
    await sleep(30);
    pacer.stop();
    expect(frames).toEqual([0, 1, 2, 3]);
  });

  it('stops when the callback says so', async () => {
    let count = 0;
    const pacer = new FramePacer(() => ++count < 3, 5);
    pacer.start();
    await sleep(60);
    expect(count).toBe(3);
    expect(pacer.isRunning).toBe(false);
  });
});

describe('PromptPlayer', () => {
  it('sends 160-byte frames, pads the last with silence, and completes', async () => {
    const audio = new Uint8Array(400).fill(0x11);
    const frames: [Uint8Array, number][] = [];
    const done = new Promise<string>((resolve) => new PromptPlayer(audio, 'PCMA', false, (p, n) => frames.push([Uint8Array.from(p), n]), resolve).start());
    expect(await done).toBe('completed');
    expect(frames.map((f) => f[1])).toEqual([0, 1, 2]);
    expect(frames.every((f) => f[0].length === 160)).toBe(true);
    expect(frames[2]![0].subarray(0, 80).every((b) => b === 0x11)).toBe(true);
    expect(frames[2]![0].subarray(80).every((b) => b === 0xd5)).toBe(true);
  });

  it('loops until stopped', async () => {
    const frames: number[] = [];
    let ended = '';
    const player = new PromptPlayer(
      new Uint8Array(160),
      'PCMU',
      true,
      (_p, n) => frames.push(n),
      (r) => (ended = r),
    );
    player.start();
    await sleep(120);
    player.stop();
    expect(frames.length).toBeGreaterThan(3);
    expect(ended).toBe('stopped');
  });
});

describe('DtmfSender', () => {
  it('sends each digit as updates plus three end packets with one timestamp, then goes idle', async () => {
    const packets: (TelephoneEvent & { marker: boolean; seq: number; ts: number })[] = [];
    let idle = false;
    const sender = new DtmfSender(
      (ev, marker, seq, ts) => packets.push({ ...ev, marker, seq, ts }),
      () => (idle = true),
    );
    sender.enqueue('1', 60);
    sender.enqueue('#', 40);
    expect(sender.active).toBe(true);
    while (!idle) await sleep(20);
    expect(sender.active).toBe(false);
    expect(packets.map((p) => [p.event, p.end, p.duration, p.marker])).toEqual([
      [1, false, 160, true],
      [1, false, 320, false],
      [1, false, 480, false],
      [1, true, 480, false],
      [1, true, 480, false],
      [1, true, 480, false],
      [11, false, 160, true],
      [11, false, 320, false],
      [11, true, 320, false],
      [11, true, 320, false],
      [11, true, 320, false],
    ]);
    expect(packets.map((p) => p.seq)).toEqual([...Array(11).keys()]);
    expect(new Set(packets.slice(0, 6).map((p) => p.ts)).size).toBe(1);
    // The second digit starts 6 frames later on the frame clock.
    expect(packets[6]!.ts - packets[0]!.ts).toBe(6 * 160);
  });

  it('refuses what is not a digit', () => {
    const sender = new DtmfSender(
      () => undefined,
      () => undefined,
    );
    expect(sender.enqueue('x')).toBe(false);
    expect(sender.active).toBe(false);
  });
});
