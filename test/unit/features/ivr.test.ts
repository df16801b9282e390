// F-IVR in the call core, on the fake clock: the greeting with barge-in, keys to every destination kind,
// no input and invalid keys retried then defaultDestination, direct extension dialling, schedule rows judged
// by the clock in the tenant's time zone (weekday, hours, a listed date, a Japanese public holiday with and
// without ★ rows), IVRs reached from a DID and from a group's no-answer, and the CDR path.
import { afterEach, describe, expect, it } from 'vitest';
import { missingIvrPrompts } from '../../../src/features/ivr.js';
import { CoreHarness, type HarnessOptions } from '../../support/core-harness.js';
import type { OutgoingCall, Phone } from '../../support/core-phone.js';

let h: CoreHarness;
afterEach(() => h?.stop());

const CARRIER = '127.0.20.1';

/** The main menu 500 and a sub-menu 510, with every kind of destination on a key. */
function menus(extra: Record<string, unknown> = {}, sub: Record<string, unknown> = {}) {
  return [
    {
      number: '500',
      name: 'Main',
      greeting: 'ivr-welcome',
      keys: { 1: '2002', 2: '600', 3: 'prompt:ivr-closed', 4: 'voicemail:2003', 5: 'hangup', 7: 'repeat', 9: '510', 0: '0312345678' },
      ...extra,
    },
    { number: '510', name: 'Sub', greeting: { en: 'ivr-welcome' }, language: 'en', keys: { 1: '2003', '*': 'parent', '#': 'repeat' }, ...sub },
  ];
}

const BASE = {
  groups: [{ number: '600', name: 'Sales', members: ['2004'], timeout: 5 }],
  trunks: [{ name: 'carrier', host: CARRIER, domain: 'carrier.test' }],
  routes: [{ name: 'domestic', prefix: '0', minLength: 10, maxLength: 11, trunk: 'carrier' }],
  inbound: [{ did: '0399998888', destination: '500' }],
};

async function start(opts: { ivr?: Record<string, unknown>; sub?: Record<string, unknown>; config?: Record<string, unknown> } & Omit<HarnessOptions, 'config'> = {}): Promise<void> {
  const { ivr, sub, config, ...rest } = opts;
  h = await CoreHarness.start({ ...rest, config: { ...BASE, ivrs: menus(ivr, sub), ...config } });
}

/** Alice dials the IVR; it answers with the greeting. */
async function callIvr(number = '500'): Promise<{ alice: Phone; out: OutgoingCall; ep: string }> {
  const alice = await h.phone('2001');
  const out = alice.dial(number);
  await h.settle();
  expect(out.status).toBe(200);
  return { alice, out, ep: out.call!.endpoint };
}

function playing(ep: string): string {
  const p = h.media.nowPlaying(ep);
  return p ? p.files.map((f) => f.replace(/^.*\/prompts\//, '')).join(',') : '';
}

function plays(ep: string): string[] {
  return h.media.plays(ep).map((p) => p.files.map((f) => f.replace(/^.*\/prompts\//, '')).join(','));
}

/**
 * Play prompts out on the fake clock until `check` holds (the voicemail greeting before its recording). The
 * box's files are written on the real file system: while nothing plays, real time is let pass for that.
 */
async function until(what: string, check: () => boolean): Promise<void> {
  // A generous bound for a busy machine: the loop ends as soon as the check holds.
  const deadline = Date.now() + 20_000;
  while (!check() && Date.now() < deadline) {
    await h.settle();
    if (check()) break;
    const playing = h.active.some((c) => c.legs.some((l) => l.endpoint !== undefined && h.media.nowPlaying(l.endpoint)?.loop === false));
    if (playing) await h.advance(100);
    else await new Promise((r) => setTimeout(r, 1));
  }
  expect(check(), what).toBe(true);
}

describe('IVR menu', () => {
  it('answers with the greeting; key 1 rings the extension with ringback to the caller, and its answer is bridged; CDR feature has the path', async () => {
    await start();
    const bob = await h.phone('2002');
    const { out, ep } = await callIvr();
    expect(playing(ep)).toBe('ja/ivr-welcome.wav');
    out.call!.press('1');
    await h.settle();
    // Barge-in: the key stopped the greeting.
    expect(h.media.plays(ep)[0]!.state).toBe('stopped');
    expect(playing(ep)).toBe('tones/ringback.wav');
    const atBob = bob.takeCall();
    const bobCall = atBob.answer();
    await h.settle();
    expect(h.media.bridged(ep, bobCall.endpoint)).toBe(true);
    expect(h.media.nowPlaying(ep)).toBeUndefined();
    const answeredAt = h.clock.now();
    await h.advance(3000);
    out.call!.hangup();
    await h.settle();
    const cdr = h.cdr();
    expect(cdr).toMatchObject({ dialedNumber: '500', calleeNumber: '2002', answeredBy: '2002', disposition: 'answered', hangupBy: 'caller', feature: 'ivr:500>1>2002' });
    // Billing runs from the IVR's answer, not from Bob's.
    expect(Date.parse(cdr.answeredAt!)).toBeLessThanOrEqual(answeredAt);
    expect(bobCall.ended).toMatchObject({ by: 'remote' });
  });

  it('a key pressed during the greeting stops it (barge-in) and counts at once; without a key the greeting plays to its end first', async () => {
    await start({ ivr: { keys: { 5: 'hangup' } } });
    const { out, ep } = await callIvr();
    const greeting = h.media.playLength(h.media.nowPlaying(ep)!.files);
    await h.advance(Math.floor(greeting / 2));
    expect(playing(ep)).toBe('ja/ivr-welcome.wav');
    out.call!.press('5');
    await h.settle();
    expect(h.media.plays(ep)[0]!.state).toBe('stopped');
    expect(out.call!.ended).toMatchObject({ by: 'remote' });
    expect(h.cdr()).toMatchObject({ feature: 'ivr:500>5>hangup', hangupBy: 'system', disposition: 'answered' });
  });

  it('no input: the digit timeout starts after the greeting; no-input prompt and the menu again maxRetries times, then defaultDestination', async () => {
    await start({ ivr: { maxRetries: 2, digitTimeout: 5, defaultDestination: '2003' } });
    const carol = await h.phone('2003');
    const { ep } = await callIvr();
    const greeting = h.media.playLength(h.media.nowPlaying(ep)!.files);
    await h.advance(greeting + 4900);
    // Still waiting: 5 s of silence after the greeting ended have not passed.
    expect(plays(ep)).toEqual(['ja/ivr-welcome.wav']);
    await h.advance(100);
    expect(playing(ep)).toBe('ja/ivr-no-input.wav');
    await h.advance(60_000);
    expect(plays(ep)).toEqual(['ja/ivr-welcome.wav', 'ja/ivr-no-input.wav', 'ja/ivr-welcome.wav', 'ja/ivr-no-input.wav', 'ja/ivr-welcome.wav', 'ja/ivr-no-input.wav', 'tones/ringback.wav']);
    expect(carol.incoming).toHaveLength(1);
  });

  it('invalid keys: the invalid prompt and the menu again, then without a defaultDestination goodbye and hang-up', async () => {
    await start({ ivr: { maxRetries: 1 } });
    const { out, ep } = await callIvr();
    out.call!.press('8');
    await h.settle();
    expect(playing(ep)).toBe('ja/ivr-invalid.wav');
    await h.advance(h.media.playLength(h.media.nowPlaying(ep)!.files));
    expect(playing(ep)).toBe('ja/ivr-welcome.wav');
    out.call!.press('6');
    await h.settle();
    await h.advance(30_000);
    expect(plays(ep)).toEqual(['ja/ivr-welcome.wav', 'ja/ivr-invalid.wav', 'ja/ivr-welcome.wav', 'ja/ivr-invalid.wav', 'ja/ivr-goodbye.wav']);
    expect(out.call!.ended).toMatchObject({ by: 'remote' });
    expect(h.cdr()).toMatchObject({ feature: 'ivr:500>invalid>prompt:ivr-goodbye', disposition: 'answered', hangupBy: 'system' });
  });

  it('prompt:<name> plays the prompt, then hangs up', async () => {
    await start();
    const { out, ep } = await callIvr();
    out.call!.press('3');
    await h.settle();
    expect(playing(ep)).toBe('ja/ivr-closed.wav');
    expect(out.call!.ended).toBeUndefined();
    await h.advance(h.media.playLength(h.media.nowPlaying(ep)!.files));
    expect(out.call!.ended).toMatchObject({ by: 'remote' });
    expect(h.cdr()).toMatchObject({ feature: 'ivr:500>3>prompt:ivr-closed', hangupBy: 'system' });
  });

  it('a key to a group rings its members; a key to another IVR plays its menu (its language), * goes back to the parent menu, # repeats', async () => {
    await start();
    const dave = await h.phone('2004');
    const { out, ep } = await callIvr();
    out.call!.press('9');
    await h.settle();
    expect(playing(ep)).toBe('en/ivr-welcome.wav');
    out.call!.press('#');
    await h.settle();
    expect(playing(ep)).toBe('en/ivr-welcome.wav');
    out.call!.press('*');
    await h.settle();
    expect(playing(ep)).toBe('ja/ivr-welcome.wav');
    out.call!.press('7');
    await h.settle();
    expect(playing(ep)).toBe('ja/ivr-welcome.wav');
    out.call!.press('2');
    await h.settle();
    const atDave = dave.takeCall();
    const daveCall = atDave.answer();
    await h.settle();
    expect(h.media.bridged(ep, daveCall.endpoint)).toBe(true);
    daveCall.hangup();
    await h.settle();
    expect(h.cdr()).toMatchObject({ feature: 'ivr:500>9>ivr:510>#>*>ivr:500>7>2>600', answeredBy: '2004', hangupBy: 'callee' });
  });

  it('voicemail:<box> hands the answered caller to that box: its greeting, a message left, the path in the CDR', async () => {
    await start();
    const { out, ep } = await callIvr();
    out.call!.press('4');
    await until('recording in box 2003', () => h.media.isRecording(ep));
    expect(h.media.plays(ep).some((p) => p.files.some((f) => f.endsWith('vm-greeting-before.wav')))).toBe(true);
    h.media.talk(ep, 2000, { hz: 440 });
    h.media.press(ep, '#');
    await until('message stored', () => h.voicemailStore.list('2003').length === 1);
    expect(h.voicemailStore.list('2003')[0]).toMatchObject({ box: '2003', callerNumber: '2001', durationMs: 2000 });
    await h.advance(10_000);
    expect(h.cdr()).toMatchObject({ feature: 'ivr:500>4>voicemail:2003', answeredBy: 'hibiki' });
  });

  it('an outside number on a key leaves through the outbound route', async () => {
    await start();
    const carrier = await h.carrier('carrier');
    const { out, ep } = await callIvr();
    out.call!.press('0');
    await h.settle();
    const atCarrier = carrier.takeCall();
    const farEnd = atCarrier.answer();
    await h.settle();
    expect(h.media.bridged(ep, farEnd.endpoint)).toBe(true);
    out.call!.hangup();
    await h.settle();
    expect(h.cdr()).toMatchObject({ feature: 'ivr:500>0>0312345678', trunk: 'carrier' });
  });

  it('the destination not answering ends the call with its cause; the caller hanging up while it rings ends the call', async () => {
    await start({ extensions: [{ number: '2002', ringTimeout: 5 }] });
    const bob = await h.phone('2002');
    const { out } = await callIvr();
    out.call!.press('1');
    await h.settle();
    bob.takeCall().ring();
    await h.advance(5000);
    expect(out.call!.ended).toMatchObject({ by: 'remote' });
    expect(h.cdr()).toMatchObject({ feature: 'ivr:500>1>2002', disposition: 'answered', q850Cause: 19 });
  });

  it("the extension's own forwarding applies after the hand-on, and the CDR path goes on with it", async () => {
    await start({ extensions: [{ number: '2002', forwarding: { noAnswer: '2003', noAnswerTimeout: 5 } }] });
    const bob = await h.phone('2002');
    const carol = await h.phone('2003');
    const { out, ep } = await callIvr();
    out.call!.press('1');
    await h.settle();
    bob.takeCall().ring();
    await h.advance(5000);
    const carolCall = carol.takeCall().answer();
    await h.settle();
    expect(h.media.bridged(ep, carolCall.endpoint)).toBe(true);
    carolCall.hangup();
    await h.settle();
    expect(h.cdrs.at(-1)).toMatchObject({ feature: 'ivr:500>1>2002>forward_cfna>2003', answeredBy: '2003', forwardedFrom: '2002' });
  });

  it('the caller hanging up in the menu ends the call, hung up by the caller', async () => {
    await start();
    const { out } = await callIvr();
    out.call!.hangup();
    await h.settle();
    expect(h.active).toHaveLength(0);
    expect(h.cdr()).toMatchObject({ feature: 'ivr:500', disposition: 'answered', hangupBy: 'caller', answeredBy: 'hibiki' });
  });
});

describe('IVR direct extension dial', () => {
  it('with allowExtensionDial an extension number rings at its last digit; a key that starts an extension waits interDigitTimeout, then counts as the key', async () => {
    await start({ ivr: { allowExtensionDial: true, interDigitTimeout: 3, keys: { 2: '2004' } } });
    const carol = await h.phone('2003');
    const dave = await h.phone('2004');
    const { out } = await callIvr();
    out.call!.press('200');
    await h.settle();
    expect(carol.incoming).toHaveLength(0);
    out.call!.press('3');
    await h.settle();
    expect(carol.incoming).toHaveLength(1);
    out.call!.hangup();
    await h.settle();
    expect(h.cdrs.at(-1)).toMatchObject({ feature: 'ivr:500>2003' });

    const again = await callIvr();
    again.out.call!.press('2');
    await h.advance(2900);
    expect(dave.incoming).toHaveLength(0);
    await h.advance(100);
    expect(dave.incoming).toHaveLength(1);
  });

  it('without allowExtensionDial the first key decides: an extension number is an invalid key', async () => {
    await start({ ivr: { keys: {} } });
    const carol = await h.phone('2003');
    const { out, ep } = await callIvr();
    out.call!.press('2');
    await h.settle();
    expect(playing(ep)).toBe('ja/ivr-invalid.wav');
    out.call!.press('003');
    await h.settle();
    expect(carol.incoming).toHaveLength(0);
  });
});

describe('IVR schedules (tenant time zone, the call core clock)', () => {
  const OFFICE = [
    { holidayOnly: true, destination: 'prompt:ivr-closed' },
    { dates: ['2025-01-07'], destination: '2004' },
    { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '18:00', destination: '2002' },
  ];
  const tokyo = (iso: string) => Date.parse(`${iso}+09:00`);

  async function arrive(now: number, schedule: unknown[]): Promise<{ ep: string; bob: Phone; dave: Phone }> {
    await start({ now, ivr: { schedule } });
    const bob = await h.phone('2002');
    const dave = await h.phone('2004');
    const { ep } = await callIvr();
    return { ep, bob, dave };
  }

  it('a weekday in office hours routes by the row without the menu', async () => {
    const { ep, bob } = await arrive(tokyo('2025-01-08T10:00:00'), OFFICE);
    expect(bob.incoming).toHaveLength(1);
    expect(playing(ep)).toBe('tones/ringback.wav');
    expect(h.active[0]!.feature).toBe('ivr:500>schedule[2]>2002');
  });

  it('outside hours and at the weekend no row applies: the menu', async () => {
    const { ep, bob } = await arrive(tokyo('2025-01-08T18:00:00'), OFFICE);
    expect(bob.incoming).toHaveLength(0);
    expect(playing(ep)).toBe('ja/ivr-welcome.wav');
    await h.stop();
    const weekend = await arrive(tokyo('2025-01-11T10:00:00'), OFFICE);
    expect(playing(weekend.ep)).toBe('ja/ivr-welcome.wav');
  });

  it('a listed date applies before the weekday row', async () => {
    const { dave, bob } = await arrive(tokyo('2025-01-07T10:00:00'), OFFICE);
    expect(dave.incoming).toHaveLength(1);
    expect(bob.incoming).toHaveLength(0);
  });

  it('on a Japanese public holiday (成人の日, a Monday) only the ★ row applies', async () => {
    const { ep, bob } = await arrive(tokyo('2025-01-13T10:00:00'), OFFICE);
    expect(bob.incoming).toHaveLength(0);
    expect(playing(ep)).toBe('ja/ivr-closed.wav');
  });

  it('on a holiday without ★ rows no row applies: the menu, even in office hours', async () => {
    const { ep, bob } = await arrive(tokyo('2025-01-13T10:00:00'), OFFICE.slice(1));
    expect(bob.incoming).toHaveLength(0);
    expect(playing(ep)).toBe('ja/ivr-welcome.wav');
  });

  it('with tenant.japaneseHolidays off a public holiday is an ordinary day; tenant.holidays still count', async () => {
    await start({ now: tokyo('2025-01-13T10:00:00'), ivr: { schedule: OFFICE }, config: { tenant: { domain: 'hibiki.test', japaneseHolidays: false } } });
    const bob = await h.phone('2002');
    await callIvr();
    expect(bob.incoming).toHaveLength(1);
    await h.stop();
    await start({ now: tokyo('2025-01-08T10:00:00'), ivr: { schedule: OFFICE }, config: { tenant: { domain: 'hibiki.test', holidays: ['2025-01-08'] } } });
    const { ep } = await callIvr();
    expect(playing(ep)).toBe('ja/ivr-closed.wav');
  });
});

describe('IVR as a destination of DIDs and groups', () => {
  it('a DID whose inbound destination is the IVR gets the menu', async () => {
    await start();
    const carrier = await h.carrier('carrier');
    const inbound = carrier.dial('0399998888', { from: '<sip:09011112222@carrier.test>' });
    await h.settle();
    expect(inbound.status).toBe(200);
    expect(playing(inbound.call!.endpoint)).toBe('ja/ivr-welcome.wav');
  });

  it('an extension forwarding unconditionally to an IVR: the caller gets the menu; the CDR keeps the hop', async () => {
    await start({ extensions: [{ number: '2002', forwarding: { unconditional: '500' } }] });
    const alice = await h.phone('2001');
    const out = alice.dial('2002');
    await h.settle();
    expect(out.status).toBe(200);
    expect(playing(out.call!.endpoint)).toBe('ja/ivr-welcome.wav');
    out.call!.hangup();
    await h.settle();
    expect(h.cdrs.at(-1)).toMatchObject({ dialedNumber: '2002', calleeNumber: '500', forwardedFrom: '2002', feature: 'ivr:500', answeredBy: 'hibiki' });
  });

  it("a group's noAnswerDestination that is an IVR: the caller is answered by the IVR after the group timeout", async () => {
    await start({ config: { groups: [{ number: '600', name: 'Sales', members: ['2004'], timeout: 5, noAnswerDestination: '500' }] } });
    const dave = await h.phone('2004');
    const alice = await h.phone('2001');
    const out = alice.dial('600');
    await h.settle();
    dave.takeCall().ring();
    await h.advance(5000);
    expect(out.status).toBe(200);
    expect(playing(out.call!.endpoint)).toBe('ja/ivr-welcome.wav');
    out.call!.hangup();
    await h.settle();
    expect(h.cdrs.at(-1)).toMatchObject({ feature: 'ivr:500', calleeNumber: '500', answeredBy: 'hibiki' });
  });
});

describe('IVR prompts', () => {
  it('names missing from the prompt set are reported for the server to refuse at start; the menu still works without them', async () => {
    await start({ ivr: { greeting: { ja: 'no-such-greeting', en: 'ivr-welcome' }, keys: { 1: 'prompt:no-such-prompt', 5: 'hangup' } } });
    expect(missingIvrPrompts(h.config, h.prompts)).toEqual(['IVR 500: greeting prompt "no-such-greeting" not found', 'IVR 500: key 1 prompt "no-such-prompt" not found']);
    const { out } = await callIvr();
    expect(h.logs.some((l) => l.msg === 'prompt not found' && l.prompt === 'no-such-greeting')).toBe(true);
    out.call!.press('5');
    await h.settle();
    expect(out.call!.ended).toMatchObject({ by: 'remote' });
  });
});
