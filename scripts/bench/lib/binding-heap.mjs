// JS heap per binding of the RegistrationStore alone: a bare process loads N bindings shaped like the
// ones the registrar stores for the benchmark's sipp REGISTERs and compares heapUsed after full GCs.
// Usage: node --expose-gc scripts/bench/lib/binding-heap.mjs [N=100000]   (prints JSON)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

if (typeof global.gc !== 'function') {
  process.stderr.write('run with node --expose-gc\n');
  process.exit(2);
}
const n = Number(process.argv[2] ?? 100_000);
const { openDatabase } = await import(new URL('../../../dist/store/db.js', import.meta.url).href);
const { RegistrationStore } = await import(new URL('../../../dist/store/registrations.js', import.meta.url).href);

const dir = mkdtempSync(join(tmpdir(), 'hibiki-binding-heap-'));
function heap() {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed;
}
try {
  const db = openDatabase(dir);
  const store = new RegistrationStore(db);
  const now = Date.now();
  const before = heap();
  for (let i = 0; i < n; i++) {
    const user = String(2_000_000 + i);
    const port = 5061 + (i % 1000);
    // The same fields, with values of the same length, as a sipp REGISTER over UDP produces.
    store.upsert({
      aor: user,
      contact: `sip:${user}@127.0.0.1:${port}`,
      callId: `${i + 1}-${12345 + (i % 7)}@127.0.0.1`,
      cseq: 2,
      expiresAt: now + 3_600_000,
      transport: 'udp',
      sourceAddress: '127.0.0.1',
      sourcePort: port,
      localAddress: '127.0.0.1',
      localPort: 5060,
      userAgent: 'sipp-bench',
      registeredAt: now,
      reachable: true,
      missedQualify: 0,
    });
    // The server writes once per event-loop turn; writing in batches here keeps the queue equally small.
    if (i % 1000 === 999) store.flush();
  }
  store.flush();
  const after = heap();
  if (store.count() !== n) throw new Error(`stored ${store.count()} of ${n}`);
  process.stdout.write(JSON.stringify({ bindings: n, heapBefore: before, heapAfter: after, heapPerBinding: (after - before) / n }) + '\n');
  store.close();
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
