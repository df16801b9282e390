// Issue #5 routing features against real peers (sipp 3.6 and baresip 1.0), loopback only:
// - a sipp phone dials the service codes 1421+number / 1422: hibiki answers, plays the confirmation
//   and hangs up itself; the run-time forwarding state follows;
// - a call forwarded by YAML CFU ends at a sipp phone, RTP crosses hibiki both ways (sipp echoes it);
// - baresip picks up (**2002) a call ringing at a test UA: the caller is connected to baresip, the
//   ringing phone gets CANCEL, audio goes caller → hibiki → baresip → hibiki → caller;
// - a sequential hunt group whose first member (sipp) is busy (486) and whose second (sipp) answers.
import { describe, expect, it } from 'vitest';
import type { RunningHibiki, StartOptions } from '../support/hibiki.js';
import { callAuthUri, runSipp, sippAuth, type SippProcess, type SippResult } from '../support/sipp.js';
import { startDialingBaresip, type BaresipOptions, type DialingBaresip } from '../support/baresip.js';
import { freePort } from '../support/ports.js';
import { ringingCall, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { echoedThroughPeer, expectPassed, sippInBackground, udp, within } from '../support/interop.js';
import type { CdrRecord } from '../../src/store/cdr-row.js';

// sipp 3.6 and baresip 1.0 answer an MD5 challenge only (see register-sipp / register-baresip tests).
const auth = { algorithms: ['MD5'] };

const background: SippProcess[] = [];
const baresips: DialingBaresip[] = [];

// sipp and baresip leave first, while hibiki still answers them.
const session = hibikiSession({
  async beforeStop() {
    for (const p of background.splice(0)) {
      p.stop();
      await p.result;
    }
    await Promise.all(baresips.splice(0).map((b) => b.stop()));
  },
});

function start(opts: StartOptions = {}) {
  return session.start({ ...opts, config: { auth, ...opts.config } });
}

/** baresip as a phone that dials on command (test/support/baresip.ts), stopped after the test. */
async function dialingBaresip(opts: BaresipOptions): Promise<DialingBaresip> {
  const b = await startDialingBaresip(opts);
  baresips.push(b);
  return b;
}

/** sipp dials `code` as 2002 (uac-service-code.xml: answered, prompt, BYE from hibiki) and passes. */
async function sippServiceCode(h: RunningHibiki, code: string): Promise<SippResult> {
  const res = await runSipp({
    scenario: 'uac-service-code.xml',
    target: udp(h),
    inject: [['2002', sippAuth('2002', 'secret-2002'), code]],
    authUri: callAuthUri(code, udp(h)),
    rtpEcho: true,
    timeoutSec: 20,
  });
  expectPassed(res, `sipp dialling ${code}`);
  return res;
}

/** A sipp phone registered as `ext` on a fixed port, so a later sipp UAS on that port receives its calls. */
async function registerSippPhone(h: RunningHibiki, ext: string): Promise<number> {
  const localPort = await freePort();
  const reg = await runSipp({ scenario: 'register-auth.xml', target: udp(h), localPort, inject: [[ext, sippAuth(ext, `secret-${ext}`), '600']] });
  expectPassed(reg, `register ${ext}`);
  expect(h.server.registrar.contacts(ext)).toHaveLength(1);
  return localPort;
}

async function cdrRows(h: RunningHibiki, count: number, timeoutMs = 3000): Promise<CdrRecord[]> {
  await waitUntil(() => h.server.cdr.query({}).length >= count, timeoutMs).catch(() => undefined);
  return h.server.cdr.query({});
}

/**
 * uas-call.xml answers PCMA only, so callers towards a sipp phone offer PCMA as well: one codec end to
 * end keeps the echoed test-tone frames byte-exact (G.711 µ-law → A-law → µ-law is lossy).
 */
const PCMA_ONLY = { codecs: ['PCMA' as const] };

/** The messages of a sipp trace (-trace_msg), in order: when, which way, and their first line. */
function traceTimeline(messages: string): Array<{ at: number; dir: 'sent' | 'received'; line: string }> {
  // Each entry: "----------------------------------------------- 2026-11-22 05:42:15.746123", then
  // "UDP message sent (563 bytes):" or "UDP message received [241] bytes :", a blank line, the message.
  // The clock is sipp's local time: only differences between entries are meaningful.
  const out: Array<{ at: number; dir: 'sent' | 'received'; line: string }> = [];
  const re = /-{10,} (\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2})\.(\d+)\s*\r?\n\w+ message (sent|received)[^\r\n]*:\s*\r?\n\s*\r?\n([^\r\n]+)/g;
  for (const m of messages.matchAll(re)) {
    out.push({ at: Date.parse(`${m[1]}T${m[2]}Z`) + Number(`0.${m[3]}`) * 1000, dir: m[4] as 'sent' | 'received', line: m[5]! });
  }
  return out;
}

describe('routing features with real peers', () => {
  it('service codes from sipp: 14212003 dialled by 2002 sets CFU (200, prompt, BYE from hibiki); 1422 clears it', async () => {
    const { h } = await start();
    expect(h.server.forwarding.effective('2002').cfu).toBeUndefined();

    const set = await sippServiceCode(h, '14212003');
    // hibiki challenged the first INVITE, answered the authenticated one, and sent BYE with cause 16.
    expect(set.messages).toMatch(/SIP\/2\.0 401 [\s\S]*WWW-Authenticate: Digest[^\r\n]*algorithm=MD5/);
    expect(set.messages).toMatch(/BYE sip:2002@127\.0\.0\.1:\d+[^\r\n]* SIP\/2\.0\r?\n(?:[^\r\n]+\r?\n)*?Reason: Q\.850;\s*cause=16/i);
    // The BYE came after the confirmation prompt, not at once after the answer.
    const timeline = traceTimeline(set.messages);
    const answered = timeline.find((e) => e.dir === 'received' && /^SIP\/2\.0 200 /.test(e.line));
    const bye = timeline.find((e) => e.dir === 'received' && e.line.startsWith('BYE '));
    expect(answered && bye, JSON.stringify(timeline)).toBeTruthy();
    expect(bye!.at - answered!.at).toBeGreaterThanOrEqual(300);
    expect(h.server.forwarding.effective('2002').cfu).toBe('2003');

    const [setRow] = await cdrRows(h, 1);
    expect(setRow).toMatchObject({ feature: 'service_code', callerNumber: '2002', dialedNumber: '14212003', disposition: 'answered', hangupBy: 'system', q850Cause: 16 });
    expect(setRow?.hangupReason).toContain('cfu on to 2003');

    await sippServiceCode(h, '1422');
    expect(h.server.forwarding.effective('2002').cfu).toBeUndefined();
    const rows = await cdrRows(h, 2);
    expect(rows.find((r) => r.dialedNumber === '1422')).toMatchObject({ feature: 'service_code', callerNumber: '2002', disposition: 'answered', hangupBy: 'system' });
  }, 40_000);

  it('YAML CFU 2002 → 2003: the forwarded call ends at a sipp phone registered as 2003, RTP both ways, CDR forward_cfu', async () => {
    const { h, phone } = await start({
      extensions: [
        { number: '2001', name: 'Alice', password: 'secret-2001' },
        { number: '2002', name: 'Bob', password: 'secret-2002', forwarding: { unconditional: '2003' } },
        { number: '2003', name: 'Carol', password: 'secret-2003' },
      ],
    });
    const carolPort = await registerSippPhone(h, '2003');
    const carol = await sippInBackground({ scenario: 'uas-call.xml', target: udp(h), localPort: carolPort, rtpEcho: true }, background);
    const alice = await phone('2001');

    const outgoing = await alice.dial('2002', PCMA_ONLY);
    const aliceCall = await within(outgoing.answered, 8000, 'the forwarded call answered by sipp 2003');
    // sipp's 180 was relayed before its 200.
    expect(outgoing.provisional).toContain(180);
    // Alice's tone reaches sipp through hibiki and comes back (sipp echoes RTP).
    await echoedThroughPeer(aliceCall, 81, 5000);
    await aliceCall.hangup();

    const res = await within(carol.result, 10_000, 'sipp 2003 finished');
    expectPassed(res, 'sipp 2003');
    // sipp got hibiki's INVITE at its registered contact, and hibiki's BYE when Alice hung up.
    expect(res.messages).toMatch(new RegExp(`INVITE sip:2003@127\\.0\\.0\\.1:${carolPort}[^\\r\\n]* SIP/2\\.0`));
    expect(res.messages).toMatch(/BYE sip:[^\r\n]+ SIP\/2\.0/);

    const rows = await cdrRows(h, 2);
    const hop = rows.find((r) => r.calleeNumber === '2002');
    const last = rows.find((r) => r.calleeNumber === '2003');
    expect(last).toMatchObject({ feature: 'forward_cfu', forwardedFrom: '2002', callerNumber: '2001', dialedNumber: '2002', disposition: 'answered', hangupBy: 'caller' });
    expect(last?.answeredBy).toBe('2003');
    expect(hop?.linkedId).toBe(last?.linkedId);
  }, 30_000);

  it('baresip (2003, UDP) dials **2002 and picks up a call ringing at 2002: caller connected, 2002 gets CANCEL, audio through baresip, CDR pickup', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await dialingBaresip({ user: '2003', password: 'secret-2003', transport: 'udp', server: udp(h) });
    await waitUntil(() => h.server.registrar.contacts('2003').length > 0, 5000).catch(() => {
      throw new Error(`baresip did not register:\n${carol.output.slice(-3000)}`);
    });

    const { outgoing, incoming: atBob } = await ringingCall(alice, bob, '2002');

    const dialled = await carol.command('dial', '**2002');
    expect(dialled.ok, carol.output.slice(-3000)).toBe(true);
    const aliceCall = await within(outgoing.answered, 8000, "Alice's call answered by the pickup");
    await atBob.waitForCancel();
    const established = await carol.waitForEvent('CALL_ESTABLISHED');
    expect(established.peeruri).toContain('**2002@hibiki.test');
    // baresip sent the pickup INVITE with credentials after hibiki's challenge, and got 200 with SDP.
    expect(carol.output).toMatch(/INVITE sip:\*\*2002@hibiki\.test[^\r\n]* SIP\/2\.0\r?\n(?:[^\r\n]+\r?\n)*?Authorization: Digest username="2003"/);

    // baresip plays what it receives back into its source (aubridge): Alice hears her own tone.
    await echoedThroughPeer(aliceCall, 91, 5000);
    await aliceCall.hangup();
    await carol.waitForEvent('CALL_CLOSED');

    const rows = await cdrRows(h, 1);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ feature: 'pickup', callerNumber: '2001', dialedNumber: '2002', calleeNumber: '2002', answeredBy: '2003', disposition: 'answered', hangupBy: 'caller' });
  }, 30_000);

  it('sequential hunt group 600 [2002, 2003]: sipp 2002 answers 486, sipp 2003 then rings and answers; RTP both ways', async () => {
    const { h, phone } = await start({ config: { groups: [{ number: '600', name: 'Sales', strategy: 'sequential', members: ['2002', '2003'], memberRingTime: 5 }] } });
    const bobPort = await registerSippPhone(h, '2002');
    const carolPort = await registerSippPhone(h, '2003');
    const bob = await sippInBackground({ scenario: 'uas-busy.xml', target: udp(h), localPort: bobPort }, background);
    const carol = await sippInBackground({ scenario: 'uas-call.xml', target: udp(h), localPort: carolPort, rtpEcho: true }, background);
    const alice = await phone('2001');

    const outgoing = await alice.dial('600', PCMA_ONLY);
    const aliceCall = await within(outgoing.answered, 10_000, 'the group call answered by sipp 2003');
    const bobRes = await within(bob.result, 5000, 'sipp 2002 (busy) finished');
    expectPassed(bobRes, 'sipp 2002 (busy)');
    await echoedThroughPeer(aliceCall, 95, 5000);
    await aliceCall.hangup();
    const carolRes = await within(carol.result, 10_000, 'sipp 2003 finished');
    expectPassed(carolRes, 'sipp 2003');

    // Sequential: 2003 was not rung until 2002 had answered 486 (a ringall group would ring both at once).
    const bob486 = traceTimeline(bobRes.messages).find((e) => e.dir === 'sent' && e.line.startsWith('SIP/2.0 486 '));
    const carolInvite = traceTimeline(carolRes.messages).find((e) => e.dir === 'received' && e.line.startsWith('INVITE '));
    expect(bob486 && carolInvite, `${bobRes.messages}\n${carolRes.messages}`).toBeTruthy();
    expect(bob486!.at).toBeLessThan(carolInvite!.at);
    // hibiki acknowledged the 486 (sipp 2002 waited for that ACK to pass).
    expect(bobRes.messages).toMatch(/ACK sip:[^\r\n]+ SIP\/2\.0/);

    await waitUntil(() => h.server.cdr.query({}).some((r) => r.disposition === 'answered'), 3000);
    const answered = h.server.cdr.query({}).find((r) => r.disposition === 'answered');
    expect(answered).toMatchObject({ callerNumber: '2001', dialedNumber: '600', calleeNumber: '2003', hangupBy: 'caller' });
    // For a rung device hibiki records the contact that answered: sipp 2003's registered one.
    expect(answered?.answeredBy).toBe('2003');
    expect(h.server.calls.active()).toHaveLength(0);
  }, 30_000);
});
