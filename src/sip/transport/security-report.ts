// Rate-limited security log lines for connections refused or cut by the transport. A flood of
// refusals must not become a flood of warnings: the first event of a kind is logged at once, the
// rest are counted and summarised once per interval (per connection, only debug lines).

import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { TransportName } from './types.js';

export type ConnectionSecurityKind = 'connection-refused' | 'message-timeout' | 'handshake-timeout';

/** Sources listed by name in one summary line; the rest are only counted. */
const MAX_LISTED_SOURCES = 20;
/** Distinct sources remembered per kind and interval (bounds memory under a spoofed-source flood). */
const MAX_TRACKED_SOURCES = 1000;

const MESSAGES: Record<ConnectionSecurityKind, string> = {
  'connection-refused': 'connection refused: connection limit',
  'message-timeout': 'connection closed: message not completed in time',
  'handshake-timeout': 'connection closed: TLS handshake or WebSocket upgrade not completed in time',
};

interface Tally {
  count: number;
  bySource: Map<string, number>;
  otherSources: number;
}

export class SecurityReporter {
  private readonly tallies = new Map<ConnectionSecurityKind, Tally>();
  private timer: TimerHandle | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly intervalMs: number,
  ) {}

  report(kind: ConnectionSecurityKind, src: string, transport: TransportName, detail: Record<string, unknown> = {}): void {
    if (!this.timer) {
      // Quiet until now: say so at once, and count what follows for one interval.
      this.logger.warn({ event: 'security', kind, src, transport, ...detail }, MESSAGES[kind]);
      this.timer = this.clock.setTimer(this.intervalMs, () => this.flush());
      return;
    }
    let tally = this.tallies.get(kind);
    if (!tally) {
      tally = { count: 0, bySource: new Map(), otherSources: 0 };
      this.tallies.set(kind, tally);
    }
    tally.count += 1;
    const seen = tally.bySource.get(src);
    if (seen !== undefined) tally.bySource.set(src, seen + 1);
    else if (tally.bySource.size < MAX_TRACKED_SOURCES) tally.bySource.set(src, 1);
    else tally.otherSources += 1;
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.tallies.clear();
  }

  private flush(): void {
    this.timer = undefined;
    if (this.tallies.size === 0) return;
    for (const [kind, tally] of this.tallies) {
      const ranked = [...tally.bySource].sort((a, b) => b[1] - a[1]);
      const listed = ranked.slice(0, MAX_LISTED_SOURCES);
      const unlisted = ranked.slice(MAX_LISTED_SOURCES).reduce((n, [, c]) => n + c, tally.otherSources);
      this.logger.warn(
        {
          event: 'security',
          kind,
          count: tally.count,
          sources: Object.fromEntries(listed),
          ...(unlisted > 0 ? { otherSources: unlisted } : {}),
          intervalSeconds: Math.round(this.intervalMs / 1000),
        },
        `${MESSAGES[kind]} (summary)`,
      );
    }
    this.tallies.clear();
    // Keep summarising while events keep coming; a quiet interval ends it.
    this.timer = this.clock.setTimer(this.intervalMs, () => this.flush());
  }
}
