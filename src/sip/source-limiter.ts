// Per-source request-rate limit with a block, after Kamailio's pike module: requests are counted per
// source address over a window; a source that sends more than maxRequests in one window is blocked
// for blockSeconds, and everything it sends is dropped before parsing — no reply, so a spoofed
// source cannot turn us into a reflector. A source that keeps flooding while blocked stays blocked
// (each window over the limit starts the block again), so the block and its release are logged once
// per episode, not once per blockSeconds. Trusted sources (trunks, configured addresses) are never
// blocked. IPv6 sources are counted per /64, the block a single host can draw addresses from.
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../util/clock.js';

export interface RateLimitSettings {
  /** Length of one counting window (s). */
  windowSeconds: number;
  /** Requests one source may send in a window; more blocks it. 0 turns the limit off. */
  maxRequests: number;
  /** How long a source stays blocked after its last window over the limit (s). */
  blockSeconds: number;
}

export type Verdict = 'pass' | 'drop';

interface SourceState {
  /** The source as first seen (for logs); the map key may be its /64. */
  address: string;
  windowStart: number;
  count: number;
  /** 0 when not blocked. */
  blockedUntil: number;
  /** Over the limit in this window but trusted: not counted again until the window ends. */
  exempt: boolean;
  dropped: number;
}

/** Sources tracked at most, so a flood from spoofed addresses cannot grow the table without bound. */
const MAX_TRACKED = 100_000;

export interface SourceLimiterOptions {
  settings: RateLimitSettings;
  clock: Clock;
  logger: Logger;
  /** Sources never blocked. */
  trusted?: (address: string) => boolean;
}

export class SourceRateLimiter {
  private settings: RateLimitSettings;
  private readonly sources = new Map<string, SourceState>();
  private sweepTimer: TimerHandle | undefined;

  constructor(private readonly opts: SourceLimiterOptions) {
    this.settings = opts.settings;
  }

  /** Sources currently blocked. */
  get blockedCount(): number {
    const now = this.opts.clock.now();
    let n = 0;
    for (const s of this.sources.values()) if (s.blockedUntil > now) n++;
    return n;
  }

  /**
   * One message from `address`: 'drop' when the source is blocked. Only requests are counted (a
   * response answers something we sent), but a blocked source loses everything.
   */
  check(address: string, isRequest: boolean): Verdict {
    if (this.settings.maxRequests <= 0) return 'pass';
    const now = this.opts.clock.now();
    const key = sourceKey(address);
    let s = this.sources.get(key);
    if (!s) {
      if (!isRequest) return 'pass';
      s = { address, windowStart: now, count: 0, blockedUntil: 0, exempt: false, dropped: 0 };
      this.track(key, s);
    }
    if (now - s.windowStart >= this.settings.windowSeconds * 1000) {
      s.windowStart = now;
      s.count = 0;
      s.exempt = false;
    }
    if (isRequest && !s.exempt) s.count++;
    if (s.blockedUntil > 0) {
      if (now < s.blockedUntil) {
        s.dropped++;
        // Still flooding: the block runs from now again.
        if (s.count > this.settings.maxRequests) s.blockedUntil = now + this.settings.blockSeconds * 1000;
        return 'drop';
      }
      this.release(s);
    }
    if (s.exempt || s.count <= this.settings.maxRequests) return 'pass';
    if (this.opts.trusted?.(address)) {
      s.exempt = true;
      return 'pass';
    }
    this.block(key, s, now);
    return 'drop';
  }

  /** Whether a new connection from `address` is to be refused. */
  isBlocked(address: string): boolean {
    const s = this.sources.get(sourceKey(address));
    return s !== undefined && s.blockedUntil > this.opts.clock.now();
  }

  /** Start forgetting quiet sources and logging the release of blocked ones, once per window. */
  start(): void {
    this.schedule();
  }

  stop(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
  }

  update(settings: RateLimitSettings): void {
    this.settings = settings;
    // A source that became trusted (a trunk or an address added) is let go at once.
    for (const s of this.sources.values()) if (s.blockedUntil > 0 && this.opts.trusted?.(s.address)) this.release(s);
  }

  /** Drop quiet sources and release blocks that ran out (so the release is logged even if the source stays silent). */
  sweep(): void {
    const now = this.opts.clock.now();
    const windowMs = this.settings.windowSeconds * 1000;
    for (const [key, s] of this.sources) {
      if (s.blockedUntil > 0 && now >= s.blockedUntil) this.release(s);
      if (s.blockedUntil === 0 && now - s.windowStart >= windowMs) this.sources.delete(key);
    }
  }

  private block(key: string, s: SourceState, now: number): void {
    s.blockedUntil = now + this.settings.blockSeconds * 1000;
    s.dropped = 1;
    // Re-inserted as the newest entry, so the bound on tracked sources evicts quiet ones first.
    this.sources.delete(key);
    this.sources.set(key, s);
    this.opts.logger.warn(
      { event: 'security', kind: 'rate-limited', src: s.address, requests: s.count, windowSeconds: this.settings.windowSeconds, blockSeconds: this.settings.blockSeconds },
      'source blocked: request rate over the limit',
    );
  }

  private release(s: SourceState): void {
    s.blockedUntil = 0;
    this.opts.logger.warn({ event: 'security', kind: 'rate-limit-released', src: s.address, dropped: s.dropped }, 'source released from the rate-limit block');
    s.dropped = 0;
  }

  private track(key: string, s: SourceState): void {
    if (this.sources.size >= MAX_TRACKED) {
      const oldest = this.sources.keys().next().value;
      if (oldest !== undefined) this.sources.delete(oldest);
    }
    this.sources.set(key, s);
  }

  private schedule(): void {
    this.sweepTimer = this.opts.clock.setTimer(this.settings.windowSeconds * 1000, () => {
      this.sweep();
      this.schedule();
    });
  }
}

/** The key a source is counted under: an IPv4 address itself, an IPv6 address its /64. */
export function sourceKey(address: string): string {
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.split('::', 2);
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // A trailing dotted quad (e.g. 64:ff9b::192.0.2.1) fills two groups.
  const width = (groups: string[]) => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - width(left) - width(right))).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => (g.includes('.') ? g : (parseInt(g, 16) || 0).toString(16)))
    .join(':')}::/64`;
}
