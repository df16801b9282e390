// F-SERVICE-CODES and the run-time forwarding state end to end: 1421 + number from a phone turns
// unconditional forwarding on (a confirmation prompt, then hibiki hangs up), a call then follows it, the
// setting survives a restart, 1422 clears it; an invalid destination changes nothing; 1429/1430 DND.
// Schedule forwarding with a controlled clock, and bulk forwarding switched on and off.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { nextRung, talking, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import type { Call, TestUA } from '../support/test-ua.js';
import type { StartOptions } from '../support/hibiki.js';
import { shortPromptsDir } from '../support/short-prompts.js';

const NUMBERS = ['2001', '2002', '2003', '2004'];

const session = hibikiSession({ defaults: { extensions: NUMBERS.map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}` })) } });
// A code's call is only waited out to its end here, checking that a prompt arrived (more than 20 packets of
// it), not what it says: 600 ms (30 packets) of each confirmation instead of 1.4-2.8 s.
const PROMPTS_DIR = shortPromptsDir(['setting-done', 'setting-cancelled', 'forward-invalid'], 600);
afterAll(() => rmSync(PROMPTS_DIR, { recursive: true, force: true }));
const start = (opts: StartOptions = {}) => session.start({ ...opts, config: { prompts: { dir: PROMPTS_DIR }, ...opts.config } });

/** Dial a service code: hibiki answers, plays its prompt (RTP arrives) and hangs up. */
async function serviceCode(phone: TestUA, code: string): Promise<Call> {
  const call = await phone.call(code);
  const end = await call.waitForEnd(15_000);
  expect(end.by).toBe('remote');
  expect(call.rtp.received().tone.foreign).toBeGreaterThan(20);
  return call;
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

describe('service codes', () => {
  it('1421 + number turns CFU on; a call follows it; it survives a restart; 1422 clears it', async () => {
    const first = await start();
    const bob = await first.phone('2002');
    await serviceCode(bob, '14212003');
    expect(first.h.server.forwarding.effective('2002').cfu).toBe('2003');
    const alice = await first.phone('2001');
    const carol = await first.phone('2003');
    const outgoing = await alice.dial('2002');
    const atCarol = await carol.waitForCall();
    const carolCall = await atCarol.answer();
    const aliceCall = await outgoing.answered;
    await talking(aliceCall, carolCall, 200, 201);
    await aliceCall.hangup();
    await waitUntil(() => first.h.server.cdr.query({}).some((r) => r.feature === 'service_code'), 3000);

    // Restart on the same data: the forwarding is still on.
    const dataDir = first.h.dataDir;
    await session.stop({ keepData: true });
    const second = await start({ dataDir });
    expect(second.h.server.forwarding.effective('2002').cfu).toBe('2003');
    const alice2 = await second.phone('2001');
    const bob2 = await second.phone('2002');
    const carol2 = await second.phone('2003');
    expect(await rings(alice2, '2002', [bob2, carol2])).toBe('2003');
    await serviceCode(bob2, '1422');
    expect(second.h.server.forwarding.effective('2002').cfu).toBeUndefined();
    expect(await rings(alice2, '2002', [bob2, carol2])).toBe('2002');
  }, 60_000);

  it('an invalid destination plays the error prompt and changes nothing', async () => {
    const { h, phone } = await start();
    const bob = await phone('2002');
    await serviceCode(bob, '1421110');
    await serviceCode(bob, '14212002');
    expect(h.server.forwarding.effective('2002').cfu).toBeUndefined();
  }, 30_000);

  it('1429 turns do-not-disturb on (callers get busy), 1430 off', async () => {
    const { phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    await serviceCode(bob, '1429');
    const err = await alice.call('2002').then(
      () => undefined,
      (e: unknown) => e as { status: number },
    );
    expect(err?.status).toBe(486);
    await serviceCode(bob, '1430');
    expect(await rings(alice, '2002', [bob])).toBe('2002');
  }, 30_000);

  it('schedule forwarding: a matching row forwards, outside it the extension rings (controlled clock)', async () => {
    // Monday 2026-11-23 10:00 and 20:00 in Asia/Tokyo.
    let now = Date.parse('2026-11-23T10:00:00+09:00');
    const { phone } = await start({
      now: () => now,
      extensions: NUMBERS.map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}`, ...(n === '2002' ? { forwardingSchedule: 'office' } : {}) })),
      config: {
        schedules: [
          {
            name: 'office',
            rows: [
              { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '18:00', action: 'none' },
              { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], action: 'cfu', destination: '2003' },
            ],
          },
        ],
      },
    });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    expect(await rings(alice, '2002', [bob, carol])).toBe('2002');
    now = Date.parse('2026-11-23T20:00:00+09:00');
    // Ten hours on, registrations from 10:00 have long expired: the phones have re-registered meanwhile.
    for (const p of [alice, bob, carol]) await p.register();
    expect(await rings(alice, '2002', [bob, carol])).toBe('2003');
  }, 30_000);

  it('bulk forwarding: switched on, members forward to their bulk destination; switched off, normal again', async () => {
    const { h, phone } = await start({
      config: { bulkForwarding: [{ name: 'disaster', members: [{ extension: '2002', destination: '2004' }, { extension: '2003' }] }] },
    });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const dave = await phone('2004');
    const results = h.server.forwarding.bulkOn('disaster');
    expect(results).toEqual([expect.objectContaining({ member: '2002', result: 'ok' }), expect.objectContaining({ member: '2003', result: 'unchanged' })]);
    expect(await rings(alice, '2002', [bob, carol, dave])).toBe('2004');
    expect(await rings(alice, '2003', [bob, carol, dave])).toBe('2003');
    h.server.forwarding.bulkOff('disaster');
    expect(await rings(alice, '2002', [bob, carol, dave])).toBe('2002');
  }, 30_000);
});
