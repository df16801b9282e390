// When a hot-desk login ends by itself (F-HOTDESK): at the next midnight of the tenant's time zone (the
// default: a desk taken today is free again tomorrow), or a number of hours after the login. Pure, so it
// can be tested with fixed instants.
import type { HotDeskSettings } from '../../config/hotdesk-schema.js';
import { nextMidnight } from '../../util/zoned-time.js';

const HOUR_MS = 3_600_000;

/** When a login made at `since` expires under the `hotDesk.expires` setting. */
export function loginExpiry(since: number, expires: HotDeskSettings['expires'], timeZone: string): number {
  return expires === 'endOfDay' ? nextMidnight(since, timeZone) : since + Math.round(expires * HOUR_MS);
}
