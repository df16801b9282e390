// F-IVR against the real server: sipp presses keys as RFC 4733 telephone-events (the pcaps sipp ships)
// through two menus to a prompt that ends the call, and the test UA presses a key that reaches an
// extension whose phone answers, with RTP flowing both ways after the hand-on.
import { describe, expect, it } from 'vitest';
import { dirname } from 'node:path';
import { startHibiki, writeConfig, type RunningHibiki } from '../support/hibiki.js';
import { hibikiSession } from '../support/session.js';
import { callAuthUri, runSipp, sippAuth } from '../support/sipp.js';
import { talking, waitUntil } from '../support/call-helpers.js';
import type { CdrRecord } from '../../src/store/cdr-row.js';

const IVRS = [
  { number: '500', name: 'Main', greeting: 'ivr-welcome', keys: { 1: '2002', 2: '510' } },
  { number: '510', name: 'Support', greeting: { en: 'ivr-welcome' }, language: 'en', keys: { 1: 'prompt:ivr-goodbye', 9: 'parent' } },
];

const session = hibikiSession({ defaults: { config: { ivrs: IVRS, auth: { algorithms: ['MD5'] } } } });

async function cdrRows(h: RunningHibiki, count: number): Promise<CdrRecord[]> {
  await waitUntil(() => h.server.cdr.query({}).length >= count, 10_000);
  return h.server.cdr.query({});
}

describe('IVR end to end', () => {
  it('sipp presses 2 during the greeting and 1 in the next menu as RFC 4733 events: the prompt plays and hibiki hangs up', async () => {
    const { h } = await session.start();
    const target = { host: '127.0.0.1', port: h.port('udp') };
    const res = await runSipp({
      scenario: 'uac-ivr-dtmf.xml',
      target,
      inject: [['2001', sippAuth('2001', 'secret-2001'), '500']],
      authUri: callAuthUri('500', target),
      timeoutSec: 30,
    });
    expect(res.errors).toBe('');
    expect(res.code, res.stdout.slice(-2000)).toBe(0);
    const [row] = await cdrRows(h, 1);
    expect(row).toMatchObject({ dialedNumber: '500', answeredBy: 'hibiki', disposition: 'answered', hangupBy: 'system', feature: 'ivr:500>2>ivr:510>1>prompt:ivr-goodbye' });
    // The digits came as RFC 4733 events on the media stream.
    expect(h.logs.filter((l) => l.msg === 'dtmf' && l.source === 'rfc4733').map((l) => l.digit)).toEqual(['2', '1']);
  });

  it('the test UA presses 1 and reaches 2002, whose phone answers; RTP flows both ways after the hand-on', async () => {
    const { h, phone } = await session.start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const ringing = bob.waitForCall();
    const aliceCall = await alice.call('500');
    // The greeting reaches the caller before any key.
    await aliceCall.rtp.waitForPackets(10, 5000);
    await aliceCall.sendDtmf('1', { method: 'rfc4733' });
    const bobCall = await (await ringing).answer();
    await talking(aliceCall, bobCall, 501, 502);
    await aliceCall.hangup();
    await bobCall.waitForEnd();
    const [row] = await cdrRows(h, 1);
    expect(row).toMatchObject({ dialedNumber: '500', calleeNumber: '2002', answeredBy: '2002', disposition: 'answered', hangupBy: 'caller', feature: 'ivr:500>1>2002' });
  });

  it('a reload with an IVR loop is refused with file:line and the running IVRs stay; a valid one adds an IVR', async () => {
    const { h, phone } = await session.start();
    const loop = [
      { ...IVRS[0], defaultDestination: '510' },
      { ...IVRS[1], schedule: [{ destination: '500' }] },
    ];
    writeConfig(dirname(h.configPath), { config: { ivrs: loop, auth: { algorithms: ['MD5'] } } }, h.dataDir);
    expect(h.server.reload()).toBe(false);
    const error = h.logs.find((l) => l.level === 50 && l.file === h.configPath && String(l.msg).includes('IVR loop'));
    expect(error).toMatchObject({ line: expect.any(Number) });
    expect(String(error?.msg)).toContain('500 → 510 (defaultDestination) → 500 (schedule[0])');
    expect(h.server.currentConfig.ivrs.map((v) => v.defaultDestination)).toEqual([undefined, undefined]);

    writeConfig(dirname(h.configPath), { config: { ivrs: [...IVRS, { number: '520', name: 'New', greeting: 'ivr-closed' }], auth: { algorithms: ['MD5'] } } }, h.dataDir);
    expect(h.server.reload()).toBe(true);
    const alice = await phone('2001');
    const call = await alice.call('520');
    // The new IVR answers and plays its greeting.
    await call.rtp.waitForPackets(10, 5000);
    await call.hangup();
    const [row] = await cdrRows(h, 1);
    expect(row).toMatchObject({ dialedNumber: '520', feature: 'ivr:520', hangupBy: 'caller' });
  });

  it('refuses to start when a greeting names a prompt the prompt set lacks', async () => {
    await expect(startHibiki({ config: { ivrs: [{ number: '500', name: 'Main', greeting: 'ivr-welcom' }] } })).rejects.toThrow(/IVR 500: greeting prompt "ivr-welcom" not found/);
  });
});
