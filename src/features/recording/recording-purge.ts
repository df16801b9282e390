// The daily purge of old call recordings (recording.retentionDays): WAV files under the recordings folder
// last written before the cut-off are deleted, then the day/month/year folders left empty. The file's
// modification time is its end, so a recording is kept retentionDays after the call, not after its start.
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

const DAY_MS = 86_400_000;

/** Deletes recordings older than `days` (0 = none) under `dir`; returns how many files went. */
export async function purgeRecordings(dir: string, days: number, now: number): Promise<number> {
  if (days <= 0) return 0;
  return purgeFolder(dir, now - days * DAY_MS, true);
}

async function purgeFolder(dir: string, cutoff: number, top: boolean): Promise<number> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    // No recording made yet: nothing to purge.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let deleted = 0;
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) deleted += await purgeFolder(path, cutoff, false);
    else if (e.isFile() && e.name.endsWith('.wav') && (await stat(path)).mtimeMs < cutoff) {
      await rm(path, { force: true });
      deleted++;
    }
  }
  // A day folder emptied by the purge goes too; a folder with anything else in it stays (rmdir refuses).
  if (!top) await rmdir(dir).catch(() => undefined);
  return deleted;
}

export interface RecordingPurge {
  run(): Promise<number>;
  stop(): void;
}

/** Purges at start and then once a day; retentionDays is read at each run (a reload changes it). */
export function startRecordingPurge(opts: { dir: string; retentionDays: () => number; logger: Logger; now?: () => number; intervalMs?: number }): RecordingPurge {
  const now = opts.now ?? Date.now;
  let running: Promise<number> | undefined;
  const run = (): Promise<number> => {
    running ??= purgeRecordings(opts.dir, opts.retentionDays(), now())
      .then(
        (n) => {
          if (n > 0) opts.logger.info({ deleted: n, retentionDays: opts.retentionDays() }, 'purged old call recordings');
          return n;
        },
        (err: unknown) => {
          opts.logger.error({ err }, 'purging old call recordings failed');
          return 0;
        },
      )
      .finally(() => (running = undefined));
    return running;
  };
  const timer = setInterval(() => void run(), opts.intervalMs ?? DAY_MS);
  timer.unref();
  void run();
  return { run, stop: () => clearInterval(timer) };
}
