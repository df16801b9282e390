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
 * a histogram (for every object constructor name, other node kinds under "(kind)", the count and the
 * sum of self sizes) and, for a few kinds of object, who holds them.
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
  return { hist: histogram(snap), retainers: retainers(snap, RETAINED) };
}

/** Objects whose holders are worth knowing: the per-call state and the raw bytes it may keep. */
const RETAINED = new Set(['SipRequest', 'SipResponse', 'Buffer', 'Uint8Array', 'Dialog', 'Timeout', 'Map', 'RelayEndpoint', 'ServerInviteTransaction', 'ServerResponse', 'TimerSet', 'Leg', 'Call']);

/** For the named objects: who holds them, as "holder.edge" → count. */
function retainers(snap, names) {
  const meta = snap.snapshot.meta;
  const nf = meta.node_fields;
  const ef = meta.edge_fields;
  const width = nf.length;
  const ew = ef.length;
  const types = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const nameAt = nf.indexOf('name');
  const typeAt = nf.indexOf('type');
  const countAt = nf.indexOf('edge_count');
  const eType = ef.indexOf('type');
  const eName = ef.indexOf('name_or_index');
  const eTo = ef.indexOf('to_node');
  const { nodes, edges, strings } = snap;
  const label = (i) => {
    const t = types[nodes[i + typeAt]];
    return t === 'object' || t === 'native' ? strings[nodes[i + nameAt]] : `(${t})`;
  };
  const out = new Map();
  let e = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const holder = label(i);
    for (let k = 0; k < nodes[i + countAt]; k++, e += ew) {
      const to = edges[e + eTo];
      if (types[nodes[to + typeAt]] !== 'object') continue;
      const target = strings[nodes[to + nameAt]];
      if (!names.has(target)) continue;
      const et = edgeTypes[edges[e + eType]];
      if (et === 'weak') continue;
      const edge = et === 'element' || et === 'hidden' ? `[${et}]` : strings[edges[e + eName]];
      const key = `${holder}.${edge}`;
      let m = out.get(target);
      if (!m) out.set(target, (m = new Map()));
      m.set(key, (m.get(key) ?? 0) + 1);
    }
  }
  return out;
}

function histogram(snap) {
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

/** Holders of the named objects that grew in number between two snapshots: { name: [{ holder, count }] }. */
export function retainerGrowth(before, after, top = 4) {
  const out = {};
  for (const [name, holders] of after) {
    const was = before.get(name) ?? new Map();
    const rows = [...holders]
      .map(([holder, n]) => ({ holder, count: n - (was.get(holder) ?? 0) }))
      .filter((r) => r.count > 0)
      .sort((a, b) => b.count - a.count)
      .slice(0, top);
    if (rows.length > 0) out[name] = rows;
  }
  return out;
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
