// Issue #12 (F-API, F-VM, F-QUEUE, F-SCREEN, F-CONF, F-IVR): voicemail messages and the PIN, queues and
// agents, screening lists and counters, conference rooms and IVRs over the HTTP API, on a running server.
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { monthIn, previousMonth } from '../../src/features/screening.js';
import type { MessageCounts } from '../../src/store/voicemail-store.js';
import { ScreeningStore } from '../../src/store/screening-store.js';
import { VoicemailBoxStore } from '../../src/store/voicemail-box-store.js';
import { startApi, type ApiClient, type RunningApi } from '../support/api.js';
import { readWav, toneShare } from '../support/audio.js';
import { registeredPhone, waitUntil } from '../support/call-helpers.js';
import type { TestUA } from '../support/test-ua.js';

const NUMBERS = ['2001', '2002', '2003', '2004'];

let h: RunningApi;
let admin: ApiClient;
let phones: TestUA[] = [];

beforeAll(async () => {
  h = await startApi({
    extensions: NUMBERS.map((n) => ({
      number: n,
      name: `User ${n}`,
      password: `secret-${n}`,
      language: 'en',
      ...(n === '2001' ? { pin: '2580', blockList: ['0120*'], rejectAnonymous: true } : {}),
    })),
    config: {
      voicemailBoxes: [{ number: '2900', name: 'Reception', notify: ['2001'] }],
      queues: [{ number: '6000', name: 'Support', strategy: 'linear', members: ['2002', '2003'], periodicAnnouncementInterval: 0, retryDelay: 0 }],
      conference: { rooms: [{ number: '9201', announceCount: false }] },
      ivrs: [{ number: '500', name: 'Main', greeting: 'ivr-welcome', keys: { 1: '2002' } }],
      screening: { blockList: ['0990*'] },
      inbound: [{ did: '0312345678', destination: '2001', rejectAnonymous: true }],
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

/** A message as the voicemail feature leaves one: the WAV under <data>/voicemail/<box>/, then the row. */
function deposit(box: string, caller: string, bytes: Buffer): number {
  const file = `${box}/${Date.now()}-${Math.random().toString(36).slice(2)}.wav`;
  mkdirSync(join(h.dataDir, 'voicemail', box), { recursive: true });
  writeFileSync(join(h.dataDir, 'voicemail', file), bytes);
  return h.server.voicemailStore.add({ box, file, receivedAt: Date.now(), callerNumber: caller, callerName: 'Caller', calledNumber: box, durationMs: 3456, callId: undefined }).id;
}

describe('voicemail over the API', () => {
  it('lists, downloads, marks saved and deletes a message; the lamp follows every change', async () => {
    const wav = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(60, 7)]);
    const id = deposit('2002', '0312345678', wav);
    const lamp: Array<[string, MessageCounts]> = [];
    h.server.mailboxEvents.on('changed', (box, counts) => lamp.push([box, counts]));

    const list = await admin.get<Array<Record<string, unknown>>>('/api/voicemail/2002/messages');
    expect(list.status).toBe(200);
    expect(list.body).toEqual([{ id, status: 'new', receivedAt: expect.any(String), caller: '0312345678', callerName: 'Caller', seconds: 3.5 }]);

    const audio = await admin.request('GET', `/api/voicemail/2002/messages/${id}/audio`);
    expect(audio.status).toBe(200);
    expect(audio.headers.get('content-type')).toBe('audio/wav');
    const got = await fetch(`${h.baseUrl}/api/voicemail/2002/messages/${id}/audio`, { headers: { authorization: `Bearer ${admin.token}` } });
    expect(Buffer.from(await got.arrayBuffer())).toEqual(wav);

    const saved = await admin.patch<{ status: string }>(`/api/voicemail/2002/messages/${id}`, { status: 'saved' });
    expect(saved.status).toBe(200);
    expect(saved.body.status).toBe('saved');
    expect(lamp).toEqual([['2002', { new: 0, saved: 1 }]]);
    expect((await admin.patch<{ field: string }>(`/api/voicemail/2002/messages/${id}`, { status: 'gone' })).body.field).toBe('status');

    const file = join(h.dataDir, 'voicemail', h.server.voicemailStore.get(id)!.file);
    expect((await admin.delete(`/api/voicemail/2002/messages/${id}`)).status).toBe(204);
    expect(existsSync(file)).toBe(false);
    expect(h.server.voicemailStore.get(id)).toBeUndefined();
    expect(lamp.at(-1)).toEqual(['2002', { new: 0, saved: 0 }]);
    expect((await admin.delete(`/api/voicemail/2002/messages/${id}`)).status).toBe(404);
    expect((await admin.get('/api/voicemail/7777/messages')).status).toBe(404);
    const audit = await admin.get<{ entries: Array<{ action: string; target: string }> }>('/api/audit?actor=root');
    expect(audit.body.entries.map((e) => e.action)).toEqual(expect.arrayContaining(['voicemail.status', 'voicemail.delete']));
  });

  it('a message left by a real call after no-answer forwarding set through the API is listed and downloaded as WAV', async () => {
    const user = await h.login('dora', 'dora-password', 'user', '2004');
    expect((await user.put('/api/extensions/2004/forwarding', { noAnswerTimeout: 1 })).status).toBe(200);
    const fwd = await user.put<{ effective: { cfna?: string } }>('/api/extensions/2004/forwarding/cfna', { on: true, destination: 'voicemail' });
    expect(fwd.status).toBe(200);
    expect(fwd.body.effective.cfna).toBe('voicemail');
    const alice = await registeredPhone(h, '2001', phones);
    const dora = await registeredPhone(h, '2004', phones);
    const recordings = () => h.logs.filter((l) => l.msg === 'voicemail recording').length;
    const before = recordings();
    const out = await alice.dial('2004');
    (await dora.waitForCall({ timeoutMs: 5000 })).ring();
    const call = await out.answered;
    await waitUntil(() => recordings() > before, 30_000);
    call.rtp.useSine(700);
    await call.rtp.sendPackets(100);
    await call.sendDtmf('#');
    await call.waitForEnd(20_000);
    await waitUntil(() => h.server.voicemailStore.list('2004').length === 1, 5000);

    const list = await user.get<Array<{ id: number; caller: string; seconds: number; status: string }>>('/api/voicemail/2004/messages');
    expect(list.body).toEqual([expect.objectContaining({ caller: '2001', status: 'new' })]);
    expect(list.body[0]!.seconds).toBeGreaterThan(1.5);
    expect(list.body[0]!.seconds).toBeLessThan(2.5);
    const got = await fetch(`${h.baseUrl}/api/voicemail/2004/messages/${list.body[0]!.id}/audio`, { headers: { authorization: `Bearer ${user.token}` } });
    expect(got.status).toBe(200);
    const wav = readWav(Buffer.from(await got.arrayBuffer()));
    expect(wav).toMatchObject({ format: 1, channels: 1, rate: 8000 });
    expect(toneShare(wav.samples, 700)).toBeGreaterThan(0.9);
    expect((await user.delete(`/api/voicemail/2004/messages/${list.body[0]!.id}`)).status).toBe(204);
    expect(h.server.voicemailStore.list('2004')).toEqual([]);
  }, 60_000);

  it('keeps a user to their own box; shared boxes are for admins', async () => {
    const mine = deposit('2003', '2001', Buffer.from('RIFFx'));
    const other = deposit('2004', '2001', Buffer.from('RIFFy'));
    deposit('2900', '2001', Buffer.from('RIFFz'));
    const user = await h.login('carol', 'carol-password', 'user', '2003');
    expect((await user.get('/api/voicemail/2003/messages')).status).toBe(200);
    expect((await user.get(`/api/voicemail/2003/messages/${mine}/audio`)).status).toBe(200);
    expect((await user.get('/api/voicemail/2004/messages')).status).toBe(403);
    expect((await user.delete(`/api/voicemail/2004/messages/${other}`)).status).toBe(403);
    expect((await user.get('/api/voicemail/2900/messages')).status).toBe(403);
    // A message id of another box is not found through this box.
    expect((await user.delete(`/api/voicemail/2003/messages/${other}`)).status).toBe(404);
    expect((await admin.get<unknown[]>('/api/voicemail/2900/messages')).body).toHaveLength(1);
    const sup = await h.login('sam', 'sam-password', 'supervisor');
    expect((await sup.get('/api/voicemail/2004/messages')).status).toBe(200);
    expect((await sup.delete(`/api/voicemail/2004/messages/${other}`)).status).toBe(403);
  });

  it('sets the PIN where the phone menu does, refusing weak ones with field pin', async () => {
    const boxes = new VoicemailBoxStore(h.server.db);
    const weak = await admin.put<{ field: string; message: string }>('/api/extensions/2001/pin', { pin: '1234' });
    expect(weak.status).toBe(400);
    expect(weak.body).toMatchObject({ field: 'pin', message: expect.stringMatching(/sequential/) });
    expect((await admin.put<{ field: string }>('/api/extensions/2001/pin', { pin: '12a4' })).body.field).toBe('pin');
    expect(boxes.pin('2001', '2580')).toBe('2580');
    const user = await h.login('alice', 'alice-password', 'user', '2001');
    expect((await user.put('/api/extensions/2001/pin', { pin: '8024' })).status).toBe(204);
    expect(boxes.pin('2001', '2580')).toBe('8024');
    expect((await user.put('/api/extensions/2002/pin', { pin: '8024' })).status).toBe(403);
    expect((await admin.put('/api/extensions/9999/pin', { pin: '8024' })).status).toBe(404);
    // A PIN set here (not in the YAML) shows as set on the extension.
    expect((await admin.get<{ hasPin: boolean }>('/api/extensions/2002')).body.hasPin).toBe(false);
    expect((await admin.put('/api/extensions/2002/pin', { pin: '8024' })).status).toBe(204);
    expect((await admin.get<{ hasPin: boolean }>('/api/extensions/2002')).body.hasPin).toBe(true);
    const audit = await admin.get<{ entries: Array<{ action: string; detail: string }> }>('/api/audit?actor=alice');
    const row = audit.body.entries.find((e) => e.action === 'pin.set');
    expect(row?.detail).not.toContain('8024');
  });
});

describe('queues and agents over the API', () => {
  it('shows the queue and a waiting caller live, pauses and resumes an agent (as the agent, too), and refuses strangers', async () => {
    const bob = await registeredPhone(h, '2002', phones);
    await waitUntil(() => h.server.queues.board.stateOf('6000', '2002') === 'available', 5000);
    const live = await admin.get<Array<Record<string, unknown> & { agents: Array<{ extension: string; state: string }> }>>('/api/queues');
    expect(live.status).toBe(200);
    expect(live.body[0]).toMatchObject({ number: '6000', name: 'Support', strategy: 'linear', waiting: [], today: { offered: 0, answered: 0, avgWaitSeconds: 0 } });
    expect(live.body[0]!.agents).toEqual([
      { extension: '2002', name: 'User 2002', level: 1, state: 'available' },
      { extension: '2003', name: 'User 2003', level: 1, state: 'offline' },
    ]);

    const paused = await admin.post<{ extension: string; queues: Array<Record<string, unknown>> }>('/api/agents/2002/pause', { reason: 'lunch' });
    expect(paused.status).toBe(200);
    expect(paused.body).toEqual({ extension: '2002', queues: [{ queue: '6000', changed: true, state: 'paused', pausedReason: 'lunch' }] });
    const board = await admin.get<Array<{ agents: Array<{ extension: string; state: string; pausedReason?: string }> }>>('/api/queues');
    expect(board.body[0]!.agents[0]).toMatchObject({ extension: '2002', state: 'paused', pausedReason: 'lunch' });

    // A caller waits while the only registered agent is paused; resuming (as the agent) offers them the call.
    const alice = await registeredPhone(h, '2001', phones);
    const outgoing = await alice.dial('6000');
    await waitUntil(() => h.server.queues.events.open(0).length === 1, 10_000);
    const waiting = await admin.get<Array<{ waiting: unknown[]; today: { offered: number } }>>('/api/queues');
    expect(waiting.body[0]!.waiting).toEqual([{ position: 1, caller: '2001', waitingSeconds: expect.any(Number) }]);
    expect(waiting.body[0]!.today.offered).toBe(1);
    const ringing = bob.waitForCall({ timeoutMs: 10_000 });
    const agent = await h.login('bob', 'bob-password', 'agent', '2002');
    const resumed = await agent.post<{ queues: Array<Record<string, unknown>> }>('/api/agents/2002/resume', {});
    expect(resumed.status).toBe(200);
    expect(resumed.body.queues).toEqual([{ queue: '6000', changed: true, state: expect.stringMatching(/^(available|ringing)$/) }]);
    await ringing;
    await (await outgoing.answered).hangup();
    expect((await agent.post('/api/agents/2003/pause', {})).status).toBe(403);
    expect((await agent.get('/api/queues')).status).toBe(403);
    expect((await admin.post<{ field: string }>('/api/agents/2004/pause', {})).body.field).toBe('queue');
    expect((await admin.post('/api/agents/2002/pause', { queue: '6999' })).status).toBe(404);
    expect((await admin.post('/api/agents/9999/pause', {})).status).toBe(404);
    const events = h.server.queues.events.between(0, Number.MAX_SAFE_INTEGER).filter((e) => e.event === 'PAUSE' || e.event === 'RESUME');
    expect(events.map((e) => e.event)).toEqual(['PAUSE', 'RESUME']);
  });

  it('returns period statistics as JSON and names a bad date', async () => {
    const day = new Date().toISOString().slice(0, 10);
    const r = await admin.get<{ by: string; queues: Array<{ queue: string; name: string; offered: number }>; agents: unknown[] }>(`/api/queues/stats?from=${day}&to=${day}&by=hour&agents=true`);
    expect(r.status).toBe(200);
    expect(r.body.by).toBe('hour');
    expect(r.body.queues.length).toBeGreaterThanOrEqual(24);
    expect(r.body.queues[0]).toMatchObject({ queue: '6000', name: 'Support', offered: 0 });
    const bad = await admin.get<{ field: string }>('/api/queues/stats?from=2026-02-30&to=2026-03-01');
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('from');
    expect((await admin.get<{ field: string }>('/api/queues/stats?from=2026-03-02&to=2026-03-01')).body.field).toBe('to');
    // A range of thousands of years by hour would freeze the server building its periods: refused at once.
    const wide = await admin.get<{ field: string; message: string }>('/api/queues/stats?from=1000-01-01&to=9999-12-31&by=hour');
    expect(wide.status).toBe(400);
    expect(wide.body).toMatchObject({ field: 'to', message: expect.stringMatching(/at most 5000/) });
  });
});

describe('screening, IVRs and conferences over the API', () => {
  it('lists the screening lists and this and last month’s rejected-call counters (admin only)', async () => {
    const store = new ScreeningStore(h.server.db);
    const month = monthIn(h.server.currentConfig.tenant.timezone, Date.now());
    store.increment('ext:2001', month);
    store.increment('ext:2001', month);
    store.increment('ext:2001', previousMonth(month));
    store.increment('did:0312345678', month);
    const r = await admin.get<{
      thisMonth: string;
      blockList: string[];
      extensions: Array<{ number: string; blockList: string[]; rejectAnonymous: boolean; rejected: { thisMonth: number; lastMonth: number } }>;
      dids: Array<{ did: string; rejected: { thisMonth: number } }>;
    }>('/api/screening');
    expect(r.status).toBe(200);
    expect(r.body.thisMonth).toBe(month);
    expect(r.body.blockList).toEqual(['0990*']);
    expect(r.body.extensions[0]).toEqual({ number: '2001', name: 'User 2001', blockList: ['0120*'], rejectAnonymous: true, rejected: { thisMonth: 2, lastMonth: 1 } });
    expect(r.body.dids).toEqual([{ did: '0312345678', blockList: [], rejectAnonymous: true, rejected: { thisMonth: 1, lastMonth: 0 } }]);
    const sup = await h.login('sid', 'sid-password', 'supervisor');
    expect((await sup.get('/api/screening')).status).toBe(403);
  });

  it('lists the IVRs read only', async () => {
    const r = await admin.get<Array<{ number: string; name: string; keys: Record<string, string> }>>('/api/ivrs');
    expect(r.status).toBe(200);
    expect(r.body).toEqual([expect.objectContaining({ number: '500', name: 'Main', keys: { 1: '2002' }, language: 'ja' })]);
    const user = await h.login('ivy', 'ivy-password', 'user', '2004');
    expect((await user.get('/api/ivrs')).status).toBe(403);
  });

  it('shows a participant of a real conference call, mutes and kicks them', async () => {
    const alice = await registeredPhone(h, '2001', phones);
    const call = await alice.call('9201');
    await waitUntil(() => h.server.rooms.rooms().length === 1, 10_000);
    const list = await admin.get<Array<{ room: string; participants: Array<{ id: string; number: string; muted: boolean; moderator: boolean }> }>>('/api/conferences');
    expect(list.status).toBe(200);
    expect(list.body).toEqual([expect.objectContaining({ room: '9201', started: true, participants: [expect.objectContaining({ number: '2001', muted: false, moderator: false })] })]);
    const id = list.body[0]!.participants[0]!.id;
    const sup = await h.login('sly', 'sly-password', 'supervisor');
    expect((await sup.get('/api/conferences')).status).toBe(200);
    expect((await sup.post(`/api/conferences/9201/participants/${id}/mute`)).status).toBe(403);
    expect((await admin.post(`/api/conferences/9201/participants/${id}/mute`)).status).toBe(204);
    expect(h.server.rooms.rooms()[0]!.participants[0]!.muted).toBe(true);
    expect((await admin.post(`/api/conferences/9201/participants/${id}/unmute`)).status).toBe(204);
    expect(h.server.rooms.rooms()[0]!.participants[0]!.muted).toBe(false);
    expect((await admin.post(`/api/conferences/9201/participants/${id}/shout`)).status).toBe(400);
    expect((await admin.post(`/api/conferences/9201/participants/nobody/kick`)).status).toBe(404);
    expect((await admin.post(`/api/conferences/9201/participants/${id}/kick`)).status).toBe(204);
    expect((await call.waitForEnd(10_000)).by).toBe('remote');
    expect((await admin.get('/api/conferences')).body).toEqual([]);
  }, 30_000);
});
