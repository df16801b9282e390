// rtpengine alone as the media relay, side by side with hibiki's engine (issue #13 goal 6): the media-relay
// benchmark's load (its own generator process: one socket per phone, 20 ms G.711 packets both ways, a few
// probe calls read for latency and end-to-end loss) relayed by rtpengine (Debian `rtpengine-daemon`,
// userspace forwarding: table -1) with no hibiki in the path. This is not `--engine rtpengine`, where
// rtpengine sits in front of hibiki's endpoints and every packet is relayed twice.
//
// The bench is the call controller: for every call an ng `offer` with phone A's SDP and an `answer` with
// phone B's, over the ng protocol (dist/media/rtpengine/ng-client.js, so `npm run build` first). Each phone
// then sends to the port rtpengine gave the other side's SDP, from its own port, which is the address its
// SDP announced (rtpengine latches to it). rtpengine runs on the engine's core, every thread pinned there;
// the generator on the other core. Its CPU is utime+stime of the process (all threads) from /proc over
// the sending window; packets relayed are those rtpengine received on each stream (ng `query`), and loss
// is counted from what the generator sent.
import { execFileSync, fork, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuTimeUs, once, pinned, pinning, stopChild, track } from './proc.mjs';
import { freeUdpPort } from './server.mjs';
import { relayFigures } from './percentile.mjs';

const MEDIA_RELAY = fileURLToPath(new URL('../media-relay.mjs', import.meta.url));
const NG_CLIENT = new URL('../../../dist/media/rtpengine/ng-client.js', import.meta.url).href;
/** The generator's latency histogram (media-relay.mjs): 10 µs buckets. */
const BUCKET_US = 10;
const START_TIMEOUT_MS = 10_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** rtpengine's version ("10.5.3.5-1+deb12u1"), or undefined when it is not installed. */
export function rtpengineVersion(binary = 'rtpengine') {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (r.error) return undefined;
  return /Version:\s*(\S+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown';
}

/** The side-by-side part (`--peers auto|off`): undefined when off, { skipped } when not installed, else { version }. */
export function rtpenginePeer(mode, binary) {
  if (mode === 'off') return undefined;
  const version = rtpengineVersion(binary);
  if (!version) return { skipped: 'Side by side with rtpengine: skipped, rtpengine is not installed (run scripts/install-bench-peers.sh as root).' };
  return { name: 'rtpengine', version };
}

/** rtpengine in the foreground, userspace only, on loopback, pinned (all threads) to `core`. */
async function startRtpengine({ binary, core, ports, threads, NgClient }) {
  const ngPort = await freeUdpPort();
  const args = [
    '--config-file=none',
    '--foreground',
    '--log-stderr',
    '--log-level=4',
    '--table=-1',
    '--interface=127.0.0.1',
    `--listen-ng=127.0.0.1:${ngPort}`,
    `--port-min=${ports[0]}`,
    `--port-max=${ports[1]}`,
    `--num-threads=${threads}`,
    // A deleted call's ports are free at once.
    '--delete-delay=0',
  ];
  const [cmd, cmdArgs] = pinned(core, binary, args);
  const child = track(spawn(cmd, cmdArgs, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d.toString()).slice(-4000)));
  const client = new NgClient({ address: `127.0.0.1:${ngPort}`, timeoutMs: 200, retries: 0 });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`rtpengine exited at start (${child.exitCode ?? child.signalCode}): ${stderr.slice(-1500)}`);
    try {
      await client.request('ping');
      break;
    } catch {
      if (Date.now() > deadline) {
        client.close();
        await stopChild(child, 1000);
        throw new Error(`rtpengine did not answer ping: ${stderr.slice(-1500)}`);
      }
      await sleep(100);
    }
  }
  client.close();
  // Threads it started before the pin took effect (none: taskset execs it pinned) and any later: all on the core.
  if (core !== undefined) execFileSync('taskset', ['-a', '-cp', String(core), String(child.pid)], { stdio: 'ignore' });
  return { child, ng: new NgClient({ address: `127.0.0.1:${ngPort}`, timeoutMs: 1000, retries: 2 }), stderr: () => stderr };
}

const sdp = (port) =>
  ['v=0', 'o=gen 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join(
    '\r\n',
  );
const sdpPort = (text) => Number(/^m=audio (\d+)/m.exec(text)?.[1]);

/** Packets rtpengine received from one side of a call (ng `query`: the tag's first stream). */
function packetsFrom(reply, tag) {
  const media = reply.tags?.[tag]?.medias?.[0];
  const stream = media?.streams?.[0];
  return Number(stream?.stats?.packets ?? 0);
}

/**
 * One run: `calls` calls, `seconds` of sending. `pin` is lib/proc.mjs pinning() (server = the engine's
 * core, generator = the other). Returns the same figures media-relay.mjs reports for hibiki.
 */
export async function runRtpengineRelay({ calls, seconds, probes = 20, readAll = false, firstPort = 20000, pin, threads = 1, binary = 'rtpengine' }) {
  const { NgClient } = await import(NG_CLIENT);
  const probeCalls = readAll ? calls : Math.min(probes, calls);
  // Two legs per call, RTP + RTCP each, even-aligned, with slack for ports the kernel holds a moment.
  const ports = [firstPort, firstPort + calls * 4 + 399];
  const rtp = await startRtpengine({ binary, core: pin.server, ports, threads, NgClient });
  const opts = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, BENCH_CALLS: String(calls), BENCH_PROBES: String(probeCalls) } };
  const generator = track(
    pin.generator === undefined
      ? fork(MEDIA_RELAY, ['--role', 'generator'], opts)
      : fork(MEDIA_RELAY, ['--role', 'generator'], { ...opts, execPath: 'taskset', execArgv: ['-c', String(pin.generator), process.execPath] }),
  );
  try {
    const { phones } = await once(generator, 'ports');
    // Stream 2i is phone A of call i: it sends to the port rtpengine put in the SDP it gave A (the answer's).
    const targets = [];
    const ids = [];
    for (let i = 0; i < phones.length; i++) {
      const [a, b] = phones[i];
      const call = { 'call-id': `bench-${i}`, 'from-tag': `a${i}` };
      const offer = await rtp.ng.request('offer', { ...call, sdp: sdp(a) });
      const answer = await rtp.ng.request('answer', { ...call, 'to-tag': `b${i}`, sdp: sdp(b) });
      targets.push([sdpPort(answer.sdp), sdpPort(offer.sdp)]);
      ids.push(call);
    }
    await sleep(500);
    const cpu0 = cpuTimeUs(rtp.child.pid);
    const gen0 = cpuTimeUs(generator.pid);
    const t0 = performance.now();
    const resultReady = once(generator, 'result');
    generator.send({ cmd: 'start', ports: targets, seconds });
    await once(generator, 'sent');
    const wallUs = (performance.now() - t0) * 1000;
    const cpuUs = cpuTimeUs(rtp.child.pid) - cpu0;
    const genUs = cpuTimeUs(generator.pid) - gen0;
    const result = await resultReady;
    // What rtpengine received on each stream; stream 2i (phone A) is tag a<i>, 2i+1 tag b<i>.
    const received = new Array(calls * 2).fill(0);
    for (let i = 0; i < ids.length; i++) {
      const reply = await rtp.ng.request('query', { 'call-id': ids[i]['call-id'] });
      received[2 * i] = packetsFrom(reply, `a${i}`);
      received[2 * i + 1] = packetsFrom(reply, `b${i}`);
    }
    const figures = relayFigures(result, received, probeCalls, BUCKET_US);
    const relayed = figures.relayed;
    return {
      engine: 'rtpengine alone',
      calls,
      seconds,
      probeCalls,
      threads,
      ports,
      ...figures,
      engineCpuPct: (100 * cpuUs) / wallUs,
      engineCpuUsPerPacket: cpuUs / Math.max(1, relayed),
      generatorCpuPct: (100 * genUs) / wallUs,
      generatorLateTicks: result.lateTicks,
    };
  } finally {
    rtp.ng.close();
    await Promise.all([stopChild(generator, 2000), stopChild(rtp.child, 3000)]);
  }
}

/** Issue #13 goal 6: hibiki's relayed packets per CPU-second ≥ 0.8 × rtpengine's. */
export const MEDIA_GOAL = 0.8;
/** Relay loss (percentage points) above rtpengine's that still counts as the same: the anchors' loss criterion, < 0.01 %. */
const LOSS_SLACK_PCT = 0.01;

/**
 * The media-relay report's side-by-side section: one row per call count with hibiki's and rtpengine's
 * figures and the ratio, and the summary lines run.mjs prints. `pairs`: [{ calls, hibiki, rtpengine }].
 */
export function mediaSideBySide(peer, pairs) {
  if (!peer) return { text: '', summary: [] };
  if (peer.skipped) return { text: `\n${peer.skipped}`, summary: [`Media relay: ${peer.skipped}`] };
  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const rows = [];
  const summary = [];
  for (const { calls, hibiki: h, rtpengine: r } of pairs) {
    const q = h.engineCpuUsPerPacket > 0 ? r.engineCpuUsPerPacket / h.engineCpuUsPerPacket : NaN;
    rows.push(
      `| ${calls} | ${f(h.engineCpuUsPerPacket)} | ${f(r.engineCpuUsPerPacket)} | ${f(q)} | ${f(h.relayLossPct, 4)} / ${f(r.relayLossPct, 4)} | ${f(h.probeLossPct, 4)} / ${f(r.probeLossPct, 4)} | ${f(h.latencyMs.p50)} / ${f(h.latencyMs.p99)} | ${f(r.latencyMs.p50)} / ${f(r.latencyMs.p99)} | ${f(h.engineCpuPct, 1)} / ${f(r.engineCpuPct, 1)} |`,
    );
    // Cheaper packets do not count if more of them were lost: the goal also asks for no more loss than rtpengine's.
    const lossier = h.relayLossPct > r.relayLossPct + LOSS_SLACK_PCT;
    const verdict = q >= MEDIA_GOAL && !lossier ? 'met' : `NOT met${lossier ? ', hibiki lost more packets' : ''}`;
    summary.push(
      `Media relay, ${calls} calls, hibiki packets per CPU-second: ${f(q)} × rtpengine's (goal ≥ ${MEDIA_GOAL} with no more loss: ${verdict}); loss ${f(h.relayLossPct, 3)} % vs ${f(r.relayLossPct, 3)} %, p99 ${f(h.latencyMs.p99)} vs ${f(r.latencyMs.p99)} ms`,
    );
  }
  const text = [
    '',
    `### Side by side with rtpengine ${peer.version} alone (userspace, table -1, ${pairs[0]?.rtpengine.threads ?? 1} thread, pinned to the engine's core; calls set up over ng by the bench)`,
    '',
    "| calls | hibiki CPU µs/packet | rtpengine CPU µs/packet | ratio (hibiki packets per CPU-s ÷ rtpengine's) | relay loss % hibiki / rtpengine | probe loss % hibiki / rtpengine | hibiki added latency p50 / p99 ms | rtpengine added latency p50 / p99 ms | engine CPU % hibiki / rtpengine |",
    '|---:|---:|---:|---:|---|---|---|---|---|',
    ...rows,
    '',
    ...summary,
  ].join('\n');
  return { text, summary };
}

/**
 * The side-by-side runs of media-relay.mjs: at each call count of `peerCalls`, hibiki's run (the main run
 * `result` when it has that count, else one more with the same options) and rtpengine alone with the same
 * load. `runHibiki(options)` is media-relay.mjs's runMediaRelay; `options` what the main run got.
 */
export async function rtpengineSideBySide({ mode, peerCalls, options, result, runHibiki, log }) {
  const peer = rtpenginePeer(mode, options.rtpengineBinary ?? 'rtpengine');
  if (!peer) return { text: '', summary: [] };
  if (peer.skipped) {
    log(`  ${peer.skipped}`);
    return { peer, ...mediaSideBySide(peer, []) };
  }
  if ((options.engine ?? 'builtin') !== 'builtin') {
    const skipped = 'Side by side with rtpengine: skipped, it compares the built-in engine (this run used --engine rtpengine).';
    return { peer: { skipped }, ...mediaSideBySide({ skipped }, []) };
  }
  const pin = options.pin === false ? { server: undefined, generator: undefined } : pinning();
  const pairs = [];
  for (const calls of peerCalls) {
    const hibiki = calls === options.calls ? result : await runHibiki({ ...options, calls });
    log(`media relay: ${calls} calls through rtpengine alone …`);
    const rtpengine = await runRtpengineRelay({
      calls,
      seconds: options.seconds,
      probes: options.probes,
      readAll: options.readAll,
      firstPort: options.firstPort,
      pin,
      binary: options.rtpengineBinary,
    });
    log(
      `media relay: rtpengine alone, ${calls} calls: ${rtpengine.engineCpuUsPerPacket.toFixed(2)} µs/packet, loss ${rtpengine.relayLossPct.toFixed(4)} %, p99 ${rtpengine.latencyMs.p99.toFixed(2)} ms`,
    );
    // A copy: the main run's result gets this side-by-side part attached (no cycle in its JSON).
    pairs.push({ calls, hibiki: { ...hibiki }, rtpengine });
  }
  return { peer: { ...peer, pairs }, ...mediaSideBySide(peer, pairs) };
}
