// The browser phone's two open API calls (issue #16). GET /api/phone/config tells the page where hibiki's
// SIP WebSocket listens and whether WebRTC calls can work (an rtpengine is configured); POST
// /api/phone/history gives an extension, logged in with its SIP password, its own call records only,
// newest first. Wrong passwords count towards the same F-AUTH locks as failed SIP logins: enough of them
// and even the right password is refused with 403.
import { afterEach, describe, expect, it } from 'vitest';
import type { CdrRecord } from '../../src/store/cdr-row.js';
import { startApi, type ApiClient, type RunningApi } from '../support/api.js';
import { connect, registeredPhone, waitUntil } from '../support/call-helpers.js';
import { DEFAULT_EXTENSIONS, type StartOptions } from '../support/hibiki.js';
import { startRtpengine, type TestRtpengine } from '../support/rtpengine.js';
import type { TestUA } from '../support/test-ua.js';

interface PhoneConfig {
  domain: string;
  websockets: Array<{ transport: string; host: string; port: number }>;
  webrtc: boolean;
}

interface History {
  rows: Array<Pick<CdrRecord, 'callerNumber' | 'calleeNumber' | 'answeredBy' | 'disposition' | 'startedAt'> & { id: number }>;
}

/** Failed logins for one username from one address that lock it there (auth.lockoutAttempts). */
const LOCKOUT_ATTEMPTS = 3;

let h: RunningApi | undefined;
let rtpengine: TestRtpengine | undefined;
const phones: TestUA[] = [];

afterEach(async () => {
  await Promise.all(phones.splice(0).map((p) => p.close()));
  await h?.stop();
  h = undefined;
  await rtpengine?.stop();
  rtpengine = undefined;
});

async function start(config: Record<string, unknown> = {}): Promise<RunningApi> {
  const opts: StartOptions = {
    transports: [{ transport: 'udp' }, { transport: 'ws' }],
    extensions: [...DEFAULT_EXTENSIONS, { number: '2004', name: 'Dave', password: 'secret-2004', suspended: true }],
    config,
  };
  h = await startApi(opts);
  return h;
}

/** The media section hibiki's test config has, with an rtpengine at `ng` added. */
function mediaWithRtpengine(ng: string): Record<string, unknown> {
  const base = 20000 + 2 * Math.floor(Math.random() * 9000);
  return { bindAddress: '127.0.0.1', address: '127.0.0.1', rtpPorts: [base, base + 399], rtpengine: { ng, timeoutMs: 200, retries: 1 } };
}

function history(c: ApiClient, body: Record<string, unknown>) {
  return c.post<History>('/api/phone/history', body);
}

/** `from` calls `to`'s number, `to` answers, `from` hangs up: one answered call in the CDRs. */
async function call(from: TestUA, to: TestUA, number: string): Promise<void> {
  const { caller, callee } = await connect(from, to, number);
  await caller.hangup();
  await callee.waitForEnd();
}

describe('GET /api/phone/config', () => {
  it('needs no token and gives the domain and the WebSocket listener; webrtc false without an rtpengine', async () => {
    const api = await start();
    const c = api.client();
    expect(c.token).toBeUndefined();
    // The client really has no token: a route that is not open refuses it.
    expect((await c.get('/api/cdr')).status).toBe(401);

    const r = await c.get<PhoneConfig>('/api/phone/config');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ domain: 'hibiki.test', websockets: [{ transport: 'ws', host: '127.0.0.1', port: api.port('ws') }], webrtc: false });
    // The port it names is a listener of its own, not the UDP one.
    expect(r.body.websockets[0]?.port).not.toBe(api.port('udp'));
  });

  it('says webrtc true when media.rtpengine points at a running rtpengine', async () => {
    rtpengine = await startRtpengine();
    const api = await start({ media: mediaWithRtpengine(rtpengine.ng) });
    expect(api.server.currentConfig.media.engine).toBe('mixed');
    const r = await api.client().get<PhoneConfig>('/api/phone/config');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ domain: 'hibiki.test', websockets: [{ transport: 'ws', host: '127.0.0.1', port: api.port('ws') }], webrtc: true });
  });
});

describe('POST /api/phone/history', () => {
  it("returns each extension's own calls, newest first, with its SIP password; 401 for a wrong password or an unknown extension, 403 for a suspended one", async () => {
    const api = await start({ auth: { lockoutAttempts: LOCKOUT_ATTEMPTS, ipFailures: 0 } });
    const alice = await registeredPhone(api, '2001', phones);
    const bob = await registeredPhone(api, '2002', phones);
    const carol = await registeredPhone(api, '2003', phones);
    await call(alice, bob, '2002');
    await waitUntil(() => api.server.cdr.query({}).length === 1, 5000);
    await call(bob, carol, '2003');
    await waitUntil(() => api.server.cdr.query({}).length === 2, 5000);
    const c = api.client();

    const a = await history(c, { extension: '2001', password: 'secret-2001' });
    expect(a.status).toBe(200);
    expect(a.body.rows).toHaveLength(1);
    expect(a.body.rows[0]).toMatchObject({ callerNumber: '2001', calleeNumber: '2002', answeredBy: '2002', disposition: 'answered' });

    const carolRows = await history(c, { extension: '2003', password: 'secret-2003' });
    expect(carolRows.status).toBe(200);
    expect(carolRows.body.rows).toHaveLength(1);
    expect(carolRows.body.rows[0]).toMatchObject({ callerNumber: '2002', calleeNumber: '2003', answeredBy: '2003', disposition: 'answered' });

    // Bob was in both: newest first, and `limit` keeps the newest.
    const b = await history(c, { extension: '2002', password: 'secret-2002' });
    expect(b.status).toBe(200);
    expect(b.body.rows.map((r) => `${r.callerNumber}>${r.calleeNumber}`)).toEqual(['2002>2003', '2001>2002']);
    expect(b.body.rows[0]?.id).not.toBe(b.body.rows[1]?.id);
    const newest = await history(c, { extension: '2002', password: 'secret-2002', limit: 1 });
    expect(newest.status).toBe(200);
    expect(newest.body.rows.map((r) => `${r.callerNumber}>${r.calleeNumber}`)).toEqual(['2002>2003']);

    // No calls for 2004's rows to show, and no way in: suspended (403 with the right password, as REGISTER).
    expect((await history(c, { extension: '2004', password: 'secret-2004' })).status).toBe(403);
    expect((await history(c, { extension: '2004', password: 'wrong' })).status).toBe(401);
    // Wrong password, another extension's password, an extension that does not exist.
    const wrong = await history(c, { extension: '2001', password: 'secret-2002' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).not.toContain('2002>');
    expect(JSON.stringify(wrong.body)).not.toContain('callerNumber');
    expect((await history(c, { extension: '2009', password: 'secret-2009' })).status).toBe(401);
    expect((await history(c, { extension: '2001', password: 'SECRET-2001' })).status).toBe(401);
    // The right password still works: two failures are below the lock.
    expect((await history(c, { extension: '2001', password: 'secret-2001' })).status).toBe(200);
  });

  it(`locks an extension for the address after ${LOCKOUT_ATTEMPTS} wrong passwords: then the right one gets 403 too; a success in between resets the count`, async () => {
    const api = await start({ auth: { lockoutAttempts: LOCKOUT_ATTEMPTS, lockoutAddresses: 0, ipFailures: 0 } });
    const c = api.client();
    const right = { extension: '2003', password: 'secret-2003' };
    const wrong = { extension: '2003', password: 'guess' };

    // A success clears the failures from this address: LOCKOUT_ATTEMPTS - 1 failures, success, again.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < LOCKOUT_ATTEMPTS - 1; i++) expect((await history(c, wrong)).status).toBe(401);
      expect((await history(c, right)).status).toBe(200);
    }
    expect(api.logs.filter((l) => l.event === 'security' && l.kind === 'user-locked')).toEqual([]);

    // LOCKOUT_ATTEMPTS failures in a row lock 2003 from this address.
    for (let i = 0; i < LOCKOUT_ATTEMPTS - 1; i++) expect((await history(c, wrong)).status).toBe(401);
    const last = await history(c, wrong);
    // The failure that locks is answered 403, as SIP answers the REGISTER that locks.
    expect(last.status).toBe(403);
    await waitUntil(() => api.logs.some((l) => l.event === 'security' && l.kind === 'user-locked' && l.user === '2003'), 2000);
    const locked = await history(c, right);
    expect(locked.status).toBe(403);
    expect(locked.text).not.toContain('callerNumber');
    expect((await history(c, wrong)).status).toBe(403);

    // The lock is 2003's: other extensions still get in from the same address.
    expect((await history(c, { extension: '2001', password: 'secret-2001' })).status).toBe(200);
    // It is the SIP lock: the guard refuses 2003 from 127.0.0.1 for SIP too.
    expect(api.server.guard.isUserLocked('2003', '127.0.0.1')).toBe(true);
  });

  it('refuses an address the SIP guard blocked (403) even with the right password, and logs each refusal as a security event', async () => {
    const api = await start({ auth: { lockoutAttempts: 100, ipFailures: 3 } });
    const c = api.client();
    for (let i = 0; i < 2; i++) expect((await history(c, { extension: `200${i + 1}`, password: 'spray' })).status).toBe(401);
    expect((await history(c, { extension: '2003', password: 'spray' })).status).toBe(403);
    await waitUntil(() => api.server.guard.isIpBlocked('127.0.0.1'), 2000);
    const right = await history(c, { extension: '2001', password: 'secret-2001' });
    expect(right.status).toBe(403);
    expect(right.text).not.toContain('callerNumber');
    const events = api.logs.filter((l) => l.event === 'security' && l.via === 'phone history').map((l) => l.kind);
    expect(events).toEqual(['bad-password', 'bad-password', 'bad-password', 'ip-blocked']);
  });

  it('refuses a body without a password, an empty one, or a limit out of range with 400', async () => {
    const api = await start();
    const c = api.client();
    expect((await history(c, { extension: '2001' })).status).toBe(400);
    expect((await history(c, { extension: '2001', password: '' })).status).toBe(400);
    expect((await history(c, { password: 'secret-2001' })).status).toBe(400);
    expect((await history(c, { extension: '2001', password: 'secret-2001', limit: 0 })).status).toBe(400);
    expect((await history(c, { extension: '2001', password: 'secret-2001', limit: 51 })).status).toBe(400);
    expect((await c.request('POST', '/api/phone/history', 'extension=2001&password=secret-2001', { 'content-type': 'text/plain' })).status).toBe(400);
    // The same request, well formed, is accepted.
    expect((await history(c, { extension: '2001', password: 'secret-2001', limit: 50 })).status).toBe(200);
  });
});
