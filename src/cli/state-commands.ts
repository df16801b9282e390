// Commands on the running server's state in the data directory: registrations, park, CDR export, locks,
// extension removal, voicemail, queues and agents, conference rooms, recordings. The server reads the same
// database, so a change applies at once.
import { ConferenceCommandError, conferenceCommand, conferenceList } from '../features/conference/conference-report.js';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { createLogger } from '../log/logger.js';
import { type Database } from '../store/db.js';
import { RegistrationStore } from '../store/registrations.js';
import { CdrStore } from '../store/cdr-store.js';
import { ParkStore } from '../store/park-store.js';
import { cdrExportRange, exportCdrCsv } from '../store/cdr-export.js';
import type { HibikiConfig } from '../config/schema.js';
import { removeExtension } from '../config/remove-extension.js';
import { AuthLockStore, type AuthLock, type LockSelector } from '../store/auth-lock-store.js';
import { clearLocks } from '../registrar/auth-guard.js';
import { VoicemailStore } from '../store/voicemail-store.js';
import { mailboxes } from '../features/voicemail/mailbox.js';
import { agentPause, agentResume, agentShow, queueShow, queueStats, QueueCommandError, statsRange } from '../features/queue/stats-report.js';
import { encodeCsv, type CdrCsvEncoding } from '../store/cdr-export.js';
import { exportRecording, listRecordings } from '../features/recording/recordings-cli.js';
import { fail, loadOrReport, out, withConfigDatabase, withDatabase } from './io.js';
import { USAGE } from './usage.js';

export function listRegistrations(file: string): number {
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

export function listParked(file: string): number {
  return withConfigDatabase(file, (db) => {
    for (const p of new ParkStore(db).list()) out([p.slot, p.party, p.parkedBy ?? '', new Date(p.since).toISOString()].join('\t'));
    return 0;
  });
}

export function exportCdr(file: string, from: string, to: string, encoding: string, outDir: string): number {
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

export function describeLock(l: AuthLock): string {
  const address = l.address ?? '*';
  return [l.kind, l.user ?? '-', address, new Date(l.lockedAt).toISOString(), new Date(l.until).toISOString(), l.reason].join('\t');
}

export function listLocks(file: string): number {
  return withConfigDatabase(file, (db) => {
    for (const l of new AuthLockStore(db).active(Date.now())) out(describeLock(l));
    return 0;
  });
}

/**
 * Ends locks in the shared database; the running server reads the lock back before it refuses a
 * request, so it takes effect there at once. Each clear is logged (stderr) as a security event.
 */
export function clearLocksCommand(file: string, selector: LockSelector): number {
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

export function lockSelector(args: string[]): LockSelector | undefined {
  const [what, a, b] = args;
  if (what === 'all' && args.length === 1) return { kind: 'all' };
  if (what === 'address' && a !== undefined && args.length === 2) return { kind: 'address', address: a };
  if (what === 'user' && a !== undefined && args.length <= 3) return { kind: 'user', user: a, address: b === '*' ? null : b };
  return undefined;
}

export function removeExtensionCommand(file: string, number: string, force: boolean): number {
  const result = removeExtension(file, number, force);
  if (!result.ok) {
    process.stderr.write(result.reason + '\n');
    return 1;
  }
  for (const m of result.removedFrom) out(`removed ${number} from ${m.what} (line ${m.line})`);
  out(`extension ${number} removed from ${file}`);
  return 0;
}

export function voicemailCommand(file: string, action: string | undefined, args: string[]): number {
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
export function callCentreCommand(file: string, args: string[], v: CallCentreFlags): number {
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
export function conferenceCliCommand(file: string, args: string[]): number {
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

export function recordingsCommand(file: string, what: { from?: string; to?: string } | { id: string; file: string }): number {
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
