// A local rtpengine that hibiki starts and keeps running (media.rtpengine.launch): its own config file under
// the data directory, userspace forwarding (table -1) unless kernel forwarding is asked for, its log lines
// in hibiki's log, and a restart with back-off when it exits. Calls it carried are ended by the engine's
// check (a restarted rtpengine has forgotten them); new calls use the new process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { NgClient } from './ng-client.js';

export interface LauncherOptions {
  binary: string;
  /** Folder for rtpengine.conf. */
  dir: string;
  ng: string;
  interface: string;
  advertise?: string;
  ports: [number, number];
  kernel: boolean;
  client: NgClient;
  logger: Logger;
  /** How long start() waits for the new process to answer ping (ms). */
  startTimeoutMs?: number;
}

const MAX_BACKOFF_MS = 30_000;

export class RtpengineLauncher {
  private child: ChildProcess | undefined;
  private stopping = false;
  private backoffMs = 1000;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;
  private readonly exitListeners: Array<() => void> = [];
  private readonly restartListeners: Array<() => void> = [];

  constructor(private readonly options: LauncherOptions) {
    this.logger = options.logger.child({ component: 'rtpengine-launcher' });
  }

  /** Called when the launched rtpengine exits unasked (it is restarted; the calls it carried are gone). */
  onExit(fn: () => void): void {
    this.exitListeners.push(fn);
  }

  /** Called when a restarted rtpengine answers on its ng socket. */
  onRestart(fn: () => void): void {
    this.restartListeners.push(fn);
  }

  /** The config file rtpengine is started with. */
  get configFile(): string {
    return join(this.options.dir, 'rtpengine.conf');
  }

  /** Starts rtpengine and resolves once it answers on the ng socket; throws when it cannot be started. */
  async start(): Promise<void> {
    this.stopping = false;
    mkdirSync(this.options.dir, { recursive: true });
    writeFileSync(this.configFile, this.configText());
    await this.spawn();
    await this.waitForPing(this.options.startTimeoutMs ?? 10_000);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const forced = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(forced);
  }

  private configText(): string {
    const o = this.options;
    const iface = o.advertise ? `${o.interface}!${o.advertise}` : o.interface;
    return [
      '# Written by hibiki at every start (media.rtpengine in the hibiki config); edits here are overwritten.',
      '[rtpengine]',
      `table = ${o.kernel ? 0 : -1}`,
      `interface = ${iface}`,
      `listen-ng = ${o.ng}`,
      `port-min = ${o.ports[0]}`,
      `port-max = ${o.ports[1]}`,
      // A deleted call's ports are free at once (hibiki deletes calls it ended).
      'delete-delay = 0',
      'log-level = 5',
      '',
    ].join('\n');
  }

  private spawn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.options.binary, [`--config-file=${this.configFile}`, '--foreground', '--log-stderr'], { stdio: ['ignore', 'ignore', 'pipe'] });
      this.child = child;
      child.once('error', (err) => {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(new Error(missing ? `rtpengine not found (${this.options.binary}): install Debian's rtpengine-daemon or set media.rtpengine.binary` : `rtpengine could not be started: ${err.message}`));
      });
      child.once('spawn', () => {
        this.logger.info({ childPid: child.pid, config: this.configFile }, 'rtpengine started');
        resolve();
      });
      if (child.stderr) {
        createInterface({ input: child.stderr }).on('line', (line) => {
          if (/\b(ERR|CRIT|ALERT|EMERG|WARNING)\b/.test(line)) this.logger.warn({ rtpengine: line }, 'rtpengine says');
          else this.logger.debug({ rtpengine: line }, 'rtpengine says');
        });
      }
      child.once('exit', (code, signal) => this.exited(child, code, signal));
    });
  }

  private exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child || this.stopping) return;
    this.logger.error({ code, signal, restartInMs: this.backoffMs }, 'rtpengine exited; restarting');
    for (const fn of this.exitListeners) fn();
    this.scheduleRestart();
  }

  /** Starts rtpengine again after the back-off; a start that fails (not there, no answer) is tried again, later each time. */
  private scheduleRestart(): void {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.spawn()
        .then(() => this.waitForPing(10_000))
        .then(() => {
          this.backoffMs = 1000;
          this.logger.info('rtpengine restarted');
          for (const fn of this.restartListeners) fn();
        })
        .catch((err: unknown) => {
          this.logger.error({ err: (err as Error).message, retryInMs: this.backoffMs }, 'rtpengine restart failed');
          // This start is given up: its process (one that runs but does not answer) is stopped, and its exit
          // is then not taken for a new failure.
          const child = this.child;
          this.child = undefined;
          if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          if (!this.stopping) this.scheduleRestart();
        });
    }, delay);
    this.restartTimer.unref();
  }

  private async waitForPing(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const child = this.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) throw new Error(`rtpengine exited at start (code ${child?.exitCode}, signal ${child?.signalCode}); see the log lines above`);
      try {
        await this.options.client.request('ping');
        return;
      } catch {
        if (Date.now() > until) throw new Error(`rtpengine did not answer on ${this.options.ng} within ${timeoutMs} ms`);
      }
    }
  }
}
