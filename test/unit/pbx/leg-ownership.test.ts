// One owner per leg (DESIGN.md "Call applications"): a feature that takes a bridged leg gets its events —
// digits, hang-up — and the bridge none; giving the leg back reconnects the audio; handing it over or
// stacking owners moves the events with the leg.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoreHarness } from '../../support/core-harness.js';
import type { PhoneCall } from '../../support/core-phone.js';
import type { Leg, LegEnd, LegOwner } from '../../../src/pbx/leg.js';

let h: CoreHarness;
let aliceCall: PhoneCall;
let bobCall: PhoneCall;

/** An owner that writes down what it hears. */
class Recorder implements LegOwner {
  readonly digits: string[] = [];
  readonly ends: LegEnd[] = [];
  readonly events: string[] = [];
  constructor(readonly label: string) {}
  ended(_leg: Leg, end: LegEnd): void {
    this.ends.push(end);
  }
  digit(_leg: Leg, d: string): void {
    this.digits.push(d);
  }
  suspended(): void {
    this.events.push('suspended');
  }
  resumed(): void {
    this.events.push('resumed');
  }
}

beforeEach(async () => {
  // Suppression off: the bridge forwards what a party types, so "digits reach the other party" is visible.
  h = await CoreHarness.start({ config: { dtmf: { suppress: false } } });
  const alice = await h.phone('2001');
  const bob = await h.phone('2002');
  const out = alice.dial('2002');
  await h.settle();
  bobCall = bob.takeCall().answer();
  await h.settle();
  aliceCall = out.call!;
});
afterEach(() => h.stop());

describe('leg ownership', () => {
  it('a feature that takes a bridged leg gets its digits, the bridge none; release gives it back and the audio reconnects', async () => {
    const { leg } = h.legAt(aliceCall.endpoint);
    aliceCall.press('12');
    expect(h.media.heard(bobCall.endpoint)).toBe('12');

    const feature = new Recorder('feature');
    const handle = leg.take(feature);
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(false);
    aliceCall.press('345');
    expect(feature.digits).toEqual(['3', '4', '5']);
    expect(h.media.heard(bobCall.endpoint)).toBe('12');

    handle.release();
    expect(handle.held).toBe(false);
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(true);
    aliceCall.press('6');
    expect(feature.digits).toEqual(['3', '4', '5']);
    expect(h.media.heard(bobCall.endpoint)).toBe('126');
  });

  it('a hang-up goes to the owner that holds the leg: the call goes on until that owner decides', async () => {
    const { leg, session } = h.legAt(aliceCall.endpoint);
    const feature = new Recorder('feature');
    leg.take(feature);
    aliceCall.hangup();
    await h.settle();
    expect(feature.ends).toEqual([expect.objectContaining({ by: 'party', cause: 16 })]);
    expect(bobCall.ended).toBeUndefined();
    expect(h.active).toHaveLength(1);
    expect(h.media.isLive(aliceCall.endpoint)).toBe(false);

    session.hangup('caller', 16, 'the feature ended it', leg);
    await h.settle();
    expect(bobCall.ended).toMatchObject({ by: 'remote' });
    expect(h.cdr()).toMatchObject({ disposition: 'answered', hangupBy: 'caller', hangupReason: 'the feature ended it' });
  });

  it("handOver puts the new owner in the old one's place: it gets the events, and its release returns the leg to the bridge", async () => {
    const { leg } = h.legAt(bobCall.endpoint);
    const first = new Recorder('first');
    const second = new Recorder('second');
    const next = leg.take(first).handOver(second);
    bobCall.press('7');
    expect(first.digits).toEqual([]);
    expect(second.digits).toEqual(['7']);
    next.release();
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(true);
    expect(first.events).toEqual([]);
  });

  it('owners stack: taking a taken leg suspends the owner before, and releasing resumes it', async () => {
    const { leg } = h.legAt(aliceCall.endpoint);
    const outer = new Recorder('outer');
    const inner = new Recorder('inner');
    const outerHandle = leg.take(outer);
    const innerHandle = leg.take(inner);
    expect(outer.events).toEqual(['suspended']);
    expect(outerHandle.current).toBe(false);
    aliceCall.press('8');
    expect([outer.digits, inner.digits]).toEqual([[], ['8']]);
    innerHandle.release();
    expect(outer.events).toEqual(['suspended', 'resumed']);
    aliceCall.press('9');
    expect(outer.digits).toEqual(['9']);
    // Audio comes back only when the bridge has both legs again.
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(false);
    outerHandle.release();
    expect(h.media.bridged(aliceCall.endpoint, bobCall.endpoint)).toBe(true);
  });

  it('digits typed as SIP INFO reach the owner like RFC 4733 ones', async () => {
    const { leg } = h.legAt(aliceCall.endpoint);
    const feature = new Recorder('feature');
    leg.take(feature);
    await aliceCall.info('5#');
    await h.settle();
    expect(feature.digits).toEqual(['5', '#']);
  });
});
