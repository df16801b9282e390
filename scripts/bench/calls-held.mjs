// Memory per call in progress (issue #13 goal 5: ≤ 8 KiB of heap per call, both legs and their media
// endpoints): sipp as a carrier on the IP-authenticated trunk calls a DID at a fixed rate (as in
// call-rate.mjs), hibiki bridges each call to extension 2002 (a sipp UAS), allocating two media
// endpoints per call in its media worker as in production; every call is held for a long time. With
// all calls in progress, the server's JS heaps (main thread and media worker, through the inspector,
// after full GCs) and its RSS are compared with the same figures before the calls.
// Reports bytes per call in progress; with --snapshot also a heap snapshot histogram of each
// isolate before and with the calls held: what grew, by constructor name, bytes and objects per call.
//
// Every call holds two endpoints of two sockets each (RTP + RTCP): 5,000 calls are 20,000 sockets in
// the server, so the benchmark raises its open-files limit (it re-runs itself under `prlimit`, which
// needs root or a hard limit high enough; where even root cannot raise it, as in some containers, it
// holds as many calls as the limit allows and says so) and gives the media engine a wide media.rtpPorts.
//
// Usage: npm run build && node scripts/bench/calls-held.mjs [options]
//   --calls 5000        calls held at once
//   --rate 200          calls/s while ramping up (a busy machine makes a faster ramp retransmit, and
//                       sipp's UAS aborts a call on a retransmitted INVITE; bytes per call do not depend on it)
//   --snapshot          also take heap snapshots (before / held) and list the biggest growth per call
//   --json FILE         write the results as JSON (used by run.mjs)
//   --keep              keep the temporary directory (configs, sipp logs)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { installCleanup, pinning, rssBytes, stopChild } from './lib/proc.mjs';
import { readStatCsv, runSipp, preflight } from './lib/sipp.mjs';
import { benchConfigHead, CLI, freeUdpPort, startServer, writeYaml } from './lib/server.mjs';
import { int } from './lib/report.mjs';
import { CARRIER_HOST, CALLEE, callSetupSections, REGISTER, UAC, UAS } from './lib/call-setup.mjs';
import { allHeaps, heapHistogram, histogramGrowth, openInspector, retainerGrowth } from './lib/inspector.mjs';

const CALLEE_PASSWORD = 'bench-2002';
/** Goal 5 of issue #13. */
export const GOALS = { bytesPerCall: 8 * 1024 };
/** Sockets per call in the server (two endpoints, RTP + RTCP each) and a margin for everything else. */
const FDS_PER_CALL = 4;
const FD_MARGIN = 2000;
/** Calls made and ended before the baseline, so code and caches the first calls create are in it. */
const PRIMING_CALLS = 50;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => process.stderr.write(line + '\n');

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      calls: { type: 'string', default: '5000' },
      rate: { type: 'string', default: '200' },
      snapshot: { type: 'boolean', default: false },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const calls = Number(values.calls);
  const rate = Number(values.rate);
  if (!(Number.isInteger(calls) && calls > 0 && calls <= 20_000)) throw new Error('--calls must be 1–20000');
  if (!(Number.isInteger(rate) && rate > 0 && rate <= 5000)) throw new Error('--rate must be 1–5000');
  return { calls, rate, snapshot: values.snapshot, json: values.json, keep: values.keep };
}

function openFilesLimit() {
  const r = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return r.stdout.trim() === 'unlimited' ? Infinity : n;
}

/** Re-runs this script under prlimit with enough open files; undefined when not needed or not possible. */
function rerunWithMoreFiles(argv, needed) {
  if (process.env.HIBIKI_BENCH_PRLIMIT || openFilesLimit() >= needed) return undefined;
  const n = String(Math.max(needed, 65_536));
  // A container may refuse to raise the hard limit even to root.
  if (spawnSync('prlimit', [`--nofile=${n}:${n}`, 'true'], { stdio: 'ignore' }).status !== 0) return undefined;
  const r = spawnSync('prlimit', [`--nofile=${n}:${n}`, process.execPath, fileURLToPath(import.meta.url), ...argv], {
    stdio: 'inherit',
    env: { ...process.env, HIBIKI_BENCH_PRLIMIT: '1' },
  });
  if (r.error || r.status === null) return undefined;
  return r.status;
}

/** The calls' sipp stat file, last row (sipp writes one per second while it runs). */
function lastStat(dir) {
  try {
    return readStatCsv(join(dir, 'stat.csv')).at(-1) ?? {};
  } catch {
    return {};
  }
}

async function waitFor(pred, timeoutMs, stepMs = 500) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pred()) return true;
    await sleep(stepMs);
  }
  return false;
}

async function run(opts) {
  const pin = pinning();
  const dir = mkdtempSync(join(tmpdir(), 'hibiki-bench-held-'));
  const results = { startedAt: new Date().toISOString(), options: opts, pinning: pin, loadBefore: loadavg()[0], openFiles: openFilesLimit() };
  const port = await freeUdpPort();
  const configPath = writeYaml(dir, [...benchConfigHead({ port, dataDir: join(dir, 'data') }), ...callSetupSections({ calleePassword: CALLEE_PASSWORD })]);
  const server = await startServer({ configPath, port, core: pin.server, inspect: true });
  const target = { host: '127.0.0.1', port };
  const children = [];
  let session;
  try {
    const url = /Debugger listening on (ws:\/\/\S+)/.exec(server.output())?.[1];
    session = await openInspector(url);
    const registerFile = join(dir, 'register.csv');
    writeFileSync(registerFile, `SEQUENTIAL\n${CALLEE};[authentication username=${CALLEE} password=${CALLEE_PASSWORD}];3600;\n`);
    const calleePort = await freeUdpPort();
    mkdirSync(join(dir, 'register'));
    const reg = await runSipp({ scenario: REGISTER, target, rate: 1, calls: 1, injectFile: registerFile, dir: join(dir, 'register'), localPort: calleePort, core: pin.generator });
    if (reg.code !== 0) throw new Error(`callee registration failed (sipp exit ${reg.code})`);
    // One callee for the priming calls and the held ones; it answers at once and keeps every call until the BYE.
    const holdMs = Math.ceil((opts.calls / opts.rate) * 1000) + (opts.snapshot ? 240_000 : 60_000);
    mkdirSync(join(dir, 'callee'));
    let calleeChild;
    const callee = runSipp({
      scenario: UAS,
      target,
      rate: 1,
      // More than will come: a UAS that reaches -m ends, and with it every call it holds.
      calls: PRIMING_CALLS + opts.calls + 1000,
      dir: join(dir, 'callee'),
      localPort: calleePort,
      core: pin.generator,
      limit: opts.calls + PRIMING_CALLS + 100,
      maxSeconds: Math.ceil(holdMs / 1000) + 120,
      onChild: (c) => (calleeChild = c),
    });
    children.push(() => (calleeChild ? stopChild(calleeChild, 2000) : undefined));
    await sleep(300);
    mkdirSync(join(dir, 'priming'));
    const priming = await runSipp({ scenario: UAC, target, rate: 50, calls: PRIMING_CALLS, dir: join(dir, 'priming'), localHost: CARRIER_HOST, core: pin.generator, extraArgs: ['-d', '100'] });
    if ((priming.final?.['SuccessfulCall(C)'] ?? 0) !== PRIMING_CALLS) log(`  priming: ${priming.final?.['SuccessfulCall(C)'] ?? 0}/${PRIMING_CALLS} calls — continuing`);
    // Let the priming calls' transactions end (Timer J/K, 32 s on UDP for non-INVITE server
    // transactions; the held calls' own are over long before they are measured, as in a deployment).
    await sleep(33_000);
    const before = await allHeaps(session);
    const rssBefore = rssBytes(server.pid);
    log(`  before: heap ${mib(before.total)} MiB (${before.isolates.map((i) => `${i.label} ${mib(i.heapUsed)}`).join(', ')}), RSS ${mib(rssBefore)} MiB`);
    const histBefore = opts.snapshot ? await snapshots(session) : undefined;

    // The held calls: ramp at the given rate, each held long enough for the measurement.
    const callsDir = join(dir, 'calls');
    mkdirSync(callsDir);
    let callerChild;
    const caller = runSipp({
      scenario: UAC,
      target,
      rate: opts.rate,
      calls: opts.calls,
      dir: callsDir,
      localHost: CARRIER_HOST,
      core: pin.generator,
      limit: opts.calls + 100,
      maxSeconds: Math.ceil(holdMs / 1000) + 120,
      extraArgs: ['-d', String(holdMs)],
      onChild: (c) => (callerChild = c),
    });
    children.push(() => (callerChild ? stopChild(callerChild, 2000) : undefined));
    const rampMs = Math.ceil((opts.calls / opts.rate) * 1000);
    log(`  ramping ${opts.calls} calls at ${opts.rate}/s (${rampMs / 1000} s), each held ${holdMs / 1000} s`);
    await sleep(rampMs);
    // Every call answered (or failed) and their INVITE transactions ended: sipp's stat row shows it.
    await waitFor(() => {
      const s = lastStat(callsDir);
      return (s['TotalCallCreated'] ?? 0) >= opts.calls && (s['CurrentCall'] ?? 0) + (s['FailedCall(C)'] ?? 0) >= opts.calls;
    }, 30_000);
    await sleep(33_000);
    const stat = lastStat(callsDir);
    // Calls the caller has in progress: answered by the callee and not ended (a call the callee
    // failed fails on the caller's side too). sipp's UAS does not count its own calls in progress.
    const held = stat['CurrentCall'] ?? 0;
    const failed = stat['FailedCall(C)'] ?? 0;
    const after = await allHeaps(session);
    const rssAfter = rssBytes(server.pid);
    log(`  held ${held} calls (${failed} failed): heap ${mib(after.total)} MiB (${after.isolates.map((i) => `${i.label} ${mib(i.heapUsed)}`).join(', ')}), RSS ${mib(rssAfter)} MiB`);
    const histAfter = opts.snapshot ? await snapshots(session) : undefined;
    Object.assign(results, {
      held,
      failed,
      retransmissions: stat['Retransmissions(C)'] ?? null,
      heapBefore: before,
      heapAfter: after,
      rssBefore,
      rssAfter,
      heapPerCall: held > 0 ? (after.total - before.total) / held : null,
      perIsolate: after.isolates.map((a, i) => ({ label: a.label, perCall: held > 0 ? (a.heapUsed - (before.isolates[i]?.heapUsed ?? 0)) / held : null })),
      rssPerCall: held > 0 ? (rssAfter - rssBefore) / held : null,
    });
    if (histBefore && histAfter) {
      results.growth = histAfter.map((h, i) => ({
        label: h.label,
        rows: histogramGrowth(histBefore[i].hist, h.hist).map((r) => ({ ...r, perCall: r.bytes / Math.max(1, held), objectsPerCall: r.count / Math.max(1, held) })),
        holders: retainerGrowth(histBefore[i].retainers, h.retainers),
      }));
    }
    void caller;
    void callee;
  } finally {
    session?.close();
    for (const stop of children) await stop();
    await server.stop();
    results.dir = opts.keep ? dir : undefined;
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
  results.loadAfter = loadavg()[0];
  results.finishedAt = new Date().toISOString();
  return results;
}

async function snapshots(session) {
  const out = [];
  for (const iso of session.isolates()) out.push({ label: iso.label, ...(await heapHistogram(session, iso.sessionId)) });
  return out;
}

const mib = (b) => (b / 2 ** 20).toFixed(1);

export function report(r) {
  const lines = ['', `## Memory per call in progress (${int(r.held)} calls held, trunk → B2BUA → extension, two media endpoints per call)`, ''];
  lines.push(
    '| measure | before | with the calls held | per call |',
    '|---|---:|---:|---:|',
    `| JS heap, all isolates, after full GC | ${mib(r.heapBefore.total)} MiB | ${mib(r.heapAfter.total)} MiB | ${int(r.heapPerCall)} B |`,
    ...r.heapAfter.isolates.map((a, i) => `| — ${a.label} | ${mib(r.heapBefore.isolates[i]?.heapUsed ?? 0)} MiB | ${mib(a.heapUsed)} MiB | ${int(r.perIsolate[i].perCall)} B |`),
    `| RSS | ${mib(r.rssBefore)} MiB | ${mib(r.rssAfter)} MiB | ${int(r.rssPerCall)} B |`,
    '',
    `${int(r.held)} calls in progress, ${int(r.failed)} failed, ${int(r.retransmissions)} retransmissions; load average ${r.loadBefore.toFixed(2)} → ${r.loadAfter.toFixed(2)}.`,
  );
  for (const g of r.growth ?? []) {
    lines.push('', `Heap snapshot growth per call, ${g.label} (self sizes by constructor):`, '', '| constructor | bytes/call | objects/call |', '|---|---:|---:|');
    for (const row of g.rows.slice(0, 15)) lines.push(`| ${row.name.replace(/\|/g, '\\|').slice(0, 60)} | ${int(row.perCall)} | ${row.objectsPerCall.toFixed(2)} |`);
    const holders = Object.entries(g.holders ?? {});
    if (holders.length > 0) {
      lines.push('', `Who holds them (${g.label}; new references per call, holder.property):`);
      for (const [name, rows] of holders) lines.push(`  ${name}: ${rows.map((x) => `${x.holder} ${(x.count / Math.max(1, r.held)).toFixed(2)}`).join(', ')}`);
    }
  }
  const ok = Number.isFinite(r.heapPerCall) && r.heapPerCall <= GOALS.bytesPerCall;
  lines.push('', `Goal ≤ ${int(GOALS.bytesPerCall)} B of JS heap per call in progress: ${ok ? 'met' : 'NOT met'} (${int(r.heapPerCall)} B)`);
  return lines.join('\n');
}

export async function main(argv) {
  installCleanup();
  // Memory, not overload: a busy machine must not make the server refuse part of the calls to hold.
  process.env.HIBIKI_BENCH_NO_SHEDDING = '1';
  const opts = parseOptions(argv);
  const needed = opts.calls * FDS_PER_CALL + FD_MARGIN;
  const rerun = rerunWithMoreFiles(argv, needed);
  if (rerun !== undefined) return process.exit(rerun);
  const version = preflight(CLI);
  const limit = openFilesLimit();
  if (limit < needed) {
    // Bytes per call do not depend on how many calls are held: hold as many as the descriptors allow.
    const fit = Math.floor((limit - FD_MARGIN) / FDS_PER_CALL / 100) * 100;
    log(`  note: open-files limit ${limit} < ${needed} needed and it cannot be raised here: holding ${fit} calls instead of ${opts.calls}`);
    opts.calls = fit;
  }
  log(`calls held: ${opts.calls} calls at ${opts.rate}/s, sipp ${version}, open files ${limit}`);
  const results = await run(opts);
  results.sipp = version;
  results.report = report(results);
  process.stdout.write(results.report + '\n');
  if (opts.json) writeFileSync(opts.json, JSON.stringify(results, null, 2));
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`calls-held: ${err.message}\n`);
    process.exit(1);
  });
}
