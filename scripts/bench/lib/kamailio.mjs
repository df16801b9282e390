// Kamailio side by side with hibiki (issue #13 goal 6): the call-rate and register-storm benchmarks run
// the same sipp load through Kamailio (Debian `kamailio`, scripts/install-bench-peers.sh), right after
// hibiki's run at the same rate, and report hibiki's work per CPU-second as a ratio of Kamailio's.
//
// Kamailio runs from the configs in ../peers/ (ports and paths filled in here), in the foreground (-D:
// it still forks its worker, timer and helper processes), pinned to the server's core like hibiki (the
// children inherit the affinity). Its CPU is the sum of utime+stime of the main process and every
// process it forked, from /proc, over the same window as hibiki's.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuTimeUs, pinned, stopChild, track } from './proc.mjs';
import { callSetupResult, registrationResult } from './sipp.mjs';
import { summarize } from './percentile.mjs';
import { int, ms } from './report.mjs';
import { freeUdpPort } from './server.mjs';

const PEERS = fileURLToPath(new URL('../peers/', import.meta.url));
/** Shared memory for Kamailio (MiB): transactions in their wait timer and dialogs of a 2,000 calls/s run fit with room. */
const SHM_MB = 512;
/** Private memory per Kamailio process (MiB), as in the anchors' runs. */
const PKG_MB = 16;
const START_TIMEOUT_MS = 10_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Kamailio's version ("5.6.3"), or undefined when it is not installed. */
export function kamailioVersion() {
  const r = spawnSync('kamailio', ['-v'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return /version: kamailio ([^\s]+)/.exec(r.stdout)?.[1] ?? 'unknown';
}

/**
 * The side-by-side part (`--peers auto|off`): undefined when off; { skipped: line } when Kamailio is not
 * installed (the report says so); else { name, version }.
 */
export function kamailioPeer(mode) {
  if (mode === 'off') return undefined;
  const version = kamailioVersion();
  if (!version) return { skipped: 'Side by side with Kamailio: skipped, Kamailio is not installed (run scripts/install-bench-peers.sh as root).' };
  return { name: 'Kamailio', version };
}

/** The folder Debian (multiarch) or a source build puts the modules in. */
function modulesPath() {
  const candidates = [
    '/usr/lib/x86_64-linux-gnu/kamailio/modules',
    '/usr/lib/aarch64-linux-gnu/kamailio/modules',
    '/usr/lib/kamailio/modules',
    '/usr/local/lib64/kamailio/modules',
    '/usr/local/lib/kamailio/modules',
  ];
  try {
    for (const d of readdirSync('/usr/lib')) candidates.push(`/usr/lib/${d}/kamailio/modules`);
  } catch {
    // no /usr/lib: the fixed list only
  }
  const found = candidates.find((d) => existsSync(join(d, 'tm.so')));
  if (!found) throw new Error('Kamailio modules (tm.so) not found');
  return `${found}/`;
}

/** ../peers/kamailio-<kind>.cfg with its %%NAME%% words replaced. */
function writeConfig(dir, kind, values) {
  let text = readFileSync(join(PEERS, `kamailio-${kind}.cfg`), 'utf8');
  for (const [name, value] of Object.entries(values)) text = text.replaceAll(`%%${name}%%`, value);
  const left = /%%([A-Z]+)%%/.exec(text);
  if (left) throw new Error(`kamailio-${kind}.cfg: no value for ${left[1]}`);
  const file = join(dir, `kamailio-${kind}.cfg`);
  writeFileSync(file, text);
  return file;
}

/** Whether some socket is bound to this local UDP port on 127.0.0.1 (/proc/net/udp, addresses in hex). */
function udpBound(port) {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'utf8').includes(` ${local} `);
}

/** The pids of a process's children (ppid = pid), from /proc. */
function childPids(pid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Starts Kamailio with ../peers/kamailio-<kind>.cfg on 127.0.0.1:port, pinned to `core`. Resolves once
 * its port is bound and its processes are forked: { pid, cpuUs() (all its processes), stop() }.
 */
export async function startKamailio({ kind, dir, port, core, values = {} }) {
  mkdirSync(dir, { recursive: true });
  const config = writeConfig(dir, kind, { LISTEN: `udp:127.0.0.1:${port}`, MPATH: modulesPath(), ...values });
  // -D: foreground (its workers still fork), -E: log to stderr, -Y: its runtime files in our folder.
  const args = ['-f', config, '-D', '-E', '-m', String(SHM_MB), '-M', String(PKG_MB), '-w', dir, '-Y', dir];
  const [cmd, cmdArgs] = pinned(core, 'kamailio', args);
  const child = track(spawn(cmd, cmdArgs, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d.toString()).slice(-4000)));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!udpBound(port)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`kamailio exited at start (${child.exitCode ?? child.signalCode}): ${stderr.slice(-1500)}`);
    if (Date.now() > deadline) {
      await stopChild(child, 1000);
      throw new Error(`kamailio did not bind udp 127.0.0.1:${port}: ${stderr.slice(-1500)}`);
    }
    await sleep(50);
  }
  // The worker, timer and helper processes are forked right after the bind.
  await sleep(500);
  const pids = () => [child.pid, ...childPids(child.pid)];
  return {
    pid: child.pid,
    processes: () => pids().length,
    cpuUs: () => {
      let sum = 0;
      for (const pid of pids()) {
        try {
          sum += cpuTimeUs(pid);
        } catch {
          // ended between the listing and the read
        }
      }
      return sum;
    },
    stderr: () => stderr,
    stop: () => stopChild(child, 3000),
  };
}

/**
 * A Kamailio run that could not run (it did not start, sipp failed to start) is reported as an unclean
 * run with the reason, so hibiki's figures of the same script still come out.
 */
async function failedAsRun(run, { rate, calls, rtt }) {
  try {
    return await run();
  } catch (err) {
    const empty = Object.fromEntries(rtt.map((k) => [k, summarize([])]));
    return { rate, calls, successful: 0, failed: null, retransmissions: null, ...empty, clean: false, problems: [`Kamailio run failed: ${err.message.slice(0, 300)}`] };
  }
}

/** hibiki's work per CPU-second ÷ Kamailio's = Kamailio's CPU per operation ÷ hibiki's. */
export const ratio = (hibikiUs, peerUs) => (Number.isFinite(hibikiUs) && Number.isFinite(peerUs) && hibikiUs > 0 ? peerUs / hibikiUs : null);

// ---- call setup -------------------------------------------------------------------------------------

/**
 * One run at `rate` calls/s through Kamailio as a stateful proxy. `bench` is call-rate.mjs's Bench: its
 * caller() and callee() run the very sipp commands hibiki's run uses (scenarios, rate, hold, call limit,
 * pinning); the callee is reached by a static route to the sipp uas's port.
 */
export function kamailioCallRate(bench, { rate, dir }) {
  return failedAsRun(() => callRate(bench, { rate, dir }), { rate, calls: Math.round(rate * bench.opts.duration), rtt: ['inviteRtt', 'byeRtt'] });
}

async function callRate(bench, { rate, dir }) {
  const { hold, duration } = bench.opts;
  const calls = Math.round(rate * duration);
  const port = await freeUdpPort();
  const calleePort = await freeUdpPort();
  const runDir = join(dir, `kamailio-calls-${rate}`);
  const kam = await startKamailio({ kind: 'proxy', dir: join(runDir, 'kamailio'), port, core: bench.pin.server, values: { CALLEE: `sip:127.0.0.1:${calleePort}` } });
  const ctx = { target: { host: '127.0.0.1', port }, runDir, calleePort };
  const callee = bench.callee(ctx, calls);
  try {
    await sleep(300);
    const cpu0 = kam.cpuUs();
    const t0 = Date.now();
    const run = await bench.caller(ctx, { rate, calls, name: `calls-${rate}` });
    const wallMs = Date.now() - t0;
    const cpuUs = kam.cpuUs() - cpu0;
    const calleeRun = await Promise.race([callee.result, sleep(5000).then(() => null)]);
    return { ...callSetupResult({ rate, calls, run, calleeRun, cpuUs, wallMs, hold }), processes: kam.processes() };
  } finally {
    await callee.stop();
    await kam.stop();
  }
}

/** Issue #13 goal 6: hibiki's calls per CPU-second ≥ 0.8 × Kamailio's. */
export const CALL_GOAL = 0.8;

function ratioRows(hibikiRuns, peerRuns, unitKey, rttKey) {
  return peerRuns.map((k) => {
    const h = hibikiRuns.find((r) => r.rate === k.rate);
    const q = ratio(h?.[unitKey], k[unitKey]);
    const clean = (r) => (r ? (r.clean ? 'yes' : `no (${r.problems.join(', ')})`) : '–');
    return `| ${int(k.rate)} | ${int(h?.[unitKey])} | ${int(k[unitKey])} | ${q === null ? '–' : q.toFixed(2)} | ${ms(h?.[rttKey]?.p50)} / ${ms(h?.[rttKey]?.p99)} | ${ms(k[rttKey].p50)} / ${ms(k[rttKey].p99)} | ${clean(h)} | ${clean(k)} |`;
  });
}

/**
 * The headline ratio, at the highest rate both ran clean (else the highest rate hibiki ran clean), with
 * the goal verdict: { rate, ratio, line }. CPU per completed operation means nothing in a run that
 * collapsed into retransmissions, so without such a rate there is no ratio, only the table.
 */
function headline(hibikiRuns, peerRuns, unitKey, goal, what) {
  const pairs = peerRuns.map((k) => ({ k, h: hibikiRuns.find((r) => r.rate === k.rate) })).filter((p) => p.h && ratio(p.h[unitKey], p.k[unitKey]) !== null);
  const both = pairs.filter((p) => p.h.clean && p.k.clean);
  const usable = both.length > 0 ? both : pairs.filter((p) => p.h.clean);
  if (usable.length === 0) return { ratio: null, line: `${what}: no ratio, no rate ran clean through hibiki${pairs.length > 0 ? ' (per-rate figures in the table; a loaded machine?)' : ''}` };
  const pick = usable.reduce((a, b) => (b.k.rate > a.k.rate ? b : a));
  const q = ratio(pick.h[unitKey], pick.k[unitKey]);
  return {
    rate: pick.k.rate,
    ratio: q,
    line: `${what} at ${int(pick.k.rate)}/s${both.length > 0 ? '' : ' (Kamailio not clean there)'}: ${q.toFixed(2)} × Kamailio's (goal ≥ ${goal}: ${q >= goal ? 'met' : 'NOT met'})`,
  };
}

/**
 * A report's side-by-side section and the summary line run.mjs prints: `what` names the work in the
 * summary, `setup` describes Kamailio's role, `unit`/`units` the work counted, `cpuKey` and `rttKey`
 * the per-rate result fields compared.
 */
function sideBySide(results, { what, setup, unit, units, response, cpuKey, rttKey, goal, headlineLabel }) {
  const peer = results.peer;
  if (!peer) return { text: '', summary: [] };
  if (peer.skipped) return { text: `\n${peer.skipped}`, summary: [`${what}: ${peer.skipped}`] };
  const head = headline(results.rates, peer.rates, cpuKey, goal, headlineLabel);
  const lines = [
    '',
    `### Side by side with Kamailio ${peer.version} (${setup}, one worker, same sipp load and pinning)`,
    '',
    `| offered ${units}/s | hibiki CPU µs/${unit} | Kamailio CPU µs/${unit} | ratio (hibiki ${units} per CPU-s ÷ Kamailio's) | hibiki ${response} p50 / p99 ms | Kamailio ${response} p50 / p99 ms | hibiki clean | Kamailio clean |`,
    '|---:|---:|---:|---:|---|---|---|---|',
    ...ratioRows(results.rates, peer.rates, cpuKey, rttKey),
    '',
    head.line,
  ];
  return { text: lines.join('\n'), summary: [head.line], headline: head };
}

/** The call-rate report's side-by-side section and the summary line run.mjs prints. */
export function callSideBySide(results) {
  return sideBySide(results, {
    what: 'Call setup',
    setup: 'stateful proxy: tm + rr + dialog',
    unit: 'call',
    units: 'calls',
    response: 'INVITE→200',
    cpuKey: 'serverCpuUsPerCall',
    rttKey: 'inviteRtt',
    goal: CALL_GOAL,
    headlineLabel: 'Call setup, hibiki calls per CPU-second',
  });
}

// ---- registration ------------------------------------------------------------------------------------

/**
 * One storm at `rate` registrations/s against Kamailio as a digest-auth registrar. `bench` is
 * register-storm.mjs's Bench: its sipp() runs the very command hibiki's storm uses (scenario, users and
 * their passwords, rate, pinning).
 */
export function kamailioRegisterRate(bench, { rate, dir }) {
  return failedAsRun(() => registerRate(bench, { rate, dir }), { rate, calls: Math.round(rate * bench.opts.duration), rtt: ['authRtt', 'challengeRtt'] });
}

async function registerRate(bench, { rate, dir }) {
  const calls = Math.round(rate * bench.opts.duration);
  const port = await freeUdpPort();
  const runDir = join(dir, `kamailio-register-${rate}`);
  const kam = await startKamailio({ kind: 'registrar', dir: join(runDir, 'kamailio'), port, core: bench.pin.server });
  try {
    await sleep(200);
    const cpu0 = kam.cpuUs();
    const t0 = Date.now();
    const run = await bench.sipp({ runDir, port }, { rate, calls, file: bench.usersFile, name: `storm-${rate}` });
    const wallMs = Date.now() - t0;
    const cpuUs = kam.cpuUs() - cpu0;
    return { ...registrationResult({ rate, calls, run, cpuUs, wallMs }), processes: kam.processes() };
  } finally {
    await kam.stop();
  }
}

/** Issue #13 goal 6: hibiki's registrations per CPU-second ≥ 0.5 × Kamailio's (hibiki stores to SQLite, Kamailio in memory). */
export const REGISTER_GOAL = 0.5;

/** The register-storm report's side-by-side section and the summary line run.mjs prints. */
export function registerSideBySide(results) {
  return sideBySide(results, {
    what: 'Registration',
    setup: 'registrar: digest auth with qop=auth, usrloc in memory',
    unit: 'reg',
    units: 'reg',
    response: 'REGISTER→200',
    cpuKey: 'serverCpuUsPerReg',
    rttKey: 'authRtt',
    goal: REGISTER_GOAL,
    headlineLabel: 'Registration, hibiki registrations per CPU-second',
  });
}
