// The caller giving up at every point of call set-up: while the callee rings, as the callee answers (either
// message first), and while the caller's own media is still being set up. Each ends with one CDR row, the
// callee's phone released, and no media endpoint left behind.
import { afterEach, describe, expect, it } from 'vitest';
import { CoreHarness } from '../../support/core-harness.js';

let h: CoreHarness;
afterEach(() => h?.stop());

describe('cancel races', () => {
  it('a CANCEL while the callee rings: 487 to the caller, CANCEL to the callee, CDR cancelled / 16', async () => {
    h = await CoreHarness.start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const out = alice.dial('2002');
    await h.settle();
    const atBob = bob.takeCall();
    atBob.ring();
    await h.settle();
    out.cancel();
    await h.settle();
    expect(out.status).toBe(487);
    expect(atBob.cancelled).toBe(true);
    expect(h.cdr()).toMatchObject({ disposition: 'cancelled', hangupBy: 'caller', q850Cause: 16 });
    expect(h.active).toHaveLength(0);
    expect(h.media.liveCount).toBe(0);
  });

  it("the callee's 200 arriving before the caller's CANCEL wins: the call is answered, then the caller's BYE ends it", async () => {
    h = await CoreHarness.start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const out = alice.dial('2002');
    await h.settle();
    const atBob = bob.takeCall();
    atBob.ring();
    await h.settle();
    const bobCall = atBob.answer();
    out.cancel();
    await h.settle();
    // The caller's phone got the 200 after its CANCEL and hung up with BYE (RFC 3261 §9.1).
    expect(out.status).toBe(200);
    expect(bobCall.ended).toMatchObject({ by: 'remote' });
    expect(h.cdr()).toMatchObject({ disposition: 'answered', hangupBy: 'caller' });
    expect(h.active).toHaveLength(0);
    expect(h.media.liveCount).toBe(0);
  });

  it("the caller's CANCEL arriving before the callee's 200 wins: 487 to the caller, and the answered callee gets BYE", async () => {
    h = await CoreHarness.start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const out = alice.dial('2002');
    await h.settle();
    const atBob = bob.takeCall();
    atBob.ring();
    await h.settle();
    out.cancel();
    const bobCall = atBob.answer();
    await h.settle();
    expect(out.status).toBe(487);
    expect(bobCall.ended).toMatchObject({ by: 'remote' });
    expect(h.cdr()).toMatchObject({ disposition: 'cancelled', hangupBy: 'caller', q850Cause: 16 });
    expect(h.active).toHaveLength(0);
    expect(h.media.liveCount).toBe(0);
  });

  it("a CANCEL while the caller's media is being set up ends the attempt; nothing rings and no endpoint is left", async () => {
    h = await CoreHarness.start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const release = h.media.holdEndpoints();
    const out = alice.dial('2002');
    await h.settle();
    // The stack answers 100 Trying at once (RFC 3261 §17.2.1), so the CANCEL may leave.
    expect(out.provisional).toContain(100);
    out.cancel();
    await h.settle();
    expect(out.status).toBe(487);
    release();
    await h.settle();
    expect(bob.incoming).toHaveLength(0);
    expect(h.cdr()).toMatchObject({ disposition: 'cancelled', hangupBy: 'caller' });
    expect(h.active).toHaveLength(0);
    expect(h.media.liveCount).toBe(0);
  });

  it("a CANCEL while the callee side's media is being set up ends the attempt; nothing rings and no endpoint is left", async () => {
    h = await CoreHarness.start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    // The caller's endpoint is made; the callee side's (the second) waits.
    const release = h.media.holdEndpoints(1);
    const out = alice.dial('2002');
    await h.settle();
    expect(h.media.liveCount).toBe(1);
    out.cancel();
    await h.settle();
    expect(out.status).toBe(487);
    release();
    await h.settle();
    expect(bob.incoming).toHaveLength(0);
    expect(h.cdr()).toMatchObject({ disposition: 'cancelled', hangupBy: 'caller' });
    expect(h.media.liveCount).toBe(0);
  });
});
