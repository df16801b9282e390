// F-AUTH against captured credentials (issue #14): an Authorization header that was already used is
// refused after a configuration reload and after a restart, and a credential made for one Request-URI
// is refused on another (RFC 7616 §3.4.6) — the toll-fraud case of a call to an internal extension
// whose credentials are replayed on a call to an outside number.
import { writeFileSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { buildAuthorization } from '../../src/sip/digest.js';
import type { SipResponse } from '../../src/sip/message.js';
import { startHibiki, type RunningHibiki, type StartOptions } from '../support/hibiki.js';
import { challenges, RawUa } from '../support/raw-ua.js';
import { TestUA } from '../support/test-ua.js';

const CARRIER_HOST = '127.0.0.2';
const OUTSIDE = '0312345678';

let running: RunningHibiki[] = [];
let uas: RawUa[] = [];
let testUas: TestUA[] = [];

afterEach(async () => {
  await Promise.all(uas.map((u) => u.close()));
  await Promise.all(testUas.map((u) => u.close()));
  uas = [];
  testUas = [];
  for (const h of running) await h.stop();
  running = [];
});

async function start(opts: StartOptions = {}): Promise<RunningHibiki> {
  const h = await startHibiki(opts);
  running.push(h);
  return h;
}

async function ua(h: RunningHibiki): Promise<RawUa> {
  const u = await RawUa.open({ port: h.port('udp') });
  uas.push(u);
  return u;
}

function security(h: RunningHibiki, kind: string): Array<Record<string, unknown>> {
  return h.logs.filter((l) => l.event === 'security' && l.kind === kind);
}

async function logLine(h: RunningHibiki, from: number, match: (l: Record<string, unknown>) => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!h.logs.slice(from).some(match)) {
    if (Date.now() > deadline) throw new Error(`no matching log line within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Rewrites the config file with the same content and waits until the watcher has reloaded it. */
async function rewriteUnchanged(h: RunningHibiki): Promise<void> {
  const mark = h.logs.length;
  writeFileSync(h.configPath, readFileSync(h.configPath));
  await logLine(h, mark, (l) => l.msg === 'configuration reloaded');
}

/** A REGISTER from `attacker` (another socket: another source port, another Contact) carrying `authorization`. */
function replayRegister(attacker: RawUa, user: string, authorization: string): Promise<SipResponse> {
  return attacker.request(attacker.buildRequest({ method: 'REGISTER', uri: 'sip:hibiki.test', to: `<sip:${user}@hibiki.test>`, user, headers: ['Expires: 600', `Authorization: ${authorization}`] }));
}

const SDP = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

/** An INVITE from 2001 to `dialled` carrying `authorization` (or none). Resolves with the final answer, or undefined. */
async function invite(from: RawUa, dialled: string, authorization?: string): Promise<SipResponse | undefined> {
  const uri = `sip:${dialled}@hibiki.test`;
  const text = from.buildRequest({
    method: 'INVITE',
    uri,
    user: '2001',
    from: `<sip:2001@hibiki.test>;tag=${Math.random().toString(36).slice(2)}`,
    headers: ['Content-Type: application/sdp', ...(authorization ? [`Authorization: ${authorization}`] : [])],
    body: SDP,
  });
  // A call that reaches the carrier (which never answers here) gets no final answer in time.
  return from.request(text, 4000).catch(() => undefined);
}

/** A carrier that records every INVITE it gets and rejects it; IP-authenticated trunk on 127.0.0.2. */
async function carrier(): Promise<{ ua: TestUA; invites: () => number; config: Record<string, unknown> }> {
  const c = await TestUA.create({ user: 'carrier', host: CARRIER_HOST, domain: 'carrier.test' });
  testUas.push(c);
  c.stack.use('INVITE', (_req, res) => res.send(486));
  return {
    ua: c,
    invites: () => c.messages.filter((m) => 'method' in m && m.method === 'INVITE').length,
    config: {
      trunks: [{ name: 'carrier', host: CARRIER_HOST, port: c.address.port }],
      routes: [{ name: 'domestic', prefix: '0', minLength: 10, maxLength: 11, trunk: 'carrier' }],
    },
  };
}

describe('captured REGISTER credentials', () => {
  it('are refused after a config reload: no 200, no binding for the attacker', async () => {
    const h = await start();
    const phone = await ua(h);
    const reg = await phone.register({ user: '2001', password: 'secret-2001' });
    expect(reg.final.status).toBe(200);
    const captured = reg.authorization ?? '';

    const attacker = await ua(h);
    expect((await replayRegister(attacker, '2001', captured)).status).toBe(401);
    expect(security(h, 'nonce-replay').length).toBe(1);

    // The config file rewritten unchanged, then the SIGHUP path: the replay stays a replay.
    await rewriteUnchanged(h);
    expect((await replayRegister(attacker, '2001', captured)).status).toBe(401);
    expect(h.server.reload('test')).toBe(true);
    const again = await replayRegister(attacker, '2001', captured);
    expect(again.status).toBe(401);
    expect(security(h, 'nonce-replay').length).toBe(3);
    expect(h.server.registrar.contacts('2001').map((c) => c.binding.contact)).toEqual([phone.contactUri('2001')]);

    // The real phone still registers, on its own nonce.
    expect((await phone.register({ user: '2001', password: 'secret-2001' })).final.status).toBe(200);
  });

  it('are refused after a restart on the same data directory', async () => {
    const before = await start();
    const phone = await ua(before);
    const reg = await phone.register({ user: '2001', password: 'secret-2001' });
    expect(reg.final.status).toBe(200);
    await before.stop({ keepData: true });
    running = running.filter((r) => r !== before);

    const h = await start({ dataDir: before.dataDir });
    // The binding survived the restart; the captured credentials must not add another.
    expect(h.server.registrar.contacts('2001')).toHaveLength(1);
    const attacker = await ua(h);
    const res = await replayRegister(attacker, '2001', reg.authorization ?? '');
    expect(res.status).toBe(401);
    expect(h.server.registrar.contacts('2001').map((c) => c.binding.contact)).toEqual([phone.contactUri('2001')]);
  });

  it('made for another Request-URI are refused with 400 and logged', async () => {
    const h = await start();
    const attacker = await ua(h);
    const first = await attacker.register({ user: '2001' });
    const challenge = challenges(first.challenge, 'MD5')[0] ?? '';
    // Correct password and nonce, but computed for another URI than the REGISTER's.
    const authorization = buildAuthorization(challenge, { username: '2001', password: 'secret-2001' }, 'REGISTER', 'sip:elsewhere.test');
    const res = await replayRegister(attacker, '2001', authorization);
    expect(res.status).toBe(400);
    expect(h.server.registrar.contacts('2001')).toHaveLength(0);
    expect(security(h, 'digest-uri-mismatch')).toEqual([expect.objectContaining({ user: '2001', uri: 'sip:elsewhere.test', requestUri: 'sip:hibiki.test', src: '127.0.0.1' })]);
  });
});

describe('captured INVITE credentials (toll fraud)', () => {
  it('of a call to 2002, replayed on a call to an outside number after a reload, never reach the carrier', async () => {
    const c = await carrier();
    const h = await start({ config: c.config });
    const phone = await ua(h);
    // The legitimate call: challenged, then authenticated for sip:2002@hibiki.test (2002 is not registered).
    const challenged = await invite(phone, '2002');
    expect(challenged?.status).toBe(401);
    const captured = buildAuthorization(challenges(challenged as SipResponse, 'MD5')[0] ?? '', { username: '2001', password: 'secret-2001' }, 'INVITE', 'sip:2002@hibiki.test');
    const call = await invite(phone, '2002', captured);
    expect(call?.status).toBeGreaterThanOrEqual(400);
    expect(call?.status).not.toBe(401);

    expect(h.server.reload('test')).toBe(true);
    const attacker = await ua(h);
    const fraud = await invite(attacker, OUTSIDE, captured);
    expect(fraud?.status).toBe(400);
    expect(c.invites()).toBe(0);
    expect(security(h, 'digest-uri-mismatch').some((e) => e.user === '2001')).toBe(true);
  });

  it('made fresh for sip:2002 and sent on a call to an outside number are refused with 400', async () => {
    const c = await carrier();
    const h = await start({ config: c.config });
    const attacker = await ua(h);
    const challenged = await invite(attacker, OUTSIDE);
    expect(challenged?.status).toBe(401);
    const forged = buildAuthorization(challenges(challenged as SipResponse, 'MD5')[0] ?? '', { username: '2001', password: 'secret-2001' }, 'INVITE', 'sip:2002@hibiki.test');
    const fraud = await invite(attacker, OUTSIDE, forged);
    expect(fraud?.status).toBe(400);
    expect(c.invites()).toBe(0);

    // The same nonce answered for the right URI places the call (the carrier refuses it with 486).
    const honest = buildAuthorization(challenges(challenged as SipResponse, 'MD5')[0] ?? '', { username: '2001', password: 'secret-2001' }, 'INVITE', `sip:${OUTSIDE}@hibiki.test`);
    const placed = await invite(attacker, OUTSIDE, honest);
    expect(placed?.status).toBe(486);
    expect(c.invites()).toBe(1);
  });
});
