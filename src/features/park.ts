// F-PARK: #72 (or a blind transfer to the lot number) parks the other party in a free slot, announces the
// slot to the parker ("parked at 9-0-0-1") and ends the parker's leg; the parked party hears music on hold.
// Dialling the slot from any phone retrieves the call; an empty slot gets a prompt and 404. After
// park.timeout the call rings the parker back for park.comebackTimeout, then goes to park.timeoutDestination
// or ends (cause 19).
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { PlayHandle } from '../media/engine.js';
import type { PromptCatalogue, PromptLanguage } from '../media/prompts.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { CallApi, CallApplication, Feature, FeatureRegistry, InCallContext } from '../pbx/application.js';
import type { Leg, LegHandle, Party } from '../pbx/leg.js';
import { mohFiles, promptLanguage } from '../pbx/extension-audio.js';
import { endCallOnFailure } from '../pbx/failures.js';

interface ParkedCall {
  slot: string;
  session: CallApi;
  /** The parked party's leg, held by the lot. */
  handle: LegHandle;
  /** Extension that parked the call. */
  parkedBy: string | undefined;
  since: number;
  moh: PlayHandle | undefined;
  timer: TimerHandle;
  /** A phone that dialled the slot is being answered: the call is not offered to a second one. */
  retrieving: boolean;
  /** Stops the comeback ringing at the parker (the call was retrieved or ended meanwhile). */
  stopComeback: (() => void) | undefined;
}

export interface ParkDeps {
  prompts: PromptCatalogue;
  clock: Clock;
  config: () => HibikiConfig;
  logger: Logger;
  /** Where the lot is mirrored for listings from other processes (the CLI). */
  store?: { clear(): void; put(row: { slot: string; party: string; parkedBy: string | undefined; since: number }): void; remove(slot: string): void };
}

export type ParkEventType = 'parked' | 'retrieved' | 'timeout' | 'abandoned';
/** A slot taken (parked) or freed (retrieved, abandoned), or a park timeout (the comeback starts). */
export interface ParkEvent {
  type: ParkEventType;
  slot: string;
  party: string;
  parkedBy: string | undefined;
  callId: string;
}

export class ParkLot implements Feature, CallApplication<string> {
  readonly name = 'park slot';
  private slots = new Map<string, ParkedCall>();
  private lastSlot: number | undefined;
  private readonly listeners = new Set<(e: ParkEvent) => void>();

  constructor(private readonly deps: ParkDeps) {
    deps.store?.clear();
  }

  register(r: FeatureRegistry): void {
    r.inCallCode('park', (ctx) => this.parkFromCode(ctx));
    r.destination({
      name: 'park slots',
      tier: 'service',
      resolve: (dialled) => (this.isSlot(dialled) ? { app: this, args: dialled, callee: { number: dialled } } : undefined),
    });
  }

  stop(): void {
    for (const p of this.slots.values()) p.timer.cancel();
  }

  /** Parked calls, for listings (slot, party, parked by, since). */
  list(): Array<{ slot: string; party: string; parkedBy: string | undefined; since: number }> {
    return [...this.slots.values()].map((p) => ({ slot: p.slot, party: p.handle.leg.party.number, parkedBy: p.parkedBy, since: p.since })).sort((a, b) => a.slot.localeCompare(b.slot));
  }

  /** Parked calls with the parked party's name as presented (the HTTP API). */
  parked(): Array<{ slot: string; party: Party; parkedBy: string | undefined; since: number }> {
    return [...this.slots.values()]
      .map((p) => ({ slot: p.slot, party: { number: p.handle.leg.party.number, name: p.handle.leg.party.name }, parkedBy: p.parkedBy, since: p.since }))
      .sort((a, b) => a.slot.localeCompare(b.slot));
  }

  isLot(number: string): boolean {
    return number === this.deps.config().park.lot;
  }

  /** Be told of every park event (the event stream); returns the unsubscribe. */
  onEvent(fn: (e: ParkEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(type: ParkEventType, p: { slot: string; party: string; parkedBy: string | undefined }, callId: string): void {
    this.deps.logger.info({ event: 'park', type, callId, ...p }, `park ${type}`);
    for (const fn of this.listeners) fn({ type, callId, ...p });
  }

  private language(ext: string | undefined): PromptLanguage {
    return promptLanguage(this.deps.config(), ext);
  }

  private freeSlot(): string | undefined {
    const { slots, findSlot } = this.deps.config().park;
    const [first, last] = slots;
    const count = last - first + 1;
    const start = findSlot === 'next' && this.lastSlot !== undefined ? this.lastSlot + 1 : first;
    for (let i = 0; i < count; i++) {
      const n = first + ((start - first + i) % count);
      if (!this.slots.has(String(n))) return String(n);
    }
    return undefined;
  }

  private isSlot(number: string): boolean {
    const [first, last] = this.deps.config().park.slots;
    if (!/^\d+$/.test(number)) return false;
    const n = Number(number);
    return n >= first && n <= last;
  }

  private parkFromCode(ctx: InCallContext): void {
    const taking = { label: 'park', ended: () => undefined };
    this.park(ctx.session, ctx.leg.take(taking), ctx.other.take(taking), (d) => ctx.keypad(d));
  }

  /**
   * Park `other` (the parker is `parker`); announce the slot to the parker, then drop the parker's leg.
   * While the parker hears the announcement its digits still go through the call's keypad (`keypad`).
   */
  park(session: CallApi, parker: LegHandle, other: LegHandle, keypad?: (digit: string) => void): void {
    const { prompts } = this.deps;
    const call = session.call;
    const slot = this.freeSlot();
    const lang = this.language(parker.leg.extension);
    if (!slot) {
      call.log.info('park lot full');
      // The call stays as it was: the parker hears the error and is back with the other party.
      const back = () => {
        parker.release();
        other.release();
      };
      session.play(parker, [prompts.file('park-full', lang)]).done.then(back, back);
      return;
    }
    this.lastSlot = Number(slot);
    const party = other.leg.party.number;
    const parkedBy = parker.leg.extension;
    const parked: ParkedCall = {
      slot,
      session,
      handle: other,
      parkedBy,
      since: this.deps.clock.now(),
      moh: session.play(other, mohFiles(this.deps.config(), prompts, parkedBy), { loop: true }),
      timer: this.deps.clock.setTimer(this.deps.config().park.timeout * 1000, () => {
        this.comeback(slot).catch(endCallOnFailure(session, 'park comeback failed'));
      }),
      retrieving: false,
      stopComeback: undefined,
    };
    // The parked party hanging up empties the slot and ends the call.
    parked.handle = other.handOver({
      label: 'parked',
      ended: (leg) => {
        if (this.slots.get(slot) !== parked) return;
        this.release(parked);
        this.emit('abandoned', { slot, party, parkedBy }, call.callId);
        session.hangup('caller', 16, 'parked party hung up', leg);
      },
    });
    this.slots.set(slot, parked);
    // However the call ends while parked (an RTP timeout, a shutdown), the slot and its comeback go with it.
    call.once('ended', () => {
      if (this.slots.get(slot) !== parked) return;
      this.release(parked);
      this.emit('abandoned', { slot, party, parkedBy }, call.callId);
    });
    call.feature = 'park';
    call.report({ state: 'parked', slot, by: parkedBy });
    const leaving = parker.handOver({ label: 'parker (leaving)', ended: () => undefined, digit: (_leg, d) => keypad?.(d) });
    this.emit('parked', { slot, party, parkedBy }, call.callId);
    this.deps.store?.put({ slot, party, parkedBy, since: parked.since });
    const drop = () => session.drop(leaving);
    session.play(leaving, [prompts.file('parked-at', lang), ...prompts.digits(slot, lang)]).done.then(drop, drop);
  }

  private release(p: ParkedCall): void {
    p.timer.cancel();
    p.stopComeback?.();
    p.moh?.stop();
    this.slots.delete(p.slot);
    this.deps.store?.remove(p.slot);
  }

  /** A phone dialled a slot: retrieve the call parked there, or refuse an empty slot (prompt, 404, park_empty). */
  async run(session: CallApi, leg: Leg, slot: string): Promise<void> {
    const parked = this.slots.get(slot);
    if (!parked || parked.retrieving) {
      let files: string[] = [];
      try {
        files = [this.deps.prompts.file('park-empty', this.language(leg.extension))];
      } catch (err) {
        // Without the prompt the caller still gets the 404 rather than an INVITE left unanswered.
        this.deps.logger.warn({ err: (err as Error).message }, 'park-empty prompt not found');
      }
      session.call.feature = 'park_empty';
      await session.refuse(leg.take({ label: 'empty park slot', ended: () => undefined }), { status: 404, cause: 1, reason: 'park slot empty' }, { prompt: files });
      return;
    }
    parked.retrieving = true;
    let gone = false;
    const retriever = leg.take({ label: 'park retrieval', ended: () => (gone = true) });
    const answered = await session.answer(retriever);
    const call = parked.session.call;
    if (call.isFinished || parked.handle.leg.ended) {
      if (answered && !gone) session.hangup('system', 16, 'parked party gone');
      return;
    }
    if (!answered || gone) {
      // The retriever went away: the call stays parked in its slot.
      parked.retrieving = false;
      if (!session.call.isFinished) session.call.end({ disposition: 'cancelled', hangupBy: 'caller', q850: 16, sipStatus: 487, reason: 'caller cancelled the retrieval' });
      return;
    }
    this.release(parked);
    session.moveInto(retriever, parked.session, 'callee');
    call.callee = leg.party;
    call.answeredBy = leg.extension;
    parked.session.bridge(parked.handle, retriever);
    this.emit('retrieved', { slot, party: parked.handle.leg.party.number, parkedBy: parked.parkedBy }, call.callId);
  }

  /** park.timeout expired: ring the parker; after park.comebackTimeout the call goes on or ends. */
  private async comeback(slot: string): Promise<void> {
    const parked = this.slots.get(slot);
    if (!parked) return;
    const { session } = parked;
    const call = session.call;
    const party = parked.handle.leg.party;
    this.emit('timeout', { slot, party: party.number, parkedBy: parked.parkedBy }, call.callId);
    if (!parked.parkedBy) {
      this.release(parked);
      session.hangup('system', 19, 'park timeout');
      return;
    }
    // The call stays parked while the parker's phone rings: a retrieval meanwhile stops the ringing.
    const result = await session.dial(parked.parkedBy, {
      presentedAs: party,
      ringTimeoutSec: this.deps.config().park.comebackTimeout,
      onRinging: (stop) => (parked.stopComeback = stop),
    });
    parked.stopComeback = undefined;
    if (call.isFinished || this.slots.get(slot) !== parked) {
      if (result.ok) session.drop(result.leg);
      return;
    }
    this.release(parked);
    // No longer parked: the party hanging up from now on simply ends the call.
    const handle = parked.handle.handOver({ label: 'park comeback', ended: (leg, end) => session.hangup('caller', end.cause, end.reason, leg) });
    if (result.ok) {
      call.callee = result.leg.leg.party;
      session.bridge(handle, result.leg);
      return;
    }
    const fallback = this.deps.config().park.timeoutDestination;
    if (fallback && !handle.leg.ended) {
      const music = session.play(handle, mohFiles(this.deps.config(), this.deps.prompts, parked.parkedBy), { loop: true });
      const next = await session.dial(fallback, { presentedAs: party, ringTimeoutSec: this.deps.config().calls.ringTimeout });
      music.stop();
      if (call.isFinished) {
        if (next.ok) session.drop(next.leg);
        return;
      }
      if (next.ok) {
        call.callee = next.leg.leg.party;
        session.bridge(handle, next.leg);
        return;
      }
    }
    session.hangup('system', 19, 'park comeback not answered');
  }
}
