import { describe, expect, it } from 'vitest';
import { ProcessStats, PROCESS_STATS_MSG, sampleProcessStats, type ProcessStatsLine, type StatsSources } from '../../../src/log/process-stats.js';
import { FakeClock } from '../../support/fake-clock.js';
import { captureLogger } from '../../support/logger.js';

const sources: StatsSources = {
  activeCalls: () => 3,
  bindings: () => 250,
  transactions: () => ({ client: 4, server: 7 }),
  dialogs: () => 6,
  connections: () => 2,
};

const line: ProcessStatsLine = {
  rss: 1,
  heapUsed: 2,
  heapTotal: 3,
  external: 4,
  arrayBuffers: 5,
  fds: 6,
  activeCalls: 3,
  bindings: 250,
  clientTransactions: 4,
  serverTransactions: 7,
  dialogs: 6,
  connections: 2,
};

/** A sampler that answers at once (the real one reads /proc on the thread pool). */
const instant = async (): Promise<ProcessStatsLine> => line;

/** Lets the sampler's promise settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

function statsLines(lines: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return lines.filter((l) => l.msg === PROCESS_STATS_MSG);
}

describe('process stats', () => {
  it('samples memory, descriptors and the server tables', async () => {
    const s = await sampleProcessStats(sources);
    expect(s.rss).toBeGreaterThan(0);
    expect(s.heapUsed).toBeGreaterThan(0);
    expect(s.external).toBeGreaterThanOrEqual(0);
    if (process.platform === 'linux') expect(s.fds).toBeGreaterThan(2);
    expect(s).toMatchObject({ activeCalls: 3, bindings: 250, clientTransactions: 4, serverTransactions: 7, dialogs: 6, connections: 2 });
  });

  it('logs one line per interval at info level, and none once stopped', async () => {
    const clock = new FakeClock();
    const { logger, lines } = captureLogger('info');
    const stats = new ProcessStats({ logger, clock, sources, sample: instant });
    stats.start(60);
    clock.advance(59_999);
    await settle();
    expect(statsLines(lines)).toHaveLength(0);
    clock.advance(1);
    await settle();
    clock.advance(60_000);
    await settle();
    const logged = statsLines(lines);
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatchObject({ level: 30, rss: 1, heapUsed: 2, fds: 6, activeCalls: 3, bindings: 250, serverTransactions: 7 });
    stats.stop();
    clock.advance(600_000);
    await settle();
    expect(statsLines(lines)).toHaveLength(2);
    expect(clock.pending).toBe(0);
  });

  it('logs nothing with interval 0 and follows a new interval on restart', async () => {
    const clock = new FakeClock();
    const { logger, lines } = captureLogger('info');
    const stats = new ProcessStats({ logger, clock, sources, sample: instant });
    stats.start(0);
    expect(clock.pending).toBe(0);
    stats.start(5);
    clock.advance(5_000);
    await settle();
    expect(statsLines(lines)).toHaveLength(1);
    stats.start(0);
    clock.advance(60_000);
    await settle();
    expect(statsLines(lines)).toHaveLength(1);
  });

  it('does not log twice when restarted while a sample is being taken', async () => {
    const clock = new FakeClock();
    const { logger, lines } = captureLogger('info');
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let calls = 0;
    const sample = async (): Promise<ProcessStatsLine> => {
      if (calls++ === 0) await held;
      return line;
    };
    const stats = new ProcessStats({ logger, clock, sources, sample });
    stats.start(10);
    clock.advance(10_000);
    // The sample of the old timer is still being taken when the interval changes.
    stats.start(10);
    release();
    await settle();
    expect(statsLines(lines)).toHaveLength(0);
    expect(clock.pending).toBe(1);
    clock.advance(10_000);
    await settle();
    expect(statsLines(lines)).toHaveLength(1);
    stats.stop();
  });
});
