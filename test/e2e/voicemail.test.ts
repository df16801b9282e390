// F-VM end to end with the real server, real RTP and RFC 4733 DTMF: a caller forwarded on no answer leaves
// a message of real audio (a 700 Hz sine from the test's RTP peer), the WAV on disk holds that tone at the
// right length; the owner dials 1410, enters the PIN, hears the message over RTP (the tone arrives), deletes
// it and the file is gone. Also: a short message is discarded, a full box takes none, three wrong PINs end
// the call with a security event.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import type { RunningHibiki } from '../support/hibiki.js';
import type { Call } from '../support/test-ua.js';
import { alawDecode, readWav, toneShare, ulawDecode, zeroCrossingHz } from '../support/audio.js';
import { shortPromptsDir, VOICEMAIL_DEPOSIT_PROMPTS, VOICEMAIL_ENVELOPE_PROMPTS } from '../support/short-prompts.js';

const session = hibikiSession();

// The deposit prompts are waited out four times here (the system greeting alone is some 15 s), the message's
// date and caller once, and nothing checks what they say; the menu prompts that keys are typed over or that
// a key may cut short keep their length.
const PROMPTS_DIR = shortPromptsDir([...VOICEMAIL_DEPOSIT_PROMPTS, ...VOICEMAIL_ENVELOPE_PROMPTS, 'vm-box-full']);
afterAll(() => rmSync(PROMPTS_DIR, { recursive: true, force: true }));

const TONE_HZ = 700;
/** 3 s of tone: 150 frames of 20 ms. */
const TONE_FRAMES = 150;

function start(config: Record<string, unknown> = {}) {
  return session.start({
    extensions: [
      { number: '2001', name: 'Alice', password: 'secret-2001' },
      { number: '2002', name: 'Bob', password: 'secret-2002', pin: '2580', forwarding: { noAnswer: 'voicemail', noAnswerTimeout: 1 } },
      { number: '2003', name: 'Carol', password: 'secret-2003' },
    ],
    config: { prompts: { dir: PROMPTS_DIR }, ...config },
  });
}

/** The 20 ms frames of audio a call has received that are a clean sine at `hz`. */
function toneFramesReceived(call: Call, hz: number): number {
  const eventPt = call.rtp.telephoneEventPt;
  const codec = call.rtp.remote?.codec ?? 'PCMU';
  const decode = codec === 'PCMU' ? ulawDecode : alawDecode;
  let n = 0;
  for (const p of call.rtp.packets) {
    if (p.payloadType === eventPt || p.payload.length !== 160) continue;
    const pcm = Array.from(p.payload, decode);
    if (toneShare(pcm, hz) > 0.9) n++;
  }
  return n;
}

function recordingStarts(h: RunningHibiki): number {
  return h.logs.filter((l) => l.msg === 'voicemail recording').length;
}

/** Alice calls 2002, Bob's phone rings unanswered, no-answer forwarding takes the call to Bob's box. */
async function reachBobsVoicemail(h: RunningHibiki, alice: Awaited<ReturnType<typeof phoneOf>>, bob: Awaited<ReturnType<typeof phoneOf>>): Promise<Call> {
  const before = recordingStarts(h);
  const out = await alice.dial('2002');
  const ringing = await bob.waitForCall({ timeoutMs: 5000 });
  ringing.ring();
  const call = await out.answered;
  // The greeting and beep play first; the recording starts when they end.
  await waitUntil(() => recordingStarts(h) > before || call.rtp.isClosed, 30_000);
  return call;
}

type PhoneFactory = Awaited<ReturnType<typeof start>>['phone'];
const phoneOf = (phone: PhoneFactory, user: string) => phone(user);

describe('voicemail end to end', () => {
  it('a tone left after no answer is on disk at its length; 1410 + PIN plays it back over RTP; 7 deletes it and its file', async () => {
    const { h, phone } = await start();
    const alice = await phoneOf(phone, '2001');
    const bob = await phoneOf(phone, '2002');
    const call = await reachBobsVoicemail(h, alice, bob);
    call.rtp.useSine(TONE_HZ);
    await call.rtp.sendPackets(TONE_FRAMES);
    await call.sendDtmf('#');
    // "Thank you", then hibiki hangs up.
    const end = await call.waitForEnd(20_000);
    expect(end.by).toBe('remote');

    await waitUntil(() => h.server.voicemailStore.list('2002').length === 1, 5000);
    const [m] = h.server.voicemailStore.list('2002');
    expect(m).toMatchObject({ box: '2002', callerNumber: '2001', calledNumber: '2002', status: 'new' });
    const file = join(h.dataDir, 'voicemail', m!.file);
    const wav = readWav(readFileSync(file));
    expect(wav).toMatchObject({ format: 1, channels: 1, rate: 8000, bits: 16 });
    // Within two frames of the 3 s sent, and the duration in the row is the file's.
    expect(Math.abs(wav.samples.length - TONE_FRAMES * 160)).toBeLessThanOrEqual(320);
    expect(m!.durationMs).toBe(Math.round(wav.samples.length / 8));
    expect(zeroCrossingHz(wav.samples)).toBeGreaterThan(TONE_HZ - 10);
    expect(zeroCrossingHz(wav.samples)).toBeLessThan(TONE_HZ + 10);
    expect(toneShare(wav.samples, TONE_HZ)).toBeGreaterThan(0.9);
    await waitUntil(() => h.server.cdr.query({}).some((r) => r.feature === 'voicemail:2002'), 5000);
    expect(h.server.cdr.query({}).find((r) => r.feature === 'voicemail:2002')).toMatchObject({ disposition: 'answered', answeredBy: 'hibiki', forwardedFrom: '2002', calleeNumber: '2002' });

    // The owner listens: PIN (typed over the prompt), 1 to listen; the message's tone arrives over RTP.
    const listen = await bob.call('1410');
    await listen.sendDtmf('2580#');
    await listen.sendDtmf('1');
    await listen.rtp.changed.waitFor(
      () => (toneFramesReceived(listen, TONE_HZ) >= TONE_FRAMES - 2 ? true : undefined),
      40_000,
      () => `${TONE_FRAMES} frames of ${TONE_HZ} Hz (got ${toneFramesReceived(listen, TONE_HZ)})`,
    );
    expect(toneFramesReceived(listen, TONE_HZ)).toBeLessThanOrEqual(TONE_FRAMES + 2);
    await waitUntil(() => h.server.voicemailStore.get(m!.id)?.status === 'saved', 5000);
    await listen.sendDtmf('7');
    await waitUntil(() => h.server.voicemailStore.list('2002').length === 0 && !existsSync(file), 5000);
    await listen.sendDtmf('#');
    await listen.sendDtmf('#');
    expect((await listen.waitForEnd(20_000)).by).toBe('remote');
  }, 120_000);

  it('a message shorter than a second is discarded; a full box plays its prompt and records nothing', async () => {
    const { h, phone } = await start({ voicemail: { maxMessages: 1 } });
    const alice = await phoneOf(phone, '2001');
    const bob = await phoneOf(phone, '2002');
    const carol = await phoneOf(phone, '2003');
    const short = await reachBobsVoicemail(h, alice, bob);
    short.rtp.useSine(TONE_HZ);
    await short.rtp.sendPackets(20);
    await short.sendDtmf('#');
    await short.waitForEnd(20_000);
    await waitUntil(() => h.logs.some((l) => l.msg === 'voicemail message too short: discarded'), 5000);
    expect(h.server.voicemailStore.list('2002')).toEqual([]);
    const dir = join(h.dataDir, 'voicemail', '2002');
    await waitUntil(() => !existsSync(dir) || readdirSync(dir).length === 0, 5000);

    const kept = await reachBobsVoicemail(h, alice, bob);
    kept.rtp.useSine(TONE_HZ);
    await kept.rtp.sendPackets(75);
    await kept.sendDtmf('#');
    await kept.waitForEnd(20_000);
    await waitUntil(() => h.server.voicemailStore.list('2002').length === 1, 5000);

    // The box is full now: Carol's call is answered, hears the full prompt and is hung up, with no recording.
    const starts = recordingStarts(h);
    const out = await carol.dial('2002');
    (await bob.waitForCall({ timeoutMs: 5000 })).ring();
    const full = await out.answered;
    expect((await full.waitForEnd(20_000)).by).toBe('remote');
    expect(recordingStarts(h)).toBe(starts);
    expect(h.server.voicemailStore.list('2002')).toHaveLength(1);
    expect(h.logs.some((l) => l.msg === 'voicemail box full: no message taken')).toBe(true);
  }, 120_000);

  it('three wrong PINs end the retrieval call and log a security event with the box and source address', async () => {
    const { h, phone } = await start();
    const bob = await phoneOf(phone, '2002');
    const call = await bob.call('1410');
    await call.sendDtmf('1111#');
    await call.sendDtmf('2222#');
    await call.sendDtmf('3333#');
    expect((await call.waitForEnd(20_000)).by).toBe('remote');
    const security = h.logs.filter((l) => l.event === 'security' && l.kind === 'voicemail_pin');
    expect(security).toHaveLength(1);
    expect(security[0]).toMatchObject({ box: '2002', address: '127.0.0.1', attempts: 3, level: 40 });
    expect(h.logs.filter((l) => l.msg === 'voicemail login refused')).toHaveLength(3);
  }, 60_000);
});
