// Schedule forwarding (時間帯転送, F-FWD): which row of a schedule applies at a given instant, judged
// by the wall clock of the tenant's time zone. Pure, so it can be tested with fixed instants.
import type { HibikiConfig } from '../config/schema.js';

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

/** Does the row apply at this wall-clock time? `to` is exclusive, and 24:00 ends the day. */
export function rowMatches(row: ScheduleRow, t: LocalTime, holidays: readonly string[]): boolean {
  const day = row.days !== undefined ? row.days.includes(t.weekday) : row.date !== undefined ? row.date === t.monthDay : row.holiday === true && holidays.includes(t.date);
  // Zero-padded HH:MM compares correctly as text, and every time of day sorts before 24:00.
  return day && row.from <= t.time && t.time < row.to;
}

/** Index of the first row (top-down) that applies at `epochMs` in `timeZone`; -1: normal forwarding. */
export function matchScheduleIndex(rows: readonly ScheduleRow[], epochMs: number, timeZone: string, holidays: readonly string[]): number {
  const t = localTime(epochMs, timeZone);
  return rows.findIndex((r) => rowMatches(r, t, holidays));
}

/** The first row (top-down) that applies at `epochMs` in `timeZone`, or undefined: normal forwarding. */
export function matchSchedule(rows: readonly ScheduleRow[], epochMs: number, timeZone: string, holidays: readonly string[]): ScheduleRow | undefined {
  const i = matchScheduleIndex(rows, epochMs, timeZone, holidays);
  return i >= 0 ? rows[i] : undefined;
}
