// Calls through a trunk in the call core: an outbound call leaves by its route (digits stripped and
// prepended, the trunk's number presented) holding one channel until it ends; the channel limit refuses with
// 503 / cause 34; a DID from the trunk's address rings its extension; an outside caller's CANCEL gives the
// channel back.
import { afterEach, describe, expect, it } from 'vitest';
import { CoreHarness } from '../../support/core-harness.js';

const CARRIER = '127.0.20.1';
const TRUNKS = {
  trunks: [{ name: 'carrier', host: CARRIER, domain: 'carrier.test', callerId: '0311112222', channels: 1 }],
  routes: [{ name: 'domestic', prefix: '0', minLength: 10, maxLength: 11, trunk: 'carrier', strip: 1, prepend: '+81' }],
  inbound: [{ did: '0399998888', destination: '2002' }],
};

let h: CoreHarness;
afterEach(() => h?.stop());

describe('trunk calls', () => {
  it('sends an outbound call by its route, presenting the trunk number, and holds a channel until it ends', async () => {
    h = await CoreHarness.start({ config: TRUNKS });
    const alice = await h.phone('2001');
    const carrier = await h.carrier('carrier');
    const out = alice.dial('0312345678');
    await h.settle();
    const atCarrier = carrier.takeCall();
    expect(atCarrier.request.uri).toBe(`sip:+81312345678@${CARRIER}:5060`);
    expect(atCarrier.from).toContain('<sip:0311112222@carrier.test>');
    expect(h.trunks.inUse('carrier')).toBe(1);
    const far = atCarrier.answer();
    await h.settle();
    expect(h.media.bridged(out.call!.endpoint, far.endpoint)).toBe(true);
    far.hangup();
    await h.settle();
    expect(h.trunks.inUse('carrier')).toBe(0);
    expect(h.cdr()).toMatchObject({ direction: 'outbound', trunk: 'carrier', calleeNumber: '+81312345678', dialedNumber: '0312345678', disposition: 'answered' });
  });

  it('refuses a call over the channel limit with 503 / cause 34', async () => {
    h = await CoreHarness.start({ config: TRUNKS });
    const alice = await h.phone('2001');
    const bob = await h.phone('2002');
    const carrier = await h.carrier('carrier');
    alice.dial('0312345678');
    await h.settle();
    carrier.takeCall().ring();
    const second = bob.dial('0312349999');
    await h.settle();
    expect(second.status).toBe(503);
    expect(second.reason).toMatch(/cause=34/);
    expect(carrier.incoming).toHaveLength(0);
  });

  it("rings the extension of a DID called from the trunk, and the caller's CANCEL gives the channel back", async () => {
    h = await CoreHarness.start({ config: TRUNKS });
    const bob = await h.phone('2002');
    const carrier = await h.carrier('carrier');
    const inbound = carrier.dial('0399998888', { from: '<sip:09011112222@carrier.test>' });
    await h.settle();
    const atBob = bob.takeCall();
    expect(atBob.from).toContain('sip:09011112222@');
    expect(h.trunks.inUse('carrier')).toBe(1);
    atBob.ring();
    await h.settle();
    inbound.cancel();
    await h.settle();
    expect(atBob.cancelled).toBe(true);
    expect(h.trunks.inUse('carrier')).toBe(0);
    expect(h.cdr()).toMatchObject({ direction: 'inbound', trunk: 'carrier', callerNumber: '09011112222', dialedNumber: '0399998888', calleeNumber: '2002', disposition: 'cancelled' });
  });
});
