// F-QUEUE media end to end, asserted on the RTP packets the test UAs receive: the prompts are pure sine
// tones of distinct frequencies (greeting 500 Hz, periodic announcement 700 Hz, music on hold 900 Hz,
// whisper 1300 Hz), so every 20 ms frame tells which prompt it came from.
// - a waiting caller hears the greeting once, then the music, then the periodic announcement, then the
//   music again; the agent (registering only then) rings, answers and hears the whisper alone while the
//   caller keeps hearing the music; then both talk;
// - a greeting longer than the announcement interval is heard whole; the interval is music time after it;
// - a caller who hangs up during the whisper ends the agent's call too, and is no missed call for the agent;
// - with announcePosition the announcement is followed by the caller's position, spoken with the shipped
//   English prompts: the first caller hears "you are caller number 1", the second "… 2" (told apart by
//   their lengths).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildWav, parseWav } from '../../src/media/builtin/wav.js';
import { alawDecode, sine, toneShare, ulawDecode } from '../support/audio.js';
import { talking, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import type { Call } from '../support/test-ua.js';

const session = hibikiSession();

const GREETING_HZ = 500;
const PERIODIC_HZ = 700;
const MOH_HZ = 900;
const WHISPER_HZ = 1300;
const TONES = [GREETING_HZ, PERIODIC_HZ, MOH_HZ, WHISPER_HZ];
/** Samples of one 20 ms frame at 8 kHz. */
const FRAME = 160;

const dir = mkdtempSync(join(tmpdir(), 'hibiki-queue-media-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A WAV of `seconds` of a sine at `hz` (8 kHz mono 16-bit) at `path`. */
function toneWav(path: string, hz: number, seconds: number): string {
  writeFileSync(path, buildWav(sine(hz, Math.round(seconds * 8000))));
  return path;
}

const greeting = toneWav(join(dir, 'greeting.wav'), GREETING_HZ, 1);
const longGreeting = toneWav(join(dir, 'long-greeting.wav'), GREETING_HZ, 3);
const longWhisper = toneWav(join(dir, 'long-whisper.wav'), WHISPER_HZ, 3);
const periodic = toneWav(join(dir, 'periodic.wav'), PERIODIC_HZ, 0.5);
const whisper = toneWav(join(dir, 'whisper.wav'), WHISPER_HZ, 0.5);
const mohDir = join(dir, 'moh');
mkdirSync(join(mohDir, 'default'), { recursive: true });
// Longer than the 2 s between announcements: the music never loops within a stretch.
toneWav(join(mohDir, 'default', 'tone.wav'), MOH_HZ, 4);

const NUMBERS = ['2001', '2002', '2003'];

function start(queue: Record<string, unknown>) {
  return session.start({
    extensions: NUMBERS.map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}` })),
    config: {
      prompts: { mohDir },
      queues: [
        {
          number: '6000',
          name: 'Support',
          members: ['2002'],
          periodicAnnouncement: periodic,
          periodicAnnouncementInterval: 2,
          announcePosition: false,
          announceWaitTime: false,
          ...queue,
        },
      ],
    },
  });
}

/** Each received 20 ms audio frame, in order of arrival: which of TONES it is a clean sine of (0: none). */
function frames(call: Call): Array<{ hz: number; at: number }> {
  const eventPt = call.rtp.telephoneEventPt;
  const decode = (call.rtp.remote?.codec ?? 'PCMU') === 'PCMU' ? ulawDecode : alawDecode;
  const out: Array<{ hz: number; at: number }> = [];
  for (const p of call.rtp.packets) {
    if (p.payloadType === eventPt || p.payload.length !== FRAME) continue;
    const pcm = Array.from(p.payload, decode);
    out.push({ hz: TONES.find((hz) => toneShare(pcm, hz) > 0.9) ?? 0, at: p.at });
  }
  return out;
}

function count(call: Call, hz: number): number {
  return frames(call).filter((f) => f.hz === hz).length;
}

/**
 * The stretches of tone a call heard, in order: runs of frames of one tone, frames of no tone left out,
 * runs shorter than `minFrames` (a frame where two prompts meet) dropped.
 */
function segments(call: Call, minFrames = 3): Array<{ hz: number; frames: number }> {
  const runs: Array<{ hz: number; frames: number }> = [];
  for (const f of frames(call)) {
    if (f.hz === 0) continue;
    const last = runs.at(-1);
    if (last?.hz === f.hz) last.frames++;
    else runs.push({ hz: f.hz, frames: 1 });
  }
  const kept: Array<{ hz: number; frames: number }> = [];
  for (const r of runs.filter((s) => s.frames >= minFrames)) {
    const last = kept.at(-1);
    if (last?.hz === r.hz) last.frames += r.frames;
    else kept.push({ ...r });
  }
  return kept;
}

const describeSegments = (call: Call) => JSON.stringify(segments(call));

/** The frames a WAV file fills (its last frame padded). */
function framesOf(file: string): number {
  return Math.ceil(parseWav(readFileSync(file), file).length / FRAME);
}

/**
 * The frames of no tone between the end of the first periodic announcement and the music after it:
 * what was said after the announcement (the position).
 */
function spokenAfterAnnouncement(call: Call): number | undefined {
  const f = frames(call);
  const first = f.findIndex((x) => x.hz === PERIODIC_HZ);
  if (first < 0) return undefined;
  let i = first;
  while (i < f.length && f[i]!.hz === PERIODIC_HZ) i++;
  const musicAgain = f.findIndex((x, j) => j >= i && x.hz === MOH_HZ);
  if (musicAgain < 0) return undefined;
  return f.slice(i, musicAgain).filter((x) => x.hz === 0).length;
}

describe('queue media (RTP)', () => {
  it('the caller hears greeting, music, periodic announcement, music; the agent alone hears the whisper; then both talk', async () => {
    const { h, phone } = await start({ greeting, whisper });
    const alice = await phone('2001');
    // 2002, the only agent, is not registered yet: the caller waits.
    const aliceCall = await alice.call('6000');

    const heard = [GREETING_HZ, MOH_HZ, PERIODIC_HZ, MOH_HZ];
    await aliceCall.rtp.changed.waitFor(
      () => {
        const s = segments(aliceCall);
        return s.length >= 4 && s[3]!.frames >= 10 ? true : undefined;
      },
      30_000,
      () => `greeting, music, announcement, music (heard ${describeSegments(aliceCall)})`,
    );
    const s = segments(aliceCall);
    expect(
      s.slice(0, 4).map((x) => x.hz),
      describeSegments(aliceCall),
    ).toEqual(heard);
    // The greeting is played whole and once (1 s: 50 frames), the announcement whole (0.5 s: 25 frames). A
    // machine busy with other tests delays a few frames into the next tone's count (47 seen): the bounds say
    // "whole and once" (a half is 25, twice is 100), not the exact frame.
    expect(count(aliceCall, GREETING_HZ)).toBeGreaterThanOrEqual(45);
    expect(count(aliceCall, GREETING_HZ)).toBeLessThanOrEqual(52);
    expect(s[2]!.frames).toBeGreaterThanOrEqual(21);
    expect(s[2]!.frames).toBeLessThanOrEqual(26);
    // Music between the greeting and the announcement (about a second of it).
    expect(s[1]!.frames).toBeGreaterThanOrEqual(20);
    expect(count(aliceCall, WHISPER_HZ)).toBe(0);

    // The agent registers: the waiting call is offered to it.
    const bob = await phone('2002');
    const ringing = await bob.waitForCall({ timeoutMs: 15_000 });
    const bobCall = await ringing.answer();
    await bobCall.rtp.changed.waitFor(
      () => (count(bobCall, WHISPER_HZ) >= 23 ? true : undefined),
      15_000,
      () => `the whisper at the agent (${count(bobCall, WHISPER_HZ)} frames of ${WHISPER_HZ} Hz)`,
    );
    await talking(aliceCall, bobCall, 31, 32);

    // The whisper went to the agent alone, whole; the caller kept hearing the music meanwhile.
    expect(count(bobCall, WHISPER_HZ)).toBeLessThanOrEqual(26);
    expect(count(aliceCall, WHISPER_HZ)).toBe(0);
    const atBob = frames(bobCall).filter((f) => f.hz === WHISPER_HZ);
    const whisperFrom = atBob[0]!.at;
    const whisperTo = atBob.at(-1)!.at;
    const musicMeanwhile = frames(aliceCall).filter((f) => f.hz === MOH_HZ && f.at >= whisperFrom && f.at <= whisperTo).length;
    expect(musicMeanwhile, describeSegments(aliceCall)).toBeGreaterThanOrEqual(5);
    // The agent heard nothing of the caller's waiting audio.
    for (const hz of [GREETING_HZ, PERIODIC_HZ, MOH_HZ]) expect(count(bobCall, hz)).toBe(0);

    await aliceCall.hangup();
    await bobCall.waitForEnd(10_000);
    await waitUntil(() => h.server.cdr.query({}).length === 1, 10_000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ dialedNumber: '6000', queue: '6000', answeredBy: '2002', disposition: 'answered' });
  }, 90_000);

  it('a greeting longer than the announcement interval is heard whole; the interval of music follows it, then the announcement', async () => {
    // The interval is music time: it starts when the 3 s greeting ends, which no announcement cuts short.
    const { phone } = await start({ greeting: longGreeting });
    const alice = await phone('2001');
    const aliceCall = await alice.call('6000');
    await aliceCall.rtp.changed.waitFor(
      () => {
        const s = segments(aliceCall);
        return s.length >= 4 && s[3]!.frames >= 10 ? true : undefined;
      },
      30_000,
      () => `greeting, music, announcement, music (heard ${describeSegments(aliceCall)})`,
    );
    const s = segments(aliceCall);
    expect(
      s.slice(0, 4).map((x) => x.hz),
      describeSegments(aliceCall),
    ).toEqual([GREETING_HZ, MOH_HZ, PERIODIC_HZ, MOH_HZ]);
    // All of the greeting's 150 frames, about 2 s of music, then the whole announcement.
    expect(s[0]!.frames, describeSegments(aliceCall)).toBeGreaterThanOrEqual(145);
    expect(s[1]!.frames, describeSegments(aliceCall)).toBeGreaterThanOrEqual(90);
    expect(s[2]!.frames, describeSegments(aliceCall)).toBeGreaterThanOrEqual(21);
    expect(s[2]!.frames, describeSegments(aliceCall)).toBeLessThanOrEqual(26);
    await aliceCall.hangup();
  }, 60_000);

  it('the caller hangs up while the agent hears the whisper: the agent gets BYE, ABANDON and no RINGNOANSWER; the agent takes the next call', async () => {
    const { h, phone } = await start({ whisper: longWhisper });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const aliceCall = await alice.call('6000');
    const bobCall = await (await bob.waitForCall({ timeoutMs: 15_000 })).answer();
    // The 3 s whisper is playing to the agent.
    await bobCall.rtp.changed.waitFor(
      () => (count(bobCall, WHISPER_HZ) >= 10 ? true : undefined),
      15_000,
      () => `the whisper at the agent (${count(bobCall, WHISPER_HZ)} frames)`,
    );
    await aliceCall.hangup();
    expect((await bobCall.waitForEnd(10_000)).by).toBe('remote');
    expect(count(bobCall, WHISPER_HZ)).toBeLessThan(150);
    expect(count(aliceCall, WHISPER_HZ)).toBe(0);

    const ofCall = () => h.server.queues.events.between(0, Date.now() + 1).filter((e) => e.callId === aliceCall.callId);
    await waitUntil(() => ofCall().some((e) => e.event === 'ABANDON'), 10_000);
    await waitUntil(() => h.server.calls.active().length === 0, 10_000);
    expect(ofCall().map((e) => e.event)).toEqual(['ENTER', 'ABANDON']);

    // The agent is available again: the next caller reaches them.
    const carolCall = await carol.call('6000');
    const bobAgain = await (await bob.waitForCall({ timeoutMs: 15_000 })).answer();
    await talking(carolCall, bobAgain, 51, 52);
    await carolCall.hangup();
    await bobAgain.waitForEnd(10_000);
    await waitUntil(() => h.server.cdr.query({}).length === 2, 10_000);
    expect(h.server.queues.events.between(0, Date.now() + 1).filter((e) => e.event === 'RINGNOANSWER')).toEqual([]);
  }, 90_000);

  it('announcePosition: after the announcement the first caller hears position 1, the second position 2 (shipped English digits)', async () => {
    const { h, phone } = await start({ announcePosition: true, language: 'en' });
    const alice = await phone('2001');
    const carol = await phone('2003');
    const aliceCall = await alice.call('6000');
    // Carol calls once Alice is in the line, so she is second.
    await waitUntil(() => h.server.queues.dispatcher.waitingCount('6000') === 1, 10_000);
    const carolCall = await carol.call('6000');
    expect(h.server.queues.dispatcher.waitingCount('6000')).toBe(2);

    for (const call of [aliceCall, carolCall]) {
      await call.rtp.changed.waitFor(
        () => (spokenAfterAnnouncement(call) !== undefined ? true : undefined),
        30_000,
        () => `an announcement and the music after it (heard ${describeSegments(call)})`,
      );
    }
    const prompts = fileURLToPath(new URL('../../prompts/en/', import.meta.url));
    // "You are caller number" then the digit.
    const lead = framesOf(join(prompts, 'queue-position.wav'));
    const one = lead + framesOf(join(prompts, '1.wav'));
    const two = lead + framesOf(join(prompts, '2.wav'));
    // The two digits differ in length by more than the tolerance, so each caller's count names one digit.
    expect(Math.abs(one - two)).toBeGreaterThan(2);
    const atAlice = spokenAfterAnnouncement(aliceCall)!;
    const atCarol = spokenAfterAnnouncement(carolCall)!;
    expect(Math.abs(atAlice - one), `alice heard ${atAlice} frames after the announcement; "1" is ${one}, "2" is ${two}`).toBeLessThanOrEqual(1);
    expect(Math.abs(atCarol - two), `carol heard ${atCarol} frames after the announcement; "1" is ${one}, "2" is ${two}`).toBeLessThanOrEqual(1);

    await Promise.all([aliceCall.hangup(), carolCall.hangup()]);
    await waitUntil(() => h.server.queues.events.between(0, Date.now() + 1).filter((e) => e.event === 'ABANDON').length === 2, 10_000);
  }, 90_000);
});
