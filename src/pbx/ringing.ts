// Extensions ringing right now, for call pickup (F-PICKUP): each entry is one extension being rung for
// one call, with the way to take that call over. Entries live exactly as long as the ringing does.
import type { Call } from './call.js';
import type { PickRequest } from './application.js';

export interface RingingEntry {
  /** The extension whose phones are ringing. */
  extension: string;
  call: Call;
  /** When this extension started ringing (longest-ringing first). */
  since: number;
  /** Stop ringing and hand the call to the picker's leg; false when the call was already settled. */
  pick(picker: PickRequest): boolean;
}

export class RingingCalls {
  private entries = new Set<RingingEntry>();

  add(entry: RingingEntry): () => void {
    this.entries.add(entry);
    return () => this.entries.delete(entry);
  }

  /** Ringing entries at any of these extensions, longest-ringing first; calls made by `exclude` are left out. */
  at(extensions: ReadonlySet<string>, exclude?: string): RingingEntry[] {
    return [...this.entries]
      .filter((e) => extensions.has(e.extension) && !e.call.isFinished && (exclude === undefined || e.call.caller.number !== exclude || e.call.direction !== 'internal'))
      .sort((a, b) => a.since - b.since);
  }
}
