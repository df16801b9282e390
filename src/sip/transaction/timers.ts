// Transaction timer configuration (RFC 3261 §17 and Table 4) and a per-transaction timer set.
import type { Clock, TimerHandle } from '../../util/clock.js';

/** The three base values of RFC 3261 Table 4; every other transaction timer is derived from them. */
export interface TimerConfig {
  /** RTT estimate, default 500 ms. */
  t1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  t2: number;
  /** Maximum time a message remains in the network, default 5 s. */
  t4: number;
}

export const DEFAULT_TIMERS: Readonly<TimerConfig> = Object.freeze({ t1: 500, t2: 4000, t4: 5000 });

/** Fill a partial configuration with defaults; rejects values that would make the machines misbehave. */
export function resolveTimers(partial: Partial<TimerConfig> = {}): TimerConfig {
  const cfg: TimerConfig = {
    t1: partial.t1 ?? DEFAULT_TIMERS.t1,
    t2: partial.t2 ?? DEFAULT_TIMERS.t2,
    t4: partial.t4 ?? DEFAULT_TIMERS.t4,
  };
  for (const [name, value] of Object.entries(cfg)) {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`timer ${name} must be a positive number of ms, got ${value}`);
  }
  if (cfg.t2 < cfg.t1) throw new RangeError(`timer t2 (${cfg.t2}) must not be below t1 (${cfg.t1})`);
  return cfg;
}

/** Timer D (RFC 3261 §17.1.1.2): at least 32 s over unreliable transports, zero over reliable ones. */
export const TIMER_D_UNRELIABLE = 32000;

/** Durations (ms) of the RFC 3261 Table 4 / RFC 6026 timers for one transport kind. */
export interface DerivedTimers {
  /** Initial INVITE retransmit interval (doubles without a cap). */
  a: number;
  b: number;
  d: number;
  /** Initial non-INVITE retransmit interval (doubles up to T2). */
  e: number;
  f: number;
  /** Initial INVITE response retransmit interval (doubles up to T2). */
  g: number;
  h: number;
  i: number;
  j: number;
  k: number;
  l: number;
  m: number;
}

export function deriveTimers(cfg: TimerConfig, reliable: boolean): DerivedTimers {
  const long = 64 * cfg.t1;
  return {
    a: cfg.t1,
    b: long,
    d: reliable ? 0 : TIMER_D_UNRELIABLE,
    e: cfg.t1,
    f: long,
    g: cfg.t1,
    h: long,
    i: reliable ? 0 : cfg.t4,
    j: reliable ? 0 : long,
    k: reliable ? 0 : cfg.t4,
    l: long,
    m: long,
  };
}

/**
 * The running timers of one transaction, by name. Once closed (the transaction terminated)
 * it starts nothing more, so a late callback can never resurrect a dead transaction's timers.
 */
export class TimerSet<Name extends string> {
  private readonly handles = new Map<Name, TimerHandle>();
  private closed = false;

  constructor(private readonly clock: Clock) {}

  start(name: Name, ms: number, fn: () => void): void {
    if (this.closed) return;
    this.stop(name);
    const handle = this.clock.setTimer(ms, () => {
      if (this.handles.get(name) !== handle) return;
      this.handles.delete(name);
      fn();
    });
    this.handles.set(name, handle);
  }

  stop(name: Name): void {
    const handle = this.handles.get(name);
    if (!handle) return;
    this.handles.delete(name);
    handle.cancel();
  }

  /** Cancel every timer and refuse new ones. */
  close(): void {
    this.closed = true;
    for (const handle of this.handles.values()) handle.cancel();
    this.handles.clear();
  }

  get active(): number {
    return this.handles.size;
  }
}
