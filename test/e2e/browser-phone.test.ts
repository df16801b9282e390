// Issue #16: the browser phone in a real browser (Debian chromium, playwright-core) with WebRTC through
// rtpengine. Chromium's microphone is a fake device playing a 600 Hz tone; the desk phone (a test UA, plain
// G.711) sends 1000 Hz. The browser registers over WSS, calls the desk phone and the reverse; each side
// hears the other's tone (the desk phone by frequency in its RTP, the browser by Web Audio analysis of the
// remote stream); #72 typed on the browser's keypad parks the desk phone; the call shows in the history.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startApi, type RunningApi } from '../support/api.js';
import { fakeMicrophoneArgs, launchBrowser, type TestBrowser } from '../support/browser.js';
import { registeredPhone, talking, waitUntil } from '../support/call-helpers.js';
import { heard, hears } from '../support/tones.js';
import { startRtpengine, type TestRtpengine } from '../support/rtpengine.js';
import { createSelfSignedCert, removeCert, type TestCert } from '../support/tls-cert.js';
import type { Call, TestUA } from '../support/test-ua.js';

const WAIT = 20_000;
const BROWSER_HZ = 600;
const DESK_HZ = 1000;

let dir: string;
let cert: TestCert;
let rtpengine: TestRtpengine | undefined;
let h: RunningApi | undefined;
let browser: TestBrowser | undefined;
const phones: TestUA[] = [];

/** A 48 kHz 16-bit mono WAV of a sine: what Chromium's fake microphone plays, in a loop. */
function sineWav(path: string, hz: number, seconds: number): void {
  const rate = 48_000;
  const n = rate * seconds;
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(12_000 * Math.sin((2 * Math.PI * hz * i) / rate)), 44 + i * 2);
  writeFileSync(path, buf);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hibiki-phone-'));
  sineWav(join(dir, 'mic.wav'), BROWSER_HZ, 2);
  cert = await createSelfSignedCert();
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await removeCert(cert);
});

afterEach(async () => {
  const problems = browser?.problems ?? [];
  await browser?.close();
  browser = undefined;
  for (const p of phones.splice(0)) await p.close();
  await h?.stop();
  h = undefined;
  await rtpengine?.stop();
  rtpengine = undefined;
  expect(problems).toEqual([]);
});

/**
 * hibiki with a WSS listener (or plain ws, as the shipped config has, which a page served over http from
 * localhost may use), rtpengine for the WebRTC legs (mixed mode), the browser logged in as 2001.
 */
async function phonePage(websocket: 'wss' | 'ws' = 'wss', password = 'secret-2001'): Promise<Page> {
  rtpengine = await startRtpengine();
  const base = 20000 + 2 * Math.floor(Math.random() * 9000);
  h = await startApi({
    transports: [{ transport: 'udp' }, websocket === 'wss' ? { transport: 'wss', cert: cert.certPath, key: cert.keyPath } : { transport: 'ws' }],
    config: {
      media: { bindAddress: '127.0.0.1', address: '127.0.0.1', rtpPorts: [base, base + 399], rtpengine: { ng: rtpengine.ng, timeoutMs: 200, retries: 1, checkInterval: 2 } },
    },
  });
  browser = await launchBrowser({ args: fakeMicrophoneArgs(join(dir, 'mic.wav')) });
  const page = await browser.page();
  page.setDefaultTimeout(WAIT);
  await page.goto(`${h.baseUrl}/phone/`);
  await page.locator('input[name=extension]').fill('2001');
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  if (password === 'secret-2001') await page.locator('[data-registered=true]').waitFor();
  return page;
}

/**
 * Runs in the page (the tests are compiled without the DOM's types, so it is kept as source text): analyses
 * the remote stream of the page's <audio id=remote> with Web Audio and returns the strongest frequency and
 * the level at `hz` (dB). The analyser is made again when the page attaches another stream.
 */
const AUDIO_PROBE = `async (hz) => {
  const stream = document.getElementById('remote').srcObject;
  if (!window.probe || window.probe.stream !== stream) {
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 4096;
    ctx.createMediaStreamSource(stream).connect(analyser);
    window.probe = { ctx, analyser, stream };
  }
  const { ctx, analyser } = window.probe;
  await ctx.resume();
  const data = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(data);
  const binHz = ctx.sampleRate / analyser.fftSize;
  let peak = 1;
  for (let i = 2; i < data.length; i++) if (data[i] > data[peak]) peak = i;
  return { peakHz: peak * binHz, level: data[Math.round(hz / binHz)] };
}`;

/** The strongest frequency in what the page's remote audio plays, and the level at `hz` (dB). */
async function browserHears(page: Page, hz: number): Promise<{ peakHz: number; level: number }> {
  return page.evaluate(`(${AUDIO_PROBE})(${hz})`) as Promise<{ peakHz: number; level: number }>;
}

async function untilBrowserHears(page: Page, hz: number): Promise<void> {
  const end = Date.now() + WAIT;
  let last = { peakHz: 0, level: -Infinity };
  while (Date.now() < end) {
    last = await browserHears(page, hz);
    if (Math.abs(last.peakHz - hz) < 30 && last.level > -70) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`the browser hears ${last.peakHz.toFixed(0)} Hz loudest (${hz} Hz at ${last.level.toFixed(1)} dB), wanted ${hz} Hz`);
}

/** The browser dials `number` from its keypad screen; the desk phone answers and hears the browser's tone. */
async function browserCalls(page: Page, desk: TestUA, number: string): Promise<Call> {
  const rings = desk.waitForCall({ timeoutMs: WAIT });
  await page.locator('input[name=number]').fill(number);
  await page.locator('button[name=dial]').click();
  const deskCall = await (await rings).answer();
  await page.locator('[data-call-state=talking]').waitFor();
  await hears(deskCall, [BROWSER_HZ], [], WAIT);
  return deskCall;
}

describe('browser phone (WebRTC through rtpengine)', () => {
  it('calls a desk phone: audio both ways, and #72 on the keypad parks the desk phone', async () => {
    const page = await phonePage();
    const desk = await registeredPhone(h!, '2002', phones);
    const deskCall = await browserCalls(page, desk, '2002');
    deskCall.rtp.useSine(DESK_HZ);
    deskCall.rtp.startTone();
    await untilBrowserHears(page, DESK_HZ);

    for (const key of ['#', '7', '2']) await page.locator(`[data-call-state=talking] button[data-key="${key}"]`).click();
    await waitUntil(() => h!.server.park.parked().length === 1, WAIT);
    expect(h!.server.park.parked()[0]?.party.number).toBe('2002');
    // The browser heard its slot and was let go; the desk phone waits in the slot.
    await page.locator('button[name=dial]').waitFor();
    deskCall.rtp.stopTone();
  });

  it('answers a call from a desk phone with ringing, audio both ways, holds and resumes it, and lists it in the history (plain ws from an http page)', async () => {
    const page = await phonePage('ws');
    const desk = await registeredPhone(h!, '2002', phones);
    const outgoing = desk.call('2001');
    await page.locator('[data-incoming="2002"]').waitFor();
    await page.locator('button[name=answer]').click();
    const deskCall = await outgoing;
    deskCall.rtp.useSine(DESK_HZ);
    deskCall.rtp.startTone();
    await hears(deskCall, [BROWSER_HZ], [], WAIT);
    await untilBrowserHears(page, DESK_HZ);

    // The called browser re-offers (hold, then resume): rtpengine takes an offer from the side that answered.
    await page.locator('button[name=hold]').click();
    await page.locator('button[name=hold][aria-pressed=true]').waitFor();
    await waitUntil(() => heard(deskCall, BROWSER_HZ) < 0.05, WAIT);
    await page.locator('button[name=hold]').click();
    await page.locator('button[name=hold][aria-pressed=false]').waitFor();
    await hears(deskCall, [BROWSER_HZ], [], WAIT);
    await untilBrowserHears(page, DESK_HZ);

    await deskCall.hangup();
    await page.locator('button[name=dial]').waitFor();
    await page.locator('table.history td', { hasText: '2002' }).first().waitFor();
    await rtpengine!.waitEmpty();
  });

  it('rings the browser and a desk phone of the same extension: early media from the desk phone does not keep the browser from answering', async () => {
    const page = await phonePage();
    const deskOf2001 = await registeredPhone(h!, '2001', phones);
    const caller = await registeredPhone(h!, '2002', phones);
    const deskRings = deskOf2001.waitForCall({ timeoutMs: WAIT });
    const outgoing = caller.call('2001');
    const atDesk = await deskRings;
    // The desk phone of 2001 sends 183 with SDP (early media) and keeps ringing; the browser answers.
    await atDesk.progress();
    await page.locator('[data-incoming="2002"]').waitFor();
    await page.locator('button[name=answer]').click();
    const callerCall = await outgoing;
    await atDesk.waitForCancel(WAIT);
    callerCall.rtp.useSine(DESK_HZ);
    callerCall.rtp.startTone();
    await hears(callerCall, [BROWSER_HZ], [], WAIT);
    await untilBrowserHears(page, DESK_HZ);
    await callerCall.hangup();
    await page.locator('button[name=dial]').waitFor();
    await rtpengine!.waitEmpty();
  });

  it('holds (the desk phone hears music, not the browser), mutes, and transfers the desk phone with the REFER button', async () => {
    const page = await phonePage();
    const desk = await registeredPhone(h!, '2002', phones);
    const carol = await registeredPhone(h!, '2003', phones);
    const deskCall = await browserCalls(page, desk, '2002');

    await page.locator('button[name=hold]').click();
    await page.locator('button[name=hold][aria-pressed=true]').waitFor();
    // Music on hold from hibiki replaces the browser's tone.
    await waitUntil(() => heard(deskCall, BROWSER_HZ) < 0.05 && deskCall.rtp.received().tone.foreign > 25, WAIT);
    await page.locator('button[name=hold]').click();
    await page.locator('button[name=hold][aria-pressed=false]').waitFor();
    await hears(deskCall, [BROWSER_HZ], [], WAIT);

    await page.locator('button[name=mute]').click();
    await waitUntil(() => heard(deskCall, BROWSER_HZ) < 0.05, WAIT);
    await page.locator('button[name=mute]').click();
    await hears(deskCall, [BROWSER_HZ], [], WAIT);

    const carolRings = carol.waitForCall({ timeoutMs: WAIT });
    await page.locator('input[name=transfer]').fill('2003');
    await page.locator('button[name=refer]').click();
    const carolCall = await (await carolRings).answer();
    await talking(deskCall, carolCall, 71, 73);
    await page.locator('button[name=dial]').waitFor();
  });

  it('consults a third phone and completes an attended transfer (REFER with Replaces)', async () => {
    const page = await phonePage();
    const desk = await registeredPhone(h!, '2002', phones);
    const carol = await registeredPhone(h!, '2003', phones);
    const deskCall = await browserCalls(page, desk, '2002');

    const carolRings = carol.waitForCall({ timeoutMs: WAIT });
    await page.locator('input[name=transfer]').fill('2003');
    await page.locator('button[name=consult]').click();
    const carolCall = await (await carolRings).answer();
    carolCall.rtp.useSine(DESK_HZ);
    carolCall.rtp.startTone();
    await page.locator('.consult').waitFor();
    await untilBrowserHears(page, DESK_HZ);
    await hears(carolCall, [BROWSER_HZ], [], WAIT);
    carolCall.rtp.stopTone();
    carolCall.rtp.useSine(undefined);

    await page.locator('button[name=complete]').click();
    await talking(deskCall, carolCall, 81, 83);
    await page.locator('button[name=dial]').waitFor();
  });

  it('refuses browser calls with 503 (cause 41) while rtpengine is down, desk phones still call each other, and the browser calls again once it is back', async () => {
    const page = await phonePage();
    const desk = await registeredPhone(h!, '2002', phones);
    const carol = await registeredPhone(h!, '2003', phones);
    await rtpengine!.kill();
    const down = () => h!.logs.some((l) => String(l.msg).startsWith('rtpengine not answering'));
    await waitUntil(down, WAIT);

    await page.locator('input[name=number]').fill('2002');
    await page.locator('button[name=dial]').click();
    await page.locator('[data-failed="2002"]', { hasText: '503' }).waitFor();
    await waitUntil(() => h!.server.cdr.query({}).length === 1, WAIT);
    expect(h!.server.cdr.query({})[0]).toMatchObject({ callerNumber: '2001', disposition: 'failed', q850Cause: 41, sipStatus: 503 });

    // Plain phones are on the built-in engine: unaffected.
    const rings = carol.waitForCall({ timeoutMs: WAIT });
    const deskCall = desk.call('2003');
    const carolCall = await (await rings).answer();
    await talking(await deskCall, carolCall, 91, 92);
    await carolCall.hangup();

    const answering = () => h!.logs.filter((l) => l.msg === 'rtpengine answering').length;
    const before = answering();
    await rtpengine!.restart();
    await waitUntil(() => answering() > before, WAIT);
    const again = desk.waitForCall({ timeoutMs: WAIT });
    await page.locator('input[name=number]').fill('2002');
    await page.locator('button[name=dial]').click();
    const call = await (await again).answer();
    await hears(call, [BROWSER_HZ], [], WAIT);
  });

  it('refuses a wrong SIP password with the reason on the page, speaks Japanese, and logs in with the right one', async () => {
    const page = await phonePage('wss', 'wrong');
    await page
      .getByRole('alert')
      .filter({ hasText: '403' })
      .or(page.getByRole('alert').filter({ hasText: '401' }))
      .waitFor();
    await page.locator('#lang').selectOption('ja');
    await page.getByRole('button', { name: 'ログイン' }).waitFor();
    await page.locator('input[name=extension]').fill('2001');
    await page.locator('input[name=password]').fill('secret-2001');
    await page.getByRole('button', { name: 'ログイン' }).click();
    await page.locator('[data-registered=true]', { hasText: '登録済み' }).waitFor();
  });
});
