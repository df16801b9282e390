// Server CPU per authenticated registration, in process and without sockets (issue #13, goal 2): the
// real server (dist/server.js, the same config as register-storm.mjs) is started, its transport's send
// is replaced by a stub that keeps the last datagram, and REGISTERs shaped as test/sipp/bench-register.xml
// sends them are fed to SipStack.receive. Measures the JavaScript path (parse, transaction, digest,
// registrar, store, events, response building, the grouped SQLite commit, GC) without the UDP system
// calls and without the load generator, so the figure moves with the code and hardly with other work on
// the machine — the storm's µs/registration on a shared 2-core box swings by ±30 %.
//
// Usage: npm run build && node scripts/bench/register-path.mjs [--count 5000] [--batch 20] [--rounds 8]
//   --count   registrations per round (each a new extension: REGISTER → 401 → REGISTER → 200)
//   --batch   registrations per event-loop turn (timers, the SQLite commit and GC run between turns)
//   --rounds  rounds; the first warms the JIT up, the rest are reported with their minimum and median
//             (the minimum is the figure least disturbed by other processes on the same core)
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchPassword, freeUdpPort, writeBenchConfig } from './lib/server.mjs';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '5000' }, batch: { type: 'string', default: '20' }, rounds: { type: 'string', default: '8' } },
});
const count = Number(values.count);
const batch = Number(values.batch);
const rounds = Number(values.rounds);

const dist = new URL('../../dist/', import.meta.url);
const { HibikiServer } = await import(new URL('server.js', dist));
const { loadConfigFile } = await import(new URL('config/load.js', dist));
const { createLogger } = await import(new URL('log/logger.js', dist));
const { buildAuthorization } = await import(new URL('sip/digest.js', dist));

const FIRST_USER = 2_000_000;
const HOST = '127.0.0.1';
const PORT = await freeUdpPort();
const CLIENT = { transport: 'udp', address: HOST, port: 5070, localAddress: HOST, localPort: PORT };

const dir = mkdtempSync(join(tmpdir(), 'hibiki-regpath-'));
const numbers = Array.from({ length: count * rounds }, (_, i) => String(FIRST_USER + i));
const configPath = writeBenchConfig(dir, { numbers, port: PORT, dataDir: join(dir, 'data'), mwiUnsolicited: false });
const loaded = loadConfigFile(configPath);
if (!loaded.ok) throw new Error(`config: ${JSON.stringify(loaded.errors ?? loaded)}`);
// Feeding requests back to back keeps the loop busy by design: overload shedding would answer 503.
loaded.config.security.overload = undefined;
const server = new HibikiServer({ config: loaded.config, configPath, logger: createLogger('warn') });
await server.start();

let last = null;
server.stack.transport.send = (data, _target, cb) => {
  last = data;
  cb?.();
};

function register(user, seq, authorization) {
  const lines = [
    `REGISTER sip:${HOST}:${PORT} SIP/2.0`,
    `Via: SIP/2.0/UDP ${HOST}:5070;branch=z9hG4bK-${user}-${seq};rport`,
    `From: <sip:${user}@${HOST}>;tag=${user}R1`,
    `To: <sip:${user}@${HOST}>`,
    `Call-ID: ${user}-regpath@${HOST}`,
    `CSeq: ${seq} REGISTER`,
    `Contact: <sip:${user}@${HOST}:5070>`,
  ];
  if (authorization) lines.push(`Authorization: ${authorization}`);
  lines.push('Max-Forwards: 70', 'Expires: 3600', 'User-Agent: sipp-bench', 'Content-Length: 0', '', '');
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

const turn = () => new Promise((r) => setImmediate(r));
const statusOf = (buf) => Number(buf.toString('latin1', 8, 11));

async function round(users) {
  const first = users.map((u) => register(u, 1));
  let cpu = 0;
  const challenges = new Array(users.length);
  for (let i = 0; i < users.length; i += batch) {
    const t = process.cpuUsage();
    for (let j = i; j < Math.min(i + batch, users.length); j++) {
      server.stack.receive(first[j], CLIENT);
      challenges[j] = last;
    }
    const d = process.cpuUsage(t);
    cpu += d.user + d.system;
    await turn();
  }
  // Building the answers is the phone's work: outside the measured span.
  const second = users.map((u, j) => {
    const text = challenges[j].toString('latin1');
    const www = /\r\nWWW-Authenticate: (.*)\r\n/i.exec(text);
    if (!www) throw new Error(`no challenge for ${u}: ${text.slice(0, 200)}`);
    return register(u, 2, buildAuthorization(www[1], { username: u, password: benchPassword(u) }, 'REGISTER', `sip:${HOST}:${PORT}`));
  });
  let ok = 0;
  for (let i = 0; i < users.length; i += batch) {
    const t = process.cpuUsage();
    for (let j = i; j < Math.min(i + batch, users.length); j++) {
      last = null;
      server.stack.receive(second[j], CLIENT);
      if (last && statusOf(last) === 200) ok++;
    }
    // The grouped commit runs in a later turn: wait for it inside the measured span.
    await turn();
    const d = process.cpuUsage(t);
    cpu += d.user + d.system;
  }
  await new Promise((r) => setTimeout(r, 50));
  return { ok, usPerReg: cpu / users.length };
}

try {
  const figures = [];
  for (let r = 0; r < rounds; r++) {
    const res = await round(numbers.slice(r * count, (r + 1) * count));
    if (res.ok !== count) throw new Error(`round ${r}: only ${res.ok}/${count} registered`);
    if (r > 0) figures.push(res.usPerReg);
  }
  figures.sort((a, b) => a - b);
  const median = figures[Math.floor(figures.length / 2)];
  process.stdout.write(
    `register path: ${figures.length} × ${count} registrations, µs CPU per registration min ${figures[0].toFixed(1)}, median ${median.toFixed(1)} ` +
      `(rounds: ${figures.map((f) => f.toFixed(0)).join(' ')}; load average ${loadavg()[0].toFixed(2)})\n`,
  );
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
