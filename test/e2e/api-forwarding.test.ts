// Issue #12 (F-API, F-FWD): forwarding, DND, schedules and bulk forwarding over the HTTP API. A rule set
// through the API is followed by a real call between test UAs; changes are audited and kept in SQLite.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiClient, type RunningApi } from '../support/api.js';
import { failure, registeredPhone, talking, waitUntil } from '../support/call-helpers.js';
import type { TestUA } from '../support/test-ua.js';

const NUMBERS = ['2001', '2002', '2003', '2004', '2005'];
const everyDay = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

interface Forwarding {
  destinations: string[];
  conditions: Record<'cfu' | 'cfb' | 'cfna' | 'cfur', { on: boolean; destination: string | null }>;
  noAnswerTimeout: number;
  dnd: boolean;
  effective: Record<string, unknown> & { source: string };
}

let h: RunningApi;
let admin: ApiClient;
let phones: TestUA[] = [];

beforeAll(async () => {
  h = await startApi({
    extensions: NUMBERS.map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}`, ...(n === '2005' ? { forwardingSchedule: 'always' } : {}) })),
    config: {
      schedules: [{ name: 'always', rows: [{ days: everyDay, action: 'cfu', destination: '2004' }] }],
      bulkForwarding: [{ name: 'disaster', members: [{ extension: '2004', destination: '2001' }, { extension: '2003' }] }],
    },
  });
  admin = await h.login('root', 'correct horse', 'admin');
}, 30_000);

afterAll(async () => {
  await h?.stop();
});

afterEach(async () => {
  await Promise.all(phones.map((p) => p.close()));
  phones = [];
});

describe('forwarding and DND over the API', () => {
  it('reads the state, turns cfu on with a new destination, and a real call to 2002 rings 2003', async () => {
    const before = await admin.get<Forwarding>('/api/extensions/2002/forwarding');
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ destinations: [], conditions: { cfu: { on: false, destination: null } }, dnd: false, effective: { source: 'normal' } });

    const set = await admin.put<Forwarding>('/api/extensions/2002/forwarding/cfu', { on: true, destination: '2003' });
    expect(set.status).toBe(200);
    expect(set.body.conditions.cfu).toEqual({ on: true, destination: '2003' });
    expect(set.body.destinations).toEqual(['2003']);
    expect(set.body.effective).toMatchObject({ cfu: '2003', source: 'normal' });

    const alice = await registeredPhone(h, '2001', phones);
    const bob = await registeredPhone(h, '2002', phones);
    const carol = await registeredPhone(h, '2003', phones);
    const ringing = carol.waitForCall({ timeoutMs: 10_000 });
    const outgoing = await alice.dial('2002');
    const callee = await (await ringing).answer();
    const caller = await outgoing.answered;
    await talking(caller, callee, 300, 301);
    expect(bob.calls.size).toBe(0);
    await caller.hangup();
    await callee.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).some((r) => r.feature === 'forward_cfu' && r.forwardedFrom === '2002'), 5000);

    // Off again keeps the stored destination; the row is in SQLite, the YAML is untouched.
    const off = await admin.put<Forwarding>('/api/extensions/2002/forwarding/cfu', { on: false });
    expect(off.body.conditions.cfu).toEqual({ on: false, destination: '2003' });
    expect(h.server.forwarding.state('2002').destinations).toEqual(['2003']);
    const audit = await admin.get<{ entries: Array<{ action: string; target: string }> }>('/api/audit?actor=root');
    expect(audit.body.entries.filter((e) => e.action === 'forwarding.set' && e.target === '2002')).toHaveLength(2);
  }, 60_000);

  it('DND on makes a real call to the extension busy; off lets it ring again', async () => {
    const on = await admin.put<Forwarding>('/api/extensions/2003/dnd', { on: true });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ dnd: true, effective: { dnd: true } });
    const alice = await registeredPhone(h, '2001', phones);
    await registeredPhone(h, '2003', phones);
    const refused = await failure((await alice.dial('2003')).answered);
    expect(refused.response.status).toBe(486);
    const off = await admin.put<Forwarding>('/api/extensions/2003/dnd', { on: false });
    expect(off.body.dnd).toBe(false);
  }, 30_000);

  it('refuses a bad destination, an unknown condition and a bad timeout with the field named', async () => {
    const self = await admin.put<{ field: string; message: string }>('/api/extensions/2001/forwarding/cfb', { on: true, destination: '2001' });
    expect(self.status).toBe(400);
    expect(self.body.field).toBe('destination');
    const unknown = await admin.put<{ field: string }>('/api/extensions/2001/forwarding/cfx', { on: true, destination: '2002' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.field).toBe('condition');
    const noStored = await admin.put<{ field: string; message: string }>('/api/extensions/2001/forwarding/cfna', { on: true });
    expect(noStored.status).toBe(400);
    expect(noStored.body.message).toMatch(/no stored destination/);
    const timeout = await admin.put<{ field: string }>('/api/extensions/2001/forwarding', { noAnswerTimeout: 0 });
    expect(timeout.status).toBe(400);
    expect(timeout.body.field).toBe('noAnswerTimeout');
    const ok = await admin.put<Forwarding>('/api/extensions/2001/forwarding', { noAnswerTimeout: 35 });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ noAnswerTimeout: 35, effective: { noAnswerTimeout: 35 } });
    expect(h.server.forwarding.state('2001').noAnswerTimeout).toBe(35);
    expect((await admin.get('/api/extensions/9999/forwarding')).status).toBe(404);
    expect((await admin.put('/api/extensions/9999/dnd', { on: true })).status).toBe(404);
  });

  it('keeps a user to their own extension; a supervisor reads but does not change', async () => {
    const user = await h.login('alice', 'alice-password', 'user', '2001');
    expect((await user.get('/api/extensions/2001/forwarding')).status).toBe(200);
    expect((await user.put('/api/extensions/2001/dnd', { on: false })).status).toBe(200);
    expect((await user.get('/api/extensions/2002/forwarding')).status).toBe(403);
    expect((await user.put('/api/extensions/2002/forwarding/cfu', { on: true, destination: '2001' })).status).toBe(403);
    expect((await user.get('/api/forwarding')).status).toBe(403);
    expect((await user.post('/api/bulk-forwarding/disaster/on')).status).toBe(403);
    const sup = await h.login('sue', 'sue-password', 'supervisor');
    expect((await sup.get('/api/extensions/2002/forwarding')).status).toBe(200);
    expect((await sup.put('/api/extensions/2002/dnd', { on: true })).status).toBe(403);
    expect((await sup.get('/api/forwarding')).status).toBe(200);
    expect((await sup.post('/api/bulk-forwarding/disaster/on')).status).toBe(403);
  });

  it('lists schedules and the overview, where a schedule row applies now', async () => {
    const schedules = await admin.get<Array<{ name: string; extensions: string[]; rows: Array<{ action: string; destination?: string }> }>>('/api/schedules');
    expect(schedules.status).toBe(200);
    expect(schedules.body).toEqual([{ name: 'always', extensions: ['2005'], rows: [expect.objectContaining({ action: 'cfu', destination: '2004', from: '00:00', to: '24:00' })] }]);
    const all = await admin.get<Array<{ number: string; name: string; dnd: boolean; effective: { source: string; cfu?: string } }>>('/api/forwarding');
    expect(all.body.map((x) => x.number)).toEqual(NUMBERS);
    expect(all.body.find((x) => x.number === '2005')?.effective).toMatchObject({ source: 'schedule', cfu: '2004' });
  });

  it('switches a bulk set on and off with per-member results; 404 for an unknown set', async () => {
    const list = await admin.get<Array<{ name: string; active: boolean; members: number }>>('/api/bulk-forwarding');
    expect(list.body).toEqual([{ name: 'disaster', active: false, members: 2 }]);
    const on = await admin.post<{ results: Array<{ member: string; result: string; destination?: string }> }>('/api/bulk-forwarding/disaster/on');
    expect(on.status).toBe(200);
    expect(on.body.results).toEqual([
      { member: '2004', kind: 'extension', result: 'ok', destination: '2001' },
      { member: '2003', kind: 'extension', result: 'unchanged', detail: 'no bulk destination' },
    ]);
    expect((await admin.get<Forwarding>('/api/extensions/2004/forwarding')).body.effective).toMatchObject({ source: 'bulk', cfu: '2001' });
    expect((await admin.get<Array<{ active: boolean; changedAt?: string }>>('/api/bulk-forwarding')).body[0]).toMatchObject({ active: true, changedAt: expect.any(String) });
    const off = await admin.post<{ results: Array<{ result: string }> }>('/api/bulk-forwarding/disaster/off');
    expect(off.body.results[0]?.result).toBe('ok');
    expect((await admin.get<Forwarding>('/api/extensions/2004/forwarding')).body.effective.source).toBe('normal');
    expect((await admin.post('/api/bulk-forwarding/nosuch/on')).status).toBe(404);
    expect((await admin.post('/api/bulk-forwarding/disaster/maybe')).status).toBe(400);
  });

  it('describes every feature route in the OpenAPI document', async () => {
    const doc = await h.client().get<{ paths: Record<string, unknown> }>('/api/openapi.json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/extensions/{number}/forwarding',
        '/api/extensions/{number}/forwarding/{condition}',
        '/api/extensions/{number}/dnd',
        '/api/extensions/{number}/pin',
        '/api/forwarding',
        '/api/schedules',
        '/api/bulk-forwarding',
        '/api/bulk-forwarding/{name}/{action}',
        '/api/voicemail/{box}/messages',
        '/api/voicemail/{box}/messages/{id}',
        '/api/voicemail/{box}/messages/{id}/audio',
        '/api/queues',
        '/api/queues/stats',
        '/api/agents/{extension}/pause',
        '/api/agents/{extension}/resume',
        '/api/screening',
        '/api/ivrs',
        '/api/conferences',
        '/api/conferences/{room}/participants/{id}/{action}',
        '/api/cdr',
        '/api/cdr/export.csv',
      ]),
    );
  });
});
