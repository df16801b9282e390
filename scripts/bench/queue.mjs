// ACD queue (issue #11 "Performance"): one queue, 6000, with 50 agents (extensions 3001–3050) answered
// by ONE sipp UAS (test/sipp/queue-agent-uas.xml: rings 0–2 s, talks 2–5 s, then hangs up) whose
// address every agent's AoR is registered at (test/sipp/register-auth.xml, digest auth, from the same
// port). Callers come from a carrier on an IP-authenticated trunk (127.0.0.3, like call-rate) through a
// DID to the queue (test/sipp/queue-caller-uac.xml): the queue answers at once, the caller waits until
// an agent's hang-up ends the call, or gives up after --patience seconds. Signalling only.
// Run once per strategy (leastrecent, roundrobin), each on a fresh server and database. Reported per
// strategy, from hibiki's own records (SQLite queue_events, cross-checked with the CDR): calls offered,
// answered, abandoned (and overflow / timeout / lost), wait p50 / p99, answered calls per agent (min, max,
// max/min), and server CPU µs per queued call (utime+stime of the server process over the run, divided
// by the calls offered).
//
// Usage: npm run build && node scripts/bench/queue.mjs [options]
//   --rate 20                    offered calls/s
//   --duration 60                seconds of offered calls
//   --quick                      a smoke run: 10 s of calls (overrides --duration)
//   --strategies leastrecent,roundrobin
//   --agents 50                  agents 3001… (at most 99)
//   --patience 90                seconds a caller stays in the call at most (waiting and talking)
//   --setup-only                 start the server, register the agents, check the bindings, stop (no calls)
//   --json FILE                  write the results as JSON (used by run.mjs)
//   --keep                       keep the temporary directory (configs, sipp logs, databases)
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { cpuTimeUs, installCleanup, pinning, stopChild, track } from './lib/proc.mjs';
import { summarize } from './lib/percentile.mjs';
import { runSipp, preflight } from './lib/sipp.mjs';
import { benchConfigHead, benchPassword, CLI, freeUdpPort, startServer, writeYaml } from './lib/server.mjs';
import { int, ms } from './lib/report.mjs';
import { CARRIER_HOST, REGISTER, RTP_PORTS } from './lib/call-setup.mjs';

const SIPP_DIR = fileURLToPath(new URL('../../test/sipp/', import.meta.url));
const AGENT_UAS = join(SIPP_DIR, 'queue-agent-uas.xml');
const CALLER_UAC = join(SIPP_DIR, 'queue-caller-uac.xml');
const QUEUE = '6000';
const FIRST_AGENT = 3001;
const STRATEGIES = ['leastrecent', 'roundrobin'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => process.stderr.write(line + '\n');

export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      rate: { type: 'string', default: '20' },
      duration: { type: 'string', default: '60' },
      quick: { type: 'boolean', default: false },
      strategies: { type: 'string', default: STRATEGIES.join(',') },
      agents: { type: 'string', default: '50' },
      patience: { type: 'string', default: '90' },
      'setup-only': { type: 'boolean', default: false },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const rate = Number(values.rate);
  const duration = values.quick ? 10 : Number(values.duration);
  const agents = Number(values.agents);
  const patience = Number(values.patience);
  const strategies = values.strategies.split(',').map((s) => s.trim());
  if (!(Number.isFinite(rate) && rate > 0 && rate <= 1000)) throw new Error('--rate must be 1–1000 calls/s');
  if (!(duration > 0 && duration <= 600)) throw new Error('--duration must be 1–600 s');
  if (!(Number.isInteger(agents) && agents >= 1 && agents <= 99)) throw new Error('--agents must be 1–99');
  if (!(Number.isInteger(patience) && patience >= 10 && patience <= 115)) throw new Error('--patience must be 10–115 s (the queue times out at 120 s)');
  const known = ['ringall', 'leastrecent', 'shortesttalk', 'random', 'roundrobin', 'weighted', 'fewestcalls', 'linear'];
  for (const s of strategies) if (!known.includes(s)) throw new Error(`unknown strategy ${s} (have: ${known.join(', ')})`);
  return { rate, duration, quick: values.quick, agents, patience, strategies, setupOnly: values['setup-only'], json: values.json, keep: values.keep };
}

export function agentNumbers(count) {
  return Array.from({ length: count }, (_, i) => String(FIRST_AGENT + i));
}

/** The config: the agents as extensions, the carrier's trunk, every DID to the queue, and the queue. */
export function configLines({ port, dataDir, strategy, agents }) {
  return [
    ...benchConfigHead({ port, dataDir }),
    'media:',
    '  bindAddress: 127.0.0.1',
    `  rtpPorts: [${RTP_PORTS[0]}, ${RTP_PORTS[1]}]`,
    // No RTP comes from sipp: the inactivity timeout would end every call.
    '  rtpTimeout: 0',
    'extensions:',
    ...agents.flatMap((n) => [`  - number: "${n}"`, `    name: Agent ${n}`, `    password: ${benchPassword(n)}`]),
    // Agents are phones with no voicemail lamp to light: no message-summary NOTIFY after they register.
    'mwi:',
    '  unsolicited: false',
    'trunks:',
    '  - name: bench-carrier',
    `    host: ${CARRIER_HOST}`,
    'inbound:',
    '  - did: "*"',
    `    destination: "${QUEUE}"`,
    'queues:',
    `  - number: "${QUEUE}"`,
    '    name: bench',
    `    strategy: ${strategy}`,
    `    members: [${agents.map((n) => `"${n}"`).join(', ')}]`,
    '    maxWaiting: 1000',
    '    timeout: 120',
    '    agentRingTime: 15',
    '    periodicAnnouncementInterval: 0',
  ];
}

/** register-auth.xml's injection file: extension; [authentication …]; Expires. */
function writeAgentInjection(path, agents) {
  const lines = ['SEQUENTIAL', ...agents.map((n) => `${n};[authentication username=${n} password=${benchPassword(n)}];3600;`)];
  writeFileSync(path, lines.join('\n') + '\n');
}

/** The caller scenario with the caller's patience in place of its 90 s (sipp takes no variable there). */
function writeCallerScenario(dir, patienceS) {
  const xml = readFileSync(CALLER_UAC, 'utf8');
  if (!xml.includes('timeout="90000"')) throw new Error(`${CALLER_UAC}: no timeout="90000" to set the patience in`);
  const path = join(dir, 'queue-caller-uac.xml');
  writeFileSync(path, xml.replace('timeout="90000"', `timeout="${patienceS * 1000}"`));
  return path;
}

/** `hibiki registrations` lines for the agents (one per binding), with the contact each one names. */
export function listBindings(configPath) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, [CLI, 'registrations', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d.toString()));
    child.stderr.on('data', (d) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out.split('\n').filter((l) => l.trim() !== '')) : reject(new Error(`hibiki registrations exited ${code}: ${err.slice(-500)}`))));
  });
}

/** The agents with a binding at 127.0.0.1:<port> (lines: AoR user, contact, transport, source, …, tab-separated). */
export function agentsBoundTo(lines, agents, port) {
  const wanted = new Set(agents);
  const bound = new Set();
  for (const line of lines) {
    const [user, contact] = line.split('\t');
    if (wanted.has(user) && contact?.includes(`@127.0.0.1:${port}`)) bound.add(user);
  }
  return bound;
}

/**
 * The queue's figures from hibiki's database: queue_events (ENTER, ANSWER with agent and wait_ms,
 * ABANDON, OVERFLOW, TIMEOUT, LOST, RINGNOANSWER) and, as a cross-check, the CDR rows of the queue
 * (queue_wait in seconds, answered_by). Exported for a test on a hand-made database.
 */
export function readQueueFigures(dbFile, agents) {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const counts = Object.fromEntries(
      db
        .prepare('SELECT event, COUNT(*) AS n FROM queue_events WHERE queue = ? GROUP BY event')
        .all(QUEUE)
        .map((r) => [r.event, r.n]),
    );
    const answers = db.prepare("SELECT agent, wait_ms FROM queue_events WHERE queue = ? AND event = 'ANSWER'").all(QUEUE);
    const cdrRows = db.prepare('SELECT answered_by, queue_wait FROM cdr WHERE queue = ?').all(QUEUE);
    const cdrAnswered = cdrRows.filter((r) => r.answered_by !== null);
    // Waits: the events' milliseconds; the CDR's whole seconds only when no ANSWER event was written.
    const fromEvents = answers.length > 0;
    const waitsMs = fromEvents
      ? answers.map((r) => r.wait_ms).filter((w) => w !== null)
      : cdrAnswered
          .map((r) => r.queue_wait)
          .filter((w) => w !== null)
          .map((s) => s * 1000);
    const perAgent = new Map(agents.map((a) => [a, 0]));
    for (const r of fromEvents ? answers.map((a) => a.agent) : cdrAnswered.map((c) => c.answered_by)) {
      if (r !== null) perAgent.set(r, (perAgent.get(r) ?? 0) + 1);
    }
    const n = [...perAgent.values()];
    const min = n.length > 0 ? Math.min(...n) : 0;
    const max = n.length > 0 ? Math.max(...n) : 0;
    return {
      source: fromEvents ? 'queue_events' : 'cdr',
      offered: counts.ENTER ?? 0,
      answered: fromEvents ? answers.length : cdrAnswered.length,
      abandoned: counts.ABANDON ?? 0,
      overflow: counts.OVERFLOW ?? 0,
      timeout: counts.TIMEOUT ?? 0,
      lost: counts.LOST ?? 0,
      ringNoAnswer: counts.RINGNOANSWER ?? 0,
      wait: summarize(waitsMs),
      perAgent: Object.fromEntries(perAgent),
      agentsAnswering: n.filter((x) => x > 0).length,
      perAgentMin: min,
      perAgentMax: max,
      perAgentRatio: min > 0 ? max / min : null,
      cdr: { rows: cdrRows.length, answered: cdrAnswered.length },
    };
  } finally {
    db.close();
  }
}

class Bench {
  constructor(opts) {
    this.opts = opts;
    this.pin = pinning();
    this.dir = mkdtempSync(join(tmpdir(), 'hibiki-bench-queue-'));
    this.agents = agentNumbers(opts.agents);
    this.agentsFile = join(this.dir, 'agents.csv');
    writeAgentInjection(this.agentsFile, this.agents);
    this.callerScenario = writeCallerScenario(this.dir, opts.patience);
  }

  /** A fresh server and database for one strategy, with every agent registered at the UAS's port. */
  async setup(strategy) {
    const port = await freeUdpPort();
    const runDir = join(this.dir, strategy);
    mkdirSync(runDir);
    const dataDir = join(runDir, 'data');
    const configPath = writeYaml(runDir, configLines({ port, dataDir, strategy, agents: this.agents }));
    const server = await startServer({ configPath, port, core: this.pin.server, cpuProfDir: process.env.HIBIKI_CPU_PROF });
    const target = { host: '127.0.0.1', port };
    const agentPort = await freeUdpPort();
    const regDir = join(runDir, 'register');
    mkdirSync(regDir);
    try {
      const n = this.agents.length;
      const reg = await runSipp({ scenario: REGISTER, target, rate: n, calls: n, injectFile: this.agentsFile, dir: regDir, localPort: agentPort, core: this.pin.generator });
      const ok = reg.final?.['SuccessfulCall(C)'] ?? 0;
      if (reg.code !== 0 || ok !== n) throw new Error(`agent registration: ${ok}/${n} registered (sipp exit ${reg.code}): ${reg.errors.slice(0, 500)}`);
      const bound = agentsBoundTo(await listBindings(configPath), this.agents, agentPort);
      if (bound.size !== n) throw new Error(`only ${bound.size}/${n} agents have a binding at 127.0.0.1:${agentPort}`);
    } catch (err) {
      await server.stop();
      throw err;
    }
    return { server, target, runDir, dataDir, configPath, agentPort };
  }

  /** The one sipp that answers for every agent, until stopped. */
  agentUas(ctx) {
    const dir = join(ctx.runDir, 'agents');
    mkdirSync(dir);
    let child;
    const result = runSipp({
      scenario: AGENT_UAS,
      target: ctx.target,
      rate: 1,
      calls: 10_000_000,
      dir,
      localPort: ctx.agentPort,
      core: this.pin.generator,
      limit: 100_000,
      maxSeconds: this.opts.duration + this.opts.patience + 120,
      onChild: (c) => (child = c),
    });
    return { result, stop: () => (child ? stopChild(child, 2000) : Promise.resolve()) };
  }

  callers(ctx, calls) {
    const dir = join(ctx.runDir, 'callers');
    mkdirSync(dir);
    const { rate, patience, duration } = this.opts;
    return runSipp({
      scenario: this.callerScenario,
      target: ctx.target,
      rate,
      calls,
      dir,
      localHost: CARRIER_HOST,
      core: this.pin.generator,
      // Every call may last the caller's patience: never let sipp's limit hold calls back.
      limit: Math.ceil(rate * (patience + 10)) + 100,
      maxSeconds: Math.ceil(duration + patience + 30),
    });
  }

  async setupOnly(strategy) {
    const ctx = await this.setup(strategy);
    try {
      return { strategy, registered: this.agents.length, agentPort: ctx.agentPort };
    } finally {
      await ctx.server.stop();
    }
  }

  async strategy(strategy) {
    const calls = Math.round(this.opts.rate * this.opts.duration);
    const ctx = await this.setup(strategy);
    const { server } = ctx;
    const uas = this.agentUas(ctx);
    try {
      await sleep(300);
      const cpu0 = cpuTimeUs(server.pid);
      const t0 = Date.now();
      const run = await this.callers(ctx, calls);
      // The last agent calls' BYEs and the CDR/event writes that follow them.
      await sleep(2000);
      const wallMs = Date.now() - t0;
      const cpuUs = cpuTimeUs(server.pid) - cpu0;
      await uas.stop();
      const uasRun = await uas.result;
      await server.stop();
      const f = run.final ?? {};
      const figures = readQueueFigures(join(ctx.dataDir, 'hibiki.db'), this.agents);
      const problems = [];
      if (run.timedOut) problems.push('caller sipp timed out');
      if ((f['FailedCall(C)'] ?? 1) !== 0) problems.push(`${f['FailedCall(C)'] ?? '?'} caller calls failed`);
      if ((f['Retransmissions(C)'] ?? 0) !== 0) problems.push(`${f['Retransmissions(C)']} caller retransmissions`);
      const uf = uasRun?.final ?? {};
      if ((uf['FailedCall(C)'] ?? 0) !== 0) problems.push(`${uf['FailedCall(C)']} agent calls failed`);
      if (figures.offered !== calls) problems.push(`${figures.offered}/${calls} calls entered the queue`);
      return {
        strategy,
        calls,
        callerSuccessful: f['SuccessfulCall(C)'] ?? null,
        callerFailed: f['FailedCall(C)'] ?? null,
        callerRetransmissions: f['Retransmissions(C)'] ?? null,
        agentCalls: uf['SuccessfulCall(C)'] ?? null, // offers the agents' sipp completed (answered, or cancelled while ringing)
        agentFailed: uf['FailedCall(C)'] ?? null,
        agentRetransmissions: uf['Retransmissions(C)'] ?? null,
        queueAnswerRtt: summarize(run.rtt.get(1) ?? []),
        ...figures,
        wallMs,
        serverCpuUs: cpuUs,
        serverCpuUsPerCall: figures.offered > 0 ? cpuUs / figures.offered : null,
        serverCoreShare: cpuUs / 1000 / wallMs,
        sippCpuUs: run.cpuUs + (uasRun?.cpuUs ?? 0),
        clean: problems.length === 0,
        problems,
      };
    } finally {
      await uas.stop();
      await server.stop();
      if (!this.opts.keep) rmSync(ctx.dataDir, { recursive: true, force: true });
    }
  }

  cleanup() {
    if (!this.opts.keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

export function formatStrategies(rows) {
  const head =
    '| strategy | offered | answered | abandoned | overflow / timeout / lost | wait p50 / p99 / max s | calls per agent min / max (max/min) | agents answering | no-answer offers | server CPU µs/queued call | server core | clean |';
  const rule = '|---|---:|---:|---:|---|---|---|---:|---:|---:|---:|---|';
  const s = (v) => (Number.isFinite(v) ? (v / 1000).toFixed(1) : '–');
  const body = rows.map(
    (r) =>
      `| ${r.strategy} | ${int(r.offered)} | ${int(r.answered)} | ${int(r.abandoned)} | ${int(r.overflow)} / ${int(r.timeout)} / ${int(r.lost)} | ${s(r.wait.p50)} / ${s(r.wait.p99)} / ${s(r.wait.max)} | ${int(r.perAgentMin)} / ${int(r.perAgentMax)} (${r.perAgentRatio === null ? '∞' : r.perAgentRatio.toFixed(2)}) | ${int(r.agentsAnswering)} | ${int(r.ringNoAnswer)} | ${int(r.serverCpuUsPerCall)} | ${Math.round(r.serverCoreShare * 100)} % | ${r.clean ? 'yes' : `no (${r.problems.join(', ')})`} |`,
  );
  return [head, rule, ...body].join('\n');
}

/** The agents' throughput against the offered rate: above it the queue grows and waits lengthen through the run. */
function capacityLine(o) {
  const capacity = o.agents / (1 + 3.5);
  const verdict = o.rate > capacity ? 'so the queue grows and waits lengthen through the run' : 'so callers mostly find an agent free';
  return `Agent capacity ≈ ${o.agents} / 4.5 s ≈ ${capacity.toFixed(1)} calls/s (mean ring 1 s + talk 3.5 s) against ${o.rate} offered/s, ${verdict}.`;
}

export function report(results) {
  const o = results.options;
  const lines = [
    '',
    `## ACD queue (${o.agents} agents, 1 sipp UAS ringing 0–2 s and talking 2–5 s; callers at ${o.rate}/s for ${o.duration} s via a trunk, patience ${o.patience} s; UDP, signalling only)`,
    '',
    formatStrategies(results.strategies),
    '',
    capacityLine(o),
    'Offered / answered / abandoned, waits (ANSWER wait_ms) and calls per agent come from the queue_events table; the CDR agrees when its row counts match:',
    ...results.strategies.map(
      (r) => `  ${r.strategy}: ${int(r.cdr.rows)} queue CDR rows, ${int(r.cdr.answered)} answered; figures from ${r.source}; queue answer (INVITE→200) p99 ${ms(r.queueAnswerRtt.p99)} ms`,
    ),
  ];
  return lines.join('\n');
}

export async function main(argv) {
  installCleanup();
  const opts = parseOptions(argv);
  const version = preflight(CLI);
  const bench = new Bench(opts);
  log(
    `queue: ${opts.strategies.join(', ')}; ${opts.agents} agents, ${opts.rate} calls/s × ${opts.duration} s, patience ${opts.patience} s, ${bench.pin.note} (all sipps on the generator core), sipp ${version}`,
  );
  const results = { startedAt: new Date().toISOString(), options: opts, pinning: bench.pin, sipp: version, loadBefore: loadavg()[0], strategies: [] };
  if (results.loadBefore > 0.5) log(`  note: load average ${results.loadBefore.toFixed(2)} before the run — other work on this machine makes the figures noisier`);
  try {
    for (const strategy of opts.strategies) {
      if (opts.setupOnly) {
        const r = await bench.setupOnly(strategy);
        log(`  ${strategy}: ${r.registered} agents registered at 127.0.0.1:${r.agentPort} — setup only, no calls`);
        results.strategies.push(r);
        continue;
      }
      log(`  ${strategy} …`);
      const r = await bench.strategy(strategy);
      results.strategies.push(r);
      log(
        `  ${strategy}: ${r.offered} offered, ${r.answered} answered, ${r.abandoned} abandoned, wait p50 ${ms(r.wait.p50)} ms p99 ${ms(r.wait.p99)} ms, per agent ${r.perAgentMin}–${r.perAgentMax}, ${int(r.serverCpuUsPerCall)} µs CPU/call${r.clean ? '' : ` — not clean: ${r.problems.join(', ')}`}`,
      );
    }
  } finally {
    results.dir = opts.keep ? bench.dir : undefined;
    bench.cleanup();
  }
  results.loadAfter = loadavg()[0];
  results.finishedAt = new Date().toISOString();
  if (!opts.setupOnly) {
    results.report = report(results);
    process.stdout.write(results.report + '\n');
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify(results, null, 2));
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`queue: ${err.message}\n`);
    process.exit(1);
  });
}
