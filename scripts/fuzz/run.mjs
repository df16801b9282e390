// @ts-check
// Long fuzzing runs against the built server (`npm run fuzz`), with the same mutator as
// test/e2e/fuzz.test.ts. hibiki runs as a child process (`node dist/cli.js`) on loopback with a
// generated config; the fuzzer sends from 127.0.0.66, barriers come from 127.0.0.67, and a normal
// phone on 127.0.0.1 checks every --check messages that hibiki still answers OPTIONS and accepts a
// digest registration. Reported:
//   - crashes (the process exited) and hangs (no answer to OPTIONS for 6 s): the last batch is saved;
//   - error-level log lines (a caught exception is always a bug): the batch is replayed one message
//     at a time to find the culprit, which is saved as a raw file to replay;
//   - memory: heap after a full GC (through the inspector) and RSS, at the start and the end.
//
// Usage: npm run fuzz -- [options]          (builds first; `node scripts/fuzz/run.mjs` skips the build)
//   --count 100000        messages to send
//   --seed S              run seed (default: random, printed); message N of seed S is always the same
//                         bytes but for the fuzzer's own port (with --calls busy)
//   --first 0             index of the first message (the e2e test uses --first 1000 --count 20000)
//   --index 17,4242       send only these messages (after a report, to reproduce)
//   --transport both      udp | tcp | both (both: even indexes UDP, odd TCP)
//   --calls answer        answer: the callee answers, the fuzzer learns hibiki's To tags and later
//                         messages of a call reach its dialog (deeper, but the bytes then depend on
//                         hibiki's answers: reproduce with --replay); busy: every call is refused 486,
//                         as in the e2e test, and --seed/--index reproduce exactly
//   --batch 100           messages between barriers
//   --check 10000         messages between liveness checks from the normal phone
//   --out DIR             where failures are saved (default: a new directory under the system temp dir)
//   --replay FILE...      send saved files (raw bytes, one message each) instead of generated ones
//   --stop                stop at the first error line instead of carrying on
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { installCleanup, rssBytes } from '../bench/lib/proc.mjs';
import { CLI, startServer } from '../bench/lib/server.mjs';
import { loadCorpus } from './corpus.mjs';
import { FuzzDriver } from './driver.mjs';
import { MiniUa } from './mini-ua.mjs';

/**
 * @typedef {import('./driver.mjs').SentMessage} SentMessage
 * @typedef {import('./driver.mjs').DriverStats} DriverStats
 * @typedef {Record<string, unknown>} LogLine
 */

/** As in test/e2e/fuzz.test.ts, so a seed and index make the same message in both (but for the fuzzer's port). */
const DOMAIN = 'hibiki.test';
const FUZZ_ADDRESS = '127.0.0.66';
const BARRIER_ADDRESS = '127.0.0.67';
const CALLEE_ADDRESS = '127.0.0.68';
const FUZZ_USERS = ['2001', '2002', '2003'];
const CALLEE = { user: '2003', password: 'fuzz-2003' };
const LIVE = { user: '2999', password: 'fuzz-2999' };

const log = (/** @type {string} */ line) => process.stderr.write(line + '\n');
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const mib = (/** @type {number} */ b) => `${(b / 2 ** 20).toFixed(1)} MiB`;

function parseOptions(/** @type {string[]} */ argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      count: { type: 'string', default: '100000' },
      seed: { type: 'string' },
      first: { type: 'string', default: '0' },
      index: { type: 'string' },
      transport: { type: 'string', default: 'both' },
      calls: { type: 'string', default: 'answer' },
      batch: { type: 'string', default: '100' },
      check: { type: 'string', default: '10000' },
      out: { type: 'string' },
      replay: { type: 'boolean', default: false },
      stop: { type: 'boolean', default: false },
    },
  });
  const int = (/** @type {string} */ name, /** @type {string} */ v, /** @type {number} */ min, /** @type {number} */ max) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  const transport = /** @type {'udp' | 'tcp' | 'both'} */ (values.transport);
  if (!['udp', 'tcp', 'both'].includes(transport)) throw new Error('--transport must be udp, tcp or both');
  const calls = /** @type {'answer' | 'busy'} */ (values.calls);
  if (!['answer', 'busy'].includes(calls)) throw new Error('--calls must be answer or busy');
  const only = values.index?.split(',').map((s) => int('index', s.trim(), 0, 2 ** 32 - 1));
  if (values.replay && positionals.length === 0) throw new Error('--replay needs files');
  return {
    // Bounded: a run of 10 million messages is about an hour.
    count: only ? only.length : int('count', values.count, 1, 10_000_000),
    seed: values.seed === undefined ? (Math.random() * 2 ** 31) | 0 : int('seed', values.seed, 0, 2 ** 32 - 1),
    first: int('first', values.first, 0, 2 ** 32 - 1),
    only,
    transport,
    calls,
    batch: int('batch', values.batch, 1, 1000),
    check: int('check', values.check, 100, 10_000_000),
    out: values.out,
    replay: values.replay ? positionals : undefined,
    stop: values.stop,
  };
}

/** A port free for both TCP and UDP on 127.0.0.1 a moment ago (hibiki listens on both). */
async function freePort() {
  for (let attempt = 0; attempt < 20; attempt++) {
    /** @type {number} */
    const port = await new Promise((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const a = srv.address();
        srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const udpFree = await new Promise((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port');
}

/** @param {string} dir @param {number} port @param {'answer' | 'busy'} calls */
function writeConfig(dir, port, calls) {
  const lines = [
    '# Generated by scripts/fuzz/run.mjs: a fuzzing target, not a deployment.',
    'tenant:',
    `  domain: ${DOMAIN}`,
    'listen:',
    `  - { transport: udp, host: 127.0.0.1, port: ${port} }`,
    `  - { transport: tcp, host: 127.0.0.1, port: ${port} }`,
    'data:',
    `  dir: ${JSON.stringify(join(dir, 'data'))}`,
    // Short transaction timers so the tables a long run fills drain within seconds (as in the e2e test).
    'sip: { t1: 20, t2: 400, t4: 100 }',
    'registrar: { qualifyInterval: 0 }',
    // The fuzzer fails digest checks by the thousand: blocking its address would end the run.
    'auth: { ipFailures: 0 }',
    'log: { level: warn, statsInterval: 0 }',
    'media:',
    '  bindAddress: 127.0.0.1',
    '  address: 127.0.0.1',
    // Room for ~5,000 calls at once, below the ephemeral range (32768+) where the test sockets are:
    // running out would log 'no media endpoint' at error level, which is load, not a bug.
    '  rtpPorts: [12000, 31999]',
    // Answered calls carry no RTP: they end after 5 s (or on a fuzzed BYE), so ports come back.
    ...(calls === 'answer' ? ['  rtpTimeout: 5'] : []),
    'extensions:',
    ...FUZZ_USERS.map((u) => `  - { number: "${u}", name: Fuzz ${u}, password: ${u === CALLEE.user ? CALLEE.password : `fuzz-${u}`} }`),
    `  - { number: "${LIVE.user}", name: Liveness, password: ${LIVE.password} }`,
    // Its INVITEs skip authentication and reach routing, screening and call set-up; those to the
    // callee's number get a second leg (as in the e2e test).
    'trunks:',
    `  - { name: fuzz-carrier, host: ${FUZZ_ADDRESS} }`,
    'inbound:',
    `  - { did: "${CALLEE.user}", destination: "${CALLEE.user}" }`,
  ];
  const path = join(dir, 'hibiki.yaml');
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

/** hibiki's stdout as parsed log lines; the error-level ones are kept for the report. */
class LogWatch {
  /** @param {import('node:child_process').ChildProcess} child */
  constructor(child) {
    /** @type {LogLine[]} */
    this.errors = [];
    this.tail = '';
    this.stderrTail = '';
    child.stdout?.on('data', (/** @type {Buffer} */ d) => this.push(d.toString('utf8')));
    child.stderr?.on('data', (/** @type {Buffer} */ d) => (this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-20_000)));
  }

  /** @param {string} text */
  push(text) {
    const lines = (this.tail + text).split('\n');
    this.tail = lines.pop() ?? '';
    for (const line of lines) {
      // Cheap test first: most lines are warnings about the junk.
      if (!/"level":(5|6)0/.test(line)) continue;
      try {
        this.errors.push(JSON.parse(line));
      } catch {
        this.errors.push({ level: 50, msg: line });
      }
    }
  }
}

class FuzzRun {
  /** @param {ReturnType<typeof parseOptions>} opts */
  constructor(opts) {
    this.opts = opts;
    this.corpus = loadCorpus();
    this.out = opts.out ?? mkdtempSync(join(tmpdir(), `hibiki-fuzz-${opts.seed}-`));
    mkdirSync(this.out, { recursive: true });
    /** @type {Array<{ index: number, transport: string, file: string, lines: LogLine[] }>} */
    this.culprits = [];
    /** @type {string[]} */
    this.problems = [];
    this.dir = mkdtempSync(join(tmpdir(), 'hibiki-fuzz-server-'));
    // Also on Ctrl-C: installCleanup() has killed the server by the time 'exit' handlers run.
    process.on('exit', () => {
      rmSync(this.dir, { recursive: true, force: true });
      // A failure directory of our own making with nothing in it goes too.
      if (!opts.out && existsSync(this.out) && readdirSync(this.out).length === 0) rmSync(this.out, { recursive: true, force: true });
    });
  }

  async start() {
    this.port = await freePort();
    const configPath = writeConfig(this.dir, this.port, this.opts.calls);
    this.server = await startServer({ configPath, port: this.port, core: undefined, inspect: true, cpuProfDir: undefined });
    this.watch = new LogWatch(this.server.child);
    this.callee = await MiniUa.open({ transport: 'tcp', host: '127.0.0.1', port: this.port, localAddress: CALLEE_ADDRESS, domain: DOMAIN });
    this.callee.answerInvites = this.opts.calls === 'answer' ? 200 : 486;
    const reg = await this.callee.register({ user: CALLEE.user, password: CALLEE.password, expires: 3600 });
    if (reg !== 200) throw new Error(`the callee could not register (${reg ?? 'no answer'})`);
  }

  /** @param {Partial<import('./driver.mjs').DriverOptions>} extra */
  driver(extra) {
    if (!this.port) throw new Error('not started');
    return new FuzzDriver({
      host: '127.0.0.1',
      udpPort: this.port,
      tcpPort: this.port,
      transport: this.opts.transport,
      seed: this.opts.seed,
      count: this.opts.count,
      first: this.opts.first,
      corpus: this.corpus,
      domain: DOMAIN,
      users: FUZZ_USERS,
      localAddress: FUZZ_ADDRESS,
      barrierAddress: BARRIER_ADDRESS,
      batchSize: this.opts.batch,
      learnTags: this.opts.calls === 'answer',
      ...extra,
    });
  }

  alive() {
    const c = this.server?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** A normal phone on 127.0.0.1: OPTIONS answered and a digest registration accepted. */
  async liveness() {
    const ua = await MiniUa.open({ transport: 'udp', host: '127.0.0.1', port: this.port ?? 0, localAddress: '127.0.0.1', domain: DOMAIN });
    try {
      const options = await ua.options();
      const reg = await ua.register({ user: LIVE.user, password: LIVE.password, expires: 60 });
      return options === 200 && reg === 200 ? undefined : `liveness: OPTIONS ${options ?? 'no answer'}, REGISTER ${reg ?? 'no answer'}`;
    } finally {
      ua.close();
    }
  }

  /** @param {string} name @param {SentMessage[]} batch */
  saveBatch(name, batch) {
    const dir = join(this.out, name);
    mkdirSync(dir, { recursive: true });
    for (const m of batch) writeFileSync(join(dir, `${m.index}.${m.transport}.sip`), m.bytes);
    writeFileSync(
      join(dir, 'index.json'),
      JSON.stringify(
        batch.map((m) => ({ index: m.index, transport: m.transport, base: m.base, ops: m.ops })),
        null,
        1,
      ),
    );
    return dir;
  }

  /**
   * Sends the batch again one message at a time, each followed by a barrier, and keeps the ones
   * after which an error line appears. Log lines come through a pipe and may trail the barrier's
   * answer by a little: a short settle, and a line that shows up late is charged to the message
   * sent before it as well.
   * @param {SentMessage[]} batch
   */
  async narrow(batch) {
    const watch = this.watch;
    if (!watch) return;
    for (const m of batch) {
      const before = watch.errors.length;
      const d = this.driver({ only: [m.index], transport: m.transport, batchSize: 1 });
      await d.open();
      try {
        await d.run();
      } finally {
        await d.close();
      }
      await sleep(50);
      if (watch.errors.length > before) {
        const file = join(this.out, `seed-${this.opts.seed}-index-${m.index}.${m.transport}.sip`);
        writeFileSync(file, m.bytes);
        this.culprits.push({ index: m.index, transport: m.transport, file, lines: watch.errors.slice(before) });
        log(`  culprit: message ${m.index} (${m.transport}, from ${m.base}, ${m.ops.join('+') || 'unmutated'}) → ${file}`);
      }
      if (!this.alive()) return;
    }
  }

  /** @returns {Promise<DriverStats>} */
  async fuzz() {
    const watch = this.watch;
    if (!watch) throw new Error('not started');
    let sent = 0;
    let nextCheck = this.opts.check;
    let errorsSeen = 0;
    const started = Date.now();
    let lastReport = started;
    const d = this.driver({
      only: this.opts.only,
      afterBatch: async (batch) => {
        sent += batch.length;
        if (!this.alive()) {
          this.problems.push(`crash: hibiki exited (code ${this.server?.child.exitCode}, signal ${this.server?.child.signalCode}) during messages ${batch[0]?.index}…${batch.at(-1)?.index}`);
          log(`  ${this.problems.at(-1)}; batch saved in ${this.saveBatch(`crash-${batch[0]?.index}`, batch)}`);
          return false;
        }
        if (d.stats.barrierFailures > 0) {
          this.problems.push(`hang: no answer to OPTIONS for 6 s after messages ${batch[0]?.index}…${batch.at(-1)?.index}`);
          log(`  ${this.problems.at(-1)}; batch saved in ${this.saveBatch(`hang-${batch[0]?.index}`, batch)}`);
          return false;
        }
        if (watch.errors.length > errorsSeen) {
          log(`  ${watch.errors.length - errorsSeen} error line(s) after messages ${batch[0]?.index}…${batch.at(-1)?.index}: narrowing`);
          this.saveBatch(`errors-${batch[0]?.index}`, batch);
          await this.narrow(batch);
          errorsSeen = watch.errors.length;
          if (this.opts.stop) return false;
        }
        if (sent >= nextCheck) {
          nextCheck += this.opts.check;
          const problem = await this.liveness();
          if (problem) {
            this.problems.push(`${problem} after ${sent} messages`);
            log(`  ${this.problems.at(-1)}`);
            return false;
          }
        }
        if (Date.now() - lastReport >= 10_000) {
          lastReport = Date.now();
          const rate = sent / ((lastReport - started) / 1000);
          log(
            `  ${sent.toLocaleString('en-US')}/${this.opts.count.toLocaleString('en-US')} sent (${Math.round(rate)}/s), rss ${mib(rssBytes(this.server?.pid ?? 0))}, ${watch.errors.length} error lines`,
          );
        }
        return true;
      },
    });
    await d.open();
    try {
      return await d.run();
    } finally {
      await d.close();
    }
  }

  /** @param {string[]} files */
  async replay(files) {
    const watch = this.watch;
    if (!watch || !this.port) throw new Error('not started');
    for (const file of files) {
      const transport = /\.tcp\.sip$/.test(file) ? 'tcp' : 'udp';
      const before = watch.errors.length;
      const bytes = readFileSync(file);
      const ua = await MiniUa.open({ transport, host: '127.0.0.1', port: this.port, localAddress: FUZZ_ADDRESS, domain: DOMAIN });
      ua.write(bytes);
      await ua.options(6000);
      await sleep(50);
      ua.close();
      const lines = watch.errors.slice(before);
      log(`  ${basename(file)} (${transport}): ${lines.length === 0 ? 'no error line' : `${lines.length} error line(s)`}`);
      for (const l of lines) log(`    ${JSON.stringify(l).slice(0, 2000)}`);
      if (lines.length > 0) this.problems.push(`${file}: ${lines.length} error line(s)`);
      if (!this.alive()) {
        this.problems.push(`crash after ${file}`);
        return;
      }
    }
  }

  async stop() {
    this.callee?.close();
    await this.server?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function main(/** @type {string[]} */ argv) {
  installCleanup();
  const opts = parseOptions(argv);
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run "npm run build" first`);
  const run = new FuzzRun(opts);
  const what = opts.replay ? `${opts.replay.length} saved file(s)` : opts.only ? `messages ${opts.only.join(', ')}` : `${opts.count.toLocaleString('en-US')} messages from index ${opts.first}`;
  log(`fuzz: seed ${opts.seed}, ${what}, transport ${opts.transport}, calls ${opts.calls}; failures go to ${run.out}`);
  const t0 = Date.now();
  let stats;
  try {
    await run.start();
    const server = run.server;
    if (!server) throw new Error('not started');
    const memBefore = await server.memory();
    const rssBefore = rssBytes(server.pid);
    if (opts.replay) await run.replay(opts.replay);
    else stats = await run.fuzz();
    if (run.alive()) {
      const problem = await run.liveness();
      if (problem) run.problems.push(`${problem} at the end`);
      // Let the transactions of the last batches end (64*T1 = 3.2 s) before the heap is read.
      await sleep(4000);
      const memAfter = await server.memory();
      const rssAfter = rssBytes(server.pid);
      log(`memory: heap after GC ${mib(memBefore.heapUsed)} → ${mib(memAfter.heapUsed)}, rss ${mib(rssBefore)} → ${mib(rssAfter)}`);
    } else if (!run.problems.some((p) => p.startsWith('crash'))) {
      run.problems.push(`crash: hibiki exited (code ${server.child.exitCode}, signal ${server.child.signalCode})`);
    }
    if (!run.alive() && run.watch) writeFileSync(join(run.out, 'server-stderr.txt'), run.watch.stderrTail);
  } finally {
    await run.stop();
  }
  const seconds = (Date.now() - t0) / 1000;
  if (stats) {
    log(
      `sent ${(stats.udp + stats.tcp).toLocaleString('en-US')} messages (${stats.udp} UDP, ${stats.tcp} TCP on ${stats.tcpConnects} connections, ${stats.tcpClosedByServer} closed by hibiki) ` +
        `in ${seconds.toFixed(0)} s; UDP answers by status: ${JSON.stringify(stats.statuses)}; ${stats.tcpResponseBytes.toLocaleString('en-US')} bytes of TCP answers`,
    );
  }
  const errors = run.watch?.errors ?? [];
  if (errors.length > 0) {
    writeFileSync(join(run.out, 'error-lines.jsonl'), errors.map((l) => JSON.stringify(l)).join('\n') + '\n');
    run.problems.push(`${errors.length} error-level log line(s) (${join(run.out, 'error-lines.jsonl')})`);
  }
  if (run.culprits.length > 0) {
    writeFileSync(join(run.out, 'culprits.json'), JSON.stringify(run.culprits, null, 1));
    log(`culprits (replay with: npm run fuzz -- --replay FILE…, or --seed ${opts.seed} --index N):`);
    for (const c of run.culprits) log(`  ${c.index} ${c.transport}: ${c.file}\n    ${JSON.stringify(c.lines[0]).slice(0, 500)}`);
  }
  if (run.problems.length === 0) {
    log(`fuzz: OK — no crash, hang or error line (seed ${opts.seed})`);
    return 0;
  }
  log(`fuzz: FAILED (seed ${opts.seed}):\n  ${run.problems.join('\n  ')}\nsaved in ${run.out}`);
  return 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`fuzz: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
