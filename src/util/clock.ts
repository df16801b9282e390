// The one clock: wall time for timestamps and schedules, a monotonic time for measuring intervals, and
// timers — behind an interface so that tests drive all three with a fake clock.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Wall-clock time, epoch ms (CDR times, schedules, months). */
  now(): number;
  /** Milliseconds from an arbitrary origin that never jumps (deadlines, intervals). */
  monotonic(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
}

/**
 * The longest delay Node's setTimeout keeps. A longer one (or NaN) is run after 1 ms with only a
 * TimeoutOverflowWarning on stderr: a "never" turns into "now".
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * A delay setTimeout can keep: above MAX_TIMER_DELAY_MS it is lowered to it (about 24.8 days, as good as
 * never for anything a call does), below 0 or NaN it is 0. Every value from the wire or the config is
 * bounded where it is read; this is the last line of defence behind those limits.
 */
export function timerDelay(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(ms, MAX_TIMER_DELAY_MS);
}

/** Where a clock reports a delay it had to clamp (a pino logger fits). */
export interface ClockWarnings {
  warn(obj: object, msg: string): void;
}

/** The real clock. The first delay it has to clamp is logged (one line per clock, not one per timer). */
export function systemClock(log?: ClockWarnings): Clock {
  let reported = false;
  return {
    now: () => Date.now(),
    monotonic: () => performance.now(),
    setTimer(ms, fn) {
      const delay = timerDelay(ms);
      if (delay !== ms && ms > MAX_TIMER_DELAY_MS && !reported) {
        reported = true;
        log?.warn({ requestedMs: ms, delayMs: delay }, 'timer delay above the Node.js maximum: clamped (further ones are not logged)');
      }
      const t = setTimeout(fn, delay);
      t.unref?.();
      return { cancel: () => clearTimeout(t) };
    },
  };
}

export const realClock: Clock = systemClock();

/** Run `fn` every `ms` on a clock until the returned handle is cancelled (the next run is armed first). */
export function every(clock: Clock, ms: number, fn: () => void): TimerHandle {
  let current: TimerHandle;
  let stopped = false;
  const arm = (): void => {
    current = clock.setTimer(ms, () => {
      if (stopped) return;
      arm();
      fn();
    });
  };
  arm();
  return {
    cancel: () => {
      stopped = true;
      current.cancel();
    },
  };
}
