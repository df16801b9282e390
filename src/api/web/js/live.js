// Live views: the event stream (/api/events over WebSocket) tells pages when to reload what they show.
// When the stream is not there (refused, closed, not yet built), pages are reloaded every few seconds.
import { session } from './api.js';

const pollMs = 3000;
const retryMs = 5000;
/** Reloads on a burst of events are merged into one. */
const settleMs = 250;

const listeners = new Set();
let socket;
let pollTimer;
let retryTimer;
let lastSeq;

/** Calls `reload` when an event of one of `types` arrives (or on every poll); returns the unsubscribe. */
export function onLive(types, reload) {
  let pending;
  const l = {
    types,
    fire() {
      clearTimeout(pending);
      pending = setTimeout(reload, settleMs);
    },
    stop() {
      clearTimeout(pending);
    },
  };
  listeners.add(l);
  connect();
  return () => {
    l.stop();
    listeners.delete(l);
  };
}

/** Ends the stream and polling (logout). */
export function stopLive() {
  for (const l of listeners) l.stop();
  listeners.clear();
  clearInterval(pollTimer);
  clearTimeout(retryTimer);
  pollTimer = undefined;
  retryTimer = undefined;
  const s = socket;
  socket = undefined;
  s?.close();
  lastSeq = undefined;
}

function connect() {
  const s = session();
  if (socket || retryTimer || !s) return;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const since = lastSeq === undefined ? '' : `&since=${lastSeq}`;
  let ws;
  try {
    ws = new WebSocket(`${scheme}://${location.host}/api/events?token=${encodeURIComponent(s.token)}${since}`);
  } catch {
    startPolling();
    return;
  }
  socket = ws;
  ws.addEventListener('open', () => {
    clearInterval(pollTimer);
    pollTimer = undefined;
    // Whatever changed while the stream was down is reloaded once.
    for (const l of listeners) l.fire();
  });
  ws.addEventListener('message', (m) => {
    let ev;
    try {
      ev = JSON.parse(m.data);
    } catch {
      return;
    }
    if (typeof ev.seq === 'number') lastSeq = ev.seq;
    for (const l of listeners) if (!l.types || l.types.includes(ev.type)) l.fire();
  });
  ws.addEventListener('close', () => {
    if (socket !== ws) return;
    socket = undefined;
    startPolling();
    if (listeners.size === 0) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (listeners.size > 0) connect();
    }, retryMs);
  });
}

function startPolling() {
  if (pollTimer) return;
  pollTimer = setInterval(() => {
    if (listeners.size === 0) {
      clearInterval(pollTimer);
      pollTimer = undefined;
      return;
    }
    for (const l of listeners) l.fire();
  }, pollMs);
}
