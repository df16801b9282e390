// One callee side of a call, from the first destination until someone answers or it fails: the hop chain
// of forwarding (hop count, loop detection, a CDR row per hop), cancellation, and ringing phones with
// their pickup registration. What to ring is decided by the destination's application (features/): an
// extension with its forwarding, a hunt group, an outside line. One Delivery serves one callee side.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { SipResponse } from '../sip/message.js';
import type { SipStack } from '../sip/stack.js';
import type { Clock } from '../util/clock.js';
import { isIvrPath, type Call, type Party } from './call.js';
import type { Leg } from './leg.js';
import type { Arrival, DeliveryOutcome, Destination, ExtensionConfig, PickRequest, RingContext, RingParams, RingResult } from './application.js';
import { Ringer } from './ringer.js';
import type { RingingCalls } from './ringing.js';

export interface DeliveryDeps {
  stack: SipStack;
  clock: Clock;
  ringing: RingingCalls;
  /** Resolve a number to a destination (the dial plan's local numbers and outbound routes). */
  resolve(number: string): Destination | undefined;
  /** Answer a picker's leg into the call (its own leg, wired but not bridged); undefined when it went away. */
  answerPicker(call: Call, picker: PickRequest): Promise<Leg | undefined>;
  dropLeg(leg: Leg): void;
}

export interface DeliveryOptions {
  /** SDP offer sent to every destination (the callee-side media endpoint's). */
  offer: string;
  /** The same endpoint's WebRTC offer, for browser phones (WebSocket contacts), when the engine can make one. */
  webrtcOffer?: () => Promise<string>;
  presentation: 'present' | 'withhold';
  maxForwards: number;
  origin: ExtensionConfig | undefined;
  did?: string;
  channelHeld?: boolean;
  onProvisional?: (r: SipResponse) => void;
  /** Who the destinations see calling; default the call's caller. */
  caller?: Party;
  ringTimeoutSec?: number;
  /** Whether the call's callee, forwarding hops and feature describe this delivery (default true). */
  annotate?: boolean;
}

export function failure(
  status: number,
  cause: number,
  disposition: Extract<DeliveryOutcome, { kind: 'failed' }>['disposition'],
  reason: string,
  hangupBy: 'caller' | 'callee' | 'system' = 'system',
): DeliveryOutcome {
  return { kind: 'failed', status, cause, disposition, reason, hangupBy };
}

export class Delivery implements RingContext {
  readonly caller: Party;
  readonly annotate: boolean;
  private isCancelled = false;
  private stopRinging: (() => void) | undefined;
  private hopCount = 0;
  /** Numbers the call has been offered to (loop detection). */
  private readonly seen = new Set<string>();
  private readonly log: Logger;

  constructor(
    private readonly deps: DeliveryDeps,
    readonly config: HibikiConfig,
    readonly call: Call,
    private readonly opts: DeliveryOptions,
  ) {
    this.caller = opts.caller ?? call.caller;
    this.annotate = opts.annotate ?? true;
    this.log = call.log;
  }

  get presentation(): 'present' | 'withhold' {
    return this.opts.presentation;
  }
  get origin(): ExtensionConfig | undefined {
    return this.opts.origin;
  }
  get did(): string | undefined {
    return this.opts.did;
  }
  get channelHeld(): boolean {
    return this.opts.channelHeld === true;
  }
  get ringTimeoutSec(): number | undefined {
    return this.opts.ringTimeoutSec;
  }
  get cancelled(): boolean {
    return this.isCancelled;
  }
  get hops(): number {
    return this.hopCount;
  }

  now(): number {
    return this.deps.clock.now();
  }

  monotonic(): number {
    return this.deps.clock.monotonic();
  }

  visited(number: string): boolean {
    return this.seen.has(number);
  }

  visit(number: string): void {
    this.seen.add(number);
  }

  arriving(callee: Party, arrival: Arrival): void {
    if (!this.annotate) return;
    this.call.callee = callee;
    this.call.forwardedFrom = arrival.from;
    if (!arrival.feature) return;
    // A call handed on by an IVR keeps its path in the CDR: the forwarding is its next step.
    const current = this.call.feature;
    this.call.feature = isIvrPath(current) ? `${current}>${arrival.feature}>${callee.number}` : arrival.feature;
  }

  /** The caller gave up: stop whatever is ringing; the pending delivery resolves as cancelled. */
  cancel(): void {
    this.isCancelled = true;
    this.stopRinging?.();
  }

  /** Deliver to a destination the dial plan resolved (or one a feature names directly). */
  to<A>(destination: Destination<A>, arrival: Arrival): Promise<DeliveryOutcome> {
    if (this.isCancelled) return Promise.resolve({ kind: 'cancelled' });
    const ring = destination.app.ring;
    if (!ring) {
      // A destination that rings no phone (an IVR, a voicemail box) takes the caller itself: the connect
      // flow hands it the caller's leg.
      this.arriving(destination.callee, arrival);
      return Promise.resolve({ kind: 'application', destination: destination as Destination });
    }
    return ring.call(destination.app, this, destination.args, arrival);
  }

  toNumber(number: string, arrival: Arrival): Promise<DeliveryOutcome> {
    const destination = this.deps.resolve(number);
    if (!destination) return Promise.resolve(failure(404, 1, 'failed', `unknown number ${number}`));
    return this.to(destination, arrival);
  }

  forward(
    from: { party: Party; arrival: Arrival; startedAt: number },
    destination: string,
    arrival: Arrival,
    why: { q850: number; status?: number; reason: string },
  ): Promise<DeliveryOutcome> | undefined {
    if (this.isCancelled) return undefined;
    this.hopCount++;
    if (this.annotate) {
      this.call.hops.push({
        callee: from.party,
        forwardedFrom: from.arrival.from,
        feature: from.arrival.feature,
        startedAt: from.startedAt,
        endedAt: this.now(),
        q850: why.q850,
        sipStatus: why.status,
        reason: why.reason,
      });
    }
    return this.toNumber(destination, arrival);
  }

  fromHeader(name: string | undefined, number = this.caller.number, domain = this.config.tenant.domain): string {
    if (this.opts.presentation === 'withhold') return '"Anonymous" <sip:anonymous@anonymous.invalid>';
    return `${name ? `${quoteDisplay(name)} ` : ''}<sip:${number}@${domain}>`;
  }

  ring(p: RingParams): Promise<RingResult> {
    if (this.isCancelled) return Promise.resolve({ kind: 'cancelled' });
    const headers: [string, string][] = [['max-forwards', String(Math.max(0, this.opts.maxForwards - 1 - this.hopCount))]];
    if (this.opts.presentation === 'withhold') {
      headers.push(['privacy', 'id']);
      // RFC 3325: the asserted identity travels only toward a trusted trunk, which strips it onward.
      if (!p.local && p.assertedIdentity) headers.push(['p-asserted-identity', p.assertedIdentity]);
    }
    if (p.headers) headers.push(...p.headers);
    return new Promise((resolve) => {
      let done = false;
      const removers: Array<() => void> = [];
      const finish = (o: RingResult) => {
        if (done) return;
        done = true;
        for (const r of removers) r();
        this.stopRinging = undefined;
        resolve(o);
      };
      const ringer = new Ringer(this.deps.stack, this.deps.clock, {
        contacts: p.contacts,
        offer: this.opts.offer,
        webrtcOffer: this.opts.webrtcOffer,
        from: p.from,
        to: p.to,
        headers,
        auth: p.auth,
        ringTimeoutSec: p.ringTimeoutSec,
        local: p.local,
        noResponseTimeoutSec: p.noResponseTimeoutSec,
        log: this.log,
        onProvisional: (r) => {
          if (!done) this.opts.onProvisional?.(r);
        },
      });
      this.stopRinging = () => ringer.cancel();
      this.call.report({ state: 'ringing', extensions: [...p.extensions] });
      const since = this.monotonic();
      // One picker at a time: the phones keep ringing until the picker's own leg is answered, so a picker
      // that cancels (or sends an unusable offer) leaves the call ringing as before.
      let claimed = false;
      for (const extension of p.extensions) {
        removers.push(
          this.deps.ringing.add({
            extension,
            call: this.call,
            since,
            pick: (picker) => {
              if (done || this.isCancelled || claimed) return false;
              claimed = true;
              this.log.info({ extension, pickedBy: picker.extension.number }, 'call being picked up');
              this.deps.answerPicker(this.call, picker).then(
                (leg) => {
                  claimed = false;
                  if (!leg) return;
                  if (done || this.isCancelled) {
                    this.deps.dropLeg(leg);
                    return;
                  }
                  finish({ kind: 'picked', leg, extension });
                  ringer.cancel();
                },
                (err: unknown) => {
                  claimed = false;
                  this.log.warn({ err: (err as Error).message }, 'pickup failed');
                },
              );
              return true;
            },
          }),
        );
      }
      ringer.outcome.then(
        (o) => {
          if (done) {
            if (o.kind === 'answered') void o.dialog.destroy({ headers: { reason: 'SIP;cause=200;text="Call completed elsewhere"' } });
            return;
          }
          finish(o);
        },
        (err: unknown) => {
          this.log.error({ err }, 'ringing failed');
          finish({ kind: 'cancelled' });
        },
      );
    });
  }
}

function quoteDisplay(name: string): string {
  // Control characters (a line break would end the header) are dropped whatever the source of the name.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  return `"${name.replace(/[\u0000-\u001f\u007f]/g, '').replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
