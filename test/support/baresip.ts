// Runs Debian's baresip (1.0.0) as a registering SIP phone against hibiki, with its own throwaway
// config directory. Only signalling is exercised: no audio, video or UI modules are loaded.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type BaresipTransport = 'udp' | 'tcp' | 'tls';

export interface BaresipOptions {
  user: string;
  password: string;
  transport: BaresipTransport;
  /** hibiki's listener for that transport. */
  server: { host: string; port: number };
  /** SIP domain of the account (hibiki's tenant domain). */
  domain?: string;
  /** Registration interval asked for, in seconds. */
  regint?: number;
  /** PEM file of a CA (here: the server's self-signed certificate) baresip loads for TLS. */
  cafile?: string;
  /** Safety net: baresip quits on its own after this many seconds even if a test forgets it. */
  maxLifetimeSec?: number;
}

export interface BaresipPhone {
  readonly dir: string;
  /** Everything baresip printed so far (stdout and stderr), including its SIP trace (-s). */
  readonly output: string;
  readonly exited: boolean;
  /** Waits until `pattern` (no g flag) appears in the output; false after timeoutMs or once baresip has exited. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<boolean>;
  /** SIGTERM, then SIGKILL if it is still running after graceMs; resolves when the process is gone. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The baresip 1.0 `config` file: only the SIP stack, the account loader, and a loopback listener. */
export function baresipConfig(opts: Pick<BaresipOptions, 'cafile'>): string {
  const lines = [
    'poll_method\t\tepoll',
    // Port 0: the kernel picks free ports (baresip would put TLS on port+1 of a fixed one).
    'sip_listen\t\t127.0.0.1:0',
    'call_max_calls\t\t1',
    'module_path\t\t/usr/lib/baresip/modules',
    // account.so reads the accounts file; it is all baresip needs to register.
    'module_tmp\t\taccount.so',
  ];
  if (opts.cafile) lines.push(`sip_cafile\t\t${opts.cafile}`);
  return lines.join('\n') + '\n';
}

/** One line of the baresip 1.0 `accounts` file (syntax: doc/examples/accounts of the Debian package). */
export function baresipAccount(opts: BaresipOptions): string {
  const domain = opts.domain ?? 'hibiki.test';
  const proxy = `sip:${opts.server.host}:${opts.server.port};transport=${opts.transport}`;
  const params = [
    `auth_pass=${opts.password}`,
    `regint=${opts.regint ?? 300}`,
    // The account's domain is not resolvable; every request goes to hibiki's listener as the outbound proxy.
    `outbound="${proxy}"`,
  ];
  return `<sip:${opts.user}@${domain};transport=${opts.transport}>;${params.join(';')}\n`;
}

export function startBaresip(opts: BaresipOptions): BaresipPhone {
  const dir = mkdtempSync(join(tmpdir(), 'hibiki-baresip-'));
  writeFileSync(join(dir, 'config'), baresipConfig(opts));
  writeFileSync(join(dir, 'accounts'), baresipAccount(opts));
  // baresip creates a contacts file with samples when it is missing; an empty one keeps it quiet.
  writeFileSync(join(dir, 'contacts'), '');

  const child: ChildProcess = spawn('baresip', ['-f', dir, '-s', '-t', String(opts.maxLifetimeSec ?? 60)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let exited = false;
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };
  const append = (d: Buffer): void => {
    output += d.toString('utf8');
    notify();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exitPromise = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      output += `\n[spawn error] ${err.message}\n`;
      exited = true;
      notify();
      resolve();
    });
    child.once('exit', (code, signal) => {
      exited = true;
      exitInfo = { code, signal };
      notify();
      resolve();
    });
  });
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    rmSync(dir, { recursive: true, force: true });
  };

  return {
    dir,
    get output() {
      return output;
    },
    get exited() {
      return exited;
    },
    waitForOutput(pattern, timeoutMs = 5000) {
      return new Promise<boolean>((resolve) => {
        const check = (): void => {
          if (pattern.test(output)) finish(true);
          else if (exited) finish(false);
        };
        const timer = setTimeout(() => finish(false), timeoutMs);
        function finish(result: boolean): void {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(result);
        }
        waiters.add(check);
        check();
      });
    },
    async stop(graceMs = 3000) {
      if (!exited) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => {
          if (!exited) child.kill('SIGKILL');
        }, graceMs);
        await exitPromise;
        clearTimeout(killer);
      }
      cleanup();
      return exitInfo;
    },
  };
}
