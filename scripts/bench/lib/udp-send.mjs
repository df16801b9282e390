// Cost of one dgram send on loopback, unconnected (address per packet) vs connected (socket.connect once),
// for the media relay's send path. Usage: taskset -c 0 node scripts/bench/lib/udp-send.mjs
import { createSocket } from 'node:dgram';
const literalLookup = (a, f, cb) => cb(null, a, f);
const sink = createSocket({ type: 'udp4', recvBufferSize: 4096 });
await new Promise((r) => sink.bind(0, '127.0.0.1', r));
const st = Object.getOwnPropertySymbols(sink).find((s) => s.description === 'state symbol');
sink[st].handle.recvStop();
const port = sink.address().port;
async function run(connected, n) {
  const s = createSocket({ type: 'udp4', lookup: literalLookup });
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  if (connected) s.connect(port, '127.0.0.1');
  const buf = Buffer.alloc(172);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i += 100) {
    for (let k = 0; k < 100; k++) {
      if (connected) s.send(buf);
      else s.send(buf, port, '127.0.0.1');
    }
    await new Promise((r) => setImmediate(r));
  }
  const c = process.cpuUsage(c0);
  const t = performance.now() - t0;
  s.close();
  return { cpu: (c.user + c.system) / n, wall: (t * 1000) / n };
}
const N = 300000;
await run(false, 50000);
await run(true, 50000);
const res = { unconnected: [], connected: [] };
for (let i = 0; i < 4; i++) {
  res.unconnected.push(await run(false, N));
  res.connected.push(await run(true, N));
}
for (const [k, v] of Object.entries(res)) console.log(k, 'cpu µs/send', v.map((x) => x.cpu.toFixed(2)).join(' '), ' wall', v.map((x) => x.wall.toFixed(2)).join(' '));
sink.close();
