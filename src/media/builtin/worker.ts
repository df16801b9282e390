// Entry point of the media worker thread: receives control messages from BuiltinMediaEngine and runs the
// MediaRelay, which owns every RTP socket. The per-packet path never crosses threads.
import { parentPort } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './protocol.js';
import { MediaRelay } from './relay.js';
import { eachMessage, TurnBatch, type Batched } from './turn-batch.js';

const port = parentPort;
if (!port) throw new Error('media worker: must be started as a worker thread');

let relay: MediaRelay | null = null;
const outbox = new TurnBatch<FromWorker>((msgs) => port.postMessage(msgs));
const post = (msg: FromWorker): void => outbox.push(msg);

port.on('message', (arrived: Batched<ToWorker>) => eachMessage(arrived, handle));

function handle(msg: ToWorker): void {
  try {
    if (msg.t === 'init') {
      relay = new MediaRelay(msg.settings, post);
      post({ t: 'ready' });
    } else if (msg.t === 'shutdown') {
      const closing = relay ? relay.shutdown() : Promise.resolve();
      relay = null;
      closing.catch((err: unknown) => post({ t: 'log', level: 'error', msg: `media worker shutdown: ${String(err)}` })).finally(() => post({ t: 'closed' }));
    } else if (relay) {
      relay.handle(msg);
    }
  } catch (err) {
    post({ t: 'log', level: 'error', msg: `media worker: ${(err as Error).stack ?? String(err)}` });
  }
}
