// Issue #12: GET /metrics in the Prometheus text format — values follow a real call between two phones
// (calls in progress, attempts by disposition and cause, SIP messages, registrations, RTP relayed), and
// http.metricsToken guards it when set.
import { afterEach, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api.js';
import { connect, registeredPhone, talking } from '../support/call-helpers.js';
import type { TestUA } from '../support/test-ua.js';

let h: RunningApi | undefined;
const phones: TestUA[] = [];
afterEach(async () => {
  for (const p of phones.splice(0)) await p.close();
  await h?.stop();
  h = undefined;
});

/** Every sample of a scrape, keyed `name{labels}` as Prometheus prints it. */
async function scrape(api: RunningApi, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const res = await fetch(`${api.baseUrl}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

const value = (s: Map<string, number>, key: string) => s.get(key) ?? 0;

async function until(api: RunningApi, check: (s: Map<string, number>) => boolean): Promise<Map<string, number>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await scrape(api);
    if (check(s)) return s;
    if (Date.now() > deadline) throw new Error(`metrics never matched:\n${[...s].map(([k, v]) => `${k} ${v}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ANSWERED_16 = 'hibiki_call_attempts_total{disposition="answered",cause="16"}';

describe('GET /metrics (issue #12)', () => {
  it('follows a call: in progress 1 then 0, one answered attempt with cause 16, SIP messages, registrations, RTP relayed', async () => {
    h = await startApi();
    const before = await scrape(h);
    expect(value(before, 'hibiki_calls_active')).toBe(0);
    expect(value(before, 'hibiki_registrations')).toBe(0);
    // Node's default metrics are there too.
    expect(before.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(before.has('nodejs_heap_size_used_bytes')).toBe(true);

    const alice = await registeredPhone(h, '2001', phones);
    const bob = await registeredPhone(h, '2002', phones);
    const registered = await until(h, (s) => value(s, 'hibiki_registrations') === 2);
    expect(value(registered, 'hibiki_sip_messages_total{direction="in",method="REGISTER",status=""}')).toBeGreaterThanOrEqual(2);
    expect(value(registered, 'hibiki_sip_messages_total{direction="out",method="REGISTER",status="200"}')).toBeGreaterThanOrEqual(2);

    const { caller, callee } = await connect(alice, bob, '2002');
    await talking(caller, callee, 5, 6);
    const during = await scrape(h);
    expect(value(during, 'hibiki_calls_active')).toBe(1);
    expect(value(during, 'hibiki_calls_started_total')).toBe(1);
    expect(value(during, 'hibiki_sip_dialogs')).toBe(2);
    expect(value(during, 'hibiki_media_endpoints')).toBe(2);
    expect(value(during, ANSWERED_16)).toBe(0);
    expect(value(during, 'hibiki_sip_messages_total{direction="in",method="INVITE",status=""}')).toBeGreaterThanOrEqual(1);
    expect(value(during, 'hibiki_sip_messages_total{direction="out",method="INVITE",status=""}')).toBeGreaterThanOrEqual(1);
    expect(value(during, 'hibiki_rtp_packets_relayed_total')).toBeGreaterThan(0);
    expect(value(during, 'hibiki_rtp_packets_received_total')).toBeGreaterThanOrEqual(value(during, 'hibiki_rtp_packets_relayed_total'));
    // Loopback never fills a send buffer, and the test phones send RTP-sized packets.
    expect(during.get('hibiki_rtp_sends_dropped_total')).toBe(0);
    expect(during.get('hibiki_rtp_datagrams_truncated_total')).toBe(0);

    await callee.hangup();
    await caller.waitForEnd();
    const after = await until(h, (s) => value(s, 'hibiki_calls_active') === 0 && value(s, ANSWERED_16) === 1);
    expect(value(after, 'hibiki_call_completions_total{cause="16"}')).toBe(1);
    expect(value(after, 'hibiki_sip_messages_total{direction="in",method="BYE",status=""}')).toBeGreaterThanOrEqual(1);
    expect(value(after, 'hibiki_sip_messages_total{direction="out",method="BYE",status=""}')).toBeGreaterThanOrEqual(1);
    // The endpoints are freed once the call is over; the packet counters keep what they counted.
    await until(h, (s) => value(s, 'hibiki_media_endpoints') === 0);
    // Their socket pairs stay bound for the next call (pair-pool.ts).
    expect(value(await scrape(h), 'hibiki_media_pooled_socket_pairs')).toBe(2);
    expect(value(await scrape(h), 'hibiki_rtp_packets_relayed_total')).toBeGreaterThanOrEqual(value(during, 'hibiki_rtp_packets_relayed_total'));
  });

  it('counts a refused call as an attempt by its disposition and cause, not as a completion', async () => {
    h = await startApi();
    const alice = await registeredPhone(h, '2001', phones);
    await registeredPhone(h, '2002', phones);
    // 2003 is not registered: the call fails with 480 (Q.850 cause 20, subscriber absent).
    await alice.call('2003').catch(() => undefined);
    const s = await until(h, (x) => [...x.keys()].some((k) => k.startsWith('hibiki_call_attempts_total{')));
    const attempts = [...s].filter(([k]) => k.startsWith('hibiki_call_attempts_total{'));
    expect(attempts).toHaveLength(1);
    expect(attempts[0]![0]).not.toContain('disposition="answered"');
    expect(attempts[0]![1]).toBe(1);
    expect([...s.keys()].some((k) => k.startsWith('hibiki_call_completions_total{'))).toBe(false);
  });

  it('asks for http.metricsToken as a bearer token when it is set', async () => {
    const token = 'scrape-token-0123456789';
    h = await startApi({ config: { http: { metricsToken: token } } });
    expect((await fetch(`${h.baseUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${h.baseUrl}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const s = await scrape(h, { authorization: `Bearer ${token}` });
    expect(s.has('hibiki_calls_active')).toBe(true);
  });
});
