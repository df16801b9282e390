// Wall-clock time in a time zone with Intl only (no time-zone library): the wall clock at an instant, the
// instant a wall-clock time names, and local midnights — DST-safe, for the tenant's days and hours (queue
// statistics, hot-desk expiry).

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // h23, not hour12:false: the latter prints midnight as 24 on some ICU versions.
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall clock of `timeZone` at an instant. */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function wallClock(epochMs: number, timeZone: string): WallClock {
  const p: Record<string, string> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(epochMs))) p[part.type] = part.value;
  return { year: Number(p.year), month: Number(p.month), day: Number(p.day), hour: Number(p.hour) % 24, minute: Number(p.minute), second: Number(p.second) };
}

/** How far the zone's wall clock is ahead of UTC at an instant, in ms. */
function offsetAt(epochMs: number, timeZone: string): number {
  const w = wallClock(epochMs, timeZone);
  const whole = epochMs - (((epochMs % 1000) + 1000) % 1000);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - whole;
}

/**
 * The instant a wall-clock time of `timeZone` names. The offset is looked up again at the first guess, as a
 * DST change between the guess and the answer moves it; a time skipped by a DST change gives the instant
 * after the gap, a repeated one the first of the two.
 */
export function zonedTime(w: Omit<WallClock, 'second'> & { second?: number }, timeZone: string): number {
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second ?? 0);
  const first = asUtc - offsetAt(asUtc, timeZone);
  const second = asUtc - offsetAt(first, timeZone);
  if (second === first) return first;
  // Two offsets disagree: take the earlier reading that is correct, else (a gap) the later instant.
  const ok = [first, second].filter((t) => t + offsetAt(t, timeZone) === asUtc).sort((a, b) => a - b);
  return ok[0] ?? Math.max(first, second);
}

/** The start (local midnight) of the tenant's day that contains `now`. */
export function startOfDay(now: number, timeZone: string): number {
  const w = wallClock(now, timeZone);
  return zonedTime({ year: w.year, month: w.month, day: w.day, hour: 0, minute: 0 }, timeZone);
}

/** The first local midnight after `epochMs` (the next day's start; 26 h on is always in the next day, as days last 23–25 h). */
export function nextMidnight(epochMs: number, timeZone: string): number {
  return startOfDay(startOfDay(epochMs, timeZone) + 26 * 3_600_000, timeZone);
}
