// Issue #14: the bound on server transactions in memory, and overload shedding of new out-of-dialog
// INVITEs and REGISTERs — both answered with a stateless 503 + Retry-After, never ACKs or in-dialog
// requests. The load is injected, so the overload control is driven by the test.
import { afterEach, describe, expect, it } from 'vitest';
import type { LoadSample, LoadSource } from '../../../src/sip/load-source.js';
import type { OverloadSettings } from '../../../src/sip/overload.js';
import { ackFor, request, stackHarness, type StackHarness } from './stack-harness.js';

let h: StackHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

class FakeLoad implements LoadSource {
  current: LoadSample = { utilization: 0.1, loopDelayMs: 0 };
  sample(): LoadSample {
    return this.current;
  }
  close(): void {}
}

// The feedback mechanics on raw samples; the smoothing the server uses by default is tested on its own below.
const OVERLOAD: OverloadSettings = { sampleMs: 250, maxLoopUtilization: 90, maxLoopDelayMs: 50, maxQueueDelayMs: 0, maxPendingInvites: 100, retryAfterSeconds: 10, smoothingMs: 0 };

const statuses = (x: StackHarness, callId: string) => x.responses(callId).map((r) => r.status);

describe('the bound on server transactions', () => {
  it('refuses new out-of-dialog requests with a stateless 503 + Retry-After at the bound, until back under 90 %', async () => {
    h = await stackHarness({ protection: { maxServerTransactions: 10 } });
    const x = h;
    x.stack.use('INVITE', () => undefined); // answered later: each INVITE keeps its transaction
    for (let i = 0; i < 10; i++) x.deliver(request({ callId: `keep-${i}` }));
    expect(x.stack.transactions.size.server).toBe(10);

    x.deliver(request({ callId: 'over' }));
    x.deliver(request({ method: 'OPTIONS', callId: 'over-options' }));
    expect(statuses(x, 'over')).toEqual([503]);
    expect(x.responses('over')[0]?.get('retry-after')).toBe('5');
    expect(x.responses('over')[0]?.toTag).toMatch(/^sl-/);
    expect(statuses(x, 'over-options')).toEqual([503]);
    expect(x.stack.transactions.size.server).toBe(10);
    expect(x.stack.admission.refused.capacity).toBe(2);
    // Its ACK is absorbed like any ACK of a stateless answer, and never answered.
    x.deliver(ackFor(request({ callId: 'over' }), x.responses('over')[0]!));
    expect(x.responses('over')).toHaveLength(1);
    expect(x.logs.filter((l) => l.msg === 'server transaction limit reached: refusing new requests with 503')).toHaveLength(1);

    // One transaction ending is not enough (9 of 10 is not under 90 %); two are.
    x.stack.transactions['servers'].values().next().value?.discard();
    x.deliver(request({ callId: 'still-over' }));
    expect(statuses(x, 'still-over')).toEqual([503]);
    x.stack.transactions['servers'].values().next().value?.discard();
    x.deliver(request({ callId: 'admitted' }));
    expect(statuses(x, 'admitted')).toEqual([100]);
  });

  it('admits in-dialog requests and CANCELs of calls that exist above the bound, and answers 481 to the others', async () => {
    h = await stackHarness({ protection: { maxServerTransactions: 2 } });
    const x = h;
    x.stack.use('INVITE', () => undefined);
    const invite = request({ callId: 'pending', branch: 'z9hG4bK-pending' });
    x.deliver(invite);
    x.deliver(request({ callId: 'filler' }));
    expect(x.stack.transactions.size.server).toBe(2);

    // The CANCEL of the pending INVITE is served (200, and 487 for the INVITE).
    x.deliver(request({ method: 'CANCEL', callId: 'pending', branch: 'z9hG4bK-pending' }));
    expect(statuses(x, 'pending')).toEqual([100, 200, 487]);
    // A CANCEL of nothing, and a BYE of an unknown dialog: 481, statelessly.
    x.deliver(request({ method: 'CANCEL', callId: 'nothing' }));
    x.deliver(request({ method: 'BYE', callId: 'no-dialog', toTag: 'abc' }));
    expect(statuses(x, 'nothing')).toEqual([481]);
    expect(statuses(x, 'no-dialog')).toEqual([481]);
    expect(x.stack.admission.refused.unmatched).toBe(2);
  });

  it('admits an in-dialog request of a dialog that exists above the bound', async () => {
    h = await stackHarness({ protection: { maxServerTransactions: 1 } });
    const x = h;
    let tag = '';
    x.stack.use('INVITE', (req, res) => {
      tag = res.toTag;
      x.stack.createUAS(req, res, { localSdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n' });
    });
    x.deliver(request({ callId: 'call', fromTag: 'caller' }));
    expect(statuses(x, 'call')).toEqual([200]);
    expect(x.stack.transactions.size.server).toBe(1);
    x.deliver(request({ method: 'BYE', callId: 'call', fromTag: 'caller', toTag: tag, seq: 2 }));
    expect(statuses(x, 'call')).toEqual([200, 200]);
  });
});

describe('overload shedding', () => {
  async function overloaded(random = () => 0.5, settings: OverloadSettings = OVERLOAD): Promise<{ x: StackHarness; load: FakeLoad }> {
    const load = new FakeLoad();
    const x = await stackHarness({ protection: { overload: settings, loadSource: load, random } });
    x.stack.use('INVITE', (_req, res) => res.send(486));
    x.stack.use('REGISTER', (_req, res) => res.send(200));
    h = x;
    return { x, load };
  }

  it('admits everything while the load is under the limits', async () => {
    const { x } = await overloaded();
    x.clock.advance(10_000);
    x.deliver(request({ callId: 'i' }));
    expect(statuses(x, 'i')).toEqual([486]);
    expect(x.stack.overloadControl?.shedShare).toBe(0);
  });

  it('sheds a growing share of new INVITEs and REGISTERs with 503 + Retry-After, never in-dialog requests or OPTIONS', async () => {
    const { x, load } = await overloaded(() => 0);
    load.current = { utilization: 0.99, loopDelayMs: 0 };
    x.clock.advance(250);
    const share = x.stack.overloadControl?.shedShare ?? 0;
    expect(share).toBeGreaterThan(0);
    expect(share).toBeLessThan(1);
    x.deliver(request({ callId: 'inv' }));
    x.deliver(request({ method: 'REGISTER', callId: 'reg' }));
    expect(x.stack.transactions.size.server).toBe(0);
    x.deliver(request({ method: 'OPTIONS', callId: 'opt' }));
    x.deliver(request({ method: 'BYE', callId: 'bye', toTag: 'x' }));
    expect(statuses(x, 'inv')).toEqual([503]);
    expect(Number(x.responses('inv')[0]?.get('retry-after'))).toBeGreaterThanOrEqual(10);
    expect(Number(x.responses('inv')[0]?.get('retry-after'))).toBeLessThanOrEqual(15);
    expect(statuses(x, 'reg')).toEqual([503]);
    expect(statuses(x, 'opt')).toEqual([200]);
    expect(statuses(x, 'bye')).toEqual([481]);
    expect(x.logs.filter((l) => l.event === 'overload' && (l.level as number) >= 40)).toHaveLength(1);
  });

  it('takes the refused share from first attempts: an INVITE or REGISTER answering a challenge is admitted', async () => {
    const { x, load } = await overloaded(() => 0);
    load.current = { utilization: 0.99, loopDelayMs: 0 };
    x.clock.advance(250);
    expect(x.stack.overloadControl?.shedShare).toBeGreaterThan(0);
    x.deliver(request({ method: 'REGISTER', callId: 'first' }));
    x.deliver(request({ method: 'REGISTER', callId: 'auth', headers: ['Authorization: Digest username="2001", realm="hibiki.test", nonce="n", uri="sip:hibiki.test", response="0"'] }));
    x.deliver(request({ callId: 'proxy-auth', headers: ['Proxy-Authorization: Digest username="2001", realm="hibiki.test", nonce="n", uri="sip:2002@hibiki.test", response="0"'] }));
    expect(statuses(x, 'first')).toEqual([503]);
    expect(statuses(x, 'auth')).not.toContain(503);
    expect(statuses(x, 'proxy-auth')).toEqual([486]);
    expect(x.stack.admission.refused.overload).toBe(1);
  });

  it('refuses about the share it says', async () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const { x, load } = await overloaded(random);
    load.current = { utilization: 0.99, loopDelayMs: 0 };
    x.clock.advance(250);
    const share = x.stack.overloadControl?.shedShare ?? 0;
    for (let i = 0; i < 1000; i++) x.deliver(request({ callId: `n${i}` }));
    const refused = x.stack.admission.refused.overload;
    expect(Math.abs(refused / 1000 - share)).toBeLessThan(0.06);
  });

  it('reacts to event-loop delay and to pending INVITEs too', async () => {
    const { x, load } = await overloaded();
    load.current = { utilization: 0.2, loopDelayMs: 120 };
    x.clock.advance(250);
    expect(x.stack.overloadControl?.shedShare).toBeGreaterThan(0);
    load.current = { utilization: 0.2, loopDelayMs: 0 };
    x.clock.advance(1000);
    expect(x.stack.overloadControl?.shedShare).toBe(0);

    x.stack.use('INVITE', () => undefined); // INVITEs left pending
    for (let i = 0; i < 150; i++) x.deliver(request({ callId: `p${i}` }));
    x.clock.advance(250);
    expect(x.stack.overloadControl?.shedShare).toBeGreaterThan(0);
  });

  it('when refusing everything for a second is not enough, drops new INVITEs and REGISTERs unparsed, but never ACKs, in-dialog requests or responses', async () => {
    const { x, load } = await overloaded();
    load.current = { utilization: 1, loopDelayMs: 200 };
    x.clock.advance(250 * 4);
    expect(x.stack.overloadControl?.shedShare).toBe(1);
    // Refusing is cheap and ends the transaction; a dropped request comes back as retransmissions, so
    // the backlog left from before the share reached 1 is not yet a reason to drop.
    expect(x.stack.overloadControl?.saturated).toBe(false);
    x.clock.advance(250 * 4);
    expect(x.stack.overloadControl?.saturated).toBe(true);
    x.deliver(request({ callId: 'inv' }));
    x.deliver(request({ method: 'REGISTER', callId: 'reg' }));
    x.deliver(request({ method: 'BYE', callId: 'bye', toTag: 'x' }));
    x.deliver(request({ method: 'INVITE', callId: 'reinvite', toTag: 'x' }));
    expect(statuses(x, 'inv')).toEqual([]);
    expect(statuses(x, 'reg')).toEqual([]);
    expect(statuses(x, 'bye')).toEqual([481]);
    expect(statuses(x, 'reinvite')).toEqual([481]);
    expect(x.stack.dropped.saturated).toBe(2);
  });

  it('recovers within a second or two once the load falls back', async () => {
    const { x, load } = await overloaded();
    load.current = { utilization: 1, loopDelayMs: 200 };
    x.clock.advance(250 * 8);
    expect(x.stack.overloadControl?.saturated).toBe(true);
    load.current = { utilization: 0.3, loopDelayMs: 1 };
    x.clock.advance(250);
    expect(x.stack.overloadControl?.saturated).toBe(false);
    x.clock.advance(1000);
    expect(x.stack.overloadControl?.shedShare).toBe(0);
    x.deliver(request({ callId: 'after' }));
    expect(statuses(x, 'after')).toEqual([486]);
    expect(x.logs.some((l) => l.msg === 'overload over: admitting every request again')).toBe(true);
  });

  describe('with the load smoothed over a second (the default)', () => {
    const SMOOTHED: OverloadSettings = { ...OVERLOAD, smoothingMs: 1000 };

    it('a lone stall (a garbage-collection pause) refuses nothing', async () => {
      const { x, load } = await overloaded(() => 0, SMOOTHED);
      load.current = { utilization: 0.6, loopDelayMs: 1 };
      x.clock.advance(2000);
      // One sample in which the loop was busy throughout and timers ran 110 ms late, then normal again.
      load.current = { utilization: 1, loopDelayMs: 110 };
      x.clock.advance(250);
      load.current = { utilization: 0.6, loopDelayMs: 1 };
      for (let i = 0; i < 8; i++) {
        expect(x.stack.overloadControl?.shedShare).toBe(0);
        x.clock.advance(250);
      }
      x.deliver(request({ callId: 'i' }));
      expect(statuses(x, 'i')).toEqual([486]);
      expect(x.logs.some((l) => l.event === 'overload')).toBe(false);
    });

    it('sustained overload is still shed within about two windows, and shedding stops within seconds after it', async () => {
      const { x, load } = await overloaded(() => 0, SMOOTHED);
      load.current = { utilization: 1, loopDelayMs: 20 };
      let elapsed = 0;
      while ((x.stack.overloadControl?.shedShare ?? 0) === 0 && elapsed < 5000) {
        x.clock.advance(250);
        elapsed += 250;
      }
      expect(elapsed).toBeLessThanOrEqual(2500);
      x.deliver(request({ callId: 'shed' }));
      expect(statuses(x, 'shed')).toEqual([503]);
      load.current = { utilization: 0.3, loopDelayMs: 1 };
      x.clock.advance(4000);
      expect(x.stack.overloadControl?.shedShare).toBe(0);
    });
  });
});
