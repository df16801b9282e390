// Issue #12 (F-API): registrations, calls in progress, click-to-call, trunks, parked calls and locks over
// the HTTP API, against the real server with real phones (test UAs with RTP) and real REGISTERs.
import { afterEach, describe, expect, it } from 'vitest';
import { startApi, type ApiClient, type RunningApi } from '../support/api.js';
import { connect, registeredPhone, talking, waitUntil } from '../support/call-helpers.js';
import { RawUa } from '../support/raw-ua.js';
import { TestUA } from '../support/test-ua.js';
import type { CdrRecord } from '../../src/store/cdr-row.js';

let h: RunningApi | undefined;
let phones: TestUA[] = [];
let raws: RawUa[] = [];

afterEach(async () => {
  await Promise.all(phones.map((p) => p.close()));
  await Promise.all(raws.map((u) => u.close()));
  phones = [];
  raws = [];
  await h?.stop();
  h = undefined;
});

interface ErrorBody {
  error: string;
  message: string;
  field?: string;
}

interface CallView {
  id: string;
  callId: string;
  state: string;
  direction: string;
  caller: { number: string; name?: string };
  dialed: string;
  callee: { number: string };
  legs: Array<{ role: string; number?: string; extension?: string; state: string; held: boolean; transport?: string }>;
}

async function cdrRows(api: RunningApi, count: number): Promise<CdrRecord[]> {
  await waitUntil(() => api.server.cdr.query({}).length >= count, 5000);
  return api.server.cdr.query({});
}

function auditActions(api: RunningApi): string[] {
  return (api.server.db.prepare('SELECT action FROM audit_log ORDER BY id').all() as Array<{ action: string }>).map((r) => r.action);
}

async function expectError(p: Promise<{ status: number; body: unknown }>, status: number, field?: string): Promise<void> {
  const r = await p;
  expect(r.status).toBe(status);
  if (field !== undefined) expect((r.body as ErrorBody).field).toBe(field);
}

describe('click-to-call and calls in progress', () => {
  it('rings 2001 showing 2002, then dials 2002 as 2001: RTP both ways, listed, hung up by the API with a CDR', async () => {
    h = await startApi();
    const alice = await registeredPhone(h, '2001', phones);
    const bob = await registeredPhone(h, '2002', phones);
    const admin = await h.login('root', 'correct horse', 'admin');
    const aliceUser = await h.login('alice', 'alice-password', 'user', '2001');
    const carolUser = await h.login('carol', 'carol-password', 'user', '2003');

    const aliceRings = alice.waitForCall({ timeoutMs: 8000 });
    const started = await admin.post<{ id: string }>('/api/calls', { from: '2001', to: '2002' });
    expect(started.status).toBe(202);
    const id = started.body.id;
    const toAlice = await aliceRings;
    // Alice's phone shows the number it is about to call; it is not asked to answer by itself.
    expect(toAlice.from).toContain('sip:2002@');
    expect(toAlice.request.get('call-info')).toBeUndefined();
    // Ringing 2001: the call is listed, not answered yet, without legs: 2002 is not rung before 2001 answers.
    const ringing = await admin.get<CallView[]>('/api/calls');
    expect(ringing.body).toEqual([expect.objectContaining({ id, state: 'ringing', caller: { number: '2001', name: 'Alice' }, dialed: '2002', legs: [] })]);

    const bobRings = bob.waitForCall({ timeoutMs: 8000 });
    const aliceCall = await toAlice.answer();
    const toBob = await bobRings;
    // Bob sees Alice calling, as when she dials him herself.
    expect(toBob.from).toContain('sip:2001@');
    const bobCall = await toBob.answer();
    await talking(aliceCall, bobCall, 21, 22);

    const listed = await admin.get<CallView[]>('/api/calls');
    expect(listed.status).toBe(200);
    expect(listed.body).toHaveLength(1);
    expect(listed.body[0]).toMatchObject({ id, state: 'answered', direction: 'internal', caller: { number: '2001' }, dialed: '2002', callee: { number: '2002' } });
    expect(listed.body[0]!.legs).toEqual([
      expect.objectContaining({ role: 'caller', extension: '2001', state: 'answered', held: false, transport: 'udp' }),
      expect.objectContaining({ role: 'callee', extension: '2002', state: 'answered', held: false, transport: 'udp' }),
    ]);
    // A user sees the calls of their own extension only.
    expect((await aliceUser.get<CallView[]>('/api/calls')).body.map((c) => c.id)).toEqual([id]);
    expect((await carolUser.get<CallView[]>('/api/calls')).body).toEqual([]);
    await expectError(carolUser.delete(`/api/calls/${id}`), 403);

    expect((await admin.delete(`/api/calls/${id}`)).status).toBe(204);
    const [aliceEnd, bobEnd] = await Promise.all([aliceCall.waitForEnd(), bobCall.waitForEnd()]);
    expect(aliceEnd.by).toBe('remote');
    expect(aliceEnd.reason).toContain('cause=16');
    expect(bobEnd.reason).toContain('cause=16');
    const [row] = await cdrRows(h, 1);
    expect(row).toMatchObject({
      linkedId: id,
      callerNumber: '2001',
      dialedNumber: '2002',
      calleeNumber: '2002',
      answeredBy: '2002',
      direction: 'internal',
      disposition: 'answered',
      hangupBy: 'system',
      q850Cause: 16,
    });
    expect(row!.hangupReason).toMatch(/through the API by root/);
    expect((await admin.get<CallView[]>('/api/calls')).body).toEqual([]);
    await expectError(admin.delete(`/api/calls/${id}`), 404);
    expect(auditActions(h)).toEqual(expect.arrayContaining(['call.originate', 'call.hangup']));
  }, 40_000);

  it('asks for auto-answer when told; a caller phone that refuses ends the call with its cause and a CDR', async () => {
    h = await startApi();
    const alice = await registeredPhone(h, '2001', phones);
    await registeredPhone(h, '2002', phones);
    const user = await h.login('alice', 'alice-password', 'user', '2001');
    const aliceRings = alice.waitForCall({ timeoutMs: 8000 });
    const started = await user.post<{ id: string }>('/api/calls', { from: '2001', to: '2002', autoAnswer: true });
    expect(started.status).toBe(202);
    const toAlice = await aliceRings;
    expect(toAlice.request.get('call-info')).toContain('answer-after=0');
    expect(toAlice.request.get('alert-info')).toContain('info=alert-autoanswer');
    toAlice.reject(486);
    const [row] = await cdrRows(h, 1);
    expect(row).toMatchObject({ linkedId: started.body.id, callerNumber: '2001', dialedNumber: '2002', disposition: 'busy', q850Cause: 17, hangupBy: 'system' });
  }, 20_000);

  it('a destination that fails after 2001 answered ends the call with a BYE, still answered 202, and the CDR says why', async () => {
    h = await startApi();
    const alice = await registeredPhone(h, '2001', phones);
    const admin = await h.login('root', 'correct horse', 'admin');
    const aliceRings = alice.waitForCall({ timeoutMs: 8000 });
    // 2003 exists but has no phone registered.
    expect((await admin.post('/api/calls', { from: '2001', to: '2003' })).status).toBe(202);
    const aliceCall = await (await aliceRings).answer();
    const end = await aliceCall.waitForEnd(8000);
    expect(end.by).toBe('remote');
    const [row] = await cdrRows(h, 1);
    expect(row).toMatchObject({ callerNumber: '2001', dialedNumber: '2003', disposition: 'failed', q850Cause: 20 });
  }, 20_000);

  it('dials an outside number through the trunk as the extension would: outbound CDR, a channel in use; a barred extension hears why', async () => {
    const carrier = await TestUA.create({ user: 'carrier', host: '127.0.0.2', domain: 'carrier.test' });
    phones.push(carrier);
    h = await startApi({
      extensions: [
        { number: '2001', name: 'Alice', password: 'secret-2001' },
        { number: '2002', name: 'Bob', password: 'secret-2002', outboundClass: 'internal' },
      ],
      config: {
        trunks: [{ name: 'carrier', host: '127.0.0.2', port: carrier.address.port, register: false, domain: 'carrier.test', callerId: '0311112222' }],
        routes: [{ name: 'out', prefix: '0', trunk: 'carrier' }],
      },
    });
    const alice = await registeredPhone(h, '2001', phones);
    const bob = await registeredPhone(h, '2002', phones);
    const admin = await h.login('root', 'correct horse', 'admin');

    const aliceRings = alice.waitForCall({ timeoutMs: 8000 });
    const started = await admin.post<{ id: string }>('/api/calls', { from: '2001', to: '0398765432' });
    expect(started.status).toBe(202);
    const toAlice = await aliceRings;
    expect(toAlice.from).toContain('sip:0398765432@');
    const carrierRings = carrier.waitForCall({ timeoutMs: 8000 });
    const aliceCall = await toAlice.answer();
    const toCarrier = await carrierRings;
    // The carrier sees the trunk's caller ID, as for a call Alice dials herself.
    expect(toCarrier.from).toContain('sip:0311112222@');
    const carrierCall = await toCarrier.answer();
    await talking(aliceCall, carrierCall, 31, 32);
    expect((await admin.get<CallView[]>('/api/calls')).body[0]).toMatchObject({ id: started.body.id, direction: 'outbound', trunk: 'carrier', state: 'answered' });
    expect((await admin.get<Array<{ channelsInUse: number }>>('/api/trunks')).body[0]!.channelsInUse).toBe(1);
    await carrierCall.hangup();
    await aliceCall.waitForEnd();
    const [row] = await cdrRows(h, 1);
    expect(row).toMatchObject({ linkedId: started.body.id, callerNumber: '2001', dialedNumber: '0398765432', direction: 'outbound', trunk: 'carrier', disposition: 'answered', hangupBy: 'callee' });
    await waitUntil(() => h!.server.trunks.active('carrier') === 0, 3000);

    // Bob may not call outside: his phone rings, and once answered he hears the barred announcement and a BYE (cause 21).
    const bobRings = bob.waitForCall({ timeoutMs: 8000 });
    expect((await admin.post('/api/calls', { from: '2002', to: '0398765432' })).status).toBe(202);
    const bobCall = await (await bobRings).answer();
    const end = await bobCall.waitForEnd(15_000);
    expect(end.reason).toContain('cause=21');
    expect(bobCall.rtp.received().tone.foreign).toBeGreaterThan(10);
    const rows = await cdrRows(h, 2);
    expect(rows.find((r) => r.callerNumber === '2002')).toMatchObject({ dialedNumber: '0398765432', direction: 'outbound', disposition: 'failed', q850Cause: 21 });
  }, 40_000);

  it('ends cleanly when the caller hangs up while the number rings, or the API hangs up while the caller rings', async () => {
    h = await startApi();
    const alice = await registeredPhone(h, '2001', phones);
    const bob = await registeredPhone(h, '2002', phones);
    const admin = await h.login('root', 'correct horse', 'admin');

    const aliceRings = alice.waitForCall({ timeoutMs: 8000 });
    const first = await admin.post<{ id: string }>('/api/calls', { from: '2001', to: '2002' });
    const bobRings = bob.waitForCall({ timeoutMs: 8000 });
    const aliceCall = await (await aliceRings).answer();
    const toBob = await bobRings;
    await aliceCall.hangup();
    await toBob.waitForCancel();
    const [row] = await cdrRows(h, 1);
    expect(row).toMatchObject({ linkedId: first.body.id, callerNumber: '2001', dialedNumber: '2002', disposition: 'cancelled', hangupBy: 'caller', billsec: 0 });

    const aliceRingsAgain = alice.waitForCall({ timeoutMs: 8000 });
    const second = await admin.post<{ id: string }>('/api/calls', { from: '2001', to: '2002' });
    const ringingAlice = await aliceRingsAgain;
    expect((await admin.delete(`/api/calls/${second.body.id}`)).status).toBe(204);
    await ringingAlice.waitForCancel();
    const rows = await cdrRows(h, 2);
    expect(rows.find((r) => r.linkedId === second.body.id)).toMatchObject({ callerNumber: '2001', hangupBy: 'system', q850Cause: 16, answeredAt: null });
    await waitUntil(() => h!.server.calls.size === 0, 3000);
  }, 30_000);

  it('refuses bad click-to-call requests: fields (400), roles (403), unknown extension (404), unregistered phone (409)', async () => {
    h = await startApi();
    await registeredPhone(h, '2001', phones);
    const admin = await h.login('root', 'correct horse', 'admin');
    const supervisor = await h.login('sue', 'sue-password', 'supervisor');
    const bob = await h.login('bob', 'bob-password', 'user', '2002');
    await expectError(admin.post('/api/calls', { to: '2002' }), 400, 'from');
    await expectError(admin.post('/api/calls', { from: '2001', to: 'abc' }), 400, 'to');
    await expectError(admin.post('/api/calls', { from: '2001', to: '2002', autoAnswer: 'yes' }), 400, 'autoAnswer');
    // No route reaches 5555 from 2001: known before anything rings.
    await expectError(admin.post('/api/calls', { from: '2001', to: '5555' }), 400, 'to');
    await expectError(bob.post('/api/calls', { from: '2001', to: '2002' }), 403);
    await expectError(supervisor.post('/api/calls', { from: '2001', to: '2002' }), 403);
    await expectError(admin.post('/api/calls', { from: '9999', to: '2002' }), 404);
    await expectError(admin.post('/api/calls', { from: '2003', to: '2002' }), 409, 'from');
    await expectError(admin.delete('/api/calls/no-such-call'), 404);
    expect(h.server.calls.size).toBe(0);
    expect(h.server.cdr.query({})).toEqual([]);
    const doc = await h.client().get<{ paths: Record<string, unknown> }>('/api/openapi.json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/api/registrations', '/api/registrations/{extension}', '/api/calls', '/api/calls/{id}', '/api/trunks', '/api/park', '/api/locks']),
    );
  }, 20_000);
});

describe('registrations, trunks and parked calls', () => {
  it('lists live registrations and drops an extension’s bindings', async () => {
    h = await startApi();
    await registeredPhone(h, '2001', phones);
    await registeredPhone(h, '2002', phones, 'tcp');
    const admin = await h.login('root', 'correct horse', 'admin');
    const supervisor = await h.login('sue', 'sue-password', 'supervisor');
    const user = await h.login('alice', 'alice-password', 'user', '2001');
    const list = await supervisor.get<Array<{ extension: string; transport: string; address: string; reachable: boolean; expiresAt: string }>>('/api/registrations');
    expect(list.status).toBe(200);
    expect(list.body.map((r) => [r.extension, r.transport])).toEqual([
      ['2001', 'udp'],
      ['2002', 'tcp'],
    ]);
    expect(list.body[0]).toMatchObject({ address: '127.0.0.1', reachable: true });
    expect(Date.parse(list.body[0]!.expiresAt)).toBeGreaterThan(Date.now());
    await expectError(user.get('/api/registrations'), 403);
    await expectError(supervisor.delete('/api/registrations/2001'), 403);
    expect((await admin.delete('/api/registrations/2001')).status).toBe(204);
    expect(h.server.registrations.list('2001')).toEqual([]);
    expect((await admin.get<Array<{ extension: string }>>('/api/registrations')).body.map((r) => r.extension)).toEqual(['2002']);
    await expectError(admin.delete('/api/registrations/2001'), 404);
    expect(auditActions(h)).toContain('registration.delete');
  }, 20_000);

  it('lists trunks with registration state and channels, never their passwords', async () => {
    h = await startApi({
      config: {
        trunks: [
          { name: 'carrier', host: '192.0.2.10', channels: 4 },
          { name: 'upstream', host: '127.0.0.1', port: 9, register: true, username: 'hibiki', password: 'trunk-password-x' },
        ],
      },
    });
    const supervisor = await h.login('sue', 'sue-password', 'supervisor');
    const user = await h.login('alice', 'alice-password', 'user', '2001');
    const r = await supervisor.get<Array<Record<string, unknown>>>('/api/trunks');
    expect(r.status).toBe(200);
    expect(r.body[0]).toEqual({ name: 'carrier', host: '192.0.2.10', port: 5060, transport: 'udp', register: false, registration: 'not-used', channelsInUse: 0, channelLimit: 4 });
    expect(r.body[1]).toMatchObject({ name: 'upstream', register: true, channelLimit: 0 });
    expect(['unregistered', 'registering', 'failed']).toContain(r.body[1]!.registration);
    expect(r.text).not.toContain('trunk-password-x');
    await expectError(user.get('/api/trunks'), 403);
  }, 20_000);

  it('lists a call parked with #72', async () => {
    h = await startApi();
    const alice = await registeredPhone(h, '2001', phones);
    const bob = await registeredPhone(h, '2002', phones);
    const supervisor = await h.login('sue', 'sue-password', 'supervisor');
    const user = await h.login('alice', 'alice-password', 'user', '2001');
    expect((await supervisor.get('/api/park')).body).toEqual([]);
    const { callee: bobCall } = await connect(alice, bob, '2002');
    await bobCall.sendDtmf('#72', { method: 'rfc4733' });
    await bobCall.waitForEnd(15_000);
    const parked = await supervisor.get<Array<{ slot: string; party: { number: string; name?: string }; parkedBy: string; since: string }>>('/api/park');
    expect(parked.body).toEqual([{ slot: '9001', party: { number: '2001', name: 'Alice' }, parkedBy: '2002', since: expect.any(String) }]);
    expect(Number.isNaN(Date.parse(parked.body[0]!.since))).toBe(false);
    await expectError(user.get('/api/park'), 403);
  }, 30_000);
});

describe('locks', () => {
  async function register(api: RunningApi, localHost: string, password: string): Promise<number> {
    const u = await RawUa.open({ port: api.port('udp'), transport: 'udp', localHost });
    raws.push(u);
    return (await u.register({ user: '2001', password })).final.status;
  }

  it('lists a username lock made by 3 bad REGISTERs and a locked account, clears them, and the REGISTER then succeeds', async () => {
    h = await startApi();
    expect(await register(h, '127.0.0.2', 'guess-1')).toBe(401);
    expect(await register(h, '127.0.0.2', 'guess-2')).toBe(401);
    expect(await register(h, '127.0.0.2', 'guess-3')).toBe(403);
    expect(await register(h, '127.0.0.2', 'secret-2001')).toBe(403);
    await h.createAccount('ops', 'the-right-one', 'admin');
    const anon: ApiClient = h.client();
    for (let i = 0; i < 3; i++) await anon.post('/api/login', { username: 'ops', password: 'wrong' });

    const admin = await h.login('root', 'correct horse', 'admin');
    const supervisor = await h.login('sue', 'sue-password', 'supervisor');
    const locks = await admin.get<Array<{ kind: string; user?: string; address?: string; lockedAt: string; until: string; reason: string }>>('/api/locks');
    expect(locks.status).toBe(200);
    expect(locks.body).toEqual([
      expect.objectContaining({ kind: 'user', user: '2001', address: '127.0.0.2' }),
      expect.objectContaining({ kind: 'account', user: 'ops', reason: 'too many failed logins' }),
    ]);
    for (const l of locks.body) expect(Date.parse(l.until)).toBeGreaterThan(Date.parse(l.lockedAt));
    await expectError(supervisor.get('/api/locks'), 403);
    await expectError(supervisor.request('DELETE', '/api/locks', { kind: 'all' }), 403);
    await expectError(admin.request('DELETE', '/api/locks', { kind: 'everything' }), 400, 'kind');
    await expectError(admin.request('DELETE', '/api/locks', { kind: 'user' }), 400, 'user');
    await expectError(admin.request('DELETE', '/api/locks', { kind: 'address', address: '127.0.0.9' }), 404);

    const cleared = await admin.request<{ cleared: number }>('DELETE', '/api/locks', { kind: 'user', user: '2001', address: '127.0.0.2' });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toEqual({ cleared: 1 });
    // The running server honours the clear at once.
    expect(await register(h, '127.0.0.2', 'secret-2001')).toBe(200);
    await expectError(admin.request('DELETE', '/api/locks', { kind: 'user', user: '2001' }), 404);

    expect((await admin.request<{ cleared: number }>('DELETE', '/api/locks', { kind: 'account', user: 'ops' })).body).toEqual({ cleared: 1 });
    expect((await anon.post('/api/login', { username: 'ops', password: 'the-right-one' })).status).toBe(200);
    expect((await admin.get('/api/locks')).body).toEqual([]);
    expect(auditActions(h).filter((a) => a === 'lock.clear')).toHaveLength(2);
  }, 30_000);
});
