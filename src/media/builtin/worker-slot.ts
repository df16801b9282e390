// One media worker thread of BuiltinMediaEngine: starting it, stopping it, and starting it again when it
// dies (at most MAX_RESTARTS in RESTART_WINDOW_MS, per worker). What its loss means for the endpoints it
// held is the engine's business (onLost).
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { MediaError } from '../engine.js';
import type { FromWorker, ToWorker, WorkerSettings } from './protocol.js';
import { eachMessage, TurnBatch, type Batched } from './turn-batch.js';
import { checkBuild, workerLocation } from './worker-location.js';

const SHUTDOWN_GRACE_MS = 2000;
/** Worker restarts allowed within RESTART_WINDOW_MS before the engine gives that worker up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

export interface SlotHooks {
  message(index: number, msg: FromWorker): void;
  /** The thread died unexpectedly: whatever it held is gone (a new one is being started, unless given up). */
  lost(index: number): void;
}

export class WorkerSlot {
  private worker: Worker | null = null;
  private starting: Promise<void> | null = null;
  private stopping = false;
  private readonly restarts: number[] = [];
  private readonly outbox = new TurnBatch<ToWorker>((msgs) => this.worker?.postMessage(msgs));
  /** Each message from the worker, to the pool (one function for the slot's life, not one per batch). */
  private readonly deliver = (msg: FromWorker): void => this.hooks.message(this.index, msg);
  /** Restarted too often: no longer used. */
  givenUp = false;

  constructor(
    readonly index: number,
    private readonly settings: WorkerSettings,
    private readonly logger: Logger,
    private readonly hooks: SlotHooks,
  ) {}

  get running(): boolean {
    return this.worker !== null;
  }

  start(): Promise<void> {
    if (this.worker) return Promise.resolve();
    this.stopping = false;
    this.starting ??= this.spawn().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  /** Waits for a start in progress (a restart): true when the worker runs. */
  async ready(): Promise<boolean> {
    if (!this.worker && this.starting) await this.starting.catch(() => undefined);
    return this.worker !== null;
  }

  post(msg: ToWorker): boolean {
    if (!this.worker) return false;
    this.outbox.push(msg);
    return true;
  }

  async stop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const worker = this.worker;
    this.stopping = true;
    if (!worker) return;
    this.outbox.flush();
    // Let the worker close its sockets, then end the thread whatever happened.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SHUTDOWN_GRACE_MS);
      const onMessage = (arrived: Batched<FromWorker>): void =>
        eachMessage(arrived, (msg) => {
          if (msg.t !== 'closed') return;
          clearTimeout(timer);
          resolve();
        });
      worker.on('message', onMessage);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage({ t: 'shutdown' } satisfies ToWorker);
    });
    this.worker = null;
    await worker.terminate();
  }

  private async spawn(): Promise<void> {
    const { url, fromSource } = workerLocation();
    if (fromSource) await checkBuild(url);
    const worker = new Worker(url);
    await new Promise<void>((resolve, reject) => {
      const onReady = (arrived: Batched<FromWorker>): void =>
        eachMessage(arrived, (msg) => {
          // What the worker logs while it starts (which RTP socket I/O runs) is not lost.
          if (msg.t === 'log') this.hooks.message(this.index, msg);
          if (msg.t !== 'ready') return;
          worker.off('message', onReady);
          worker.off('error', onError);
          resolve();
        });
      const onError = (err: Error): void => {
        worker.off('message', onReady);
        reject(new MediaError(`media worker failed to start: ${err.message}`, 500));
      };
      worker.on('message', onReady);
      worker.once('error', onError);
      worker.postMessage({ t: 'init', settings: this.settings } satisfies ToWorker);
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    worker.on('message', (arrived: Batched<FromWorker>) => eachMessage(arrived, this.deliver));
    worker.on('error', (err) => this.logger.error({ err, worker: this.index }, 'media worker crashed'));
    worker.on('exit', (code) => this.onExit(worker, code));
    this.worker = worker;
  }

  /** The worker died with calls up: the engine drops what it held, and a new worker takes new calls. */
  private onExit(worker: Worker, code: number): void {
    if (this.worker !== worker || this.stopping) return;
    this.worker = null;
    this.outbox.drop();
    this.logger.error({ code, worker: this.index }, 'media worker exited unexpectedly');
    this.hooks.lost(this.index);
    const t = Date.now();
    while (this.restarts.length > 0 && t - this.restarts[0]! > RESTART_WINDOW_MS) this.restarts.shift();
    if (this.restarts.length >= MAX_RESTARTS) {
      this.givenUp = true;
      this.logger.fatal({ worker: this.index }, 'media worker keeps exiting: not restarted');
      return;
    }
    this.restarts.push(t);
    this.start().catch((err: unknown) => this.logger.error({ err, worker: this.index }, 'media worker restart failed'));
  }
}
