// When a hot-desk login ends by itself (F-HOTDESK): at the next midnight of the tenant's time zone (the
// default: a desk taken today is free again tomorrow), or a number of hours after the login. Pure, so it
// can be tested with fixed instants.
import type { HotDeskSettings } from '../../config/hotdesk-schema.js';

const HOUR_MS = 3_600_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // h23: midnight as 00, never 24.
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  return f;
}

interface Civil {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function civil(epochMs: number, timeZone: string): Civil {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(epochMs))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { year: p.year!, month: p.month!, day: p.day!, hour: p.hour! % 24, minute: p.minute!, second: p.second! };
}

/** How far the zone's wall clock is ahead of UTC at `epochMs` (ms; whole seconds). */
function offsetMs(epochMs: number, timeZone: string): number {
  const c = civil(epochMs, timeZone);
  return Date.UTC(c.year, c.month - 1, c.day, c.hour, c.minute, c.second) - (epochMs - (((epochMs % 1000) + 1000) % 1000));
}

/** The first midnight in `timeZone` after `epochMs`. */
export function nextMidnight(epochMs: number, timeZone: string): number {
  const c = civil(epochMs, timeZone);
  const wall = Date.UTC(c.year, c.month - 1, c.day + 1, 0, 0, 0);
  // The offset at midnight can differ from the one now (a DST change tonight): correct with the offset there.
  const guess = wall - offsetMs(epochMs, timeZone);
  return wall - offsetMs(guess, timeZone);
}

/** When a login made at `since` expires under the `hotDesk.expires` setting. */
export function loginExpiry(since: number, expires: HotDeskSettings['expires'], timeZone: string): number {
  return expires === 'endOfDay' ? nextMidnight(since, timeZone) : since + Math.round(expires * HOUR_MS);
}
