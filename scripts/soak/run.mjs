// Soak run (issue #14): hibiki under steady load for a long time, to show that memory, descriptors
// and failures stay flat. Calls as in the call-rate benchmark (sipp carrier on the trunk 127.0.0.3 →
// hibiki → sipp callee registered as 2002, answered at once, held --hold ms), at half the highest
// clean call rate recorded in docs/benchmarks.md unless --rate says otherwise; meanwhile --phones
// extensions stay registered from another sipp, each refreshing every expires/2 seconds. Every
// minute one row: RSS and open descriptors of the server (from /proc), heap used, calls in progress
// and bindings (from hibiki's own "process stats" log line, log.statsInterval), calls attempted and
// failed, registrations ok and failed (from sipp's statistics) in that minute. At the end: the table,
// heap after a full GC at the start and the end (through the inspector), and a verdict.
//
// Everything runs on loopback; the server is pinned to core 0 and the sipps to core 1 when there
// are two cores. Every child is killed on exit and on Ctrl-C, which also prints the rows so far.
//
// Usage: npm run soak -- [options]          (builds first; `node scripts/soak/run.mjs` skips the build)
//   --minutes 60      length of the run (1–600)
//   --rate R          calls per second (default: half the clean call rate in docs/benchmarks.md)
//   --phones 300      registered extensions, refreshing
//   --expires 60      their registration time (s); each refreshes after half of it
//   --hold 1000       ms each call is held
//   --write           append the table, the machine and the command to docs/benchmarks.md
//   --keep            keep the temporary directory (config, sipp logs)
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { installCleanup, killAll, pinning, rssBytes, stopChild } from '../bench/lib/proc.mjs';
import { readStatCsv, runSipp, sippVersion } from '../bench/lib/sipp.mjs';
import { benchConfigHead, CLI, freeUdpPort, startServer, writeYaml } from '../bench/lib/server.mjs';
import { int } from '../bench/lib/report.mjs';
import { machine } from '../bench/lib/machine.mjs';
import { CALLEE, CARRIER_HOST, callSetupSections, REGISTER, UAC, UAS } from '../bench/lib/call-setup.mjs';

const DOCS = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
const RESULTS_END = '<!-- soak:results:end -->';
const CALLEE_PASSWORD = 'soak-2002';
const FIRST_PHONE = 3_000_000;
/** Seconds between hibiki's stats lines: the heap in a row is never older than this. */
const STATS_INTERVAL = 10;
const ROW_MS = 60_000;
/** Used when docs/benchmarks.md has no call-rate result to take half of. */
const FALLBACK_RATE = 100;

const log = (line) => process.stderr.write(line + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mib = (b) => (Number.isFinite(b) ? (b / 2 ** 20).toFixed(1) : '–');

/** Half the highest clean call rate of the latest call-rate results in docs/benchmarks.md. */
export function defaultRate(doc = existsSync(DOCS) ? readFileSync(DOCS, 'utf8') : '') {
  const m = /Highest clean rate: ([\d,]+) calls\/s/.exec(doc);
  const clean = m ? Number(m[1].replace(/,/g, '')) : NaN;
  return Number.isFinite(clean) && clean > 0
    ? { rate: Math.max(1, Math.round(clean / 2)), from: `half the clean ${clean}/s in docs/benchmarks.md` }
    : { rate: FALLBACK_RATE, from: 'no clean rate in docs/benchmarks.md: fallback' };
}

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '60' },
      rate: { type: 'string' },
      phones: { type: 'string', default: '300' },
      expires: { type: 'string', default: '60' },
      hold: { type: 'string', default: '1000' },
      write: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const num = (name, v, min, max) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  const auto = defaultRate();
  return {
    minutes: num('minutes', values.minutes, 1, 600),
    rate: values.rate === undefined ? auto.rate : num('rate', values.rate, 1, 5000),
    rateFrom: values.rate === undefined ? auto.from : '--rate',
    phones: num('phones', values.phones, 0, 20_000),
    expires: num('expires', values.expires, 60, 3600),
    hold: num('hold', values.hold, 0, 60_000),
    write: values.write,
    keep: values.keep,
    argv,
  };
}

function writeConfig(dir, { port, dataDir, opts }) {
  const phones = [];
  for (let i = 0; i < opts.phones; i++) {
    const n = FIRST_PHONE + i;
    phones.push(`  - number: "${n}"`, `    name: Soak ${n}`, `    password: soak-${n}`);
  }
  return writeYaml(dir, [
    // Info level for the process stats lines; the callee's registration must outlast the run.
    ...benchConfigHead({ port, dataDir, logLevel: process.env.SOAK_LOG_LEVEL ?? 'info', statsInterval: STATS_INTERVAL, maxExpires: opts.minutes * 60 + 3600 }),
    ...callSetupSections({ calleePassword: CALLEE_PASSWORD, extensionLines: phones }),
  ]);
}

/** hibiki's "process stats" lines, read from its stdout as they come. */
class StatsReader {
  constructor(child) {
    this.latest = undefined;
    this.tail = '';
    /** Warnings and errors hibiki logged, by message: what a failed call or registration can be traced to. */
    this.warnings = new Map();
    child.stdout.on('data', (d) => {
      const lines = (this.tail + d.toString('utf8')).split('\n');
      this.tail = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('{"level":40') || line.startsWith('{"level":50') || line.startsWith('{"level":60')) {
          const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? '?';
          this.warnings.set(msg, (this.warnings.get(msg) ?? 0) + 1);
          if (process.env.SOAK_SHOW_WARNINGS) process.stderr.write(line.slice(0, 400) + '\n');
        }
        // Most lines are per-call info lines: skip them without parsing.
        if (!line.includes('"msg":"process stats"')) continue;
        try {
          this.latest = { at: Date.now(), ...JSON.parse(line) };
        } catch {
          // a torn line: the next one comes in STATS_INTERVAL seconds
        }
      }
    });
  }
}

function openFds(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** The last row of a running sipp's -trace_stat file (cumulative counters), or {}. */
function sippTotals(statFile) {
  try {
    return existsSync(statFile) ? (readStatCsv(statFile).at(-1) ?? {}) : {};
  } catch {
    return {};
  }
}

class Soak {
  constructor(opts) {
    this.opts = opts;
    this.pin = pinning();
    this.dir = mkdtempSync(join(tmpdir(), 'hibiki-soak-'));
    this.rows = [];
    this.prev = { attempted: 0, failed: 0, retransmissions: 0, regOk: 0, regFailed: 0 };
  }

  file(name) {
    return join(this.dir, name);
  }

  async start() {
    const o = this.opts;
    this.port = await freeUdpPort();
    const configPath = writeConfig(this.dir, { port: this.port, dataDir: this.file('data'), opts: o });
    this.server = await startServer({ configPath, port: this.port, core: this.pin.server, inspect: true });
    this.stats = new StatsReader(this.server.child);
    this.target = { host: '127.0.0.1', port: this.port };
    const seconds = o.minutes * 60;

    // The callee registers for the whole run from a fixed port, then answers every call.
    const calleePort = await freeUdpPort();
    const calleeReg = this.file('callee-register.csv');
    writeFileSync(calleeReg, `SEQUENTIAL\n${CALLEE};[authentication username=${CALLEE} password=${CALLEE_PASSWORD}];${seconds + 1800};\n`);
    mkdirSync(this.file('callee-register'));
    const reg = await runSipp({
      scenario: REGISTER,
      target: this.target,
      rate: 1,
      calls: 1,
      injectFile: calleeReg,
      dir: this.file('callee-register'),
      localPort: calleePort,
      core: this.pin.generator,
    });
    if (reg.code !== 0) throw new Error(`callee registration failed (sipp exit ${reg.code}): ${reg.errors.slice(0, 500)}`);
    const totalCalls = o.rate * seconds;
    mkdirSync(this.file('callee'));
    this.callee = runSipp({
      scenario: UAS,
      target: this.target,
      rate: 1,
      calls: totalCalls,
      dir: this.file('callee'),
      localPort: calleePort,
      core: this.pin.generator,
      limit: 100_000,
      maxSeconds: seconds + 120,
      onChild: (c) => (this.calleeChild = c),
    });

    // Phones: one REGISTER transaction pair per sipp call, cycling through the extensions, at the
    // rate that refreshes each one every expires/2 seconds.
    if (o.phones > 0) {
      const phones = this.file('phones.csv');
      const lines = ['SEQUENTIAL'];
      for (let i = 0; i < o.phones; i++) lines.push(`${FIRST_PHONE + i};[authentication username=${FIRST_PHONE + i} password=soak-${FIRST_PHONE + i}];${o.expires};`);
      writeFileSync(phones, lines.join('\n') + '\n');
      const regRate = Math.max(1, Math.round(o.phones / (o.expires / 2)));
      this.regRate = regRate;
      mkdirSync(this.file('phones'));
      this.phones = runSipp({
        scenario: REGISTER,
        target: this.target,
        rate: regRate,
        calls: regRate * seconds,
        injectFile: phones,
        dir: this.file('phones'),
        core: this.pin.generator,
        maxSeconds: seconds + 60,
        onChild: (c) => (this.phonesChild = c),
      });
    }
    await sleep(300);
    this.startHeap = await this.server.memory();
    mkdirSync(this.file('calls'));
    this.caller = runSipp({
      scenario: UAC,
      target: this.target,
      rate: o.rate,
      calls: totalCalls,
      dir: this.file('calls'),
      localHost: CARRIER_HOST,
      core: this.pin.generator,
      limit: Math.max(1000, Math.ceil(o.rate * (o.hold / 1000 + 2))),
      maxSeconds: seconds + 60,
      extraArgs: ['-d', String(o.hold)],
      onChild: (c) => (this.callerChild = c),
    });
    this.startedAt = Date.now();
  }

  /** One row: the server now, and what the sipps counted since the last row. */
  row(minute) {
    const pid = this.server.pid;
    const calls = sippTotals(join(this.file('calls'), 'stat.csv'));
    const phones = sippTotals(join(this.file('phones'), 'stat.csv'));
    const now = {
      attempted: calls['OutgoingCall(C)'] ?? this.prev.attempted,
      failed: calls['FailedCall(C)'] ?? this.prev.failed,
      retransmissions: calls['Retransmissions(C)'] ?? this.prev.retransmissions,
      regOk: phones['SuccessfulCall(C)'] ?? this.prev.regOk,
      regFailed: phones['FailedCall(C)'] ?? this.prev.regFailed,
    };
    let rss = NaN;
    try {
      rss = rssBytes(pid);
    } catch {
      // the server is gone: the row says so with dashes
    }
    const s = this.stats.latest;
    const row = {
      minute,
      rss,
      heapUsed: s?.heapUsed ?? NaN,
      heapAge: s ? Math.round((Date.now() - s.at) / 1000) : NaN,
      fds: openFds(pid),
      activeCalls: s?.activeCalls ?? NaN,
      bindings: s?.bindings ?? NaN,
      attempted: now.attempted - this.prev.attempted,
      failed: now.failed - this.prev.failed,
      regOk: now.regOk - this.prev.regOk,
      regFailed: now.regFailed - this.prev.regFailed,
      // The first sign of a server falling behind, before calls fail.
      retransmissions: now.retransmissions - this.prev.retransmissions,
    };
    this.prev = now;
    this.rows.push(row);
    return row;
  }

  async run() {
    const o = this.opts;
    log(tableHead());
    for (let minute = 1; minute <= o.minutes; minute++) {
      const due = this.startedAt + minute * ROW_MS;
      while (Date.now() < due) {
        if (this.server.child.exitCode !== null || this.server.child.signalCode !== null) throw new Error(`hibiki exited (code ${this.server.child.exitCode}, signal ${this.server.child.signalCode})`);
        await sleep(Math.min(1000, due - Date.now()));
      }
      process.stdout.write(formatRow(this.row(minute)) + '\n');
    }
  }

  /** The caller has made its calls; let the last ones end, stop the others, read the heap after GC. */
  async finish() {
    const caller = await Promise.race([this.caller, sleep(this.opts.hold + 30_000).then(() => null)]);
    this.callerResult = caller;
    if (this.phonesChild) await stopChild(this.phonesChild, 2000);
    this.phonesResult = this.phones ? await this.phones : null;
    const callee = await Promise.race([this.callee, sleep(5000).then(() => null)]);
    this.calleeResult = callee;
    if (this.calleeChild) await stopChild(this.calleeChild, 2000);
    // Transactions of the last calls end (Timer J/K, 32 s at T1 = 500 ms) before the heap is read.
    await sleep(34_000);
    this.endHeap = await this.server.memory();
    this.endRss = rssBytes(this.server.pid);
    this.endFds = openFds(this.server.pid);
    this.endStats = this.stats.latest;
  }

  async stop() {
    if (this.callerChild) await stopChild(this.callerChild, 2000);
    if (this.phonesChild) await stopChild(this.phonesChild, 2000);
    if (this.calleeChild) await stopChild(this.calleeChild, 2000);
    await this.server?.stop();
    if (!this.opts.keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

function tableHead() {
  return [
    '| minute | RSS MiB | heap used MiB | open fds | calls in progress | bindings | calls attempted | calls failed | caller retrans | registrations ok | registrations failed |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ].join('\n');
}

function formatRow(r) {
  return `| ${r.minute} | ${mib(r.rss)} | ${mib(r.heapUsed)} | ${int(r.fds)} | ${int(r.activeCalls)} | ${int(r.bindings)} | ${int(r.attempted)} | ${int(r.failed)} | ${int(r.retransmissions)} | ${int(r.regOk)} | ${int(r.regFailed)} |`;
}

/** What the run shows, in a few lines under the table. */
function verdict(soak) {
  const rows = soak.rows;
  const sum = (k) => rows.reduce((a, r) => a + (Number.isFinite(r[k]) ? r[k] : 0), 0);
  const first = rows[0];
  const last = rows.at(-1);
  const caller = soak.callerResult?.final ?? {};
  const lines = [
    `Calls: ${int(caller['OutgoingCall(C)'] ?? sum('attempted'))} attempted, ${int(caller['SuccessfulCall(C)'])} completed, ${int(caller['FailedCall(C)'] ?? sum('failed'))} failed, ${int(caller['Retransmissions(C)'])} retransmissions (caller).`,
    `Registrations: ${int(sum('regOk'))} ok, ${int(sum('regFailed'))} failed (${soak.opts.phones} phones, Expires ${soak.opts.expires} s, ${soak.regRate ?? 0} REGISTER/s).`,
  ];
  if (first && last) lines.push(`RSS ${mib(first.rss)} → ${mib(last.rss)} MiB from minute 1 to minute ${last.minute}; open fds ${int(first.fds)} → ${int(last.fds)}.`);
  if (soak.startHeap && soak.endHeap) {
    lines.push(
      `Heap after a full GC: ${mib(soak.startHeap.heapUsed)} MiB before the load, ${mib(soak.endHeap.heapUsed)} MiB after it (calls ended, ${int(soak.endStats?.bindings)} bindings held); RSS ${mib(soak.endRss)} MiB, ${int(soak.endFds)} open fds.`,
    );
  }
  const warnings = [...(soak.stats?.warnings ?? new Map()).entries()].sort((a, b) => b[1] - a[1]);
  lines.push(warnings.length === 0 ? 'hibiki logged no warning or error.' : `hibiki's warnings and errors: ${warnings.map(([msg, n]) => `${n} × "${msg}"`).join('; ')}.`);
  return lines;
}

function report(soak, machineInfo, loadStart, loadEnd, startedAt) {
  const o = soak.opts;
  const m = machineInfo;
  return [
    `### Soak, ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC: ${o.minutes} min at ${o.rate} calls/s, ${o.phones} phones`,
    '',
    `Machine: ${m.nproc} × ${m.cpu}, ${m.ramGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}, SIPp ${m.sipp}; ${m.pinning}. Load average (1 min) ${loadStart.toFixed(2)} at the start, ${loadEnd.toFixed(2)} at the end.`,
    `Command: npm run soak -- ${o.argv.join(' ')} (rate: ${o.rateFrom}; calls held ${o.hold} ms).`,
    '',
    tableHead(),
    ...soak.rows.map(formatRow),
    '',
    ...verdict(soak),
  ].join('\n');
}

/** Adds a run's report at the end of the soak results in docs/benchmarks.md (earlier runs stay). */
function appendToDocs(text) {
  const doc = readFileSync(DOCS, 'utf8');
  const end = doc.indexOf(RESULTS_END);
  if (end < 0) throw new Error(`${DOCS} has no ${RESULTS_END} marker`);
  writeFileSync(DOCS, `${doc.slice(0, end)}${text}\n\n${doc.slice(end)}`);
  log(`appended to ${DOCS}`);
}

export async function main(argv) {
  const opts = parseOptions(argv);
  const version = sippVersion();
  if (!version) throw new Error('sipp not found (Debian/Ubuntu: apt-get install sip-tester)');
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run "npm run build" first`);
  // Found out now, not after an hour.
  if (opts.write && !readFileSync(DOCS, 'utf8').includes(RESULTS_END)) throw new Error(`${DOCS} has no ${RESULTS_END} marker`);
  const soak = new Soak(opts);
  const startedAt = new Date();
  const loadStart = loadavg()[0];
  // Ctrl-C: the rows so far, then installCleanup's handler kills every child.
  process.on('SIGINT', () => {
    killAll();
    process.stdout.write(`\ninterrupted after ${soak.rows.length} minute(s):\n${tableHead()}\n${soak.rows.map(formatRow).join('\n')}\n`);
    if (!opts.keep) rmSync(soak.dir, { recursive: true, force: true });
  });
  installCleanup();
  log(`soak: ${opts.minutes} min, ${opts.rate} calls/s (${opts.rateFrom}), hold ${opts.hold} ms, ${opts.phones} phones refreshing every ${opts.expires / 2} s; ${soak.pin.note}; sipp ${version}`);
  try {
    await soak.start();
    await soak.run();
    log('soak: load done; letting the last calls end');
    await soak.finish();
  } finally {
    await soak.stop();
  }
  const text = report(soak, machine(), loadStart, loadavg()[0], startedAt);
  process.stdout.write(`\n${text}\n`);
  if (opts.write) appendToDocs(text);
  const failed = soak.rows.some((r) => r.failed > 0 || r.regFailed > 0);
  return failed ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`soak: ${err.message}\n`);
      process.exit(1);
    },
  );
}
