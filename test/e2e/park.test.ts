// F-PARK end to end with real RTP: #72 parks the other party and announces the slot to the parker,
// a third phone retrieves it by dialling the slot, an empty slot gets a prompt and 404, a full lot
// leaves the call as it was, a blind transfer to the lot number parks, and the park timeout rings
// the parker back.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { waitUntil, talking, connect, failure } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { shortPromptsDir } from '../support/short-prompts.js';

const EXTENSIONS = ['2001', '2002', '2003', '2004', '2005'].map((n) => ({ number: n, password: `secret-${n}` }));

const { start } = hibikiSession({ defaults: { extensions: EXTENSIONS } });

// Where a test only waits for a park prompt to end (the parker's announcement is some 6 s: "parked at" and four
// digits; the empty slot's and the full lot's some 3 s), 300 ms of each. The first test, which checks that the
// announcement arrives, has the shipped set.
const SHORT_PROMPTS = shortPromptsDir(['parked-at', 'park-full', 'park-empty', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
afterAll(() => rmSync(SHORT_PROMPTS, { recursive: true, force: true }));
const prompts = { dir: SHORT_PROMPTS };

describe('call park', () => {
  it('parks with #72, announces the slot to the parker, and a third phone retrieves the call by dialling the slot', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const { caller: aliceCall, callee: bobCall } = await connect(alice, bob, '2002');

    await bobCall.sendDtmf('#72', { method: 'rfc4733' });
    // Bob hears "parked at 9-0-0-1" as RTP prompt packets, then hibiki hangs up his leg.
    const end = await bobCall.waitForEnd(15_000);
    expect(end.by).toBe('remote');
    expect(bobCall.rtp.received().tone.foreign).toBeGreaterThan(100);
    expect(h.server.park.list()).toEqual([{ slot: '9001', party: '2001', parkedBy: '2002', since: expect.any(Number) }]);
    // Alice hears music on hold meanwhile.
    const mohBefore = aliceCall.rtp.received().tone.foreign;
    await waitUntil(() => aliceCall.rtp.received().tone.foreign > mohBefore + 20, 5000);

    const carolCall = await carol.call('9001');
    await talking(aliceCall, carolCall, 11, 13);
    expect(h.server.park.list()).toEqual([]);
    await carolCall.hangup();
    await aliceCall.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ feature: 'park', callerNumber: '2001', answeredBy: '2003', disposition: 'answered' });
  }, 30_000);

  it('answers an empty slot with a prompt and 404, CDR park_empty', async () => {
    const { h, phone } = await start({ config: { prompts } });
    const carol = await phone('2003');
    const err = await failure(carol.call('9005'));
    expect(err.status).toBe(404);
    expect(err.provisional).toContain(183);
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ feature: 'park_empty', q850Cause: 1, dialedNumber: '9005' });
  }, 20_000);

  it('keeps the call as it was when the lot is full', async () => {
    const { h, phone } = await start({ config: { park: { slots: [9001, 9001] }, prompts } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const dave = await phone('2004');
    const first = await connect(alice, bob, '2002');
    await first.callee.sendDtmf('#72', { method: 'rfc4733' });
    await first.callee.waitForEnd(15_000);
    expect(h.server.park.list()).toHaveLength(1);

    const second = await connect(carol, dave, '2004');
    const errorBefore = second.callee.rtp.received().tone.foreign;
    await second.callee.sendDtmf('#72', { method: 'rfc4733' });
    // Dave hears the error, then is back with Carol: he hears her only once the prompt has ended.
    await waitUntil(() => h.logs.some((l) => l.msg === 'park lot full'), 5000);
    await waitUntil(() => second.callee.rtp.received().tone.foreign > errorBefore, 5000);
    await talking(second.caller, second.callee, 21, 22);
    expect(second.callee.ended).toBeUndefined();
    expect(h.server.park.list()).toHaveLength(1);
  }, 40_000);

  it('parks on a blind transfer to the lot number', async () => {
    const { h, phone } = await start({ config: { prompts } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const { callee: bobCall } = await connect(alice, bob, '2002');
    await bobCall.sendDtmf('#89000#', { method: 'rfc4733' });
    await bobCall.waitForEnd(15_000);
    expect(h.server.park.list().map((p) => p.slot)).toEqual(['9001']);
  }, 30_000);

  it('rings the parker back after the park timeout', async () => {
    const { phone } = await start({ config: { park: { timeout: 10, comebackTimeout: 10 } } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const { caller: aliceCall, callee: bobCall } = await connect(alice, bob, '2002');
    await bobCall.sendDtmf('#72', { method: 'rfc4733' });
    await bobCall.waitForEnd(15_000);
    const comeback = await bob.waitForCall({ timeoutMs: 15_000 });
    const again = await comeback.answer();
    await talking(aliceCall, again, 31, 32);
  }, 40_000);

  it('sends the call to park.timeoutDestination when the parker does not answer the comeback', async () => {
    const { phone } = await start({ config: { park: { timeout: 10, comebackTimeout: 5, timeoutDestination: '2003' } } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const { caller: aliceCall, callee: bobCall } = await connect(alice, bob, '2002');
    await bobCall.sendDtmf('#72', { method: 'rfc4733' });
    await bobCall.waitForEnd(15_000);
    const comeback = await bob.waitForCall({ timeoutMs: 15_000 });
    comeback.ring();
    const operator = await carol.waitForCall({ timeoutMs: 15_000 });
    expect(comeback.isCancelled).toBe(true);
    const carolCall = await operator.answer();
    await talking(aliceCall, carolCall, 41, 42);
  }, 45_000);
});
