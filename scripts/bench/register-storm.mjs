// REGISTER storm with digest auth (issue #2, goal G7/G9 of the performance anchors): sipp registers
// unique extensions against the real server (`node dist/cli.js`) on loopback at fixed rates, each
// registration being REGISTER → 401 → REGISTER with credentials → 200, and reports per rate:
// successful registrations/s, failures, retransmissions, server CPU µs per registration
// (utime+stime from /proc/<pid>/stat), the response-time percentiles, and then memory per binding.
//
// Usage: npm run build && node scripts/bench/register-storm.mjs [options]
//   --rates 2000,3000,4000,5000,6000  offered registrations/s, run in this order (default); the ladder
//                                 stops at the first rate that is not clean and then tries once halfway
//                                 between it and the last clean one (a short bracket of the knee)
//   --duration 10                 seconds per rate
//   --warmup 2                    seconds at 1000 reg/s with other users before each measured run (JIT warm-up)
//   --all                         run every rate even after one fails, and no bracket
//   --memory-bindings 50000       bindings registered for the memory measurement (0 skips it)
//   --profile RATE|auto           one more storm under `node --cpu-prof` and a summary of the hot spots
//                                 (auto: at the highest clean rate)
//   --json FILE                   write the results as JSON (used by run.mjs)
//   --keep                        keep the temporary directory (configs, sipp logs, profiles)
//   --mwi                         keep unsolicited message-waiting NOTIFYs on (mwi.unsolicited, the default
//                                 in a deployment). Off by default here: each registration then also starts
//                                 an out-of-dialog NOTIFY to the registering "phone", which SIPp cannot
//                                 answer (it is not in any of its calls), so hibiki retransmits it for 32 s
//                                 (Timer F): work a real phone's 200 OK ends at once, and work Kamailio's
//                                 registrar never does, so it would not be the same work side by side.
//   --peers auto                  auto: after each rate, the same storm against Kamailio as a digest-auth
//                                 registrar when it is installed, and the ratio (lib/kamailio.mjs); off: hibiki only
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuTimeUs, installCleanup, pinning, pinned, rssBytes, track } from './lib/proc.mjs';
import { registrationResult, runSipp, preflight } from './lib/sipp.mjs';
import { benchPassword, CLI, freeUdpPort, startServer, writeBenchConfig } from './lib/server.mjs';
import { goalAtRate, goalLine, int, ms, profileRate } from './lib/report.mjs';
import { kamailioPeer, kamailioRegisterRate, registerSideBySide } from './lib/kamailio.mjs';

const SCENARIO = fileURLToPath(new URL('../../test/sipp/bench-register.xml', import.meta.url));
const BINDING_HEAP = fileURLToPath(new URL('./lib/binding-heap.mjs', import.meta.url));
const FIRST_USER = 2_000_000;
const FIRST_WARMUP_USER = 2_900_000;
const WARMUP_RATE = 1000;
/** RFC 3261 §17.2.2 Timer J = 64*T1 (T1 = 500 ms by default): how long answered REGISTERs stay in memory. */
const TIMER_J_MS = 64 * 500;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => process.stderr.write(line + '\n');

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      rates: { type: 'string', default: '2000,3000,4000,5000,6000' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      all: { type: 'boolean', default: false },
      'memory-bindings': { type: 'string', default: '50000' },
      profile: { type: 'string' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
      mwi: { type: 'boolean', default: false },
      peers: { type: 'string', default: 'auto' },
    },
    allowPositionals: false,
  });
  const rates = values.rates.split(',').map((r) => Number(r.trim()));
  if (rates.some((r) => !Number.isInteger(r) || r <= 0 || r > 50_000)) throw new Error(`bad --rates ${values.rates}`);
  const duration = Number(values.duration);
  const warmup = Number(values.warmup);
  const memoryBindings = Number(values['memory-bindings']);
  if (!(duration > 0 && duration <= 120)) throw new Error('--duration must be 1–120 s');
  if (!(warmup >= 0 && warmup <= 30)) throw new Error('--warmup must be 0–30 s');
  if (!Number.isInteger(memoryBindings) || memoryBindings < 0 || memoryBindings > 200_000) throw new Error('--memory-bindings must be 0–200000');
  const profile = values.profile === undefined || values.profile === 'auto' ? values.profile : Number(values.profile);
  if (typeof profile === 'number' && !(Number.isInteger(profile) && profile > 0 && profile <= 50_000)) throw new Error('--profile takes a rate or auto');
  if (!['auto', 'off'].includes(values.peers)) throw new Error('--peers must be auto or off');
  return { rates, duration, warmup, all: values.all, memoryBindings, profile, json: values.json, keep: values.keep, mwi: values.mwi, peers: values.peers };
}

function numbers(first, count) {
  const out = new Array(count);
  for (let i = 0; i < count; i++) out[i] = String(first + i);
  return out;
}

/** sipp injection file: field0 = user, field1 = the [authentication] keyword with its password. */
function writeInjection(path, users) {
  const lines = ['SEQUENTIAL'];
  for (const u of users) lines.push(`${u};[authentication username=${u} password=${benchPassword(u)}];`);
  writeFileSync(path, lines.join('\n') + '\n');
}

class Bench {
  constructor(opts) {
    this.opts = opts;
    this.pin = pinning();
    this.dir = mkdtempSync(join(tmpdir(), 'hibiki-bench-'));
    const maxCalls = Math.max(...opts.rates.map((r) => Math.round(r * opts.duration)), opts.memoryBindings);
    this.users = numbers(FIRST_USER, maxCalls);
    this.warmupUsers = numbers(FIRST_WARMUP_USER, Math.max(1, Math.round(WARMUP_RATE * opts.warmup)) + 10);
    this.usersFile = join(this.dir, 'users.csv');
    this.warmupFile = join(this.dir, 'warmup.csv');
    writeInjection(this.usersFile, this.users);
    writeInjection(this.warmupFile, this.warmupUsers);
    this.runIndex = 0;
  }

  async server({ inspect = false, cpuProfDir, nonceExpires } = {}) {
    const port = await freeUdpPort();
    const runDir = join(this.dir, `server-${++this.runIndex}`);
    mkdirSync(runDir);
    const dataDir = join(runDir, 'data');
    const configPath = writeBenchConfig(runDir, { numbers: [...this.users, ...this.warmupUsers], port, dataDir, nonceExpires, mwiUnsolicited: this.opts.mwi });
    const server = await startServer({ configPath, port, core: this.pin.server, inspect, cpuProfDir });
    return { ...server, port, runDir, configPath };
  }

  sipp(server, { rate, calls, file, name }) {
    const dir = join(server.runDir, name);
    mkdirSync(dir);
    return runSipp({ scenario: SCENARIO, target: { host: '127.0.0.1', port: server.port }, rate, calls, injectFile: file, dir, core: this.pin.generator });
  }

  async warmUp(server) {
    if (this.opts.warmup <= 0) return;
    const calls = Math.round(WARMUP_RATE * this.opts.warmup);
    const run = await this.sipp(server, { rate: WARMUP_RATE, calls, file: this.warmupFile, name: 'warmup' });
    if (run.code !== 0) log(`  warm-up: sipp exit ${run.code} (${run.final?.['FailedCall(C)'] ?? '?'} failed) — continuing`);
    await sleep(500);
  }

  /** One measured storm at a fixed rate on a fresh server with an empty database. */
  async rate(rate, { cpuProfDir } = {}) {
    const calls = Math.round(rate * this.opts.duration);
    const server = await this.server({ cpuProfDir });
    try {
      const spawnedAt = Date.now() - server.startMs;
      await this.warmUp(server);
      const cpu0 = cpuTimeUs(server.pid);
      const t0 = Date.now();
      const run = await this.sipp(server, { rate, calls, file: this.usersFile, name: `storm-${rate}` });
      const wallMs = Date.now() - t0;
      const cpuUs = cpuTimeUs(server.pid) - cpu0;
      const f = run.final ?? {};
      const result = registrationResult({ rate, calls, run, cpuUs, wallMs });
      result.watchdog = (f['WatchdogMajor(C)'] ?? 0) + (f['WatchdogMinor(C)'] ?? 0);
      result.sippCpuUsPerReg = result.successful > 0 ? run.cpuUs / result.successful : null;
      if (run.errors.trim()) writeFileSync(join(server.runDir, `storm-${rate}`, 'errors-excerpt.txt'), run.errors.slice(0, 5000));
      if (cpuProfDir) result.window = { fromMs: t0 - spawnedAt, toMs: t0 - spawnedAt + wallMs };
      return result;
    } finally {
      await server.stop();
      if (!this.opts.keep) rmSync(join(server.runDir, 'data'), { recursive: true, force: true });
    }
  }

  /**
   * Memory per binding, three ways:
   *  - heap: the server's V8 heap after a full GC (through the inspector), before and after `n`
   *    registrations, once the REGISTER transactions have ended (Timer J) and the nonce replay
   *    records have expired, so only the bindings remain;
   *  - rss: growth of the server's VmRSS over the same span (includes allocator slack);
   *  - store: the RegistrationStore alone loaded with 100,000 bindings in a bare process.
   */
  async memory(rate) {
    const n = this.opts.memoryBindings;
    // Nonce records (kept nonceExpires seconds for replay detection) belong to requests, not to
    // bindings; a short lifetime lets them expire while we wait for Timer J.
    const server = await this.server({ inspect: true, nonceExpires: 10 });
    let storeHeap;
    try {
      // One registration first, so code and caches that the first request creates are in the baseline.
      await this.sipp(server, { rate: 10, calls: 1, file: this.warmupFile, name: 'memory-first' });
      const before = await server.memory();
      const rssBefore = rssBytes(server.pid);
      const run = await this.sipp(server, { rate, calls: n, file: this.usersFile, name: `memory-${rate}` });
      const registered = run.final?.['SuccessfulCall(C)'] ?? 0;
      log(`  memory: ${registered} registered at ${rate}/s; waiting ${Math.round((TIMER_J_MS + 2000) / 1000)} s for the transactions to end`);
      // The bare-store measurement runs meanwhile, on the generator's core, which is idle now.
      storeHeap = this.bindingHeap();
      await sleep(TIMER_J_MS + 2000);
      // Refreshing the first user again makes the digest server prune the expired nonce records.
      await this.sipp(server, { rate: 10, calls: 1, file: this.warmupFile, name: 'memory-last' });
      const after = await server.memory();
      const rssAfter = rssBytes(server.pid);
      await server.stop();
      const stored = await this.countStored(server.configPath, String(FIRST_WARMUP_USER).slice(0, 2));
      // Divide by what the server holds: a call SIPp counted as failed may still have registered.
      const bindings = stored > 0 ? stored : registered;
      return {
        rate,
        registered,
        stored,
        heapBefore: before.heapUsed,
        heapAfter: after.heapUsed,
        heapPerBinding: bindings > 0 ? (after.heapUsed - before.heapUsed) / bindings : null,
        rssBefore,
        rssAfter,
        rssPerBinding: bindings > 0 ? (rssAfter - rssBefore) / bindings : null,
        store: await storeHeap,
      };
    } finally {
      await server.stop();
      if (!this.opts.keep) rmSync(join(server.runDir, 'data'), { recursive: true, force: true });
    }
  }

  /**
   * Bindings of the measured users that the server saved, as listed by `hibiki registrations`
   * (a cross-check of the count). Lines of the warm-up user (its AOR starts with `otherPrefix`,
   * which no measured user's does) are left out.
   */
  countStored(configPath, otherPrefix) {
    return new Promise((resolve) => {
      const child = track(spawn(process.execPath, [CLI, 'registrations', '--config', configPath], { stdio: ['ignore', 'pipe', 'ignore'] }));
      let count = 0;
      let tail = '';
      const take = (line) => {
        if (line !== '' && !line.startsWith(otherPrefix)) count++;
      };
      child.stdout.on('data', (d) => {
        const parts = (tail + d.toString()).split('\n');
        tail = parts.pop() ?? '';
        parts.forEach(take);
      });
      child.on('exit', () => {
        take(tail);
        resolve(count);
      });
    });
  }

  bindingHeap() {
    return new Promise((resolve) => {
      const [cmd, args] = pinned(this.pin.generator, process.execPath, ['--expose-gc', BINDING_HEAP, '100000']);
      const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
      let out = '';
      child.stdout.on('data', (d) => (out += d.toString()));
      child.stderr.on('data', (d) => (out += d.toString()));
      child.on('exit', (code) => {
        try {
          resolve(code === 0 ? JSON.parse(out) : { error: out.slice(-2000) });
        } catch {
          resolve({ error: out.slice(-2000) });
        }
      });
    });
  }

  profile(rate) {
    return profileRate(this.dir, rate, (cpuProfDir) => this.rate(rate, { cpuProfDir }));
  }

  cleanup() {
    if (!this.opts.keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

export function formatRates(rates) {
  const head =
    '| offered reg/s | registered | failed | retrans | achieved reg/s | server CPU µs/reg | server core | auth REGISTER→200 p50 / p99 / max ms | REGISTER→401 p99 ms | sipp CPU µs/reg | clean |';
  const rule = '|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|';
  const rows = rates.map(
    (r) =>
      `| ${int(r.rate)} | ${int(r.successful)} | ${int(r.failed)} | ${int(r.retransmissions)} | ${int(r.achievedPerSec)} | ${int(r.serverCpuUsPerReg)} | ${Math.round(r.serverCoreShare * 100)} % | ${ms(r.authRtt.p50)} / ${ms(r.authRtt.p99)} / ${ms(r.authRtt.max)} | ${ms(r.challengeRtt.p99)} | ${int(r.sippCpuUsPerReg)} | ${r.clean ? 'yes' : `no (${r.problems.join(', ')})`} |`,
  );
  return [head, rule, ...rows].join('\n');
}

export async function main(argv) {
  installCleanup();
  const opts = parseOptions(argv);
  const version = preflight(CLI);
  const bench = new Bench(opts);
  const startedAt = new Date();
  log(`register storm: ${opts.rates.join(', ')} reg/s × ${opts.duration} s, ${bench.users.length} extensions, ${bench.pin.note}, sipp ${version}`);
  const results = { startedAt: startedAt.toISOString(), options: opts, pinning: bench.pin, sipp: version, loadBefore: loadavg()[0], rates: [] };
  if (results.loadBefore > 0.5) log(`  note: load average ${results.loadBefore.toFixed(2)} before the run — other work on this machine makes the figures noisier`);
  results.peer = kamailioPeer(opts.peers);
  if (results.peer?.skipped) log(`  ${results.peer.skipped}`);
  else if (results.peer) results.peer.rates = [];
  try {
    const runRate = async (rate) => {
      log(`  ${rate} reg/s …`);
      const r = await bench.rate(rate);
      results.rates.push(r);
      log(
        `  ${rate} reg/s: ${r.successful}/${r.calls} ok, ${r.failed} failed, ${r.retransmissions} retrans, ${int(r.serverCpuUsPerReg)} µs CPU/reg, p99 ${ms(r.authRtt.p99)} ms${r.clean ? '' : ` — not clean: ${r.problems.join(', ')}`}`,
      );
      // The same storm against Kamailio right after, so both see the same machine.
      if (results.peer?.rates) {
        const k = await kamailioRegisterRate(bench, { rate, dir: bench.dir });
        results.peer.rates.push(k);
        log(
          `  ${rate} reg/s against Kamailio: ${k.successful}/${k.calls} ok, ${int(k.serverCpuUsPerReg)} µs CPU/reg, p99 ${ms(k.authRtt.p99)} ms${k.clean ? '' : ` — not clean: ${k.problems.join(', ')}`}`,
        );
      }
      return r;
    };
    let lastClean = 0;
    for (const rate of opts.rates) {
      const r = await runRate(rate);
      if (r.clean) lastClean = Math.max(lastClean, rate);
      else if (!opts.all) {
        // Overload is a cliff: one more run halfway to the failed rate narrows where it is.
        const mid = Math.round((lastClean + rate) / 2 / 250) * 250;
        if (lastClean > 0 && mid > lastClean && mid < rate) await runRate(mid);
        break;
      }
    }
    const clean = results.rates.filter((r) => r.clean);
    results.best = clean.length > 0 ? clean.reduce((a, b) => (b.rate > a.rate ? b : a)) : null;
    if (opts.memoryBindings > 0) {
      // Memory does not depend on speed: use a rate well inside what passed, so every call registers.
      const rate = Math.min(results.best?.rate ?? 1000, 2000);
      log(`  memory: ${opts.memoryBindings} bindings at ${rate} reg/s …`);
      results.memory = await bench.memory(rate);
    }
    if (opts.profile !== undefined) {
      const rate = opts.profile === 'auto' ? (results.best?.rate ?? opts.rates[0]) : opts.profile;
      log(`  profiling a storm at ${rate} reg/s …`);
      results.profile = await bench.profile(rate);
    }
  } finally {
    results.dir = opts.keep ? bench.dir : undefined;
    bench.cleanup();
  }
  results.finishedAt = new Date().toISOString();
  results.report = report(results);
  results.sideBySide = registerSideBySide(results).summary;
  process.stdout.write(results.report + '\n');
  if (opts.json) writeFileSync(opts.json, JSON.stringify(results, null, 2));
  return results;
}

/** Issue #2 goals for the project's 2-core machine (anchors-performance.md §7, G7 and G9). */
export const GOALS = { rate: 4000, p99Ms: 5, bytesPerBinding: 1024 };
/** Issue #13, goal 2 (the per-binding memory goal is the same as issue #2's, above). */
export const ISSUE13 = { cpuUsPerReg: 150, cleanRate: 6000, p99Rate: 4000, p99Ms: 10 };

function issue13Lines(results) {
  const g = ISSUE13;
  const best = results.best;
  const clean6k = results.rates.find((r) => r.clean && r.rate >= g.cleanRate);
  // CPU per registration where the goal asks for the rate; else at the highest clean rate there was.
  const cpuRun = clean6k ?? best;
  return [
    goalLine(
      `(issue #13) ≤ ${g.cpuUsPerReg} µs server CPU per registration`,
      cpuRun != null && cpuRun.serverCpuUsPerReg <= g.cpuUsPerReg,
      cpuRun ? `${int(cpuRun.serverCpuUsPerReg)} µs at ${int(cpuRun.rate)}/s` : 'no clean rate',
    ),
    goalLine(`(issue #13) clean at ${int(g.cleanRate)} registrations/s`, clean6k !== undefined, `highest clean ${best ? `${int(best.rate)}/s` : 'none'}`),
    goalAtRate(
      `(issue #13) REGISTER→200 p99 ≤ ${g.p99Ms} ms at ${int(g.p99Rate)}/s`,
      results,
      g.p99Rate,
      (r) => r.authRtt.p99 <= g.p99Ms,
      (r) => `p99 ${ms(r.authRtt.p99)} ms`,
    ),
  ];
}

function goalLines(results) {
  const mark = (ok) => (ok ? 'met' : 'NOT met');
  const atGoal = results.rates.filter((r) => r.clean && r.rate >= GOALS.rate);
  const best = results.best;
  const out = [`Goal ≥ ${int(GOALS.rate)} authenticated registrations/s with 0 failures: ${mark(atGoal.length > 0)}${best ? ` (highest clean ${int(best.rate)}/s)` : ''}`];
  const p99Run = atGoal.length > 0 ? atGoal.reduce((a, b) => (a.rate < b.rate ? a : b)) : best;
  if (p99Run) out.push(`Goal p99 ≤ ${GOALS.p99Ms} ms at that rate: ${mark(atGoal.length > 0 && p99Run.authRtt.p99 <= GOALS.p99Ms)} (p99 ${ms(p99Run.authRtt.p99)} ms at ${int(p99Run.rate)}/s)`);
  const m = results.memory;
  if (m && Number.isFinite(m.heapPerBinding)) {
    out.push(`Goal ≤ ${GOALS.bytesPerBinding} B per binding (server JS heap): ${mark(m.heapPerBinding <= GOALS.bytesPerBinding)} (${int(m.heapPerBinding)} B)`);
  }
  return [...out, ...issue13Lines(results)];
}

export function report(results) {
  const lines = ['', '## REGISTER storm (digest auth, UDP, unique users)', '', formatRates(results.rates), ''];
  const best = results.best;
  if (best) {
    lines.push(
      `Highest clean rate: ${int(best.rate)} reg/s — ${int(best.serverCpuUsPerReg)} µs server CPU per registration ` +
        `(≈ ${int(1e6 / best.serverCpuUsPerReg)} reg/s per core), p99 authenticated REGISTER→200 ${ms(best.authRtt.p99)} ms.`,
    );
  } else {
    lines.push('No rate ran clean (0 failed, 0 retransmissions).');
  }
  const m = results.memory;
  if (m) {
    lines.push(
      '',
      `Memory per binding (${int(m.registered)} registered, ${int(m.stored)} stored):`,
      `  server JS heap after full GC: ${int(m.heapPerBinding)} B/binding (${(m.heapBefore / 2 ** 20).toFixed(1)} → ${(m.heapAfter / 2 ** 20).toFixed(1)} MiB)`,
      `  server RSS growth:            ${int(m.rssPerBinding)} B/binding (${(m.rssBefore / 2 ** 20).toFixed(1)} → ${(m.rssAfter / 2 ** 20).toFixed(1)} MiB)`,
      m.store?.error
        ? `  RegistrationStore alone:      failed: ${m.store.error}`
        : `  RegistrationStore alone:      ${int(m.store?.heapPerBinding)} B/binding JS heap (${int(m.store?.bindings)} bindings, bare process)`,
    );
  }
  lines.push('', ...goalLines(results));
  const sideBySide = registerSideBySide(results);
  if (sideBySide.text) lines.push(sideBySide.text);
  if (results.profile?.text) lines.push('', `CPU profile of a storm at ${results.profile.rate} reg/s (${results.profile.file}):`, results.profile.text);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`register-storm: ${err.message}\n`);
    process.exit(1);
  });
}
