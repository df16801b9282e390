// The media workers of BuiltinMediaEngine and the routing of its control messages: every endpoint lives in
// one worker (placement.ts), and what concerns it is posted there. Joining endpoints of different workers
// moves one side's group (see placement.ts): the old worker detaches each endpoint (closes its sockets and
// hands over a snapshot of its state: latching, SSRC/sequence/timestamps, counters, DTMF, a prompt in
// progress), the new one binds the same port again and goes on. Moving is chosen over forwarding frames
// between threads: it costs a few milliseconds once per join instead of a message per packet for the rest
// of the call, and the per-packet path stays what it is with one worker. While an endpoint moves, messages
// for it wait and follow it; its bridge, mix membership and call-recording taps are posted again from the
// current relations once it has arrived. With one worker nothing ever moves.
import type { Logger } from 'pino';
import { MediaError, type EndpointId } from '../engine.js';
import { Placement, type Move } from './placement.js';
import type { FromWorker, ToWorker, WorkerSettings } from './protocol.js';
import { WorkerSlot } from './worker-slot.js';

interface PendingRequest {
  resolve: (msg: FromWorker) => void;
  reject: (err: Error) => void;
  worker: number;
}

interface MoveState {
  to: number;
  endpoints: EndpointId[];
  /** Messages for the moving endpoints, posted in order once they have all arrived. */
  queue: ToWorker[];
  left: number;
}

type MixJoin = Extract<ToWorker, { t: 'mix-join' }>;

export interface PoolHooks {
  /** Events and logs from worker `index` (replies to requests are handled here). */
  message(index: number, msg: FromWorker): void;
  /** The endpoint is gone with its worker or a failed move: the call must end (cause 41). */
  lost(id: EndpointId, why: string): void;
  /** Worker `index` died: its requests are rejected already; the engine drops its plays, recordings, mixes. */
  workerLost(index: number): void;
}

export class WorkerPool {
  readonly slots: WorkerSlot[];
  placement: Placement;
  private readonly requests = new Map<number, PendingRequest>();
  private readonly moving = new Map<EndpointId, MoveState>();
  /** Each mixed endpoint's membership as last asked for, to post again after a move. */
  readonly mixJoins = new Map<EndpointId, MixJoin>();
  private nextRequest = 1;

  constructor(
    slices: [number, number][],
    base: Omit<WorkerSettings, 'rtpPorts'>,
    private readonly logger: Logger,
    private readonly hooks: PoolHooks,
  ) {
    this.slots = slices.map(
      (rtpPorts, i) =>
        new WorkerSlot(i, { ...base, rtpPorts }, logger, {
          message: (index, msg) => this.onMessage(index, msg),
          lost: (index) => this.onLost(index),
        }),
    );
    this.placement = new Placement(this.slots.length);
  }

  async start(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.start()));
  }

  async stop(err: Error): Promise<void> {
    await Promise.all(this.slots.map((s) => s.stop()));
    for (const r of this.requests.values()) r.reject(err);
    this.requests.clear();
    this.moving.clear();
    this.mixJoins.clear();
    this.placement = new Placement(this.slots.length);
  }

  get anyRunning(): boolean {
    return this.slots.some((s) => s.running);
  }

  usable(worker: number): boolean {
    return !this.slots[worker]!.givenUp;
  }

  // ---- messages -----------------------------------------------------------------------------------------

  post(worker: number, msg: ToWorker): boolean {
    return this.slots[worker]?.post(msg) ?? false;
  }

  isMoving(id: EndpointId): boolean {
    return this.moving.has(id);
  }

  /** To the endpoint's worker, or after it once it is moving. */
  send(id: EndpointId, msg: ToWorker): void {
    const m = this.moving.get(id);
    if (m) m.queue.push(msg);
    else {
      const w = this.placement.workerOf(id);
      if (w !== undefined) this.post(w, msg);
    }
  }

  /** A request to a worker, waiting for a (re)start in progress. */
  async request(worker: number, build: (req: number) => ToWorker): Promise<FromWorker> {
    const slot = this.slots[worker];
    if (!slot || !(await slot.ready())) throw new MediaError('media engine not started', 503);
    const req = this.nextRequest++;
    return new Promise((resolve, reject) => {
      this.requests.set(req, { resolve, reject, worker });
      slot.post(build(req));
    });
  }

  /** A request about an endpoint: to its worker, or queued behind its move. */
  requestFor(id: EndpointId, build: (req: number) => ToWorker): Promise<FromWorker> {
    const m = this.moving.get(id);
    if (!m) return this.request(this.placement.workerOf(id) ?? 0, build);
    const req = this.nextRequest++;
    return new Promise((resolve, reject) => {
      this.requests.set(req, { resolve, reject, worker: m.to });
      m.queue.push(build(req));
    });
  }

  private onMessage(index: number, msg: FromWorker): void {
    if (msg.t === 'created' || msg.t === 'failed' || msg.t === 'stats' || msg.t === 'totals' || msg.t === 'detached') {
      const pending = this.requests.get(msg.req);
      this.requests.delete(msg.req);
      pending?.resolve(msg);
      return;
    }
    this.hooks.message(index, msg);
  }

  private onLost(index: number): void {
    const err = new MediaError('media worker exited', 500);
    for (const [req, r] of this.requests) {
      if (r.worker !== index) continue;
      this.requests.delete(req);
      r.reject(err);
    }
    for (const id of this.placement.endpointsIn(index)) this.lose(id, 'media worker exited', index);
    this.hooks.workerLost(index);
  }

  /** The endpoint is gone (its worker died, or it could not be moved): forget it and free its port. */
  lose(id: EndpointId, why: string, deadWorker?: number): void {
    const home = this.placement.homeOf(id);
    if (home === undefined) return;
    const port = this.portOf(id);
    if (home !== deadWorker && port !== undefined) this.post(home, { t: 'release-port', port });
    this.moving.delete(id);
    this.placement.remove(id);
    this.mixJoins.delete(id);
    this.hooks.lost(id, why);
  }

  /** Set by the engine: the RTP port of an endpoint (for releasing it in the worker whose range it is from). */
  portOf: (id: EndpointId) => number | undefined = () => undefined;

  /**
   * Recordings write their file in one worker: a one-party recording in its endpoint's, a call recording in
   * its parties' (brought together first), and a retarget brings the new parties to it.
   */
  routeRecording(msg: ToWorker): boolean {
    const placement = this.placement;
    switch (msg.t) {
      case 'record': {
        const w = placement.workerOf(msg.id);
        if (w === undefined || !this.slots[w]!.running) return false;
        placement.setRecording(msg.recId, w, msg.id, msg.id);
        this.send(msg.id, msg);
        return true;
      }
      case 'record-call': {
        if (placement.has(msg.a) && placement.has(msg.b)) this.together(msg.a, msg.b);
        const w = placement.workerOf(msg.a) ?? placement.workerOf(msg.b) ?? placement.pick(undefined, (i) => this.usable(i));
        if (!this.slots[w]!.running) return false;
        placement.setRecording(msg.recId, w, msg.a, msg.b);
        return this.post(w, msg);
      }
      case 'retarget-record-call': {
        const w = placement.recordingWorker(msg.recId);
        if (w === undefined) return false;
        for (const id of [msg.a, msg.b]) if (placement.has(id)) this.into(id, w);
        placement.setRecording(msg.recId, w, msg.a, msg.b);
        // A party still moving is tapped again when it arrives (worker-this.ts).
        return this.post(w, msg);
      }
      case 'stop-record':
      case 'stop-record-call':
      case 'pause-record-call': {
        const w = placement.recordingWorker(msg.recId);
        return w !== undefined && this.post(w, msg);
      }
      default:
        return false;
    }
  }

  // ---- moves --------------------------------------------------------------------------------------------

  /** Makes `a` and `b` share a worker (moving one side's group) before they are joined. */
  together(a: EndpointId, b: EndpointId): void {
    const move = this.placement.planJoin(a, b);
    if (move) this.move(move);
  }

  /** Brings `id` (and its group) into `worker` (a recording's). */
  into(id: EndpointId, worker: number): void {
    const move = this.placement.planTo(id, worker);
    if (move) this.move(move);
  }

  private move(move: Move): void {
    const { group, to } = move;
    if (move.conflict) this.logger.warn({ endpoints: [...group.endpoints], to }, 'media: joined endpoints are recorded in different workers; the recording left behind loses their audio');
    const state: MoveState = { to, endpoints: [...group.endpoints], queue: [], left: group.endpoints.size };
    for (const mix of group.mixes) {
      const from = this.placement.mixWorker(mix);
      if (from !== undefined && from !== to) this.post(from, { t: 'mix-destroy', mix });
      if (from !== to) this.post(to, { t: 'mix-create', mix });
      this.placement.setMixWorker(mix, to);
    }
    for (const id of state.endpoints) {
      const detached = this.requestFor(id, (req) => ({ t: 'detach', req, id }));
      this.moving.set(id, state);
      this.placement.setWorker(id, to);
      detached
        .then((reply) => {
          if (reply.t !== 'detached') throw new MediaError(reply.t === 'failed' ? reply.message : 'unexpected reply to detach', 500);
          return this.request(to, (req) => ({ t: 'attach', req, snapshot: reply.snapshot }));
        })
        .then((reply) => {
          if (reply.t !== 'created') throw new MediaError(reply.t === 'failed' ? reply.message : 'unexpected reply to attach', 500);
        })
        .catch((err: unknown) => {
          this.logger.error({ err, endpoint: id, to }, 'media endpoint could not move to another worker');
          if (this.moving.get(id) === state) this.lose(id, 'media endpoint could not move');
        })
        .finally(() => {
          if (--state.left === 0) this.arrived(state);
        });
    }
  }

  /** Every endpoint of a move has arrived: its relations as they are now, then what waited for it. */
  private arrived(state: MoveState): void {
    const here = state.endpoints.filter((id) => this.moving.get(id) === state);
    for (const id of here) this.moving.delete(id);
    const { to } = state;
    for (const id of here) {
      const peer = this.placement.peerOf(id);
      if (peer !== undefined && !this.moving.has(peer) && this.placement.workerOf(peer) === to) this.post(to, { t: 'bridge', a: id, b: peer });
      const join = this.mixJoins.get(id);
      if (join && this.placement.mixWorker(join.mix) === to) this.post(to, join);
      for (const r of this.placement.recordingsTapping(id, to)) if (r.a !== r.b) this.post(to, { t: 'retarget-record-call', recId: r.recId, a: r.a, b: r.b });
    }
    for (const msg of state.queue) this.post(to, msg);
  }
}
