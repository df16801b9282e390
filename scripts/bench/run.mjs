// `npm run bench`: runs every benchmark script in scripts/bench/ one after the other and prints a
// summary headed by the machine it ran on. Each script prints its report on stdout (progress on
// stderr); scripts that take `--json FILE` also hand back their results, which are kept with the run.
//
// Usage: npm run bench [-- options]
//   --only a,b        run only these scripts (names without .mjs, e.g. register-storm, or a variant of VARIANTS
//                     below, e.g. media-relay-2-workers)
//   --update-docs     put the summary into docs/benchmarks.md (between the bench:results markers)
//   --out DIR         keep every script's JSON and the summary there (default: a temporary directory)
//   --peers off       no side-by-side runs through Kamailio and rtpengine (default auto: when installed,
//                     see scripts/install-bench-peers.sh); their ratios head the summary
//   --quick           shorter runs (QUICK_ARGS below): about half the time, noisier figures
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { installCleanup, track } from './lib/proc.mjs';
import { machine } from './lib/machine.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const DOCS = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
const BEGIN = '<!-- bench:results:begin -->';
const END = '<!-- bench:results:end -->';
/** Cheap ones first; anything else found in the directory runs after these, in name order. */
const ORDER = ['parse-bench', 'register-storm', 'call-rate', 'media-relay', 'media-relay-2-workers', 'queue', 'conference', 'overload', 'calls-held'];
/** Extra runs of a script with other options, named like a script (issue #13 asks for 1 against 2 media workers). */
const VARIANTS = {
  'media-relay-2-workers': { script: 'media-relay', args: ['--workers', '2', '--peers', 'off'] },
};
/**
 * What a full run adds to a script (not with --quick): where a goal is not met, the run shows what is left
 * (issue #13's "the profile that shows what is left and why"): CPU profiles of registration and of call
 * setup at their highest clean rates, and what the heap holds per call in progress.
 */
const FULL_ARGS = {
  'register-storm': ['--profile', 'auto'],
  'call-rate': ['--profile='],
  'calls-held': ['--snapshot'],
};
/** Each script gets this long before it is killed (the whole run aims at about five minutes). */
const SCRIPT_TIMEOUT_MS = 10 * 60_000;
/** What --quick passes to each script that takes these options: shorter runs, a smaller memory sample. */
const QUICK_ARGS = {
  'register-storm': ['--duration', '5', '--warmup', '1', '--memory-bindings', '20000'],
  'call-rate': ['--duration', '6', '--warmup', '1'],
  'media-relay': ['--seconds', '6'],
};

function benchScripts() {
  const found = readdirSync(HERE)
    .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs' && !f.startsWith('.'))
    .map((f) => f.slice(0, -4));
  found.push(...Object.keys(VARIANTS).filter((v) => found.includes(VARIANTS[v].script)));
  const rank = (n) => (ORDER.includes(n) ? ORDER.indexOf(n) : ORDER.length);
  return found.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function runScript(name, jsonFile, { quick = false, peers = 'auto' } = {}) {
  const variant = VARIANTS[name];
  const script = variant?.script ?? name;
  const file = join(HERE, `${script}.mjs`);
  const source = readFileSync(file, 'utf8');
  const takesJson = source.includes('--json');
  const extra = [
    ...(variant?.args ?? []),
    ...(quick ? (QUICK_ARGS[script] ?? []) : (FULL_ARGS[name] ?? [])),
    ...(peers === 'off' && !variant?.args.includes('--peers') && source.includes('--peers') ? ['--peers', 'off'] : []),
  ];
  const args = [file, ...(takesJson ? ['--json', jsonFile] : []), ...extra];
  return new Promise((resolve) => {
    const started = Date.now();
    const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] }));
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d.toString();
      process.stdout.write(d);
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), SCRIPT_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      let json;
      if (takesJson && existsSync(jsonFile)) {
        try {
          json = JSON.parse(readFileSync(jsonFile, 'utf8'));
        } catch {
          json = undefined;
        }
      }
      resolve({ name, code, signal, seconds: (Date.now() - started) / 1000, report: stdout.trim(), json });
    });
  });
}

function summary(m, runs, startedAt, loadStart, loadEnd, command) {
  const lines = [
    `Run ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${m.nproc} × ${m.cpu}, ${m.ramGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}, SIPp ${m.sipp}; ${m.pinning}.`,
    `Load average (1 min) ${loadStart.toFixed(2)} at the start, ${loadEnd.toFixed(2)} at the end${loadStart > 0.5 || loadEnd > 0.5 ? ' — the machine was not idle: treat the figures as pessimistic' : ''}.`,
    `Command: ${command}`,
  ];
  // Each script that ran a peer hands back its ratio lines (sideBySide in its JSON).
  const ratios = runs.flatMap((r) => r.json?.sideBySide ?? []);
  if (ratios.length > 0) lines.push('', '### Side by side with Kamailio and rtpengine (same load, same run)', '', ...ratios.map((l) => `- ${l}`));
  // Every "Goal …: met / NOT met" line of the reports, in one place (the figures behind them follow).
  const goals = runs.flatMap((r) => (r.report.match(/^Goal\b.*$/gm) ?? []).map((g) => `- ${r.name}: ${g.slice('Goal '.length)}`));
  if (goals.length > 0) lines.push('', '### Goals, as each benchmark judged them', '', ...goals);
  for (const r of runs) {
    // A script's own headings go two levels down, under this summary's "### name".
    const report = (r.report || '(no output)').replace(/^(#{1,4}) /gm, '$1## ');
    lines.push('', `### ${r.name} (${r.seconds.toFixed(0)} s${r.code === 0 ? '' : `, FAILED: exit ${r.code ?? r.signal}`})`, '', report);
  }
  return lines.join('\n');
}

async function main(argv) {
  installCleanup();
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      'update-docs': { type: 'boolean', default: false },
      out: { type: 'string' },
      peers: { type: 'string', default: 'auto' },
      quick: { type: 'boolean', default: false },
    },
  });
  if (!['auto', 'off'].includes(values.peers)) throw new Error('--peers must be auto or off');
  const all = benchScripts();
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((n) => !all.includes(n)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')} (have: ${all.join(', ')})`);
  const names = only ?? all;
  const out = values.out ?? mkdtempSync(join(tmpdir(), 'hibiki-bench-run-'));
  mkdirSync(out, { recursive: true });
  const m = machine();
  const startedAt = new Date();
  const loadStart = loadavg()[0];
  process.stderr.write(`benchmarks: ${names.join(', ')} — results in ${out}\n`);
  const runs = [];
  for (const name of names) {
    process.stderr.write(`\n== ${name}\n`);
    runs.push(await runScript(name, join(out, `${name}.json`), { quick: values.quick, peers: values.peers }));
  }
  const command = `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
  const text = summary(m, runs, startedAt, loadStart, loadavg()[0], command);
  writeFileSync(join(out, 'summary.md'), text + '\n');
  writeFileSync(join(out, 'machine.json'), JSON.stringify(m, null, 2));
  process.stdout.write(`\n======== summary ========\n${text}\n`);
  if (values['update-docs']) updateDocs(text);
  if (runs.some((r) => r.code !== 0)) process.exitCode = 1;
}

/** Replace the generated part of docs/benchmarks.md; the hand-written explanation around it stays. */
function updateDocs(text) {
  const doc = existsSync(DOCS) ? readFileSync(DOCS, 'utf8') : '';
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${DOCS} has no ${BEGIN} … ${END} section`);
  writeFileSync(DOCS, `${doc.slice(0, start + BEGIN.length)}\n${text}\n${doc.slice(end)}`);
  process.stderr.write(`updated ${DOCS}\n`);
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exit(1);
});
