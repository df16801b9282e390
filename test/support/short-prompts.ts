// A prompt set (config `prompts.dir`) in which some announcements are shorter: a test that is not about what
// a prompt says still waits for it to play out, and the long spoken prompts (a voicemail greeting is some
// 15 s) are most of the run time of such tests. Each named prompt keeps its real beginning, cut to `ms`,
// so the caller still hears that prompt at that point; every other file is the shipped one.
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWav, parseWav } from '../../src/media/builtin/wav.js';

const SHIPPED = fileURLToPath(new URL('../../prompts', import.meta.url));

/** A copy of the shipped prompts (in a new temporary folder) with `names` cut to their first `ms` in every folder. */
export function shortPromptsDir(names: readonly string[], ms = 300): string {
  const dir = mkdtempSync(join(tmpdir(), 'hibiki-short-prompts-'));
  cpSync(SHIPPED, dir, { recursive: true });
  const wanted = new Set(names.map((n) => `${n}.wav`));
  const found = new Set<string>();
  for (const folder of readdirSync(dir, { withFileTypes: true })) {
    if (!folder.isDirectory()) continue;
    for (const file of readdirSync(join(dir, folder.name))) {
      if (!wanted.has(file)) continue;
      const path = join(dir, folder.name, file);
      const samples = parseWav(readFileSync(path), path);
      writeFileSync(path, buildWav(samples.subarray(0, Math.round((ms * 8000) / 1000))));
      found.add(file);
    }
  }
  // A misspelt name would leave the long prompt in place and the test silently slow.
  const missing = [...wanted].filter((f) => !found.has(f));
  if (missing.length > 0) throw new Error(`shortPromptsDir: no shipped prompt ${missing.join(', ')}`);
  return dir;
}

/** What a caller to a voicemail box hears before the beep (the system greeting with the box's digits) and after it. */
export const VOICEMAIL_DEPOSIT_PROMPTS = ['vm-greeting-before', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'vm-greeting-after', 'vm-leave-message', 'vm-thank-you'] as const;

/** What the retrieval menu says before a message plays (Japanese) besides the caller's digits: month, day, hour, minutes, 'from'. */
export const VOICEMAIL_ENVELOPE_PROMPTS = [
  ...Array.from({ length: 12 }, (_, i) => `vm-month-${i + 1}`),
  ...Array.from({ length: 31 }, (_, i) => `vm-day-${i + 1}`),
  ...Array.from({ length: 24 }, (_, i) => `vm-hour-${i}`),
  ...[10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 30, 40, 50, 60, 70, 80, 90].map((n) => `vm-n-${n}`),
  'vm-minute',
  'vm-from-after',
] as const;
