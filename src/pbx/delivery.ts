// Where a call goes once the dial plan has named a destination, until someone answers or it fails:
// an extension with its forwarding (F-FWD: CFU → DND/busy → unreachable → ring → no answer, chains up
// to forwarding.maxForwardHops, a loop stopping at the last reachable hop), a hunt group or department
// (F-HUNT, F-DEPT), or an outside number through a trunk. Every extension that rings can be picked up
// (F-PICKUP) while it rings. One Delivery serves one callee side of one call.
import type { HibikiConfig } from '../config/schema.js';
import type { SipResponse } from '../sip/message.js';
import type { SipStack } from '../sip/stack.js';
import type { Dialog } from '../sip/dialog.js';
import { performance } from 'node:perf_hooks';
import { isServiceNumber, outboundVerdict } from './number-rules.js';
import type { Call, Disposition, ForwardFeature, HangupBy, Leg, Party } from './call.js';
import type { DialContext } from './b2bua.js';
import type { Registrar } from './registrar.js';
import type { ExtensionConfig, GroupConfig, RouteConfig, Router, TrunkConfig } from './router.js';
import type { TrunkManager } from './trunks.js';
import { Ringer, type RingOutcome, type RingTarget } from './ringer.js';
import type { RingingCalls } from './ringing.js';
import type { HuntGroups } from './hunt.js';
import type { EffectiveForwarding } from './forwarding.js';

export interface ForwardingLookup {
  effective(extension: string): EffectiveForwarding;
}

export interface DeliveryDeps {
  stack: SipStack;
  registrar: Registrar;
  router: Router;
  trunks: TrunkManager;
  forwarding: ForwardingLookup;
  hunt: HuntGroups;
  ringing: RingingCalls;
  /** Calls the extension is part of now (busy and call-waiting decisions). */
  callsOf: (extension: string) => number;
  /** Wall-clock time for CDR hop times (ring and group deadlines use a monotonic clock). */
  now: () => number;
  /** Answer a picker's INVITE into the call (its own leg, wired but not bridged); undefined when it went away. */
  answerPicker: (call: Call, picker: DialContext) => Promise<Leg | undefined>;
  dropLeg: (leg: Leg) => void;
}

export type DeliveryOutcome =
  | {
      kind: 'answered';
      dialog: Dialog;
      label: string;
      party: Party;
      extension: string | undefined;
      group?: GroupConfig;
      /** Gives back what the answered destination holds (a trunk channel) once its leg ends. */
      release?: () => void;
    }
  | { kind: 'picked'; leg: Leg; extension: string }
  | { kind: 'failed'; status: number; cause: number; disposition: Disposition; reason: string; hangupBy: HangupBy }
  | { kind: 'cancelled' };

type Failed = Extract<DeliveryOutcome, { kind: 'failed' }>;

export interface DeliveryOptions {
  /** SDP offer sent to every destination (the callee-side media endpoint's). */
  offer: string;
  presentation: 'present' | 'withhold';
  maxForwards: number;
  /** The extension that placed the call (outside presentation and restrictions of direct calls). */
  origin: ExtensionConfig | undefined;
  /** The DID an inbound call arrived on (F-CLIR presentCalledNumber). */
  did?: string;
  /** The trunk channel for a direct outbound call was already taken by the caller's side. */
  channelHeld?: boolean;
  onProvisional?: (r: SipResponse) => void;
  /** Who the destinations see calling (a transfer presents the transferred party); default the call's caller. */
  caller?: Party;
  /** Ring time of an extension instead of its own (transfer targets ring for calls.transferRingTimeout). */
  ringTimeoutSec?: number;
  /**
   * Whether the call's callee, forwarding hops and feature describe this delivery (false for an extra
   * leg dialled for a feature such as a transfer, whose CDR says what the feature did).
   */
  annotate?: boolean;
}

/** How the call reached the destination being tried: through whose forwarding, and why. */
interface Arrival {
  from: string | undefined;
  feature: ForwardFeature | undefined;
}

const DIRECT: Arrival = { from: undefined, feature: undefined };

function fail(status: number, cause: number, disposition: Disposition, reason: string, hangupBy: HangupBy = 'system'): Failed {
  return { kind: 'failed', status, cause, disposition, reason, hangupBy };
}

export class Delivery {
  private cancelled = false;
  private stopRinging: (() => void) | undefined;
  private hops = 0;
  /** Extensions the call has been offered to (loop detection). */
  private visited = new Set<string>();

  private readonly caller: Party;
  private readonly annotate: boolean;

  constructor(
    private readonly deps: DeliveryDeps,
    private readonly config: HibikiConfig,
    private readonly call: Call,
    private readonly opts: DeliveryOptions,
  ) {
    this.caller = opts.caller ?? call.caller;
    this.annotate = opts.annotate ?? true;
  }

  /** Record on the call where it is going now (CDR callee, forwarded_from, feature). */
  private arriving(callee: Party, arrival: Arrival): void {
    if (!this.annotate) return;
    this.call.callee = callee;
    this.call.forwardedFrom = arrival.from;
    if (arrival.feature) this.call.feature = arrival.feature;
  }

  /** The caller gave up: stop whatever is ringing; the pending delivery resolves as cancelled. */
  cancel(): void {
    this.cancelled = true;
    this.stopRinging?.();
  }

  /** Deliver to a dialled number (extension, group or outside number). */
  toNumber(number: string, arrival: Arrival = DIRECT): Promise<DeliveryOutcome> {
    const resolution = this.deps.router.resolve(number);
    const t = resolution.target;
    if (t.kind === 'extension') return this.toExtension(t.extension, arrival);
    if (t.kind === 'group') return this.toGroup(t.group, arrival);
    if (t.kind === 'trunk') return this.toTrunk(t.trunk, t.route, t.number, resolution.number, arrival);
    return Promise.resolve(fail(404, 1, 'failed', `unknown number ${number}`));
  }

  // ---- extensions and forwarding (F-FWD) ----------------------------------------------

  async toExtension(ext: ExtensionConfig, arrival: Arrival = DIRECT): Promise<DeliveryOutcome> {
    if (this.cancelled) return { kind: 'cancelled' };
    const startedAt = this.deps.now();
    this.visited.add(ext.number);
    this.arriving({ number: ext.number, name: ext.name }, arrival);
    if (ext.suspended) return fail(480, 20, 'failed', 'callee suspended');
    const fw = this.deps.forwarding.effective(ext.number);

    /** Leave this extension for its forwarding destination, or undefined when the chain must stop here. */
    const forward = (destination: string | undefined, feature: ForwardFeature, why: { q850: number; status?: number; reason: string }): Promise<DeliveryOutcome> | undefined => {
      if (destination === undefined || this.cancelled) return undefined;
      if (this.hops >= this.config.forwarding.maxForwardHops) {
        this.call.log.info({ extension: ext.number, destination, hops: this.hops }, 'forwarding stops: hop limit');
        return undefined;
      }
      if (this.visited.has(destination)) {
        this.call.log.info({ extension: ext.number, destination }, 'forwarding stops: loop');
        return undefined;
      }
      // A destination barred since it was set (restriction list, class) is skipped like a loop: the call
      // stays with this extension instead of failing for the caller.
      const barred = this.outsideBarred(ext, destination);
      if (barred) {
        this.call.log.warn({ extension: ext.number, destination, reason: barred }, 'forwarding stops: destination barred');
        return undefined;
      }
      this.hops++;
      if (this.annotate) this.call.hops.push({
        callee: { number: ext.number, name: ext.name },
        forwardedFrom: arrival.from,
        feature: arrival.feature,
        startedAt,
        endedAt: this.deps.now(),
        q850: why.q850,
        sipStatus: why.status,
        reason: `${why.reason}; forwarded (${feature.slice('forward_'.length)}) to ${destination}`,
      });
      this.call.log.info({ extension: ext.number, destination, feature, hop: this.hops }, 'call forwarded');
      return this.toNumber(destination, { from: ext.number, feature });
    };

    // CFU excludes the others; a loop or the hop limit leaves the call ringing here (the last reachable hop).
    const cfu = forward(fw.cfu, 'forward_cfu', { q850: 16, reason: 'unconditional forwarding' });
    if (cfu) return cfu;

    if (fw.dnd) return forward(fw.cfb, 'forward_cfb', { q850: 17, status: 486, reason: 'do not disturb' }) ?? fail(486, 17, 'busy', 'callee in do-not-disturb', 'callee');
    if (!ext.callWaiting && this.deps.callsOf(ext.number) > 0) {
      return forward(fw.cfb, 'forward_cfb', { q850: 17, status: 486, reason: 'busy' }) ?? fail(486, 17, 'busy', 'callee in a call (no call waiting)', 'callee');
    }
    const contacts = this.contactsOf(ext.number);
    if (contacts.length === 0) {
      return forward(fw.cfur, 'forward_cfur', { q850: 20, status: 480, reason: 'not registered' }) ?? fail(480, 20, 'failed', 'callee not registered');
    }
    const ringTimeout = fw.cfna !== undefined ? fw.noAnswerTimeout : (this.opts.ringTimeoutSec ?? ext.ringTimeout ?? this.config.calls.ringTimeout);
    const outcome = await this.ring({
      contacts,
      extensions: [ext.number],
      from: this.fromHeader(this.caller.name),
      to: `<sip:${ext.number}@${this.config.tenant.domain}>`,
      ringTimeoutSec: ringTimeout,
      local: true,
      noResponseTimeoutSec: fw.cfur !== undefined ? this.config.forwarding.unreachableTimeout : undefined,
    });
    switch (outcome.kind) {
      case 'answered':
        return { kind: 'answered', dialog: outcome.dialog, label: outcome.label, party: { number: ext.number, name: ext.name }, extension: ext.number };
      case 'picked':
      case 'cancelled':
        return outcome;
      case 'timeout':
        return forward(fw.cfna, 'forward_cfna', { q850: 19, status: 480, reason: 'no answer' }) ?? fail(480, 19, 'no_answer', 'ring timeout');
      case 'unresponsive':
        return forward(fw.cfur, 'forward_cfur', { q850: 18, status: 408, reason: 'no response from the device' }) ?? fail(480, 18, 'no_answer', 'no response from the device');
      case 'failed': {
        const f = fail(outcome.status, outcome.cause, outcome.disposition, `callee answered ${outcome.response.status}`, outcome.disposition === 'busy' ? 'callee' : 'system');
        if (outcome.disposition === 'busy') return forward(fw.cfb, 'forward_cfb', { q850: outcome.cause, status: outcome.response.status, reason: 'busy' }) ?? f;
        const st = outcome.response.status;
        if (st === 404 || st === 480 || st === 408 || st === 503) {
          return forward(fw.cfur, 'forward_cfur', { q850: outcome.cause, status: st, reason: `device answered ${st}` }) ?? f;
        }
        return f;
      }
    }
  }

  /** Why `forwarder` may not forward to an outside `destination` now, or undefined when it may (or it is local). */
  private outsideBarred(forwarder: ExtensionConfig, destination: string): string | undefined {
    const target = this.deps.router.resolve(destination).target;
    if (target.kind !== 'trunk') return undefined;
    if (forwarder.callerId === 'none') return 'external calls barred for this extension';
    const v = outboundVerdict(destination, forwarder.outboundClass, this.config.restrictions);
    return v.ok ? undefined : v.reason;
  }

  // ---- hunt groups and departments (F-HUNT, F-DEPT) ------------------------------------------

  async toGroup(group: GroupConfig, arrival: Arrival = DIRECT): Promise<DeliveryOutcome> {
    if (this.cancelled) return { kind: 'cancelled' };
    const startedAt = this.deps.now();
    const deadline = performance.now() + group.timeout * 1000;
    if (this.visited.has(group.number)) return fail(482, 25, 'failed', `group ${group.number} reached twice`);
    this.visited.add(group.number);
    this.arriving({ number: group.number, name: group.name }, arrival);
    const from = this.fromHeader(group.displayPrefix !== undefined ? `${group.displayPrefix}${this.caller.name ?? this.caller.number}` : this.caller.name);
    let rang = false;
    let firstNoted = false;

    const available = (): Set<string> => {
      const ok = new Set<string>();
      for (const m of group.members) {
        const ext = this.deps.router.extension(m);
        if (!ext || ext.suspended) continue;
        if (this.deps.forwarding.effective(m).dnd) continue;
        // A member already in a call is busy for the group, call waiting or not.
        if (this.deps.callsOf(m) > 0) continue;
        if (this.contactsOf(m).length === 0) continue;
        ok.add(m);
      }
      return ok;
    };

    const answered = (o: Extract<RingOutcome, { kind: 'answered' }>, member: string): DeliveryOutcome => {
      const ext = this.deps.router.extension(member);
      return { kind: 'answered', dialog: o.dialog, label: o.label, party: { number: member, name: ext?.name }, extension: member, group };
    };

    if (group.strategy === 'ringall') {
      const members = this.deps.hunt.order(group, available());
      if (members.length > 0) {
        rang = true;
        const byContact = new Map<string, string>();
        const contacts: RingTarget[] = [];
        for (const m of members) {
          for (const c of this.contactsOf(m)) {
            byContact.set(c.label, m);
            contacts.push(c);
          }
        }
        const outcome = await this.ring({
          contacts,
          extensions: members,
          from,
          to: `<sip:${group.number}@${this.config.tenant.domain}>`,
          ringTimeoutSec: group.timeout,
          local: true,
        });
        if (outcome.kind === 'answered') return answered(outcome, byContact.get(outcome.label) ?? members[0]!);
        if (outcome.kind === 'picked' || outcome.kind === 'cancelled') return outcome;
      }
    } else {
      // Hunt through the members until the group timeout, going round again while time is left; a
      // pass in which nobody could be rung (all busy, failing at once) ends the hunt early.
      for (;;) {
        const order = this.deps.hunt.order(group, available());
        let rungThisPass = false;
        for (const member of order) {
          const left = deadline - performance.now();
          if (left < 1000 || this.cancelled) break;
          if (!available().has(member)) continue;
          if (!firstNoted) {
            this.deps.hunt.triedFirst(group, member, this.deps.now());
            firstNoted = true;
          }
          rang = true;
          const before = performance.now();
          const outcome = await this.ring({
            contacts: this.contactsOf(member),
            extensions: [member],
            from,
            to: `<sip:${member}@${this.config.tenant.domain}>`,
            ringTimeoutSec: Math.min(group.memberRingTime, Math.ceil(left / 1000)),
            local: true,
          });
          if (outcome.kind === 'answered') return answered(outcome, member);
          if (outcome.kind === 'picked' || outcome.kind === 'cancelled') return outcome;
          if (outcome.kind === 'timeout' || performance.now() - before >= 1000) rungThisPass = true;
          this.call.log.info({ group: group.number, member, result: outcome.kind }, 'hunt member did not answer');
        }
        if (!rungThisPass || deadline - performance.now() < 1000 || this.cancelled) break;
      }
    }
    if (this.cancelled) return { kind: 'cancelled' };

    const why = rang ? { q850: 19, status: 480, reason: 'no member answered' } : { q850: 17, status: 486, reason: 'every member busy or unavailable' };
    const next = group.noAnswerDestination;
    if (next !== undefined && this.hops < this.config.forwarding.maxForwardHops && !this.visited.has(next)) {
      this.hops++;
      if (this.annotate) this.call.hops.push({ callee: { number: group.number, name: group.name }, forwardedFrom: arrival.from, feature: arrival.feature, startedAt, endedAt: this.deps.now(), q850: why.q850, sipStatus: why.status, reason: `${why.reason}; to noAnswerDestination ${next}` });
      this.call.log.info({ group: group.number, destination: next }, 'group not answered: noAnswerDestination');
      return this.toNumber(next, { from: group.number, feature: undefined });
    }
    return rang ? fail(480, 19, 'no_answer', `group ${group.number}: no member answered`) : fail(486, 17, 'busy', `group ${group.number}: every member busy or unavailable`);
  }

  // ---- outside numbers ------------------------------------------------------------------------

  async toTrunk(trunk: TrunkConfig, route: RouteConfig, sent: string, dialled: string, arrival: Arrival = DIRECT): Promise<DeliveryOutcome> {
    if (this.cancelled) return { kind: 'cancelled' };
    const { trunks } = this.deps;
    this.arriving({ number: sent }, arrival);
    // Whose outside line this is: the forwarding extension's for a forwarded call, else the caller's.
    const forwarder = arrival.from !== undefined ? this.deps.router.extension(arrival.from) : undefined;
    const responsible = forwarder ?? this.opts.origin;
    const held = this.opts.channelHeld === true && arrival.from === undefined;
    // A direct outbound call was checked before it got here; a forwarded hop or a transfer leg is checked
    // against the extension responsible for it (F-SCREEN outbound class, restriction list, callerId none).
    if (!held && responsible) {
      if (responsible.callerId === 'none') return fail(403, 21, 'failed', `external calls barred for ${responsible.number}`);
      if (arrival.from !== undefined && isServiceNumber(dialled, this.config.restrictions)) return fail(403, 21, 'failed', `${dialled} is an emergency or service number`);
      const v = outboundVerdict(dialled, responsible.outboundClass, this.config.restrictions);
      if (!v.ok) return fail(403, 21, 'failed', v.reason);
    }
    let release: (() => void) | undefined;
    if (!held) {
      if (!trunks.acquire(trunk.name)) return fail(503, 34, 'failed', 'trunk channel limit');
      let released = false;
      release = () => {
        if (released) return;
        released = true;
        trunks.release(trunk.name);
      };
      if (this.annotate) this.call.once('ended', release);
    }
    if (this.annotate) this.call.trunk = trunk.name;
    let target;
    try {
      target = await trunks.target(trunk);
    } catch (err) {
      release?.();
      this.call.log.warn({ err: (err as Error).message, trunk: trunk.name }, 'trunk unreachable');
      return fail(503, 38, 'failed', 'trunk unreachable');
    }
    const domain = trunks.domainOf(trunk);
    // F-CLIR: an outside caller forwarded back out is presented as itself, or as the DID it called.
    let presented: string;
    if (this.call.direction === 'inbound') {
      presented = this.config.forwarding.presentCalledNumber && this.opts.did ? this.opts.did : this.caller.number;
    } else {
      const own = responsible?.callerId !== undefined && responsible.callerId !== 'none' ? responsible.callerId : undefined;
      presented = own ?? route.callerId ?? trunk.callerId ?? responsible?.number ?? this.caller.number;
    }
    const auth = trunk.password && trunk.username ? { username: trunk.authUsername ?? trunk.username, password: trunk.password } : undefined;
    const outcome = await this.ring({
      contacts: [{ uri: trunks.requestUri(trunk, sent), target, label: `trunk:${trunk.name}` }],
      extensions: [],
      from: this.fromHeader(this.caller.name, presented, domain),
      to: `<sip:${sent}@${domain}>`,
      ringTimeoutSec: this.opts.ringTimeoutSec ?? this.config.calls.ringTimeout,
      local: false,
      auth,
      assertedIdentity: `<sip:${presented}@${domain}>`,
    });
    if (outcome.kind !== 'answered') release?.();
    switch (outcome.kind) {
      case 'answered':
        return { kind: 'answered', dialog: outcome.dialog, label: outcome.label, party: { number: sent }, extension: undefined, release };
      case 'picked':
      case 'cancelled':
        return outcome;
      case 'timeout':
      case 'unresponsive':
        return fail(480, 19, 'no_answer', 'ring timeout');
      case 'failed':
        return fail(outcome.status, outcome.cause, outcome.disposition, `callee answered ${outcome.response.status}`, outcome.disposition === 'busy' ? 'callee' : 'system');
    }
  }

  // ---- ringing --------------------------------------------------------------------------------

  private contactsOf(extension: string): RingTarget[] {
    return this.deps.registrar
      .contacts(extension)
      .filter((c) => c.binding.reachable)
      .map((c) => ({ uri: c.binding.contact, target: c.target, label: c.binding.contact }));
  }

  /** The From of the INVITE: the caller as presented (F-CLIR), or Anonymous when withheld. */
  private fromHeader(name: string | undefined, number = this.caller.number, domain = this.config.tenant.domain): string {
    if (this.opts.presentation === 'withhold') return '"Anonymous" <sip:anonymous@anonymous.invalid>';
    return `${name ? `${quoteDisplay(name)} ` : ''}<sip:${number}@${domain}>`;
  }

  private ring(p: {
    contacts: RingTarget[];
    extensions: string[];
    from: string;
    to: string;
    ringTimeoutSec: number;
    local: boolean;
    noResponseTimeoutSec?: number;
    auth?: { username: string; password: string };
    assertedIdentity?: string;
  }): Promise<RingOutcome | { kind: 'picked'; leg: Leg; extension: string }> {
    if (this.cancelled) return Promise.resolve({ kind: 'cancelled' });
    const headers: [string, string][] = [['max-forwards', String(Math.max(0, this.opts.maxForwards - 1 - this.hops))]];
    if (this.opts.presentation === 'withhold') {
      headers.push(['privacy', 'id']);
      // RFC 3325: the asserted identity travels only toward a trusted trunk, which strips it onward.
      if (!p.local && p.assertedIdentity) headers.push(['p-asserted-identity', p.assertedIdentity]);
    }
    return new Promise((resolve) => {
      let done = false;
      const removers: Array<() => void> = [];
      const finish = (o: RingOutcome | { kind: 'picked'; leg: Leg; extension: string }) => {
        if (done) return;
        done = true;
        for (const r of removers) r();
        this.stopRinging = undefined;
        resolve(o);
      };
      const ringer = new Ringer(this.deps.stack, {
        contacts: p.contacts,
        offer: this.opts.offer,
        from: p.from,
        to: p.to,
        headers,
        auth: p.auth,
        ringTimeoutSec: p.ringTimeoutSec,
        local: p.local,
        noResponseTimeoutSec: p.noResponseTimeoutSec,
        log: this.call.log,
        onProvisional: (r) => {
          if (!done) this.opts.onProvisional?.(r);
        },
      });
      this.stopRinging = () => ringer.cancel();
      const since = performance.now();
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
              if (done || this.cancelled || claimed) return false;
              claimed = true;
              this.call.log.info({ extension, pickedBy: picker.extension.number }, 'call being picked up');
              void this.deps.answerPicker(this.call, picker).then(
                (leg) => {
                  claimed = false;
                  if (!leg) return;
                  if (done || this.cancelled) {
                    this.deps.dropLeg(leg);
                    return;
                  }
                  finish({ kind: 'picked', leg, extension });
                  ringer.cancel();
                },
                (err: unknown) => {
                  claimed = false;
                  this.call.log.warn({ err: (err as Error).message }, 'pickup failed');
                },
              );
              return true;
            },
          }),
        );
      }
      void ringer.outcome.then((o) => {
        if (done) {
          if (o.kind === 'answered') void o.dialog.destroy({ headers: { reason: 'SIP;cause=200;text="Call completed elsewhere"' } });
          return;
        }
        finish(o);
      });
    });
  }
}

function quoteDisplay(name: string): string {
  return `"${name.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
