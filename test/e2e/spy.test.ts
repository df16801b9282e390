// F-SPY end to end with test UAs and real RTP: a caller and an agent talk; a supervisor monitoring (995)
// hears both and neither hears them; whisper (994 or key 4) lets the agent alone hear the supervisor; barge
// (996 or key 6) lets both; when the supervisor hangs up the two talk as before. No rule: refused.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { failure, talking } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { hears } from '../support/tones.js';
import { shortPromptsDir } from '../support/short-prompts.js';

const session = hibikiSession();
// The refusal's announcement is waited out before the 403 and not looked at: 300 ms of it.
const PROMPTS_DIR = shortPromptsDir(['call-barred']);
afterAll(() => rmSync(PROMPTS_DIR, { recursive: true, force: true }));

function start() {
  return session.start({
    extensions: ['2001', '2002', '2003', '2004'].map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}`, language: 'en' })),
    config: { spy: { rules: [{ supervisor: '2003', targets: ['2002'] }] }, prompts: { dir: PROMPTS_DIR } },
  });
}

describe('monitor, whisper, barge', () => {
  it('monitor → whisper → barge by keys; the parties talk as before when the supervisor leaves', async () => {
    const { phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const outgoing = await alice.dial('2002');
    const bobCall = await (await bob.waitForCall()).answer();
    const aliceCall = await outgoing.answered;
    await talking(aliceCall, bobCall, 1, 2);
    const sup = await carol.call('9952002');
    aliceCall.rtp.useSine(400);
    bobCall.rtp.useSine(700);
    sup.rtp.useSine(1100);
    for (const c of [aliceCall, bobCall, sup]) c.rtp.startTone();
    // Monitor: the supervisor hears both; the parties hear each other only.
    await hears(sup, [400, 700], [1100]);
    await hears(aliceCall, [700], [1100, 400]);
    await hears(bobCall, [400], [1100, 700]);
    // Whisper: the agent (bob) hears the supervisor; the caller does not.
    await sup.sendDtmf('4', { method: 'rfc4733' });
    await hears(bobCall, [400, 1100], [700]);
    await hears(aliceCall, [700], [1100]);
    // Barge: both hear the supervisor.
    await sup.sendDtmf('6', { method: 'rfc4733' });
    await hears(aliceCall, [700, 1100], [400]);
    await hears(bobCall, [400, 1100], [700]);
    // The supervisor leaves: the parties talk as before.
    for (const c of [aliceCall, bobCall, sup]) c.rtp.stopTone();
    await sup.hangup();
    aliceCall.rtp.useSine(undefined);
    bobCall.rtp.useSine(undefined);
    await talking(aliceCall, bobCall, 3, 4);
    await aliceCall.hangup();
  }, 60_000);

  it('whisper by code (994) straight away; without a rule monitoring is refused (403)', async () => {
    const { phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const dave = await phone('2004');
    const outgoing = await alice.dial('2002');
    const bobCall = await (await bob.waitForCall()).answer();
    const aliceCall = await outgoing.answered;
    const err = await failure(dave.call('9952002'));
    expect(err.status).toBe(403);
    const sup = await carol.call('9942002');
    aliceCall.rtp.useSine(400);
    bobCall.rtp.useSine(700);
    sup.rtp.useSine(1100);
    for (const c of [aliceCall, bobCall, sup]) c.rtp.startTone();
    await hears(bobCall, [400, 1100], [700]);
    await hears(aliceCall, [700], [1100]);
    // The monitored call ends: so does the supervisor's.
    await aliceCall.hangup();
    expect((await sup.waitForEnd(10_000)).by).toBe('remote');
  }, 60_000);
});
