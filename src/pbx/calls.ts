// The calls in progress: which call each leg belongs to, which leg each media endpoint serves, and the
// media engine's events (DTMF, RTP timeout) delivered to the owner of the leg they concern.
import type { Logger } from 'pino';
import type { EndpointId, MediaEngine } from '../media/engine.js';
import type { Call, CallEvents, CallOutcome } from './call.js';
import type { EventDelegate } from '../util/compact-emitter.js';
import type { Leg } from './leg.js';
import { CallActivity, type CallMoment } from './call-activity.js';

export class CallRegistry {
  private readonly calls = new Set<Call>();
  private readonly legByEndpoint = new Map<EndpointId, Leg>();
  private readonly callByLeg = new WeakMap<Leg, Call>();
  /** Every tracked call's moments, for the event stream and the metrics. */
  readonly activity = new CallActivity();

  constructor(
    private readonly media: MediaEngine,
    private readonly logger: Logger,
    /** Every call that ends with an outcome (not dissolved): its CDR is written here. */
    private readonly onEnded: (call: Call, outcome: CallOutcome) => void,
    /** A leg whose owner does not handle a media timeout: its call is ended (cause 41). */
    private readonly onMediaTimeout: (call: Call, leg: Leg) => void,
  ) {}

  start(): void {
    this.media.on('dtmf', (id, digit, durationMs, source) => {
      const leg = this.legByEndpoint.get(id);
      if (!leg || leg.ended) return;
      this.callByLeg.get(leg)?.log.debug({ leg: leg.describe(), digit, durationMs, source, owner: leg.owner?.label }, 'dtmf');
      leg.owner?.digit?.(leg, digit);
    });
    this.media.on('rtp-timeout', (id) => {
      const leg = this.legByEndpoint.get(id);
      const call = leg ? this.callByLeg.get(leg) : undefined;
      if (!leg || !call || call.isFinished) return;
      call.log.warn({ endpoint: id, leg: leg.describe() }, 'no RTP received');
      if (leg.owner?.mediaTimeout) leg.owner.mediaTimeout(leg);
      else this.onMediaTimeout(call, leg);
    });
  }

  /** Start tracking a call; its CDR is written when it ends. */
  add(call: Call): void {
    if (this.calls.has(call)) return;
    this.calls.add(call);
    call.delegateTo(new TrackedCall(call, this));
    this.tell(call, { state: 'started' });
  }

  /** @internal TrackedCall: the call ended (no more moments follow: a finished call emits none). */
  ended(call: Call, outcome: CallOutcome | undefined): void {
    this.calls.delete(call);
    for (const leg of call.legs) this.forgetEndpoint(leg);
    if (outcome) {
      try {
        this.onEnded(call, outcome);
      } catch (err) {
        call.log.error({ err }, 'call-ended handler failed');
      }
      this.tell(call, { state: 'ended', outcome });
    }
  }

  /** @internal TrackedCall, and the registry's own moments. */
  tell(call: Call, moment: CallMoment): void {
    try {
      this.activity.emit('moment', call, moment);
    } catch (err) {
      // A watcher's bug must not break the call path.
      call.log.error({ err }, 'call activity listener failed');
    }
  }

  /** Put a leg in a call (and index its media endpoint for DTMF and timeouts). */
  attach(call: Call, leg: Leg): void {
    const before = this.callByLeg.get(leg);
    if (before && before !== call) before.removeLeg(leg);
    call.addLeg(leg);
    this.callByLeg.set(leg, call);
    if (leg.endpoint !== undefined) this.legByEndpoint.set(leg.endpoint, leg);
  }

  /** The leg's media endpoint changed (or was first made): index it. */
  indexEndpoint(leg: Leg): void {
    if (leg.endpoint !== undefined) this.legByEndpoint.set(leg.endpoint, leg);
  }

  private forgetEndpoint(leg: Leg): void {
    if (leg.endpoint !== undefined && this.legByEndpoint.get(leg.endpoint) === leg) this.legByEndpoint.delete(leg.endpoint);
  }

  /** The call a leg belongs to now (a leg can move between calls on transfer or pickup). */
  callOf(leg: Leg): Call | undefined {
    return this.callByLeg.get(leg);
  }

  /** Calls in progress (answered or ringing). */
  active(): Call[] {
    return [...this.calls];
  }

  /** How many calls an extension is part of right now (call waiting / busy decisions). */
  callsOf(extension: string): number {
    let n = 0;
    for (const c of this.calls) if (c.extensions().includes(extension)) n++;
    return n;
  }

  /** How many calls each extension is part of right now, in one pass over the calls (a queue's look at all its agents). */
  callCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const c of this.calls) for (const ext of new Set(c.extensions())) counts.set(ext, (counts.get(ext) ?? 0) + 1);
    return counts;
  }

  /** The leg of an extension in a bridged call now (the first found), with the leg it is bridged to: what a supervisor listens to (F-SPY). */
  bridgedLegOf(extension: string): { call: Call; leg: Leg; peer: Leg } | undefined {
    for (const call of this.calls) {
      for (const leg of call.legs) {
        if (leg.extension !== extension || leg.state !== 'answered' || !leg.peer || leg.peer.ended) continue;
        return { call, leg, peer: leg.peer };
      }
    }
    return undefined;
  }

  /** The answered leg whose dialog has these identifiers (Replaces, RFC 3891). */
  findLeg(callId: string, localTag: string, remoteTag: string): { call: Call; leg: Leg } | undefined {
    for (const call of this.calls) {
      for (const leg of call.legs) {
        const d = leg.dialog;
        if (!leg.ended && d && d.callId === callId && d.localTag === localTag && d.remoteTag === remoteTag) return { call, leg };
      }
    }
    return undefined;
  }

  get size(): number {
    return this.calls.size;
  }

  get log(): Logger {
    return this.logger;
  }
}

/**
 * A tracked call's moments and end, as one small object per call (methods on the prototype) rather than
 * two closures and their listener entries (issue #13 goal 5, memory per call).
 */
class TrackedCall implements EventDelegate<CallEvents> {
  constructor(
    private readonly call: Call,
    private readonly registry: CallRegistry,
  ) {}

  moment(moment: CallEvents['moment'][0]): void {
    this.registry.tell(this.call, moment);
  }

  ended(outcome: CallOutcome | undefined): void {
    this.registry.ended(this.call, outcome);
  }
}
