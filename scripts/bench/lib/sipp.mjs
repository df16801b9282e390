// Runs sipp as a load generator (SIPp 3.6, Debian package sip-tester) and reads its statistics.
// Settings follow the pitfalls met when benchmarking with sipp: always -recv_timeout (else a lost
// final response hangs the run), raised -max_recv_loops/-max_sched_loops so sipp itself keeps up at
// thousands of calls/s, per-second counters with -trace_stat and every response time with
// -trace_rtt -rtt_freq 1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuTimeUs, pinned, track } from './proc.mjs';
import { readRtt, summarize } from './percentile.mjs';

/** What every benchmark needs before it starts: sipp installed and the server built. Returns sipp's version. */
export function preflight(cli) {
  const version = sippVersion();
  if (!version) throw new Error('sipp not found (Debian/Ubuntu: apt-get install sip-tester)');
  try {
    readFileSync(cli);
  } catch {
    throw new Error(`${cli} missing: run "npm run build" first`);
  }
  return version;
}

export function sippVersion() {
  const r = spawnSync('sipp', ['-v'], { encoding: 'utf8' });
  if (r.error) return undefined;
  const m = /SIPp v?([^\s,]+)/.exec(`${r.stdout}${r.stderr}`);
  return m ? m[1].replace(/\.$/, '') : 'unknown';
}

/** Rows of a -trace_stat CSV as objects keyed by column name ("SuccessfulCall(C)", …). */
export function readStatCsv(file) {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  if (lines.length < 2) return [];
  const header = lines[0].split(';');
  return lines.slice(1).map((line) => {
    const cells = line.split(';');
    const row = {};
    header.forEach((name, i) => {
      if (!name) return;
      const raw = cells[i] ?? '';
      const n = Number(raw);
      row[name] = raw !== '' && Number.isFinite(n) ? n : raw;
    });
    return row;
  });
}

/** "HH:MM:SS:mmmuuu" (sipp's ElapsedTime) → seconds. */
export function elapsedSeconds(text) {
  const m = /^(\d+):(\d+):(\d+):(\d{3})(\d{3})?/.exec(String(text));
  if (!m) return NaN;
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000 + Number(m[5] ?? 0) / 1e6;
}

/**
 * Runs one scenario at a fixed rate until `calls` calls were made. Optional: `localHost` (sipp's -i,
 * default 127.0.0.1), `injectFile`, `maxSeconds` (sipp's -timeout), `extraArgs` (appended, e.g. ['-d', '1000']),
 * `onChild(child)` (the sipp process, e.g. to stop a UAS that serves several runs).
 * @returns {Promise<{code, signal, timedOut, stats, final, rtt, cpuUs, wallMs, errors, stderr}>}
 */
export function runSipp(opts) {
  const { scenario, target, rate, calls, injectFile, dir, localPort = 0, localHost = '127.0.0.1', core, recvTimeoutMs = 5000, limit, extraArgs = [] } = opts;
  const statFile = join(dir, 'stat.csv');
  const errorFile = join(dir, 'errors.log');
  const maxSeconds = opts.maxSeconds ?? Math.ceil(calls / rate) + 30;
  const args = [
    `${target.host}:${target.port}`,
    '-sf',
    scenario,
    ...(injectFile ? ['-inf', injectFile] : []),
    '-i',
    localHost,
    '-p',
    String(localPort),
    '-t',
    'u1',
    '-r',
    String(rate),
    '-rp',
    '1000',
    '-m',
    String(calls),
    // Calls in progress allowed at once: two seconds' worth, so sipp never throttles a healthy server
    // but a stalled one cannot make it open tens of thousands of calls.
    '-l',
    String(limit ?? Math.max(1000, rate * 2)),
    '-nostdin',
    '-recv_timeout',
    String(recvTimeoutMs),
    '-timeout',
    `${maxSeconds}s`,
    '-timeout_error',
    '-max_recv_loops',
    '10000',
    '-max_sched_loops',
    '10000',
    '-trace_stat',
    '-stf',
    statFile,
    '-fd',
    '1',
    '-trace_rtt',
    '-rtt_freq',
    '1',
    '-trace_err',
    '-error_file',
    errorFile,
    ...extraArgs,
  ];
  const [cmd, cmdArgs] = pinned(core, 'sipp', args);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = track(spawn(cmd, cmdArgs, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }));
    opts.onChild?.(child);
    let stderr = '';
    let lastCpu = 0;
    child.stderr.on('data', (d) => (stderr = (stderr + d.toString()).slice(-4000)));
    // sipp's own CPU, for the tester baseline (RFC 7502 asks for it); sampled until it exits.
    const sampler = setInterval(() => {
      try {
        lastCpu = cpuTimeUs(child.pid);
      } catch {
        // exited between samples
      }
    }, 200);
    let timedOut = false;
    const killer = setTimeout(
      () => {
        timedOut = true;
        child.kill('SIGKILL');
      },
      (maxSeconds + 15) * 1000,
    );
    child.once('error', (err) => {
      clearInterval(sampler);
      clearTimeout(killer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearInterval(sampler);
      clearTimeout(killer);
      // The caller may already have removed the run directory (a UAS stopped after its run): then
      // there is nothing to read, which must not throw out of this event handler.
      const attempt = (read, fallback) => {
        try {
          return read();
        } catch {
          return fallback;
        }
      };
      const stats = attempt(() => (existsSync(statFile) ? readStatCsv(statFile) : []), []);
      const rttFile = attempt(() => readdirSync(dir).find((f) => f.endsWith('_rtt.csv')), undefined);
      const rtt = rttFile ? attempt(() => readRtt(join(dir, rttFile)), new Map()) : new Map();
      const errors = attempt(() => (existsSync(errorFile) ? readFileSync(errorFile, 'utf8') : ''), '');
      resolve({ code, signal, timedOut, stats, final: stats.at(-1), rtt, cpuUs: lastCpu, wallMs: Date.now() - started, errors, stderr });
    });
  });
}

/**
 * Whether a sipp run counts: it ended by itself with exit 0, no failed call, no retransmission, and
 * every call done (`done` names what a successful call is: "registered", "completed").
 */
export function sippVerdict(run, calls, done) {
  const f = run.final ?? {};
  const problems = [];
  if (run.timedOut) problems.push('sipp timed out');
  if (run.code !== 0) problems.push(`sipp exit ${run.code ?? run.signal}`);
  if ((f['FailedCall(C)'] ?? 1) !== 0) problems.push(`${f['FailedCall(C)'] ?? '?'} failed`);
  if ((f['Retransmissions(C)'] ?? 1) !== 0) problems.push(`${f['Retransmissions(C)'] ?? '?'} retransmissions`);
  if ((f['SuccessfulCall(C)'] ?? 0) !== calls) problems.push(`${f['SuccessfulCall(C)'] ?? 0}/${calls} ${done}`);
  return { clean: problems.length === 0, problems };
}

/**
 * The verdict of a call-setup run: the caller's (sippVerdict) plus the callee's — it must have finished
 * (calleeRun null: it did not), exited 0 and retransmitted nothing. Adds `calleeRetrans`.
 */
export function callSetupVerdict(run, calleeRun, calls) {
  const verdict = sippVerdict(run, calls, 'completed');
  const cf = calleeRun?.final ?? {};
  const calleeRetrans = calleeRun ? (cf['Retransmissions(C)'] ?? null) : null;
  if (calleeRun === null) verdict.problems.push('callee did not finish');
  else if (calleeRun.code !== 0) verdict.problems.push(`callee sipp exit ${calleeRun.code ?? calleeRun.signal}, ${cf['FailedCall(C)'] ?? '?'} failed`);
  if (calleeRetrans) verdict.problems.push(`${calleeRetrans} callee retransmissions`);
  verdict.clean = verdict.problems.length === 0;
  return { verdict, calleeRetrans };
}

/** sipp's final counts of a run (successful, failed, retransmissions), and its successes and elapsed seconds. */
function runCounts(run) {
  const f = run.final ?? {};
  const ok = f['SuccessfulCall(C)'] ?? 0;
  const counts = { successful: ok, failed: f['FailedCall(C)'] ?? null, retransmissions: f['Retransmissions(C)'] ?? null };
  return { counts, ok, elapsed: elapsedSeconds(f['ElapsedTime(C)']) };
}

/**
 * The figures of one call-setup run through a server (hibiki or Kamailio): `cpuUs` of the server over the
 * caller's `wallMs`, the caller's and callee's sipp runs, `hold` ms per call.
 */
export function callSetupResult({ rate, calls, run, calleeRun, cpuUs, wallMs, hold }) {
  const { counts, ok, elapsed } = runCounts(run);
  const { verdict, calleeRetrans } = callSetupVerdict(run, calleeRun, calls);
  return {
    rate,
    calls,
    ...counts,
    calleeRetransmissions: calleeRetrans,
    // sipp's elapsed time ends with the last call's hold and BYE, which are not part of the offered rate.
    achievedPerSec: ok / Math.max(0.001, (elapsed || wallMs / 1000) - hold / 1000),
    // The run includes the last calls' hold time, in which only their BYEs are handled.
    serverCpuUsPerCall: ok > 0 ? cpuUs / ok : null,
    serverCoreShare: cpuUs / 1000 / wallMs,
    inviteRtt: summarize(run.rtt.get(1) ?? []),
    byeRtt: summarize(run.rtt.get(2) ?? []),
    ...verdict,
  };
}

/**
 * One registration-storm run's figures, for hibiki (register-storm.mjs) and for the same load through
 * Kamailio: sipp's counts, the achieved rate, the server's CPU per registration and core share, the
 * authenticated REGISTER→200 (timer 2) and REGISTER→401 (timer 1) times, and the verdict.
 */
export function registrationResult({ rate, calls, run, cpuUs, wallMs }) {
  const { counts, ok, elapsed } = runCounts(run);
  return {
    rate,
    calls,
    ...counts,
    achievedPerSec: ok / (elapsed || wallMs / 1000),
    serverCpuUsPerReg: ok > 0 ? cpuUs / ok : null,
    serverCoreShare: cpuUs / 1000 / wallMs,
    authRtt: summarize(run.rtt.get(2) ?? []),
    challengeRtt: summarize(run.rtt.get(1) ?? []),
    ...sippVerdict(run, calls, 'registered'),
  };
}
