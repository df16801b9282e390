// Call recording benchmark (issue #15): N concurrent G.711 calls bridged by the built-in media engine
// (dist/media/builtin/engine.js) on loopback, each recorded with recordCall() to a WAV, against the same
// calls without recording. A generator process sends 20 ms PCMU packets both ways for every call; the
// engine relays them and, when recording, decodes both sides and writes them on its 20 ms clock.
//
// Method: as media-relay.mjs — the engine process on core 0 and the generator on core 1 (taskset); the
// generator's phones never read their sockets (the kernel drops what they are sent). CPU is the engine
// process's and its busiest thread's (the media worker), from /proc, over the sending time. The disk
// write rate is the bytes of the finished files over the time they cover; each file's length is checked
// against the time the calls were up.
//
// Usage: npm run build && node scripts/bench/recording.mjs [--calls 100] [--seconds 20] [--format stereo|mono]
//        [--ports 20000] [--no-pin] [--json FILE]
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { clockTicksPerSecond, cpuTimeUs, installCleanup, once, pinning, stopChild, track } from './lib/proc.mjs';

const SELF = fileURLToPath(import.meta.url);
const ENGINE_MODULE = new URL('../../dist/media/builtin/engine.js', import.meta.url).href;
const FRAME_MS = 20;
const PAYLOAD = 160;

const log = (line) => process.stderr.write(line + '\n');

// ---- engine process ---------------------------------------------------------------------------------

async function engineRole() {
  const [{ BuiltinMediaEngine }, { pino }] = await Promise.all([import(ENGINE_MODULE), import('pino')]);
  let engine;
  let handles = [];
  process.on('message', async (msg) => {
    try {
      if (msg.cmd === 'setup') {
        engine = new BuiltinMediaEngine({
          address: '127.0.0.1',
          bindAddress: '127.0.0.1',
          rtpPorts: [msg.firstPort, msg.firstPort + msg.phones.length * 4 + 199],
          rtpTimeoutSec: 0,
          logger: pino({ level: 'warn' }),
        });
        await engine.start();
        const ports = [];
        const pairs = [];
        for (const [a, b] of msg.phones) {
          const legs = [];
          for (const phonePort of [a, b]) {
            const id = await engine.createEndpoint();
            const offer = ['v=0', 'o=gen 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${phonePort} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''].join('\r\n');
            const { sdp } = await engine.answerOffer(id, offer);
            legs.push({ id, port: Number(/^m=audio (\d+)/m.exec(sdp)[1]) });
          }
          engine.bridge(legs[0].id, legs[1].id);
          ports.push([legs[0].port, legs[1].port]);
          pairs.push([legs[0].id, legs[1].id]);
        }
        if (msg.dir) handles = pairs.map(([a, b], i) => engine.recordCall(a, b, join(msg.dir, `call-${i}.wav`), { format: msg.format }));
        process.send({ cmd: 'ready', ports });
      } else if (msg.cmd === 'finish') {
        for (const h of handles) h.stop();
        const results = await Promise.all(handles.map((h) => h.done));
        process.send({ cmd: 'finished', results });
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

async function bindSink() {
  const s = createSocket({ type: 'udp4', lookup: literalLookup, recvBufferSize: 4096 });
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', resolve);
  });
  // Never read (see media-relay.mjs): the kernel drops what overflows, at no cost to the generator.
  const state = Object.getOwnPropertySymbols(s).find((sym) => sym.description === 'state symbol');
  s[state]?.handle?.recvStop?.();
  return s;
}

/** A µ-law sine frame per stream (a real sound for the recorder to decode), the same every 20 ms. */
function payloadFor(stream) {
  const hz = 300 + (stream % 20) * 50;
  const out = Buffer.alloc(PAYLOAD);
  for (let i = 0; i < PAYLOAD; i++) {
    const s = Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 8000));
    const sign = s < 0 ? 0x80 : 0;
    let m = Math.min(32635, Math.abs(s)) + 0x84;
    let exp = 7;
    for (let mask = 0x4000; (m & mask) === 0 && exp > 0; mask >>= 1) exp--;
    out[i] = ~(sign | (exp << 4) | ((m >> (exp + 3)) & 0x0f)) & 0xff;
  }
  return out;
}

async function generatorRole() {
  const calls = Number(process.env.BENCH_CALLS);
  const sockets = [];
  for (let i = 0; i < calls * 2; i++) sockets.push(await bindSink());
  const streams = sockets.length;
  const payloads = sockets.map((_, i) => payloadFor(i));
  process.on('message', async (msg) => {
    if (msg.cmd !== 'start') return;
    const targets = msg.ports.flat();
    const seq = new Uint16Array(streams);
    const total = Math.floor((msg.seconds * 1000) / FRAME_MS) * streams;
    const start = performance.now();
    let g = 0;
    await new Promise((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((performance.now() - start) / FRAME_MS) * streams) + 1);
        for (; g < due; g++) {
          const i = g % streams;
          const buf = Buffer.allocUnsafe(12 + PAYLOAD);
          buf[0] = 0x80;
          buf[1] = 0;
          buf.writeUInt16BE(seq[i], 2);
          buf.writeUInt32BE((seq[i] * PAYLOAD) >>> 0, 4);
          buf.writeUInt32BE(i + 1, 8);
          payloads[i].copy(buf, 12);
          seq[i]++;
          sockets[i].send(buf, targets[i], '127.0.0.1');
        }
        if (g >= total) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    for (const s of sockets) s.close();
    process.send({ cmd: 'sent', sendingMs: performance.now() - start });
  });
  process.send({ cmd: 'ports', phones: Array.from({ length: calls }, (_, i) => [sockets[2 * i].address().port, sockets[2 * i + 1].address().port]) });
}

// ---- orchestration ----------------------------------------------------------------------------------

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

/** One pass: the calls relayed for `seconds`, recorded into a fresh folder when `record`. */
async function pass({ calls, seconds, format, firstPort, pins, record }) {
  const dir = record ? mkdtempSync(join(tmpdir(), 'hibiki-bench-rec-')) : undefined;
  const engine = child('engine', pins.server);
  const generator = child('generator', pins.generator, { BENCH_CALLS: String(calls) });
  try {
    await once(engine, 'up');
    const { phones } = await once(generator, 'ports');
    engine.send({ cmd: 'setup', phones, firstPort, dir, format });
    const { ports } = await once(engine, 'ready');
    const cpu0 = cpuTimeUs(engine.pid);
    const threads0 = threadCpuUs(engine.pid);
    const t0 = performance.now();
    generator.send({ cmd: 'start', ports, seconds });
    const { sendingMs } = await once(generator, 'sent');
    const wallMs = performance.now() - t0;
    const cpu = cpuTimeUs(engine.pid) - cpu0;
    const threads1 = threadCpuUs(engine.pid);
    let busiest = 0;
    for (const [tid, us] of threads1) busiest = Math.max(busiest, us - (threads0.get(tid) ?? 0));
    const out = {
      calls,
      seconds,
      record,
      format: record ? format : undefined,
      sendingMs: Math.round(sendingMs),
      enginePct: +((cpu / 1000 / wallMs) * 100).toFixed(1),
      workerPct: +((busiest / 1000 / wallMs) * 100).toFixed(1),
    };
    if (record) {
      engine.send({ cmd: 'finish' });
      const { results } = await once(engine, 'finished');
      const files = readdirSync(dir).map((f) => statSync(join(dir, f)).size);
      const bytes = files.reduce((a, b) => a + b, 0);
      const durations = results.map((r) => r.durationMs);
      Object.assign(out, {
        files: files.length,
        failed: results.filter((r) => r.reason === 'failed').length,
        totalMB: +(bytes / 1e6).toFixed(1),
        writeKBps: Math.round(bytes / 1000 / (Math.max(...durations) / 1000)),
        perCallKBps: +(bytes / 1000 / (Math.max(...durations) / 1000) / calls).toFixed(1),
        durationMs: { min: Math.min(...durations), max: Math.max(...durations) },
      });
    }
    engine.send({ cmd: 'stop' });
    await Promise.all([stopChild(engine, 5000), stopChild(generator, 5000)]);
    return out;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

export async function runRecording({ calls = 100, seconds = 20, format = 'stereo', firstPort = 20000, pin = true } = {}) {
  installCleanup();
  const pins = pin ? pinning() : { server: undefined, generator: undefined, note: 'not pinned (--no-pin)' };
  log(`recording bench: ${calls} calls, ${seconds} s, ${format}; ${pins.note}`);
  const baseline = await pass({ calls, seconds, format, firstPort, pins, record: false });
  log(`  relay only:     engine ${baseline.enginePct} % CPU, media worker ${baseline.workerPct} %`);
  const recorded = await pass({ calls, seconds, format, firstPort, pins, record: true });
  log(`  with recording: engine ${recorded.enginePct} % CPU, media worker ${recorded.workerPct} %, ${recorded.files} files, ${recorded.totalMB} MB, ${recorded.writeKBps} kB/s`);
  return { pinning: pins.note, baseline, recorded };
}

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    calls: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '20' },
    format: { type: 'string', default: 'stereo' },
    ports: { type: 'string', default: '20000' },
    'no-pin': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

if (values.role === 'engine') await engineRole();
else if (values.role === 'generator') await generatorRole();
else if (process.argv[1] === SELF) {
  const result = await runRecording({ calls: Number(values.calls), seconds: Number(values.seconds), format: values.format, firstPort: Number(values.ports), pin: !values['no-pin'] });
  const { baseline: b, recorded: r } = result;
  const report = [
    `#### Call recording (${r.calls} calls, ${r.seconds} s, ${r.format}; ${result.pinning})`,
    '',
    '| | engine CPU | media worker | files | written | write rate | file length |',
    '|---|---:|---:|---:|---:|---:|---|',
    `| relay only | ${b.enginePct} % | ${b.workerPct} % | | | | |`,
    `| recorded | ${r.enginePct} % | ${r.workerPct} % | ${r.files} (${r.failed} failed) | ${r.totalMB} MB | ${r.writeKBps} kB/s (${r.perCallKBps} per call) | ${r.durationMs.min}–${r.durationMs.max} ms |`,
  ];
  process.stdout.write(report.join('\n') + '\n');
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
  process.exit(0);
}
