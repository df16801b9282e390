// A Clock whose time only moves when a test says so; due timers fire in time order. Delays are read the way
// Node's setTimeout reads them, overflow included, so a fake-clock test sees what production would do.
import type { Clock, TimerHandle } from '../../src/util/clock.js';

/** Node runs a timer whose delay is above this, or not a number, after 1 ms (TimeoutOverflowWarning). */
const NODE_MAX_DELAY_MS = 2 ** 31 - 1;

function nodeDelay(ms: number): number {
  if (Number.isNaN(ms) || ms > NODE_MAX_DELAY_MS) return 1;
  return Math.max(0, ms);
}

interface Scheduled {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private live = 0;
  /** Binary min-heap ordered by (due, seq): equal due times fire in scheduling order. */
  private heap: Scheduled[] = [];

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  monotonic(): number {
    return this.current;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const entry: Scheduled = { due: this.current + nodeDelay(ms), seq: this.seq++, fn, cancelled: false };
    this.push(entry);
    this.live++;
    return {
      cancel: () => {
        if (entry.cancelled) return;
        entry.cancelled = true;
        this.live--;
      },
    };
  }

  /** Timers scheduled and neither fired nor cancelled. */
  get pending(): number {
    return this.live;
  }

  /** When the next live timer falls due (clock time), or undefined when none is pending. */
  nextDue(): number | undefined {
    while (this.heap[0]?.cancelled) this.pop();
    return this.heap[0]?.due;
  }

  /** Move time forward by ms, firing every timer that falls due (including ones set while firing). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.peek();
      if (!next || next.due > target) break;
      this.pop();
      if (next.cancelled) continue;
      next.cancelled = true;
      this.live--;
      this.current = next.due;
      next.fn();
    }
    this.current = target;
  }

  /** Fire timers until none is left; throws if they keep rescheduling themselves. */
  runAll(maxFirings = 1_000_000): void {
    let firings = 0;
    for (;;) {
      const next = this.peek();
      if (!next) return;
      if (next.cancelled) {
        this.pop();
        continue;
      }
      if (++firings > maxFirings) throw new Error('FakeClock.runAll: timers never settle');
      this.advance(next.due - this.current);
    }
  }

  private peek(): Scheduled | undefined {
    return this.heap[0];
  }

  private push(entry: Scheduled): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i] as Scheduled, h[parent] as Scheduled)) break;
      [h[i], h[parent]] = [h[parent] as Scheduled, h[i] as Scheduled];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (!last || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < h.length && before(h[l] as Scheduled, h[min] as Scheduled)) min = l;
      if (r < h.length && before(h[r] as Scheduled, h[min] as Scheduled)) min = r;
      if (min === i) return;
      [h[i], h[min]] = [h[min] as Scheduled, h[i] as Scheduled];
      i = min;
    }
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}
