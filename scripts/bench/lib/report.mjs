// Pieces every benchmark script shares: table cell formatting and a profiled repeat of one rate.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatSummary, summarizeProfile } from './cpuprofile.mjs';

/** Milliseconds to one decimal, or a dash. */
export const ms = (v) => (Number.isFinite(v) ? String(Math.round(v * 10) / 10) : '–');

/** A whole number with thousands separators, or a dash. */
export const int = (v) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US'));

/** A goal as run.mjs collects them: `Goal <what>: met|NOT met (<figure>)`. */
export const goalLine = (what, ok, figure) => `Goal ${what}: ${ok ? 'met' : 'NOT met'} (${figure})`;

/**
 * A goal set at one offered rate of a ladder (`results.rates`): met when that rate ran clean and `isMet`
 * holds; its figure says when the rate was not clean or never run.
 */
export function goalAtRate(what, results, rate, isMet, figure) {
  const r = results.rates.find((x) => x.rate === rate);
  if (!r) return goalLine(what, false, `not run at ${int(rate)}/s`);
  return goalLine(what, r.clean && isMet(r), `${figure(r)}${r.clean ? '' : ', not clean'}`);
}

/**
 * Run one rate again with the server under `node --cpu-prof` (runRate receives the profile folder)
 * and summarise the functions with the most time during the run's window.
 */
export async function profileRate(dir, rate, runRate) {
  const profDir = join(dir, 'cpuprofile');
  mkdirSync(profDir, { recursive: true });
  const result = await runRate(profDir);
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return { rate, error: 'no .cpuprofile written' };
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8'));
  const summary = summarizeProfile(profile, result.window);
  return { rate, file: join(profDir, file), result, text: formatSummary(summary, 30, fileURLToPath(new URL('../../..', import.meta.url))) };
}
