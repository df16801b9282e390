// Call setup rate (issue #3 (a), goal G4 of the performance anchors): sipp as a carrier on an
// IP-authenticated trunk (127.0.0.3, no digest: sipp's uac cannot authenticate) calls a DID at a fixed
// rate; hibiki routes each call as a B2BUA to extension 2002, a sipp UAS registered from 127.0.0.1 that
// answers at once. Signalling only (hibiki still allocates an RTP endpoint per leg; no RTP flows),
// calls held 1 s (-d 1000), then BYE from the caller. Reports per rate: completed calls/s, failures,
// retransmissions, server CPU µs per call (utime+stime of the server process, all threads, from
// /proc/<pid>/stat), INVITE→200 percentiles from sipp's -trace_rtt, and sipp's own CPU.
//
// Usage: npm run build && node scripts/bench/call-rate.mjs [options]
//   --rates 250,500,1000,1500,2000   offered calls/s, run in this order (default); the ladder stops at the
//                                first rate that is not clean and then tries once halfway between it and
//                                the last clean one
//   --duration 15                seconds of calls per rate
//   --warmup 2                   seconds at 200 calls/s before each measured run (JIT warm-up)
//   --hold 1000                  ms between ACK and BYE
//   --all                        run every rate even after one fails, and no bracket
//   --profile [RATE]             one more run under `node --cpu-prof` and a summary of the hot spots
//   --json FILE                  write the results as JSON (used by run.mjs)
//   --retained                   start the server with the inspector and report the heap still held per
//                                finished call after the run (a finished call's transactions linger up to
//                                64*T1 = 32 s; what they keep costs GC time under load)
//   --keep                       keep the temporary directory (configs, sipp logs, profiles)
//   --peers auto                 auto: after each rate, the same load through Kamailio as a stateful proxy
//                                when it is installed, and the ratio (lib/kamailio.mjs); off: hibiki only
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuTimeUs, installCleanup, pinning, stopChild } from './lib/proc.mjs';
import { callSetupResult, preflight, runSipp } from './lib/sipp.mjs';
import { benchConfigHead, CLI, freeUdpPort, startServer, writeYaml } from './lib/server.mjs';
import { goalAtRate, goalLine, int, ms, profileRate } from './lib/report.mjs';
import { CALLEE, CARRIER_HOST, callSetupSections, REGISTER, UAC, UAS } from './lib/call-setup.mjs';
import { callSideBySide, kamailioCallRate, kamailioPeer } from './lib/kamailio.mjs';

const CALLEE_PASSWORD = 'bench-2002';
const WARMUP_RATE = 200;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => process.stderr.write(line + '\n');

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      rates: { type: 'string', default: '250,500,1000,1500,2000' },
      duration: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '2' },
      hold: { type: 'string', default: '1000' },
      all: { type: 'boolean', default: false },
      profile: { type: 'string' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
      retained: { type: 'boolean', default: false },
      peers: { type: 'string', default: 'auto' },
    },
  });
  const rates = values.rates.split(',').map((r) => Number(r.trim()));
  if (rates.some((r) => !Number.isInteger(r) || r <= 0 || r > 20_000)) throw new Error(`bad --rates ${values.rates}`);
  const duration = Number(values.duration);
  const warmup = Number(values.warmup);
  const hold = Number(values.hold);
  if (!(duration > 0 && duration <= 120)) throw new Error('--duration must be 1–120 s');
  if (!(warmup >= 0 && warmup <= 30)) throw new Error('--warmup must be 0–30 s');
  if (!(Number.isInteger(hold) && hold >= 0 && hold <= 60_000)) throw new Error('--hold must be 0–60000 ms');
  const profile = values.profile === undefined ? undefined : values.profile === '' ? 'auto' : Number(values.profile);
  if (!['auto', 'off'].includes(values.peers)) throw new Error('--peers must be auto or off');
  return { rates, duration, warmup, hold, all: values.all, profile, json: values.json, keep: values.keep, retained: values.retained, peers: values.peers };
}

function writeConfig(dir, { port, dataDir }) {
  // Unsolicited MWI off: the callee's registration would start an out-of-dialog NOTIFY that the UAS
  // scenario takes for a call and aborts, so the callee ends one call early and the last INVITE fails.
  const mwi = ['mwi:', '  unsolicited: false'];
  return writeYaml(dir, [...benchConfigHead({ port, dataDir }), ...mwi, ...callSetupSections({ calleePassword: CALLEE_PASSWORD })]);
}

class Bench {
  constructor(opts) {
    this.opts = opts;
    this.pin = pinning();
    this.dir = mkdtempSync(join(tmpdir(), 'hibiki-bench-calls-'));
    this.runIndex = 0;
    this.registerFile = join(this.dir, 'register.csv');
    writeFileSync(this.registerFile, `SEQUENTIAL\n${CALLEE};[authentication username=${CALLEE} password=${CALLEE_PASSWORD}];3600;\n`);
  }

  /** A fresh server with an empty database and the callee registered from a fixed port. */
  async setup(cpuProfDir) {
    const port = await freeUdpPort();
    const runDir = join(this.dir, `server-${++this.runIndex}`);
    mkdirSync(runDir);
    const configPath = writeConfig(runDir, { port, dataDir: join(runDir, 'data') });
    const server = await startServer({ configPath, port, core: this.pin.server, cpuProfDir, inspect: this.opts.retained });
    const target = { host: '127.0.0.1', port };
    const calleePort = await freeUdpPort();
    const regDir = join(runDir, 'register');
    mkdirSync(regDir);
    const reg = await runSipp({ scenario: REGISTER, target, rate: 1, calls: 1, injectFile: this.registerFile, dir: regDir, localPort: calleePort, core: this.pin.generator });
    if (reg.code !== 0) {
      await server.stop();
      throw new Error(`callee registration failed (sipp exit ${reg.code}): ${reg.errors.slice(0, 500)}`);
    }
    return { server, target, runDir, calleePort };
  }

  caller(ctx, { rate, calls, name }) {
    const dir = join(ctx.runDir, name);
    mkdirSync(dir);
    return runSipp({
      scenario: UAC,
      target: ctx.target,
      rate,
      calls,
      dir,
      localHost: CARRIER_HOST,
      core: this.pin.generator,
      // Calls in progress at once: the held second plus two of slack, so a stalled server shows as failures.
      limit: Math.max(1000, Math.ceil(rate * (this.opts.hold / 1000 + 2))),
      extraArgs: ['-d', String(this.opts.hold)],
    });
  }

  /** The callee answers every call of the run (warm-up included), then exits. */
  callee(ctx, calls) {
    const dir = join(ctx.runDir, 'callee');
    mkdirSync(dir);
    let child;
    const result = runSipp({
      scenario: UAS,
      target: ctx.target,
      rate: 1,
      calls,
      dir,
      localPort: ctx.calleePort,
      core: this.pin.generator,
      limit: 100_000,
      maxSeconds: Math.ceil(this.opts.warmup + this.opts.duration + this.opts.hold / 1000) + 60,
      onChild: (c) => (child = c),
    });
    return { result, stop: () => (child ? stopChild(child, 2000) : Promise.resolve()) };
  }

  async rate(rate, { cpuProfDir } = {}) {
    const calls = Math.round(rate * this.opts.duration);
    const warmupCalls = Math.round(WARMUP_RATE * this.opts.warmup);
    const ctx = await this.setup(cpuProfDir);
    const { server } = ctx;
    const callee = this.callee(ctx, warmupCalls + calls);
    try {
      const spawnedAt = Date.now() - server.startMs;
      await sleep(300);
      const heapBefore = this.opts.retained ? (await server.memory()).heapUsed : 0;
      if (warmupCalls > 0) {
        const w = await this.caller(ctx, { rate: WARMUP_RATE, calls: warmupCalls, name: 'warmup' });
        if (w.code !== 0) log(`  warm-up: sipp exit ${w.code} (${w.final?.['FailedCall(C)'] ?? '?'} failed) — continuing`);
        await sleep(1000);
      }
      const cpu0 = cpuTimeUs(server.pid);
      const t0 = Date.now();
      const run = await this.caller(ctx, { rate, calls, name: `calls-${rate}` });
      const wallMs = Date.now() - t0;
      const cpuUs = cpuTimeUs(server.pid) - cpu0;
      // The callee exits once it has answered every call; give it the BYE of the last one and its timewait.
      const calleeRun = await Promise.race([callee.result, sleep(5000).then(() => null)]);
      const result = callSetupResult({ rate, calls, run, calleeRun, cpuUs, wallMs, hold: this.opts.hold });
      const ok = result.successful;
      result.sippCpuUsPerCall = ok > 0 ? run.cpuUs / ok : null;
      if (this.opts.retained) {
        const heapAfter = (await server.memory()).heapUsed;
        result.heapHeldPerFinishedCall = (heapAfter - heapBefore) / Math.max(1, warmupCalls + ok);
        log(`  ${rate} calls/s: heap held after the run ${Math.round(result.heapHeldPerFinishedCall)} B per finished call`);
      }
      if (cpuProfDir) result.window = { fromMs: t0 - spawnedAt, toMs: t0 - spawnedAt + wallMs };
      return result;
    } finally {
      await callee.stop();
      await server.stop();
      if (!this.opts.keep) rmSync(join(ctx.runDir, 'data'), { recursive: true, force: true });
    }
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
    '| offered calls/s | completed | failed | retrans (caller / callee) | achieved calls/s | server CPU µs/call | server core | INVITE→200 p50 / p99 / max ms | BYE→200 p99 ms | sipp CPU µs/call | clean |';
  const rule = '|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|';
  const rows = rates.map(
    (r) =>
      `| ${int(r.rate)} | ${int(r.successful)} | ${int(r.failed)} | ${int(r.retransmissions)} / ${int(r.calleeRetransmissions)} | ${int(r.achievedPerSec)} | ${int(r.serverCpuUsPerCall)} | ${Math.round(r.serverCoreShare * 100)} % | ${ms(r.inviteRtt.p50)} / ${ms(r.inviteRtt.p99)} / ${ms(r.inviteRtt.max)} | ${ms(r.byeRtt.p99)} | ${int(r.sippCpuUsPerCall)} | ${r.clean ? 'yes' : `no (${r.problems.join(', ')})`} |`,
  );
  return [head, rule, ...rows].join('\n');
}

/** Issue #3 (a): ≥ 2,000 calls/s with 0 failed calls on the project's 2-core machine. */
export const GOALS = { rate: 2000 };
/** Issue #13, goal 1: CPU per call at 500/s, clean at 1,500/s, INVITE→200 p99 at 1,000/s. */
export const ISSUE13 = { cpuRate: 500, cpuUsPerCall: 1000, cleanRate: 1500, p99Rate: 1000, p99Ms: 10 };

/** Issue #13's call-setup goals against this run's rates. */
function issue13Lines(results) {
  const g = ISSUE13;
  const best = results.best;
  return [
    goalAtRate(
      `(issue #13) ≤ ${int(g.cpuUsPerCall)} µs server CPU per call at ${int(g.cpuRate)} calls/s`,
      results,
      g.cpuRate,
      (r) => r.serverCpuUsPerCall !== null && r.serverCpuUsPerCall <= g.cpuUsPerCall,
      (r) => `${int(r.serverCpuUsPerCall)} µs`,
    ),
    goalLine(
      `(issue #13) clean at ${int(g.cleanRate)} calls/s`,
      results.rates.some((r) => r.clean && r.rate >= g.cleanRate),
      `highest clean ${best ? `${int(best.rate)}/s` : 'none'}`,
    ),
    goalAtRate(
      `(issue #13) INVITE→200 p99 ≤ ${g.p99Ms} ms at ${int(g.p99Rate)} calls/s`,
      results,
      g.p99Rate,
      (r) => r.inviteRtt.p99 <= g.p99Ms,
      (r) => `p99 ${ms(r.inviteRtt.p99)} ms`,
    ),
  ];
}

export function report(results) {
  const lines = ['', `## Call setup rate (trunk → B2BUA → extension, UDP, signalling only, calls held ${results.options.hold} ms)`, '', formatRates(results.rates), ''];
  const best = results.best;
  if (best) {
    lines.push(
      `Highest clean rate: ${int(best.rate)} calls/s — ${int(best.serverCpuUsPerCall)} µs server CPU per call ` +
        `(≈ ${int(1e6 / best.serverCpuUsPerCall)} calls/s per core), p99 INVITE→200 ${ms(best.inviteRtt.p99)} ms.`,
    );
  } else {
    lines.push('No rate ran clean (0 failed, 0 retransmissions).');
  }
  const met = results.rates.some((r) => r.clean && r.rate >= GOALS.rate);
  lines.push('', `Goal ≥ ${int(GOALS.rate)} calls/s with 0 failed calls: ${met ? 'met' : 'NOT met'}${best ? ` (highest clean ${int(best.rate)}/s)` : ''}`, ...issue13Lines(results));
  const sideBySide = callSideBySide(results);
  if (sideBySide.text) lines.push(sideBySide.text);
  if (results.profile?.text) lines.push('', `CPU profile of a run at ${results.profile.rate} calls/s (${results.profile.file}):`, results.profile.text);
  return lines.join('\n');
}

export async function main(argv) {
  installCleanup();
  const opts = parseOptions(argv);
  const version = preflight(CLI);
  const bench = new Bench(opts);
  log(`call rate: ${opts.rates.join(', ')} calls/s × ${opts.duration} s, hold ${opts.hold} ms, ${bench.pin.note} (both sipps on the generator core), sipp ${version}`);
  const results = { startedAt: new Date().toISOString(), options: opts, pinning: bench.pin, sipp: version, loadBefore: loadavg()[0], rates: [] };
  if (results.loadBefore > 0.5) log(`  note: load average ${results.loadBefore.toFixed(2)} before the run — other work on this machine makes the figures noisier`);
  results.peer = kamailioPeer(opts.peers);
  if (results.peer?.skipped) log(`  ${results.peer.skipped}`);
  else if (results.peer) results.peer.rates = [];
  try {
    const runRate = async (rate) => {
      log(`  ${rate} calls/s …`);
      const r = await bench.rate(rate);
      results.rates.push(r);
      log(
        `  ${rate} calls/s: ${r.successful}/${r.calls} ok, ${r.failed} failed, ${r.retransmissions}/${r.calleeRetransmissions} retrans, ${int(r.serverCpuUsPerCall)} µs CPU/call, p99 INVITE→200 ${ms(r.inviteRtt.p99)} ms${r.clean ? '' : ` — not clean: ${r.problems.join(', ')}`}`,
      );
      // The same load through Kamailio right after, so both see the same machine.
      if (results.peer?.rates) {
        const k = await kamailioCallRate(bench, { rate, dir: bench.dir });
        results.peer.rates.push(k);
        log(
          `  ${rate} calls/s through Kamailio: ${k.successful}/${k.calls} ok, ${int(k.serverCpuUsPerCall)} µs CPU/call, p99 INVITE→200 ${ms(k.inviteRtt.p99)} ms${k.clean ? '' : ` — not clean: ${k.problems.join(', ')}`}`,
        );
      }
      return r;
    };
    let lastClean = 0;
    for (const rate of opts.rates) {
      const r = await runRate(rate);
      if (r.clean) lastClean = Math.max(lastClean, rate);
      else if (!opts.all) {
        const mid = Math.round((lastClean + rate) / 2 / 50) * 50;
        if (lastClean > 0 && mid > lastClean && mid < rate) await runRate(mid);
        break;
      }
    }
    const clean = results.rates.filter((r) => r.clean);
    results.best = clean.length > 0 ? clean.reduce((a, b) => (b.rate > a.rate ? b : a)) : null;
    if (opts.profile !== undefined) {
      const rate = opts.profile === 'auto' ? (results.best?.rate ?? opts.rates[0]) : opts.profile;
      log(`  profiling a run at ${rate} calls/s …`);
      results.profile = await bench.profile(rate);
    }
  } finally {
    results.dir = opts.keep ? bench.dir : undefined;
    bench.cleanup();
  }
  results.loadAfter = loadavg()[0];
  results.finishedAt = new Date().toISOString();
  results.report = report(results);
  results.sideBySide = callSideBySide(results).summary;
  process.stdout.write(results.report + '\n');
  if (opts.json) writeFileSync(opts.json, JSON.stringify(results, null, 2));
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`call-rate: ${err.message}\n`);
    process.exit(1);
  });
}
