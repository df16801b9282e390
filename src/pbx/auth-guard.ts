// F-AUTH brute-force protection: per-username lockout after consecutive failures and
// per-source-IP blocking after a burst of failures. Every refusal is a security event.
import type { Logger } from 'pino';

export interface AuthGuardLimits {
  lockoutAttempts: number;
  lockoutMinutes: number;
  ipFailures: number;
  ipWindowSeconds: number;
  ipBlockMinutes: number;
}

export interface LockEntry {
  kind: 'user' | 'ip';
  key: string;
  until: number;
  reason: string;
}

interface UserState {
  failures: number;
  lockedUntil: number;
}

interface IpState {
  /** Failure times inside the sliding window, oldest first. */
  failures: number[];
  blockedUntil: number;
}

export type FailureOutcome = { userLocked: boolean; ipBlocked: boolean };

/** Bound on tracked keys so a scan of random usernames cannot grow memory without limit. */
const MAX_TRACKED = 100_000;

export class AuthGuard {
  private users = new Map<string, UserState>();
  private ips = new Map<string, IpState>();

  constructor(
    private limits: AuthGuardLimits,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  updateLimits(limits: AuthGuardLimits): void {
    this.limits = limits;
  }

  isUserLocked(user: string): boolean {
    const s = this.users.get(user);
    if (!s || s.lockedUntil === 0) return false;
    if (s.lockedUntil > this.now()) return true;
    this.users.delete(user);
    return false;
  }

  isIpBlocked(ip: string): boolean {
    const s = this.ips.get(ip);
    if (!s || s.blockedUntil === 0) return false;
    if (s.blockedUntil > this.now()) return true;
    this.ips.delete(ip);
    return false;
  }

  /** Record a failed authentication (wrong password or unknown user). */
  recordFailure(user: string | undefined, ip: string): FailureOutcome {
    const now = this.now();
    let userLocked = false;
    if (user !== undefined) {
      const s = this.users.get(user) ?? { failures: 0, lockedUntil: 0 };
      s.failures++;
      // lockoutAttempts 0 turns username lockout off (config schema).
      if (this.limits.lockoutAttempts > 0 && s.failures >= this.limits.lockoutAttempts) {
        s.lockedUntil = now + this.limits.lockoutMinutes * 60_000;
        userLocked = true;
        this.logger.warn({ event: 'security', kind: 'user-locked', user, src: ip, minutes: this.limits.lockoutMinutes }, 'username locked after failed attempts');
      }
      this.track(this.users, user, s);
    }
    const ipState = this.ips.get(ip) ?? { failures: [], blockedUntil: 0 };
    const windowStart = now - this.limits.ipWindowSeconds * 1000;
    while (ipState.failures.length > 0 && (ipState.failures[0] as number) < windowStart) ipState.failures.shift();
    ipState.failures.push(now);
    let ipBlocked = false;
    // ipFailures 0 turns IP blocking off (config schema).
    if (this.limits.ipFailures > 0 && ipState.failures.length >= this.limits.ipFailures) {
      ipState.blockedUntil = now + this.limits.ipBlockMinutes * 60_000;
      ipState.failures = [];
      ipBlocked = true;
      this.logger.warn({ event: 'security', kind: 'ip-blocked', src: ip, minutes: this.limits.ipBlockMinutes }, 'source address blocked after failed attempts');
    }
    this.track(this.ips, ip, ipState);
    return { userLocked, ipBlocked };
  }

  /** A successful authentication clears the consecutive-failure count of that username. */
  recordSuccess(user: string): void {
    const s = this.users.get(user);
    if (s && s.lockedUntil === 0) this.users.delete(user);
  }

  locks(): LockEntry[] {
    const now = this.now();
    const out: LockEntry[] = [];
    for (const [key, s] of this.users) if (s.lockedUntil > now) out.push({ kind: 'user', key, until: s.lockedUntil, reason: 'failed attempts' });
    for (const [key, s] of this.ips) if (s.blockedUntil > now) out.push({ kind: 'ip', key, until: s.blockedUntil, reason: 'failed attempts' });
    return out;
  }

  clear(kind: 'user' | 'ip', key: string): boolean {
    return kind === 'user' ? this.users.delete(key) : this.ips.delete(key);
  }

  private track<T>(map: Map<string, T>, key: string, value: T): void {
    if (!map.has(key) && map.size >= MAX_TRACKED) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    map.set(key, value);
  }
}
