// RFC 4028 session timers: the Session-Expires / Min-SE headers, the UAS choice of §9, the UAC
// reading of a 2xx (§7.4), and the per-dialog timer that sends refreshes or ends a silent session (§10).
import { MAX_TIMER_DELAY_MS, type Clock, type TimerHandle } from '../util/clock.js';
import type { HeaderEntry, SipMessage } from './message.js';
import { parseParams } from './params.js';

export interface SessionTimerConfig {
  /** Session interval we ask for or insert, in seconds (RFC 4028 §4 recommends 1800). */
  sessionExpires: number;
  /** Smallest interval we accept, in seconds (RFC 4028 §5: never below 90 in real deployments). */
  minSE: number;
  /**
   * Largest interval we run, in seconds, whatever a peer asks for (default DEFAULT_MAX_SESSION_EXPIRES).
   * A larger Session-Expires or Min-SE from the wire is lowered to it: a session nobody refreshes for
   * years is no session timer, and such values overflow a timer (Node fires it after 1 ms instead).
   */
  maxSessionExpires?: number;
}

/** Three hours: far above any interval a real device asks for (RFC 4028 §4 recommends 1800 s). */
export const DEFAULT_MAX_SESSION_EXPIRES = 10_800;

export function maxSessionExpires(cfg: SessionTimerConfig): number {
  return cfg.maxSessionExpires ?? DEFAULT_MAX_SESSION_EXPIRES;
}

/** Validates a stack's RFC 4028 settings (a bad value is a programming or config error, thrown at once). */
export function checkSessionTimer(cfg: SessionTimerConfig): SessionTimerConfig {
  const { sessionExpires, minSE } = cfg;
  const max = maxSessionExpires(cfg);
  if (!Number.isInteger(minSE) || minSE < 1) throw new RangeError(`sessionTimer.minSE must be a positive integer, got ${minSE}`);
  if (!Number.isInteger(sessionExpires) || sessionExpires < minSE) {
    throw new RangeError(`sessionTimer.sessionExpires must be an integer not below minSE (${minSE}), got ${sessionExpires}`);
  }
  if (!Number.isInteger(max) || max < sessionExpires || max * 1000 > MAX_TIMER_DELAY_MS) {
    throw new RangeError(`sessionTimer.maxSessionExpires must be an integer from sessionExpires (${sessionExpires}) to ${Math.floor(MAX_TIMER_DELAY_MS / 1000)}, got ${max}`);
  }
  return { sessionExpires, minSE, maxSessionExpires: max };
}

export type Refresher = 'uac' | 'uas';

export interface SessionExpires {
  /** Seconds. */
  interval: number;
  refresher?: Refresher;
}

/** A UAS's answer to a session refresh request (RFC 4028 §9). */
export type UasSessionTimer = { kind: 'reject'; minSE: number } | { kind: 'accept'; interval: number; refresher: Refresher; requireTimer: boolean };

export type AcceptedSessionTimer = Extract<UasSessionTimer, { kind: 'accept' }>;

/** The Reason of the BYE sent when no refresh arrived in time. */
export const SESSION_EXPIRED_REASON = 'SIP;cause=408;text="Session timer expired"';

// delta-seconds is 1*DIGIT (RFC 3261 §25.1); ten digits keep it inside a safe integer.
const DELTA_SECONDS = /^\d{1,10}$/;

/** Session-Expires: delta-seconds *(;se-params) (RFC 4028 §4); undefined when absent or malformed. */
export function parseSessionExpires(value: string | undefined): SessionExpires | undefined {
  if (value === undefined) return undefined;
  const semi = value.indexOf(';');
  const digits = (semi < 0 ? value : value.slice(0, semi)).trim();
  if (!DELTA_SECONDS.test(digits)) return undefined;
  const interval = Number(digits);
  if (interval <= 0) return undefined;
  if (semi < 0) return { interval };
  const params = parseParams(value, semi);
  const refresher = params?.get('refresher')?.toLowerCase();
  return refresher === 'uac' || refresher === 'uas' ? { interval, refresher } : { interval };
}

export function formatSessionExpires(se: SessionExpires): string {
  return se.refresher ? `${se.interval};refresher=${se.refresher}` : String(se.interval);
}

/** Min-SE: delta-seconds *(;generic-param) (RFC 4028 §5). */
export function parseMinSE(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const semi = value.indexOf(';');
  const digits = (semi < 0 ? value : value.slice(0, semi)).trim();
  if (!DELTA_SECONDS.test(digits)) return undefined;
  return Number(digits);
}

/** True when the message lists the option tag in Supported or Require. */
export function hasOptionTag(msg: SipMessage, tag: string): boolean {
  const want = tag.toLowerCase();
  for (const name of ['supported', 'require']) {
    for (const t of msg.getAll(name)) if (t.trim().toLowerCase() === want) return true;
  }
  return false;
}

/**
 * RFC 4028 §9: how a UAS answers a session refresh request (the initial INVITE, a re-INVITE or an
 * UPDATE). `running` is the interval of a timer the dialog already has, kept (with us refreshing)
 * when a UAC without timer support sends a refresh. Undefined: no session timer.
 */
export function negotiateAsUas(req: SipMessage, cfg: SessionTimerConfig, running?: { interval: number }): UasSessionTimer | undefined {
  const uacSupportsTimer = hasOptionTag(req, 'timer');
  const ceiling = maxSessionExpires(cfg);
  const se = parseSessionExpires(req.get('session-expires'));
  // A Min-SE above our maximum is not honoured: the interval we answer is then below it (the one
  // departure from §9 here), which a UAC that asked for years of silence will have to live with.
  const theirMin = Math.min(parseMinSE(req.get('min-se')) ?? 0, ceiling);
  if (se) {
    // §9: an interval below our minimum is refused with 422 and our Min-SE.
    if (se.interval < cfg.minSE) return { kind: 'reject', minSE: cfg.minSE };
    // §9: the UAS may shorten the interval, but never below the request's Min-SE.
    const interval = Math.min(se.interval, ceiling, Math.max(cfg.sessionExpires, theirMin, cfg.minSE));
    // §9: without a refresher in the request, the UAC refreshes if it can, else we do.
    const refresher = se.refresher ?? (uacSupportsTimer ? 'uac' : 'uas');
    return { kind: 'accept', interval, refresher, requireTimer: uacSupportsTimer || refresher === 'uac' };
  }
  if (uacSupportsTimer) {
    // §9: the UAS may insert a Session-Expires of its own; the UAC supports timers, so it refreshes.
    return { kind: 'accept', interval: Math.max(cfg.sessionExpires, theirMin, cfg.minSE), refresher: 'uac', requireTimer: true };
  }
  if (running) return { kind: 'accept', interval: running.interval, refresher: 'uas', requireTimer: false };
  return undefined;
}

/** The headers a 2xx carries for an accepted session timer (§9: Require: timer when the UAC refreshes). */
export function sessionTimerResponseHeaders(st: AcceptedSessionTimer): HeaderEntry[] {
  const out: HeaderEntry[] = [['session-expires', formatSessionExpires(st)]];
  if (st.requireTimer) out.push(['require', 'timer']);
  return out;
}

/** The headers of a session refresh request we send (RFC 4028 §7.1, §7.4). */
export function sessionTimerRequestHeaders(interval: number, minSE: number, refresher?: Refresher): HeaderEntry[] {
  return [
    ['session-expires', formatSessionExpires(refresher ? { interval, refresher } : { interval })],
    ['min-se', String(minSE)],
  ];
}

/**
 * RFC 4028 §7.4: the session timer a 2xx to our refresh request sets up, seen from us as the UAC.
 * A missing refresher is read as 'uac' (we refresh — the side that keeps the session alive). An interval
 * above `maxInterval` is lowered to it, and then we refresh: a peer that means to refresh at half of its
 * own interval would do so long after ours ran out.
 */
export function sessionTimerFromAnswer(res: SipMessage, maxInterval: number): { interval: number; refresher: Refresher } | undefined {
  const se = parseSessionExpires(res.get('session-expires'));
  if (!se) return undefined;
  if (se.interval > maxInterval) return { interval: maxInterval, refresher: 'uac' };
  return { interval: se.interval, refresher: se.refresher ?? 'uac' };
}

/** RFC 4028 §10: the non-refresher ends the session min(32 s, interval/3) before it expires. */
export function expiryDelayMs(intervalSec: number): number {
  return (intervalSec - Math.min(32, intervalSec / 3)) * 1000;
}

/** RFC 4028 §10: the refresher refreshes at half the interval. */
export function refreshDelayMs(intervalSec: number): number {
  return (intervalSec * 1000) / 2;
}

export interface SessionTimerActions {
  /** Time to send a session refresh (only when we are the refresher). */
  refresh(): void;
  /** No successful refresh in time: the session is over. */
  expire(): void;
}

/** The running session timer of one dialog. */
export class SessionTimer {
  private refreshTimer: TimerHandle | undefined;
  private expiryTimer: TimerHandle | undefined;
  private current: { interval: number; localRefresher: boolean } | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly actions: SessionTimerActions,
  ) {}

  /** The negotiated interval (seconds) and whether we refresh; undefined when not running. */
  get state(): { interval: number; localRefresher: boolean } | undefined {
    return this.current;
  }

  /** (Re)start the timer after a successful negotiation or refresh. */
  arm(intervalSec: number, localRefresher: boolean): void {
    this.stop();
    const state = { interval: intervalSec, localRefresher };
    this.current = state;
    if (localRefresher) {
      this.refreshTimer = this.clock.setTimer(refreshDelayMs(intervalSec), () => {
        this.refreshTimer = undefined;
        if (this.current === state) this.actions.refresh();
      });
    }
    // The refresher gives its refreshes the whole interval; the other side gives up a little earlier.
    const expiry = localRefresher ? intervalSec * 1000 : expiryDelayMs(intervalSec);
    this.expiryTimer = this.clock.setTimer(expiry, () => {
      this.expiryTimer = undefined;
      if (this.current !== state) return;
      this.stop();
      this.actions.expire();
    });
  }

  stop(): void {
    this.refreshTimer?.cancel();
    this.expiryTimer?.cancel();
    this.refreshTimer = undefined;
    this.expiryTimer = undefined;
    this.current = undefined;
  }
}
