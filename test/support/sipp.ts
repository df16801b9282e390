// Runs Debian's sipp (package sip-tester) against hibiki and reports its verdict.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

export interface SippRun {
  /** Scenario file name under test/sipp/. */
  scenario: string;
  target: { host: string; port: number };
  transport?: 'u1' | 't1' | 'l1';
  /** Rows of the injection file (fields separated by ';'), read SEQUENTIAL. */
  inject?: string[][];
  calls?: number;
  rate?: number;
  timeoutSec?: number;
  extraArgs?: string[];
  /** Local port for sipp (a phone re-registering keeps its contact); a free one by default. */
  localPort?: number;
}

export interface SippResult {
  code: number | null;
  stdout: string;
  stderr: string;
  errors: string;
  /** The messages sipp logged (-trace_msg), for assertions on what hibiki answered. */
  messages: string;
}

export const SIPP_DIR = fileURLToPath(new URL('../sipp', import.meta.url));

export async function runSipp(run: SippRun): Promise<SippResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hibiki-sipp-'));
  const localPort = run.localPort ?? (await freePort());
  const args = [
    `${run.target.host}:${run.target.port}`,
    '-sf', join(SIPP_DIR, run.scenario),
    '-i', '127.0.0.1',
    '-p', String(localPort),
    '-t', run.transport ?? 'u1',
    '-m', String(run.calls ?? 1),
    '-r', String(run.rate ?? 10),
    '-nostdin',
    '-timeout', `${run.timeoutSec ?? 20}s`,
    '-timeout_error',
    '-recv_timeout', '8000',
    '-trace_err',
    '-error_file', join(dir, 'errors.log'),
    '-trace_msg',
    '-message_file', join(dir, 'messages.log'),
    ...(run.extraArgs ?? []),
  ];
  if (run.inject) {
    const csv = join(dir, 'inject.csv');
    writeFileSync(csv, 'SEQUENTIAL\n' + run.inject.map((r) => r.join(';') + ';').join('\n') + '\n');
    args.push('-inf', csv);
  }
  return new Promise<SippResult>((resolvePromise) => {
    const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), ((run.timeoutSec ?? 20) + 10) * 1000);
    child.on('close', (code) => {
      clearTimeout(killer);
      const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
      const extra = readdirSync(dir).filter((f) => f.endsWith('_errors.log')).map((f) => read(f)).join('\n');
      resolvePromise({ code, stdout, stderr, errors: read('errors.log') + extra, messages: read('messages.log') });
    });
  });
}

/** The injection-file cell that makes sipp answer a digest challenge for this user. */
export function sippAuth(user: string, password: string): string {
  return `[authentication username=${user} password=${password}]`;
}
