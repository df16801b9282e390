// The real clock's last line of defence (issue #14): a delay above what Node's setTimeout keeps is clamped
// instead of being run after 1 ms, and the first such delay is logged.
import { describe, expect, it } from 'vitest';
import { MAX_TIMER_DELAY_MS, systemClock, timerDelay } from '../../../src/util/clock.js';

describe('timer delays', () => {
  it('keeps delays Node can hold and bounds the others', () => {
    expect(timerDelay(0)).toBe(0);
    expect(timerDelay(1500)).toBe(1500);
    expect(timerDelay(MAX_TIMER_DELAY_MS)).toBe(MAX_TIMER_DELAY_MS);
    expect(timerDelay(999_999_999_000)).toBe(MAX_TIMER_DELAY_MS);
    expect(timerDelay(Infinity)).toBe(MAX_TIMER_DELAY_MS);
    expect(timerDelay(-5)).toBe(0);
    expect(timerDelay(Number.NaN)).toBe(0);
  });

  it('the system clock clamps an overflowing delay (no TimeoutOverflowWarning) and logs the first one only', async () => {
    const warnings: string[] = [];
    const logged: Array<{ obj: object; msg: string }> = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on('warning', onWarning);
    try {
      const clock = systemClock({ warn: (obj, msg) => logged.push({ obj, msg }) });
      let fired = 0;
      const a = clock.setTimer(999_999_999_000, () => fired++);
      const b = clock.setTimer(2 ** 40, () => fired++);
      // Node reports an overflow on the next tick; give it a full turn of the event loop.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      a.cancel();
      b.cancel();
      expect(fired).toBe(0);
      expect(warnings).not.toContain('TimeoutOverflowWarning');
      expect(logged).toHaveLength(1);
      expect(logged[0]!.obj).toEqual({ requestedMs: 999_999_999_000, delayMs: MAX_TIMER_DELAY_MS });
    } finally {
      process.off('warning', onWarning);
    }
  });
});
