// F-FWD in the call core, on the fake clock: no answer after noAnswerTimeout (and not a moment before), busy
// (the device's 486, a callee in a call, DND set by a service code), unregistered and silent devices, a CFU
// chain with a CDR row per hop, and a no-answer loop that ends at its last hop.
import { afterEach, describe, expect, it } from 'vitest';
import { CoreHarness, type HarnessExtension } from '../../support/core-harness.js';

let h: CoreHarness;
afterEach(() => h?.stop());

function start(...extensions: HarnessExtension[]): Promise<CoreHarness> {
  return CoreHarness.start({ extensions }).then((x) => (h = x));
}

describe('call forwarding in the call core', () => {
  it('CFNA: the callee rings for noAnswerTimeout, is cancelled, and the destination rings; a CDR row per hop', async () => {
    await start({ number: '2002', forwarding: { noAnswer: '2003', noAnswerTimeout: 10 } });
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const carol = await h.phone('2003');
    const out = alice.dial('2002');
    await h.settle();
    const atBob = bob.takeCall();
    atBob.ring();
    await h.advance(9999);
    expect(atBob.cancelled).toBe(false);
    expect(carol.incoming).toHaveLength(0);
    await h.advance(1);
    expect(atBob.cancelled).toBe(true);
    const carolCall = carol.takeCall().answer();
    await h.settle();
    expect(h.media.bridged(out.call!.endpoint, carolCall.endpoint)).toBe(true);
    carolCall.hangup();
    await h.settle();
    expect(h.cdrs).toHaveLength(2);
    const [hop, last] = h.cdrs;
    expect(hop).toMatchObject({ calleeNumber: '2002', disposition: 'no_answer', q850Cause: 19, sipStatus: 480, hangupBy: 'system', forwardedFrom: null, duration: 10 });
    expect(last).toMatchObject({ calleeNumber: '2003', disposition: 'answered', feature: 'forward_cfna', forwardedFrom: '2002', answeredBy: '2003', hangupBy: 'callee' });
    expect(hop!.linkedId).toBe(last!.linkedId);
  });

  it('CFB: a device answering 486 sends the call to the busy destination', async () => {
    await start({ number: '2002', forwarding: { busy: '2003' } });
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const carol = await h.phone('2003');
    const out = alice.dial('2002');
    await h.settle();
    bob.takeCall().reject(486);
    await h.settle();
    carol.takeCall().answer();
    await h.settle();
    expect(out.status).toBe(200);
    out.call!.hangup();
    await h.settle();
    expect(h.cdrs.map((r) => [r.calleeNumber, r.disposition, r.feature])).toEqual([
      ['2002', 'busy', 'none'],
      ['2003', 'answered', 'forward_cfb'],
    ]);
  });

  it('CFB: a callee already in a call without call waiting forwards at once, without ringing', async () => {
    await start({ number: '2002', callWaiting: false, forwarding: { busy: '2003' } });
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const carol = await h.phone('2003');
    const dave = await h.phone('2004');
    dave.dial('2002');
    await h.settle();
    bob.takeCall().answer();
    await h.settle();
    alice.dial('2002');
    await h.settle();
    expect(bob.incoming).toHaveLength(0);
    expect(carol.incoming).toHaveLength(1);
  });

  it('DND set by its service code makes the extension busy: 486 / cause 17', async () => {
    await start();
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const code = bob.dial('1429');
    await h.settle();
    // hibiki answers, plays the confirmation, then hangs up when it has played.
    const confirm = code.call!;
    const played = h.media.nowPlaying(confirm.endpoint);
    expect(played?.files[0]).toMatch(/setting-done\.wav$/);
    const length = h.media.playLength(played!.files);
    await h.advance(length - 1);
    expect(confirm.ended).toBeUndefined();
    await h.advance(1);
    expect(confirm.ended).toMatchObject({ by: 'remote' });
    expect(h.cdr()).toMatchObject({ feature: 'service_code', disposition: 'answered', answeredBy: 'hibiki', hangupBy: 'system' });

    const out = alice.dial('2002');
    await h.settle();
    expect(bob.incoming).toHaveLength(0);
    expect(out.status).toBe(486);
    expect(out.reason).toMatch(/cause=17/);
  });

  it('CFUR: an extension without a registered device forwards at once', async () => {
    await start({ number: '2002', forwarding: { unreachable: '2003' } });
    const alice = await h.phone('2001');
    const carol = await h.phone('2003');
    alice.dial('2002');
    await h.settle();
    carol.takeCall().answer();
    await h.settle();
    expect(h.active[0]?.feature).toBe('forward_cfur');
  });

  it('CFUR: a registered device that sends nothing within forwarding.unreachableTimeout forwards', async () => {
    h = await CoreHarness.start({ extensions: [{ number: '2002', forwarding: { unreachable: '2003' } }], config: { forwarding: { unreachableTimeout: 3 } } });
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const carol = await h.phone('2003');
    h.network.unplug(bob.address.address);
    alice.dial('2002');
    await h.advance(2999);
    expect(carol.incoming).toHaveLength(0);
    await h.advance(1);
    expect(carol.incoming).toHaveLength(1);
  });

  it('follows a CFU chain to its last destination with a CDR row for every hop, one linked id', async () => {
    await start({ number: '2002', forwarding: { unconditional: '2003' } }, { number: '2003', forwarding: { unconditional: '2004' } }, { number: '2004', forwarding: { unconditional: '2005' } });
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const eve = await h.phone('2005');
    const out = alice.dial('2002');
    await h.settle();
    expect(bob.incoming).toHaveLength(0);
    eve.takeCall().answer();
    await h.settle();
    out.call!.hangup();
    await h.settle();
    expect(h.cdrs.map((r) => [r.calleeNumber, r.forwardedFrom, r.feature])).toEqual([
      ['2002', null, 'none'],
      ['2003', '2002', 'forward_cfu'],
      ['2004', '2003', 'forward_cfu'],
      ['2005', '2004', 'forward_cfu'],
    ]);
    expect(new Set(h.cdrs.map((r) => r.linkedId)).size).toBe(1);
  });

  it('ends a no-answer loop at its last hop: each rings for its noAnswerTimeout, then the caller gets 480', async () => {
    await start({ number: '2002', forwarding: { noAnswer: '2003', noAnswerTimeout: 5 } }, { number: '2003', forwarding: { noAnswer: '2002', noAnswerTimeout: 7 } });
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const carol = await h.phone('2003');
    const out = alice.dial('2002');
    await h.settle();
    bob.takeCall().ring();
    await h.advance(5000);
    const atCarol = carol.takeCall();
    atCarol.ring();
    await h.advance(6999);
    expect(out.status).toBeUndefined();
    await h.advance(1);
    expect(atCarol.cancelled).toBe(true);
    expect(bob.incoming).toHaveLength(0);
    expect(out.status).toBe(480);
    expect(out.reason).toMatch(/cause=19/);
  });

  it('a service code cancelled before hibiki answers still takes effect and ends with a cancelled CDR row', async () => {
    await start();
    const bob = await h.phone('2002');
    const release = h.media.holdEndpoints();
    const code = bob.dial('1429');
    await h.settle();
    code.cancel();
    await h.settle();
    expect(code.status).toBe(487);
    release();
    await h.settle();
    expect(h.cdr()).toMatchObject({ feature: 'service_code', disposition: 'cancelled', hangupBy: 'caller' });
    expect(h.forwarding.effective('2002').dnd).toBe(true);
    expect(h.active).toHaveLength(0);
    expect(h.media.liveCount).toBe(0);
  });
});
