// The relay's call recordings in progress: which endpoints feed each one (RelayEndpoint.callTap, fed by the
// relay's RTP handler) and the 20 ms clock that writes them. A recording outlives its endpoints: a side
// whose endpoint went (a leg replaced by a transfer) is silent until retarget() names the new one.
import type { RelayEndpoint } from './endpoint.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { CallRecorder, FRAME_MS, type CallSide } from './call-recorder.js';

const now = (): number => performance.now();

interface Entry {
  recorder: CallRecorder;
  /** Settles once the file is complete (header written) or failed. */
  finished: Promise<void>;
  a: RelayEndpoint | undefined;
  b: RelayEndpoint | undefined;
}

export class RelayCallRecordings {
  private readonly active = new Map<number, Entry>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly post: (msg: FromWorker) => void,
    private readonly guard: (fn: () => void) => void,
    private readonly endpoint: (id: string) => RelayEndpoint | undefined,
  ) {}

  start(msg: Extract<ToWorker, { t: 'record-call' }>): void {
    let settle!: () => void;
    const finished = new Promise<void>((resolve) => (settle = resolve));
    const recorder = new CallRecorder(msg.path, msg.channels, now(), (r) => {
      this.detach(entry);
      this.active.delete(msg.recId);
      this.post({ t: 'record-done', recId: msg.recId, ...r });
      settle();
    });
    const entry: Entry = { recorder, finished, a: undefined, b: undefined };
    this.active.set(msg.recId, entry);
    this.attach(entry, msg.a, msg.b);
    this.timer ??= setInterval(() => this.guard(() => this.tick()), FRAME_MS);
  }

  retarget(recId: number, a: string, b: string): void {
    const entry = this.active.get(recId);
    if (!entry) return;
    this.detach(entry);
    this.attach(entry, a, b);
  }

  pause(recId: number, paused: boolean): void {
    const entry = this.active.get(recId);
    if (!entry) return;
    entry.recorder.setPaused(paused);
    entry.recorder.a.clear();
    entry.recorder.b.clear();
  }

  stop(recId: number, reason: 'stopped' | 'ended' = 'stopped'): void {
    const entry = this.active.get(recId);
    if (!entry) return;
    entry.recorder.tick(now());
    entry.recorder.stop(reason);
  }

  /** The worker is closing: every file is completed as it stands; resolves once their headers are written. */
  shutdown(): Promise<void> {
    const finishing = [...this.active.values()].map((e) => e.finished);
    for (const recId of [...this.active.keys()]) this.stop(recId, 'ended');
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return Promise.all(finishing).then(() => undefined);
  }

  private attach(entry: Entry, a: string, b: string): void {
    entry.a = this.tap(a, entry.recorder.a);
    entry.b = this.tap(b, entry.recorder.b);
  }

  private tap(id: string, side: CallSide): RelayEndpoint | undefined {
    const ep = this.endpoint(id);
    // One call recording per endpoint: a newer one takes its audio.
    if (ep) ep.callTap = side;
    return ep;
  }

  private detach(entry: Entry): void {
    if (entry.a?.callTap === entry.recorder.a) entry.a.callTap = null;
    if (entry.b?.callTap === entry.recorder.b) entry.b.callTap = null;
    entry.a = entry.b = undefined;
  }

  private tick(): void {
    const t = now();
    for (const entry of this.active.values()) entry.recorder.tick(t);
    if (this.active.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
