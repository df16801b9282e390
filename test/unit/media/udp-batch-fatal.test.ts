// An exception that escapes a native batch callback (the poller's JS handler, or a process.nextTick queued
// during the batch that Node runs when the callback returns) is an uncaught exception of the thread: the
// media worker ends (and the engine restarts it) instead of spinning on its level-triggered epoll fd with
// no socket read. Run in a child worker_thread so this test process survives.
import { createSocket } from 'node:dgram';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ADDON_PATH } from '../../../src/media/builtin/udp-native.js';
import { freePortRange } from './rtp-phone.js';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const addon = require(workerData.addonPath);
const poller = addon.createPoller(new ArrayBuffer(4096), 2048, new ArrayBuffer(64), new ArrayBuffer(32), () => {
  if (workerData.how === 'nextTick') process.nextTick(() => { throw new Error('thrown from a nextTick'); });
  else throw new Error('thrown from the batch callback');
});
addon.open(poller, '127.0.0.1', workerData.port, true);
parentPort.postMessage('ready');
`;

async function runThrowingWorker(how: 'callback' | 'nextTick'): Promise<{ error: Error | null; exitCode: number }> {
  const [port] = await freePortRange(2);
  const worker = new Worker(WORKER, { eval: true, workerData: { addonPath: ADDON_PATH, port, how } });
  let error: Error | null = null;
  worker.on('error', (err) => (error = err));
  await new Promise<void>((resolve) => worker.once('message', () => resolve()));
  const sender = createSocket('udp4');
  try {
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    sender.send(Buffer.from('rtp'), port, '127.0.0.1');
    return { exitCode: await exited, error };
  } finally {
    sender.close();
  }
}

describe('native UDP batching addon: an exception escaping a batch', () => {
  it('thrown by the batch callback ends the thread as an uncaught exception', async () => {
    const { error, exitCode } = await runThrowingWorker('callback');
    expect(exitCode).toBe(1);
    expect(error).toMatchObject({ message: 'thrown from the batch callback' });
  });

  it('thrown by a nextTick queued during the batch ends the thread as an uncaught exception', async () => {
    const { error, exitCode } = await runThrowingWorker('nextTick');
    expect(exitCode).toBe(1);
    expect(error).toMatchObject({ message: 'thrown from a nextTick' });
  });
});
