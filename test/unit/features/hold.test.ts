// F-HOLD in the call core: a phone's re-INVITE with a=sendonly is answered here (recvonly), the bridge stops,
// and the other party hears the holder's music on hold without any re-INVITE of its own; resuming stops the
// music and reconnects the audio.
import { afterEach, describe, expect, it } from 'vitest';
import { CoreHarness } from '../../support/core-harness.js';

let h: CoreHarness;
afterEach(() => h?.stop());

describe('hold', () => {
  it('plays music on hold to the other party while a phone holds, and reconnects on resume', async () => {
    h = await CoreHarness.start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const out = alice.dial('2002');
    await h.settle();
    const bobCall = bob.takeCall().answer();
    await h.settle();
    const aliceCall = out.call!;

    const held = aliceCall.hold();
    await h.settle();
    const answer = await held;
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toMatch(/a=recvonly/);
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(false);
    const moh = h.media.nowPlaying(bobCall.endpoint);
    expect(moh).toMatchObject({ loop: true, state: 'playing' });
    expect(moh?.files.every((f) => /[/\\]moh[/\\]default[/\\]/.test(f))).toBe(true);
    expect(h.media.nowPlaying(aliceCall.endpoint)).toBeUndefined();
    // Bob's phone keeps an ordinary call: nothing was relayed to it.
    expect(bobCall.reoffers).toEqual([]);

    // The music plays on, however long the hold lasts.
    await h.advance(600_000);
    expect(h.media.nowPlaying(bobCall.endpoint)).toBe(moh);

    const resumed = aliceCall.resume();
    await h.settle();
    expect((await resumed).status).toBe(200);
    expect(moh?.state).toBe('stopped');
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(true);
    bobCall.hangup();
    await h.settle();
    expect(h.cdr()).toMatchObject({ disposition: 'answered', hangupBy: 'callee' });
  });

  it('the held party hanging up during the hold ends the call and the music', async () => {
    h = await CoreHarness.start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const out = alice.dial('2002');
    await h.settle();
    const bobCall = bob.takeCall().answer();
    await h.settle();
    void out.call!.hold();
    await h.settle();
    const moh = h.media.nowPlaying(bobCall.endpoint);
    bobCall.hangup();
    await h.settle();
    expect(moh?.state).toBe('stopped');
    expect(out.call!.ended).toMatchObject({ by: 'remote' });
    expect(h.media.liveCount).toBe(0);
  });

  it('relays a new offer that is not a hold to the other party (its phone gets a re-INVITE)', async () => {
    h = await CoreHarness.start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const out = alice.dial('2002');
    await h.settle();
    const bobCall = bob.takeCall().answer();
    await h.settle();
    const changed = out.call!.resume();
    await h.settle();
    expect((await changed).status).toBe(200);
    expect(bobCall.reoffers).toEqual(['sendrecv']);
    expect(h.media.bridged(out.call!.endpoint, bobCall.endpoint)).toBe(true);
  });

  it('answers an offer itself while a feature holds the leg: the other party is not disturbed', async () => {
    h = await CoreHarness.start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const out = alice.dial('2002');
    await h.settle();
    const bobCall = bob.takeCall().answer();
    await h.settle();
    // Bob starts typing a transfer target: both legs belong to the entry, Alice hears music.
    bobCall.press('#8');
    await h.settle();
    const changed = out.call!.resume();
    await h.settle();
    expect((await changed).status).toBe(200);
    expect(bobCall.reoffers).toEqual([]);
  });
});
