// Runs Debian's baresip (1.0.0) against hibiki, with its own throwaway config directory, in two forms:
// - startBaresip: a registering SIP phone, signalling only (no audio, video or UI modules);
// - startDialingBaresip: a phone that also places calls on command and echoes the audio it receives.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

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
  /** Application modules to load besides the account loader (e.g. `mwi.so`, which subscribes to message-summary). */
  appModules?: string[];
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
  const extraConfig = (opts.appModules ?? []).map((m) => `module_app\t\t${m}`);
  return launchBaresip(opts, { dirPrefix: 'hibiki-baresip-', extraConfig, maxLifetimeSec: 60 });
}

/** baresip on a fresh config directory: baresipConfig(opts) plus `extraConfig` lines, and the account. */
function launchBaresip(opts: BaresipOptions, how: { dirPrefix: string; extraConfig: string[]; maxLifetimeSec: number }): BaresipPhone {
  const dir = mkdtempSync(join(tmpdir(), how.dirPrefix));
  const extra = how.extraConfig.length > 0 ? how.extraConfig.join('\n') + '\n' : '';
  writeFileSync(join(dir, 'config'), baresipConfig(opts) + extra);
  writeFileSync(join(dir, 'accounts'), baresipAccount(opts));
  // baresip creates a contacts file with samples when it is missing; an empty one keeps it quiet.
  writeFileSync(join(dir, 'contacts'), '');

  const child: ChildProcess = spawn('baresip', ['-f', dir, '-s', '-t', String(opts.maxLifetimeSec ?? how.maxLifetimeSec)], {
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

// ---------------------------------------------------------------------------------------------
// baresip 1.0 as a phone that places calls on command.
//
// startBaresip loads account.so only (registration). To dial, baresip needs the `menu` module (it owns
// the /dial command) and a way to send it one: the `ctrl_tcp` module takes commands as netstrings of
// JSON ({"command":"dial","params":"**2002","token":…}) on a TCP port, and reports call events the same
// way. Audio: g711, and the `aubridge` module as both player and source on the same device, so whatever
// baresip receives it sends back (an echo) — no sound card needed.

/** A message from baresip's ctrl_tcp: a response to a command, or an event (CALL_ESTABLISHED, CALL_CLOSED…). */
export interface BaresipCtrlMessage {
  event?: boolean;
  response?: boolean;
  type?: string;
  ok?: boolean;
  data?: string;
  token?: string;
  peeruri?: string;
  param?: string;
}

export interface DialingBaresip {
  /** Everything baresip printed so far (stdout and stderr), including its SIP trace (-s). */
  readonly output: string;
  /** Every ctrl_tcp message received so far, in order. */
  readonly messages: BaresipCtrlMessage[];
  /** Sends a command (`dial` with the number as params, `hangup`…) and resolves with baresip's response. */
  command(command: string, params: string, timeoutMs?: number): Promise<BaresipCtrlMessage>;
  /** Resolves with the first event of that type received so far or later; rejects after timeoutMs. */
  waitForEvent(type: string, timeoutMs?: number): Promise<BaresipCtrlMessage>;
  /** Closes the control connection, SIGTERM (SIGKILL after 3 s) and removes the config directory. */
  stop(): Promise<void>;
}

/**
 * Starts baresip registering as `opts.user` with the menu, ctrl_tcp, g711 and aubridge modules, media on
 * loopback; resolves once its control port accepts a connection. If baresip exits first, or the port does
 * not listen within 5 s, it is stopped and the promise rejects with its output. Otherwise the caller
 * stops it (baresip also quits by itself after `maxLifetimeSec`, 40 s by default).
 */
export async function startDialingBaresip(opts: BaresipOptions): Promise<DialingBaresip> {
  const ctrlPort = await freePort();
  const phone = launchBaresip(opts, {
    dirPrefix: 'hibiki-baresip-dial-',
    extraConfig: [
      'module\t\tg711.so',
      'module\t\taubridge.so',
      'module\t\tmenu.so',
      'module\t\tctrl_tcp.so',
      `ctrl_tcp_listen\t\t127.0.0.1:${ctrlPort}`,
      'audio_player\t\taubridge,echo',
      'audio_source\t\taubridge,echo',
      // Media on loopback: without it baresip writes its first interface's address into the SDP.
      'net_interface\t\t127.0.0.1',
    ],
    maxLifetimeSec: 40,
  });

  const messages: BaresipCtrlMessage[] = [];
  const waiters = new Set<() => void>();
  let socket: Socket | undefined;
  let pending = Buffer.alloc(0);
  const onData = (d: Buffer): void => {
    pending = Buffer.concat([pending, d]);
    // Netstrings: "<length>:<payload>,".
    for (;;) {
      const colon = pending.indexOf(0x3a);
      if (colon < 0) break;
      const len = Number(pending.subarray(0, colon).toString('ascii'));
      if (pending.length < colon + 1 + len + 1) break;
      messages.push(JSON.parse(pending.subarray(colon + 1, colon + 1 + len).toString('utf8')) as BaresipCtrlMessage);
      pending = pending.subarray(colon + 1 + len + 1);
    }
    for (const w of [...waiters]) w();
  };
  const waitFor = (match: (m: BaresipCtrlMessage) => boolean, timeoutMs: number, what: string): Promise<BaresipCtrlMessage> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = messages.find(match);
        if (m) done(() => resolve(m));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`baresip: no ${what} within ${timeoutMs} ms\n${phone.output.slice(-3000)}`))), timeoutMs);
      function done(then: () => void): void {
        clearTimeout(timer);
        waiters.delete(check);
        then();
      }
      waiters.add(check);
      check();
    });

  // ctrl_tcp listens once baresip has loaded its modules.
  const deadline = Date.now() + 5000;
  while (!socket) {
    if (phone.exited) {
      await phone.stop();
      throw new Error(`baresip exited at start:\n${phone.output}`);
    }
    socket = await new Promise<Socket | undefined>((resolve) => {
      const s = tcpConnect(ctrlPort, '127.0.0.1');
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(undefined));
    });
    if (!socket) {
      if (Date.now() > deadline) {
        await phone.stop();
        throw new Error(`baresip ctrl_tcp did not listen on ${ctrlPort}:\n${phone.output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const ctrl = socket;
  ctrl.on('data', onData);
  ctrl.on('error', () => undefined);
  let tokens = 0;

  return {
    get output() {
      return phone.output;
    },
    messages,
    async command(command, params, timeoutMs = 3000) {
      const token = `t${++tokens}`;
      const json = JSON.stringify({ command, params, token });
      ctrl.write(`${Buffer.byteLength(json)}:${json},`);
      return waitFor((m) => m.response === true && m.token === token, timeoutMs, `response to ${command}`);
    },
    waitForEvent(type, timeoutMs = 5000) {
      return waitFor((m) => m.event === true && m.type === type, timeoutMs, `${type} event`);
    },
    async stop() {
      ctrl.destroy();
      await phone.stop(3000);
    },
  };
}
