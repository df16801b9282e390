// F-CONF end to end with test UAs and real RTP: three participants send different tones; each hears the
// other two and never itself; mute takes a voice out of the room; join and leave tones; a PIN; a full room;
// a call moved into a room by blind transfer; the CLI's list and kick.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { hears, toneFrames } from '../support/tones.js';
import { failure, talking, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import type { Call } from '../support/test-ua.js';
import { startSipJsPhone, type SipJsPhone } from '../support/sipjs-call.js';
import { ConferenceStore } from '../../src/store/conference-store.js';
import { openDatabase } from '../../src/store/db.js';
import { shortPromptsDir } from '../support/short-prompts.js';

let sipjs: SipJsPhone | undefined;
// SIP.js leaves first, while hibiki still answers it.
const session = hibikiSession({
  async beforeStop() {
    await sipjs?.stop();
    sipjs = undefined;
  },
});
const NUMBERS = ['2001', '2002', '2003', '2004'];
const TONES: Record<string, number> = { '2001': 400, '2002': 700, '2003': 1100 };
// The prompts that end a refused caller's call (the last 'wrong PIN', 'goodbye', 'room full') are only waited
// out: 300 ms of each. 'Enter the PIN', which the PINs are typed over, keeps its length.
const PROMPTS_DIR = shortPromptsDir(['vm-wrong-pin', 'vm-goodbye', 'conf-full']);
afterAll(() => rmSync(PROMPTS_DIR, { recursive: true, force: true }));

function start(conference: Record<string, unknown> = {}) {
  return session.start({
    transports: [{ transport: 'udp' }, { transport: 'ws' }],
    extensions: NUMBERS.map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}`, language: 'en' })),
    config: {
      prompts: { dir: PROMPTS_DIR },
      conference: {
        rooms: [
          { number: '9201', announceCount: false },
          { number: '9204', announceCount: false, musicWhileAlone: false },
          { number: '9202', pin: '2468', announceCount: false },
          { number: '9203', maxParticipants: 2, announceCount: false },
        ],
        ...conference,
      },
    },
  });
}

describe('conference rooms', () => {
  it('three participants: each hears the other two and not itself; a muted one is heard by nobody', async () => {
    const { phone } = await start();
    const calls: Record<string, Call> = {};
    for (const n of ['2001', '2002', '2003']) {
      const p = await phone(n);
      const c = await p.call('9201');
      c.rtp.useSine(TONES[n]);
      c.rtp.startTone();
      calls[n] = c;
    }
    const all = Object.values(TONES);
    for (const n of ['2001', '2002', '2003']) {
      const own = TONES[n]!;
      await hears(
        calls[n]!,
        all.filter((hz) => hz !== own),
        [own],
      );
    }
    // 2002 mutes (key 1): 2001 and 2003 stop hearing 700 Hz.
    await calls['2002']!.sendDtmf('1', { method: 'rfc4733' });
    await hears(calls['2001']!, [1100], [400, 700]);
    await hears(calls['2003']!, [400], [700, 1100]);
    await calls['2002']!.sendDtmf('1', { method: 'rfc4733' });
    await hears(calls['2001']!, [700, 1100], [400]);
    for (const c of Object.values(calls)) c.rtp.stopTone();
    await Promise.all(Object.values(calls).map((c) => c.hangup()));
  }, 60_000);

  it('a PIN is asked (three attempts); the right one joins; a full room refuses with 486', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const wrong = await alice.call('9202');
    for (let i = 0; i < 3; i++) await wrong.sendDtmf('1111#', { method: 'rfc4733' });
    expect((await wrong.waitForEnd(30_000)).by).toBe('remote');
    const right = await alice.call('9202');
    await right.sendDtmf('2468#', { method: 'rfc4733' });
    await waitUntil(() => h.server.rooms.rooms().some((r) => r.room.number === '9202' && r.participants.length === 1), 15_000);
    await right.hangup();
    // 9203 takes two.
    const a = await alice.call('9203');
    const b = await bob.call('9203');
    await talking(a, b, 10, 11);
    const err = await failure(carol.call('9203'));
    expect(err.status).toBe(486);
    await Promise.all([a.hangup(), b.hangup()]);
  }, 60_000);

  it('join and leave tones reach the others; the last one out ends the room; kick from the CLI store', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    // 9204 has no music while alone: alice hears the silence of the room until the join tone (660 then 990 Hz).
    const a = await alice.call('9204');
    await waitUntil(() => h.server.rooms.rooms().length === 1, 10_000);
    await a.rtp.waitForPackets(25, 10_000);
    expect(toneFrames(a, 990)).toBe(0);
    const b = await bob.call('9204');
    await waitUntil(() => toneFrames(a, 990) >= 3, 10_000);
    await talking(a, b, 20, 21);
    const listed = h.server.rooms.rooms()[0]!.participants.map((p) => p.number);
    expect(listed).toEqual(['2001', '2002']);
    // The CLI's kick, through the store: bob is hung up within a second or two; alice hears the leave tone.
    const joinTones = toneFrames(a, 660);
    const bobId = h.server.rooms.rooms()[0]!.participants[1]!.id;
    const db = openDatabase(h.dataDir);
    new ConferenceStore(db).addCommand({ room: '9204', participant: bobId, action: 'kick' }, Date.now());
    db.close();
    expect((await b.waitForEnd(10_000)).by).toBe('remote');
    await waitUntil(() => h.server.rooms.rooms()[0]?.participants.length === 1, 5000);
    await waitUntil(() => toneFrames(a, 660) >= joinTones + 3, 10_000);
    await a.hangup();
    await waitUntil(() => h.server.rooms.rooms().length === 0, 5000);
  }, 60_000);

  it('a call is moved into a room by blind transfer (#8 + room number)', async () => {
    const { h, phone } = await start();
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const inRoom = await carol.call('9201');
    const outgoing = await alice.dial('2002');
    const bobCall = await (await bob.waitForCall()).answer();
    const aliceCall = await outgoing.answered;
    await talking(aliceCall, bobCall, 30, 31);
    await bobCall.sendDtmf('#89201#', { method: 'rfc4733' });
    await waitUntil(() => h.server.rooms.rooms()[0]?.participants.length === 2, 15_000);
    await talking(aliceCall, inRoom, 32, 33);
    await Promise.all([aliceCall.hangup(), inRoom.hangup()]);
  }, 60_000);

  it('SIP.js over WebSocket in a room with two test UAs: each hears the other two', async () => {
    const { h, phone } = await start();
    const a = await (await phone('2001')).call('9201');
    const b = await (await phone('2002')).call('9201');
    const carol = (sipjs = await startSipJsPhone({ server: `ws://127.0.0.1:${h.port('ws')}`, user: '2003', password: 'secret-2003' }));
    expect(await carol.register(), carol.logs.join('\n')).toEqual({ registered: true });
    const c = await carol.call('9201', 15_000);
    a.rtp.useSine(400);
    b.rtp.useSine(700);
    c.rtp.useSine(1100);
    for (const x of [a, b, c]) x.rtp.startTone();
    await hears(c, [400, 700], [1100]);
    await hears(a, [700, 1100], [400]);
    for (const x of [a, b, c]) x.rtp.stopTone();
    await c.hangup();
    await Promise.all([a.hangup(), b.hangup()]);
  }, 60_000);
});
