// F-PICKUP end to end with real RTP: *8 answers the longest-ringing call in my pickup groups, *8 + group
// number a call in another group, ** + extension a given extension's call; the phones that were ringing
// get CANCEL; nothing to pick up is a prompt and 404. The CDR says who picked up whose call.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { failure, ringingCall, talking, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { CallFailedError } from '../support/test-ua.js';
import type { StartOptions } from '../support/hibiki.js';
import { shortPromptsDir } from '../support/short-prompts.js';

const EXTENSIONS = ['2001', '2002', '2003', '2004', '2005'].map((n) => ({ number: n, password: `secret-${n}` }));
const PICKUP_GROUPS = [
  { number: '1', name: 'sales', members: ['2002', '2003', '2004'] },
  { number: '2', name: 'support', members: ['2005'] },
];

const session = hibikiSession({ defaults: { extensions: EXTENSIONS } });
// "Nothing to pick up" (some 2.5 s) is waited out before the 404 and not looked at (the test checks the 183
// it comes with): 300 ms of it.
const PROMPTS_DIR = shortPromptsDir(['pickup-none']);
afterAll(() => rmSync(PROMPTS_DIR, { recursive: true, force: true }));
const start = (opts: StartOptions = {}) => session.start({ ...opts, config: { pickupGroups: PICKUP_GROUPS, prompts: { dir: PROMPTS_DIR }, ...opts.config } });

describe('call pickup', () => {
  it('*8 answers a call ringing at a member of my group; the ringing phone gets CANCEL', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const { outgoing, incoming: atBob } = await ringingCall(alice, bob, '2002');

    const carolCall = await carol.call('*8');
    const aliceCall = await outgoing.answered;
    await atBob.waitForCancel();
    await talking(aliceCall, carolCall, 21, 23);
    await carolCall.hangup();
    await aliceCall.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ feature: 'pickup', callerNumber: '2001', calleeNumber: '2002', answeredBy: '2003', disposition: 'answered' });
  }, 30_000);

  it('*8 takes the longest-ringing of several calls in my groups', async () => {
    const { phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const dave = await phone('2004');
    const carol = await phone('2003');
    const eve = await phone('2005');
    const { outgoing: older } = await ringingCall(alice, bob, '2002');
    await new Promise((r) => setTimeout(r, 200));
    const { outgoing: newer } = await ringingCall(eve, dave, '2004');

    const carolCall = await carol.call('*8');
    const aliceCall = await older.answered;
    await talking(aliceCall, carolCall, 31, 33);
    expect(newer.provisional).toContain(180);
    newer.cancel();
  }, 30_000);

  it('*8 + group number picks up a call in another pickup group', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const eve = await phone('2005');
    const carol = await phone('2003');
    const { outgoing, incoming: atEve } = await ringingCall(alice, eve, '2005');
    // Carol's own groups do not include 2005: plain *8 finds nothing…
    const none = await carol.call('*8').then(
      () => undefined,
      (e: unknown) => e as CallFailedError,
    );
    expect(none?.status).toBe(404);
    // …but naming group 2 does.
    const carolCall = await carol.call('*82');
    const aliceCall = await outgoing.answered;
    await atEve.waitForCancel();
    await talking(aliceCall, carolCall, 41, 43);
    await aliceCall.hangup();
    await carolCall.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).some((r) => r.feature === 'pickup'), 3000);
    expect(h.server.cdr.query({}).find((r) => r.feature === 'pickup')).toMatchObject({ calleeNumber: '2005', answeredBy: '2003' });
  }, 30_000);

  it("** + extension picks up that extension's call from any phone", async () => {
    const { h, phone } = await start({ config: { pickupGroups: [] } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const eve = await phone('2005');
    const { outgoing, incoming: atBob } = await ringingCall(alice, bob, '2002');
    const eveCall = await eve.call('**2002');
    const aliceCall = await outgoing.answered;
    await atBob.waitForCancel();
    await talking(aliceCall, eveCall, 51, 53);
    await eveCall.hangup();
    await aliceCall.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ feature: 'pickup', calleeNumber: '2002', answeredBy: '2005' });
  }, 30_000);

  it('answers a prompt and 404 when nothing is ringing, CDR pickup_none', async () => {
    const { h, phone } = await start();
    const carol = await phone('2003');
    const err = await failure(carol.call('*8'));
    expect(err.status).toBe(404);
    expect(err.provisional).toContain(183);
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ feature: 'pickup_none', q850Cause: 1, dialedNumber: '*8', callerNumber: '2003' });
  }, 20_000);
});
