// F-AUTH brute-force protection without handing attackers a lockout button (issue #14):
//  - failed attempts are counted per username AND source address; lockoutAttempts of them lock the
//    username for that address only;
//  - failures for one username from lockoutAddresses different addresses lock it for every address;
//  - a source address with ipFailures failures within ipWindowSeconds is blocked for every username;
//  - a username lock never refuses a request from that username's registered device: a source address
//    and transport of one of its live registrations (see refuses()).
// Locks live in SQLite (AuthLockStore), the source of truth shared with the CLI; this process keeps a
// cache of them so that the common case — nothing locked — costs no query. Every lock and unlock is a
// security event.
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { TransportName } from '../sip/message.js';
import type { AuthLock, AuthLockStore, LockKind, LockSelector } from '../store/auth-lock-store.js';

export interface AuthGuardLimits {
  lockoutAttempts: number;
  lockoutMinutes: number;
  lockoutAddresses: number;
  ipFailures: number;
  ipWindowSeconds: number;
  ipBlockMinutes: number;
}

export interface AuthGuardDeps {
  store: AuthLockStore;
  limits: AuthGuardLimits;
  logger: Logger;
  clock: Clock;
  /** True when `user` has a live registration made from this source address over this transport. */
  isRegisteredDevice: (user: string, address: string, transport: TransportName) => boolean;
}

export type FailureOutcome = { userLocked: boolean; ipBlocked: boolean };

interface FailureRecord {
  /** Failures since the last success or lock from this address. */
  failures: number;
  /** Time of the latest failure; the record is forgotten lockoutMinutes after it. */
  last: number;
}

/** Bound on tracked failure records so a scan of random usernames and addresses cannot grow memory without limit. */
const MAX_TRACKED = 100_000;
/** Timers are re-armed at least this often: setTimeout cannot wait longer than 2^31-1 ms. */
const MAX_TIMER_MS = 86_400_000;

function cacheKey(kind: LockKind, user: string | undefined, address: string | undefined): string {
  // Neither kind nor an address contains '|', and the username comes last: no two locks share a key.
  return `${kind}|${address ?? ''}|${user ?? ''}`;
}

function lockFields(lock: AuthLock): Record<string, unknown> {
  return lock.kind === 'address' ? { kind: 'ip', src: lock.address } : { user: lock.user, src: lock.address, scope: lock.address === undefined ? 'everywhere' : 'address' };
}

/** Logs the end of a lock as a security event. */
export function logUnlock(logger: Logger, lock: AuthLock, reason: 'expired' | 'cleared', by?: string): void {
  const kind = lock.kind === 'address' ? 'ip-unblocked' : 'user-unlocked';
  logger.warn(
    { event: 'security', ...lockFields(lock), kind, reason, by, lockedAt: new Date(lock.lockedAt).toISOString() },
    lock.kind === 'address' ? 'source address unblocked' : 'username unlocked',
  );
}

/** Admin clear (CLI today, HTTP API later): deletes the selected locks and logs each as a security event. */
export function clearLocks(store: AuthLockStore, selector: LockSelector, logger: Logger, by: string): AuthLock[] {
  const removed = store.remove(selector);
  for (const lock of removed) logUnlock(logger, lock, 'cleared', by);
  return removed;
}

export class AuthGuard {
  private limits: AuthGuardLimits;
  /** Locks this process knows of, by cacheKey; each is confirmed against the store before it refuses. */
  private readonly cache = new Map<string, AuthLock>();
  /** Failure records per username, then per source address; usernames in least-recently-failed order. */
  private readonly failures = new Map<string, Map<string, FailureRecord>>();
  private trackedFailures = 0;
  /** Failure times per source address inside the sliding window, oldest first. */
  private readonly ipFailures = new Map<string, number[]>();
  private expiryTimer: TimerHandle | undefined;
  private readonly lockListeners = new Set<(lock: AuthLock) => void>();

  constructor(private readonly deps: AuthGuardDeps) {
    this.limits = deps.limits;
  }

  /** Loads the locks in force from the store (they survive restarts) and ends those that expired meanwhile. */
  start(): void {
    this.expire();
    for (const lock of this.deps.store.active(this.deps.clock.now())) this.cache.set(cacheKey(lock.kind, lock.user, lock.address), lock);
    this.armExpiry();
  }

  stop(): void {
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
  }

  updateLimits(limits: AuthGuardLimits): void {
    this.limits = limits;
  }

  isIpBlocked(address: string): boolean {
    return this.inForce('address', undefined, address);
  }

  /**
   * True when a lock refuses `user` from `address` (one for that address or one for every address),
   * whatever the device; without an address, when the username is locked for every address.
   */
  isUserLocked(user: string, address?: string): boolean {
    if (this.cache.size === 0) return false;
    return (address !== undefined && this.inForce('user', user, address)) || this.inForce('user', user, undefined);
  }

  /**
   * Whether a request for `user` from this source is refused by a username lock. Never for the user's
   * registered device: a live registration of `user` whose source address and transport are the request's
   * (the port is not compared, as NAT bindings and TCP connections change it). The device authenticated
   * from there, so a lock earned by someone else's guesses must not cut it off.
   */
  refuses(user: string, address: string, transport: TransportName | undefined): boolean {
    if (!this.isUserLocked(user, address)) return false;
    if (transport !== undefined && this.deps.isRegisteredDevice(user, address, transport)) {
      this.deps.logger.info({ event: 'security', kind: 'lock-exempt', user, src: address, transport }, 'locked username accepted from its registered device');
      return false;
    }
    return true;
  }

  /** Records a failed authentication (wrong password, unknown user, credential for another request). */
  recordFailure(user: string | undefined, address: string): FailureOutcome {
    const now = this.deps.clock.now();
    const userLocked = user !== undefined && this.countUserFailure(user, address, now);
    return { userLocked, ipBlocked: this.countAddressFailure(address, now) };
  }

  /** A successful authentication clears that username's failure count for that address (only). */
  recordSuccess(user: string, address: string): void {
    const byAddress = this.failures.get(user);
    if (!byAddress?.delete(address)) return;
    this.trackedFailures--;
    if (byAddress.size === 0) this.failures.delete(user);
  }

  /** Locks in force, for admins (CLI, HTTP API). */
  locks(): AuthLock[] {
    return this.deps.store.active(this.deps.clock.now());
  }

  /** Admin clear from this process: deletes and logs the locks and forgets the failures that led to them. */
  clear(selector: LockSelector, by: string): AuthLock[] {
    const removed = clearLocks(this.deps.store, selector, this.deps.logger, by);
    for (const lock of removed) this.forget(lock);
    return removed;
  }

  // ---- counting -------------------------------------------------------------------------------

  /** True when this failure locked the username (for this address, or everywhere). */
  private countUserFailure(user: string, address: string, now: number): boolean {
    const { lockoutAttempts, lockoutAddresses, lockoutMinutes } = this.limits;
    if (lockoutAttempts === 0 && lockoutAddresses === 0) return false;
    const windowMs = lockoutMinutes * 60_000;
    let byAddress = this.failures.get(user);
    if (byAddress) {
      this.failures.delete(user); // re-inserted below: most recently failed last
      for (const [a, r] of byAddress) {
        if (now - r.last <= windowMs) continue;
        byAddress.delete(a);
        this.trackedFailures--;
      }
    } else {
      byAddress = new Map();
    }
    this.failures.set(user, byAddress);
    let record = byAddress.get(address);
    if (!record) {
      record = { failures: 0, last: now };
      byAddress.set(address, record);
      this.trackedFailures++;
      this.boundFailures();
    }
    record.failures++;
    record.last = now;

    let locked = false;
    if (lockoutAttempts > 0 && record.failures >= lockoutAttempts) {
      // The count starts again; the record stays, as this address still counts towards lockoutAddresses.
      record.failures = 0;
      if (!this.inForce('user', user, address)) {
        this.lock({ kind: 'user', user, address, lockedAt: now, until: now + lockoutMinutes * 60_000, reason: `${lockoutAttempts} failed attempts from this address` }, { minutes: lockoutMinutes });
        locked = true;
      }
    }
    if (lockoutAddresses > 0 && byAddress.size >= lockoutAddresses && !this.inForce('user', user, undefined)) {
      const addresses = [...byAddress.keys()];
      this.lock(
        { kind: 'user', user, address: undefined, lockedAt: now, until: now + lockoutMinutes * 60_000, reason: `failed attempts from ${addresses.length} addresses` },
        { minutes: lockoutMinutes, addresses },
      );
      locked = true;
    }
    return locked;
  }

  /** True when this failure blocked the address. */
  private countAddressFailure(address: string, now: number): boolean {
    const { ipFailures, ipWindowSeconds, ipBlockMinutes } = this.limits;
    // ipFailures 0 turns IP blocking off (config schema).
    if (ipFailures === 0) return false;
    const times = this.ipFailures.get(address) ?? [];
    const windowStart = now - ipWindowSeconds * 1000;
    while (times.length > 0 && (times[0] as number) < windowStart) times.shift();
    times.push(now);
    this.ipFailures.delete(address);
    if (times.length < ipFailures) {
      this.ipFailures.set(address, times);
      if (this.ipFailures.size > MAX_TRACKED) this.ipFailures.delete(this.ipFailures.keys().next().value as string);
      return false;
    }
    this.lock(
      { kind: 'address', user: undefined, address, lockedAt: now, until: now + ipBlockMinutes * 60_000, reason: `${times.length} failed attempts within ${ipWindowSeconds} s` },
      { minutes: ipBlockMinutes },
    );
    return true;
  }

  private boundFailures(): void {
    while (this.trackedFailures > MAX_TRACKED) {
      const oldest = this.failures.entries().next().value;
      if (!oldest) return;
      this.failures.delete(oldest[0]);
      this.trackedFailures -= oldest[1].size;
    }
  }

  // ---- locks ----------------------------------------------------------------------------------

  /** Be told of every new lock (the event stream); returns the unsubscribe. */
  onLock(fn: (lock: AuthLock) => void): () => void {
    this.lockListeners.add(fn);
    return () => this.lockListeners.delete(fn);
  }

  private lock(lock: AuthLock, details: Record<string, unknown>): void {
    this.deps.store.put(lock);
    for (const fn of this.lockListeners) fn(lock);
    this.cache.set(cacheKey(lock.kind, lock.user, lock.address), lock);
    this.deps.logger.warn(
      { event: 'security', ...lockFields(lock), kind: lock.kind === 'address' ? 'ip-blocked' : 'user-locked', reason: lock.reason, until: new Date(lock.until).toISOString(), ...details },
      lock.kind === 'address' ? 'source address blocked after failed attempts' : 'username locked after failed attempts',
    );
    this.armExpiry();
  }

  /**
   * Whether this lock is in force. Only a lock this process knows of is looked up in the store, which has
   * the last word: a lock an admin cleared from another process is forgotten here too.
   */
  private inForce(kind: LockKind, user: string | undefined, address: string | undefined): boolean {
    if (this.cache.size === 0) return false;
    const key = cacheKey(kind, user, address);
    const cached = this.cache.get(key);
    const now = this.deps.clock.now();
    if (cached === undefined || cached.until <= now) return false;
    let row: AuthLock | undefined;
    try {
      row = this.deps.store.get(kind, user, address);
    } catch (err) {
      // Fail closed: the lock stands while the store cannot be read.
      this.deps.logger.error({ err }, 'lock store unreadable; the cached lock stands');
      return true;
    }
    if (row && row.until > now) {
      this.cache.set(key, row);
      return true;
    }
    this.forget(cached);
    // An expired row is logged when expire() removes it; a missing one was cleared by an admin elsewhere.
    if (!row) logUnlock(this.deps.logger, cached, 'cleared', 'another process');
    return false;
  }

  /** Forgets a lock that ended and the failures that led to it, so the count starts afresh. */
  private forget(lock: AuthLock): void {
    this.cache.delete(cacheKey(lock.kind, lock.user, lock.address));
    if (lock.kind === 'address') {
      if (lock.address !== undefined) this.ipFailures.delete(lock.address);
      return;
    }
    if (lock.user === undefined) return;
    if (lock.address === undefined) {
      const byAddress = this.failures.get(lock.user);
      if (byAddress) this.trackedFailures -= byAddress.size;
      this.failures.delete(lock.user);
    } else {
      this.recordSuccess(lock.user, lock.address);
    }
  }

  /** Ends the locks whose time is up: deleted from the store, each logged once. */
  private expire(): void {
    const now = this.deps.clock.now();
    try {
      for (const lock of this.deps.store.removeExpired(now)) {
        this.forget(lock);
        logUnlock(this.deps.logger, lock, 'expired');
      }
    } catch (err) {
      this.deps.logger.error({ err }, 'expired locks not removed');
    }
    for (const [key, lock] of this.cache) if (lock.until <= now) this.cache.delete(key);
  }

  /** One timer, for the earliest lock to end. */
  private armExpiry(): void {
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
    let next = Infinity;
    for (const lock of this.cache.values()) if (lock.until < next) next = lock.until;
    if (next === Infinity) return;
    const delay = Math.min(Math.max(0, next - this.deps.clock.now()), MAX_TIMER_MS);
    this.expiryTimer = this.deps.clock.setTimer(delay, () => {
      this.expiryTimer = undefined;
      this.expire();
      this.armExpiry();
    });
  }
}
