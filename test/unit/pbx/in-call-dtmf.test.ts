// F-CODES in a bridged call: with suppression on, a local user's digits never reach the other party until the
// DTMF-send code; with it off, digits pass and a feature code's digits are held back, then replayed when
// dtmf.featureDigitTimeout runs out (fake clock) or the code breaks; an outside party's digits pass untouched.
import { afterEach, describe, expect, it } from 'vitest';
import { CoreHarness, type HarnessOptions } from '../../support/core-harness.js';
import type { PhoneCall } from '../../support/core-phone.js';

let h: CoreHarness;
afterEach(() => h?.stop());

async function connected(opts?: HarnessOptions): Promise<{ alice: PhoneCall; bob: PhoneCall }> {
  h = await CoreHarness.start(opts);
  const a = await h.phone('2001');
  const b = await h.phone('2002');
  const out = a.dial('2002');
  await h.settle();
  const bob = b.takeCall().answer();
  await h.settle();
  return { alice: out.call!, bob };
}

describe('DTMF in a bridged call', () => {
  it('with suppression on, no digit reaches the other party until the DTMF-send code, and only for who pressed it', async () => {
    const { alice, bob } = await connected();
    alice.press('1234');
    await h.advance(5000);
    expect(h.media.heard(bob.endpoint)).toBe('');
    alice.press('*#56');
    await h.settle();
    expect(h.media.heard(bob.endpoint)).toBe('56');
    bob.press('9');
    await h.advance(5000);
    expect(h.media.heard(alice.endpoint)).toBe('');
  });

  it('with suppression off, a partly typed code is held back and replayed after dtmf.featureDigitTimeout', async () => {
    const { alice, bob } = await connected({ config: { dtmf: { suppress: false, featureDigitTimeout: 1500 } } });
    alice.press('12#');
    await h.settle();
    expect(h.media.heard(bob.endpoint)).toBe('12');
    await h.advance(1499);
    expect(h.media.heard(bob.endpoint)).toBe('12');
    await h.advance(1);
    expect(h.media.heard(bob.endpoint)).toBe('12#');
    // A digit that breaks a code releases the held ones in order.
    alice.press('#1');
    await h.settle();
    expect(h.media.heard(bob.endpoint)).toBe('12##1');
  });

  it("passes an outside party's digits untouched, whatever the suppression setting", async () => {
    h = await CoreHarness.start({
      config: { trunks: [{ name: 'carrier', host: '127.0.20.1' }], inbound: [{ did: '0399998888', destination: '2002' }] },
    });
    const bob = await h.phone('2002');
    const carrier = await h.carrier('carrier');
    const inbound = carrier.dial('0399998888', { from: '<sip:09011112222@carrier.test>' });
    await h.settle();
    const bobCall = bob.takeCall().answer();
    await h.settle();
    inbound.call!.press('5#');
    await h.settle();
    expect(h.media.heard(bobCall.endpoint)).toBe('5#');
  });
});
