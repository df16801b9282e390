// F-CODES DTMF handling on answered calls, asserted on the telephone-event packets the far phone
// receives: suppression by default, the DTMF-send code, hold-back and replay with suppression off,
// and SIP INFO digits driving the same rules as RFC 4733.
import { describe, expect, it } from 'vitest';
import type { RunningHibiki, StartOptions } from '../support/hibiki.js';
import { connect } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import type { Call } from '../support/test-ua.js';

const session = hibikiSession();

async function connected(opts: StartOptions = {}): Promise<{ h: RunningHibiki; alice: Call; bob: Call }> {
  const { h, phone } = await session.start(opts);
  const a = await phone('2001');
  const b = await phone('2002');
  const { caller: alice, callee: bob } = await connect(a, b, '2002');
  return { h, alice, bob };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DTMF in calls', () => {
  it('with suppression on, neither a feature code nor other digits reach the far end until the DTMF-send code', async () => {
    const { alice, bob } = await connected();
    await alice.sendDtmf('#72', { method: 'rfc4733' });
    await alice.sendDtmf('1234', { method: 'rfc4733' });
    await settle(1500);
    expect(bob.rtp.received().telephoneEvents).toHaveLength(0);
    expect(bob.rtp.received().digits()).toBe('');

    await alice.sendDtmf('*#', { method: 'rfc4733' });
    await alice.sendDtmf('56', { method: 'rfc4733' });
    expect(await bob.rtp.waitForDigits('56', 5000)).toBe('56');
    // The DTMF-send code itself never reached Bob.
    expect(bob.rtp.received().digits()).toBe('56');
    // Bob's own digits toward Alice are suppressed too (he never pressed the DTMF-send code).
    await bob.sendDtmf('9', { method: 'rfc4733' });
    await settle(800);
    expect(alice.rtp.received().digits()).toBe('');
  });

  it('with suppression off, ordinary digits pass in order and feature-code digits are held back and consumed', async () => {
    const { alice, bob } = await connected({ config: { dtmf: { suppress: false } } });
    await alice.sendDtmf('12', { method: 'rfc4733' });
    expect(await bob.rtp.waitForDigits('12', 5000)).toBe('12');
    await alice.sendDtmf('#72', { method: 'rfc4733' });
    await settle(1500);
    expect(bob.rtp.received().digits()).toBe('12');
    // A digit that breaks a code is replayed after the held ones, in order: "#1" is not a code.
    await alice.sendDtmf('#1', { method: 'rfc4733' });
    expect(await bob.rtp.waitForDigits('12#1', 5000)).toBe('12#1');
  });

  it('applies the same rules to SIP INFO digits', async () => {
    const { alice, bob } = await connected();
    await alice.sendDtmf('4', { method: 'info' });
    await settle(800);
    expect(bob.rtp.received().digits()).toBe('');
    await alice.sendDtmf('*#', { method: 'info' });
    await alice.sendDtmf('7', { method: 'info' });
    expect(await bob.rtp.waitForDigits('7', 5000)).toBe('7');
  });
});
