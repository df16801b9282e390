// The main-thread side of the media worker's recordings (one party's inbound audio, and two-party call
// recordings): handles that post to the worker, and the completion each one waits for. Split from
// engine.ts, which hands it a way to post to the worker and to ask whether an endpoint exists.
import type { CallRecordHandle, CallRecordOptions, EndpointId, RecordHandle, RecordOptions, RecordResult } from '../engine.js';
import type { ToWorker } from './protocol.js';
import { DEFAULT_SILENCE_THRESHOLD } from './recorder.js';

export interface RecordingsHost {
  /** Posts to the recording's worker (the engine routes it); false when that worker is not running. */
  post(msg: ToWorker): boolean;
  hasEndpoint(id: EndpointId): boolean;
}

export class EngineRecordings {
  private readonly pending = new Map<number, (r: RecordResult) => void>();
  private next = 1;

  constructor(private readonly host: RecordingsHost) {}

  /** What the worker reported for a recording: it is complete on disk. */
  done(recId: number, reason: RecordResult['reason'], samples: number, error?: string): void {
    const resolve = this.pending.get(recId);
    this.pending.delete(recId);
    const r: RecordResult = { reason, durationMs: Math.round(samples / 8) };
    if (error !== undefined) r.error = error;
    resolve?.(r);
  }

  /** The worker is gone (or the one of the recordings `only` picks): every recording still waiting fails with its error. */
  abandon(err: Error, only: (recId: number) => boolean = () => true): void {
    for (const [recId, resolve] of this.pending) {
      if (!only(recId)) continue;
      this.pending.delete(recId);
      resolve({ reason: 'failed', durationMs: 0, error: err.message });
    }
  }

  record(id: EndpointId, path: string, opts: RecordOptions): RecordHandle {
    const recId = this.next++;
    const done = new Promise<RecordResult>((resolve) => this.pending.set(recId, resolve));
    const posted =
      this.host.hasEndpoint(id) &&
      this.host.post({
        t: 'record',
        id,
        recId,
        path,
        maxSamples: Math.max(0, Math.round(opts.maxSeconds * 8000)),
        maxSilenceMs: Math.max(0, Math.round((opts.maxSilenceSeconds ?? 0) * 1000)),
        silenceThreshold: opts.silenceThreshold ?? DEFAULT_SILENCE_THRESHOLD,
      });
    if (!posted) {
      this.fail(recId, `unknown media endpoint ${id}`);
      return { stop: () => undefined, done };
    }
    return {
      stop: () => {
        if (this.pending.has(recId)) this.host.post({ t: 'stop-record', recId });
      },
      done,
    };
  }

  recordCall(a: EndpointId, b: EndpointId, path: string, opts: CallRecordOptions): CallRecordHandle {
    const recId = this.next++;
    const done = new Promise<RecordResult>((resolve) => this.pending.set(recId, resolve));
    // Unknown endpoints are not an error: a side stays silent until retarget() names one that exists.
    if (!this.host.post({ t: 'record-call', recId, a, b, path, channels: opts.format === 'mono' ? 1 : 2 })) {
      this.fail(recId, 'media engine not started');
      return { retarget: () => undefined, pause: () => undefined, stop: () => undefined, done };
    }
    const live = (): boolean => this.pending.has(recId);
    return {
      retarget: (x, y) => {
        if (live()) this.host.post({ t: 'retarget-record-call', recId, a: x, b: y });
      },
      pause: (paused) => {
        if (live()) this.host.post({ t: 'pause-record-call', recId, paused });
      },
      stop: () => {
        if (live()) this.host.post({ t: 'stop-record-call', recId });
      },
      done,
    };
  }

  private fail(recId: number, error: string): void {
    this.pending.get(recId)?.({ reason: 'failed', durationMs: 0, error });
    this.pending.delete(recId);
  }
}
