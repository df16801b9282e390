// The call journal and crash recovery without a whole server: what is kept of an answered call (its
// CDR facts and the dialogs of the legs that are up), the heartbeat on a fake clock, and recovery from
// a journal left by a dead process — BYEs on the wire with cause 41, CDR rows with the real times and
// the last sign of life as end, rows gone afterwards, unreadable rows discarded.
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Call } from '../../../src/pbx/call.js';
import { Leg } from '../../../src/pbx/leg.js';
import { CallJournal, decodeEntry, encodeEntry, entryOf, type JournalEntry } from '../../../src/pbx/call-journal.js';
import { prepareRecovery } from '../../../src/pbx/crash-recovery.js';
import type { MediaEngine } from '../../../src/media/engine.js';
import { Dialog } from '../../../src/sip/dialog.js';
import { SipRequest } from '../../../src/sip/message.js';
import { parseMessage } from '../../../src/sip/parser.js';
import { SipStack } from '../../../src/sip/stack.js';
import type { DialogSnapshot } from '../../../src/sip/dialog-snapshot.js';
import { ActiveCallStore } from '../../../src/store/active-call-store.js';
import { CdrStore } from '../../../src/store/cdr-store.js';
import { openDatabase, type Database } from '../../../src/store/db.js';
import { FakeClock } from '../../support/fake-clock.js';
import { captureLogger } from '../../support/logger.js';
import { responseTo } from '../../support/raw-ua.js';

const logger = pino({ level: 'silent' });
const media = { destroy: () => undefined } as Pick<MediaEngine, 'destroy'> as MediaEngine;
const T0 = Date.UTC(2024, 4, 1, 9, 0, 0, 0);

let dir: string;
let db: Database;
let store: ActiveCallStore;
const cleanups: Array<() => Promise<void> | void> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hibiki-recovery-'));
  db = openDatabase(dir);
  store = new ActiveCallStore(db);
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function snapshot(over: Partial<DialogSnapshot> = {}): DialogSnapshot {
  return {
    role: 'uas',
    callId: 'call-1@192.0.2.1',
    localTag: 'h1',
    remoteTag: 'p1',
    localAddress: '<sip:2002@hibiki.test>;tag=h1',
    remoteAddress: '"Alice" <sip:2001@hibiki.test>;tag=p1',
    remoteTarget: 'sip:2001@127.0.0.1:5999',
    routeSet: [],
    localSeq: 4321,
    flow: { transport: 'udp', address: '127.0.0.1', port: 5999 },
    ...over,
  };
}

describe('the call journal', () => {
  it('keeps an answered call’s CDR facts and the dialogs of its legs that are up, and reads them back', () => {
    const stack = new SipStack({ listen: [], logger });
    const call = new Call('call-1@192.0.2.1', 'internal', { number: '2001', name: 'Alice' }, '2002', { number: '2002', name: 'Bob' }, media, new FakeClock(T0), logger);
    const caller = call.addLeg(new Leg('caller', call.caller, '2001'));
    const callee = call.addLeg(new Leg('callee', call.callee, '2002'));
    const gone = call.addLeg(new Leg('callee', { number: '2003' }, '2003'));
    caller.markAnswered(new Dialog(stack, { ...snapshot(), remoteSeq: 1 }));
    callee.markAnswered(
      new Dialog(stack, {
        ...snapshot({ role: 'uac', callId: 'b-leg@hibiki', localTag: 'h2', remoteTag: 'p2', localSeq: 1, flow: { transport: 'tcp', address: '127.0.0.1', port: 40123 } }),
        remoteSeq: 0,
      }),
    );
    gone.markAnswered(new Dialog(stack, { ...snapshot({ callId: 'transferor@x' }), remoteSeq: 0 }));
    gone.markEnded();
    call.markAnswered('2002');
    call.feature = 'transfer_blind';
    call.transferredBy = '2003';
    call.hops.push({ callee: { number: '2004' }, forwardedFrom: undefined, feature: undefined, startedAt: call.startedAt, endedAt: call.startedAt + 5, q850: 19, sipStatus: 480, reason: 'no answer' });

    const entry = entryOf(call);
    expect(entry.legs.map((l) => [l.role, l.number, l.dialog.callId])).toEqual([
      ['caller', '2001', 'call-1@192.0.2.1'],
      ['callee', '2002', 'b-leg@hibiki'],
    ]);
    expect(entry.legs[1]?.dialog.flow).toEqual({ transport: 'tcp', address: '127.0.0.1', port: 40123 });
    const decoded = decodeEntry(encodeEntry(entry));
    expect(decoded).toEqual({ ok: true, entry: JSON.parse(JSON.stringify(entry)) as JournalEntry });

    const journal = new CallJournal({ store, clock: new FakeClock(T0), logger });
    journal.record(call);
    expect(store.all()).toHaveLength(1);
    expect(store.all()[0]).toMatchObject({ key: call.id, callId: call.callId, updatedAt: T0 });
    journal.forget(call);
    expect(store.all()).toHaveLength(0);
    // A re-bridge hook that fires after the end must not bring the row back.
    call.end({ disposition: 'answered', hangupBy: 'caller', q850: 16, reason: 'BYE' });
    journal.record(call);
    expect(store.all()).toHaveLength(0);
  });

  it('refuses entries it cannot trust: not JSON, another format version, a missing or mistyped field', () => {
    const good = JSON.parse(
      encodeEntry({
        callId: 'c',
        linkedId: 'l',
        call: { startedAt: 1, direction: 'internal', caller: { number: '2001' }, dialled: '2002', callee: { number: '2002' }, hops: [] },
        legs: [{ role: 'caller', number: '2001', dialog: snapshot() }],
      }),
    ) as Record<string, unknown>;
    expect(decodeEntry(JSON.stringify(good)).ok).toBe(true);
    expect(decodeEntry('{not json')).toMatchObject({ ok: false, error: expect.stringMatching(/^not JSON/) });
    expect(decodeEntry(JSON.stringify({ ...good, v: 2 })).ok).toBe(false);
    expect(decodeEntry(JSON.stringify({ ...good, legs: [{ role: 'caller', number: '2001', dialog: snapshot({ localSeq: -1 }) }] }))).toMatchObject({
      ok: false,
      error: expect.stringContaining('legs.0.dialog.localSeq'),
    });
    const { callId: _dropped, ...noCallId } = good;
    expect(decodeEntry(JSON.stringify(noCallId)).ok).toBe(false);
  });

  it('does not touch the database for a call that was never answered', () => {
    let removes = 0;
    const counting = Object.assign(Object.create(store) as ActiveCallStore, { remove: () => void removes++ });
    const journal = new CallJournal({ store: counting, clock: new FakeClock(T0), logger });
    journal.forget(new Call('never@x', 'internal', { number: '2001' }, '2002', { number: '2002' }, media, new FakeClock(T0), logger));
    expect(removes).toBe(0);
  });

  it('writes the heartbeat at once and then every interval (read each time), until stopped', () => {
    const clock = new FakeClock(T0);
    const journal = new CallJournal({ store, clock, logger });
    let interval = 10;
    journal.startHeartbeat(() => interval);
    expect(store.lastBeat()).toBe(T0);
    clock.advance(9_999);
    expect(store.lastBeat()).toBe(T0);
    clock.advance(1);
    expect(store.lastBeat()).toBe(T0 + 10_000);
    interval = 2;
    clock.advance(10_000);
    expect(store.lastBeat()).toBe(T0 + 20_000);
    clock.advance(2_000);
    expect(store.lastBeat()).toBe(T0 + 22_000);
    journal.stopHeartbeat();
    clock.advance(60_000);
    expect(store.lastBeat()).toBe(T0 + 22_000);
    expect(clock.pending).toBe(0);
  });
});

/** A phone that answers every request 200 and keeps what it got. */
async function phone(): Promise<{ port: number; requests: SipRequest[]; next: () => Promise<SipRequest> }> {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => void socket.close());
  const requests: SipRequest[] = [];
  const waiting: Array<(r: SipRequest) => void> = [];
  socket.on('message', (data, rinfo) => {
    const parsed = parseMessage(data);
    if (!parsed.ok || !(parsed.message instanceof SipRequest)) return;
    requests.push(parsed.message);
    socket.send(responseTo(parsed.message, 200), rinfo.port, rinfo.address);
    waiting.shift()?.(parsed.message);
  });
  return {
    port: socket.address().port,
    requests,
    next: () => (requests.length > 0 ? Promise.resolve(requests[0]!) : new Promise((resolve) => waiting.push(resolve))),
  };
}

describe('crash recovery', () => {
  it('BYEs both legs of every journaled call with cause 41 and writes its CDR rows, ended at the last sign of life', async () => {
    const alice = await phone();
    const bob = await phone();
    const hibiki = new SipStack({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], logger });
    cleanups.push(() => hibiki.stop());
    const entry: JournalEntry = {
      callId: 'call-1@192.0.2.1',
      linkedId: 'lk-1',
      call: {
        startedAt: T0,
        answeredAt: T0 + 4_000,
        direction: 'internal',
        caller: { number: '2001', name: 'Alice' },
        dialled: '2009',
        callee: { number: '2002', name: 'Bob' },
        answeredBy: '2002',
        forwardedFrom: '2009',
        feature: 'forward_cfna',
        hops: [{ callee: { number: '2009' }, forwardedFrom: undefined, feature: undefined, startedAt: T0, endedAt: T0 + 2_000, q850: 19, sipStatus: 480, reason: 'no answer' }],
      },
      legs: [
        { role: 'caller', number: '2001', dialog: snapshot({ remoteTarget: `sip:2001@127.0.0.1:${alice.port}`, flow: { transport: 'udp', address: '127.0.0.1', port: alice.port } }) },
        {
          role: 'callee',
          number: '2002',
          dialog: snapshot({
            role: 'uac',
            callId: 'b-leg@hibiki',
            localTag: 'h2',
            remoteTag: 'p2',
            localSeq: 1,
            remoteTarget: `sip:2002@127.0.0.1:${bob.port}`,
            flow: { transport: 'udp', address: '127.0.0.1', port: bob.port },
          }),
        },
      ],
    };
    store.put({ key: 'lk-1', callId: entry.callId, entry: encodeEntry(entry), updatedAt: T0 + 4_000 });
    store.put({ key: 'broken', callId: 'broken@x', entry: '{"v":1}', updatedAt: T0 + 5_000 });
    store.beat(T0 + 60_000);
    const { logger: log, lines } = captureLogger('debug');

    const prepared = await prepareRecovery({ stack: hibiki, store, cdr: new CdrStore(db), logger: log });
    expect(prepared.calls).toBe(1);
    await hibiki.start();
    const summary = await prepared.run();
    expect(summary).toEqual({ calls: 1, legs: 2, answered: 2, failed: 0, hungUpFirst: 0 });

    for (const [p, callId] of [
      [alice, 'call-1@192.0.2.1'],
      [bob, 'b-leg@hibiki'],
    ] as const) {
      const bye = await p.next();
      expect(bye.method).toBe('BYE');
      expect(bye.callId).toBe(callId);
      expect(bye.get('reason')).toMatch(/^Q\.850;cause=41;text=".+"$/);
    }
    const rows = new CdrStore(db).query({});
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ linkedId: 'lk-1', calleeNumber: '2009', q850Cause: 19, disposition: 'no_answer', hangupBy: 'system' });
    expect(rows[1]).toMatchObject({
      callId: 'call-1@192.0.2.1',
      linkedId: 'lk-1',
      startedAt: new Date(T0).toISOString(),
      answeredAt: new Date(T0 + 4_000).toISOString(),
      // The heartbeat is later than the journal write: the old process was alive until then.
      endedAt: new Date(T0 + 60_000).toISOString(),
      duration: 60,
      billsec: 56,
      disposition: 'failed',
      hangupBy: 'system',
      q850Cause: 41,
      callerNumber: '2001',
      calleeNumber: '2002',
      answeredBy: '2002',
      forwardedFrom: '2009',
      feature: 'forward_cfna',
    });
    expect(store.all()).toEqual([]);
    expect(lines.find((l) => l.msg?.toString().includes('unreadable journal entry'))).toMatchObject({ callId: 'broken@x' });
    expect(hibiki.dialogs.size).toBe(0);
  });

  it('without a heartbeat, ends the calls at their last journal write; with an empty journal, does nothing', async () => {
    const alice = await phone();
    const hibiki = new SipStack({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], logger });
    cleanups.push(() => hibiki.stop());
    const entry: JournalEntry = {
      callId: 'c2',
      linkedId: 'lk-2',
      call: { startedAt: T0, answeredAt: T0 + 1_000, direction: 'inbound', caller: { number: '0312345678' }, dialled: '0501234567', callee: { number: '2001' }, trunk: 'carrier', hops: [] },
      legs: [{ role: 'caller', number: '0312345678', dialog: snapshot({ callId: 'c2', flow: { transport: 'udp', address: '127.0.0.1', port: alice.port } }) }],
    };
    store.put({ key: 'lk-2', callId: 'c2', entry: encodeEntry(entry), updatedAt: T0 + 9_000 });
    const prepared = await prepareRecovery({ stack: hibiki, store, cdr: new CdrStore(db), logger });
    await hibiki.start();
    await prepared.run();
    expect(new CdrStore(db).query({})[0]).toMatchObject({ endedAt: new Date(T0 + 9_000).toISOString(), billsec: 8, trunk: 'carrier', direction: 'inbound' });

    const again = await prepareRecovery({ stack: hibiki, store, cdr: new CdrStore(db), logger });
    expect(again.calls).toBe(0);
    expect(await again.run()).toEqual({ calls: 0, legs: 0, answered: 0, failed: 0, hungUpFirst: 0 });
    expect(new CdrStore(db).count()).toBe(1);
  });
});
