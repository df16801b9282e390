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
  /** Local address sipp binds and writes into Via/Contact/SDP (-i, with -bind_local); 127.0.0.1 by default. */
  localHost?: string;
  /** Echo RTP received on the media port back to its sender (-rtp_echo). */
  rtpEcho?: boolean;
  /** Local media port (-mp); sipp picks the next free one itself when it is taken. */
  mediaPort?: number;
  /** Length of a bare <pause/> in ms (-d). */
  pauseMs?: number;
  /** Generic parameters, [key] in the scenario (-key). */
  keys?: Record<string, string>;
  /** Global variables, [$name] in the scenario (-set). */
  vars?: Record<string, string>;
  /**
   * What the digest answer's uri is computed for, without the scheme (-auth_uri; sipp writes sip:<this>).
   * sipp 3.6 otherwise uses sip:<remote host:port>, which matches a REGISTER to that address but no
   * INVITE to a number: hibiki refuses a uri that is not the Request-URI (RFC 7616 §3.4.6). See callAuthUri.
   */
  authUri?: string;
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
  return (await startSipp(run)).result;
}

/** A sipp process running in the background (a UAS waiting for calls, a carrier). */
export interface SippProcess {
  readonly localPort: number;
  /** Settles when sipp exits (it never rejects). */
  readonly result: Promise<SippResult>;
  /** Resolves once sipp's UDP SIP socket is bound, so a peer may send to it. */
  listening(timeoutMs?: number): Promise<void>;
  /** Kill sipp now (test cleanup); `result` settles afterwards. */
  stop(): void;
}

/** Start sipp without waiting for it to finish. */
export async function startSipp(run: SippRun): Promise<SippProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'hibiki-sipp-'));
  const localPort = run.localPort ?? (await freePort());
  const localHost = run.localHost ?? '127.0.0.1';
  const args = [
    `${run.target.host}:${run.target.port}`,
    '-sf',
    join(SIPP_DIR, run.scenario),
    '-i',
    localHost,
    '-p',
    String(localPort),
    '-t',
    run.transport ?? 'u1',
    '-m',
    String(run.calls ?? 1),
    '-r',
    String(run.rate ?? 10),
    '-nostdin',
    '-timeout',
    `${run.timeoutSec ?? 20}s`,
    '-timeout_error',
    '-recv_timeout',
    '8000',
    '-trace_err',
    '-error_file',
    join(dir, 'errors.log'),
    '-trace_msg',
    '-message_file',
    join(dir, 'messages.log'),
    ...(run.localHost ? ['-bind_local'] : []),
    ...(run.rtpEcho ? ['-rtp_echo'] : []),
    ...(run.mediaPort !== undefined ? ['-mp', String(run.mediaPort)] : []),
    ...(run.pauseMs !== undefined ? ['-d', String(run.pauseMs)] : []),
    ...Object.entries(run.keys ?? {}).flatMap(([k, v]) => ['-key', k, v]),
    ...Object.entries(run.vars ?? {}).flatMap(([k, v]) => ['-set', k, v]),
    ...(run.authUri !== undefined ? ['-auth_uri', run.authUri] : []),
    ...(run.extraArgs ?? []),
  ];
  if (run.inject) {
    const csv = join(dir, 'inject.csv');
    writeFileSync(csv, 'SEQUENTIAL\n' + run.inject.map((r) => r.join(';') + ';').join('\n') + '\n');
    args.push('-inf', csv);
  }
  const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let exited = false;
  const result = new Promise<SippResult>((resolvePromise) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), ((run.timeoutSec ?? 20) + 10) * 1000);
    child.on('error', (err) => (stderr += String(err)));
    child.on('close', (code) => {
      exited = true;
      clearTimeout(killer);
      const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
      const extra = readdirSync(dir)
        .filter((f) => f.endsWith('_errors.log'))
        .map((f) => read(f))
        .join('\n');
      resolvePromise({ code, stdout, stderr, errors: read('errors.log') + extra, messages: read('messages.log') });
    });
  });
  return {
    localPort,
    result,
    async listening(timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      while (!udpPortBound(localHost, localPort)) {
        if (exited) throw new Error(`sipp exited before binding ${localHost}:${localPort}: ${(await result).stderr}`);
        if (Date.now() > end) throw new Error(`sipp did not bind ${localHost}:${localPort} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop() {
      if (!exited) child.kill('SIGKILL');
    },
  };
}

/**
 * Whether a UDP socket is bound to host:port, read from /proc/net/udp (sipp needs Linux anyway).
 * Probing by binding the port ourselves could steal it from sipp in the instant it starts.
 */
function udpPortBound(host: string, port: number): boolean {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) throw new Error(`listening() checks IPv4 hosts only, not ${host}`);
  const [a, b, c, d] = host.split('.').map(Number) as [number, number, number, number];
  // /proc shows the address as the in-memory u32 in hex: little-endian on x86, so octets reversed.
  const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');
  const wanted = [`${hex(d, 2)}${hex(c, 2)}${hex(b, 2)}${hex(a, 2)}:${hex(port, 4)}`, `00000000:${hex(port, 4)}`];
  let table: string;
  try {
    table = readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return false;
  }
  return table.split('\n').some((line) => {
    const local = line.trim().split(/\s+/)[1];
    return local !== undefined && wanted.includes(local);
  });
}

/** authUri for a scenario whose INVITE goes to sip:<dialled>@<target> (uac-call.xml and its kin). */
export function callAuthUri(dialled: string, target: { host: string; port: number }): string {
  return `${dialled}@${target.host}:${target.port}`;
}

/** The injection-file cell that makes sipp answer a digest challenge for this user. */
export function sippAuth(user: string, password: string): string {
  return `[authentication username=${user} password=${password}]`;
}
