// Response-time statistics from sipp's -trace_rtt file (`<scenario>_<pid>_rtt.csv`: one row per
// sample, "Date_ms;response_time_ms;rtd_no", written with -rtt_freq 1 so no sample is dropped).
import { readFileSync } from 'node:fs';

/** Samples in ms per rtd timer number. */
export function readRtt(file) {
  const byRtd = new Map();
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (!line) continue;
    const [, ms, rtd] = line.split(';');
    const value = Number(ms);
    const n = Number(rtd);
    if (!Number.isFinite(value) || !Number.isInteger(n)) continue;
    let list = byRtd.get(n);
    if (!list) byRtd.set(n, (list = []));
    list.push(value);
  }
  return byRtd;
}

/** Nearest-rank percentile (the smallest sample with at least p % of samples at or below it). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarize(samples) {
  const sorted = Float64Array.from(samples).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length > 0 ? sorted[sorted.length - 1] : NaN,
  };
}

/** Percentile p (0–100) of a histogram of `count` samples in buckets of `bucketUs` µs, in ms (bucket top). */
export function percentileFromHist(hist, count, p, bucketUs) {
  const rank = Math.ceil((p / 100) * count);
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i];
    if (seen >= rank) return ((i + 1) * bucketUs) / 1000;
  }
  return NaN;
}

/** p50 / p99 / p99.9 / max of a latency histogram (ms), as the media benchmarks report them. */
export function histLatencyMs(hist, count, bucketUs) {
  const at = (p) => percentileFromHist(hist, count, p, bucketUs);
  return { p50: at(50), p99: at(99), p999: at(99.9), max: at(100) };
}

/**
 * The loss, probe and latency figures of one media-relay run, whichever relay ran it: `result` is the
 * generator's (packets sent per stream, probe packets received back, latency histogram in `bucketUs`
 * buckets, sending time), `relayedPerStream[i]` what the relay forwarded of stream i; the first
 * `probeCalls` calls (two streams each) carry the latency probes.
 */
export function relayFigures(result, relayedPerStream, probeCalls, bucketUs) {
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  const sent = sum(result.sent);
  const relayed = sum(relayedPerStream);
  const probeSent = sum(result.sent.slice(0, probeCalls * 2));
  const probeReceived = sum(result.received);
  const sendingSeconds = result.sendingMs / 1000;
  return {
    sent,
    relayed,
    relayLossPct: (100 * (sent - relayed)) / sent,
    worstStreamRelayLossPct: 100 * Math.max(...result.sent.map((s, i) => (s - relayedPerStream[i]) / s)),
    probeSent,
    probeReceived,
    probeLossPct: (100 * (probeSent - probeReceived)) / probeSent,
    sendingSeconds,
    relayedPps: relayed / sendingSeconds,
    latencyMs: histLatencyMs(result.hist, sum(result.hist), bucketUs),
  };
}
