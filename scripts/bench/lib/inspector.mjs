// The server's heaps through the V8 inspector (`node --inspect`), main thread and worker threads (the
// media engine runs in one): full GC, heapUsed, and a heap snapshot reduced to a histogram of what it
// holds by constructor name. No diagnostic code in the server: everything goes through the protocol
// (NodeWorker.* reaches the workers' isolates through the main thread's inspector session).
import WebSocket from 'ws';

const TIMEOUT_MS = 120_000;

/** One inspector session on the main thread, with a way to talk to each worker. */
export async function openInspector(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const pending = new Map();
  const workers = new Map();
  const workerPending = new Map();
  const listeners = new Set();
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
      return;
    }
    if (msg.method === 'NodeWorker.attachedToWorker') {
      workers.set(msg.params.sessionId, msg.params.workerInfo);
    } else if (msg.method === 'NodeWorker.receivedMessageFromWorker') {
      const inner = JSON.parse(msg.params.message);
      if (inner.id !== undefined) {
        const p = workerPending.get(inner.id);
        if (!p) return;
        workerPending.delete(inner.id);
        if (inner.error) p.reject(new Error(inner.error.message));
        else p.resolve(inner.result);
      } else {
        for (const l of listeners) l(msg.params.sessionId, inner);
      }
    } else {
      for (const l of listeners) l(undefined, msg);
    }
  });
  const withTimeout = (promise, what) => Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`inspector: ${what} did not answer`)), TIMEOUT_MS).unref())]);
  /** A protocol call on the main thread (sessionId undefined) or in the worker of that session. */
  const call = (sessionId, method, params = {}) => {
    const n = ++id;
    if (sessionId === undefined) {
      const p = new Promise((resolve, reject) => pending.set(n, { resolve, reject }));
      ws.send(JSON.stringify({ id: n, method, params }));
      return withTimeout(p, method);
    }
    const p = new Promise((resolve, reject) => workerPending.set(n, { resolve, reject }));
    ws.send(JSON.stringify({ id: ++id, method: 'NodeWorker.sendMessageToWorker', params: { sessionId, message: JSON.stringify({ id: n, method, params }) } }));
    return withTimeout(p, `${method} (worker)`);
  };
  await call(undefined, 'NodeWorker.enable', { waitForDebuggerOnStart: false });
  // attachedToWorker arrives right after enable; give it a moment.
  await new Promise((r) => setTimeout(r, 200));
  return {
    /** Every isolate: the main thread first, then each worker, with a label. */
    isolates: () => [{ sessionId: undefined, label: 'main' }, ...[...workers].map(([sessionId, info]) => ({ sessionId, label: `worker ${info.title || info.workerId}` }))],
    call,
    onEvent: (fn) => listeners.add(fn),
    offEvent: (fn) => listeners.delete(fn),
    close: () => ws.close(),
  };
}

/** Full GC (twice: finalizers free more on the second pass), then heapUsed, in one isolate. */
export async function heapUsed(session, sessionId) {
  await session.call(sessionId, 'HeapProfiler.collectGarbage');
  await session.call(sessionId, 'HeapProfiler.collectGarbage');
  const r = await session.call(sessionId, 'Runtime.evaluate', { expression: 'process.memoryUsage().heapUsed', returnByValue: true });
  return r.result.value;
}

/** heapUsed after a full GC of every isolate, and their sum. */
export async function allHeaps(session) {
  const out = [];
  for (const iso of session.isolates()) out.push({ label: iso.label, heapUsed: await heapUsed(session, iso.sessionId) });
  return { isolates: out, total: out.reduce((a, b) => a + b.heapUsed, 0) };
}

/**
 * A heap snapshot of one isolate (taken after a full GC, which the snapshot does itself), reduced to
 * a histogram: for every object constructor name (other node kinds under "(kind)") the count and
 * the sum of self sizes.
 */
export async function heapHistogram(session, sessionId) {
  const chunks = [];
  const onEvent = (sid, msg) => {
    if (sid === sessionId && msg.method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push(msg.params.chunk);
  };
  session.onEvent(onEvent);
  try {
    await session.call(sessionId, 'HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  } finally {
    session.offEvent(onEvent);
  }
  const snap = JSON.parse(chunks.join(''));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const hist = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    const key = type === 'object' || type === 'native' ? snap.strings[nodes[i + nameAt]] : `(${type})`;
    const e = hist.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += nodes[i + sizeAt];
    hist.set(key, e);
  }
  return hist;
}

/** What grew between two histograms, biggest first: [{ name, count, bytes }] of the differences. */
export function histogramGrowth(before, after, top = 20) {
  const rows = [];
  for (const [name, a] of after) {
    const b = before.get(name) ?? { count: 0, bytes: 0 };
    if (a.bytes - b.bytes > 0) rows.push({ name, count: a.count - b.count, bytes: a.bytes - b.bytes });
  }
  return rows.sort((x, y) => y.bytes - x.bytes).slice(0, top);
}
