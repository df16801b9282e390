// Issue #12 (F-EVENTS): the live event stream over a WebSocket — a scripted call between two phones seen
// in order, the replay of missed events with ?since=, the gap when they fell out of the buffer, a user's
// view limited to their own extension, and the token check.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api.js';
import { connect, registeredPhone, ringingCall, waitUntil } from '../support/call-helpers.js';
import { EventStream, type StreamMessage } from '../support/event-stream.js';
import type { TestUA } from '../support/test-ua.js';

let h: RunningApi | undefined;
const phones: TestUA[] = [];
const streams: EventStream[] = [];
afterEach(async () => {
  for (const s of streams.splice(0)) await s.close();
  for (const p of phones.splice(0)) await p.close();
  await h?.stop();
  h = undefined;
});

async function stream(api: RunningApi, opts: { token?: string; header?: string; since?: number }): Promise<EventStream> {
  const s = await EventStream.open(api.baseUrl, opts);
  streams.push(s);
  return s;
}

const isCall = (state: string) => (m: StreamMessage) => m.type === 'call' && m.state === state;
const isReg =
  (extension: string, action = 'registered') =>
  (m: StreamMessage) =>
    m.type === 'registration' && m.extension === extension && m.action === action;

describe('the live event stream (F-EVENTS)', () => {
  it('tells a call from registration through ringing, answer, hold and resume to its end with cause 16, in order', async () => {
    h = await startApi();
    const admin = await h.login('root', 'correct horse', 'admin');
    const s = await stream(h, { token: admin.token });
    const alice = await registeredPhone(h, '2001', phones);
    const bob = await registeredPhone(h, '2002', phones);
    await s.waitFor(isReg('2002'));

    const { outgoing, incoming } = await ringingCall(alice, bob, '2002');
    await s.waitFor(isCall('ringing'));
    const callee = await incoming.answer();
    const caller = await outgoing.answered;
    await s.waitFor(isCall('answered'));
    await caller.hold();
    await s.waitFor(isCall('held'));
    await caller.resume();
    await s.waitFor(isCall('resumed'));
    await callee.hangup();
    await caller.waitForEnd();
    const ended = await s.waitFor(isCall('ended'));

    const seen = s.events.map((e) => (e.type === 'call' ? `call:${String(e.state)}` : `${e.type}:${String(e.action)}:${String(e.extension)}`));
    expect(seen).toEqual(['registration:registered:2001', 'registration:registered:2002', 'call:ringing', 'call:answered', 'call:held', 'call:resumed', 'call:ended']);
    const seqs = s.events.map((e) => e.seq!);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    for (const e of s.events) expect(Date.parse(e.at!)).not.toBeNaN();

    const reg = s.events[0]!;
    expect(reg).toMatchObject({ extension: '2001', transport: 'udp', address: '127.0.0.1', userAgent: 'hibiki-test-ua/2001' });
    expect(String(reg.contact)).toContain('sip:2001@');
    const ringing = s.events.find(isCall('ringing'))!;
    expect(ringing).toMatchObject({ caller: { number: '2001' }, dialed: '2002', ringing: ['2002'] });
    expect(s.events.find(isCall('answered'))).toMatchObject({ answeredBy: '2002' });
    expect(s.events.find(isCall('held'))).toMatchObject({ by: '2001' });
    expect(ended).toMatchObject({ cause: 16, disposition: 'answered', hangupBy: 'callee', dialed: '2002' });
    expect(new Set(ended.extensions as string[])).toEqual(new Set(['2001', '2002']));
    // One call: every call event carries the same ids.
    const callIds = new Set(s.events.filter((e) => e.type === 'call').map((e) => `${String(e.callId)}|${String(e.linkedId)}`));
    expect(callIds.size).toBe(1);
  });

  it('replays exactly the missed events to a client that reconnects with ?since=, and says gap when they are gone', async () => {
    h = await startApi({ config: { http: { eventBuffer: 10 } } });
    const admin = await h.login('root', 'correct horse', 'admin');
    // Stays connected throughout: it shows when the server has published what the others wait for.
    const observer = await stream(h, { header: admin.token });
    const first = await stream(h, { token: admin.token });
    const alice = await registeredPhone(h, '2001', phones);
    const last = (await first.waitFor(isReg('2001'))).seq!;
    await first.close();

    // Missed while away: two registrations and a refresh.
    await registeredPhone(h, '2002', phones);
    await registeredPhone(h, '2003', phones);
    await alice.register();
    await observer.waitFor(isReg('2001', 'refreshed'));

    const again = await stream(h, { token: admin.token, since: last });
    // Everything after `last` that was published, then ready — nothing before it, nothing twice.
    expect(again.messages.at(-1)).toMatchObject({ type: 'ready' });
    const replayed = again.events;
    expect(replayed.map((e) => `${String(e.extension)}:${String(e.action)}`)).toEqual(['2002:registered', '2003:registered', '2001:refreshed']);
    expect(replayed.map((e) => e.seq)).toEqual([last + 1, last + 2, last + 3]);
    // A live event after the replay comes once.
    await alice.register();
    const live = await again.waitFor((m) => isReg('2001', 'refreshed')(m) && m.seq! > last + 3);
    expect(live.seq).toBe(last + 4);

    // Twelve more refreshes push the first events out of the 10-event buffer.
    for (let i = 0; i < 12; i++) await alice.register();
    await observer.waitFor((m) => m.seq === last + 16);
    const late = await stream(h, { token: admin.token, since: last });
    expect(late.messages[0]).toMatchObject({ type: 'gap', from: last + 1, to: last + 6, reason: 'overflow' });
    expect(late.events.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => last + 7 + i));
  });

  it('shows a user only the events of their own extension, and an admin everything', async () => {
    h = await startApi();
    const admin = await h.login('root', 'correct horse', 'admin');
    const user = await h.login('alice', 'alice-password', 'user', '2001');
    const all = await stream(h, { token: admin.token });
    const mine = await stream(h, { token: user.token });

    const bob = await registeredPhone(h, '2002', phones);
    const carol = await registeredPhone(h, '2003', phones);
    // A call between two others: not the user's business.
    const other = await connect(bob, carol, '2003');
    await other.caller.hangup();
    await all.waitFor(isCall('ended'));
    const alice = await registeredPhone(h, '2001', phones);
    const { caller } = await connect(alice, bob, '2002');
    await caller.hangup();
    await all.waitFor((m) => isCall('ended')(m) && m.dialed === '2002');
    await mine.waitFor((m) => isCall('ended')(m) && m.dialed === '2002');

    expect(mine.events.map((e) => (e.type === 'call' ? `call:${String(e.state)}` : `${e.type}:${String(e.extension)}`))).toEqual(['registration:2001', 'call:ringing', 'call:answered', 'call:ended']);
    for (const e of mine.events.filter((x) => x.type === 'call')) expect(e.caller).toMatchObject({ number: '2001' });
    expect(all.events.filter((e) => e.type === 'registration').map((e) => e.extension)).toEqual(['2002', '2003', '2001']);
    expect(all.events.filter(isCall('ended'))).toHaveLength(2);
  });

  it('tells a park: the call parked, the slot taken and freed by a retrieval, and the retrieved call ending', async () => {
    h = await startApi();
    const admin = await h.login('root', 'correct horse', 'admin');
    const s = await stream(h, { token: admin.token });
    const alice = await registeredPhone(h, '2001', phones);
    const bob = await registeredPhone(h, '2002', phones);
    const carol = await registeredPhone(h, '2003', phones);
    const { caller: aliceCall, callee: bobCall } = await connect(alice, bob, '2002');
    await bobCall.sendDtmf('#72', { method: 'rfc4733' });
    const parked = await s.waitFor((m) => m.type === 'park' && m.action === 'parked', 15_000);
    expect(parked).toMatchObject({ slot: '9001', party: '2001', parkedBy: '2002' });
    expect(await s.waitFor(isCall('parked'))).toMatchObject({ slot: '9001', by: '2002' });
    await bobCall.waitForEnd(15_000);

    const carolCall = await carol.call('9001');
    expect(await s.waitFor((m) => m.type === 'park' && m.action === 'retrieved')).toMatchObject({ slot: '9001', party: '2001' });
    await carolCall.hangup();
    await aliceCall.waitForEnd();
    const ended = await s.waitFor((m) => isCall('ended')(m) && m.callId === parked.callId);
    expect(ended).toMatchObject({ cause: 16, disposition: 'answered', answeredBy: '2003' });
    expect(new Set(ended.extensions as string[])).toEqual(new Set(['2001', '2002', '2003']));
  }, 40_000);

  it('tells configuration reloads and rejections, and a console account locked by failed logins, to admins only', async () => {
    h = await startApi();
    const admin = await h.login('root', 'correct horse', 'admin');
    const user = await h.login('alice', 'alice-password', 'user', '2001');
    const all = await stream(h, { token: admin.token });
    const mine = await stream(h, { token: user.token });

    const good = readFileSync(h.configPath, 'utf8');
    writeFileSync(h.configPath, `${good}\nnotASection: 1\n`);
    expect(h.server.reload('SIGHUP')).toBe(false);
    const rejected = await all.waitFor((m) => m.type === 'config' && m.action === 'rejected');
    expect(rejected.reason).toBe('SIGHUP');
    expect((rejected.errors as Array<{ message: string }>).length).toBeGreaterThan(0);
    writeFileSync(h.configPath, good);
    expect(h.server.reload('SIGHUP')).toBe(true);
    expect(await all.waitFor((m) => m.type === 'config' && m.action === 'reloaded')).toMatchObject({ reason: 'SIGHUP', extensions: 3 });

    await h.createAccount('ops', 'the-right-one', 'admin');
    const c = h.client();
    for (let i = 0; i < 3; i++) await c.post('/api/login', { username: 'ops', password: 'wrong-one' });
    const locked = await all.waitFor((m) => m.type === 'security');
    expect(locked).toMatchObject({ action: 'account-locked', account: 'ops', address: '127.0.0.1' });
    // A fourth failure finds the account locked already: no second event.
    await c.post('/api/login', { username: 'ops', password: 'wrong-one' });
    const alice = await registeredPhone(h, '2001', phones);
    await mine.waitFor(isReg('2001'));
    await all.waitFor(isReg('2001'));
    expect(all.events.filter((e) => e.type === 'security')).toHaveLength(1);
    expect(mine.events.map((e) => e.type)).toEqual(['registration']);
    await alice.unregister();
    expect(await mine.waitFor(isReg('2001', 'unregistered'))).toMatchObject({ reason: 'request' });
  });

  it('closes a client that stops reading with 1013 once it is http.eventClientBufferKiB behind, and goes on serving the others', async () => {
    h = await startApi({ config: { http: { eventClientBufferKiB: 64, eventBuffer: 10 } } });
    const admin = await h.login('root', 'correct horse', 'admin');
    const slow = await stream(h, { token: admin.token });
    const fast = await stream(h, { token: admin.token });
    slow.socket.pause();
    // Big events, many of them: more than the socket buffers of the loopback connection take in.
    const errors = Array.from({ length: 50 }, (_, i) => ({ file: h!.configPath, line: i + 1, message: 'x'.repeat(200) }));
    const sent = 2000;
    // A few at a time, each batch read by the other client before the next: it keeps up, the paused one cannot.
    for (let i = 0; i < sent; i += 4) {
      for (let j = i; j < i + 4; j++) h.server.configEvents.tell({ type: 'rejected', reason: `flood ${j}`, errors });
      await fast.waitFor((m) => m.reason === `flood ${i + 3}`);
    }
    slow.socket.resume();
    await waitUntil(() => slow.closed !== undefined, 30_000);
    expect(slow.closed?.code).toBe(1013);
    // It got a prefix of the events, not all of them.
    const got = slow.events.length;
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(sent);
    expect(slow.events.map((e) => e.reason)).toEqual(Array.from({ length: got }, (_, i) => `flood ${i}`));
    expect(h.logs.some((l) => l.msg === 'event stream client too slow; disconnected')).toBe(true);
    expect(fast.closed).toBeUndefined();
  }, 60_000);

  it('tells forwarding and DND changes, with what is in force after them, to the extension and admins only', async () => {
    h = await startApi();
    const admin = await h.login('root', 'correct horse', 'admin');
    const user = await h.login('alice', 'alice-password', 'user', '2001');
    const all = await stream(h, { token: admin.token });
    const mine = await stream(h, { token: user.token });
    expect((await admin.put('/api/extensions/2002/dnd', { on: true })).status).toBe(200);
    expect((await user.put('/api/extensions/2001/forwarding/cfu', { on: true, destination: '2003' })).status).toBe(200);
    const cfu = await mine.waitFor((m) => m.type === 'forwarding');
    expect(cfu).toMatchObject({ extension: '2001', changed: 'cfu', effective: { cfu: '2003', dnd: false } });
    await all.waitFor((m) => m.type === 'forwarding' && m.extension === '2001');
    expect(all.events.filter((e) => e.type === 'forwarding').map((e) => `${String(e.extension)}:${String(e.changed)}`)).toEqual(['2002:dnd', '2001:cfu']);
    expect(mine.events.filter((e) => e.type === 'forwarding').map((e) => e.extension)).toEqual(['2001']);
  });

  it('closes an open stream with 1008 once its session is logged out', async () => {
    h = await startApi();
    const admin = await h.login('root', 'correct horse', 'admin');
    const s = await stream(h, { token: admin.token });
    expect((await admin.post('/api/logout')).status).toBe(204);
    await waitUntil(() => s.closed !== undefined, 20_000);
    expect(s.closed?.code).toBe(1008);
  });

  it('refuses a connection without a valid token with 401', async () => {
    h = await startApi();
    expect(await EventStream.status(h.baseUrl)).toBe(401);
    expect(await EventStream.status(h.baseUrl, '?token=not-a-token')).toBe(401);
    const admin = await h.login('root', 'correct horse', 'admin');
    expect(await EventStream.status(h.baseUrl, `?token=${admin.token}`)).toBe(101);
  });
});
