// Which media worker holds each endpoint, and what must share a worker. The per-packet path never crosses
// threads, so whatever joins endpoints (a bridge, a mix, a call recording) needs them in one worker: a new
// endpoint goes next to the one it is meant for (the A leg of its call) or to the least-loaded worker, and
// a join of endpoints that sit in different workers moves one side's whole group (its bridge peer, its
// mix with every member) to the other's worker. Recordings write a file from their worker, so a group that
// holds one is pinned there and the other side moves. Bookkeeping only: BuiltinMediaEngine does the moves.
import type { EndpointId, MixId } from '../engine.js';

/** A set of endpoints (and mixes) that must stay in one worker, and what moving it means. */
export interface Group {
  endpoints: Set<EndpointId>;
  mixes: Set<MixId>;
  /** The worker a recording in the group pins it to. */
  pinned: number | undefined;
  worker: number;
}

export interface Move {
  group: Group;
  to: number;
  /** Both sides were pinned by recordings in different workers: the moved side's recording loses it. */
  conflict: boolean;
}

interface MixState {
  worker: number | undefined;
  members: Set<EndpointId>;
}

export class Placement {
  private readonly where = new Map<EndpointId, number>();
  /** The worker whose port range the endpoint's port comes from (it releases the port at the end). */
  private readonly home = new Map<EndpointId, number>();
  private readonly load: number[];
  private readonly peers = new Map<EndpointId, EndpointId>();
  private readonly mixOf = new Map<EndpointId, MixId>();
  private readonly mixes = new Map<MixId, MixState>();
  /** Recordings by id: their worker, and the endpoints they tap (a one-party recording taps a twice). */
  private readonly recordings = new Map<number, { worker: number; a: EndpointId; b: EndpointId }>();

  constructor(readonly workers: number) {
    this.load = new Array<number>(workers).fill(0);
  }

  /** Where a new endpoint goes: next to `near` when it exists, else the worker with fewest endpoints. */
  pick(near: EndpointId | undefined, usable: (worker: number) => boolean = () => true): number {
    const w = near === undefined ? undefined : this.where.get(near);
    if (w !== undefined && usable(w)) return w;
    let best = -1;
    for (let i = 0; i < this.workers; i++) if (usable(i) && (best < 0 || this.load[i]! < this.load[best]!)) best = i;
    return Math.max(0, best);
  }

  add(id: EndpointId, worker: number): void {
    this.where.set(id, worker);
    this.home.set(id, worker);
    this.load[worker]!++;
  }

  has(id: EndpointId): boolean {
    return this.where.has(id);
  }

  workerOf(id: EndpointId): number | undefined {
    return this.where.get(id);
  }

  homeOf(id: EndpointId): number | undefined {
    return this.home.get(id);
  }

  loadOf(worker: number): number {
    return this.load[worker] ?? 0;
  }

  endpointsIn(worker: number): EndpointId[] {
    return [...this.where].filter(([, w]) => w === worker).map(([id]) => id);
  }

  /** Forgets the endpoint and every relation it had. */
  remove(id: EndpointId): void {
    const w = this.where.get(id);
    if (w === undefined) return;
    this.load[w]!--;
    this.where.delete(id);
    this.home.delete(id);
    this.loosen(id);
  }

  setWorker(id: EndpointId, worker: number): void {
    const w = this.where.get(id);
    if (w === undefined || w === worker) return;
    this.load[w]!--;
    this.load[worker]!++;
    this.where.set(id, worker);
  }

  // ---- relations --------------------------------------------------------------------------------------

  /** Out of its bridge and its mix (before it is bridged or mixed anew). */
  loosen(id: EndpointId): void {
    this.unbridge(id);
    const mix = this.mixOf.get(id);
    if (mix !== undefined) this.leaveMix(mix, id);
  }

  bridge(a: EndpointId, b: EndpointId): void {
    this.loosen(a);
    this.loosen(b);
    this.peers.set(a, b);
    this.peers.set(b, a);
  }

  unbridge(id: EndpointId): void {
    const peer = this.peers.get(id);
    if (peer === undefined) return;
    this.peers.delete(id);
    if (this.peers.get(peer) === id) this.peers.delete(peer);
  }

  peerOf(id: EndpointId): EndpointId | undefined {
    return this.peers.get(id);
  }

  createMix(mix: MixId): void {
    this.mixes.set(mix, { worker: undefined, members: new Set() });
  }

  /** The mix's worker, set by its first member (undefined until then). */
  mixWorker(mix: MixId): number | undefined {
    return this.mixes.get(mix)?.worker;
  }

  setMixWorker(mix: MixId, worker: number): void {
    const m = this.mixes.get(mix);
    if (m) m.worker = worker;
  }

  hasMix(mix: MixId): boolean {
    return this.mixes.has(mix);
  }

  mixMembers(mix: MixId): EndpointId[] {
    return [...(this.mixes.get(mix)?.members ?? [])];
  }

  joinMix(mix: MixId, id: EndpointId): void {
    const m = this.mixes.get(mix);
    if (!m) return;
    this.unbridge(id);
    const old = this.mixOf.get(id);
    if (old !== undefined && old !== mix) this.leaveMix(old, id);
    m.members.add(id);
    this.mixOf.set(id, mix);
  }

  leaveMix(mix: MixId, id: EndpointId): void {
    this.mixes.get(mix)?.members.delete(id);
    if (this.mixOf.get(id) === mix) this.mixOf.delete(id);
  }

  destroyMix(mix: MixId): void {
    for (const id of this.mixMembers(mix)) this.leaveMix(mix, id);
    this.mixes.delete(mix);
  }

  /** Mixes (and their members) in the worker: forgotten with it. */
  mixesIn(worker: number): MixId[] {
    return [...this.mixes].filter(([, m]) => m.worker === worker).map(([mix]) => mix);
  }

  setRecording(recId: number, worker: number, a: EndpointId, b: EndpointId): void {
    this.recordings.set(recId, { worker, a, b });
  }

  /** The call recordings in `worker` that tap `id`, with both their sides. */
  recordingsTapping(id: EndpointId, worker: number): { recId: number; a: EndpointId; b: EndpointId }[] {
    return [...this.recordings].filter(([, r]) => r.worker === worker && (r.a === id || r.b === id)).map(([recId, r]) => ({ recId, a: r.a, b: r.b }));
  }

  recordingWorker(recId: number): number | undefined {
    return this.recordings.get(recId)?.worker;
  }

  endRecording(recId: number): void {
    this.recordings.delete(recId);
  }

  recordingsIn(worker: number): number[] {
    return [...this.recordings].filter(([, r]) => r.worker === worker).map(([recId]) => recId);
  }

  // ---- groups and moves -------------------------------------------------------------------------------

  /** Everything that must stay in one worker with `id`: its bridge peer, its mix and that mix's members, transitively. */
  group(id: EndpointId): Group {
    const g: Group = { endpoints: new Set(), mixes: new Set(), pinned: undefined, worker: this.where.get(id) ?? 0 };
    const todo = [id];
    while (todo.length > 0) {
      const e = todo.pop()!;
      if (g.endpoints.has(e) || !this.where.has(e)) continue;
      g.endpoints.add(e);
      const peer = this.peers.get(e);
      if (peer !== undefined) todo.push(peer);
      const mix = this.mixOf.get(e);
      if (mix !== undefined && !g.mixes.has(mix)) {
        g.mixes.add(mix);
        todo.push(...(this.mixes.get(mix)?.members ?? []));
      }
    }
    for (const r of this.recordings.values()) if (g.endpoints.has(r.a) || g.endpoints.has(r.b)) g.pinned = r.worker;
    return g;
  }

  /**
   * What to move so that `a` and `b` share a worker, or null when they already do. A pinned side stays;
   * otherwise the smaller group moves, and on a tie `b`'s (the endpoint being joined to `a`).
   */
  planJoin(a: EndpointId, b: EndpointId): Move | null {
    const wa = this.where.get(a);
    const wb = this.where.get(b);
    if (wa === undefined || wb === undefined || wa === wb) return null;
    const ga = this.group(a);
    const gb = this.group(b);
    const conflict = ga.pinned !== undefined && gb.pinned !== undefined;
    const moveA = gb.pinned !== undefined && ga.pinned === undefined ? true : ga.pinned !== undefined && gb.pinned === undefined ? false : ga.endpoints.size < gb.endpoints.size;
    return moveA ? { group: ga, to: wb, conflict } : { group: gb, to: wa, conflict };
  }

  /** What to move so that `id` is in `worker` (a recording's), or null when it is (or cannot be: pinned elsewhere). */
  planTo(id: EndpointId, worker: number): Move | null {
    const w = this.where.get(id);
    if (w === undefined || w === worker) return null;
    const g = this.group(id);
    if (g.pinned !== undefined && g.pinned !== worker) return { group: g, to: worker, conflict: true };
    return { group: g, to: worker, conflict: false };
  }
}
