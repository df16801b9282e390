// Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time and
// the most total (inclusive) time, so a profile of a storm can be read without a browser.
// Usage: node scripts/bench/lib/cpuprofile.mjs FILE.cpuprofile [top=25] [fromMs] [toMs]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Self and total µs per function (same name, file and line), biggest self time first. `window`
 * keeps only samples taken between fromMs and toMs after the profile started (e.g. the storm, not
 * the config load at start-up).
 */
export function summarizeProfile(profile, window = {}) {
  const fromUs = (window.fromMs ?? 0) * 1000;
  const toUs = (window.toMs ?? Infinity) * 1000;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i; charging it to sample i is the convention DevTools uses.
  let at = 0;
  for (let i = 0; i < samples.length; i++) {
    const d = Math.max(0, deltas[i] ?? 0);
    at += d;
    if (at < fromUs || at > toUs) continue;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + d);
  }

  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const rows = new Map();
  const keyOf = (n) => {
    const f = n.callFrame;
    return `${f.functionName || '(anonymous)'}\t${f.url}\t${f.lineNumber}`;
  };
  const row = (n) => {
    const k = keyOf(n);
    let r = rows.get(k);
    if (!r) {
      const f = n.callFrame;
      r = { name: f.functionName || '(anonymous)', url: f.url, line: f.lineNumber + 1, selfUs: 0, totalUs: 0 };
      rows.set(k, r);
    }
    return r;
  };
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    row(node).selfUs += us;
    // Inclusive time: charge each distinct function on the stack once (recursion is not double counted).
    const seen = new Set();
    for (let cur = node, depth = 0; cur && depth < 10_000; cur = byId.get(parent.get(cur.id)), depth++) {
      const k = keyOf(cur);
      if (seen.has(k)) continue;
      seen.add(k);
      row(cur).totalUs += us;
    }
  }
  const list = [...rows.values()];
  return {
    totalUs,
    bySelf: [...list].sort((a, b) => b.selfUs - a.selfUs),
    byTotal: [...list].sort((a, b) => b.totalUs - a.totalUs),
  };
}

export function formatSummary(summary, top = 25, root = process.cwd()) {
  const where = (r) => {
    if (!r.url) return '';
    const path = r.url.startsWith('file://') ? relative(root, fileURLToPath(r.url)) : r.url;
    return `${path}:${r.line}`;
  };
  const pct = (us) => ((100 * us) / Math.max(1, summary.totalUs)).toFixed(1).padStart(5);
  const lines = [`profile: ${(summary.totalUs / 1e6).toFixed(2)} s sampled`, '', 'top self time:'];
  for (const r of summary.bySelf.slice(0, top)) lines.push(`  ${pct(r.selfUs)} %  ${(r.selfUs / 1000).toFixed(0).padStart(7)} ms  ${r.name}  ${where(r)}`);
  lines.push('', 'top total (inclusive) time:');
  for (const r of summary.byTotal.slice(0, top)) lines.push(`  ${pct(r.totalUs)} %  ${(r.totalUs / 1000).toFixed(0).padStart(7)} ms  ${r.name}  ${where(r)}`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node scripts/bench/lib/cpuprofile.mjs FILE.cpuprofile [top] [fromMs] [toMs]\n');
    process.exit(2);
  }
  const window = { fromMs: process.argv[4] ? Number(process.argv[4]) : undefined, toMs: process.argv[5] ? Number(process.argv[5]) : undefined };
  const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), window);
  process.stdout.write(formatSummary(summary, Number(process.argv[3] ?? 25)) + '\n');
}
