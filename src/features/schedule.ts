// Schedules: which row applies at a given instant, judged by the wall clock of the tenant's time zone —
// forwarding schedules (時間帯転送, F-FWD) and IVR schedule rows (F-IVR, with ★ holiday-only rows). The
// tenant's holidays are its own list plus, when switched on, the Japanese public-holiday calendar of
// @holiday-jp/holiday_jp. Pure, so it can be tested with fixed instants.
import holidayJp from '@holiday-jp/holiday_jp';
import type { HibikiConfig } from '../config/schema.js';
import type { IvrScheduleRow } from '../config/ivr-schema.js';

export type ScheduleRow = HibikiConfig['schedules'][number]['rows'][number];
export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** The tenant's wall clock at one instant. */
export interface LocalTime {
  weekday: Weekday;
  /** MM-DD, as in schedule `date` rows. */
  monthDay: string;
  /** YYYY-MM-DD, as in tenant.holidays. */
  date: string;
  /** HH:MM, 00:00–23:59. */
  time: string;
}

// Building a DateTimeFormat loads ICU zone data; one per zone is reused for every call.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      // h23, not hour12:false: the latter prints midnight as 24 on some ICU versions.
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function localTime(epochMs: number, timeZone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(epochMs))) parts[p.type] = p.value;
  const hour = parts.hour === '24' ? '00' : parts.hour;
  const year = parts.year.padStart(4, '0');
  return {
    weekday: parts.weekday.slice(0, 3).toLowerCase() as Weekday,
    monthDay: `${parts.month}-${parts.day}`,
    date: `${year}-${parts.month}-${parts.day}`,
    time: `${hour}:${parts.minute}`,
  };
}

/** Which dates (YYYY-MM-DD) are holidays: a plain list, or a tenant's calendar (tenantHolidays). */
export interface Holidays {
  includes(date: string): boolean;
}

/** A Japanese public holiday (元日, 振替休日, 国民の休日…) by the calendar of @holiday-jp/holiday_jp. */
export function isJapaneseHoliday(date: string): boolean {
  // The calendar is keyed by YYYY-MM-DD, so no Date (and no time zone) is involved.
  return Object.hasOwn(holidayJp.holidays, date);
}

/** The tenant's holidays: tenant.holidays, plus Japanese public holidays when tenant.japaneseHolidays is on. */
export function tenantHolidays(tenant: HibikiConfig['tenant']): Holidays {
  const own = new Set(tenant.holidays);
  return { includes: (date) => own.has(date) || (tenant.japaneseHolidays && isJapaneseHoliday(date)) };
}

/** Does the row apply at this wall-clock time? `to` is exclusive, and 24:00 ends the day. */
export function rowMatches(row: ScheduleRow, t: LocalTime, holidays: Holidays): boolean {
  const day = row.days !== undefined ? row.days.includes(t.weekday) : row.date !== undefined ? row.date === t.monthDay : row.holiday === true && holidays.includes(t.date);
  // Zero-padded HH:MM compares correctly as text, and every time of day sorts before 24:00.
  return day && row.from <= t.time && t.time < row.to;
}

/** Index of the first row (top-down) that applies at `epochMs` in `timeZone`; -1: normal forwarding. */
export function matchScheduleIndex(rows: readonly ScheduleRow[], epochMs: number, timeZone: string, holidays: Holidays): number {
  const t = localTime(epochMs, timeZone);
  return rows.findIndex((r) => rowMatches(r, t, holidays));
}

/** The first row (top-down) that applies at `epochMs` in `timeZone`, or undefined: normal forwarding. */
export function matchSchedule(rows: readonly ScheduleRow[], epochMs: number, timeZone: string, holidays: Holidays): ScheduleRow | undefined {
  const i = matchScheduleIndex(rows, epochMs, timeZone, holidays);
  return i >= 0 ? rows[i] : undefined;
}

/**
 * Does an IVR schedule row apply at this wall-clock time (F-IVR)? Its weekdays, dates and hours must all
 * fit (unset: any). On a holiday only ★ (holidayOnly) rows apply; a ★ row applies only on a holiday or
 * on one of its own dates, so "★ closed all day" does not close the ordinary days.
 */
export function ivrRowMatches(row: IvrScheduleRow, t: LocalTime, holidays: Holidays): boolean {
  if (row.days !== undefined && !row.days.includes(t.weekday)) return false;
  if (row.dates !== undefined && !row.dates.includes(t.date)) return false;
  if (!(row.from <= t.time && t.time < row.to)) return false;
  if (holidays.includes(t.date)) return row.holidayOnly;
  return !row.holidayOnly || row.dates !== undefined;
}

/** Index of the first IVR schedule row (top-down) that applies at `epochMs`; -1: none (the menu). */
export function matchIvrScheduleIndex(rows: readonly IvrScheduleRow[], epochMs: number, timeZone: string, holidays: Holidays): number {
  const t = localTime(epochMs, timeZone);
  return rows.findIndex((r) => ivrRowMatches(r, t, holidays));
}
