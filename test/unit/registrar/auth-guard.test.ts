// AuthGuard on the fake clock with an in-memory database: per-address and everywhere locks, the
// registered-device exemption, expiry and clears as security events, and SQLite as the source of truth.
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthGuard, clearLocks, type AuthGuardLimits } from '../../../src/registrar/auth-guard.js';
import { AuthLockStore } from '../../../src/store/auth-lock-store.js';
import { migrate } from '../../../src/store/migrations.js';
import type { TransportName } from '../../../src/sip/message.js';
import { FakeClock } from '../../support/fake-clock.js';
import { captureLogger } from '../../support/logger.js';

const limits: AuthGuardLimits = { lockoutAttempts: 3, lockoutMinutes: 60, lockoutAddresses: 3, ipFailures: 20, ipWindowSeconds: 60, ipBlockMinutes: 60 };
const MINUTE = 60_000;

const dbs: BetterSqlite3.Database[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});

function setup(opts: { limits?: Partial<AuthGuardLimits>; registered?: Array<[string, string, TransportName]>; db?: BetterSqlite3.Database; clock?: FakeClock } = {}) {
  let db = opts.db;
  if (!db) {
    db = new BetterSqlite3(':memory:');
    migrate(db);
    dbs.push(db);
  }
  const clock = opts.clock ?? new FakeClock(1_700_000_000_000);
  const { logger, lines } = captureLogger('debug');
  const store = new AuthLockStore(db);
  const registered = opts.registered ?? [];
  const guard = new AuthGuard({
    store,
    limits: { ...limits, ...opts.limits },
    logger,
    clock,
    isRegisteredDevice: (u, a, t) => registered.some(([ru, ra, rt]) => ru === u && ra === a && rt === t),
  });
  guard.start();
  const events = (kind: string) => lines.filter((l) => l.event === 'security' && l.kind === kind);
  return { db, clock, store, guard, logger, events };
}

function fail(guard: AuthGuard, user: string, address: string, times = 1) {
  let last = { userLocked: false, ipBlocked: false };
  for (let i = 0; i < times; i++) last = guard.recordFailure(user, address);
  return last;
}

describe('AuthGuard', () => {
  it('locks a username for the address its failures came from, and only there', () => {
    const { guard, store, events } = setup();
    expect(fail(guard, '2001', '10.0.0.9', 2).userLocked).toBe(false);
    expect(fail(guard, '2001', '10.0.0.9').userLocked).toBe(true);
    expect(guard.refuses('2001', '10.0.0.9', 'udp')).toBe(true);
    expect(guard.refuses('2001', '10.0.0.1', 'udp')).toBe(false);
    expect(guard.isUserLocked('2001')).toBe(false);
    expect(store.active(Date.now() - 1e12).map((l) => [l.user, l.address])).toEqual([['2001', '10.0.0.9']]);
    expect(events('user-locked')).toEqual([expect.objectContaining({ user: '2001', src: '10.0.0.9', scope: 'address', minutes: 60 })]);
  });

  it('locks a username everywhere when failures come from lockoutAddresses addresses; 0 never does', () => {
    const { guard, events } = setup();
    fail(guard, '2001', '10.0.0.1');
    fail(guard, '2001', '10.0.0.2');
    expect(guard.isUserLocked('2001')).toBe(false);
    expect(fail(guard, '2001', '10.0.0.3').userLocked).toBe(true);
    expect(guard.isUserLocked('2001')).toBe(true);
    expect(guard.refuses('2001', '192.0.2.1', 'tcp')).toBe(true);
    expect(events('user-locked')).toEqual([expect.objectContaining({ user: '2001', scope: 'everywhere', addresses: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] })]);

    const off = setup({ limits: { lockoutAddresses: 0 } });
    for (let i = 0; i < 10; i++) fail(off.guard, '2001', `10.0.1.${i}`);
    expect(off.guard.isUserLocked('2001')).toBe(false);
  });

  it('never refuses the registered device (same address and transport); the address block still applies to it', () => {
    const { guard, events } = setup({ registered: [['2001', '10.0.0.1', 'udp']], limits: { lockoutAddresses: 2, ipFailures: 7 } });
    fail(guard, '2001', '10.0.0.1', 3);
    fail(guard, '2001', '10.0.0.2');
    expect(guard.isUserLocked('2001', '10.0.0.1')).toBe(true);
    expect(guard.refuses('2001', '10.0.0.1', 'udp')).toBe(false);
    expect(guard.refuses('2001', '10.0.0.1', 'tcp')).toBe(true);
    expect(guard.refuses('2001', '10.0.0.3', 'udp')).toBe(true);
    // Another username registered nowhere is not helped by 2001's device.
    fail(guard, '2002', '10.0.0.1', 3);
    expect(guard.refuses('2002', '10.0.0.1', 'udp')).toBe(true);
    expect(events('lock-exempt')).toEqual([expect.objectContaining({ user: '2001', src: '10.0.0.1', transport: 'udp' })]);
    // Blocking is about the address: the seventh failure from it blocks it, device or not.
    expect(guard.isIpBlocked('10.0.0.1')).toBe(false);
    expect(fail(guard, '2001', '10.0.0.1').ipBlocked).toBe(true);
    expect(guard.isIpBlocked('10.0.0.1')).toBe(true);
  });

  it('a success clears the count for its own address only', () => {
    const { guard } = setup();
    fail(guard, '2001', '10.0.0.9', 2);
    fail(guard, '2001', '10.0.0.1', 2);
    guard.recordSuccess('2001', '10.0.0.1');
    expect(fail(guard, '2001', '10.0.0.1').userLocked).toBe(false);
    expect(fail(guard, '2001', '10.0.0.9').userLocked).toBe(true);
  });

  it('forgets failures lockoutMinutes after the last one', () => {
    const { guard, clock } = setup({ limits: { lockoutAddresses: 2 } });
    fail(guard, '2001', '10.0.0.9', 2);
    clock.advance(61 * MINUTE);
    expect(fail(guard, '2001', '10.0.0.9').userLocked).toBe(false);
    // 10.0.0.9's old failures no longer count towards the addresses either.
    clock.advance(61 * MINUTE);
    expect(fail(guard, '2001', '10.0.0.8').userLocked).toBe(false);
    expect(guard.isUserLocked('2001')).toBe(false);
  });

  it('ends a lock when its time is up: row deleted, unlock logged, counting starts afresh', () => {
    const { guard, clock, store, events } = setup();
    fail(guard, '2001', '10.0.0.9', 3);
    clock.advance(60 * MINUTE - 1);
    expect(guard.refuses('2001', '10.0.0.9', 'udp')).toBe(true);
    expect(events('user-unlocked')).toEqual([]);
    clock.advance(1);
    expect(guard.refuses('2001', '10.0.0.9', 'udp')).toBe(false);
    expect(store.active(0)).toEqual([]);
    expect(events('user-unlocked')).toEqual([expect.objectContaining({ user: '2001', src: '10.0.0.9', scope: 'address', reason: 'expired' })]);
    expect(fail(guard, '2001', '10.0.0.9', 2).userLocked).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('blocks an address after ipFailures within the window, persists the block and logs its end', () => {
    const { guard, clock, store, events } = setup({ limits: { ipFailures: 3, lockoutAttempts: 0, lockoutAddresses: 0 } });
    fail(guard, 'a', '10.0.0.7');
    fail(guard, 'b', '10.0.0.7');
    expect(fail(guard, 'c', '10.0.0.7').ipBlocked).toBe(true);
    expect(guard.isIpBlocked('10.0.0.7')).toBe(true);
    expect(store.active(clock.now()).map((l) => [l.kind, l.address])).toEqual([['address', '10.0.0.7']]);
    expect(events('ip-blocked')).toEqual([expect.objectContaining({ src: '10.0.0.7', minutes: 60 })]);
    clock.advance(60 * MINUTE);
    expect(guard.isIpBlocked('10.0.0.7')).toBe(false);
    expect(events('ip-unblocked')).toEqual([expect.objectContaining({ src: '10.0.0.7', reason: 'expired' })]);
  });

  it('takes its locks from the store at start, ending those that expired while it was stopped', () => {
    const first = setup();
    fail(first.guard, '2001', '10.0.0.9', 3);
    first.clock.advance(10 * MINUTE);
    fail(first.guard, '2002', '10.0.0.8', 3);
    first.guard.stop();

    const clock = new FakeClock(first.clock.now() + 55 * MINUTE);
    const second = setup({ db: first.db, clock });
    expect(second.guard.refuses('2001', '10.0.0.9', 'udp')).toBe(false);
    expect(second.guard.refuses('2002', '10.0.0.8', 'udp')).toBe(true);
    expect(second.events('user-unlocked')).toEqual([expect.objectContaining({ user: '2001', reason: 'expired' })]);
    clock.advance(5 * MINUTE);
    expect(second.guard.refuses('2002', '10.0.0.8', 'udp')).toBe(false);
  });

  it('honours a clear made in the store by another process, and logs it', () => {
    const { guard, store, logger, events } = setup();
    fail(guard, '2001', '10.0.0.9', 3);
    // The CLI: another connection in real life; clearLocks on the same store here.
    expect(clearLocks(store, { kind: 'user', user: '2001' }, logger, 'cli').map((l) => l.address)).toEqual(['10.0.0.9']);
    expect(guard.refuses('2001', '10.0.0.9', 'udp')).toBe(false);
    const unlocks = events('user-unlocked');
    expect(unlocks.map((e) => e.by)).toEqual(['cli', 'another process']);
    // The failures behind the lock are forgotten: three more are needed.
    expect(fail(guard, '2001', '10.0.0.9', 2).userLocked).toBe(false);
  });

  it('lists and clears through its own methods (what the HTTP API will call)', () => {
    const { guard, events } = setup({ limits: { lockoutAddresses: 2 } });
    fail(guard, '2001', '10.0.0.1', 3);
    fail(guard, '2001', '10.0.0.2');
    expect(guard.locks().map((l) => [l.user, l.address ?? '*'])).toEqual([
      ['2001', '*'],
      ['2001', '10.0.0.1'],
    ]);
    expect(guard.clear({ kind: 'user', user: '2001', address: null }, 'api').map((l) => l.address)).toEqual([undefined]);
    expect(guard.isUserLocked('2001')).toBe(false);
    expect(guard.isUserLocked('2001', '10.0.0.1')).toBe(true);
    expect(guard.clear({ kind: 'all' }, 'api')).toHaveLength(1);
    expect(guard.locks()).toEqual([]);
    expect(events('user-unlocked').map((e) => [e.scope, e.by])).toEqual([
      ['everywhere', 'api'],
      ['address', 'api'],
    ]);
  });

  it('arms no timer longer than a day for a very long lock', () => {
    const { guard, clock } = setup({ limits: { lockoutMinutes: 525_600 } });
    fail(guard, '2001', '10.0.0.9', 3);
    clock.advance(2 * 86_400_000);
    expect(guard.isUserLocked('2001', '10.0.0.9')).toBe(true);
    expect(clock.pending).toBe(1);
  });
});
