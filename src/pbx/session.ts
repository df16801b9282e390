// The typed call API (CallApi) for one call: what applications and in-call features do with a call —
// answer or refuse its caller, play, collect digits, dial another leg, connect legs, hang up, hand a leg
// to another destination. Sessions are made by the call core (pbx/core.ts), one per call.
import type { HibikiConfig } from '../config/schema.js';
import type { Call, Disposition, HangupBy } from './call.js';
import { ends } from './call.js';
import { Leg, type LegEnd, type LegHandle, type LegOwner, type LegRole } from './leg.js';
import { Bridge } from './bridge.js';
import { Delivery, type DeliveryDeps, type DeliveryOptions } from './delivery.js';
import type { CoreServices, CoreSession } from './services.js';
import type { Logger } from 'pino';
import type { PlayHandle } from '../media/engine.js';
import { TargetCollector } from './keypad.js';
import { formatReason } from './q850.js';
import { normaliseDialled } from '../rules/numbers.js';
import { connectCaller } from './connect.js';
import {
  DIRECT,
  type CallApi,
  type CollectOptions,
  type CollectResult,
  type ConnectOptions,
  type DeliveryOutcome,
  type DialOptions,
  type DialResult,
  type Origin,
  type PickRequest,
  type RecordCallOptions,
  type RecordOutcome,
  type Refusal,
  type RingContext,
} from './application.js';

const SILENT: PlayHandle = { stop() {}, done: Promise.resolve('stopped') };

/** A dialled leg's default owner: its hang-up ends the call. */
class HangsUpCall implements LegOwner {
  readonly label = 'dialled leg';
  constructor(private readonly session: CallApi) {}
  ended(leg: Leg, end: LegEnd): void {
    const by: HangupBy = end.by === 'party' ? (leg.role === 'caller' ? 'caller' : 'callee') : 'system';
    this.session.hangup(by, end.cause, end.reason, leg);
  }
}

export class CallSession implements CoreSession {
  readonly log: Logger;
  readonly origin: Origin;
  readonly presentation: 'present' | 'withhold';

  constructor(
    readonly call: Call,
    private readonly core: CoreServices,
    context: { origin: Origin; presentation: 'present' | 'withhold' },
  ) {
    this.log = call.log;
    this.origin = context.origin;
    this.presentation = context.presentation;
  }

  config(): HibikiConfig {
    return this.core.config();
  }

  /** Where a leg of this call is dialled from, for the dial plan: the extension it is dialled for, else the call's origin. */
  private originFor(by?: string): Origin {
    const ext = by !== undefined ? this.core.router.extension(by) : undefined;
    return ext ? { kind: 'device', extension: ext } : this.origin;
  }

  async answer(h: LegHandle): Promise<boolean> {
    // A leg handed on after it was answered (an IVR's caller reaching voicemail) is answered already.
    if (h.leg.state === 'answered') return true;
    const r = await this.core.legMedia.answer(h.leg);
    if (r.ok) return true;
    if ('gone' in r) return false;
    this.call.end(ends.failed(r.status, r.cause, r.reason));
    return false;
  }

  async refuse(h: LegHandle, refusal: Refusal, opts: { prompt?: string[]; hangupBy?: HangupBy; disposition?: Disposition } = {}): Promise<void> {
    const { legMedia, media } = this.core;
    const leg = h.leg;
    const invite = leg.invite;
    const call = this.call;
    const finish = () => {
      if (invite && !invite.res.finalResponseSent) invite.res.send(refusal.status, undefined, { headers: { reason: formatReason(refusal.cause) } });
      // A leg already answered (a click-to-call caller's phone) has a dialog to end: a BYE with the cause.
      if (leg.state === 'answered') this.core.legs.drop(leg, refusal.cause);
      leg.markEnded();
      call.end({ disposition: opts.disposition ?? 'failed', hangupBy: opts.hangupBy ?? 'system', q850: refusal.cause, sipStatus: refusal.status, reason: refusal.reason });
    };
    const files = opts.prompt ?? [];
    // An answered leg (a click-to-call caller) hears the announcement in its call; an offered one as early media.
    const answered = leg.state === 'answered';
    if ((!answered && (!invite || invite.sdp === undefined)) || files.length === 0 || leg.ended) {
      finish();
      return;
    }
    // The announcement is early media; a CANCEL can come at any point (the stack has answered it 487).
    let playing: PlayHandle | undefined;
    const owner: LegOwner = {
      label: 'refusal announcement',
      ended: (_l, end) => {
        playing?.stop();
        if (end.cancelled) call.end(ends.cancelled('caller cancelled during the announcement'));
      },
    };
    const mine = leg.take(owner);
    try {
      const prepared = await legMedia.prepare(leg);
      if (prepared.ok && !call.isFinished && (answered || legMedia.sendEarlyMedia(leg)) && leg.endpoint !== undefined) {
        playing = media.play(leg.endpoint, files);
        await playing.done;
      }
    } catch (err) {
      call.log.warn({ err: (err as Error).message }, 'announcement not played');
    }
    mine.release();
    finish();
  }

  play(h: LegHandle | Leg, files: string[], opts?: { loop?: boolean }): PlayHandle {
    const leg = h instanceof Leg ? h : h.leg;
    if (leg.ended || leg.endpoint === undefined || files.length === 0) return SILENT;
    return this.core.media.play(leg.endpoint, files, opts);
  }

  collect(h: LegHandle, opts: CollectOptions): Promise<CollectResult> {
    return new Promise((resolve) => {
      let mine: LegHandle | undefined;
      let collector: TargetCollector | undefined;
      let typed = '';
      let settled = false;
      const settle = (r: CollectResult) => {
        if (settled) return;
        settled = true;
        collector?.dispose();
        opts.prompt?.stop();
        mine?.release();
        resolve(r);
      };
      // The timers start with the collector: at once, or when the prompt (if any) has finished.
      const start = () => {
        if (collector || settled) return;
        collector = new TargetCollector({
          dialConfirm: opts.terminator ?? '',
          transferDigitTimeoutMs: opts.interDigitTimeoutMs,
          firstDigitTimeoutMs: opts.firstDigitTimeoutMs,
          maxLength: opts.maxDigits,
          clock: this.core.clock,
          logger: this.log,
          events: {
            onTarget: (digits, terminated) => settle({ kind: 'digits', digits, terminated }),
            onCancel: (reason, digits) => settle(reason === 'tooLong' ? { kind: 'too-long', digits } : { kind: 'timeout' }),
          },
        });
      };
      mine = h.leg.take({
        label: 'digit collection',
        ended: () => settle({ kind: 'gone' }),
        digit: (_l, d) => {
          if (settled) return;
          // Barge-in: a key stops the prompt and counts.
          opts.prompt?.stop();
          start();
          typed += d;
          if (opts.complete?.(typed)) settle({ kind: 'digits', digits: typed, terminated: false });
          else collector?.digit(d);
        },
      });
      if (h.leg.ended) settle({ kind: 'gone' });
      else if (opts.prompt) opts.prompt.done.then(start, start);
      else start();
    });
  }

  async record(h: LegHandle, path: string, opts: RecordCallOptions): Promise<RecordOutcome> {
    const leg = h.leg;
    if (leg.ended || leg.endpoint === undefined) return { kind: 'hangup', durationMs: 0 };
    const handle = this.core.media.record(leg.endpoint, path, { maxSeconds: opts.maxSeconds, maxSilenceSeconds: opts.maxSilenceSeconds });
    let key: string | undefined;
    let gone = false;
    const stopKeys = opts.stopKeys ?? '';
    const mine = leg.take({
      label: 'recording',
      ended: () => {
        gone = true;
        handle.stop();
      },
      digit: (_l, d) => {
        if (key !== undefined || !stopKeys.includes(d)) return;
        key = d;
        handle.stop();
      },
    });
    const r = await handle.done;
    mine.release();
    if (r.reason === 'failed') {
      this.log.error({ path, err: r.error }, 'recording failed');
      return { kind: 'failed', durationMs: r.durationMs, error: r.error ?? 'unknown error' };
    }
    if (key !== undefined) return { kind: 'key', key, durationMs: r.durationMs };
    if (gone || r.reason === 'ended') return { kind: 'hangup', durationMs: r.durationMs };
    if (r.reason === 'max-length' || r.reason === 'silence') return { kind: r.reason, durationMs: r.durationMs };
    // Stopped without a key or a hang-up: only the call's end does that (its legs' media are freed).
    return { kind: 'hangup', durationMs: r.durationMs };
  }

  async dial(target: string | { label: string; ring: (delivery: RingContext) => Promise<DeliveryOutcome> }, opts: DialOptions): Promise<DialResult> {
    const number = typeof target === 'string' ? target : target.label;
    const { legMedia, media, registry, router, inDialog } = this.core;
    const call = this.call;
    const config = this.config();
    const offered = await legMedia.offer(`${call.callId}/${number}`, call.leg('caller')?.endpoint);
    if (!offered.ok) return { ok: false, status: offered.status, cause: offered.cause, disposition: 'failed' };
    const ep = offered.endpoint;
    if (call.isFinished) {
      // The call ended while the endpoint was made: ring nobody for it.
      media.destroy(ep);
      return { ok: false, status: 487, cause: 16, disposition: 'cancelled' };
    }
    // The number is dialled like a new call (groups, forwarding, pickup), presenting the given party.
    const delivery = this.delivery({
      offer: offered.sdp,
      webrtcOffer: media.webrtc ? () => media.createOffer(ep, { profile: 'webrtc' }) : undefined,
      presentation: 'present',
      maxForwards: config.calls.maxForwards,
      origin: opts.by !== undefined ? router.extension(opts.by) : undefined,
      caller: opts.presentedAs,
      ringTimeoutSec: opts.ringTimeoutSec,
      annotate: false,
    });
    const stop = () => delivery.cancel();
    call.once('ended', stop);
    opts.onRinging?.(stop);
    const outcome = await (typeof target === 'string' ? delivery.toNumber(target, DIRECT) : target.ring(delivery));
    call.off('ended', stop);
    const owner = opts.owner ?? new HangsUpCall(this);
    if (outcome.kind === 'picked') {
      media.destroy(ep);
      if (call.isFinished) {
        this.core.legs.drop(outcome.leg);
        return { ok: false, status: 487, cause: 16, disposition: 'cancelled' };
      }
      call.log.info({ number, pickedUpBy: outcome.leg.extension }, 'leg answered by pickup');
      return { ok: true, leg: outcome.leg.take(owner) };
    }
    if (outcome.kind === 'application') {
      // A dialled leg cannot be handed to an application (an IVR, voicemail): for the feature, nobody answered.
      media.destroy(ep);
      return { ok: false, status: 480, cause: 19, disposition: 'no_answer' };
    }
    if (outcome.kind !== 'answered' || call.isFinished) {
      media.destroy(ep);
      if (outcome.kind === 'answered') {
        outcome.release?.();
        void outcome.dialog.destroy({ headers: { reason: formatReason(16) } });
      }
      if (outcome.kind === 'failed') return { ok: false, status: outcome.status, cause: outcome.cause, disposition: outcome.disposition };
      return { ok: false, status: 487, cause: 16, disposition: 'cancelled' };
    }
    const accepted = await legMedia.accept(ep, outcome.dialog.remote.sdp);
    if (!accepted.ok || call.isFinished) {
      media.destroy(ep);
      outcome.release?.();
      void outcome.dialog.destroy({ headers: { reason: formatReason(accepted.ok ? 16 : 65) } });
      return accepted.ok ? { ok: false, status: 487, cause: 16, disposition: 'cancelled' } : { ok: false, status: 488, cause: 65, disposition: 'failed' };
    }
    const leg = new Leg('callee', outcome.party, outcome.extension);
    leg.endpoint = ep;
    leg.markAnswered(outcome.dialog);
    if (outcome.release) leg.holds(outcome.release);
    registry.attach(call, leg);
    this.applyDtmfPolicy(leg);
    const handle = leg.take(owner);
    inDialog.wire(leg);
    call.log.info({ number, answeredBy: outcome.label }, 'leg answered');
    return { ok: true, leg: handle };
  }

  connect(caller: Leg, ring: (delivery: RingContext) => Promise<DeliveryOutcome>, opts: Partial<ConnectOptions> = {}): Promise<void> {
    const origin = this.origin;
    return connectCaller(this, this.core, caller, ring, {
      presentation: opts.presentation ?? this.presentation,
      origin: 'origin' in opts ? opts.origin : origin.kind === 'device' ? origin.extension : undefined,
      did: opts.did ?? (origin.kind === 'trunk' ? normaliseDialled(origin.did) : undefined),
      channelHeld: opts.channelHeld,
    });
  }

  bridge(a: LegHandle, b: LegHandle, opts: { ended?: LegOwner['ended'] } = {}): void {
    const { media, clock, features } = this.core;
    new Bridge(this, { media, clock, features, config: this.config(), ended: opts.ended }).connect(a, b);
    try {
      this.core.onBridged(this.call);
    } catch (err) {
      this.log.error({ err }, 'bridged-call listener failed');
    }
  }

  drop(h: LegHandle | Leg, cause = 16): void {
    this.core.legs.drop(h instanceof Leg ? h : h.leg, cause);
  }

  hangup(by: HangupBy, cause: number, reason: string, except?: Leg): void {
    this.core.legs.hangup(this.call, by, cause, reason, except);
  }

  async handTo(h: LegHandle, number: string): Promise<void> {
    const destination = this.core.dialPlan.reach(number, this.originFor(h.leg.extension), this.config());
    if (!destination) {
      this.log.info({ number }, 'hand-off to a number that reaches nothing');
      this.hangup('system', 1, `hand-off to unknown number ${number}`);
      return;
    }
    h.release();
    await destination.app.run(this, h.leg, destination.args);
  }

  moveInto(h: LegHandle, other: CallApi, role?: LegRole): void {
    if (role) h.leg.role = role;
    this.core.registry.attach(other.call, h.leg);
    if (this.call.legs.every((l) => l.ended)) this.call.dissolve();
  }

  findDialog(callId: string, localTag: string, remoteTag: string): { session: CallApi; leg: Leg } | undefined {
    const found = this.core.registry.findLeg(callId, localTag, remoteTag);
    return found ? { session: this.core.session(found.call), leg: found.leg } : undefined;
  }

  canReach(number: string): boolean {
    return this.core.dialPlan.reach(number, this.origin, this.config()) !== undefined;
  }

  takesLeg(number: string): boolean {
    const d = this.core.dialPlan.reach(number, this.origin, this.config());
    return d !== undefined && d.app.ring === undefined;
  }

  // ---- for the call core -------------------------------------------------------------

  /** @internal A delivery for this call. */
  delivery(opts: DeliveryOptions): Delivery {
    const { stack, clock, ringing, dialPlan } = this.core;
    const deps: DeliveryDeps = {
      stack,
      clock,
      ringing,
      resolve: (number) => dialPlan.reach(number, this.originFor(opts.origin?.number), this.config()),
      answerPicker: (call, picker) => this.core.session(call).takePicker(picker),
      dropLeg: (leg) => this.core.legs.drop(leg),
    };
    return new Delivery(deps, this.config(), this.call, opts);
  }

  /**
   * @internal F-PICKUP: answer the picker's leg and move it into this (ringing) call; the picker's own call
   * leaves without a CDR row. Undefined when the picker went away or its offer was unusable.
   */
  async takePicker(picker: PickRequest): Promise<Leg | undefined> {
    const leg = picker.leg;
    const pickerCall = picker.session.call;
    let gone = false;
    const mine = leg.take({ label: 'pickup', ended: () => (gone = true) });
    const answered = await this.core.legMedia.answer(leg);
    if (answered.ok && !gone && !this.call.isFinished) {
      picker.session.moveInto(mine, this, 'callee');
      this.applyDtmfPolicy(leg);
      mine.handOver(new HangsUpCall(this));
      return leg;
    }
    mine.release();
    if (answered.ok) {
      if (gone) pickerCall.end(ends.cancelled('caller cancelled the pickup'));
      else picker.session.hangup('system', 16, 'the picked call ended meanwhile');
    } else if (gone || 'gone' in answered) pickerCall.end(ends.cancelled('caller cancelled the pickup'));
    else pickerCall.end(ends.failed(answered.status, answered.cause, answered.reason));
    return undefined;
  }

  /**
   * Before a call is bridged, codes are inactive: with suppression on, a local user's digits are not sent;
   * digits from outside (trunk legs) pass untouched.
   */
  applyDtmfPolicy(leg: Leg): void {
    if (leg.extension === undefined || leg.endpoint === undefined) return;
    this.core.media.setDtmfPolicy(leg.endpoint, this.config().dtmf.suppress ? 'suppress' : 'pass');
  }
}
