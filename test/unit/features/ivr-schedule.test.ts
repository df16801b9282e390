// IVR schedule rows judged at fixed instants (F-IVR): weekdays, hours, listed dates, and ★ holiday-only rows
// against the tenant's holidays and the Japanese public-holiday calendar.
import { describe, expect, it } from 'vitest';
import { ivrRowMatches, isJapaneseHoliday, localTime, matchIvrScheduleIndex, tenantHolidays } from '../../../src/features/schedule.js';
import type { IvrScheduleRow } from '../../../src/config/ivr-schema.js';

const TOKYO = 'Asia/Tokyo';
const at = (iso: string) => Date.parse(`${iso}+09:00`);
const row = (r: Partial<IvrScheduleRow>): IvrScheduleRow => ({ from: '00:00', to: '24:00', holidayOnly: false, destination: 'hangup', ...r });
const jp = tenantHolidays({ domain: 'x', timezone: TOKYO, holidays: ['2025-12-29'], japaneseHolidays: true });
const ownOnly = tenantHolidays({ domain: 'x', timezone: TOKYO, holidays: ['2025-12-29'], japaneseHolidays: false });

describe('Japanese public holidays', () => {
  it('knows fixed, Monday and substitute holidays, and ordinary days', () => {
    expect(isJapaneseHoliday('2025-01-01')).toBe(true); // 元日
    expect(isJapaneseHoliday('2025-01-13')).toBe(true); // 成人の日 (second Monday)
    expect(isJapaneseHoliday('2025-02-24')).toBe(true); // 振替休日 for 天皇誕生日 on a Sunday
    expect(isJapaneseHoliday('2025-01-14')).toBe(false);
  });

  it('the tenant calendar is its own list plus, when switched on, the public holidays', () => {
    expect(jp.includes('2025-12-29')).toBe(true);
    expect(jp.includes('2025-01-13')).toBe(true);
    expect(ownOnly.includes('2025-12-29')).toBe(true);
    expect(ownOnly.includes('2025-01-13')).toBe(false);
  });
});

describe('ivrRowMatches', () => {
  const office = row({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '18:00' });

  it('weekday and hours, to exclusive, in the tenant time zone', () => {
    expect(ivrRowMatches(office, localTime(at('2025-01-08T09:00:00'), TOKYO), jp)).toBe(true);
    expect(ivrRowMatches(office, localTime(at('2025-01-08T17:59:00'), TOKYO), jp)).toBe(true);
    expect(ivrRowMatches(office, localTime(at('2025-01-08T18:00:00'), TOKYO), jp)).toBe(false);
    expect(ivrRowMatches(office, localTime(at('2025-01-11T10:00:00'), TOKYO), jp)).toBe(false);
    // 10:00 in Tokyo is 01:00 UTC: the same instant is outside hours in UTC.
    expect(ivrRowMatches(office, localTime(at('2025-01-08T10:00:00'), 'UTC'), jp)).toBe(false);
  });

  it('listed dates restrict the row to them', () => {
    const special = row({ dates: ['2025-01-07'], from: '10:00', to: '12:00' });
    expect(ivrRowMatches(special, localTime(at('2025-01-07T11:00:00'), TOKYO), jp)).toBe(true);
    expect(ivrRowMatches(special, localTime(at('2025-01-08T11:00:00'), TOKYO), jp)).toBe(false);
  });

  it('on a holiday only ★ rows apply; a ★ row without dates applies only on holidays', () => {
    const star = row({ holidayOnly: true });
    const holiday = localTime(at('2025-01-13T10:00:00'), TOKYO);
    const ordinary = localTime(at('2025-01-14T10:00:00'), TOKYO);
    expect(ivrRowMatches(office, holiday, jp)).toBe(false);
    expect(ivrRowMatches(star, holiday, jp)).toBe(true);
    expect(ivrRowMatches(star, ordinary, jp)).toBe(false);
    expect(ivrRowMatches(office, holiday, ownOnly)).toBe(true);
    expect(ivrRowMatches(star, localTime(at('2025-12-29T10:00:00'), TOKYO), ownOnly)).toBe(true);
  });

  it('a ★ row with its own dates applies on them even when they are not holidays', () => {
    const closure = row({ holidayOnly: true, dates: ['2025-12-30'] });
    expect(ivrRowMatches(closure, localTime(at('2025-12-30T10:00:00'), TOKYO), jp)).toBe(true);
    expect(ivrRowMatches(closure, localTime(at('2025-12-31T10:00:00'), TOKYO), jp)).toBe(false);
  });

  it('the first matching row wins; none: -1 (the menu)', () => {
    const rows = [row({ holidayOnly: true }), office, row({ days: ['mon', 'tue', 'wed', 'thu', 'fri'] })];
    expect(matchIvrScheduleIndex(rows, at('2025-01-13T10:00:00'), TOKYO, jp)).toBe(0);
    expect(matchIvrScheduleIndex(rows, at('2025-01-14T10:00:00'), TOKYO, jp)).toBe(1);
    expect(matchIvrScheduleIndex(rows, at('2025-01-14T20:00:00'), TOKYO, jp)).toBe(2);
    expect(matchIvrScheduleIndex(rows, at('2025-01-11T20:00:00'), TOKYO, jp)).toBe(-1);
  });
});
