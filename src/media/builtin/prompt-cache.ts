// Decoded and G.711-encoded prompts, kept on the main thread so a prompt used by many calls (ringback, MOH)
// is read and encoded once. File reads are asynchronous; encoding a prompt is a one-off per codec.
import type { Codec } from '../engine.js';
import { encode } from './g711.js';
import { readWavFile } from './wav.js';

/** Enough for a tenant's prompt set and MOH classes; older entries are evicted first beyond it. */
const MAX_ENTRIES = 256;

export class PromptCache {
  private readonly entries = new Map<string, Promise<Uint8Array>>();

  /** The files, each validated (8 kHz mono 16-bit PCM) and encoded to `codec`, concatenated in order. */
  async load(files: string[], codec: Codec): Promise<Uint8Array> {
    const parts = await Promise.all(files.map((f) => this.one(f, codec)));
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }

  private one(file: string, codec: Codec): Promise<Uint8Array> {
    const key = `${codec}\n${file}`;
    const hit = this.entries.get(key);
    if (hit) {
      // Refresh its place in the eviction order.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const loading = readWavFile(file).then((pcm) => encode(pcm, codec));
    // A failed load is not cached: the file may be fixed and retried.
    loading.catch(() => {
      if (this.entries.get(key) === loading) this.entries.delete(key);
    });
    this.entries.set(key, loading);
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    return loading;
  }
}
