// Bounded mutation fuzzing of the running server: 21,000 mutated messages (corpus: our fixtures,
// the RFC 4475 torture messages when ../shared is there, generated requests and responses of every
// method with bodies) over UDP and TCP, paced by barriers so every one is read and handled. Then
// hibiki must answer and register a normal client, must not have thrown (a caught exception logs
// 'error while handling a message': every such line is a bug), must not have leaked, and its
// tables must drain. A failure names the seed; `npm run fuzz -- --seed S` runs the same messages
// against a built server and saves the ones that break it. scripts/fuzz/ holds the mutator, shared
// by both.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../../scripts/fuzz/corpus.mjs';
import { FuzzDriver, type DriverStats } from '../../scripts/fuzz/driver.mjs';
import { DEFAULT_EXTENSIONS, startHibiki, type RunningHibiki } from '../support/hibiki.js';
import { RawUa } from '../support/raw-ua.js';
import { heapAfterGc } from '../support/heap.js';

const SEED = 1_404_2026;
const WARMUP = 1_000;
const COUNT = 20_000;
/** The fuzzer's source addresses; the normal client below uses 127.0.0.1, so throttling the fuzzer cannot hide a dead server. */
const FUZZ_ADDRESS = '127.0.0.66';
const BARRIER_ADDRESS = '127.0.0.67';
/** Users the fuzzer names (and fails to authenticate as, which may lock them); the liveness user is another one. */
const FUZZ_USERS = ['2001', '2002', '2003'];
const LIVE = { number: '2999', password: 'live-2999' };
/** Registered before the run, so the fuzzer locking its username out does not matter. */
const CALLEE = { number: '2003', password: 'secret-2003' };
const CALLEE_ADDRESS = '127.0.0.68';

// Timers short enough that every transaction the run creates ends within seconds: Timer J and H
// are 64*T1 = 1.3 s, Timer I and K are T4 = 100 ms.
const sip = { t1: 20, t2: 400, t4: 100 };

function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

async function waitUntil(what: () => string, predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let hibiki: RunningHibiki;
let callee: RawUa;
const rejections: unknown[] = [];
const onRejection = (reason: unknown): void => {
  rejections.push(reason);
};

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  hibiki = await startHibiki({
    transports: [{ transport: 'udp' }, { transport: 'tcp' }],
    extensions: [...DEFAULT_EXTENSIONS, { number: LIVE.number, name: 'Liveness', password: LIVE.password }],
    config: {
      sip,
      // Warnings and errors only: the test keeps every line, and a debug line per message would
      // be most of the heap it measures.
      log: { level: 'warn' },
      // The fuzzer fails digest checks by the thousand; blocking its address would leave most of
      // the run unread. Username lockout stays on (the liveness user is never named by the fuzzer).
      // Any per-source rate or connection limit must likewise let FUZZ_ADDRESS through (or be
      // raised here), or the run measures the limiter instead of the parser and the call paths.
      auth: { ipFailures: 0 },
      // The fuzzer's address is a carrier, so its INVITEs go past authentication into routing,
      // screening and call set-up; those to the callee's number (a third of the generated ones)
      // get a second leg, the others end at 404 or 480 (every such call costs the server ~2 ms,
      // and the test must stay within seconds).
      trunks: [{ name: 'fuzz-carrier', host: FUZZ_ADDRESS }],
      inbound: [{ did: CALLEE.number, destination: CALLEE.number }],
    },
  });
  // A phone that answers every call with 486, so each fuzzed INVITE that survives routing makes a
  // second leg (client transaction, failure mapping, CDR) and still ends at once. On TCP, where
  // the INVITE client transaction ends with the ACK (Timer D is 0; over UDP it is 32 s).
  callee = await RawUa.open({ transport: 'tcp', port: hibiki.port('tcp'), localHost: CALLEE_ADDRESS });
  callee.otherRequestAnswer = 486;
  expect((await callee.register({ user: CALLEE.number, password: CALLEE.password, expires: 3600 })).final.status).toBe(200);
});

afterAll(async () => {
  process.off('unhandledRejection', onRejection);
  await callee?.close();
  await hibiki?.stop();
});

async function fuzz(first: number, count: number): Promise<DriverStats> {
  const driver = new FuzzDriver({
    host: '127.0.0.1',
    udpPort: hibiki.port('udp'),
    tcpPort: hibiki.port('tcp'),
    transport: 'both',
    seed: SEED,
    first,
    count,
    corpus: loadCorpus(),
    domain: 'hibiki.test',
    users: FUZZ_USERS,
    localAddress: FUZZ_ADDRESS,
    barrierAddress: BARRIER_ADDRESS,
  });
  await driver.open();
  try {
    return await driver.run();
  } finally {
    await driver.close();
  }
}

/** Transactions, dialogs, calls and TCP connections all end once the run is over. */
function tables(): Record<string, number> {
  const s = hibiki.server;
  const tx = s.stack.transactions.size;
  return { clientTx: tx.client, serverTx: tx.server, dialogs: s.stack.dialogs.size, calls: s.calls.active().length, connections: s.stack.transport.connectionCount };
}

/** Every table back to empty, but for the callee's own connection. */
async function drained(): Promise<void> {
  const idle = { clientTx: 0, serverTx: 0, dialogs: 0, calls: 0, connections: 1 };
  await waitUntil(
    () => `transactions, dialogs, calls and connections are gone (${JSON.stringify(tables())})`,
    () => JSON.stringify(tables()) === JSON.stringify(idle),
    20_000,
  );
  // The callee keeps every INVITE it was sent: test memory, not hibiki's.
  callee.messages.splice(0);
}

/** What a normal phone does, from 127.0.0.1 over both transports: OPTIONS answered, digest registration accepted. */
async function stillServing(): Promise<void> {
  for (const transport of ['udp', 'tcp'] as const) {
    const ua = await RawUa.open({ transport, port: hibiki.port(transport), localHost: '127.0.0.1' });
    try {
      const options = await ua.request(ua.buildRequest({ method: 'OPTIONS', uri: 'sip:hibiki.test' }), 5000);
      expect(options.status, `OPTIONS over ${transport}`).toBe(200);
      const reg = await ua.register({ user: LIVE.number, password: LIVE.password, expires: 300 });
      expect(reg.final.status, `REGISTER over ${transport}`).toBe(200);
      expect(hibiki.server.registrar.contacts(LIVE.number).some((c) => c.target.port === ua.localPort)).toBe(true);
      // Leave nothing registered (a TCP binding would keep its connection in the tables).
      const unreg = await ua.register({ user: LIVE.number, password: LIVE.password, expires: 0 });
      expect(unreg.final.status).toBe(200);
    } finally {
      await ua.close();
    }
  }
}

/** Lines a caught exception leaves, or anything else at error level or above. */
function errorLines(): Array<Record<string, unknown>> {
  return hibiki.logs.filter((l) => (typeof l.level === 'number' && l.level >= 50) || l.msg === 'error while handling a message');
}

describe(`mutation fuzzing (seed ${SEED})`, () => {
  it(`survives ${COUNT.toLocaleString('en-US')} mutated messages over UDP and TCP`, async () => {
    // Warm-up, the liveness check included: compiles every path and fills the caches that stay
    // (neither is a leak), so what the main run leaves behind is.
    const warm = await fuzz(0, WARMUP);
    expect(warm.barrierFailures).toBe(0);
    await stillServing();
    await drained();
    const heapBefore = heapAfterGc();
    const fdsBefore = openFds();
    const pooledBefore = (await hibiki.server.media.totals()).pooledPairs;

    const started = Date.now();
    const cpu0 = process.cpuUsage();
    const run = await fuzz(WARMUP, COUNT);
    const cpu = process.cpuUsage(cpu0);
    const seconds = (Date.now() - started) / 1000;
    // Printed so a slow or thin run is visible in the test output.
    process.stderr.write(`fuzz: ${JSON.stringify({ seed: SEED, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, ...run })}\n`);

    expect(run.udp + run.tcp).toBeGreaterThanOrEqual(COUNT * 0.99);
    expect(run.udp).toBeGreaterThan(COUNT * 0.4);
    expect(run.tcp).toBeGreaterThan(COUNT * 0.4);
    // Every batch was read and handled before the next went out.
    expect(run.barrierFailures).toBe(0);
    // hibiki answered a good part of it (a 400 for most, a proper answer for the rest).
    expect(run.udpResponses).toBeGreaterThan(run.udp * 0.2);
    expect(run.tcpResponseBytes).toBeGreaterThan(0);

    await stillServing();
    await drained();

    // What hibiki sends the callee it builds itself, from the fuzzed requests: never bad syntax.
    expect(
      callee.unparsable.map((b) => b.toString('latin1', 0, 400)),
      'hibiki sent the callee a message its own parser refuses',
    ).toEqual([]);
    const replay = `npm run build && npm run fuzz -- --seed ${SEED} --first ${WARMUP} --count ${COUNT} --calls busy`;
    expect(errorLines(), `exceptions in hibiki; find the messages with: ${replay}`).toEqual([]);
    expect(rejections, `unhandled rejections; find the messages with: ${replay}`).toEqual([]);

    const growth = heapAfterGc() - heapBefore;
    process.stderr.write(`fuzz: heap growth ${(growth / 1024).toFixed(0)} KiB after the run\n`);
    // A healthy run leaves ~2 MiB (code compiled for paths first met, bounded caches, the test's
    // own log lines); a leak of 400 B per message, or one pinned datagram in a hundred, passes 8.
    expect(growth).toBeLessThan(8 * 1024 * 1024);
    const fdsAfter = openFds();
    // Socket pairs the media worker keeps bound for the next calls (pair-pool.ts, at most 1,024) are not leaks.
    const pooled = (await hibiki.server.media.totals()).pooledPairs - pooledBefore;
    if (fdsBefore !== undefined && fdsAfter !== undefined) expect(fdsAfter - fdsBefore - 2 * pooled).toBeLessThan(10);
  }, 120_000);
});
