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

export const realClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};
