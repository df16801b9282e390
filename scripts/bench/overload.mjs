// Overload (issue #13 goal 4, issue #14): twice the clean rate, with the overload control as deployed
// (shedding on, the documented security.overload defaults). For calls (sipp trunk uac → hibiki → sipp
// uas, as in call-rate.mjs) and for authenticated registrations (as in register-storm.mjs), three
// phases back to back on one server: the clean rate (base), twice it (overload), then the clean rate
// again × --recovery-factor (recovery). Each phase is its own sipp process, started on time whatever
// the previous one still has in progress. The scenarios (test/sipp/bench-overload-*.xml) take a 503
// as an expected answer, check that it carries Retry-After, ACK it and do not retry.
//
// Per phase: offered (calls/registrations sipp started), completed within normal time (INVITE→200,
// or authenticated REGISTER→200, within --normal-ms, default 500 ms: T1, before which no client
// retransmits), completed late, refused with 503 (and how fast: INVITE/REGISTER→503 p99), 503s without
// Retry-After, failed (timeouts: requests dropped unanswered or answered too late), retransmissions on
// the caller's and the callee's side, and the server's event-loop utilization and delay (sampled every
// second through the inspector), CPU and the overload control's state changes (its "event":"overload"
// log lines). Recovery: the first second after the load falls back in which nothing is refused and
// nothing retransmitted.
//
// The clean rate: --call-rate / --reg-rate, or the highest clean step of a short ladder (fresh server
// per step, shedding on: clean = every call completed, nothing refused, failed or retransmitted).
//
// Usage: npm run build && node scripts/bench/overload.mjs [options]
//   --mode both|calls|registrations   what to overload (default both)
//   --call-rate N          clean call rate (default: ladder --call-ladder)
//   --reg-rate N           clean registration rate (default: ladder --reg-ladder)
//   --call-ladder 300,500,700,900,1100,1300   calls/s tried, in order, until one is not clean
//   --reg-ladder 1000,2000,3000,4000,5000     registrations/s tried likewise
//   --ladder-duration 4    seconds per ladder step
//   --base 4               seconds at the clean rate first
//   --duration 10          seconds at twice the clean rate
//   --recovery 8           seconds after the overload
//   --recovery-factor 1    rate after the overload, as a share of the clean rate
//   --normal-ms 500        a completion within this time counts as normal
//   --hold 1000            ms between ACK and BYE
//   --json FILE            write the results as JSON (used by run.mjs)
//   --keep                 keep the temporary directory (configs, sipp logs)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuTimeUs, installCleanup, pinning, stopChild } from './lib/proc.mjs';
import { summarize } from './lib/percentile.mjs';
import { runSipp, preflight } from './lib/sipp.mjs';
import { benchConfigHead, benchPassword, CLI, freeUdpPort, startServer, writeYaml } from './lib/server.mjs';
import { int, ms } from './lib/report.mjs';
import { CALLEE, CARRIER_HOST, callSetupSections, REGISTER, UAS } from './lib/call-setup.mjs';
import { openInspector } from './lib/inspector.mjs';
import { rttSamples, statRows, sumRows } from './lib/phase-stats.mjs';

const CALL_UAC = fileURLToPath(new URL('../../test/sipp/bench-overload-uac.xml', import.meta.url));
const REG_UAC = fileURLToPath(new URL('../../test/sipp/bench-overload-register.xml', import.meta.url));
const CALLEE_PASSWORD = 'bench-2002';
const FIRST_USER = 2_000_000;
/** Extensions in the registration config; phases cycle through them (a refresh costs what a first registration does). */
const MAX_USERS = 60_000;
const WARMUP_SECONDS = 2;
/** Goal 4 of issue #13. */
export const GOALS = { completedShare: 0.9, recoverySeconds: 5 };
/** The server's event loop, read every second through the inspector (code the benchmark injects). */
const LOOP_PROBE = `globalThis.__hibikiBenchLoop ??= (() => {
  const h = require('node:perf_hooks').monitorEventLoopDelay({ resolution: 10 }); h.enable();
  let last = performance.eventLoopUtilization();
  return () => { const now = performance.eventLoopUtilization(); const u = performance.eventLoopUtilization(now, last).utilization; last = now;
    const r = { u, meanMs: h.count ? h.mean / 1e6 - 10 : 0, maxMs: h.count ? h.max / 1e6 - 10 : 0 }; h.reset(); return JSON.stringify(r); };
})(), __hibikiBenchLoop()`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => process.stderr.write(line + '\n');

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      mode: { type: 'string', default: 'both' },
      'call-rate': { type: 'string' },
      'reg-rate': { type: 'string' },
      'call-ladder': { type: 'string', default: '300,500,700,900,1100,1300' },
      'reg-ladder': { type: 'string', default: '1000,2000,3000,4000,5000' },
      'ladder-duration': { type: 'string', default: '4' },
      base: { type: 'string', default: '4' },
      duration: { type: 'string', default: '10' },
      recovery: { type: 'string', default: '8' },
      'recovery-factor': { type: 'string', default: '1' },
      'normal-ms': { type: 'string', default: '500' },
      hold: { type: 'string', default: '1000' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const num = (name, lo, hi) => {
    const v = Number(values[name]);
    if (!(v >= lo && v <= hi)) throw new Error(`--${name} must be ${lo}–${hi}`);
    return v;
  };
  const list = (name) => values[name].split(',').map((r) => Number(r.trim()));
  if (!['both', 'calls', 'registrations'].includes(values.mode)) throw new Error('--mode is both, calls or registrations');
  return {
    mode: values.mode,
    callRate: values['call-rate'] === undefined ? undefined : num('call-rate', 1, 20_000),
    regRate: values['reg-rate'] === undefined ? undefined : num('reg-rate', 1, 50_000),
    callLadder: list('call-ladder'),
    regLadder: list('reg-ladder'),
    ladderDuration: num('ladder-duration', 1, 60),
    base: num('base', 1, 60),
    duration: num('duration', 1, 120),
    recovery: num('recovery', 1, 120),
    recoveryFactor: num('recovery-factor', 0.1, 1),
    normalMs: num('normal-ms', 1, 60_000),
    hold: num('hold', 0, 60_000),
    json: values.json,
    keep: values.keep,
  };
}

/** What each kind of load needs: its scenario, config, and which rtd timer marks a normal completion. */
function workload(kind, opts) {
  if (kind === 'calls') {
    return {
      kind,
      unit: 'calls',
      scenario: CALL_UAC,
      doneRtd: 1,
      config: ({ port, dataDir }) => [...benchConfigHead({ port, dataDir }), ...callSetupSections({ calleePassword: CALLEE_PASSWORD })],
      sippArgs: (rate) => ({ localHost: CARRIER_HOST, extraArgs: ['-d', String(opts.hold)], limit: Math.max(1000, Math.ceil(rate * (opts.hold / 1000 + 6))) }),
    };
  }
  const users = Array.from({ length: MAX_USERS }, (_, i) => String(FIRST_USER + i));
  return {
    kind,
    unit: 'registrations',
    scenario: REG_UAC,
    doneRtd: 2,
    users,
    config: ({ port, dataDir }) => [
      ...benchConfigHead({ port, dataDir }),
      // No RFC 3842 NOTIFY to each registering "phone": sipp cannot answer it (register-storm.mjs --mwi).
      'mwi:',
      '  unsolicited: false',
      'extensions:',
      ...users.flatMap((n) => [`  - number: "${n}"`, `    name: Bench ${n}`, `    password: ${benchPassword(n)}`]),
    ],
    sippArgs: (rate) => ({ limit: Math.max(1000, rate * 6) }),
  };
}

class Bench {
  constructor(opts) {
    this.opts = opts;
    this.pin = pinning();
    this.dir = mkdtempSync(join(tmpdir(), 'hibiki-bench-overload-'));
    this.runIndex = 0;
    this.nextUser = 0;
  }

  /** A fresh server (shedding on, the documented defaults) with the callee registered for calls. */
  async setup(w) {
    const runDir = join(this.dir, `${w.kind}-${++this.runIndex}`);
    mkdirSync(runDir);
    let port, server;
    // The port was free a moment ago; on a shared machine another process may take it first.
    for (let attempt = 1; !server; attempt++) {
      port = await freeUdpPort();
      const configPath = writeYaml(runDir, w.config({ port, dataDir: join(runDir, 'data') }));
      try {
        server = await startServer({ configPath, port, core: this.pin.server, inspect: true });
      } catch (err) {
        if (attempt >= 3 || !/EADDRINUSE/.test(err.message)) throw err;
      }
    }
    const overloadLog = [];
    let tail = '';
    server.child.stdout.on('data', (d) => {
      const lines = (tail + d.toString()).split('\n');
      tail = lines.pop() ?? '';
      for (const line of lines) if (line.includes('"event":"overload"')) overloadLog.push(line);
    });
    const ctx = { server, target: { host: '127.0.0.1', port }, runDir, overloadLog, stops: [] };
    if (w.kind === 'calls') {
      ctx.calleePort = await freeUdpPort();
      const registerFile = join(runDir, 'register.csv');
      writeFileSync(registerFile, `SEQUENTIAL\n${CALLEE};[authentication username=${CALLEE} password=${CALLEE_PASSWORD}];3600;\n`);
      const reg = await this.sipp(ctx, w, { scenario: REGISTER, rate: 1, calls: 1, name: 'register', injectFile: registerFile, localPort: ctx.calleePort });
      if (reg.code !== 0) throw new Error(`callee registration failed (sipp exit ${reg.code})`);
      mkdirSync(join(runDir, 'callee'));
      let child;
      ctx.callee = runSipp({
        scenario: UAS,
        target: ctx.target,
        rate: 1,
        calls: 10_000_000,
        dir: join(runDir, 'callee'),
        localPort: ctx.calleePort,
        core: this.pin.generator,
        limit: 100_000,
        maxSeconds: 600,
        onChild: (c) => (child = c),
      });
      ctx.stops.push(() => (child ? stopChild(child, 2000) : undefined));
    }
    return ctx;
  }

  async teardown(ctx) {
    for (const stop of ctx.stops) await stop();
    ctx.session?.close();
    await ctx.server.stop();
    if (!this.opts.keep) rmSync(join(ctx.runDir, 'data'), { recursive: true, force: true });
  }

  /** An injection file of the next `count` users (registrations), cycling through the configured ones. */
  users(w, count, name, runDir) {
    const lines = ['SEQUENTIAL'];
    for (let i = 0; i < Math.min(count, MAX_USERS); i++) {
      const u = w.users[(this.nextUser + i) % MAX_USERS];
      lines.push(`${u};[authentication username=${u} password=${benchPassword(u)}];`);
    }
    this.nextUser = (this.nextUser + count) % MAX_USERS;
    const path = join(runDir, `${name}.csv`);
    writeFileSync(path, lines.join('\n') + '\n');
    return path;
  }

  sipp(ctx, w, { scenario = w.scenario, rate, calls, name, injectFile, localPort }) {
    const dir = join(ctx.runDir, name);
    mkdirSync(dir);
    const file = injectFile ?? (w.kind === 'registrations' ? this.users(w, calls, name, ctx.runDir) : undefined);
    const startedAtMs = Date.now();
    const extra = scenario === w.scenario ? w.sippArgs(rate) : {};
    return runSipp({ scenario, target: ctx.target, rate, calls, dir, injectFile: file, localPort, core: this.pin.generator, maxSeconds: Math.ceil(calls / rate) + 40, ...extra }).then((run) => ({
      ...run,
      dir,
      startedAtMs,
    }));
  }

  /** One ladder step: a fresh server, warm-up, the rate for ladderDuration s; clean or not. */
  async step(w, rate) {
    const ctx = await this.setup(w);
    try {
      await this.warmUp(ctx, w, rate);
      const calls = Math.round(rate * this.opts.ladderDuration);
      const run = await this.sipp(ctx, w, { rate, calls, name: `ladder-${rate}` });
      if (w.kind === 'calls') {
        // The callee's last stat row (written every second) must cover the run's end.
        await sleep(1500);
        ctx.calleeRows = statRows(join(ctx.runDir, 'callee'));
      }
      const phase = this.phase(w, run, ctx, { rate, calls });
      const problems = [];
      if (phase.refused > 0) problems.push(`${phase.refused} refused`);
      if (phase.failed > 0) problems.push(`${phase.failed} failed`);
      if (phase.retransmissions + (phase.calleeRetransmissions ?? 0) > 0) problems.push(`${phase.retransmissions}/${phase.calleeRetransmissions ?? 0} retrans`);
      if (phase.completed < calls) problems.push(`${phase.completed}/${calls} completed`);
      return { rate, clean: problems.length === 0, problems, phase };
    } finally {
      await this.teardown(ctx);
    }
  }

  async warmUp(ctx, w, rate) {
    const warm = Math.min(rate, w.kind === 'calls' ? 200 : 1000);
    await this.sipp(ctx, w, { rate: warm, calls: warm * WARMUP_SECONDS, name: `warmup-${++this.runIndex}` });
    await sleep(1000);
  }

  /** The clean rate: given, or the highest clean step of the ladder. */
  async cleanRate(w, given, ladder) {
    if (given !== undefined) return { rate: given, ladder: [] };
    const steps = [];
    for (const rate of ladder) {
      log(`  ${w.kind} ladder: ${rate}/s …`);
      const s = await this.step(w, rate);
      steps.push(s);
      log(`    ${s.clean ? 'clean' : `not clean (${s.problems.join(', ')})`}`);
      if (!s.clean) break;
    }
    const clean = steps.filter((s) => s.clean);
    return { rate: clean.length > 0 ? clean.at(-1).rate : Math.max(1, Math.round(ladder[0] / 2)), ladder: steps };
  }

  /** Figures of one sipp run (one phase) — or of the time window [fromMs, toMs) for the callee. */
  phase(w, run, ctx, { rate, calls, fromMs, toMs }) {
    const f = run.final ?? {};
    const rtt = rttSamples(run.dir, run.startedAtMs);
    const done = rtt.filter((s) => s.rtd === w.doneRtd).map((s) => s.ms);
    const refusedMs = rtt.filter((s) => s.rtd === 3).map((s) => s.ms);
    const within = done.filter((v) => v <= this.opts.normalMs).length;
    const noRetryAfter = (f['FailedRegexpHdrNotFound(C)'] ?? 0) + (f['FailedRegexpDoesntMatch(C)'] ?? 0);
    const callee = ctx.calleeRows ? sumRows(ctx.calleeRows, 'Retransmissions(P)', fromMs, toMs) : null;
    return {
      rate,
      planned: calls,
      offered: f['OutgoingCall(C)'] ?? f['TotalCallCreated'] ?? 0,
      completed: done.length,
      withinNormal: within,
      late: done.length - within,
      refused: refusedMs.length,
      refusedWithinNormal: refusedMs.filter((v) => v <= this.opts.normalMs).length,
      noRetryAfter,
      failed: Math.max(0, (f['FailedCall(C)'] ?? 0) - noRetryAfter),
      retransmissions: f['Retransmissions(C)'] ?? 0,
      calleeRetransmissions: callee,
      doneRtt: summarize(done),
      refusedRtt: summarize(refusedMs),
    };
  }

  /** Base, overload, recovery on one server, with the loop sampled every second. */
  async experiment(w, clean) {
    const o = this.opts;
    const ctx = await this.setup(w);
    const url = /Debugger listening on (ws:\/\/\S+)/.exec(ctx.server.output())?.[1];
    try {
      ctx.session = await openInspector(url);
      await this.warmUp(ctx, w, clean);
      const plan = [
        { name: 'base', rate: clean, seconds: o.base },
        { name: 'overload', rate: 2 * clean, seconds: o.duration },
        { name: 'recovery', rate: Math.max(1, Math.round(clean * o.recoveryFactor)), seconds: o.recovery },
      ];
      const samples = [];
      const t0 = Date.now();
      let sampling = true;
      const sampler = (async () => {
        let cpu = cpuTimeUs(ctx.server.pid);
        for (let i = 1; sampling; i++) {
          await sleep(Math.max(0, t0 + i * 1000 - Date.now()));
          try {
            const r = await ctx.session.call(undefined, 'Runtime.evaluate', { expression: LOOP_PROBE, includeCommandLineAPI: true, returnByValue: true });
            const now = cpuTimeUs(ctx.server.pid);
            samples.push({ second: i, ...JSON.parse(r.result.value), cpuShare: (now - cpu) / 1e6 });
            cpu = now;
          } catch (err) {
            samples.push({ second: i, error: err.message });
          }
        }
      })();
      const runs = [];
      let at = t0;
      for (const p of plan) {
        await sleep(Math.max(0, at - Date.now()));
        log(`  ${w.kind}: ${p.name} at ${p.rate}/s for ${p.seconds} s`);
        p.fromMs = Date.now();
        runs.push(this.sipp(ctx, w, { rate: p.rate, calls: Math.round(p.rate * p.seconds), name: p.name }));
        at += p.seconds * 1000;
        p.toMs = at;
      }
      const done = await Promise.all(runs);
      await sleep(w.kind === 'calls' ? 1000 : 0);
      sampling = false;
      await sampler;
      if (ctx.calleeRows === undefined && w.kind === 'calls') ctx.calleeRows = statRows(join(ctx.runDir, 'callee'));
      const phases = plan.map((p, i) => ({
        name: p.name,
        seconds: p.seconds,
        ...this.phase(w, done[i], ctx, { rate: p.rate, calls: Math.round(p.rate * p.seconds), fromMs: p.fromMs, toMs: plan[i + 1]?.fromMs ?? Infinity }),
        loop: loopOver(samples, Math.round((p.fromMs - t0) / 1000), Math.round((p.toMs - t0) / 1000)),
      }));
      const timeline = this.timeline(done, ctx, t0, samples);
      const dropSecond = Math.ceil((plan[2].fromMs - t0) / 1000);
      const after = timeline.filter((s) => s.second >= dropSecond);
      const calm = after.find((s) => s.refused === 0 && s.retransmissions === 0);
      return {
        kind: w.kind,
        unit: w.unit,
        cleanRate: clean,
        phases,
        timeline,
        recoverySeconds: calm ? calm.second - dropSecond : null,
        refusedAfterRecovery: calm ? after.filter((s) => s.second > calm.second).reduce((a, s) => a + s.refused, 0) : null,
        overloadLog: ctx.overloadLog.map((line) => {
          try {
            const j = JSON.parse(line);
            const time = typeof j.time === 'string' ? Date.parse(j.time) : j.time;
            return {
              atS: Math.round((time - t0) / 100) / 10,
              msg: j.msg,
              utilization: j.utilization,
              loopDelayMs: j.loopDelayMs,
              pendingInvites: j.pendingInvites,
              queueDelayMs: j.queueDelayMs,
              shedShare: j.shedShare,
            };
          } catch {
            return { line };
          }
        }),
      };
    } finally {
      await this.teardown(ctx);
    }
  }

  /** Per second since t0: created, refused (503s), retransmissions (callers and callee), loop. */
  timeline(runs, ctx, t0, samples) {
    const seconds = new Map();
    const at = (ms) => {
      const s = Math.floor((ms - t0) / 1000);
      if (!seconds.has(s)) seconds.set(s, { second: s, created: 0, refused: 0, retransmissions: 0, failed: 0 });
      return seconds.get(s);
    };
    for (const run of runs) {
      for (const row of statRows(run.dir)) {
        // A row sums the second before it was written.
        const s = at(row.atMs - 1);
        s.created += Number(row['OutgoingCall(P)']) || 0;
        s.retransmissions += Number(row['Retransmissions(P)']) || 0;
        s.failed += Number(row['FailedCall(P)']) || 0;
      }
      for (const r of rttSamples(run.dir, run.startedAtMs)) if (r.rtd === 3) at(r.atMs).refused++;
    }
    for (const row of ctx.calleeRows ?? []) if (row.atMs >= t0) at(row.atMs - 1).retransmissions += Number(row['Retransmissions(P)']) || 0;
    for (const x of samples) if (!x.error) Object.assign(at(t0 + (x.second - 1) * 1000 + 1), { utilization: x.u, loopDelayMs: x.meanMs, cpuShare: x.cpuShare });
    return [...seconds.values()].filter((s) => s.second >= 0).sort((a, b) => a.second - b.second);
  }

  cleanup() {
    if (!this.opts.keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Mean and highest loop utilization and delay over seconds [from, to) of the run. */
function loopOver(samples, from, to) {
  const xs = samples.filter((s) => !s.error && s.second > from && s.second <= to);
  if (xs.length === 0) return null;
  const mean = (k) => xs.reduce((a, s) => a + s[k], 0) / xs.length;
  const max = (k) => Math.max(...xs.map((s) => s[k]));
  return { utilizationMean: mean('u'), utilizationMax: max('u'), delayMeanMs: mean('meanMs'), delayMaxMs: max('maxMs'), cpuShareMean: mean('cpuShare') };
}

const pct = (v) => (Number.isFinite(v) ? `${Math.round(v * 100)} %` : '–');

export function report(results) {
  const o = results.options;
  const lines = ['', `## Overload (twice the clean rate, shedding on with the documented defaults; normal = done within ${o.normalMs} ms)`];
  for (const e of results.experiments) {
    if (e.error) {
      lines.push('', `${e.kind}: failed: ${e.error}`);
      continue;
    }
    const ladder = e.ladder?.length ? ` (ladder: ${e.ladder.map((s) => `${s.rate} ${s.clean ? 'clean' : 'not clean'}`).join(', ')})` : ' (given)';
    lines.push('', `### ${e.kind}: clean rate ${int(e.cleanRate)}/s${ladder}`, '');
    lines.push(
      `| phase | offered/s | offered | within ${o.normalMs} ms | late | refused 503 (→503 p99 ms) | no Retry-After | failed | retrans caller / callee | done p50 / p99 ms | loop util mean / max | loop delay mean / max ms | server CPU |`,
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|',
    );
    for (const p of e.phases) {
      const share = p.offered > 0 ? p.withinNormal / p.offered : NaN;
      lines.push(
        `| ${p.name} | ${int(p.rate)} | ${int(p.offered)} | ${int(p.withinNormal)} (${pct(share)}) | ${int(p.late)} | ${int(p.refused)} (${pct(p.refused / p.offered)}, ${ms(p.refusedRtt.p99)}) | ${int(p.noRetryAfter)} | ${int(p.failed)} | ${int(p.retransmissions)} / ${p.calleeRetransmissions === null ? '–' : int(p.calleeRetransmissions)} | ${ms(p.doneRtt.p50)} / ${ms(p.doneRtt.p99)} | ${pct(p.loop?.utilizationMean)} / ${pct(p.loop?.utilizationMax)} | ${ms(p.loop?.delayMeanMs)} / ${ms(p.loop?.delayMaxMs)} | ${pct(p.loop?.cpuShareMean)} |`,
      );
    }
    lines.push(
      '',
      `Per second (s: created / refused / retransmitted / loop utilization): ${e.timeline.map((s) => `${s.second}: ${s.created}/${s.refused}/${s.retransmissions}/${pct(s.utilization)}`).join(', ')}`,
    );
    if (e.overloadLog.length > 0)
      lines.push(
        '',
        'Overload control:',
        ...e.overloadLog.map(
          (l) =>
            `  ${l.atS ?? '?'} s: ${l.msg ?? l.line} (util ${l.utilization} %, delay ${l.loopDelayMs} ms, queue ${l.queueDelayMs ?? '–'} ms, pending INVITEs ${l.pendingInvites}, share ${l.shedShare})`,
        ),
      );
    const over = e.phases.find((p) => p.name === 'overload');
    const handled = over.offered > 0 ? (over.withinNormal + over.refusedWithinNormal) / over.offered : NaN;
    const completedShare = over.offered > 0 ? over.withinNormal / over.offered : NaN;
    const stormFree = over.retransmissions + (over.calleeRetransmissions ?? 0) <= over.offered * 0.01;
    lines.push(
      '',
      `At twice the clean rate: ${pct(completedShare)} completed within ${o.normalMs} ms, ${pct(over.refused / over.offered)} refused with 503 (${int(over.noRetryAfter)} without Retry-After, ${pct(over.refusedWithinNormal / over.offered)} within ${o.normalMs} ms), ${pct(handled)} handled in normal time either way; ${int(over.failed)} failed; ${int(over.retransmissions + (over.calleeRetransmissions ?? 0))} retransmissions.`,
      `Recovery: ${e.recoverySeconds === null ? 'no calm second after the load fell back' : `first second without refusals or retransmissions ${e.recoverySeconds} s after the load fell back`}${e.refusedAfterRecovery ? ` (${e.refusedAfterRecovery} refused after it)` : ''}.`,
      `Goal (${e.kind}: ≥ ${pct(GOALS.completedShare)} within normal time, the rest refused with 503 + Retry-After, no storm, recovery within ${GOALS.recoverySeconds} s): ${
        completedShare >= GOALS.completedShare && over.failed === 0 && over.noRetryAfter === 0 && stormFree && e.recoverySeconds !== null && e.recoverySeconds <= GOALS.recoverySeconds
          ? 'met'
          : 'NOT met'
      }`,
    );
  }
  lines.push('', `Load average ${results.loadBefore.toFixed(2)} → ${results.loadAfter.toFixed(2)}.`);
  return lines.join('\n');
}

export async function main(argv) {
  installCleanup();
  // This benchmark measures the shedding: it must never run with it off.
  delete process.env.HIBIKI_BENCH_NO_SHEDDING;
  const opts = parseOptions(argv);
  const version = preflight(CLI);
  const bench = new Bench(opts);
  log(`overload: ${opts.mode}, base ${opts.base} s, 2× for ${opts.duration} s, recovery ${opts.recovery} s at ${opts.recoveryFactor}×, ${bench.pin.note}, sipp ${version}`);
  const results = { startedAt: new Date().toISOString(), options: opts, pinning: bench.pin, sipp: version, loadBefore: loadavg()[0], experiments: [] };
  try {
    const kinds = opts.mode === 'both' ? ['calls', 'registrations'] : [opts.mode];
    for (const kind of kinds) {
      const w = workload(kind, opts);
      try {
        const clean = kind === 'calls' ? await bench.cleanRate(w, opts.callRate, opts.callLadder) : await bench.cleanRate(w, opts.regRate, opts.regLadder);
        const e = await bench.experiment(w, clean.rate);
        e.ladder = clean.ladder.map((s) => ({ rate: s.rate, clean: s.clean, problems: s.problems }));
        results.experiments.push(e);
        const over = e.phases[1];
        log(
          `  ${kind}: overload ${over.withinNormal}/${over.offered} within normal, ${over.refused} refused, ${over.failed} failed, ${over.retransmissions}/${over.calleeRetransmissions ?? '–'} retrans; recovery ${e.recoverySeconds} s`,
        );
      } catch (err) {
        results.experiments.push({ kind, error: err.message });
        log(`  ${kind}: ${err.message}`);
      }
    }
  } finally {
    results.dir = opts.keep ? bench.dir : undefined;
    bench.cleanup();
  }
  results.loadAfter = loadavg()[0];
  results.finishedAt = new Date().toISOString();
  results.report = report(results);
  process.stdout.write(results.report + '\n');
  if (opts.json) writeFileSync(opts.json, JSON.stringify(results, null, 2));
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`overload: ${err.message}\n`);
    process.exit(1);
  });
}
