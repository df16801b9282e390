#!/usr/bin/env node
// Command line: `hibiki --config FILE` runs the server; `hibiki config check FILE` validates a file;
// `hibiki registrations --config FILE` lists the stored bindings.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFile } from './config/load.js';
import { formatConfigError } from './config/errors.js';
import { createLogger } from './log/logger.js';
import { HibikiServer } from './server.js';
import { openDatabase } from './store/db.js';
import { RegistrationStore } from './store/registrations.js';
import { CdrStore } from './store/cdr-store.js';
import { ParkStore } from './store/park-store.js';
import { cdrExportRange, exportCdrCsv } from './store/cdr-export.js';

const USAGE = `usage:
  hibiki --config FILE [--log-level LEVEL]     start the server
  hibiki config check FILE                     validate a configuration file
  hibiki registrations --config FILE           list registered contacts
  hibiki park list --config FILE               list parked calls (slot, party, parked by, since)
  hibiki cdr export --config FILE --from YYYY-MM-DD --to YYYY-MM-DD [--encoding utf8|shift_jis] [--out DIR]
                                               write call-detail records as CSV (40,000 rows per file)
  hibiki --help | --version`;

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function out(text: string): void {
  process.stdout.write(text + '\n');
}

function fail(text: string, code = 2): never {
  process.stderr.write(text + '\n');
  process.exit(code);
}

function checkConfig(file: string): number {
  const result = loadConfigFile(file);
  if (!result.ok) {
    for (const e of result.errors) process.stderr.write(formatConfigError(e) + '\n');
    return 1;
  }
  for (const w of result.warnings) process.stderr.write(formatConfigError(w) + ' (warning)\n');
  out(`${file}: OK (${result.config.extensions.length} extensions, ${result.config.listen.length} listen addresses)`);
  return 0;
}

function listRegistrations(file: string): number {
  const result = loadConfigFile(file);
  if (!result.ok) {
    for (const e of result.errors) process.stderr.write(formatConfigError(e) + '\n');
    return 1;
  }
  const db = openDatabase(resolve(result.config.data.dir));
  const store = new RegistrationStore(db);
  const now = Date.now();
  for (const b of store.all()) {
    out(
      [b.aor, b.contact, b.transport, `${b.sourceAddress}:${b.sourcePort}`, `${Math.round((b.expiresAt - now) / 1000)}s`, b.reachable ? 'reachable' : 'unreachable', b.userAgent ?? ''].join('\t'),
    );
  }
  store.close();
  db.close();
  return 0;
}

function listParked(file: string): number {
  const result = loadConfigFile(file);
  if (!result.ok) {
    for (const e of result.errors) process.stderr.write(formatConfigError(e) + '\n');
    return 1;
  }
  const db = openDatabase(resolve(result.config.data.dir));
  try {
    for (const p of new ParkStore(db).list()) out([p.slot, p.party, p.parkedBy ?? '', new Date(p.since).toISOString()].join('\t'));
  } finally {
    db.close();
  }
  return 0;
}

function exportCdr(file: string, from: string, to: string, encoding: string, outDir: string): number {
  if (encoding !== 'utf8' && encoding !== 'shift_jis') fail(`--encoding must be utf8 or shift_jis, not ${encoding}`);
  const result = loadConfigFile(file);
  if (!result.ok) {
    for (const e of result.errors) process.stderr.write(formatConfigError(e) + '\n');
    return 1;
  }
  let range: { from: Date; to: Date };
  try {
    range = cdrExportRange(from, to);
  } catch (err) {
    fail((err as Error).message);
  }
  const db = openDatabase(resolve(result.config.data.dir));
  try {
    mkdirSync(resolve(outDir), { recursive: true });
    const files = exportCdrCsv(new CdrStore(db), { ...range, dir: resolve(outDir), encoding });
    for (const f of files) out(f);
    if (files.length === 0) out('no call-detail records in that range');
  } finally {
    db.close();
  }
  return 0;
}

async function runServer(file: string, level: string | undefined): Promise<void> {
  const result = loadConfigFile(file);
  if (!result.ok) {
    for (const e of result.errors) process.stderr.write(formatConfigError(e) + '\n');
    process.exit(1);
  }
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
  if (positionals[0] === 'registrations') {
    if (!values.config) fail(USAGE);
    process.exitCode = listRegistrations(values.config);
    return;
  }
  if (positionals.length > 0 || !values.config) fail(USAGE);
  await runServer(values.config, values['log-level']);
}

main(process.argv.slice(2)).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err), 2));
