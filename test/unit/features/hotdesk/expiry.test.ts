// F-HOTDESK expiry: the default ends a login at the next midnight of the tenant's time zone, whatever the
// server's own zone; a number of hours counts from the login.
import { describe, expect, it } from 'vitest';
import { loginExpiry } from '../../../../src/features/hotdesk/expiry.js';
import { nextMidnight } from '../../../../src/util/zoned-time.js';

describe('hot-desk login expiry', () => {
  it('endOfDay: the next midnight in Asia/Tokyo (UTC+9), from any time of the day', () => {
    const midnight = Date.parse('2026-11-24T00:00:00+09:00');
    expect(loginExpiry(Date.parse('2026-11-23T09:00:00+09:00'), 'endOfDay', 'Asia/Tokyo')).toBe(midnight);
    expect(loginExpiry(Date.parse('2026-11-23T23:59:59.500+09:00'), 'endOfDay', 'Asia/Tokyo')).toBe(midnight);
    // 08:30 in Tokyo is still the previous day in UTC: the Tokyo date counts.
    expect(loginExpiry(Date.parse('2026-11-23T08:30:00+09:00'), 'endOfDay', 'Asia/Tokyo')).toBe(midnight);
    // A login at midnight itself lasts the whole day.
    expect(loginExpiry(midnight, 'endOfDay', 'Asia/Tokyo')).toBe(Date.parse('2026-11-25T00:00:00+09:00'));
  });

  it('endOfDay across a month and a year end', () => {
    expect(nextMidnight(Date.parse('2026-12-31T18:00:00+09:00'), 'Asia/Tokyo')).toBe(Date.parse('2027-01-01T00:00:00+09:00'));
    expect(nextMidnight(Date.parse('2028-02-28T12:00:00+09:00'), 'Asia/Tokyo')).toBe(Date.parse('2028-02-29T00:00:00+09:00'));
  });

  it('endOfDay in a zone with daylight saving: the midnight after the change has the new offset', () => {
    // Europe/Berlin leaves summer time on 2026-10-25 at 03:00 CEST; the next midnight is CET (UTC+1).
    expect(nextMidnight(Date.parse('2026-10-25T01:00:00+02:00'), 'Europe/Berlin')).toBe(Date.parse('2026-10-26T00:00:00+01:00'));
    // America/New_York enters summer time on 2026-03-08 at 02:00 EST; the next midnight is EDT (UTC-4).
    expect(nextMidnight(Date.parse('2026-03-08T01:00:00-05:00'), 'America/New_York')).toBe(Date.parse('2026-03-09T00:00:00-04:00'));
  });

  it('a number of hours counts from the login', () => {
    const since = Date.parse('2026-11-23T10:00:00+09:00');
    expect(loginExpiry(since, 8, 'Asia/Tokyo')).toBe(since + 8 * 3_600_000);
    expect(loginExpiry(since, 0.5, 'Asia/Tokyo')).toBe(since + 1_800_000);
  });
});
