// Per-second and per-phase figures of the overload benchmark from sipp's own files: the -trace_stat
// rows (one a second with -fd 1: calls created, failed, retransmitted in that second) and the
// -trace_rtt samples (every response time with the moment it was taken), laid on one time axis.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStatCsv } from './sipp.mjs';

/** sipp's CurrentTime cell ("2026-12-03\t13:20:01.123456\t1764768001.123456"): epoch ms. */
export function statTimeMs(cell) {
  const parts = String(cell).trim().split(/\s+/);
  return Number(parts.at(-1)) * 1000;
}

/** Every row of a run's -trace_stat file with its time (epoch ms). */
export function statRows(dir) {
  try {
    return readStatCsv(join(dir, 'stat.csv')).map((row) => ({ ...row, atMs: statTimeMs(row.CurrentTime) }));
  } catch {
    return [];
  }
}

/**
 * Every -trace_rtt sample of a run: { atMs, ms, rtd }. sipp writes Date_ms as milliseconds since its
 * own start, so `startedAtMs` (when the sipp process was spawned) puts them on the epoch axis.
 */
export function rttSamples(dir, startedAtMs) {
  let file;
  try {
    file = readdirSync(dir).find((f) => f.endsWith('_rtt.csv'));
  } catch {
    return [];
  }
  if (!file) return [];
  const out = [];
  const lines = readFileSync(join(dir, file), 'utf8').split('\n');
  for (let i = 1; i < lines.length; i++) {
    const [date, value, rtd] = lines[i].split(';');
    const at = Number(date);
    const v = Number(value);
    const n = Number(rtd);
    if (!Number.isFinite(at) || !Number.isFinite(v) || !Number.isInteger(n)) continue;
    // Epoch ms already (a later sipp) or ms since sipp started.
    out.push({ atMs: at > 1e12 ? at : startedAtMs + at, ms: v, rtd: n });
  }
  return out;
}

/** Sum of one per-period column over the rows in [fromMs, toMs). */
export function sumRows(rows, column, fromMs = -Infinity, toMs = Infinity) {
  let sum = 0;
  for (const r of rows) if (r.atMs >= fromMs && r.atMs < toMs) sum += Number(r[column]) || 0;
  return sum;
}
