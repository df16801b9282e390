// Schedule forwarding rows (時間帯転送, F-FWD) judged on the tenant's wall clock, at fixed instants.
import { describe, expect, it } from 'vitest';
import { localTime, matchSchedule, matchScheduleIndex, rowMatches, type ScheduleRow } from '../../../src/features/schedule.js';

const TOKYO = 'Asia/Tokyo';
const NEW_YORK = 'America/New_York';
const WEEKDAYS: ScheduleRow['days'] = ['mon', 'tue', 'wed', 'thu', 'fri'];

function row(r: Partial<ScheduleRow> & Pick<ScheduleRow, 'action'>): ScheduleRow {
  return { from: '00:00', to: '24:00', ...r };
}

describe('localTime', () => {
  it('reads weekday, date and time in Asia/Tokyo (UTC+9)', () => {
    // 2026-11-23 01:00 UTC is Monday 10:00 in Tokyo and still Sunday 20:00 in New York (EST).
    const t = Date.UTC(2026, 10, 23, 1, 0);
    expect(localTime(t, TOKYO)).toEqual({ weekday: 'mon', monthDay: '11-23', date: '2026-11-23', time: '10:00' });
    expect(localTime(t, NEW_YORK)).toEqual({ weekday: 'sun', monthDay: '11-22', date: '2026-11-22', time: '20:00' });
  });

  it('prints midnight as 00:00 of the next day, never 24:00', () => {
    expect(localTime(Date.UTC(2026, 10, 23, 15, 0), TOKYO)).toEqual({ weekday: 'tue', monthDay: '11-24', date: '2026-11-24', time: '00:00' });
  });

  it('follows daylight saving time in New York', () => {
    expect(localTime(Date.UTC(2026, 6, 1, 12, 0), NEW_YORK).time).toBe('08:00'); // EDT, UTC-4
    expect(localTime(Date.UTC(2026, 0, 15, 12, 0), NEW_YORK).time).toBe('07:00'); // EST, UTC-5
    // 2026-03-08 02:00 EST jumps to 03:00 EDT.
    expect(localTime(Date.UTC(2026, 2, 8, 6, 59), NEW_YORK).time).toBe('01:59');
    expect(localTime(Date.UTC(2026, 2, 8, 7, 0), NEW_YORK).time).toBe('03:00');
  });
});

describe('rowMatches / matchSchedule', () => {
  const office = [row({ days: WEEKDAYS, from: '09:00', to: '18:00', action: 'none' }), row({ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], action: 'cfu', destination: '2003' })];

  it('matches from inclusive and to exclusive', () => {
    const r = office[0];
    const at = (hhmm: string) => rowMatches(r, { weekday: 'mon', monthDay: '11-23', date: '2026-11-23', time: hhmm }, []);
    expect(at('08:59')).toBe(false);
    expect(at('09:00')).toBe(true);
    expect(at('17:59')).toBe(true);
    expect(at('18:00')).toBe(false);
  });

  it('a row ending at 24:00 covers the last minute of the day but not the next day', () => {
    const evening = row({ days: ['mon'], from: '18:00', to: '24:00', action: 'cfna', destination: '2003' });
    expect(matchSchedule([evening], Date.parse('2026-11-23T23:59:00+09:00'), TOKYO, [])).toBe(evening);
    expect(matchSchedule([evening], Date.parse('2026-11-24T00:00:00+09:00'), TOKYO, [])).toBeUndefined();
  });

  it('the first matching row wins, top-down', () => {
    // Monday 10:00 Tokyo: both rows match, the first (none) wins; 20:00: only the second.
    expect(matchScheduleIndex(office, Date.parse('2026-11-23T10:00:00+09:00'), TOKYO, [])).toBe(0);
    expect(matchScheduleIndex(office, Date.parse('2026-11-23T20:00:00+09:00'), TOKYO, [])).toBe(1);
    // Saturday 10:00: the weekday row does not apply.
    expect(matchScheduleIndex(office, Date.parse('2026-11-28T10:00:00+09:00'), TOKYO, [])).toBe(1);
  });

  it('evaluates in the given time zone: one instant, different rows', () => {
    const t = Date.UTC(2026, 10, 23, 1, 0); // Mon 10:00 Tokyo, Sun 20:00 New York
    const weekdayOnly = [office[0]];
    expect(matchSchedule(weekdayOnly, t, TOKYO, [])).toBe(office[0]);
    expect(matchSchedule(weekdayOnly, t, NEW_YORK, [])).toBeUndefined();
  });

  it('no matching row: undefined (normal forwarding)', () => {
    expect(matchSchedule([office[0]], Date.parse('2026-11-23T07:00:00+09:00'), TOKYO, [])).toBeUndefined();
    expect(matchSchedule([], Date.parse('2026-11-23T10:00:00+09:00'), TOKYO, [])).toBeUndefined();
  });

  it('holiday rows match only on the tenant holidays, in the tenant zone', () => {
    const rows = [row({ holiday: true, action: 'cfu', destination: '0312345678' }), office[0]];
    const holidays = ['2026-11-23'];
    expect(matchScheduleIndex(rows, Date.parse('2026-11-23T10:00:00+09:00'), TOKYO, holidays)).toBe(0);
    expect(matchScheduleIndex(rows, Date.parse('2026-11-24T10:00:00+09:00'), TOKYO, holidays)).toBe(1);
    expect(matchScheduleIndex(rows, Date.parse('2026-11-23T10:00:00+09:00'), TOKYO, [])).toBe(1);
    // 2026-11-22 23:30 UTC is already the 23rd in Tokyo but the 22nd in New York.
    expect(matchScheduleIndex(rows, Date.UTC(2026, 10, 22, 23, 30), TOKYO, holidays)).toBe(0);
    expect(matchScheduleIndex(rows, Date.UTC(2026, 10, 22, 23, 30), NEW_YORK, holidays)).toBe(-1);
  });

  it('date rows (MM-DD) match that date every year, with their time window', () => {
    const newYear = row({ date: '01-01', from: '00:00', to: '12:00', action: 'cfb', destination: '2004' });
    expect(matchSchedule([newYear], Date.parse('2027-01-01T11:59:00+09:00'), TOKYO, [])).toBe(newYear);
    expect(matchSchedule([newYear], Date.parse('2030-01-01T00:00:00+09:00'), TOKYO, [])).toBe(newYear);
    expect(matchSchedule([newYear], Date.parse('2027-01-01T12:00:00+09:00'), TOKYO, [])).toBeUndefined();
    // 2026-12-31 15:30 UTC: New Year's Day in Tokyo, New Year's Eve in New York.
    expect(matchSchedule([newYear], Date.UTC(2026, 11, 31, 15, 30), TOKYO, [])).toBe(newYear);
    expect(matchSchedule([newYear], Date.UTC(2026, 11, 31, 15, 30), NEW_YORK, [])).toBeUndefined();
  });
});
