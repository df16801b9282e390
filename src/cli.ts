#!/usr/bin/env node
// Command line: `hibiki --config FILE` runs the server; `hibiki config check FILE` validates a file;
// the other commands read or change the state in the data directory, which the running server shares.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatConfigError } from './config/errors.js';
import { createLogger } from './log/logger.js';
import { HibikiServer } from './server.js';
import { openDatabase } from './store/db.js';
import { extensionsExportCommand, extensionsImportCommand } from './config/extension-csv-cli.js';
import { hotDeskList, hotDeskLogout } from './features/hotdesk/cli.js';
import { adminCreate, adminList, adminUnlock } from './api/admin-cli.js';
import { forwardConditions, type ForwardCondition } from './features/forwarding.js';
import { USAGE } from './cli/usage.js';
import { out, fail, loadOrReport, withConfigDatabase } from './cli/io.js';
import {
  listRegistrations,
  listParked,
  exportCdr,
  listLocks,
  clearLocksCommand,
  lockSelector,
  removeExtensionCommand,
  voicemailCommand,
  callCentreCommand,
  conferenceCliCommand,
  recordingsCommand,
} from './cli/state-commands.js';
import { showForwarding, setForwarding, setDnd, bulk, screeningStats } from './cli/forwarding-commands.js';

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function checkConfig(file: string): number {
  const result = loadOrReport(file);
  if (!result) return 1;
  for (const w of result.warnings) process.stderr.write(formatConfigError(w) + ' (warning)\n');
  out(`${file}: OK (${result.config.extensions.length} extensions, ${result.config.listen.length} listen addresses)`);
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
