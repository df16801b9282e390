// Edge cases of the routing features found in review: a picker that cancels while its pickup is being set
// up leaves the call ringing (nothing stuck, no leak); a service code cancelled before the answer ends
// cleanly; a phone that sends early media (183 with SDP) and then answers is connected (the early answer
// used to consume the only offer, failing the call with 500); a hunt hop after early media from the
// previous member connects too.
import { describe, expect, it } from 'vitest';
import { hibikiSession } from '../support/session.js';
import { nextRung, talking, waitUntil } from '../support/call-helpers.js';
import type { RunningHibiki } from '../support/hibiki.js';

const EXTENSIONS = ['2001', '2002', '2003'].map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}` }));
const { start } = hibikiSession({ defaults: { extensions: EXTENSIONS } });

/**
 * Hold the next INVITE between its authentication and its answer, as a busy media worker would: media
 * set-up waits at a gate. `waiting` resolves once an INVITE is held there; `release()` lets it through and
 * undoes the gate.
 */
function gatedMedia(h: RunningHibiki): { waiting: Promise<void>; release: () => void } {
  const engine = h.server.media;
  const create = engine.createEndpoint.bind(engine);
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let held!: () => void;
  const waiting = new Promise<void>((r) => (held = r));
  engine.createEndpoint = async (opts) => {
    held();
    await gate;
    return create(opts);
  };
  return {
    waiting,
    release: () => {
      engine.createEndpoint = create;
      open();
    },
  };
}

describe('routing edge cases', () => {
  it('a picker cancelling while the pickup is set up leaves the call ringing; the callee can still answer', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const ringing = bob.waitForCall();
    const outgoing = await alice.dial('2002');
    const atBob = await ringing;
    atBob.ring();
    await outgoing.waitForProvisional(180);
    const gated = gatedMedia(h);
    const pick = await carol.dial('**2002');
    // Past the digest challenge: the authenticated INVITE is now waiting for its media.
    await gated.waiting;
    pick.cancel();
    const err = await pick.answered.then(
      () => undefined,
      (e: unknown) => e as { status: number },
    );
    expect(err?.status).toBe(487);
    gated.release();
    // The picker's attempt is over once its own call has gone.
    await waitUntil(() => h.server.calls.callsOf('2003') === 0, 5000);
    expect(atBob.isCancelled).toBe(false);
    const bobCall = await atBob.answer();
    const aliceCall = await outgoing.answered;
    await talking(aliceCall, bobCall, 301, 302);
    await aliceCall.hangup();
    await waitUntil(() => h.server.calls.active().length === 0, 3000);
    expect(h.server.calls.callsOf('2003')).toBe(0);
  }, 30_000);

  it('a service code cancelled before the answer ends cleanly, with a CDR', async () => {
    const { h, phone } = await start();
    const bob = await phone('2002');
    const gated = gatedMedia(h);
    const code = await bob.dial('1429');
    await gated.waiting;
    code.cancel();
    await code.answered.catch(() => undefined);
    gated.release();
    await waitUntil(() => h.server.calls.active().length === 0, 3000);
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ feature: 'service_code', disposition: 'cancelled' });
  }, 20_000);

  it('connects a phone that sends early media and then answers', async () => {
    const { phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const outgoing = await alice.dial('2002');
    const atBob = await bob.waitForCall();
    await atBob.progress();
    await outgoing.waitForProvisional(183);
    const bobCall = await atBob.answer();
    const aliceCall = await outgoing.answered;
    await talking(aliceCall, bobCall, 311, 312);
    await aliceCall.hangup();
  }, 20_000);

  it('a hunt member after one that sent early media is connected', async () => {
    const { phone } = await start({ config: { groups: [{ number: '600', name: 'Sales', strategy: 'sequential', members: ['2002', '2003'], memberRingTime: 5 }] } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const outgoing = await alice.dial('600');
    const first = await nextRung([bob, carol]);
    expect(first.phone.user).toBe('2002');
    await first.call.progress();
    await outgoing.waitForProvisional(183);
    first.call.reject(480);
    const second = await nextRung([bob, carol]);
    expect(second.phone.user).toBe('2003');
    const carolCall = await second.call.answer();
    const aliceCall = await outgoing.answered;
    await talking(aliceCall, carolCall, 321, 322);
    await aliceCall.hangup();
  }, 30_000);
});
