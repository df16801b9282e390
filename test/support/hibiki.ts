// Starts the real hibiki server in this process on loopback with a generated config file.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';
import { formatConfigError } from '../../src/config/errors.js';
import { HibikiServer } from '../../src/server.js';
import { realClock } from '../../src/util/clock.js';
import type { TransportName } from '../../src/sip/message.js';
import { captureLogger } from './logger.js';
import type { Mailboxes } from '../../src/features/voicemail/mailboxes.js';

export interface TestExtension {
  number: string;
  name?: string;
  password: string;
  suspended?: boolean;
  maxContacts?: number;
  callWaiting?: boolean;
  ringTimeout?: number;
  /** Any other extension key of the YAML schema (forwarding, dnd, blockList…). */
  [key: string]: unknown;
}

export interface StartOptions {
  transports?: Array<{ transport: TransportName; host?: string; port?: number; cert?: string; key?: string }>;
  extensions?: TestExtension[];
  /** Extra top-level config sections merged over the defaults (registrar, auth, sip…). */
  config?: Record<string, unknown>;
  /** Reuse a data directory (restart tests). */
  dataDir?: string;
  /** Wall-clock time seen by schedules and counters (fake time of day). */
  now?: () => number;
  /** The voicemail boxes as message-waiting and e-mail see them (default: one per extension, no e-mail). */
  mailboxes?: Mailboxes;
}

/**
 * What hibiki logs when a catch-all caught an exception that should never have reached it: a handler or
 * listener that threw, a media worker that died. The process survives, so only the log shows the bug;
 * stop() fails the test on any of them (issue #14: nothing of the kind may pass unnoticed).
 */
export const CAUGHT_BUG_MESSAGES: ReadonlySet<string> = new Set([
  'INVITE handling failed',
  'error while handling a message',
  'request handler failed',
  'in-dialog request handler failed',
  'transaction user handler threw',
  'message handler threw',
  'connection-closed handler threw',
  'send callback threw',
  'destroy listener failed',
  'dialog listener failed',
  'refresh listener failed',
  'media event listener threw',
  'media worker crashed',
  'media worker exited unexpectedly',
  'feature-code matcher: event handler threw on digit timeout',
  'transfer target collector: event handler threw on digit timeout',
]);

function caughtBugs(logs: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return logs.filter((l) => typeof l.msg === 'string' && CAUGHT_BUG_MESSAGES.has(l.msg));
}

export interface RunningHibiki {
  server: HibikiServer;
  port(transport: TransportName, family?: 4 | 6): number;
  configPath: string;
  dataDir: string;
  /** Every log line the server wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export const DEFAULT_EXTENSIONS: TestExtension[] = [
  { number: '2001', name: 'Alice', password: 'secret-2001' },
  { number: '2002', name: 'Bob', password: 'secret-2002' },
  { number: '2003', name: 'Carol', password: 'secret-2003' },
];

function rtpRange(): [number, number] {
  const base = 20000 + 2 * Math.floor(Math.random() * 10000);
  return [base, base + 399];
}

export function writeConfig(dir: string, opts: StartOptions, dataDir: string): string {
  const listen = (opts.transports ?? [{ transport: 'udp' }, { transport: 'tcp' }]).map((t) => ({
    transport: t.transport,
    host: t.host ?? '127.0.0.1',
    port: t.port ?? 0,
    ...(t.cert ? { cert: t.cert, key: t.key } : {}),
  }));
  const doc: Record<string, unknown> = {
    tenant: { domain: 'hibiki.test' },
    listen,
    data: { dir: dataDir },
    registrar: { qualifyInterval: 0 },
    // Loopback only, and a port range of its own so test files running in parallel do not collide.
    media: { bindAddress: '127.0.0.1', address: '127.0.0.1', rtpPorts: rtpRange() },
    log: { level: 'debug' },
    reload: { debounceMs: 50 },
    // The test shares the server's event loop (and a busy machine): its own work would read as the
    // server's overload and shed the test's requests. Tests of overload shedding set it themselves.
    security: { overload: { maxLoopUtilization: 0, maxLoopDelayMs: 0, maxQueueDelayMs: 0, maxPendingInvites: 0 } },
    extensions: (opts.extensions ?? DEFAULT_EXTENSIONS).map((e) => ({ name: e.name ?? `User ${e.number}`, ...e })),
    ...opts.config,
  };
  const path = join(dir, 'hibiki.yaml');
  writeFileSync(path, stringify(doc));
  return path;
}

export async function startHibiki(opts: StartOptions = {}): Promise<RunningHibiki> {
  const dir = mkdtempSync(join(tmpdir(), 'hibiki-test-'));
  const dataDir = opts.dataDir ?? join(dir, 'data');
  const configPath = writeConfig(dir, opts, dataDir);
  const loaded = loadConfigFile(configPath);
  if (!loaded.ok) throw new Error(loaded.errors.map(formatConfigError).join('\n'));
  const { logger, lines: logs } = captureLogger(loaded.config.log.level);
  // A controlled time of day moves the wall clock only: timers and intervals stay real.
  const clock = opts.now ? { ...realClock, now: opts.now } : realClock;
  const server = new HibikiServer({ config: loaded.config, configPath, logger, tlsRejectUnauthorized: false, clock, mailboxes: opts.mailboxes });
  await server.start();
  return {
    server,
    configPath,
    dataDir,
    logs,
    port(transport, family = 4) {
      const p = server.stack.listening().find((l) => l.transport === transport && (family === 6) === l.host.includes(':'));
      if (!p) throw new Error(`no ${transport} listener`);
      return p.port;
    },
    async stop(stopOpts = {}) {
      await server.stop();
      if (!stopOpts.keepData && !opts.dataDir) rmSync(dir, { recursive: true, force: true });
      const bugs = caughtBugs(logs);
      if (bugs.length > 0) throw new Error(`hibiki caught ${bugs.length} internal error(s):\n${bugs.map((b) => JSON.stringify(b)).join('\n')}`);
    },
  };
}
