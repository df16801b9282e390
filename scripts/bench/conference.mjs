// Conference mixing benchmark (issue #15): M mixes of N G.711 members each in the built-in media engine
// (dist/media/builtin/engine.js) on loopback. A generator process plays every member's phone: each sends a
// 20 ms packet every 20 ms (low-level noise; a third of the members speak A-law, the rest µ-law, so the mix
// decodes and encodes both) and reads everything the engine sends back (one mixed stream per member).
//
// Latency: every 500 ms one member of each mix (its "probe") sends a single loud frame instead of noise; each
// other member of that mix notes when the first loud packet reaches it. Send time → mixed output arrival is
// the added latency of the mix (jitter ring + waiting for the 20 ms tick + mixing + the sockets), measured
// in one process so no two clocks are compared.
// CPU: as media-relay.mjs, the engine process on core 0 and the generator on core 1 (taskset); CPU of the
// engine process and of its busiest thread (the media worker) from /proc over the sending window.
//
// Usage: npm run build && node scripts/bench/conference.mjs [options]
//   --mixes 10          conference rooms
//   --members 10        members per room
//   --seconds 60        how long the generator sends (--quick: 10)
//   --quick             a 10 s run
//   --ports 20000       first port of the engine's RTP range
//   --no-pin            do not pin the processes to cores
//   --json FILE         write the results as JSON (for run.mjs)
//
// Roles (internal): `--role engine` and `--role generator` are the two child processes.
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { clockTicksPerSecond, cpuTimeUs, installCleanup, once, pinning, stopChild, track } from './lib/proc.mjs';
import { summarize } from './lib/percentile.mjs';

const SELF = fileURLToPath(import.meta.url);
const ENGINE_MODULE = new URL('../../dist/media/builtin/engine.js', import.meta.url).href;
const G711_MODULE = new URL('../../dist/media/builtin/g711.js', import.meta.url).href;
const FRAME_MS = 20;
const PAYLOAD = 160;
/** A probe frame every this many frames (500 ms). */
const PROBE_EVERY = 25;
const LOUD = 20000;
const NOISE = 200;
/** Loud enough to be the probe: far above the sum of every other member's noise. */
const DETECT = 10000;
const DRAIN_MS = 1000;

const log = (line) => process.stderr.write(line + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Member j of a mix speaks A-law when j % 3 === 2. */
const ptOf = (member) => (member % 3 === 2 ? 8 : 0);

// ---- engine process ---------------------------------------------------------------------------------

async function engineRole() {
  const [{ BuiltinMediaEngine }, { pino }] = await Promise.all([import(ENGINE_MODULE), import('pino')]);
  let engine;
  let legIds = [];
  process.on('message', async (msg) => {
    try {
      if (msg.cmd === 'setup') {
        const count = msg.rooms.flat().length;
        engine = new BuiltinMediaEngine({
          address: '127.0.0.1',
          bindAddress: '127.0.0.1',
          rtpPorts: [msg.firstPort, msg.firstPort + count * 4 + 199],
          rtpTimeoutSec: 0,
          logger: pino({ level: 'warn' }),
        });
        await engine.start();
        const ports = [];
        legIds = [];
        for (const room of msg.rooms) {
          const mix = engine.createMix();
          const roomPorts = [];
          for (const [j, phonePort] of room.entries()) {
            const pt = ptOf(j);
            const id = await engine.createEndpoint();
            const offer = [
              'v=0',
              'o=gen 1 1 IN IP4 127.0.0.1',
              's=-',
              'c=IN IP4 127.0.0.1',
              't=0 0',
              `m=audio ${phonePort} RTP/AVP ${pt} 101`,
              `a=rtpmap:${pt} ${pt === 0 ? 'PCMU' : 'PCMA'}/8000`,
              'a=rtpmap:101 telephone-event/8000',
              'a=sendrecv',
              '',
            ].join('\r\n');
            const { sdp } = await engine.answerOffer(id, offer);
            engine.joinMix(mix, id, { hears: 'all', speaks: true });
            roomPorts.push(Number(/^m=audio (\d+)/m.exec(sdp)[1]));
            legIds.push(id);
          }
          ports.push(roomPorts);
        }
        process.send({ cmd: 'ready', ports });
      } else if (msg.cmd === 'stats') {
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

async function bindPhone() {
  const s = createSocket({ type: 'udp4', lookup: literalLookup, recvBufferSize: 1 << 20 });
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', resolve);
  });
  return s;
}

async function generatorRole() {
  const { linearToUlaw, linearToAlaw, ULAW_DECODE, ALAW_DECODE } = await import(G711_MODULE);
  const mixes = Number(process.env.BENCH_MIXES);
  const members = Number(process.env.BENCH_MEMBERS);
  const streams = mixes * members;
  const sockets = [];
  for (let i = 0; i < streams; i++) sockets.push(await bindPhone());
  // Precomputed payloads per law: a few noise frames (varying, so nothing is constant) and the loud probe.
  const frames = (pt, fn) => ({
    noise: Array.from({ length: 8 }, (_, k) => Uint8Array.from({ length: PAYLOAD }, (_, i) => fn(Math.round(NOISE * Math.sin((i + k * 37) * 0.7))))),
    loud: Uint8Array.from({ length: PAYLOAD }, (_, i) => fn(Math.round(LOUD * Math.sin((2 * Math.PI * 1000 * i) / 8000)))),
    decode: pt === 0 ? ULAW_DECODE : ALAW_DECODE,
  });
  const law = { 0: frames(0, linearToUlaw), 8: frames(8, linearToAlaw) };
  const received = new Float64Array(streams);
  /** Per mix: send time of its latest probe and its number; per stream: the last probe it reported. */
  const probeAt = new Float64Array(mixes);
  const probeNo = new Int32Array(mixes);
  const seenProbe = new Int32Array(streams);
  const latencies = [];
  sockets.forEach((s, i) => {
    const mix = Math.floor(i / members);
    s.on('message', (buf) => {
      received[i]++;
      if (buf.length < 12 + PAYLOAD || probeNo[mix] === seenProbe[i]) return;
      const decode = law[buf[1] & 0x7f]?.decode;
      if (!decode) return;
      for (let k = 12; k < buf.length; k++) {
        const v = decode[buf[k]];
        if (v > DETECT || v < -DETECT) {
          seenProbe[i] = probeNo[mix];
          latencies.push(performance.now() - probeAt[mix]);
          return;
        }
      }
    });
  });
  process.on('message', async (msg) => {
    if (msg.cmd !== 'start') return;
    const targets = msg.ports.flat();
    const seq = new Uint16Array(streams);
    const total = Math.floor((msg.seconds * 1000) / FRAME_MS) * streams;
    const start = performance.now();
    let g = 0;
    let late = 0;
    await new Promise((resolve) => {
      const tick = () => {
        const now = performance.now();
        const due = Math.min(total, Math.floor(((now - start) / FRAME_MS) * streams) + 1);
        if (due - g > streams) late++;
        for (; g < due; g++) {
          const i = g % streams;
          const mix = Math.floor(i / members);
          const member = i % members;
          const frame = seq[i];
          const pt = ptOf(member);
          // Member 0 is the mix's probe; the mixes' probes are spread over the 500 ms.
          const probe = member === 0 && (frame + mix * 2) % PROBE_EVERY === 0 && frame > PROBE_EVERY;
          const buf = Buffer.allocUnsafe(12 + PAYLOAD);
          buf[0] = 0x80;
          buf[1] = pt;
          buf.writeUInt16BE(frame, 2);
          buf.writeUInt32BE((frame * PAYLOAD) >>> 0, 4);
          buf.writeUInt32BE(i + 1, 8);
          buf.set(probe ? law[pt].loud : law[pt].noise[frame % 8], 12);
          seq[i]++;
          if (probe) {
            probeAt[mix] = performance.now();
            probeNo[mix]++;
            // The probe does not hear itself (its own loud frame is not in its mix).
            seenProbe[i] = probeNo[mix];
          }
          sockets[i].send(buf, targets[i], '127.0.0.1');
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
    const probes = [...probeNo].reduce((a, b) => a + b, 0);
    process.send({ cmd: 'result', sendingMs, sent: total, received: [...received], latencies, probes, lateTicks: late });
  });
  process.send({ cmd: 'ports', rooms: Array.from({ length: mixes }, (_, m) => Array.from({ length: members }, (_, j) => sockets[m * members + j].address().port)) });
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

function child(role, core, env = {}) {
  const opts = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } };
  if (core === undefined) return track(fork(SELF, ['--role', role], opts));
  return track(fork(SELF, ['--role', role], { ...opts, execPath: 'taskset', execArgv: ['-c', String(core), process.execPath] }));
}

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

export async function runConference({ mixes = 10, members = 10, seconds = 60, firstPort = 20000, pin = true } = {}) {
  installCleanup();
  const pins = pin ? pinning() : { server: undefined, generator: undefined, note: 'not pinned (--no-pin)' };
  const cores = { ...pins, note: pins.server === undefined ? pins.note : `engine on core ${pins.server}, generator on core ${pins.generator}` };
  log(`conference: ${mixes} mixes × ${members} members, ${seconds} s, ${cores.note}`);
  const engine = child('engine', cores.server);
  const generator = child('generator', cores.generator, { BENCH_MIXES: String(mixes), BENCH_MEMBERS: String(members) });
  try {
    await once(engine, 'up');
    const { rooms } = await once(generator, 'ports');
    engine.send({ cmd: 'setup', rooms, firstPort });
    const { ports } = await once(engine, 'ready');
    log(`conference: ${mixes * members} members up, sending`);
    await sleep(500);
    const cpu0 = cpuTimeUs(engine.pid);
    const gen0 = cpuTimeUs(generator.pid);
    const threads0 = threadCpuUs(engine.pid);
    const t0 = performance.now();
    const resultReady = once(generator, 'result');
    generator.send({ cmd: 'start', ports, seconds });
    await once(generator, 'sent');
    const wallUs = (performance.now() - t0) * 1000;
    const cpu1 = cpuTimeUs(engine.pid);
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

    const sum = (a) => a.reduce((x, y) => x + y, 0);
    const sendingSeconds = result.sendingMs / 1000;
    const latency = summarize(result.latencies);
    const streams = mixes * members;
    return {
      mixes,
      members,
      seconds,
      pinned: cores.note,
      sent: result.sent,
      engineReceived: sum(counters.packetsIn),
      engineSent: sum(counters.packetsOut),
      received: sum(result.received),
      // Each member is sent one mixed packet per tick while the mix runs (from setup to stop).
      mixedPpsPerMember: sum(counters.packetsOut) / streams,
      sendingSeconds,
      probes: result.probes,
      latencySamples: latency.count,
      latencyMs: { p50: latency.p50, p99: latency.p99, max: latency.max },
      engineCpuPct: (100 * (cpu1 - cpu0)) / wallUs,
      workerThreadCpuPct: (100 * busiest) / wallUs,
      generatorCpuPct: (100 * (gen1 - gen0)) / wallUs,
      generatorLateTicks: result.lateTicks,
    };
  } catch (err) {
    await Promise.all([stopChild(engine, 1000), stopChild(generator, 1000)]);
    throw err;
  }
}

export function report(r) {
  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  return [
    '| mixes × members | s sending | packets in (sent / engine got) | mixed packets out (engine / received) | added latency p50 / p99 / max (ms) | engine CPU % | media worker CPU % |',
    '|---|---|---|---|---|---|---|',
    `| ${r.mixes} × ${r.members} | ${f(r.sendingSeconds, 1)} | ${r.sent} / ${r.engineReceived} | ${r.engineSent} / ${r.received} | ${f(r.latencyMs.p50)} / ${f(r.latencyMs.p99)} / ${f(r.latencyMs.max)} | ${f(r.engineCpuPct, 1)} | ${f(r.workerThreadCpuPct, 1)} |`,
    '',
    `${r.pinned}; latency from ${r.latencySamples} probe arrivals (${r.probes} probes × ${r.members - 1} listeners); generator CPU ${f(r.generatorCpuPct, 1)} % (ticks behind by more than a frame: ${r.generatorLateTicks}).`,
  ].join('\n');
}

async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      role: { type: 'string' },
      mixes: { type: 'string', default: '10' },
      members: { type: 'string', default: '10' },
      seconds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      ports: { type: 'string', default: '20000' },
      'no-pin': { type: 'boolean', default: false },
      json: { type: 'string' },
    },
  });
  if (values.role === 'engine') return engineRole();
  if (values.role === 'generator') return generatorRole();
  const mixes = Number(values.mixes);
  const members = Number(values.members);
  const seconds = Number(values.seconds ?? (values.quick ? 10 : 60));
  const firstPort = Number(values.ports);
  if (!(Number.isInteger(mixes) && mixes > 0 && mixes <= 200)) throw new Error('--mixes must be 1–200');
  if (!(Number.isInteger(members) && members >= 2 && members <= 100)) throw new Error('--members must be 2–100');
  if (!(seconds > 0 && seconds <= 600)) throw new Error('--seconds must be 1–600');
  if (!(Number.isInteger(firstPort) && firstPort >= 1024 && firstPort + mixes * members * 4 + 200 <= 65535)) throw new Error('--ports leaves no room');
  const result = await runConference({ mixes, members, seconds, firstPort, pin: !values['no-pin'] });
  process.stdout.write(report(result) + '\n');
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
  process.exit(0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err) => {
    log(err.stack ?? String(err));
    process.exit(1);
  });
}
