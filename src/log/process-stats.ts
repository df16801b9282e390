// One log line every log.statsInterval seconds with the process's memory, open descriptors and the
// sizes of the tables that grow with load, so a long run (the soak, a production box) shows a leak
// as a trend in its own logs, without an inspector attached.
import { readdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../util/clock.js';

/** What the server counts, read at each sample. */
export interface StatsSources {
  activeCalls(): number;
  bindings(): number;
  transactions(): { client: number; server: number };
  dialogs(): number;
  connections(): number;
}

export interface ProcessStatsLine {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Open file descriptors (sockets included); absent where /proc/self/fd does not exist. */
  fds?: number;
  activeCalls: number;
  bindings: number;
  clientTransactions: number;
  serverTransactions: number;
  dialogs: number;
  connections: number;
}

/** The message of every stats line: scripts/soak finds the lines by it. */
export const PROCESS_STATS_MSG = 'process stats';

/** Open descriptors of this process, or undefined off Linux. Asynchronous: never blocks the event loop. */
async function openFds(): Promise<number | undefined> {
  try {
    return (await readdir('/proc/self/fd')).length;
  } catch {
    return undefined;
  }
}

export async function sampleProcessStats(sources: StatsSources): Promise<ProcessStatsLine> {
  const mem = process.memoryUsage();
  const tx = sources.transactions();
  const fds = await openFds();
  return {
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    heapTotal: mem.heapTotal,
    external: mem.external,
    arrayBuffers: mem.arrayBuffers,
    ...(fds === undefined ? {} : { fds }),
    activeCalls: sources.activeCalls(),
    bindings: sources.bindings(),
    clientTransactions: tx.client,
    serverTransactions: tx.server,
    dialogs: sources.dialogs(),
    connections: sources.connections(),
  };
}

export interface ProcessStatsOptions {
  logger: Logger;
  clock: Clock;
  sources: StatsSources;
  /** Takes one sample; default sampleProcessStats (tests hold a sample back to race it). */
  sample?: (sources: StatsSources) => Promise<ProcessStatsLine>;
}

/** Logs a stats line every `intervalSec` seconds at info level; 0 logs nothing. */
export class ProcessStats {
  private timer: TimerHandle | undefined;
  private intervalSec = 0;
  /** Bumped by every (re)start, so a sample still reading /proc when the interval changes is not logged twice. */
  private generation = 0;

  constructor(private readonly opts: ProcessStatsOptions) {}

  /** Starts, or restarts with a new interval (config reload). */
  start(intervalSec: number): void {
    this.stop();
    this.intervalSec = intervalSec;
    if (intervalSec > 0) this.arm(this.generation);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.generation++;
  }

  private arm(generation: number): void {
    this.timer = this.opts.clock.setTimer(this.intervalSec * 1000, () => {
      void this.logOnce(generation);
    });
  }

  private async logOnce(generation: number): Promise<void> {
    try {
      const line = await (this.opts.sample ?? sampleProcessStats)(this.opts.sources);
      if (generation !== this.generation) return;
      this.opts.logger.info(line, PROCESS_STATS_MSG);
    } catch (err) {
      this.opts.logger.warn({ err }, 'process stats not sampled');
    }
    if (generation === this.generation) this.arm(generation);
  }
}
