// F-HOTDESK end to end with test UAs and real RTP: a hot-desk device (8001, hotDesk: true) dials 998 + 2002
// and 2002's PIN (RFC 4733 digits); calls to 2002 then ring the device as well as 2002's own phone, and calls
// from the device present 2002 (INVITE From, CDR caller). 997 gives the extension back; a login on another
// device moves it; it survives a restart and ends at midnight in the tenant's time zone. Three wrong PINs
// are refused and count towards the F-AUTH address block.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { failure, nextRung, talking, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { TestUA, type Call } from '../support/test-ua.js';
import type { RunningHibiki } from '../support/hibiki.js';
import type { StartOptions, TestExtension } from '../support/hibiki.js';
import { shortPromptsDir } from '../support/short-prompts.js';

const PIN = '2580';
const EXTENSIONS: TestExtension[] = [
  { number: '2001', name: 'Alice', password: 'secret-2001' },
  { number: '2002', name: 'Bob', password: 'secret-2002', pin: PIN },
  { number: '2003', name: 'Carol', password: 'secret-2003' },
  { number: '8001', name: 'Desk 1', password: 'secret-8001', hotDesk: true },
  { number: '8002', name: 'Desk 2', password: 'secret-8002', hotDesk: true },
];

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

// The prompts that end a code's call are only waited out here (the test checks that a prompt arrived, more
// than 20 packets of it, not what it says): 600 ms of each. The PIN request, typed over, keeps its length.
const PROMPTS_DIR = shortPromptsDir(['setting-done', 'setting-cancelled', 'not-available', 'vm-wrong-pin'], 600);
afterAll(() => rmSync(PROMPTS_DIR, { recursive: true, force: true }));

const session = hibikiSession({ defaults: { extensions: EXTENSIONS } });
const start = (opts: StartOptions = {}) => session.start({ ...opts, config: { prompts: { dir: PROMPTS_DIR }, ...opts.config } });

/** hibiki's prompt is arriving: the PIN collection is listening. */
async function promptPlaying(call: Call): Promise<void> {
  const before = call.rtp.received().tone.foreign;
  await waitUntil(() => call.rtp.received().tone.foreign > before + 5, 5000);
}

/** Dial a hot-desk code, type `pin` (when given) once the prompt plays; hibiki hangs up at the end. */
async function hotDeskCode(phone: TestUA, code: string, pin?: string): Promise<void> {
  const call = await phone.call(code);
  if (pin !== undefined) {
    await promptPlaying(call);
    await call.sendDtmf(`${pin}#`, { method: 'rfc4733' });
  }
  const end = await call.waitForEnd(20_000);
  expect(end.by).toBe('remote');
  expect(call.rtp.received().tone.foreign).toBeGreaterThan(20);
}

/** Which of the phones the next call to `number` rings; the call is then cancelled. */
async function rings(caller: TestUA, number: string, candidates: TestUA[]): Promise<string> {
  const outgoing = await caller.dial(number);
  const rung = await nextRung(candidates, 5000);
  rung.call.ring();
  await outgoing.waitForProvisional(180);
  outgoing.cancel();
  await rung.call.waitForCancel();
  await outgoing.answered.catch(() => undefined);
  return rung.phone.user;
}

/** A phone registered from another loopback address (its own F-AUTH source address). */
async function phoneFrom(h: RunningHibiki, user: string, host: string): Promise<TestUA> {
  const p = await TestUA.create({ user, password: `secret-${user}`, host, server: { host: '127.0.0.1', port: h.port('udp') }, domain: 'hibiki.test' });
  session.phones.push(p);
  await p.register();
  return p;
}

describe('hot desk', () => {
  it('998 + extension + PIN: the device rings for 2002 and presents it; 997 gives it back', async () => {
    const { h, phone } = await start();
    const desk = await phone('8001');
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    await hotDeskCode(desk, '9982002', PIN);
    expect(h.server.hotDesk.deviceOf('2002')).toBe('8001');
    expect(h.logs.some((l) => l.msg === 'hot-desk login' && l.device === '8001' && l.extension === '2002')).toBe(true);

    // A call to 2002 rings both its own phone and the desk; the desk answers and they talk.
    const ringBob = bob.waitForCall();
    const ringDesk = desk.waitForCall();
    const outgoing = await alice.dial('2002');
    const [atBob, atDesk] = await Promise.all([ringBob, ringDesk]);
    expect(atDesk.to).toContain('2002');
    const deskCall = await atDesk.answer();
    const aliceCall = await outgoing.answered;
    await atBob.waitForCancel();
    await talking(aliceCall, deskCall, 301, 302);
    await aliceCall.hangup();

    // A call from the desk presents 2002: the callee's From and the CDR's caller.
    const ringCarol = carol.waitForCall();
    const fromDesk = await desk.dial('2003');
    const atCarol = await ringCarol;
    expect(atCarol.from).toContain('sip:2002@');
    const carolCall = await atCarol.answer();
    const deskOut = await fromDesk.answered;
    await talking(deskOut, carolCall, 303, 304);
    await deskOut.hangup();
    await waitUntil(() => h.server.cdr.query({}).some((r) => r.calleeNumber === '2003'), 5000);
    expect(h.server.cdr.query({}).find((r) => r.calleeNumber === '2003')).toMatchObject({ callerNumber: '2002', disposition: 'answered' });

    // 997 logs out: the desk no longer rings for 2002 (only Bob's phone does).
    await hotDeskCode(desk, '997');
    expect(h.server.hotDesk.deviceOf('2002')).toBeUndefined();
    await bob.unregister();
    const err = await failure(alice.call('2002'));
    expect(err.status).toBe(480);
  }, 60_000);

  it('a login on a second device moves the extension; the login survives a restart', async () => {
    const first = await start();
    const desk1 = await first.phone('8001');
    const desk2 = await first.phone('8002');
    const alice = await first.phone('2001');
    await hotDeskCode(desk1, '9982002', PIN);
    expect(await rings(alice, '2002', [desk1, desk2])).toBe('8001');
    await hotDeskCode(desk2, '9982002', PIN);
    expect(first.h.server.hotDesk.deviceOf('2002')).toBe('8002');
    expect(first.h.server.hotDesk.contacts('2002').map((c) => c.binding.contact)).toEqual(first.h.server.registrar.contacts('8002').map((c) => c.binding.contact));
    expect(await rings(alice, '2002', [desk1, desk2])).toBe('8002');

    const dataDir = first.h.dataDir;
    await session.stop({ keepData: true });
    const second = await start({ dataDir });
    expect(second.h.server.hotDesk.deviceOf('2002')).toBe('8002');
    const desk2Again = await second.phone('8002');
    const alice2 = await second.phone('2001');
    expect(await rings(alice2, '2002', [desk2Again])).toBe('8002');
  }, 60_000);

  it('a login ends at midnight in the tenant time zone (controlled clock)', async () => {
    let now = Date.parse('2026-11-23T23:00:00+09:00');
    const { h, phone } = await start({ now: () => now, config: { tenant: { domain: 'hibiki.test', timezone: 'Asia/Tokyo' } } });
    const desk = await phone('8001');
    const alice = await phone('2001');
    await hotDeskCode(desk, '9982002', PIN);
    const login = h.logs.find((l) => l.msg === 'hot-desk login');
    expect(login?.expires).toBe('2026-11-23T15:00:00.000Z');
    expect(await rings(alice, '2002', [desk])).toBe('8001');
    now = Date.parse('2026-11-24T00:00:01+09:00');
    // Registrations from an hour ago have expired by the moved clock: the phones register again.
    for (const p of [desk, alice]) await p.register();
    expect(h.server.hotDesk.deviceOf('2002')).toBeUndefined();
    expect(h.logs.some((l) => l.msg === 'hot-desk login expired' && l.extension === '2002')).toBe(true);
    expect((await failure(alice.call('2002'))).status).toBe(480);
  }, 60_000);

  it('three wrong PINs: refused, no login, and each counted towards blocking the address', async () => {
    const { h, phone } = await start({ config: { auth: { ipFailures: 3 } } });
    const desk = await phoneFrom(h, '8001', '127.0.0.5');
    const alice = await phone('2001');
    const call = await desk.call('9982002');
    for (let i = 1; i <= 3; i++) {
      await promptPlaying(call);
      await call.sendDtmf('1357#', { method: 'rfc4733' });
      await waitUntil(() => h.logs.filter((l) => l.msg === 'hot-desk PIN refused').length === i, 10_000);
    }
    expect((await call.waitForEnd(20_000)).by).toBe('remote');
    expect(h.logs.some((l) => l.msg === 'hot-desk PIN attempts exhausted' && l.address === '127.0.0.5')).toBe(true);
    expect(h.server.hotDesk.deviceOf('2002')).toBeUndefined();
    // F-AUTH: the third failure from the address blocks it; other addresses are untouched.
    expect(h.server.guard.isIpBlocked('127.0.0.5')).toBe(true);
    expect(h.server.guard.isIpBlocked('127.0.0.1')).toBe(false);
    expect((await desk.register().catch((e: unknown) => e as { status: number })).status).toBe(403);
    expect((await failure(alice.call('2002'))).status).toBe(480);
  }, 60_000);

  it('refuses a device that is no hot-desk device, and an extension without a PIN', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const desk = await phone('8001');
    await hotDeskCode(alice, '9982002');
    await hotDeskCode(desk, '9982003');
    expect(h.server.hotDesk.deviceOf('2002')).toBeUndefined();
    expect(h.server.hotDesk.deviceOf('2003')).toBeUndefined();
  }, 30_000);

  // A CLI run is a whole process start (a second or more on a busy machine): a generous limit.
  it('hibiki hotdesk list shows the login; hibiki hotdesk logout ends it for the running server', async () => {
    const { h, phone } = await start();
    const desk = await phone('8001');
    await hotDeskCode(desk, '9982002', PIN);
    const list = spawnSync(process.execPath, [CLI, 'hotdesk', 'list', '--config', h.configPath], { encoding: 'utf8' });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout.trim().split('\t').slice(0, 2)).toEqual(['2002', '8001']);
    const logout = spawnSync(process.execPath, [CLI, 'hotdesk', 'logout', '2002', '--config', h.configPath], { encoding: 'utf8' });
    expect(logout.status, logout.stderr).toBe(0);
    expect(logout.stdout).toContain('logged out: 2002 from 8001');
    expect(h.server.hotDesk.deviceOf('2002')).toBeUndefined();
    const again = spawnSync(process.execPath, [CLI, 'hotdesk', 'logout', '2002', '--config', h.configPath], { encoding: 'utf8' });
    expect(again.status).toBe(1);
  }, 120_000);

  it('hotDesk.anyDevice: an ordinary phone may take an extension', async () => {
    const { h, phone } = await start({ config: { hotDesk: { anyDevice: true } } });
    const alice = await phone('2001');
    const carol = await phone('2003');
    await hotDeskCode(alice, '9982002', PIN);
    expect(h.server.hotDesk.deviceOf('2002')).toBe('2001');
    expect(await rings(carol, '2002', [alice])).toBe('2001');
  }, 30_000);
});
