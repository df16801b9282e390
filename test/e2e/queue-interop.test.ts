// F-QUEUE with real peers, loopback only:
// - two sipp UAS phones (2002, 2003) are the agents of a roundrobin queue: four calls from a test UA in
//   a row are answered by 2002, 2003, 2002, 2003; each caller's tone goes through the bridge to sipp and
//   comes back (sipp echoes RTP); each CDR names the queue, the agent and an answered disposition;
// - SIP.js over WebSocket is the agent: it rings, answers, and RTP flows both ways with the caller;
// - a sipp caller waits in a queue with no agent and gives up: the call is ABANDON in queue_events and
//   its CDR names the queue.
import { describe, expect, it } from 'vitest';
import type { RunningHibiki, StartOptions } from '../support/hibiki.js';
import { callAuthUri, runSipp, sippAuth, type SippProcess } from '../support/sipp.js';
import { startSipJsPhone, type SipJsPhone } from '../support/sipjs-call.js';
import { freePort } from '../support/ports.js';
import { waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { echoedThroughPeer, expectPassed, sippInBackground, udp, within } from '../support/interop.js';
import type { QueueEvent } from '../../src/store/queue-event-store.js';

// sipp 3.6 answers an MD5 challenge only (see register-sipp tests).
const auth = { algorithms: ['MD5'] };

const background: SippProcess[] = [];
let sipjs: SipJsPhone | undefined;

// sipp and SIP.js leave first, while hibiki still answers them.
const session = hibikiSession({
  async beforeStop() {
    for (const p of background.splice(0)) {
      p.stop();
      await p.result;
    }
    await sipjs?.stop();
    sipjs = undefined;
  },
});

const NUMBERS = ['2001', '2002', '2003'];

function start(queue: Record<string, unknown>, opts: StartOptions = {}) {
  return session.start({
    extensions: NUMBERS.map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}` })),
    ...opts,
    config: { auth, queues: [{ number: '6000', name: 'Support', members: ['2002', '2003'], periodicAnnouncementInterval: 0, ...queue }] },
  });
}

/** A sipp phone registered as `ext` on a fixed port, so a later sipp UAS on that port receives its calls. */
async function registerSippPhone(h: RunningHibiki, ext: string): Promise<number> {
  const localPort = await freePort();
  const reg = await runSipp({ scenario: 'register-auth.xml', target: udp(h), localPort, inject: [[ext, sippAuth(ext, `secret-${ext}`), '600']] });
  expectPassed(reg, `register ${ext}`);
  expect(h.server.registrar.contacts(ext)).toHaveLength(1);
  return localPort;
}

/** uas-call.xml answers PCMA only: one codec end to end keeps the echoed test-tone frames byte-exact. */
const PCMA_ONLY = { codecs: ['PCMA' as const] };

/** The queue events written so far (QueueLog writes them at the end of the event-loop turn). */
function queueEvents(h: RunningHibiki): QueueEvent[] {
  return h.server.queues.events.between(0, Date.now() + 1);
}

describe('queues with real peers', () => {
  it('roundrobin with two sipp agents: four calls in a row go 2002, 2003, 2002, 2003; audio through the bridge; CDRs answered in queue 6000', async () => {
    const { h, phone } = await start({ strategy: 'roundrobin' });
    const ports = { '2002': await registerSippPhone(h, '2002'), '2003': await registerSippPhone(h, '2003') };
    // Each agent takes two of the four calls.
    const agents = await Promise.all(
      (['2002', '2003'] as const).map((ext) => sippInBackground({ scenario: 'uas-call.xml', target: udp(h), localPort: ports[ext], rtpEcho: true, calls: 2, timeoutSec: 90 }, background)),
    );
    const alice = await phone('2001');

    for (let i = 0; i < 4; i++) {
      const call = await within(alice.call('6000', PCMA_ONLY), 10_000, `queue call ${i + 1} answered`);
      // The queue answers at once; the caller's tone comes back only once an agent is bridged.
      await echoedThroughPeer(call, 100 + i, 10_000);
      await call.hangup();
      await waitUntil(() => h.server.cdr.query({}).length === i + 1 && h.server.calls.active().length === 0, 10_000);
    }

    const results = await Promise.all(agents.map((a, i) => within(a.result, 20_000, `sipp agent ${i === 0 ? '2002' : '2003'} finished`)));
    results.forEach((res, i) => expectPassed(res, `sipp agent ${i === 0 ? '2002' : '2003'}`));
    // Each sipp agent got its two INVITEs at the contact it registered.
    for (const [i, ext] of (['2002', '2003'] as const).entries()) {
      expect(results[i]!.messages.match(new RegExp(`INVITE sip:${ext}@127\\.0\\.0\\.1:${ports[ext]}[^\\r\\n]* SIP/2\\.0`, 'g'))).toHaveLength(2);
    }

    const rows = h.server.cdr.query({}).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    expect(rows.map((r) => r.answeredBy)).toEqual(['2002', '2003', '2002', '2003']);
    for (const r of rows) expect(r).toMatchObject({ callerNumber: '2001', dialedNumber: '6000', queue: '6000', disposition: 'answered', hangupBy: 'caller' });
    await waitUntil(() => queueEvents(h).filter((e) => e.event === 'COMPLETE').length === 4, 5000);
    expect(
      queueEvents(h)
        .filter((e) => e.event === 'ANSWER')
        .map((e) => e.agent),
    ).toEqual(['2002', '2003', '2002', '2003']);
  }, 120_000);

  it('SIP.js over WebSocket as the agent: it rings, answers the queue call, RTP both ways with the caller; CDR answeredBy 2002', async () => {
    const { h, phone } = await start({ members: ['2002'] }, { transports: [{ transport: 'udp' }, { transport: 'ws' }] });
    const bob = (sipjs = await startSipJsPhone({ server: `ws://127.0.0.1:${h.port('ws')}`, user: '2002', password: 'secret-2002' }));
    expect(await bob.register(), bob.logs.join('\n')).toEqual({ registered: true });
    expect(h.server.registrar.contacts('2002')[0]?.target.transport).toBe('ws');
    const alice = await phone('2001');

    const aliceCall = await alice.call('6000');
    const invitation = await within(bob.waitForInvitation(15_000), 16_000, 'the queue call at SIP.js');
    expect(invitation.request.from.uri.user).toBe('2001');
    const bobCall = await within(bob.answer(invitation), 10_000, 'SIP.js answering the queue call');

    // Test tones both ways: each end hears exactly the other's seed, in order (the caller's music was no tone frames).
    aliceCall.rtp.startTone({ seed: 41 });
    bobCall.rtp.startTone({ seed: 42 });
    try {
      await waitUntil(() => bobCall.rtp.received().tone.intact >= 25 && aliceCall.rtp.received().tone.intact >= 25, 10_000);
    } finally {
      aliceCall.rtp.stopTone();
      bobCall.rtp.stopTone();
    }
    expect(bobCall.rtp.received().tone.seeds).toEqual(new Set([41]));
    expect(aliceCall.rtp.received().tone.seeds).toEqual(new Set([42]));
    expect(bobCall.rtp.received().tone.outOfOrder).toBe(0);
    expect(aliceCall.rtp.received().tone.outOfOrder).toBe(0);

    await bobCall.hangup();
    expect((await aliceCall.waitForEnd(5000)).by).toBe('remote');
    await waitUntil(() => h.server.cdr.query({}).length === 1, 5000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ callerNumber: '2001', dialedNumber: '6000', queue: '6000', answeredBy: '2002', disposition: 'answered', hangupBy: 'callee' });
  }, 60_000);

  it('a sipp caller gives up while no agent is there: ABANDON in queue_events, CDR with queue 6000', async () => {
    const { h } = await start({});
    const res = await runSipp({
      scenario: 'uac-queue-abandon.xml',
      target: udp(h),
      inject: [['2001', sippAuth('2001', 'secret-2001'), '6000']],
      authUri: callAuthUri('6000', udp(h)),
      pauseMs: 1500,
      timeoutSec: 30,
    });
    expectPassed(res, 'sipp caller');
    // hibiki answered the queue call itself (the caller waits answered), and acknowledged sipp's BYE.
    expect(res.messages).toMatch(/SIP\/2\.0 200 OK[\s\S]*CSeq: 2 INVITE/);
    expect(res.messages).toMatch(/SIP\/2\.0 200 OK[\s\S]*CSeq: 3 BYE/);

    await waitUntil(() => queueEvents(h).some((e) => e.event === 'ABANDON'), 10_000);
    const events = queueEvents(h).filter((e) => e.queue === '6000' && e.callId !== null);
    expect(events.map((e) => e.event)).toEqual(['ENTER', 'ABANDON']);
    const abandon = events[1]!;
    // It waited through sipp's pause, give or take.
    expect(abandon.waitMs).toBeGreaterThanOrEqual(1000);
    expect(h.server.queues.dispatcher.waitingCount('6000')).toBe(0);

    await waitUntil(() => h.server.cdr.query({}).length === 1, 10_000);
    const [row] = h.server.cdr.query({});
    // Answered by the queue itself (the caller waited answered), never by an agent; the wait in whole seconds.
    expect(row).toMatchObject({ callerNumber: '2001', dialedNumber: '6000', queue: '6000', answeredBy: 'hibiki', hangupBy: 'caller', queueWait: Math.round(abandon.waitMs! / 1000) });
    expect(row?.callId).toBe(abandon.callId);
  }, 60_000);
});
