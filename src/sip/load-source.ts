// How busy this process is, measured on its event loop (issue #14: shed before the loop falls behind).
// Utilization is what shows saturation under UDP load: libuv reads a handful of datagrams per
// wake-up, so every turn of the loop stays short and timers stay nearly on time while the socket
// buffer holds seconds of work; the loop is then simply never idle. Delay shows the other kind of
// trouble, long synchronous stretches (a slow query, a huge message), which delay every answer.
// Neither shows a backlog in the socket's receive buffer: the queue probe (queue-probe.ts) does.
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { QueueProbe } from './queue-probe.js';

export interface LoadSample {
  /** Share of the time since the previous sample that the event loop was busy, 0–1. */
  utilization: number;
  /** Mean event-loop delay since the previous sample (ms): how late timers ran. */
  loopDelayMs: number;
  /** How long a datagram waited before the stack read it (ms, the longest since the previous sample); absent without a probe. */
  queueDelayMs?: number;
}

/** Where load is read from; tests give their own. */
export interface LoadSource {
  /** The load since the previous call (or since the source was made). */
  sample(): LoadSample;
  close(): void;
}

/** The histogram's resolution: it checks the loop this often, and every figure it keeps includes it. */
const RESOLUTION_MS = 10;

/** The event loop of this process (perf_hooks: utilization and a delay histogram), and the receive queue when probed. */
export function eventLoopLoad(probe?: { probe: QueueProbe; close: () => void }): LoadSource {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    sample() {
      const now = performance.eventLoopUtilization();
      const { utilization } = performance.eventLoopUtilization(now, last);
      last = now;
      const meanMs = histogram.count > 0 ? histogram.mean / 1e6 - RESOLUTION_MS : 0;
      histogram.reset();
      const sample: LoadSample = { utilization, loopDelayMs: Math.max(0, meanMs) };
      if (probe) {
        sample.queueDelayMs = probe.probe.read();
        probe.probe.send();
      }
      return sample;
    },
    close() {
      histogram.disable();
      probe?.close();
    },
  };
}
