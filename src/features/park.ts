// F-PARK: #72 (or a blind transfer to the lot number) parks the other party in a free slot, announces
// the slot to the parker ("parked at 9-0-0-1") and ends the parker's leg; the parked party hears music
// on hold. Dialling the slot from any phone retrieves the call; an empty slot gets a prompt and 404.
// After park.timeout the call rings the parker back for park.comebackTimeout, then ends (cause 19).
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { MediaEngine, PlayHandle } from '../media/engine.js';
import type { PromptCatalogue, PromptLanguage } from '../media/prompts.js';
import type { Call, Leg } from '../pbx/call.js';
import type { CallManager, DialContext } from '../pbx/b2bua.js';
import type { SipStack } from '../sip/stack.js';
import { timerDelay } from '../sip/clock.js';
import type { InCallCodes } from './in-call-codes.js';
import { answerOnFailure, endCallOnFailure } from '../pbx/failures.js';
import { refuseWithPrompt } from './announce.js';
import { mohFiles, promptLanguage } from './extension-audio.js';

export interface ParkedCall {
  slot: string;
  call: Call;
  leg: Leg;
  /** Extension that parked the call. */
  parkedBy: string | undefined;
  since: number;
  moh: PlayHandle | undefined;
  timer: NodeJS.Timeout;
}

export interface ParkDeps {
  calls: CallManager;
  codes: InCallCodes;
  media: MediaEngine;
  prompts: PromptCatalogue;
  config: () => HibikiConfig;
  logger: Logger;
  /** For the Contact of the early-media answer to a dialled empty slot. */
  stack: SipStack;
  /** Where the lot is mirrored for listings from other processes (the CLI). */
  store?: { clear(): void; put(row: { slot: string; party: string; parkedBy: string | undefined; since: number }): void; remove(slot: string): void };
}

export type ParkEvent = { type: 'parked' | 'retrieved' | 'timeout' | 'abandoned'; slot: string; party: string; parkedBy: string | undefined };

export class ParkLot {
  private slots = new Map<string, ParkedCall>();
  private lastSlot: number | undefined;
  private listeners: Array<(e: ParkEvent) => void> = [];

  constructor(private readonly deps: ParkDeps) {}

  start(): void {
    this.deps.store?.clear();
    this.deps.codes.onFeature((call, leg, other, action) => {
      if (action === 'park') this.park(call, leg, other);
    });
    this.deps.calls.onDial((ctx) => this.onDial(ctx));
  }

  onEvent(fn: (e: ParkEvent) => void): void {
    this.listeners.push(fn);
  }

  /** Parked calls, for listings (slot, party, parked by, since). */
  list(): Array<{ slot: string; party: string; parkedBy: string | undefined; since: number }> {
    return [...this.slots.values()].map((p) => ({ slot: p.slot, party: p.leg.party.number, parkedBy: p.parkedBy, since: p.since })).sort((a, b) => a.slot.localeCompare(b.slot));
  }

  isLot(number: string): boolean {
    return number === this.deps.config().park.lot;
  }

  private emit(e: ParkEvent): void {
    this.deps.logger.info({ event: 'park', ...e }, `park ${e.type}`);
    for (const fn of this.listeners) fn(e);
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

  /** Park `other` (the parker is `parker`); announce the slot to the parker, then drop the parker's leg. */
  park(call: Call, parker: Leg, other: Leg): void {
    const { media, prompts } = this.deps;
    const slot = this.freeSlot();
    const lang = this.language(parker.extension);
    if (!slot) {
      call.log.info('park lot full');
      // The call stays as it was: the parker hears the error and is still connected.
      media.unbridge(other.endpoint);
      const h = media.play(parker.endpoint, [prompts.file('park-full', lang)]);
      void h.done.then(() => {
        if (!parker.ended && !other.ended) this.deps.calls.bridgeLegs(call, parker, other);
      });
      return;
    }
    this.lastSlot = Number(slot);
    media.unbridge(other.endpoint);
    const moh = mohFiles(this.deps.config(), prompts, parker.extension);
    const parked: ParkedCall = {
      slot,
      call,
      leg: other,
      parkedBy: parker.extension,
      since: Date.now(),
      moh: moh.length > 0 ? media.play(other.endpoint, moh, { loop: true }) : undefined,
      timer: setTimeout(() => this.comeback(slot).catch(endCallOnFailure(this.deps.calls, call, 'park comeback failed')), timerDelay(this.deps.config().park.timeout * 1000)),
    };
    parked.timer.unref();
    this.slots.set(slot, parked);
    call.feature = 'park';
    other.peer = undefined;
    // The parked party hanging up empties the slot and ends the call.
    other.onEnded = () => {
      if (this.slots.get(slot) !== parked) return;
      this.release(parked);
      this.emit({ type: 'abandoned', slot, party: other.party.number, parkedBy: parked.parkedBy });
      this.deps.calls.hangup(call, 'caller', 16, 'parked party hung up', other);
    };
    parker.onEnded = () => undefined;
    this.emit({ type: 'parked', slot, party: other.party.number, parkedBy: parked.parkedBy });
    this.deps.store?.put({ slot, party: other.party.number, parkedBy: parked.parkedBy, since: parked.since });
    const announce = media.play(parker.endpoint, [prompts.file('parked-at', lang), ...prompts.digits(slot, lang)]);
    void announce.done.then(() => this.deps.calls.dropLeg(parker));
  }

  private release(p: ParkedCall): void {
    clearTimeout(p.timer);
    p.moh?.stop();
    this.slots.delete(p.slot);
    this.deps.store?.remove(p.slot);
  }

  /** A phone dialled a slot: retrieve the call parked there, or refuse an empty slot. */
  private onDial(ctx: DialContext): boolean {
    if (!this.isSlot(ctx.dialled)) return false;
    const parked = this.slots.get(ctx.dialled);
    if (!parked) {
      this.emptySlot(ctx).catch(answerOnFailure(ctx.res, this.deps.logger, 'empty park slot not answered'));
      return true;
    }
    this.release(parked);
    this.retrieve(parked, ctx).catch((err: unknown) => {
      // The slot is already empty: the parked party must not be left on music for ever.
      answerOnFailure(ctx.res, parked.call.log, 'park retrieval failed')(err);
      this.deps.calls.hangup(parked.call, 'system', 41, 'park retrieval failed');
    });
    return true;
  }

  private async retrieve(parked: ParkedCall, ctx: DialContext): Promise<void> {
    const { calls } = this.deps;
    const call = parked.call;
    const leg = await calls.answerInto(call, ctx.req, ctx.res, { number: ctx.extension.number, name: ctx.extension.name }, ctx.extension.number);
    if (!leg || call.isFinished || parked.leg.ended) {
      if (leg) calls.hangup(call, 'system', 16, 'parked party gone');
      return;
    }
    parked.leg.onEnded = undefined;
    call.callee = leg.party;
    call.answeredBy = ctx.extension.number;
    calls.bridgeLegs(call, parked.leg, leg);
    this.emit({ type: 'retrieved', slot: parked.slot, party: parked.leg.party.number, parkedBy: parked.parkedBy });
  }

  /** F-PARK: an empty slot gets a prompt (early media) and 404; its CDR feature is park_empty. */
  private async emptySlot(ctx: DialContext): Promise<void> {
    let files: string[] = [];
    try {
      files = [this.deps.prompts.file('park-empty', this.language(ctx.extension.number))];
    } catch (err) {
      // Without the prompt the caller still gets the 404 rather than an INVITE left unanswered.
      this.deps.logger.warn({ err: (err as Error).message }, 'park-empty prompt not found');
    }
    await refuseWithPrompt(
      this.deps,
      {
        req: ctx.req,
        res: ctx.res,
        offer: ctx.offer,
        direction: 'internal',
        caller: { number: ctx.extension.number, name: ctx.extension.name },
        dialled: ctx.dialled,
        feature: 'park_empty',
      },
      files,
      { status: 404, cause: 1, reason: 'park slot empty' },
    );
  }

  /** park.timeout expired: ring the parker; after park.comebackTimeout the call ends. */
  private async comeback(slot: string): Promise<void> {
    const parked = this.slots.get(slot);
    if (!parked) return;
    this.emit({ type: 'timeout', slot, party: parked.leg.party.number, parkedBy: parked.parkedBy });
    const { calls } = this.deps;
    const call = parked.call;
    if (!parked.parkedBy) {
      this.release(parked);
      calls.hangup(call, 'system', 19, 'park timeout');
      return;
    }
    const result = await calls.dialLeg(call, parked.parkedBy, { presentedAs: parked.leg.party, ringTimeoutSec: this.deps.config().park.comebackTimeout });
    if (call.isFinished || this.slots.get(slot) !== parked) {
      if ('leg' in result) calls.dropLeg(result.leg);
      return;
    }
    this.release(parked);
    // No longer parked: the party hanging up from now on simply ends the call.
    parked.leg.onEnded = undefined;
    if ('leg' in result) {
      call.callee = result.leg.party;
      calls.bridgeLegs(call, parked.leg, result.leg);
      return;
    }
    const fallback = this.deps.config().park.timeoutDestination;
    if (fallback && !parked.leg.ended) {
      const moh = mohFiles(this.deps.config(), this.deps.prompts, parked.parkedBy);
      const music = moh.length > 0 ? this.deps.media.play(parked.leg.endpoint, moh, { loop: true }) : undefined;
      const next = await calls.dialLeg(call, fallback, { presentedAs: parked.leg.party, ringTimeoutSec: this.deps.config().calls.ringTimeout });
      music?.stop();
      if (call.isFinished) {
        if ('leg' in next) calls.dropLeg(next.leg);
        return;
      }
      if ('leg' in next) {
        call.callee = next.leg.party;
        calls.bridgeLegs(call, parked.leg, next.leg);
        return;
      }
    }
    calls.hangup(call, 'system', 19, 'park comeback not answered');
  }
}
