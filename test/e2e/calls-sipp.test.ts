// Issue #3 sipp scenarios against the real server: a basic call between two sipp phones, calls with
// PRACK (RFC 3262) on either side, and trunk calls both ways with sipp as the carrier on 127.0.0.2
// (phones are on 127.0.0.1, so the trunk's IP authentication cannot catch them).
import { afterEach, describe, expect, it } from 'vitest';
import { startHibiki, type RunningHibiki } from '../support/hibiki.js';
import { callAuthUri, runSipp, sippAuth, startSipp, type SippProcess, type SippResult, type SippRun } from '../support/sipp.js';
import { freePort } from '../support/ports.js';
import { TestUA } from '../support/test-ua.js';
import type { CdrRecord } from '../../src/store/cdr-row.js';
import type { EndpointStats } from '../../src/media/engine.js';

const CARRIER_HOST = '127.0.0.2';
// sipp 3.6 answers a single challenge only (see register-sipp.test.ts).
const auth = { algorithms: ['MD5'] };

let hibiki: RunningHibiki | undefined;
const background: SippProcess[] = [];
const phones: TestUA[] = [];

afterEach(async () => {
  for (const p of background.splice(0)) {
    p.stop();
    await p.result;
  }
  await Promise.all(phones.splice(0).map((p) => p.close()));
  await hibiki?.stop();
  hibiki = undefined;
});

async function sippInBackground(run: SippRun): Promise<SippProcess> {
  const p = await startSipp(run);
  background.push(p);
  await p.listening();
  return p;
}

function udp(h: RunningHibiki): { host: string; port: number } {
  return { host: '127.0.0.1', port: h.port('udp') };
}

/** A sipp phone registered as `ext` on a fixed port, so a later sipp UAS on that port receives its calls. */
async function registerSippPhone(h: RunningHibiki, ext: string): Promise<number> {
  const localPort = await freePort();
  const reg = await runSipp({ scenario: 'register-auth.xml', target: udp(h), localPort, inject: [[ext, sippAuth(ext, `secret-${ext}`), '600']] });
  expect(reg.errors).toBe('');
  expect(reg.code).toBe(0);
  expect(h.server.registrar.contacts(ext)).toHaveLength(1);
  return localPort;
}

function expectPassed(res: SippResult, who: string): void {
  expect(res.errors, `${who} errors`).toBe('');
  expect(res.code, `${who} exit code\n${res.stdout.slice(-2000)}`).toBe(0);
}

async function cdrRows(h: RunningHibiki, count = 1, timeoutMs = 3000): Promise<CdrRecord[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const rows = h.server.cdr.query({});
    if (rows.length >= count || Date.now() > end) return rows;
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Media of the call in progress, read from the engine while it runs: waits until the call is
 * answered and both legs have received at least `packets` RTP packets, then returns their counters.
 */
async function mediaWhileUp(h: RunningHibiki, packets: number, timeoutMs = 5000): Promise<{ caller: EndpointStats; callee: EndpointStats }> {
  const end = Date.now() + timeoutMs;
  let last: { caller: EndpointStats; callee: EndpointStats } | undefined;
  while (Date.now() < end) {
    const call = h.server.calls.active().find((c) => c.isAnswered);
    const a = call?.legs.find((l) => l.role === 'caller');
    const b = call?.legs.find((l) => l.role === 'callee');
    if (call && a?.endpoint && b?.endpoint && !call.isFinished) {
      try {
        last = { caller: await h.server.media.stats(a.endpoint), callee: await h.server.media.stats(b.endpoint) };
        if (last.caller.packetsIn >= packets && last.callee.packetsIn >= packets) return last;
      } catch {
        // The call ended between the check and the query; the deadline decides.
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`RTP did not reach ${packets} packets on both legs: ${JSON.stringify(last)}`);
}

async function phone(h: RunningHibiki, user: string): Promise<TestUA> {
  const p = await TestUA.create({ user, password: `secret-${user}`, server: udp(h), domain: 'hibiki.test' });
  phones.push(p);
  await p.register();
  return p;
}

describe('sipp calls', () => {
  it('basic call: sipp 2001 calls sipp 2002 with digest auth, media relayed both ways, CDR answered / 16', async () => {
    const h = (hibiki = await startHibiki({ config: { auth } }));
    const calleePort = await registerSippPhone(h, '2002');
    const callee = await sippInBackground({ scenario: 'uas-call.xml', target: udp(h), localPort: calleePort, rtpEcho: true });

    const caller = await startSipp({ scenario: 'uac-call.xml', target: udp(h), inject: [['2001', sippAuth('2001', 'secret-2001'), '2002']], authUri: callAuthUri('2002', udp(h)), pauseMs: 1500 });
    background.push(caller);
    // The caller plays G.711 from a pcap; the callee echoes it, so RTP crosses hibiki both ways.
    const media = await mediaWhileUp(h, 20);
    expect(media.caller.latched).toBe(true);
    expect(media.callee.latched).toBe(true);
    expect(media.caller.packetsOut).toBeGreaterThan(0);
    expect(media.callee.packetsOut).toBeGreaterThan(0);

    const [callerRes, calleeRes] = await Promise.all([caller.result, callee.result]);
    expectPassed(callerRes, 'caller');
    expectPassed(calleeRes, 'callee');
    // hibiki challenged the first INVITE and relayed the callee's 180.
    expect(callerRes.messages).toMatch(/SIP\/2\.0 401[\s\S]*WWW-Authenticate: Digest/);
    expect(callerRes.messages).toMatch(/SIP\/2\.0 180 /);

    const [row] = await cdrRows(h);
    expect(row).toMatchObject({ direction: 'internal', disposition: 'answered', callerNumber: '2001', dialedNumber: '2002', calleeNumber: '2002', hangupBy: 'caller', q850Cause: 16 });
    expect(row?.answeredAt).toBeTruthy();
    expect(h.server.calls.active()).toHaveLength(0);
  });

  it('call with PRACK, caller side: a caller requiring 100rel gets a reliable 180 from hibiki and PRACKs it', async () => {
    const h = (hibiki = await startHibiki({ config: { auth } }));
    const calleePort = await registerSippPhone(h, '2002');
    const callee = await sippInBackground({ scenario: 'uas-call.xml', target: udp(h), localPort: calleePort, rtpEcho: true });
    const caller = await runSipp({ scenario: 'uac-prack.xml', target: udp(h), inject: [['2001', sippAuth('2001', 'secret-2001'), '2002']], authUri: callAuthUri('2002', udp(h)), pauseMs: 500 });
    const calleeRes = await callee.result;
    expectPassed(caller, 'caller');
    expectPassed(calleeRes, 'callee');
    // RFC 3262 §3: the 180 hibiki sent the caller was reliable, and hibiki answered the PRACK.
    expect(caller.messages).toMatch(/SIP\/2\.0 180 [^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*?RSeq: \d+/);
    expect(caller.messages).toMatch(/SIP\/2\.0 200 [^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*?CSeq: 3 PRACK/);
    const [row] = await cdrRows(h);
    expect(row).toMatchObject({ direction: 'internal', disposition: 'answered', hangupBy: 'caller', q850Cause: 16 });
  });

  it('call with PRACK, callee side: hibiki PRACKs the reliable 180 of a callee before the 200', async () => {
    const h = (hibiki = await startHibiki({ config: { auth } }));
    const calleePort = await registerSippPhone(h, '2002');
    const callee = await sippInBackground({ scenario: 'uas-prack.xml', target: udp(h), localPort: calleePort, rtpEcho: true });
    const caller = await runSipp({ scenario: 'uac-call.xml', target: udp(h), inject: [['2001', sippAuth('2001', 'secret-2001'), '2002']], authUri: callAuthUri('2002', udp(h)), pauseMs: 500 });
    const calleeRes = await callee.result;
    expectPassed(calleeRes, 'callee');
    expectPassed(caller, 'caller');
    // hibiki offered 100rel to the callee and acknowledged RSeq 1 of its INVITE.
    expect(calleeRes.messages).toMatch(/INVITE sip:[^\r\n]+\r?\n(?:[^\r\n]+\r?\n)*?Supported: [^\r\n]*100rel/i);
    expect(calleeRes.messages).toMatch(/PRACK sip:[^\r\n]+\r?\n(?:[^\r\n]+\r?\n)*?RAck: 1 \d+ INVITE/);
    const [row] = await cdrRows(h);
    expect(row).toMatchObject({ direction: 'internal', disposition: 'answered', hangupBy: 'caller', q850Cause: 16 });
  });

  it('inbound call from the trunk: sipp as the carrier calls a DID, the extension answers, RTP crosses the trunk leg, CDR inbound', async () => {
    const carrierPort = await freePort();
    const h = (hibiki = await startHibiki({
      config: {
        auth,
        trunks: [{ name: 'carrier', host: CARRIER_HOST, port: carrierPort }],
        inbound: [{ did: '0399998888', destination: '2002' }],
      },
    }));
    const bob = await phone(h, '2002');
    const ringing = bob.waitForCall({ timeoutMs: 8000 });
    const carrier = await startSipp({
      scenario: 'carrier-uac.xml',
      target: udp(h),
      localHost: CARRIER_HOST,
      localPort: carrierPort,
      rtpEcho: true,
      pauseMs: 3000,
      inject: [['0455556666', '0399998888']],
    });
    background.push(carrier);
    const incoming = await ringing;
    expect(incoming.from).toContain('0455556666');
    incoming.ring();
    const bobCall = await incoming.answer();
    // Bob's tone goes to the carrier through hibiki and comes back (sipp echoes RTP).
    bobCall.rtp.startTone({ seed: 61 });
    const echoed = await bobCall.rtp.waitForPackets(20, 5000);
    bobCall.rtp.stopTone();
    expect(echoed.tone.seeds).toEqual(new Set([61]));
    expect(echoed.tone.outOfOrder).toBe(0);
    // The carrier hangs up after its pause.
    const end = await bobCall.waitForEnd();
    expect(end.by).toBe('remote');
    expectPassed(await carrier.result, 'carrier');

    const [row] = await cdrRows(h);
    expect(row).toMatchObject({
      direction: 'inbound',
      trunk: 'carrier',
      disposition: 'answered',
      callerNumber: '0455556666',
      dialedNumber: '0399998888',
      calleeNumber: '2002',
      hangupBy: 'caller',
      q850Cause: 16,
    });
  });

  it('outbound call through a registering trunk: hibiki registers to the sipp carrier with digest auth, then calls out through it, CDR outbound', async () => {
    const carrierPort = await freePort();
    // The carrier must be up before hibiki starts: the trunk registers at once.
    const carrier = await sippInBackground({
      scenario: 'carrier-uas.xml',
      // In server mode sipp answers where requests come from; the target is only a required argument.
      target: { host: '127.0.0.1', port: 5060 },
      localHost: CARRIER_HOST,
      localPort: carrierPort,
      rtpEcho: true,
      calls: 2,
      keys: { user: 'acct-77', password: 'carrier-pw' },
    });
    const h = (hibiki = await startHibiki({
      config: {
        auth,
        trunks: [{ name: 'carrier', host: CARRIER_HOST, port: carrierPort, register: true, username: 'acct-77', password: 'carrier-pw', domain: 'carrier.test', expires: 120, callerId: '0311112222' }],
        routes: [{ name: 'domestic', prefix: '0', minLength: 10, maxLength: 11, trunk: 'carrier', strip: 1, prepend: '+81' }],
      },
    }));
    await until(() => h.server.trunks.state('carrier') === 'registered', 5000, 'trunk registration');

    const alice = await phone(h, '2001');
    const outgoing = await alice.dial('0312345678');
    await outgoing.waitForProvisional(180);
    const aliceCall = await outgoing.answered;
    // Alice's tone reaches the carrier through hibiki and comes back (sipp echoes RTP).
    aliceCall.rtp.startTone({ seed: 71 });
    const echoed = await aliceCall.rtp.waitForPackets(20, 5000);
    aliceCall.rtp.stopTone();
    expect(echoed.tone.seeds).toEqual(new Set([71]));
    await aliceCall.hangup();

    const res = await carrier.result;
    expectPassed(res, 'carrier');
    // The second REGISTER carried credentials (checked by sipp's verifyauth); the INVITE was addressed
    // by the route (strip 1, prepend +81) and presented the trunk's number.
    expect(res.messages).toMatch(/REGISTER sip:[^\r\n]+\r?\n(?:[^\r\n]+\r?\n)*?Authorization: Digest [^\r\n]*username="acct-77"/);
    expect(res.messages).toMatch(/INVITE sip:\+81312345678@127\.0\.0\.2:\d+ SIP\/2\.0/);
    expect(res.messages).toMatch(/INVITE sip:[^\r\n]+\r?\n(?:[^\r\n]+\r?\n)*?From: [^\r\n]*<sip:0311112222@carrier\.test>/);

    const [row] = await cdrRows(h);
    expect(row).toMatchObject({
      direction: 'outbound',
      trunk: 'carrier',
      disposition: 'answered',
      callerNumber: '2001',
      dialedNumber: '0312345678',
      calleeNumber: '+81312345678',
      hangupBy: 'caller',
      q850Cause: 16,
    });
  });
});
