#!/usr/bin/env node
// Command line: `hibiki --config FILE` runs the server; `hibiki config check FILE` validates a file;
// the other commands read or change the state in the data directory, which the running server shares.
import { ConferenceCommandError, conferenceCommand, conferenceList } from './features/conference/conference-report.js';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFile, type ConfigLoadResult } from './config/load.js';
import { formatConfigError } from './config/errors.js';
import { pino } from 'pino';
import { createLogger } from './log/logger.js';
import { HibikiServer } from './server.js';
import { openDatabase, type Database } from './store/db.js';
import { RegistrationStore } from './store/registrations.js';
import { CdrStore } from './store/cdr-store.js';
import { ParkStore } from './store/park-store.js';
import { cdrExportRange, exportCdrCsv } from './store/cdr-export.js';
import type { HibikiConfig } from './config/schema.js';
import { removeExtension } from './config/remove-extension.js';
import { extensionsExportCommand, extensionsImportCommand } from './config/extension-csv-cli.js';
import { AuthLockStore, type AuthLock, type LockSelector } from './store/auth-lock-store.js';
import { clearLocks } from './registrar/auth-guard.js';
import { ScreeningStore } from './store/screening-store.js';
import { monthIn, previousMonth } from './features/screening.js';
import { VoicemailStore } from './store/voicemail-store.js';
import { mailboxes } from './features/voicemail/mailbox.js';
import { agentPause, agentResume, agentShow, queueShow, queueStats, QueueCommandError, statsRange } from './features/queue/stats-report.js';
import { encodeCsv, type CdrCsvEncoding } from './store/cdr-export.js';
import { hotDeskList, hotDeskLogout } from './features/hotdesk/cli.js';
import { exportRecording, listRecordings } from './features/recording/recordings-cli.js';
import { adminCreate, adminList, adminUnlock } from './api/admin-cli.js';
import { conditionDestination, forwardConditions, ForwardingService, type BulkResult, type EffectiveForwarding, type ForwardCondition } from './features/forwarding.js';

const USAGE = `usage:
  hibiki --config FILE [--log-level LEVEL]     start the server
  hibiki config check FILE                     validate a configuration file
  hibiki registrations --config FILE           list registered contacts
  hibiki park list --config FILE               list parked calls (slot, party, parked by, since)
  hibiki cdr export --config FILE --from YYYY-MM-DD --to YYYY-MM-DD [--encoding utf8|shift_jis] [--out DIR]
                                               write call-detail records as CSV (40,000 rows per file)
  hibiki forwarding show EXT --config FILE     an extension's forwarding state and what applies now
  hibiki forwarding set EXT cfu|cfb|cfna|cfur on [NUMBER] --config FILE
  hibiki forwarding set EXT cfu|cfb|cfna|cfur off --config FILE
                                               turn a forwarding condition on (new or stored destination) or off
  hibiki dnd EXT on|off --config FILE          do-not-disturb on or off
  hibiki bulk list --config FILE               bulk-forwarding sets and whether they are on
  hibiki bulk on|off NAME --config FILE        switch a bulk-forwarding set; prints each member's result,
                                               exits 1 when any member is in error
  hibiki screening stats --config FILE         rejected incoming calls per extension and DID, this month and last
  hibiki locks list --config FILE              username locks and address blocks in force
                                               (kind, username, address, locked at, until, reason)
  hibiki locks clear user NAME [ADDRESS|*] --config FILE
  hibiki locks clear address ADDRESS --config FILE
  hibiki locks clear all --config FILE         end locks now: a username's (all of them, the one for
                                               ADDRESS, or * the one for every address), an address
                                               block, or every lock; exits 1 when none matched
  hibiki extension remove NUMBER --config FILE [--force]
                                               delete an extension from the YAML; refused while it is a member of a
                                               group, pickup group or bulk set unless --force takes it out of them
  hibiki extensions import FILE [--encoding auto|utf8|shift_jis] --config FILE
                                               add and update extensions from a CSV file (docs/api-extensions.md);
                                               all or nothing: any bad row rejects the file, every error listed
  hibiki extensions export [--encoding utf8|shift_jis] [--include-passwords] [--out FILE] --config FILE
                                               every extension as CSV (to stdout without --out); passwords and
                                               PINs only with --include-passwords
  hibiki voicemail list [BOX] --config FILE    voicemail boxes with their new and saved counts; with BOX its
                                               messages (id, status, received, caller, name, seconds, file)
  hibiki voicemail export BOX ID FILE --config FILE
                                               copy a message's WAV to FILE (play it with any audio player)
  hibiki voicemail delete BOX ID --config FILE delete a message and its file; a running server's lamps follow
                                               at the box's next change
  hibiki queue show [NUMBER] --config FILE     live figures of today per queue: calls, callers waiting, agents by state
  hibiki queue stats --from YYYY-MM-DD[THH:MM] --to YYYY-MM-DD[THH:MM] [--by hour|day] [--agents] [--csv]
                     [--encoding utf8|sjis] --config FILE
                                               figures per hour (default) or day and queue, or with --agents per
                                               agent; tenant time; a --to date without a time includes that day
  hibiki agent show [EXTENSION] --config FILE  agents' holds per queue (paused with reason, wrapup, since, until)
  hibiki agent pause EXTENSION [QUEUE] [--reason TEXT] --config FILE
  hibiki agent resume EXTENSION [QUEUE] --config FILE
  hibiki conference list --config FILE         rooms in progress and their participants
  hibiki conference kick|mute|unmute ROOM PARTICIPANT --config FILE
                                               pause or resume an agent in one queue or every queue it is in
  hibiki hotdesk list --config FILE            hot-desk logins (extension, device, since, expires)
  hibiki hotdesk logout EXT --config FILE      end the hot-desk login of an extension (or of a device);
                                               exits 1 when there is none
  hibiki recordings list [--from YYYY-MM-DD] [--to YYYY-MM-DD] --config FILE
                                               recorded calls (call id, linked id, started, caller, callee, billsec, file)
  hibiki recordings export CALL_ID FILE --config FILE
                                               copy a call's recording (by CDR call id or linked id) to FILE
  hibiki admin create NAME [--role admin|supervisor|agent|user] [--extension NUMBER] [--password-stdin] --config FILE
                                               make a console/API account (the first admin comes from here); without
                                               --password-stdin a password is generated and printed once
  hibiki admin list --config FILE              accounts (name, role, extension, locked)
  hibiki admin unlock NAME --config FILE       clear an account's login lock
  hibiki --help | --version`;

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function out(text: string): void {
  process.stdout.write(text + '\n');
}

function fail(text: string, code = 2): never {
  process.stderr.write(text + '\n');
  process.exit(code);
}

/** Loads `file`; when it has errors, prints each one (file:line: message) to stderr and gives undefined. */
function loadOrReport(file: string): Extract<ConfigLoadResult, { ok: true }> | undefined {
  const result = loadConfigFile(file);
  if (!result.ok) {
    for (const e of result.errors) process.stderr.write(formatConfigError(e) + '\n');
    return undefined;
  }
  return result;
}

/** Opens the server's database (in the config's data directory) for `fn`, and closes it afterwards. */
function withDatabase<T>(config: HibikiConfig, fn: (db: Database) => T): T {
  const db = openDatabase(resolve(config.data.dir));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** A command on the server's database: exit code 1 (errors printed) when `file` does not load, else fn's. */
function withConfigDatabase(file: string, fn: (db: Database, config: HibikiConfig) => number): number {
  const loaded = loadOrReport(file);
  return loaded ? withDatabase(loaded.config, (db) => fn(db, loaded.config)) : 1;
}

function checkConfig(file: string): number {
  const result = loadOrReport(file);
  if (!result) return 1;
  for (const w of result.warnings) process.stderr.write(formatConfigError(w) + ' (warning)\n');
  out(`${file}: OK (${result.config.extensions.length} extensions, ${result.config.listen.length} listen addresses)`);
  return 0;
}

function listRegistrations(file: string): number {
  return withConfigDatabase(file, (db) => {
    const store = new RegistrationStore(db);
    const now = Date.now();
    for (const b of store.all()) {
      out([b.aor, b.contact, b.transport, `${b.sourceAddress}:${b.sourcePort}`, `${Math.round((b.expiresAt - now) / 1000)}s`, b.reachable ? 'reachable' : 'unreachable', b.userAgent ?? ''].join('\t'));
    }
    store.close();
    return 0;
  });
}

function listParked(file: string): number {
  return withConfigDatabase(file, (db) => {
    for (const p of new ParkStore(db).list()) out([p.slot, p.party, p.parkedBy ?? '', new Date(p.since).toISOString()].join('\t'));
    return 0;
  });
}

function exportCdr(file: string, from: string, to: string, encoding: string, outDir: string): number {
  if (encoding !== 'utf8' && encoding !== 'shift_jis') fail(`--encoding must be utf8 or shift_jis, not ${encoding}`);
  const loaded = loadOrReport(file);
  if (!loaded) return 1;
  let range: { from: Date; to: Date };
  try {
    range = cdrExportRange(from, to);
  } catch (err) {
    fail((err as Error).message);
  }
  // The range is checked before the database is opened (and its directory created).
  return withDatabase(loaded.config, (db) => {
    mkdirSync(resolve(outDir), { recursive: true });
    const files = exportCdrCsv(new CdrStore(db), { ...range, dir: resolve(outDir), encoding });
    for (const f of files) out(f);
    if (files.length === 0) out('no call-detail records in that range');
    return 0;
  });
}

/**
 * Opens the server's database with a ForwardingService over the file's config. applyConfig first, so a YAML
 * edit the server has not reloaded yet is seen the same way the server will see it.
 */
function withForwarding(file: string, fn: (fwd: ForwardingService, config: HibikiConfig) => number): number {
  return withConfigDatabase(file, (db, config) => {
    // Changes are logged (stderr, so stdout stays the command's answer) like the server's own.
    const logger = createLogger('info', pino.destination({ dest: 2, sync: true }));
    const fwd = new ForwardingService({ db, config: () => config, now: Date.now, logger });
    fwd.applyConfig(config);
    return fn(fwd, config);
  });
}

function describeEffective(e: EffectiveForwarding): string {
  const parts = forwardConditions.filter((c) => e[c] !== undefined).map((c) => `${c}=${e[c]}`);
  return [`source=${e.source}`, ...(parts.length > 0 ? parts : ['no forwarding']), `dnd=${e.dnd ? 'on' : 'off'}`, `noAnswerTimeout=${e.noAnswerTimeout}`].join(' ');
}

function showForwarding(file: string, ext: string): number {
  return withForwarding(file, (fwd, config) => {
    if (!config.extensions.some((e) => e.number === ext)) {
      process.stderr.write(`unknown extension ${ext}\n`);
      return 1;
    }
    const st = fwd.state(ext);
    out(`extension\t${ext}`);
    out(`dnd\t${st.dnd ? 'on' : 'off'}`);
    out(`noAnswerTimeout\t${st.noAnswerTimeout}`);
    st.destinations.forEach((d, i) => out(`destination ${i + 1}\t${d}`));
    for (const c of forwardConditions) {
      const x = st.conditions[c];
      const dest = x.destination !== null ? (st.destinations[x.destination] ?? '') : '';
      out(`${c}\t${conditionDestination(st, c) !== undefined ? 'on' : 'off'}\t${dest}`);
    }
    out(`effective now\t${describeEffective(fwd.effective(ext))}`);
    return 0;
  });
}

function setForwarding(file: string, ext: string, condition: ForwardCondition, on: boolean, destination: string | undefined): number {
  return withForwarding(file, (fwd) => {
    const r = fwd.setCondition(ext, condition, on, destination, 'cli');
    if (!r.ok) {
      process.stderr.write(`${ext} ${condition}: ${r.reason}\n`);
      return 1;
    }
    out(`${ext}\t${condition}\t${on ? 'on' : 'off'}\t${r.destination ?? ''}`);
    return 0;
  });
}

function setDnd(file: string, ext: string, on: boolean): number {
  return withForwarding(file, (fwd) => {
    try {
      fwd.setDnd(ext, on, 'cli');
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      return 1;
    }
    out(`${ext}\tdnd\t${on ? 'on' : 'off'}`);
    return 0;
  });
}

function bulk(file: string, action: string, name: string | undefined): number {
  return withForwarding(file, (fwd) => {
    if (action === 'list') {
      for (const s of fwd.bulkStatus()) {
        out([s.name, s.active ? 'on' : 'off', `${s.members} members`, s.changedAt !== undefined ? new Date(s.changedAt).toISOString() : ''].join('\t'));
      }
      return 0;
    }
    let results: BulkResult[];
    try {
      results = action === 'on' ? fwd.bulkOn(name!, 'cli') : fwd.bulkOff(name!, 'cli');
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      return 1;
    }
    for (const r of results) out([r.member, r.kind, r.result, r.destination ?? '', r.detail ?? ''].join('\t'));
    const errors = results.filter((r) => r.result === 'error').length;
    const ok = results.filter((r) => r.result === 'ok').length;
    out(`bulk forwarding ${name} ${action}: ${ok} ok, ${results.length - ok - errors} unchanged, ${errors} error`);
    return errors > 0 ? 1 : 0;
  });
}

function screeningStats(file: string): number {
  return withConfigDatabase(file, (db, config) => {
    const thisMonth = monthIn(config.tenant.timezone, Date.now());
    const lastMonth = previousMonth(thisMonth);
    const totals = new Map<string, { thisMonth: number; lastMonth: number }>();
    for (const row of new ScreeningStore(db).list()) {
      const t = totals.get(row.target) ?? { thisMonth: 0, lastMonth: 0 };
      if (row.month === thisMonth) t.thisMonth += row.count;
      else if (row.month === lastMonth) t.lastMonth += row.count;
      totals.set(row.target, t);
    }
    out(['target', thisMonth, lastMonth].join('\t'));
    for (const [target, t] of totals) out([target, t.thisMonth, t.lastMonth].join('\t'));
    return 0;
  });
}

function describeLock(l: AuthLock): string {
  const address = l.address ?? '*';
  return [l.kind, l.user ?? '-', address, new Date(l.lockedAt).toISOString(), new Date(l.until).toISOString(), l.reason].join('\t');
}

function listLocks(file: string): number {
  return withConfigDatabase(file, (db) => {
    for (const l of new AuthLockStore(db).active(Date.now())) out(describeLock(l));
    return 0;
  });
}

/**
 * Ends locks in the shared database; the running server reads the lock back before it refuses a
 * request, so it takes effect there at once. Each clear is logged (stderr) as a security event.
 */
function clearLocksCommand(file: string, selector: LockSelector): number {
  return withConfigDatabase(file, (db) => {
    const logger = createLogger('info', pino.destination({ dest: 2, sync: true }));
    const removed = clearLocks(new AuthLockStore(db), selector, logger, 'cli');
    if (removed.length === 0) {
      process.stderr.write('no lock matched\n');
      return 1;
    }
    for (const l of removed) out(`cleared\t${describeLock(l)}`);
    return 0;
  });
}

function lockSelector(args: string[]): LockSelector | undefined {
  const [what, a, b] = args;
  if (what === 'all' && args.length === 1) return { kind: 'all' };
  if (what === 'address' && a !== undefined && args.length === 2) return { kind: 'address', address: a };
  if (what === 'user' && a !== undefined && args.length <= 3) return { kind: 'user', user: a, address: b === '*' ? null : b };
  return undefined;
}

function removeExtensionCommand(file: string, number: string, force: boolean): number {
  const result = removeExtension(file, number, force);
  if (!result.ok) {
    process.stderr.write(result.reason + '\n');
    return 1;
  }
  for (const m of result.removedFrom) out(`removed ${number} from ${m.what} (line ${m.line})`);
  out(`extension ${number} removed from ${file}`);
  return 0;
}

async function runServer(file: string, level: string | undefined): Promise<void> {
  const result = loadOrReport(file);
  if (!result) process.exit(1);
  const config = result.config;
  const logLevel = level ?? config.log.level;
  if (!LEVELS.has(logLevel)) fail(`unknown log level ${logLevel}`);
  const logger = createLogger(logLevel as 'info');
  for (const w of result.warnings) logger.warn({ file: w.file, line: w.line }, w.message);
  const server = new HibikiServer({ config, configPath: resolve(file), logger });
  try {
    await server.start();
  } catch (err) {
    logger.fatal({ err }, 'cannot start');
    logger.flush();
    process.exit(1);
  }
  process.on('SIGHUP', () => {
    server.reload('SIGHUP');
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server
      .stop()
      .catch((err: unknown) => logger.error({ err }, 'error during shutdown'))
      .finally(() => {
        logger.flush();
        process.exit(0);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
}

/**
 * F-VM from the command line, on the server's store and files. Nothing is announced to a running server (it
 * is another process): message-waiting lamps show the new counts at the box's next deposit or change.
 */
function voicemailCommand(file: string, action: string | undefined, args: string[]): number {
  return withConfigDatabase(file, (db, config) => {
    const store = new VoicemailStore(db);
    const dir = resolve(config.data.dir, 'voicemail');
    if (action === 'list' && args.length === 0) {
      const configured = mailboxes(config);
      const names = new Map(configured.map((m) => [m.number, m.name]));
      // Boxes with messages but no longer in the YAML are listed too, so their messages can be exported.
      const boxes = [...new Set([...configured.map((m) => m.number), ...store.boxes()])];
      for (const box of boxes) {
        const c = store.counts(box);
        out([box, names.get(box) ?? '(not configured)', `new ${c.new}`, `saved ${c.saved}`].join('\t'));
      }
      return 0;
    }
    if (action === 'list' && args.length === 1) {
      for (const m of store.list(args[0]!)) {
        out([m.id, m.status, new Date(m.receivedAt).toISOString(), m.callerNumber, m.callerName ?? '', (m.durationMs / 1000).toFixed(1), join(dir, m.file)].join('\t'));
      }
      return 0;
    }
    const [box, idText, target] = args;
    const id = Number(idText);
    const valid = box !== undefined && Number.isInteger(id) && ((action === 'export' && target !== undefined && args.length === 3) || (action === 'delete' && args.length === 2));
    if (!valid) fail(USAGE);
    const m = store.get(id);
    if (!m || m.box !== box) {
      process.stderr.write(`no message ${idText} in voicemail box ${box}\n`);
      return 1;
    }
    if (action === 'export') {
      copyFileSync(join(dir, m.file), resolve(target!));
      out(`${resolve(target!)}: message ${id} of box ${box} (${(m.durationMs / 1000).toFixed(1)} s from ${m.callerNumber})`);
      return 0;
    }
    // The row first: a file without a row is harmless, a row without its file is a message that cannot play.
    store.remove(id);
    rmSync(join(dir, m.file), { force: true });
    out(`deleted message ${id} of box ${box}`);
    return 0;
  });
}

interface CallCentreFlags {
  from?: string;
  to?: string;
  by?: string;
  agents?: boolean;
  csv?: boolean;
  encoding?: string;
  reason?: string;
}

const ENCODINGS = new Map<string, CdrCsvEncoding>([
  ['utf8', 'utf8'],
  ['sjis', 'shift_jis'],
  ['shift_jis', 'shift_jis'],
]);

/**
 * `queue show|stats`, `agent show|pause|resume` (formatting in features/queue/stats-report.ts). The range of
 * `queue stats` is checked before the database is opened; a wrong queue or membership exits 2 as bad usage.
 */
function callCentreCommand(file: string, args: string[], v: CallCentreFlags): number {
  const [what, action, a, b] = args;
  const stats = what === 'queue' && action === 'stats' && args.length === 2;
  const statsFlags = v.from !== undefined || v.to !== undefined || v.by !== undefined || v.agents === true || v.csv === true;
  const encoding = ENCODINGS.get(v.encoding ?? 'utf8');
  if (!encoding) fail(`--encoding must be utf8 or sjis, not ${v.encoding}\n${USAGE}`);
  if (stats && (!v.from || !v.to)) fail(`queue stats needs --from and --to\n${USAGE}`);
  if (stats && v.by !== undefined && v.by !== 'hour' && v.by !== 'day') fail(`--by must be hour or day, not ${v.by}\n${USAGE}`);
  if (!stats && statsFlags) fail(USAGE);
  const noReason = v.reason === undefined;
  let job: (db: Database, config: HibikiConfig, now: number) => string[] | string;
  if (what === 'queue' && action === 'show' && args.length <= 3 && noReason) job = (db, c, now) => queueShow(db, c, a, now);
  else if (stats && noReason)
    job = (db, c, now) =>
      queueStats(
        db,
        c,
        { ...statsRange(v.from!, v.to!, c.tenant.timezone, v.by === 'day' ? 'day' : 'hour'), by: v.by === 'day' ? 'day' : 'hour', agents: v.agents === true, csv: v.csv === true },
        now,
      );
  else if (what === 'agent' && action === 'show' && args.length <= 3 && noReason) job = (db, c, now) => agentShow(db, c, a, now);
  else if (what === 'agent' && action === 'pause' && a !== undefined && args.length <= 4) job = (db, c, now) => agentPause(db, c, a, b, v.reason, now);
  else if (what === 'agent' && action === 'resume' && a !== undefined && args.length <= 4 && noReason) job = (db, c, now) => agentResume(db, c, a, b, now);
  else fail(USAGE);
  const loaded = loadOrReport(file);
  if (!loaded) return 1;
  const config = loaded.config;
  if (stats) {
    try {
      statsRange(v.from!, v.to!, config.tenant.timezone, v.by === 'day' ? 'day' : 'hour');
    } catch (err) {
      fail(`${(err as Error).message}\n${USAGE}`);
    }
  }
  try {
    const result = withDatabase(config, (db) => job(db, config, Date.now()));
    process.stdout.write(encodeCsv(Array.isArray(result) ? result.map((l) => l + '\n').join('') : result, encoding));
    return 0;
  } catch (err) {
    if (!(err instanceof QueueCommandError)) throw err;
    process.stderr.write(err.message + '\n');
    return 2;
  }
}

/** `conference list | kick|mute|unmute ROOM PARTICIPANT` (work in features/conference/conference-report.ts). */
function conferenceCliCommand(file: string, args: string[]): number {
  const [action, room, participant] = args;
  const list = action === 'list' && args.length === 1;
  const command = (action === 'kick' || action === 'mute' || action === 'unmute') && room !== undefined && participant !== undefined && args.length === 3;
  if (!list && !command) fail(USAGE);
  const loaded = loadOrReport(file);
  if (!loaded) return 1;
  try {
    const lines = withDatabase(loaded.config, (db) =>
      list ? conferenceList(db, loaded.config, Date.now()) : [conferenceCommand(db, room!, participant!, action as 'kick' | 'mute' | 'unmute', Date.now())],
    );
    out(lines.join('\n'));
    return 0;
  } catch (err) {
    if (!(err instanceof ConferenceCommandError)) throw err;
    process.stderr.write(err.message + '\n');
    return 2;
  }
}

function recordingsCommand(file: string, what: { from?: string; to?: string } | { id: string; file: string }): number {
  return withConfigDatabase(file, (db) => {
    const cdr = new CdrStore(db);
    try {
      if ('id' in what) {
        out(`${exportRecording(cdr, what.id, resolve(what.file))} -> ${resolve(what.file)}`);
        return 0;
      }
      const range = cdrExportRange(what.from ?? '1970-01-01', what.to ?? '9999-12-31');
      for (const line of listRecordings(cdr, range)) out(line);
      return 0;
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      return 1;
    }
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'config') {
    if (argv[1] !== 'check' || !argv[2]) fail(USAGE);
    // exitCode, not exit(): stdout to a pipe is asynchronous and exit() would cut the output short.
    process.exitCode = checkConfig(argv[2]);
    return;
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      from: { type: 'string' },
      to: { type: 'string' },
      encoding: { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean' },
      by: { type: 'string' },
      agents: { type: 'boolean' },
      csv: { type: 'boolean' },
      reason: { type: 'string' },
      role: { type: 'string' },
      extension: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      'include-passwords': { type: 'boolean' },
    },
  });
  if (values.help) {
    out(USAGE);
    return;
  }
  if (values.version) {
    out('hibiki 0.1.0');
    return;
  }
  if (positionals[0] === 'cdr') {
    if (positionals[1] !== 'export' || !values.config || !values.from || !values.to) fail(USAGE);
    process.exit(exportCdr(values.config, values.from, values.to, values.encoding ?? 'utf8', values.out ?? '.'));
  }
  if (positionals[0] === 'park') {
    if (positionals[1] !== 'list' || !values.config) fail(USAGE);
    process.exit(listParked(values.config));
  }
  if (positionals[0] === 'forwarding') {
    const [, sub, ext, condition, state, number] = positionals;
    if (!values.config || !ext) fail(USAGE);
    if (sub === 'show' && positionals.length === 3) {
      process.exitCode = showForwarding(values.config, ext);
      return;
    }
    const valid = sub === 'set' && forwardConditions.includes(condition as ForwardCondition) && ((state === 'on' && positionals.length <= 6) || (state === 'off' && positionals.length === 5));
    if (!valid) fail(USAGE);
    process.exitCode = setForwarding(values.config, ext, condition as ForwardCondition, state === 'on', number);
    return;
  }
  if (positionals[0] === 'dnd') {
    const [, ext, state] = positionals;
    if (!values.config || !ext || (state !== 'on' && state !== 'off') || positionals.length !== 3) fail(USAGE);
    process.exitCode = setDnd(values.config, ext, state === 'on');
    return;
  }
  if (positionals[0] === 'bulk') {
    const [, action, name] = positionals;
    const valid = (action === 'list' && positionals.length === 2) || ((action === 'on' || action === 'off') && name !== undefined && positionals.length === 3);
    if (!values.config || !valid) fail(USAGE);
    process.exitCode = bulk(values.config, action, name);
    return;
  }
  if (positionals[0] === 'screening') {
    if (positionals[1] !== 'stats' || positionals.length !== 2 || !values.config) fail(USAGE);
    process.exitCode = screeningStats(values.config);
    return;
  }
  if (positionals[0] === 'extension') {
    const [, action, number] = positionals;
    if (action !== 'remove' || !number || positionals.length !== 3 || !values.config) fail(USAGE);
    process.exitCode = removeExtensionCommand(values.config, number, values.force === true);
    return;
  }
  if (positionals[0] === 'extensions') {
    const [, action, file] = positionals;
    const valid = (action === 'import' && file !== undefined && positionals.length === 3) || (action === 'export' && positionals.length === 2);
    if (!values.config || !valid) fail(USAGE);
    const r =
      action === 'import' ? extensionsImportCommand(values.config, file!, values.encoding) : extensionsExportCommand(values.config, values.encoding, values['include-passwords'] === true, values.out);
    for (const line of r.errors) process.stderr.write(line + '\n');
    for (const line of r.lines) out(line);
    if (r.data) process.stdout.write(r.data);
    process.exitCode = r.exitCode;
    return;
  }
  if (positionals[0] === 'locks') {
    const [, action, ...rest] = positionals;
    if (!values.config) fail(USAGE);
    if (action === 'list' && rest.length === 0) {
      process.exitCode = listLocks(values.config);
      return;
    }
    const selector = action === 'clear' ? lockSelector(rest) : undefined;
    if (!selector) fail(USAGE);
    process.exitCode = clearLocksCommand(values.config, selector);
    return;
  }
  if (positionals[0] === 'voicemail') {
    if (!values.config) fail(USAGE);
    process.exitCode = voicemailCommand(values.config, positionals[1], positionals.slice(2));
    return;
  }
  if (positionals[0] === 'queue' || positionals[0] === 'agent') {
    if (!values.config) fail(USAGE);
    process.exitCode = callCentreCommand(values.config, positionals, values);
    return;
  }
  if (positionals[0] === 'conference') {
    if (!values.config) fail(USAGE);
    process.exitCode = conferenceCliCommand(values.config, positionals.slice(1));
    return;
  }
  if (positionals[0] === 'hotdesk') {
    const [, action, number] = positionals;
    const valid = (action === 'list' && positionals.length === 2) || (action === 'logout' && number !== undefined && positionals.length === 3);
    if (!values.config || !valid) fail(USAGE);
    process.exitCode = withConfigDatabase(values.config, (db) => {
      const r = action === 'list' ? hotDeskList(db, Date.now()) : hotDeskLogout(db, number!, Date.now());
      for (const line of r.lines) out(line);
      return r.exitCode;
    });
    return;
  }
  if (positionals[0] === 'recordings') {
    const [, action, id, target] = positionals;
    const ok = (action === 'list' && positionals.length === 2) || (action === 'export' && id !== undefined && target !== undefined && positionals.length === 4);
    if (!values.config || !ok) fail(USAGE);
    process.exitCode = recordingsCommand(values.config, action === 'list' ? { from: values.from, to: values.to } : { id: id!, file: target! });
    return;
  }
  if (positionals[0] === 'admin') {
    const [, action, name] = positionals;
    const valid =
      (action === 'create' && name !== undefined && positionals.length === 3) ||
      (action === 'list' && positionals.length === 2) ||
      (action === 'unlock' && name !== undefined && positionals.length === 3);
    if (!values.config || !valid) fail(USAGE);
    const loaded = loadOrReport(values.config);
    if (!loaded) {
      process.exitCode = 1;
      return;
    }
    const password = values['password-stdin'] ? (await readStdin()).replace(/\r?\n$/, '') : undefined;
    // Not withDatabase: creating hashes the password asynchronously, and the database must stay open for it.
    const db = openDatabase(resolve(loaded.config.data.dir));
    let r;
    try {
      r =
        action === 'create'
          ? await adminCreate(db, loaded.config, { username: name!, role: values.role, extension: values.extension, password })
          : action === 'list'
            ? adminList(db, Date.now())
            : adminUnlock(db, name!);
    } finally {
      db.close();
    }
    for (const line of r.lines) (r.exitCode === 0 ? out : (l: string) => process.stderr.write(l + '\n'))(line);
    process.exitCode = r.exitCode;
    return;
  }
  if (positionals[0] === 'registrations') {
    if (!values.config) fail(USAGE);
    process.exitCode = listRegistrations(values.config);
    return;
  }
  if (positionals.length > 0 || !values.config) fail(USAGE);
  await runServer(values.config, values['log-level']);
}

main(process.argv.slice(2)).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err), 2));
