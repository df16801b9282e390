// F-QUEUE end to end with test UAs and real RTP: a caller waits in a queue, agents are offered the call by
// the ring strategy, the answering agent is bridged to the caller, and the CDR and queue events record it.
import { describe, expect, it } from 'vitest';
import { nextRung, talking, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';

const session = hibikiSession();
const NUMBERS = ['2001', '2002', '2003', '2004'];

function start(queue: Record<string, unknown>, config: Record<string, unknown> = {}) {
  return session.start({
    extensions: NUMBERS.map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}` })),
    config: { queues: [{ number: '6000', name: 'Support', members: ['2002', '2003'], periodicAnnouncementInterval: 0, ...queue }], ...config },
  });
}

describe('queues', () => {
  it('a caller waits, an agent answers, both talk; the CDR names the queue, the agent and the wait', async () => {
    const { h, phone } = await start({ strategy: 'linear' });
    const alice = await phone('2001');
    const agents = [await phone('2002'), await phone('2003')];
    const aliceCall = await alice.call('6000');
    const rung = await nextRung(agents);
    expect(rung.phone.user).toBe('2002');
    const agentCall = await rung.call.answer();
    await talking(aliceCall, agentCall, 11, 12);
    await aliceCall.hangup();
    await agentCall.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).length === 1, 5000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ dialedNumber: '6000', calleeNumber: '2002', answeredBy: '2002', queue: '6000', disposition: 'answered' });
    expect(h.server.cdr.query({})[0]!.queueWait).toBeGreaterThanOrEqual(0);
  }, 30_000);
});
