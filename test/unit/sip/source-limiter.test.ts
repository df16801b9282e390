// Issue #14: the per-source request-rate limit with a block (Kamailio's pike as the model).
import { afterEach, describe, expect, it } from 'vitest';
import { SourceRateLimiter, sourceKey, type RateLimitSettings } from '../../../src/sip/source-limiter.js';
import { AddressSet } from '../../../src/sip/address-set.js';
import { FakeClock } from '../../support/fake-clock.js';
import { captureLogger } from '../../support/logger.js';
import { request, stackHarness, type StackHarness } from './stack-harness.js';

const SETTINGS: RateLimitSettings = { windowSeconds: 10, maxRequests: 100, blockSeconds: 60 };

function limiter(settings = SETTINGS, trusted?: (a: string) => boolean) {
  const clock = new FakeClock(5_000_000);
  const { logger, lines } = captureLogger('info');
  const l = new SourceRateLimiter({ settings, clock, logger, trusted });
  l.start();
  const events = (kind: string) => lines.filter((x) => x.event === 'security' && x.kind === kind);
  /** n requests from `address` spread evenly over `ms`; the verdicts. */
  const send = (address: string, n: number, ms = 0) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      out.push(l.check(address, true));
      if (ms > 0) clock.advance(ms / n);
    }
    return out;
  };
  return { l, clock, events, send };
}

describe('SourceRateLimiter', () => {
  it('passes up to maxRequests in a window, then blocks the source and logs it once', () => {
    const { send, events } = limiter();
    const verdicts = send('192.0.2.9', 150);
    expect(verdicts.slice(0, 100).every((v) => v === 'pass')).toBe(true);
    expect(verdicts.slice(100).every((v) => v === 'drop')).toBe(true);
    expect(events('rate-limited')).toHaveLength(1);
    expect(events('rate-limited')[0]).toMatchObject({ src: '192.0.2.9', requests: 101, windowSeconds: 10, blockSeconds: 60 });
    // Other sources are not affected.
    expect(send('192.0.2.10', 1)).toEqual(['pass']);
  });

  it('counts per window: a steady rate under the limit never blocks', () => {
    const { send, events } = limiter();
    // 95 requests every 10 s for ten minutes.
    for (let w = 0; w < 60; w++) expect(send('192.0.2.9', 95, 10_000).includes('drop')).toBe(false);
    expect(events('rate-limited')).toEqual([]);
  });

  it('does not count responses, but drops them too while the source is blocked', () => {
    const { l, send } = limiter();
    for (let i = 0; i < 1000; i++) expect(l.check('192.0.2.9', false)).toBe('pass');
    send('192.0.2.9', 101);
    expect(l.check('192.0.2.9', false)).toBe('drop');
  });

  it('keeps blocking while the flood goes on, and releases blockSeconds after it stops (logged once, by the sweep)', () => {
    const { l, clock, send, events } = limiter();
    send('192.0.2.9', 101);
    // Three minutes more of flooding at 20/s: longer than blockSeconds, still blocked throughout.
    for (let s = 0; s < 180; s++) expect(send('192.0.2.9', 20, 1000).every((v) => v === 'drop')).toBe(true);
    expect(events('rate-limited')).toHaveLength(1);
    expect(events('rate-limit-released')).toEqual([]);
    // Silence: released within blockSeconds plus one sweep, without another packet.
    clock.advance(60_000 + 10_000);
    expect(events('rate-limit-released')).toHaveLength(1);
    expect(events('rate-limit-released')[0]).toMatchObject({ src: '192.0.2.9', dropped: 3601 });
    expect(l.isBlocked('192.0.2.9')).toBe(false);
    expect(send('192.0.2.9', 1)).toEqual(['pass']);
  });

  it('never blocks a trusted source', () => {
    let asked = 0;
    const trusted = AddressSet.parse(['192.0.2.0/24']);
    const { send, events } = limiter(SETTINGS, (a) => {
      asked++;
      return trusted.has(a);
    });
    expect(send('192.0.2.77', 5000).includes('drop')).toBe(false);
    expect(events('rate-limited')).toEqual([]);
    // Asked once per window, not per request.
    expect(asked).toBe(1);
    expect(send('198.51.100.1', 101).at(-1)).toBe('drop');
  });

  it('counts IPv6 sources per /64', () => {
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('192.0.2.1')).toBe('192.0.2.1');
    const { send, events } = limiter();
    for (let i = 0; i < 101; i++) send(`2001:db8:1:2::${(i + 1).toString(16)}`, 1);
    expect(events('rate-limited')).toHaveLength(1);
    expect(send('2001:db8:1:3::1', 1)).toEqual(['pass']);
  });

  it('lets a source go when a reload makes it trusted, and does nothing when maxRequests is 0', () => {
    let trustAll = false;
    const { l, send, events } = limiter(SETTINGS, () => trustAll);
    send('192.0.2.9', 101);
    trustAll = true;
    l.update(SETTINGS);
    expect(events('rate-limit-released')).toHaveLength(1);
    l.update({ ...SETTINGS, maxRequests: 0 });
    trustAll = false;
    expect(send('192.0.2.50', 1000).includes('drop')).toBe(false);
  });
});

describe('the rate limit in the stack', () => {
  let h: StackHarness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('drops a blocked source before parsing, without answering; closes its connection on a stream', async () => {
    h = await stackHarness({ protection: { rateLimit: { windowSeconds: 10, maxRequests: 5, blockSeconds: 60 } } });
    for (let i = 0; i < 10; i++) h.deliver(request({ method: 'OPTIONS', callId: `o${i}` }), { address: '198.51.100.7' });
    expect(h.sent).toHaveLength(5);
    expect(h.stack.dropped.rateLimited).toBe(5);
    // Bytes that are not even SIP are dropped unparsed too.
    h.deliver('garbage', { address: '198.51.100.7' });
    expect(h.stack.dropped.rateLimited).toBe(6);
    h.deliver(request({ method: 'OPTIONS', callId: 'tcp' }), { address: '198.51.100.7', transport: 'tcp', connectionId: 'tcp-9' });
    expect(h.stack.transport.closeConnection).toHaveBeenCalledWith('tcp-9', 'source rate-limited');
    // Another source is served.
    h.deliver(request({ method: 'OPTIONS', callId: 'other' }), { address: '198.51.100.8' });
    expect(h.responses('other').map((r) => r.status)).toEqual([200]);
  });

  it('is turned on, changed and off by updateProtection (a configuration reload)', async () => {
    h = await stackHarness();
    expect(h.stack.rateLimiter).toBeUndefined();
    h.stack.updateProtection({ rateLimit: { windowSeconds: 10, maxRequests: 2, blockSeconds: 60 } });
    for (let i = 0; i < 3; i++) h.deliver(request({ method: 'OPTIONS' }), { address: '198.51.100.9' });
    expect(h.stack.dropped.rateLimited).toBe(1);
    h.stack.updateProtection({ rateLimit: { windowSeconds: 10, maxRequests: 0, blockSeconds: 60 } });
    expect(h.stack.rateLimiter).toBeUndefined();
    h.deliver(request({ method: 'OPTIONS', callId: 'free' }), { address: '198.51.100.9' });
    expect(h.responses('free')).toHaveLength(1);
  });

  it('exempts the trusted sources the server names (trunks, configured addresses)', async () => {
    h = await stackHarness({ protection: { rateLimit: { windowSeconds: 10, maxRequests: 5, blockSeconds: 60 }, trusted: (a) => a === '203.0.113.5' } });
    for (let i = 0; i < 20; i++) h.deliver(request({ method: 'OPTIONS', callId: `t${i}` }), { address: '203.0.113.5' });
    expect(h.sent).toHaveLength(20);
  });
});

describe('AddressSet', () => {
  it('matches addresses and CIDR blocks of both families, IPv4-mapped included', () => {
    const set = AddressSet.parse(['192.0.2.7', '10.0.0.0/8', '2001:db8::/32']);
    expect(set.has('192.0.2.7')).toBe(true);
    expect(set.has('192.0.2.8')).toBe(false);
    expect(set.has('10.200.1.1')).toBe(true);
    expect(set.has('::ffff:10.1.2.3')).toBe(true);
    expect(set.has('2001:db8:ffff::1')).toBe(true);
    expect(set.has('2001:db9::1')).toBe(false);
    expect(set.has('not-an-address')).toBe(false);
    expect(() => AddressSet.parse(['10.0.0.0/33'])).toThrow(/CIDR/);
  });
});
