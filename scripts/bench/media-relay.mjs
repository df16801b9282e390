// Media relay benchmark (issue #3 (b), goals G4b/G5 of the performance anchors): N concurrent G.711 calls
// bridged by the built-in media engine (dist/media/builtin/engine.js) on loopback. A generator process
// plays both phones of every call and sends 20 ms PCMU packets both ways; the engine relays each one to the
// other phone.
//
// Method (anchors-performance.md §4.1): the engine process on core 0, the generator on core 1 (taskset).
// As in the anchors, most phones are sinks that never read their socket (the kernel drops what overflows a
// small receive buffer), so the generator's one core only has to send; loss in the relay is measured for
// every stream from the engine's own counters (sent by the generator vs relayed out of the other leg). A few
// probe calls are read in full: their end-to-end loss, and the added one-way latency from the send time
// carried in the payload (the generator is sender and receiver, so no two clocks are compared).
// `--read-all` reads every stream instead (end-to-end for all; needs a generator core with room to spare).
// CPU is that of the engine process and of its busiest thread (the media worker), from /proc.
//
// `--engine rtpengine` (issue #16) runs the same load through RtpengineMediaEngine (wrap 'all'): the engine
// process launches its own rtpengine (userspace forwarding, table -1; its ng socket on a free loopback port,
// its RTP ports in their own range) and pins it, every thread, to the engine's core. Each phone then talks
// to rtpengine, which relays plain RTP over loopback to a built-in endpoint, which bridges it to the other
// leg's built-in endpoint, which sends it back through rtpengine to the other phone: every packet is relayed
// twice (rtpengine, then the built-in engine). The engine's CPU is hibiki's process plus rtpengine's, both
// reported; CPU per relayed packet divides their sum by the packets the built-in engine relayed.
//
// Usage: npm run build && node scripts/bench/media-relay.mjs [options]
//   --calls 1000        concurrent bridged calls (2 streams each way: 100 relayed packets/s per call)
//   --seconds 15        how long the generator sends
//   --probes 20         calls whose phones are read (latency, end-to-end loss)
//   --read-all          read every phone (all calls are probes)
//   --ports 20000       first port of the engine's RTP range (sized for the calls; keep it below the
//                       kernel's ephemeral range, 32768+, where the generator's sockets are)
//   --engine builtin    builtin | rtpengine (rtpengine in front of every built-in endpoint)
//   --rtpengine-ports N first port of rtpengine's range (default: just above the built-in range; sized 8 ports
//                       per call; keep it below the ephemeral range too)
//   --rtpengine-binary  the rtpengine program (default rtpengine, Debian's rtpengine-daemon)
//   --udp native        the built-in engine's RTP socket I/O (media.udpIo): native (the batching addon,
//                       native/udp-batch) | dgram (node:dgram), for before/after in one session (issue #13)
//   --profile           run the engine process under `node --cpu-prof` (its media worker writes its own
//                       profile) and print a summary of the media worker's hot spots
//   --workers 1         media worker threads of the built-in engine (media.workers, issue #13); the B leg of
//                       each call is placed next to its A leg. With more than one the engine is pinned to
//                       cores 0..N-1 (so on a 2-core machine it shares core 1 with the generator)
//   --no-pin            do not pin the processes to cores
//   --json FILE         write the results as JSON (for run.mjs)
//   --peers auto        auto: also the same load through rtpengine alone (no hibiki in the path) when it is
//                       installed, at each --peer-calls count, and the ratio (lib/rtpengine-relay.mjs); off: not
//   --peer-calls 500,1000  call counts of the side-by-side runs (hibiki runs again at a count the main run
//                       did not use)
//
// Roles (internal): `--role engine` and `--role generator` are the two child processes.
import { execFileSync, fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { clockTicksPerSecond, cpuTimeUs, installCleanup, once, pinning, stopChild, track } from './lib/proc.mjs';
import { rtpengineSideBySide } from './lib/rtpengine-relay.mjs';
import { formatSummary, summarizeProfile } from './lib/cpuprofile.mjs';
import { relayFigures } from './lib/percentile.mjs';

const SELF = fileURLToPath(import.meta.url);
const ENGINE_MODULE = new URL('../../dist/media/builtin/engine.js', import.meta.url).href;
const RTPENGINE_MODULES = ['engine', 'launcher', 'ng-client'].map((m) => new URL(`../../dist/media/rtpengine/${m}.js`, import.meta.url).href);
const FRAME_MS = 20;
const PAYLOAD = 160;
/** Latency histogram: 10 µs buckets up to 1 s; the last bucket takes everything slower. */
const BUCKET_US = 10;
const BUCKETS = 100_001;
const DRAIN_MS = 1000;

const log = (line) => process.stderr.write(line + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- engine process ---------------------------------------------------------------------------------

/** A UDP port on loopback that nothing holds now (for rtpengine's ng socket). */
async function freeUdpPort() {
  const s = createSocket('udp4');
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', resolve);
  });
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/**
 * The built-in engine, or RtpengineMediaEngine (wrap 'all') in front of it with a launched rtpengine. For
 * rtpengine also: its process (for the pid and the kill on exit) and its config folder (removed at stop).
 */
async function buildEngine(msg) {
  const [{ BuiltinMediaEngine }, { pino }] = await Promise.all([import(ENGINE_MODULE), import('pino')]);
  const logger = pino({ level: 'warn' });
  const builtin = new BuiltinMediaEngine({
    address: '127.0.0.1',
    bindAddress: '127.0.0.1',
    rtpPorts: [msg.firstPort, msg.firstPort + msg.phones.length * 4 + 199],
    rtpTimeoutSec: 0,
    udpIo: msg.udp,
    logger,
    workerCount: msg.workers ?? 1,
  });
  if (msg.engine !== 'rtpengine') return { engine: builtin };
  const [{ RtpengineMediaEngine }, { RtpengineLauncher }, { NgClient }] = await Promise.all(RTPENGINE_MODULES.map((m) => import(m)));
  const ng = `127.0.0.1:${await freeUdpPort()}`;
  const client = new NgClient({ address: ng, timeoutMs: 500, retries: 2 });
  const launcher = new RtpengineLauncher({ binary: msg.rtpengineBinary, dir: msg.rtpengineDir, ng, interface: '127.0.0.1', ports: msg.rtpenginePorts, kernel: false, client, logger });
  const engine = new RtpengineMediaEngine({ inner: builtin, client, wrap: 'all', checkIntervalMs: 5000, launcher, logger });
  // RtpengineLauncher keeps its process in a TypeScript-private field; the bench needs its pid.
  return { engine, process: () => launcher.child };
}

async function engineRole() {
  let engine;
  let rtpengineProcess = () => undefined;
  let rtpengineDir;
  let legIds = [];
  // Whatever ends this process (an error, the orchestrator gone) ends the rtpengine it launched, started or
  // still starting.
  process.on('exit', () => {
    const rtpengine = rtpengineProcess();
    if (rtpengine && rtpengine.exitCode === null && rtpengine.signalCode === null) rtpengine.kill('SIGKILL');
    if (rtpengineDir) rmSync(rtpengineDir, { recursive: true, force: true });
  });
  process.on('disconnect', () => process.exit(1));
  process.on('message', async (msg) => {
    try {
      if (msg.cmd === 'setup') {
        const built = await buildEngine(msg);
        engine = built.engine;
        if (built.process) rtpengineProcess = built.process;
        rtpengineDir = msg.rtpengineDir;
        await engine.start();
        const rtpengine = rtpengineProcess();
        if (rtpengine) {
          // Children inherit the engine's affinity already; this states it for every thread of rtpengine.
          if (msg.core !== undefined) execFileSync('taskset', ['-a', '-cp', String(msg.core), String(rtpengine.pid)], { stdio: 'ignore' });
          process.send({ cmd: 'rtpengine', pid: rtpengine.pid });
        }
        const ports = [];
        legIds = [];
        for (const [a, b] of msg.phones) {
          const legs = [];
          for (const phonePort of [a, b]) {
            const id = await engine.createEndpoint(legs.length === 0 ? {} : { near: legs[0].id });
            const offer = [
              'v=0',
              'o=gen 1 1 IN IP4 127.0.0.1',
              's=-',
              'c=IN IP4 127.0.0.1',
              't=0 0',
              `m=audio ${phonePort} RTP/AVP 0 101`,
              'a=rtpmap:0 PCMU/8000',
              'a=rtpmap:101 telephone-event/8000',
              'a=sendrecv',
              '',
            ].join('\r\n');
            const { sdp } = await engine.answerOffer(id, offer);
            legs.push({ id, port: Number(/^m=audio (\d+)/m.exec(sdp)[1]) });
          }
          engine.bridge(legs[0].id, legs[1].id);
          ports.push([legs[0].port, legs[1].port]);
          legIds.push(legs[0].id, legs[1].id);
        }
        process.send({ cmd: 'ready', ports, rtpenginePid: rtpengine?.pid });
      } else if (msg.cmd === 'stats') {
        // Per stream index (same order as the generator's phones): packets in on that leg, out of it.
        const stats = await Promise.all(legIds.map((id) => engine.stats(id)));
        process.send({ cmd: 'stats', packetsIn: stats.map((s) => s.packetsIn), packetsOut: stats.map((s) => s.packetsOut) });
      } else if (msg.cmd === 'stop') {
        await engine?.stop();
        process.exit(0);
      }
    } catch (err) {
      log(`engine: ${err.stack ?? err}`);
      process.exit(1);
    }
  });
  process.send({ cmd: 'up' });
}

// ---- generator process ------------------------------------------------------------------------------

const literalLookup = (address, family, callback) => callback(null, address, family);

async function bindPhone(sink) {
  // Sinks keep a small receive buffer: the kernel drops what they never read.
  const s = createSocket({ type: 'udp4', lookup: literalLookup, ...(sink ? { recvBufferSize: 4096 } : {}) });
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', resolve);
  });
  if (sink) stopReading(s);
  return s;
}

/**
 * dgram reads every bound socket and has no public way to stop; its handle has (recvStop, used by Node
 * itself on close). Without it the sink would be read and dropped in JS, which costs generator CPU only.
 */
function stopReading(socket) {
  const state = Object.getOwnPropertySymbols(socket).find((sym) => sym.description === 'state symbol');
  socket[state]?.handle?.recvStop?.();
}

/**
 * Every stream sends one packet per 20 ms; the streams' send times are spread evenly over the 20 ms so the
 * load is smooth. Packet g (over all streams) is due at start + g × 20 ms / streams, so lateness of the
 * timer never accumulates. Payload: send time (ms, performance.now()) | stream index | sequence.
 */
async function generatorRole() {
  process.on('disconnect', () => process.exit(1));
  const calls = Number(process.env.BENCH_CALLS);
  const probes = Number(process.env.BENCH_PROBES);
  const sockets = [];
  for (let i = 0; i < calls * 2; i++) sockets.push(await bindPhone(i >= probes * 2));
  const streams = sockets.length;
  const sent = new Float64Array(streams);
  const received = new Float64Array(streams);
  const hist = new Uint32Array(BUCKETS);
  let late = 0;
  sockets.slice(0, probes * 2).forEach((s) => {
    s.on('message', (buf) => {
      if (buf.length < 12 + 16) return;
      const now = performance.now();
      const stream = buf.readUInt32BE(12 + 8);
      if (stream >= streams) return;
      received[stream]++;
      const us = (now - buf.readDoubleBE(12)) * 1000;
      hist[Math.min(BUCKETS - 1, Math.max(0, Math.floor(us / BUCKET_US)))]++;
    });
  });
  process.on('message', async (msg) => {
    if (msg.cmd !== 'start') return;
    // Stream 2i is phone A of call i (sends to the engine's port for leg A), 2i+1 phone B.
    const targets = msg.ports.flat();
    const seq = new Uint16Array(streams);
    const total = Math.floor((msg.seconds * 1000) / FRAME_MS) * streams;
    const start = performance.now();
    let g = 0;
    await new Promise((resolve) => {
      const tick = () => {
        const now = performance.now();
        const due = Math.min(total, Math.floor(((now - start) / FRAME_MS) * streams) + 1);
        if (due - g > streams) late++;
        for (; g < due; g++) {
          const i = g % streams;
          const buf = Buffer.allocUnsafe(12 + PAYLOAD);
          buf[0] = 0x80;
          buf[1] = 0;
          buf.writeUInt16BE(seq[i], 2);
          buf.writeUInt32BE((seq[i] * PAYLOAD) >>> 0, 4);
          buf.writeUInt32BE(i + 1, 8);
          buf.fill(0xff, 12);
          buf.writeDoubleBE(performance.now(), 12);
          buf.writeUInt32BE(i, 12 + 8);
          buf.writeUInt32BE(seq[i], 12 + 12);
          seq[i]++;
          sockets[i].send(buf, targets[i], '127.0.0.1');
          sent[i]++;
        }
        if (g >= total) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    const sendingMs = performance.now() - start;
    process.send({ cmd: 'sent' });
    await sleep(DRAIN_MS);
    for (const s of sockets) s.close();
    process.send({ cmd: 'result', sendingMs, sent: [...sent], received: [...received.subarray(0, probes * 2)], hist: [...hist], lateTicks: late });
  });
  process.send({ cmd: 'ports', phones: Array.from({ length: calls }, (_, i) => [sockets[2 * i].address().port, sockets[2 * i + 1].address().port]) });
}

// ---- orchestration ----------------------------------------------------------------------------------

/** CPU µs of each thread of a process (/proc/<pid>/task/<tid>/stat, proc(5)). */
function threadCpuUs(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, ((Number(f[11]) + Number(f[12])) * 1e6) / clockTicksPerSecond());
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** Starts this script in a role; with taskset when pinned (taskset execs node: same pid, IPC intact). */
function child(role, core, env = {}, nodeArgs = []) {
  const opts = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } };
  if (core === undefined) return track(fork(SELF, ['--role', role], { ...opts, execArgv: nodeArgs }));
  return track(fork(SELF, ['--role', role], { ...opts, execPath: 'taskset', execArgv: ['-c', String(core), process.execPath, ...nodeArgs] }));
}

/** Waits for a child that was asked to exit; SIGTERM/SIGKILL only if it does not within graceMs. */
function exited(child, graceMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => stopChild(child, 1000).then(resolve), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** rtpengine's default range: 8 ports per call (RTP + RTCP on its party side and on its built-in side of each leg), just above the built-in range. */
export function rtpenginePortRange(calls, firstPort, rtpengineFirst) {
  const first = rtpengineFirst ?? firstPort + calls * 4 + 200;
  const lo = first + (first % 2);
  return [lo, lo + calls * 8 + 399];
}

/** SIGKILL a process that is not our child (rtpengine, launched by the engine process) if it still runs. */
function killPid(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export async function runMediaRelay({
  calls = 1000,
  seconds = 15,
  probes = 20,
  readAll = false,
  firstPort = 20000,
  pin = true,
  engine: engineKind = 'builtin',
  rtpengineFirstPort,
  rtpengineBinary = 'rtpengine',
  udp = 'native',
  profileDir,
  workers = 1,
} = {}) {
  installCleanup();
  const probeCalls = readAll ? calls : Math.min(probes, calls);
  const pins = pin ? pinning() : { server: undefined, generator: undefined, note: 'not pinned (--no-pin)' };
  if (workers > 1 && pins.server !== undefined) pins.server = `0-${Math.min(workers, pins.cores) - 1}`;
  const cores = { ...pins, note: pins.server === undefined ? pins.note : `engine on core ${pins.server}, generator on core ${pins.generator}` };
  const rtpenginePorts = engineKind === 'rtpengine' ? rtpenginePortRange(calls, firstPort, rtpengineFirstPort) : undefined;
  log(`media relay: ${calls} calls (${probeCalls} read in full), ${seconds} s, engine ${engineKind}${rtpenginePorts ? ` (rtpengine ports ${rtpenginePorts.join('–')})` : ''}, ${cores.note}`);
  const engine = child('engine', cores.server, {}, profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []);
  const generator = child('generator', cores.generator, { BENCH_CALLS: String(calls), BENCH_PROBES: String(probeCalls) });
  // The engine process launches rtpengine (its config file in a folder of ours); should this process end
  // first (Ctrl-C, an error), rtpengine and the folder go too.
  const rtpengineDir = rtpenginePorts ? mkdtempSync(join(tmpdir(), 'hibiki-bench-rtpengine-')) : undefined;
  if (rtpengineDir) process.once('exit', () => rmSync(rtpengineDir, { recursive: true, force: true }));
  let rtpenginePid;
  const onRtpengine = (m) => {
    if (m.cmd !== 'rtpengine') return;
    rtpenginePid = m.pid;
    process.once('exit', () => killPid(m.pid));
  };
  engine.on('message', onRtpengine);
  try {
    await once(engine, 'up');
    const { phones } = await once(generator, 'ports');
    engine.send({ cmd: 'setup', phones, firstPort, udp, engine: engineKind, rtpenginePorts, rtpengineBinary, rtpengineDir, core: cores.server, workers });
    const { ports } = await once(engine, 'ready');
    log(`media relay: ${calls * 2} endpoints up${rtpenginePid ? ` behind rtpengine (pid ${rtpenginePid})` : ''}, sending`);
    await sleep(500);
    const rtpengineCpu = () => (rtpenginePid === undefined ? 0 : cpuTimeUs(rtpenginePid));
    const cpu0 = cpuTimeUs(engine.pid);
    const rtp0 = rtpengineCpu();
    const gen0 = cpuTimeUs(generator.pid);
    const threads0 = threadCpuUs(engine.pid);
    const t0 = performance.now();
    const resultReady = once(generator, 'result');
    generator.send({ cmd: 'start', ports, seconds });
    // CPU is measured over the sending window; the drain that follows is idle.
    await once(generator, 'sent');
    const wallUs = (performance.now() - t0) * 1000;
    const cpu1 = cpuTimeUs(engine.pid);
    const rtp1 = rtpengineCpu();
    const gen1 = cpuTimeUs(generator.pid);
    const threads1 = threadCpuUs(engine.pid);
    const result = await resultReady;
    engine.send({ cmd: 'stats' });
    const counters = await once(engine, 'stats');
    let busiest = 0;
    for (const [tid, us] of threads1) busiest = Math.max(busiest, us - (threads0.get(tid) ?? 0));
    engine.send({ cmd: 'stop' });
    await exited(engine, 5000);
    await stopChild(generator, 2000);
    if (rtpenginePid !== undefined) killPid(rtpenginePid);

    // Stream i (phone i → its leg) comes out of the other leg of the call: i ^ 1.
    const relayedOut = result.sent.map((_, i) => counters.packetsOut[i ^ 1]);
    const figures = relayFigures(result, relayedOut, probeCalls, BUCKET_US);
    const relayed = figures.relayed;
    const hibikiCpuUs = cpu1 - cpu0;
    const rtpengineCpuUs = rtp1 - rtp0;
    const serverCpuUs = hibikiCpuUs + rtpengineCpuUs;
    return {
      engine: engineKind,
      udp,
      calls,
      seconds,
      probeCalls,
      rtpenginePorts,
      pinned: cores.note,
      workers,
      ...figures,
      engineReceived: counters.packetsIn.reduce((x, y) => x + y, 0),
      // With rtpengine: hibiki's process and rtpengine's together (each also on its own below).
      engineCpuPct: (100 * serverCpuUs) / wallUs,
      hibikiCpuPct: (100 * hibikiCpuUs) / wallUs,
      rtpengineCpuPct: (100 * rtpengineCpuUs) / wallUs,
      workerThreadCpuPct: (100 * busiest) / wallUs,
      engineCpuUsPerPacket: serverCpuUs / Math.max(1, relayed),
      hibikiCpuUsPerPacket: hibikiCpuUs / Math.max(1, relayed),
      rtpengineCpuUsPerPacket: rtpengineCpuUs / Math.max(1, relayed),
      generatorCpuPct: (100 * (gen1 - gen0)) / wallUs,
      generatorLateTicks: result.lateTicks,
    };
  } catch (err) {
    await Promise.all([stopChild(engine, 1000), stopChild(generator, 1000)]);
    if (rtpenginePid !== undefined) killPid(rtpenginePid);
    throw err;
  }
}

/** The media worker's profile (that of the thread with the most non-idle time) summarised, then removed. */
function profileSummary(dir) {
  let best;
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'))) {
    const summary = summarizeProfile(JSON.parse(readFileSync(join(dir, name), 'utf8')));
    const busyUs = summary.totalUs - (summary.bySelf.find((r) => r.name === '(idle)')?.selfUs ?? 0);
    if (!best || busyUs > best.busyUs) best = { name, summary, busyUs };
  }
  rmSync(dir, { recursive: true, force: true });
  if (!best) return 'no CPU profile written';
  return `CPU profile of the busiest thread (${best.name}, ${(best.busyUs / 1e6).toFixed(2)} s not idle):\n${formatSummary(best.summary, 25)}`;
}

export function report(r) {
  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  if (r.engine === 'rtpengine') {
    return [
      '| engine | calls | relayed pps | sent | relayed | relay loss % | worst stream % | probe streams: loss % | added latency p50 / p99 / p99.9 / max (ms) | CPU % hibiki + rtpengine = engine | media worker CPU % | CPU µs / relayed packet hibiki + rtpengine = engine |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
      `| rtpengine | ${r.calls} | ${Math.round(r.relayedPps)} | ${r.sent} | ${r.relayed} | ${f(r.relayLossPct, 4)} | ${f(r.worstStreamRelayLossPct, 3)} | ${f(r.probeLossPct, 4)} (${r.probeCalls} calls) | ${f(r.latencyMs.p50)} / ${f(r.latencyMs.p99)} / ${f(r.latencyMs.p999)} / ${f(r.latencyMs.max)} | ${f(r.hibikiCpuPct, 1)} + ${f(r.rtpengineCpuPct, 1)} = ${f(r.engineCpuPct, 1)} | ${f(r.workerThreadCpuPct, 1)} | ${f(r.hibikiCpuUsPerPacket)} + ${f(r.rtpengineCpuUsPerPacket)} = ${f(r.engineCpuUsPerPacket)} |`,
      '',
      `${r.seconds} s requested, ${f(r.sendingSeconds, 1)} s sending; ${r.pinned} (rtpengine with the engine, ports ${r.rtpenginePorts.join('–')}); generator CPU ${f(r.generatorCpuPct, 1)} % (ticks behind by more than a frame: ${r.generatorLateTicks}); latency resolution ${BUCKET_US} µs. Relayed and relay loss count the built-in engine's packets out (towards rtpengine); the probe loss is end to end, through rtpengine both ways.`,
    ].join('\n');
  }
  return [
    '| calls | relayed pps | sent | relayed | relay loss % | worst stream % | probe streams: loss % | added latency p50 / p99 / p99.9 / max (ms) | engine CPU % | media worker CPU % | CPU µs / relayed packet |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    `| ${r.calls} | ${Math.round(r.relayedPps)} | ${r.sent} | ${r.relayed} | ${f(r.relayLossPct, 4)} | ${f(r.worstStreamRelayLossPct, 3)} | ${f(r.probeLossPct, 4)} (${r.probeCalls} calls) | ${f(r.latencyMs.p50)} / ${f(r.latencyMs.p99)} / ${f(r.latencyMs.p999)} / ${f(r.latencyMs.max)} | ${f(r.engineCpuPct, 1)} | ${f(r.workerThreadCpuPct, 1)} | ${f(r.engineCpuUsPerPacket)} |`,
    '',
    `${r.workers ?? 1} media worker(s); ${r.seconds} s requested, ${f(r.sendingSeconds, 1)} s sending; RTP I/O ${r.udp}; ${r.pinned}; generator CPU ${f(r.generatorCpuPct, 1)} % (ticks behind by more than a frame: ${r.generatorLateTicks}); latency resolution ${BUCKET_US} µs.`,
  ].join('\n');
}

async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      role: { type: 'string' },
      calls: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '15' },
      probes: { type: 'string', default: '20' },
      'read-all': { type: 'boolean', default: false },
      ports: { type: 'string', default: '20000' },
      engine: { type: 'string', default: 'builtin' },
      'rtpengine-ports': { type: 'string' },
      'rtpengine-binary': { type: 'string', default: 'rtpengine' },
      workers: { type: 'string', default: '1' },
      'no-pin': { type: 'boolean', default: false },
      udp: { type: 'string', default: 'native' },
      profile: { type: 'boolean', default: false },
      json: { type: 'string' },
      peers: { type: 'string', default: 'auto' },
      'peer-calls': { type: 'string', default: '500,1000' },
    },
  });
  if (values.role === 'engine') return engineRole();
  if (values.role === 'generator') return generatorRole();
  const calls = Number(values.calls);
  const seconds = Number(values.seconds);
  const probes = Number(values.probes);
  const firstPort = Number(values.ports);
  if (!(Number.isInteger(calls) && calls > 0 && calls <= 5000)) throw new Error('--calls must be 1–5000');
  if (!(seconds > 0 && seconds <= 300)) throw new Error('--seconds must be 1–300');
  if (!(Number.isInteger(probes) && probes >= 1)) throw new Error('--probes must be ≥ 1');
  const workers = Number(values.workers);
  if (!(Number.isInteger(workers) && workers >= 1 && workers <= 16)) throw new Error('--workers must be 1–16');
  if (!(Number.isInteger(firstPort) && firstPort >= 1024 && firstPort + calls * 4 + 200 <= 65535)) throw new Error('--ports leaves no room for the calls');
  const engine = values.engine;
  if (engine !== 'builtin' && engine !== 'rtpengine') throw new Error('--engine must be builtin or rtpengine');
  if (values.udp !== 'native' && values.udp !== 'dgram') throw new Error('--udp must be native or dgram');
  const profileDir = values.profile ? mkdtempSync(join(tmpdir(), 'hibiki-bench-relay-prof-')) : undefined;
  if (profileDir) process.once('exit', () => rmSync(profileDir, { recursive: true, force: true }));
  const rtpengineFirstPort = values['rtpengine-ports'] === undefined ? undefined : Number(values['rtpengine-ports']);
  if (engine === 'rtpengine') {
    const [lo, hi] = rtpenginePortRange(calls, firstPort, rtpengineFirstPort);
    if (!(Number.isInteger(lo) && lo >= 1024 && hi <= 65535)) throw new Error('--rtpengine-ports leaves no room for the calls');
    if (lo <= firstPort + calls * 4 + 199 && hi >= firstPort) throw new Error('--rtpengine-ports overlaps the built-in range (--ports)');
  }
  if (!['auto', 'off'].includes(values.peers)) throw new Error('--peers must be auto or off');
  const peerCalls = values['peer-calls'].split(',').map(Number);
  if (peerCalls.some((n) => !(Number.isInteger(n) && n > 0 && n <= 5000))) throw new Error('--peer-calls takes call counts 1–5000');
  const options = {
    calls,
    seconds,
    probes,
    readAll: values['read-all'],
    firstPort,
    pin: !values['no-pin'],
    engine,
    rtpengineFirstPort,
    rtpengineBinary: values['rtpengine-binary'],
    udp: values.udp,
    workers,
  };
  const result = await runMediaRelay({ ...options, profileDir });
  process.stdout.write(report(result) + '\n');
  if (profileDir) process.stdout.write(profileSummary(profileDir) + '\n');
  // The side-by-side reruns (at call counts the main run did not use) are not profiled.
  const side = await rtpengineSideBySide({ mode: values.peers, peerCalls, options, result, runHibiki: runMediaRelay, log });
  if (side.text) process.stdout.write(side.text + '\n');
  result.peer = side.peer;
  result.sideBySide = side.summary;
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
  process.exit(0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err) => {
    log(err.stack ?? String(err));
    process.exit(1);
  });
}
