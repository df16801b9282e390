// Calling a hunt group or department (F-HUNT, F-DEPT): ringall rings every available member at once for the
// group timeout; the other strategies hunt member by member (memberRingTime each) in the order of
// features/hunt.ts, going round again while the group timeout lasts. Busy, DND, suspended and unregistered
// members are skipped. Nobody answering sends the call to the group's noAnswerDestination.
import { failure } from '../pbx/delivery.js';
import type { GroupConfig, Router } from '../pbx/router.js';
import { DIRECT, type Arrival, type CallApi, type CallApplication, type DeliveryOutcome, type Feature, type FeatureRegistry, type RingContext, type RingResult } from '../pbx/application.js';
import type { Leg } from '../pbx/leg.js';
import type { HuntGroups } from './hunt.js';
import { ringTargets, ringTargetsOf, type Contacts } from './extension.js';

export interface GroupDeps {
  router: Router;
  registrar: Contacts;
  forwarding: { effective(extension: string): { dnd: boolean } };
  hunt: HuntGroups;
  callsOf(extension: string): number;
}

export class Groups implements Feature, CallApplication<GroupConfig> {
  readonly name = 'group';

  constructor(private readonly deps: GroupDeps) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'groups',
      tier: 'local',
      resolve: (number) => {
        const group = this.deps.router.group(number);
        // A group has no block list of its own: the tenant's applies.
        return group ? { app: this, args: group, callee: { number: group.number, name: group.name }, screening: {} } : undefined;
      },
    });
  }

  run(session: CallApi, leg: Leg, group: GroupConfig): Promise<void> {
    return session.connect(leg, (d) => this.ring(d, group, DIRECT));
  }

  /** Members that may ring now. */
  private available(group: GroupConfig): Set<string> {
    const ok = new Set<string>();
    for (const m of group.members) {
      const ext = this.deps.router.extension(m);
      if (!ext || ext.suspended) continue;
      if (this.deps.forwarding.effective(m).dnd) continue;
      // A member already in a call is busy for the group, call waiting or not.
      if (this.deps.callsOf(m) > 0) continue;
      if (ringTargets(this.deps.registrar, m).length === 0) continue;
      ok.add(m);
    }
    return ok;
  }

  async ring(d: RingContext, group: GroupConfig, arrival: Arrival): Promise<DeliveryOutcome> {
    if (d.cancelled) return { kind: 'cancelled' };
    const { config, call } = d;
    const { hunt, router } = this.deps;
    const startedAt = d.now();
    const deadline = d.monotonic() + group.timeout * 1000;
    if (d.visited(group.number)) return failure(482, 25, 'failed', `group ${group.number} reached twice`);
    d.visit(group.number);
    const party = { number: group.number, name: group.name };
    d.arriving(party, arrival);
    const from = d.fromHeader(group.displayPrefix !== undefined ? `${group.displayPrefix}${d.caller.name ?? d.caller.number}` : d.caller.name);
    let rang = false;
    let firstNoted = false;

    const answered = (o: Extract<RingResult, { kind: 'answered' }>, member: string): DeliveryOutcome => ({
      kind: 'answered',
      dialog: o.dialog,
      label: o.label,
      party: { number: member, name: router.extension(member)?.name },
      extension: member,
      whenCallEnds: () => hunt.callEnded(group, member, d.now()),
    });

    if (group.strategy === 'ringall') {
      const members = hunt.order(group, this.available(group));
      if (members.length > 0) {
        rang = true;
        const { targets: contacts, extensionOf } = ringTargetsOf(this.deps.registrar, members);
        const outcome = await d.ring({ contacts, extensions: members, from, to: `<sip:${group.number}@${config.tenant.domain}>`, ringTimeoutSec: group.timeout, local: true });
        if (outcome.kind === 'answered') return answered(outcome, extensionOf.get(outcome.label) ?? members[0]!);
        if (outcome.kind === 'picked' || outcome.kind === 'cancelled') return outcome;
      }
    } else {
      // Hunt through the members until the group timeout, going round again while time is left; a
      // pass in which nobody could be rung (all busy, failing at once) ends the hunt early.
      for (;;) {
        const order = hunt.order(group, this.available(group));
        let rungThisPass = false;
        for (const member of order) {
          const left = deadline - d.monotonic();
          if (left < 1000 || d.cancelled) break;
          if (!this.available(group).has(member)) continue;
          if (!firstNoted) {
            hunt.triedFirst(group, member, d.now());
            firstNoted = true;
          }
          rang = true;
          const before = d.monotonic();
          const outcome = await d.ring({
            contacts: ringTargets(this.deps.registrar, member),
            extensions: [member],
            from,
            to: `<sip:${member}@${config.tenant.domain}>`,
            ringTimeoutSec: Math.min(group.memberRingTime, Math.ceil(left / 1000)),
            local: true,
          });
          if (outcome.kind === 'answered') return answered(outcome, member);
          if (outcome.kind === 'picked' || outcome.kind === 'cancelled') return outcome;
          if (outcome.kind === 'timeout' || d.monotonic() - before >= 1000) rungThisPass = true;
          call.log.info({ group: group.number, member, result: outcome.kind }, 'hunt member did not answer');
        }
        if (!rungThisPass || deadline - d.monotonic() < 1000 || d.cancelled) break;
      }
    }
    if (d.cancelled) return { kind: 'cancelled' };

    const why = rang ? { q850: 19, status: 480, reason: 'no member answered' } : { q850: 17, status: 486, reason: 'every member busy or unavailable' };
    const next = group.noAnswerDestination;
    if (next !== undefined && d.hops < config.forwarding.maxForwardHops && !d.visited(next)) {
      call.log.info({ group: group.number, destination: next }, 'group not answered: noAnswerDestination');
      const forwarded = d.forward({ party, arrival, startedAt }, next, { from: group.number, feature: undefined }, { ...why, reason: `${why.reason}; to noAnswerDestination ${next}` });
      if (forwarded) return forwarded;
    }
    return rang ? failure(480, 19, 'no_answer', `group ${group.number}: no member answered`) : failure(486, 17, 'busy', `group ${group.number}: every member busy or unavailable`);
  }
}
