// Call recording (issue #15) end to end with real RTP: the parties send sines of different pitch and the
// WAV the server writes must hold each one in its own channel (stereo) or both in one (mono), for the
// recorded stretch of the call only; *1 starts and stops on-demand recording, never refuses it, and a
// blind transfer keeps writing the same file.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunningHibiki, TestExtension } from '../support/hibiki.js';
import { connect, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { readWav, toneShare, zeroCrossingHz } from '../support/audio.js';
import type { Call } from '../support/test-ua.js';

const session = hibikiSession();
const FRAME = 160;

function extensions(record: Record<string, string>): TestExtension[] {
  return ['2001', '2002', '2003'].map((n) => ({ number: n, password: `secret-${n}`, ...(record[n] ? { record: record[n] } : {}) }));
}

/** The finished WAV of the call's CDR row, once its header has been written. */
async function recordingOf(h: RunningHibiki): Promise<{ path: string; wav: ReturnType<typeof readWav> }> {
  await waitUntil(() => h.server.cdr.query({}).some((r) => r.disposition === 'answered'), 5000);
  const row = h.server.cdr.query({}).find((r) => r.disposition === 'answered')!;
  expect(row.recordingPath).toBeTruthy();
  const path = row.recordingPath!;
  let wav: ReturnType<typeof readWav> | undefined;
  await waitUntil(() => {
    try {
      wav = readWav(readFileSync(path));
      return true;
    } catch {
      return false;
    }
  }, 5000);
  return { path, wav: wav! };
}

/** One channel of interleaved samples. */
function channel(samples: Int16Array, channels: number, which: number): Int16Array {
  const out = new Int16Array(samples.length / channels);
  for (let i = 0; i < out.length; i++) out[i] = samples[i * channels + which]!;
  return out;
}

/** Seconds of 20 ms frames that carry sound at about `hz` (zero crossings within 10 %). */
function secondsOf(samples: Int16Array, hz: number): number {
  let frames = 0;
  for (let at = 0; at + FRAME <= samples.length; at += FRAME) {
    const f = samples.subarray(at, at + FRAME);
    let energy = 0;
    for (const s of f) energy += Math.abs(s);
    if (energy / FRAME > 1000 && Math.abs(zeroCrossingHz(f) - hz) < hz * 0.1) frames++;
  }
  return frames * 0.02;
}

/** Indices of the 20 ms frames that carry `hz`. */
function framesOf(samples: Int16Array, hz: number): number[] {
  const out: number[] = [];
  for (let at = 0; at + FRAME <= samples.length; at += FRAME) if (secondsOf(samples.subarray(at, at + FRAME), hz) > 0) out.push(at / FRAME);
  return out;
}

/** Both parties send their sine until `packets` more frames of each have reached the other side. */
async function talkFor(a: Call, b: Call, packets: number): Promise<void> {
  const ra = a.rtp.received().tone.foreign;
  const rb = b.rtp.received().tone.foreign;
  await waitUntil(() => a.rtp.received().tone.foreign >= ra + packets && b.rtp.received().tone.foreign >= rb + packets, 10_000);
}

function sines(a: Call, aHz: number, b: Call, bHz: number): void {
  a.rtp.useSine(aHz);
  b.rtp.useSine(bHz);
  a.rtp.startTone();
  b.rtp.startTone();
}

describe('call recording', () => {
  it('record: always — a stereo WAV with the caller left (500 Hz) and the callee right (900 Hz) for the call', async () => {
    const { h, phone } = await session.start({ extensions: extensions({ '2001': 'always' }) });
    const { caller, callee } = await connect(await phone('2001'), await phone('2002'), '2002');
    sines(caller, 500, callee, 900);
    await talkFor(caller, callee, 100);
    await caller.hangup();
    await callee.waitForEnd();
    const { path, wav } = await recordingOf(h);
    expect(path.startsWith(join(h.dataDir, 'recordings'))).toBe(true);
    expect(path).toMatch(/recordings\/\d{4}\/\d{2}\/\d{2}\/[^/]+\.wav$/);
    expect(wav).toMatchObject({ rate: 8000, channels: 2, bits: 16, format: 1 });
    const left = channel(wav.samples, 2, 0);
    const right = channel(wav.samples, 2, 1);
    const row = h.server.cdr.query({})[0]!;
    const callMs = Date.parse(row.endedAt) - Date.parse(row.answeredAt!);
    // About the call's length (the file starts at the bridge, just after the answer).
    expect(Math.abs(left.length / 8 - callMs)).toBeLessThan(600);
    expect(secondsOf(left, 500)).toBeGreaterThan(1.6);
    expect(secondsOf(right, 900)).toBeGreaterThan(1.6);
    // Each party only in its own channel.
    expect(secondsOf(left, 900)).toBe(0);
    expect(secondsOf(right, 500)).toBe(0);
    expect(toneShare(left, 500)).toBeGreaterThan(0.5);
    expect(toneShare(right, 900)).toBeGreaterThan(0.5);
  });

  it('format mono — both parties summed in one channel', async () => {
    const { h, phone } = await session.start({ extensions: extensions({ '2002': 'always' }), config: { recording: { format: 'mono' } } });
    const { caller, callee } = await connect(await phone('2001'), await phone('2002'), '2002');
    sines(caller, 500, callee, 900);
    await talkFor(caller, callee, 100);
    await callee.hangup();
    await caller.waitForEnd();
    const { wav } = await recordingOf(h);
    expect(wav).toMatchObject({ rate: 8000, channels: 1 });
    expect(wav.samples.length / 8).toBeGreaterThan(1800);
    // Half the power at each pitch: both are in there, nothing else much.
    const a = toneShare(wav.samples, 500);
    const b = toneShare(wav.samples, 900);
    expect(a).toBeGreaterThan(0.25);
    expect(b).toBeGreaterThan(0.25);
    expect(a + b).toBeGreaterThan(0.8);
  });

  it('record: on-demand — *1 starts, *1 again stops: the file holds only the part between', async () => {
    const { h, phone } = await session.start({ extensions: extensions({ '2001': 'on-demand' }) });
    const { caller, callee } = await connect(await phone('2001'), await phone('2002'), '2002');
    sines(caller, 500, callee, 900);
    await talkFor(caller, callee, 50);
    const logged = (msg: string): boolean => h.logs.some((l) => l.msg === msg);
    await caller.sendDtmf('*1', { method: 'rfc4733' });
    await waitUntil(() => logged('recording started'), 5000);
    await talkFor(caller, callee, 50);
    await caller.sendDtmf('*1', { method: 'rfc4733' });
    await waitUntil(() => logged('recording stopped'), 5000);
    await talkFor(caller, callee, 75);
    await caller.hangup();
    await callee.waitForEnd();
    const { wav } = await recordingOf(h);
    const row = h.server.cdr.query({})[0]!;
    const callMs = Date.parse(row.endedAt) - Date.parse(row.answeredAt!);
    const recordedMs = wav.samples.length / 2 / 8;
    // About a second between the two *1, against a call of well over two seconds.
    expect(recordedMs).toBeGreaterThan(700);
    expect(recordedMs).toBeLessThan(callMs - 1000);
    expect(secondsOf(channel(wav.samples, 2, 1), 900)).toBeGreaterThan(0.5);
    // The codes' digits were not forwarded to the other party.
    expect(callee.rtp.received().digits()).toBe('');
  });

  it('record: never — *1 only gets a refusal tone, and nothing is written', async () => {
    const { h, phone } = await session.start({ extensions: extensions({}) });
    const { caller, callee } = await connect(await phone('2001'), await phone('2002'), '2002');
    const before = caller.rtp.received().tone.foreign;
    await caller.sendDtmf('*1', { method: 'rfc4733' });
    // The error tone: audio the caller hears although the callee sends nothing.
    await waitUntil(() => caller.rtp.received().tone.foreign > before + 10, 5000);
    expect(h.logs.some((l) => l.msg === 'record code refused' && l.policy === 'never')).toBe(true);
    await caller.hangup();
    await callee.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).length === 1, 5000);
    expect(h.server.cdr.query({})[0]!.recordingPath).toBeNull();
    expect(existsSync(join(h.dataDir, 'recordings'))).toBe(false);
  });

  it('a blind transfer (#8 + number + #) keeps writing the same file: the new party joins its channel', async () => {
    const { h, phone } = await session.start({ extensions: extensions({ '2001': 'always' }), config: { calls: { transferRingTimeout: 5 } } });
    const carol = await phone('2003');
    const { caller: alice, callee: bob } = await connect(await phone('2001'), await phone('2002'), '2002');
    sines(alice, 500, bob, 700);
    await talkFor(alice, bob, 50);
    const carolRings = carol.waitForCall({ timeoutMs: 8000 });
    await bob.sendDtmf('#82003#', { method: 'rfc4733' });
    await bob.waitForEnd(5000);
    const carolCall = await (await carolRings).answer();
    carolCall.rtp.useSine(900);
    carolCall.rtp.startTone();
    await talkFor(alice, carolCall, 75);
    await carolCall.hangup();
    await alice.waitForEnd();
    const { path, wav } = await recordingOf(h);
    const rows = h.server.cdr.query({});
    expect(rows.filter((r) => r.recordingPath !== null).every((r) => r.recordingPath === path)).toBe(true);
    const left = channel(wav.samples, 2, 0);
    const right = channel(wav.samples, 2, 1);
    expect(secondsOf(left, 500)).toBeGreaterThan(1.5);
    // Bob before the transfer, Carol after it, in the callee's channel of the one file.
    expect(secondsOf(right, 700)).toBeGreaterThan(0.5);
    expect(secondsOf(right, 900)).toBeGreaterThan(0.8);
    const bobFrames = framesOf(right, 700);
    const carolFrames = framesOf(right, 900);
    expect(Math.min(...carolFrames)).toBeGreaterThan(Math.max(...bobFrames));
  });

  it('a queue with record: always — the waiting caller left, the agent who answers right; the CDR names the queue and the file', async () => {
    const { h, phone } = await session.start({
      extensions: extensions({}),
      config: { queues: [{ number: '6000', name: 'Support', members: ['2002'], periodicAnnouncementInterval: 0, retryDelay: 0, record: 'always' }] },
    });
    const alice = await phone('2001');
    const agent = await phone('2002');
    const ringing = agent.waitForCall({ timeoutMs: 10_000 });
    const caller = await alice.call('6000');
    const callee = await (await ringing).answer();
    sines(caller, 500, callee, 900);
    await talkFor(caller, callee, 75);
    await caller.hangup();
    await callee.waitForEnd();
    const { wav } = await recordingOf(h);
    expect(h.server.cdr.query({}).find((r) => r.disposition === 'answered')).toMatchObject({ queue: '6000', answeredBy: '2002' });
    expect(secondsOf(channel(wav.samples, 2, 0), 500)).toBeGreaterThan(1);
    expect(secondsOf(channel(wav.samples, 2, 1), 900)).toBeGreaterThan(1);
    // Each party only in its own channel.
    expect(secondsOf(channel(wav.samples, 2, 0), 900) + secondsOf(channel(wav.samples, 2, 1), 500)).toBe(0);
  }, 30_000);
});
