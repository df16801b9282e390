// F-VM in the call core, on the fake clock: deposit (reached by no-answer forwarding, a shared box's number,
// a group's no-answer destination), the WAV, row, events and CDR it leaves; a full box; a short message
// discarded; a hang-up while recording keeps the message; retrieval with 1410 + PIN from the owner's phone
// and from another phone, listening (new becomes saved), deleting (file gone), wrong PINs, PIN change rules.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CoreHarness, type HarnessExtension, type HarnessOptions } from '../../support/core-harness.js';
import type { EndpointId } from '../../../src/media/engine.js';
import type { CallApi, CallApplication, Feature, FeatureRegistry } from '../../../src/pbx/application.js';
import type { Leg } from '../../../src/pbx/leg.js';
import type { MessageCounts, VoicemailMessage } from '../../../src/store/voicemail-store.js';
import { readWav, toneShare, zeroCrossingHz } from '../../support/audio.js';

let h: CoreHarness;
afterEach(() => h?.stop());

interface Events {
  deposited: Array<{ message: VoicemailMessage; path: string }>;
  changed: Array<{ box: string; counts: MessageCounts }>;
}

async function start(extensions: HarnessExtension[], opts: Omit<HarnessOptions, 'extensions'> = {}): Promise<Events> {
  h = await CoreHarness.start({ extensions, ...opts });
  const ev: Events = { deposited: [], changed: [] };
  h.mailboxEvents.on('deposited', (message, path) => ev.deposited.push({ message, path }));
  h.mailboxEvents.on('changed', (box, counts) => ev.changed.push({ box, counts }));
  return ev;
}

/**
 * The feature does real file work (folders, deleting files) between prompts, which the fake clock does not
 * drive: while nothing plays, give the event loop real turns; while a prompt plays, move the fake clock on.
 */
async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) {
    await h.settle();
    if (check()) break;
    const playing = h.active.some((c) => c.legs.some((l) => l.endpoint !== undefined && h.media.nowPlaying(l.endpoint)?.loop === false));
    if (playing) await h.advance(100);
    else await new Promise((r) => setTimeout(r, 1));
  }
  expect(check(), what).toBe(true);
}

/** Let the greeting play out until the recording has started (the beep is the last prompt before it). */
function untilRecording(ep: EndpointId): Promise<void> {
  return until('recording', () => h.media.isRecording(ep));
}

/** Until something plays on the endpoint whose file name contains `name`. */
function untilPlaying(ep: EndpointId, name: string): Promise<void> {
  return until(`playing ${name}`, () => h.media.nowPlaying(ep)?.files.some((f) => f.includes(name)) === true);
}

/** A caller reaches 2002's box by no-answer forwarding. */
async function callVoicemailOf2002(caller = '2001'): Promise<{ ep: EndpointId; hangup: () => void; ended: () => boolean }> {
  const alice = await h.phone(caller);
  const bob = await h.phone('2002');
  const out = alice.dial('2002');
  await h.settle();
  bob.takeCall().ring();
  await h.advance(5000);
  expect(out.status).toBe(200);
  const call = out.call!;
  return { ep: call.endpoint, hangup: () => call.hangup(), ended: () => call.ended !== undefined };
}

const BOB_VM = { number: '2002', pin: '2580', forwarding: { noAnswer: 'voicemail', noAnswerTimeout: 5 } };

describe('voicemail deposit', () => {
  it('no-answer forwarding to voicemail: greeting, beep, recording until #, thanks; WAV, row, events and CDR', async () => {
    const ev = await start([BOB_VM]);
    const { ep, ended } = await callVoicemailOf2002();
    const greeting = h.media.plays(ep)[0]!.files.map((f) => f.split('/').slice(-2).join('/'));
    expect(greeting).toEqual(['ja/vm-greeting-before.wav', 'ja/2.wav', 'ja/0.wav', 'ja/0.wav', 'ja/2.wav', 'ja/vm-greeting-after.wav', 'ja/vm-leave-message.wav', 'tones/vm-beep.wav']);
    await untilRecording(ep);
    h.media.talk(ep, 3000, { hz: 440 });
    h.media.press(ep, '#');
    await h.settle();
    expect(h.media.isRecording(ep)).toBe(false);
    expect(h.media.nowPlaying(ep)?.files[0]).toContain('vm-thank-you');
    await h.advance(5000);
    expect(ended()).toBe(true);

    const [m] = h.voicemailStore.list('2002');
    expect(m).toMatchObject({ box: '2002', callerNumber: '2001', calledNumber: '2002', durationMs: 3000, status: 'new' });
    const path = join(h.voicemailDir, m!.file);
    const wav = readWav(readFileSync(path));
    expect(wav).toMatchObject({ rate: 8000, channels: 1, bits: 16, format: 1 });
    expect(wav.samples.length).toBe(24000);
    expect(zeroCrossingHz(wav.samples)).toBeCloseTo(440, -1);
    expect(toneShare(wav.samples, 440)).toBeGreaterThan(0.9);
    expect(ev.deposited).toEqual([{ message: m, path }]);
    expect(ev.changed).toEqual([{ box: '2002', counts: { new: 1, saved: 0 } }]);
    expect(h.cdrs.map((r) => [r.calleeNumber, r.disposition, r.feature, r.answeredBy, r.forwardedFrom, r.hangupBy])).toEqual([
      ['2002', 'no_answer', 'none', null, null, 'system'],
      ['2002', 'answered', 'voicemail:2002', 'hibiki', '2002', 'system'],
    ]);
  });

  it('a hang-up while recording keeps the message; silence ends a recording and is left out', async () => {
    await start([BOB_VM], { config: { voicemail: { maxSilenceSeconds: 4 } } });
    const first = await callVoicemailOf2002();
    await untilRecording(first.ep);
    h.media.talk(first.ep, 2000);
    first.hangup();
    await h.settle();
    expect(h.voicemailStore.list('2002').map((m) => m.durationMs)).toEqual([2000]);
    expect(h.cdrs.at(-1)).toMatchObject({ feature: 'voicemail:2002', hangupBy: 'caller', disposition: 'answered' });

    const second = await callVoicemailOf2002('2003');
    await untilRecording(second.ep);
    h.media.talk(second.ep, 1500);
    await h.advance(3999);
    expect(h.media.isRecording(second.ep)).toBe(true);
    await h.advance(1);
    expect(h.media.isRecording(second.ep)).toBe(false);
    // 1.5 s said; the silence after it (no packets at all) is not part of the message.
    expect(h.voicemailStore.list('2002').map((m) => m.durationMs)).toEqual([2000, 1500]);
  });

  it('a caller who withheld the number (184) is stored as anonymous', async () => {
    await start([BOB_VM]);
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const out = alice.dial('1842002');
    await h.settle();
    bob.takeCall().ring();
    await h.advance(5000);
    const ep = out.call!.endpoint;
    await untilRecording(ep);
    h.media.talk(ep, 1500);
    h.media.press(ep, '#');
    await h.settle();
    expect(h.voicemailStore.list('2002')).toMatchObject([{ callerNumber: 'anonymous', callerName: undefined, durationMs: 1500 }]);
  });

  it('a message shorter than minMessageSeconds is discarded: no row, no file, no event', async () => {
    const ev = await start([BOB_VM]);
    const { ep } = await callVoicemailOf2002();
    await untilRecording(ep);
    h.media.talk(ep, 600);
    h.media.press(ep, '#');
    await h.settle();
    await h.advance(5000);
    expect(h.voicemailStore.list('2002')).toEqual([]);
    expect(ev.deposited).toEqual([]);
    await until('the short message file removed', () => readdir(join(h.voicemailDir, '2002')).length === 0);
  });

  it('maxMessageSeconds ends the recording; the message is kept at that length', async () => {
    await start([BOB_VM], { config: { voicemail: { maxMessageSeconds: 5 } } });
    const { ep } = await callVoicemailOf2002();
    await untilRecording(ep);
    h.media.talk(ep, 8000);
    await h.settle();
    expect(h.voicemailStore.list('2002').map((m) => m.durationMs)).toEqual([5000]);
  });

  it('a full box plays the full prompt and records nothing', async () => {
    const ev = await start([BOB_VM], { config: { voicemail: { maxMessages: 1 } } });
    const first = await callVoicemailOf2002();
    await untilRecording(first.ep);
    h.media.talk(first.ep, 2000);
    h.media.press(first.ep, '#');
    await h.advance(5000);
    const second = await callVoicemailOf2002('2003');
    expect(h.media.plays(second.ep)[0]!.files[0]).toContain('vm-box-full');
    await h.advance(10_000);
    expect(h.media.plays(second.ep).some((p) => p.files.some((f) => f.includes('vm-beep')))).toBe(false);
    expect(second.ended()).toBe(true);
    expect(h.voicemailStore.list('2002')).toHaveLength(1);
    expect(ev.deposited).toHaveLength(1);
  });

  it('a shared box is dialled by its number and a group can send unanswered calls to it', async () => {
    await start([], {
      config: {
        voicemailBoxes: [{ number: '3500', name: '営業部', notify: ['2003'], language: 'en' }],
        groups: [{ number: '3000', name: 'sales', members: ['2002'], timeout: 5, noAnswerDestination: 'voicemail:3500' }],
      },
    });
    const alice = await h.phone('2001');
    await h.phone('2002');
    const out = alice.dial('3000');
    await h.advance(5000);
    expect(out.status).toBe(200);
    const ep = out.call!.endpoint;
    expect(h.media.plays(ep)[0]!.files[0]).toContain('en/vm-greeting-before');
    await untilRecording(ep);
    h.media.talk(ep, 1200);
    h.media.press(ep, '#');
    await h.advance(5000);
    expect(h.voicemailStore.list('3500')).toMatchObject([{ calledNumber: '3000', durationMs: 1200 }]);

    const direct = alice.dial('3500');
    await h.settle();
    expect(direct.status).toBe(200);
    expect(h.media.plays(direct.call!.endpoint)[0]!.files[0]).toContain('en/vm-greeting-before');
  });

  it('1425 + the pilot (14251410) turns no-answer forwarding to the own box on; refused without a box', async () => {
    await start([
      { number: '2002', forwarding: { noAnswerTimeout: 5 } },
      { number: '2004', voicemail: false },
    ]);
    const bob = await h.phone('2002');
    const code = bob.dial('14251410');
    await h.settle();
    expect(code.status).toBe(200);
    expect(h.media.plays(code.call!.endpoint)[0]!.files[0]).toContain('setting-done');
    code.call!.hangup();
    await h.settle();
    expect(h.forwarding.effective('2002')).toMatchObject({ cfna: 'voicemail' });
    const caller = await callVoicemailOf2002();
    await untilRecording(caller.ep);

    const dave = await h.phone('2004');
    const refused = dave.dial('14251410');
    await h.settle();
    expect(h.media.plays(refused.call!.endpoint)[0]!.files[0]).toContain('forward-invalid');
    expect(h.forwarding.effective('2004').cfna).toBeUndefined();
  });

  it('an application that answered the call can hand it to a box (an IVR key): voicemail:<box> by handTo', async () => {
    /** A number that answers, then hands the caller to 2002's box, as an IVR key would. */
    class Menu implements Feature, CallApplication<null> {
      readonly name = 'test menu';
      register(r: FeatureRegistry): void {
        r.destination({ name: 'test menu', tier: 'local', resolve: (d) => (d === '2999' ? { app: this, args: null, callee: { number: d } } : undefined) });
      }
      async run(session: CallApi, leg: Leg): Promise<void> {
        const mine = leg.take({ label: 'test menu', ended: () => undefined });
        if (!(await session.answer(mine))) return;
        session.call.markAnswered('menu');
        await session.handTo(mine, 'voicemail:2002');
      }
    }
    h = await CoreHarness.start({ extensions: [BOB_VM], extraFeatures: () => [new Menu()] });
    const alice = await h.phone('2001');
    const out = alice.dial('2999');
    await h.settle();
    expect(out.status).toBe(200);
    const ep = out.call!.endpoint;
    await untilRecording(ep);
    h.media.talk(ep, 1200);
    h.media.press(ep, '#');
    await h.advance(5000);
    expect(h.voicemailStore.list('2002')).toMatchObject([{ calledNumber: '2999', durationMs: 1200 }]);
    expect(h.cdr()).toMatchObject({ dialedNumber: '2999', feature: 'voicemail:2002', answeredBy: 'menu', disposition: 'answered' });
  });

  it('an extension with voicemail: false has no box: voicemail:<it> reaches nothing', async () => {
    await start([{ number: '2004', voicemail: false }]);
    const alice = await h.phone('2001');
    const out = alice.dial('voicemail:2004');
    await h.settle();
    expect(out.status).toBe(404);
  });
});

function readdir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Keys pressed one by one, as a person types them (each one reaches whoever holds the leg by then). */
async function keys(ep: EndpointId, digits: string): Promise<void> {
  for (const d of digits) {
    h.media.press(ep, d);
    await h.settle();
  }
}

/** Leave one message of `ms` from `caller` in 2002's box. */
async function leave(caller: string, ms: number): Promise<void> {
  const { ep } = await callVoicemailOf2002(caller);
  await untilRecording(ep);
  h.media.talk(ep, ms, { hz: 600 });
  h.media.press(ep, '#');
  await h.advance(5000);
}

describe('voicemail retrieval (1410)', () => {
  it("from the owner's phone: PIN, counts, the message with its envelope; played → saved; 7 deletes it and its file", async () => {
    const ev = await start([BOB_VM]);
    await leave('2001', 2000);
    const [m] = h.voicemailStore.list('2002');
    const bob = await h.phone('2002');
    const out = bob.dial('1410');
    await h.settle();
    expect(out.status).toBe(200);
    const ep = out.call!.endpoint;
    expect(h.media.nowPlaying(ep)?.files[0]).toContain('vm-enter-pin');
    await keys(ep, '2580#');
    // "あたらしい メッセージが 1 けん、ほぞんされた メッセージが 0 けん あります", then the menu.
    expect(h.media.nowPlaying(ep)?.files.map((f) => f.split('/').pop())).toEqual([
      'vm-new-count.wav',
      '1.wav',
      'vm-ken.wav',
      'vm-saved-count.wav',
      '0.wav',
      'vm-ken.wav',
      'vm-arimasu.wav',
      'vm-main-menu.wav',
    ]);
    h.media.press(ep, '1');
    await h.settle();
    const playing = h.media.nowPlaying(ep)!.files;
    // 1 月 6 日 10 時 (Asia/Tokyo), from 2-0-0-1, then the message itself and the message menu.
    expect(playing.map((f) => f.split('/').pop())).toEqual([
      'vm-month-1.wav',
      'vm-day-6.wav',
      'vm-hour-10.wav',
      '2.wav',
      '0.wav',
      '0.wav',
      '1.wav',
      'vm-from-after.wav',
      m!.file.split('/')[1],
      'vm-message-menu.wav',
    ]);
    expect(h.voicemailStore.get(m!.id)?.status).toBe('saved');
    expect(ev.changed.at(-1)).toEqual({ box: '2002', counts: { new: 0, saved: 1 } });
    h.media.press(ep, '7');
    await h.settle();
    expect(h.voicemailStore.list('2002')).toEqual([]);
    await until('the message file removed', () => !existsSync(join(h.voicemailDir, m!.file)));
    await until('the counts announced', () => ev.changed.at(-1)?.counts.saved === 0);
    expect(ev.changed.at(-1)).toEqual({ box: '2002', counts: { new: 0, saved: 0 } });
    await untilPlaying(ep, 'vm-main-menu');
    h.media.press(ep, '#');
    await h.advance(5000);
    expect(out.call!.ended).toBeDefined();
    expect(h.cdrs.at(-1)).toMatchObject({ dialedNumber: '1410', feature: 'voicemail', answeredBy: 'hibiki' });
  });

  it('from another phone: box number + #, then PIN', async () => {
    await start([BOB_VM]);
    await leave('2001', 1500);
    const carol = await h.phone('2003', {});
    const out = carol.dial('1410');
    await h.settle();
    const ep = out.call!.endpoint;
    // 2003 has a box of its own but no PIN: from its own phone it opens without one. Use a phone of 2005 instead.
    expect(h.media.nowPlaying(ep)?.files.some((f) => f.includes('vm-new-count'))).toBe(true);
    out.call!.hangup();
    await h.settle();

    await stopAndStart([BOB_VM, { number: '2005', voicemail: false }]);
    await leave('2001', 1500);
    const eve = await h.phone('2005');
    const out2 = eve.dial('1410');
    await h.settle();
    const ep2 = out2.call!.endpoint;
    expect(h.media.nowPlaying(ep2)?.files[0]).toContain('vm-enter-box');
    await keys(ep2, '2002#');
    expect(h.media.nowPlaying(ep2)?.files[0]).toContain('vm-enter-pin');
    await keys(ep2, '2580#');
    expect(
      h.media
        .nowPlaying(ep2)
        ?.files.slice(0, 2)
        .map((f) => f.split('/').pop()),
    ).toEqual(['vm-new-count.wav', '1.wav']);
  });

  it('three wrong PINs end the call with a security event naming the box and the source address', async () => {
    await start([BOB_VM]);
    const bob = await h.phone('2002');
    const out = bob.dial('1410');
    await h.settle();
    const ep = out.call!.endpoint;
    for (const pin of ['1111', '2581', '0000']) {
      await untilPlaying(ep, 'vm-enter-pin');
      await keys(ep, `${pin}#`);
    }
    await h.advance(10_000);
    expect(out.call!.ended).toBeDefined();
    const security = h.logs.filter((l) => l.event === 'security' && l.kind === 'voicemail_pin');
    expect(security).toHaveLength(1);
    expect(security[0]).toMatchObject({ box: '2002', attempts: 3, level: 40 });
    expect(typeof security[0]!.address).toBe('string');
    expect(h.pinFailures).toEqual([security[0]!.address]);
  });

  it('0 changes the PIN: rules are enforced, the new PIN opens the box, the old one no longer does', async () => {
    await start([BOB_VM]);
    const bob = await h.phone('2002');
    const out = bob.dial('1410');
    await h.settle();
    const ep = out.call!.endpoint;
    await keys(ep, '2580#');
    h.media.press(ep, '0');
    await h.settle();
    expect(h.media.nowPlaying(ep)?.files[0]).toContain('vm-new-pin');
    await keys(ep, '1234#');
    expect(h.media.nowPlaying(ep)?.files[0]).toContain('vm-pin-invalid');
    expect(h.voicemailBoxes.pin('2002', '2580')).toBe('2580');
    await untilPlaying(ep, 'vm-main-menu');
    h.media.press(ep, '0');
    await h.settle();
    await keys(ep, '7351#');
    expect(h.media.nowPlaying(ep)?.files[0]).toContain('vm-reenter-pin');
    await keys(ep, '7351#');
    expect(h.media.nowPlaying(ep)?.files[0]).toContain('vm-pin-changed');
    expect(h.voicemailBoxes.pin('2002', '2580')).toBe('7351');
    // An admin who edits the YAML PIN later wins over the PIN set by phone.
    expect(h.voicemailBoxes.pin('2002', '4826')).toBe('4826');
  });

  it('8 records the box greeting, which callers then hear instead of the system one', async () => {
    await start([BOB_VM]);
    const bob = await h.phone('2002');
    const out = bob.dial('1410');
    await h.settle();
    const ep = out.call!.endpoint;
    await keys(ep, '2580#');
    h.media.press(ep, '8');
    await untilRecording(ep);
    h.media.talk(ep, 2500, { hz: 300 });
    h.media.press(ep, '#');
    await untilPlaying(ep, 'vm-greeting-saved');
    out.call!.hangup();
    await h.settle();
    const caller = await callVoicemailOf2002();
    const greeting = join(h.voicemailDir, '2002', 'greeting.wav');
    await until('the greeting played', () => h.media.plays(caller.ep).length > 0);
    expect(h.media.plays(caller.ep)[0]!.files).toEqual([greeting, expect.stringContaining('vm-leave-message'), expect.stringContaining('vm-beep')]);
    expect(readWav(readFileSync(greeting)).samples.length).toBe(20000);
  });
});

async function stopAndStart(extensions: HarnessExtension[]): Promise<void> {
  await h.stop();
  h = await CoreHarness.start({ extensions });
}
