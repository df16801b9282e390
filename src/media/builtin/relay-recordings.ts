// The relay's recordings in progress (voicemail, greetings): which endpoint each one listens to, and the
// periodic check that ends one on silence when no packet arrives at all (no packet handler would notice).
// The per-packet work is the endpoint's: RelayEndpoint.recorder is fed by the relay's RTP handler.
import type { RelayEndpoint } from './endpoint.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { WavRecorder } from './recorder.js';

/** How often recordings are checked for silence without packets (ms). */
const RECORD_CHECK_MS = 100;

const now = (): number => performance.now();

export class RelayRecordings {
  private readonly active = new Map<number, RelayEndpoint>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly post: (msg: FromWorker) => void,
    private readonly guard: (fn: () => void) => void,
  ) {}

  start(ep: RelayEndpoint, msg: Extract<ToWorker, { t: 'record' }>): void {
    // One recording per endpoint: a new one ends the one before.
    ep.recorder?.recorder.stop('stopped');
    const entry = {
      recId: msg.recId,
      recorder: new WavRecorder({ path: msg.path, maxSamples: msg.maxSamples, maxSilenceMs: msg.maxSilenceMs, silenceThreshold: msg.silenceThreshold }, now(), (r) => {
        if (ep.recorder === entry) ep.recorder = null;
        this.active.delete(msg.recId);
        this.post({ t: 'record-done', recId: msg.recId, ...r });
      }),
    };
    ep.recorder = entry;
    this.active.set(msg.recId, ep);
    this.timer ??= setInterval(() => this.guard(() => this.tick()), RECORD_CHECK_MS);
  }

  stop(recId: number): void {
    this.active.get(recId)?.recorder?.recorder.stop('stopped');
  }

  shutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const t = now();
    for (const ep of [...this.active.values()]) ep.recorder?.recorder.tick(t);
    if (this.active.size === 0) this.shutdown();
  }
}
