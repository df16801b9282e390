// Calling an extension (F-USER, F-DEVICE, F-FWD): every registered device rings in parallel, with the
// extension's forwarding — CFU first, then DND and busy (CFB), not registered (CFUR), ringing with its
// no-answer time (CFNA), and the device's own failures (busy → CFB; 404/480/408/503 or silence → CFUR).
// A forwarding chain follows the destination's own forwarding up to forwarding.maxForwardHops; a loop, the
// hop limit or a destination barred since it was set stop it at the last reachable hop.
import type { SendTarget } from '../sip/transport/types.js';
import { outboundVerdict } from '../rules/number-rules.js';
import { failure } from '../pbx/delivery.js';
import type { Router, ExtensionConfig } from '../pbx/router.js';
import type { RingTarget } from '../pbx/ringer.js';
import { DIRECT, type Arrival, type CallApi, type CallApplication, type DeliveryOutcome, type Feature, type FeatureRegistry, type RingContext } from '../pbx/application.js';
import type { Leg } from '../pbx/leg.js';
import type { ForwardFeature } from '../pbx/call.js';
import type { EffectiveForwarding } from './forwarding.js';

export interface Contacts {
  /** The registered devices of an extension, with where to reach each. */
  contacts(aor: string): Array<{ binding: { contact: string; reachable: boolean; webrtc?: boolean }; target: SendTarget }>;
}

/** Every device of several extensions that can be rung now, and whose each is (a group's or a queue's agents). */
export function ringTargetsOf(contacts: Contacts, extensions: readonly string[]): { targets: RingTarget[]; extensionOf: Map<string, string> } {
  const targets: RingTarget[] = [];
  const extensionOf = new Map<string, string>();
  for (const ext of extensions) {
    for (const t of ringTargets(contacts, ext)) {
      extensionOf.set(t.label, ext);
      targets.push(t);
    }
  }
  return { targets, extensionOf };
}

/** The devices of an extension that can be rung now. */
export function ringTargets(contacts: Contacts, extension: string): RingTarget[] {
  return contacts
    .contacts(extension)
    .filter((c) => c.binding.reachable)
    .map((c) => ({ uri: c.binding.contact, target: c.target, label: c.binding.contact, webrtc: c.binding.webrtc === true }));
}

export interface ExtensionDeps {
  router: Router;
  registrar: Contacts;
  forwarding: { effective(extension: string): EffectiveForwarding };
  /** Calls the extension is part of now (busy and call-waiting decisions). */
  callsOf(extension: string): number;
}

export class Extensions implements Feature, CallApplication<ExtensionConfig> {
  readonly name = 'extension';

  constructor(private readonly deps: ExtensionDeps) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'extensions',
      tier: 'local',
      resolve: (number) => {
        const ext = this.deps.router.extension(number);
        return ext ? { app: this, args: ext, callee: { number: ext.number, name: ext.name }, screening: { extension: ext.number } } : undefined;
      },
    });
  }

  run(session: CallApi, leg: Leg, ext: ExtensionConfig): Promise<void> {
    return session.connect(leg, (d) => this.ring(d, ext, DIRECT));
  }

  async ring(d: RingContext, ext: ExtensionConfig, arrival: Arrival): Promise<DeliveryOutcome> {
    if (d.cancelled) return { kind: 'cancelled' };
    const { config, call } = d;
    const startedAt = d.now();
    d.visit(ext.number);
    const party = { number: ext.number, name: ext.name };
    d.arriving(party, arrival);
    if (ext.suspended) return failure(480, 20, 'failed', 'callee suspended');
    const fw = this.deps.forwarding.effective(ext.number);

    /** Leave this extension for its forwarding destination, or undefined when the chain must stop here. */
    const forward = (target: string | undefined, feature: ForwardFeature, why: { q850: number; status?: number; reason: string }): Promise<DeliveryOutcome> | undefined => {
      if (target === undefined || d.cancelled) return undefined;
      // F-VM: `voicemail` is this extension's own box, a destination the dial plan resolves as voicemail:<box>.
      const destination = target === 'voicemail' ? `voicemail:${ext.number}` : target;
      if (d.hops >= config.forwarding.maxForwardHops) {
        call.log.info({ extension: ext.number, destination, hops: d.hops }, 'forwarding stops: hop limit');
        return undefined;
      }
      if (d.visited(destination)) {
        call.log.info({ extension: ext.number, destination }, 'forwarding stops: loop');
        return undefined;
      }
      // A destination barred since it was set (restriction list, class) is skipped like a loop: the call
      // stays with this extension instead of failing for the caller.
      const barred = this.outsideBarred(ext, destination, d);
      if (barred) {
        call.log.warn({ extension: ext.number, destination, reason: barred }, 'forwarding stops: destination barred');
        return undefined;
      }
      call.log.info({ extension: ext.number, destination, feature, hop: d.hops + 1 }, 'call forwarded');
      return d.forward(
        { party, arrival, startedAt },
        destination,
        { from: ext.number, feature },
        {
          q850: why.q850,
          status: why.status,
          reason: `${why.reason}; forwarded (${feature.slice('forward_'.length)}) to ${destination}`,
        },
      );
    };

    // CFU excludes the others; a loop or the hop limit leaves the call ringing here (the last reachable hop).
    const cfu = forward(fw.cfu, 'forward_cfu', { q850: 16, reason: 'unconditional forwarding' });
    if (cfu) return cfu;

    if (fw.dnd) return forward(fw.cfb, 'forward_cfb', { q850: 17, status: 486, reason: 'do not disturb' }) ?? failure(486, 17, 'busy', 'callee in do-not-disturb', 'callee');
    if (!ext.callWaiting && this.deps.callsOf(ext.number) > 0) {
      return forward(fw.cfb, 'forward_cfb', { q850: 17, status: 486, reason: 'busy' }) ?? failure(486, 17, 'busy', 'callee in a call (no call waiting)', 'callee');
    }
    const contacts = ringTargets(this.deps.registrar, ext.number);
    if (contacts.length === 0) {
      return forward(fw.cfur, 'forward_cfur', { q850: 20, status: 480, reason: 'not registered' }) ?? failure(480, 20, 'failed', 'callee not registered');
    }
    const ringTimeout = fw.cfna !== undefined ? fw.noAnswerTimeout : (d.ringTimeoutSec ?? ext.ringTimeout ?? config.calls.ringTimeout);
    const outcome = await d.ring({
      contacts,
      extensions: [ext.number],
      from: d.fromHeader(d.caller.name),
      to: `<sip:${ext.number}@${config.tenant.domain}>`,
      ringTimeoutSec: ringTimeout,
      local: true,
      noResponseTimeoutSec: fw.cfur !== undefined ? config.forwarding.unreachableTimeout : undefined,
    });
    switch (outcome.kind) {
      case 'answered':
        return { kind: 'answered', dialog: outcome.dialog, label: outcome.label, party, extension: ext.number };
      case 'picked':
      case 'cancelled':
        return outcome;
      case 'timeout':
        return forward(fw.cfna, 'forward_cfna', { q850: 19, status: 480, reason: 'no answer' }) ?? failure(480, 19, 'no_answer', 'ring timeout');
      case 'unresponsive':
        return forward(fw.cfur, 'forward_cfur', { q850: 18, status: 408, reason: 'no response from the device' }) ?? failure(480, 18, 'no_answer', 'no response from the device');
      case 'failed': {
        const f = failure(outcome.status, outcome.cause, outcome.disposition, `callee answered ${outcome.response.status}`, outcome.disposition === 'busy' ? 'callee' : 'system');
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
  private outsideBarred(forwarder: ExtensionConfig, destination: string, d: RingContext): string | undefined {
    const { router } = this.deps;
    if (router.isLocal(destination) || !router.route(destination)) return undefined;
    if (forwarder.callerId === 'none') return 'external calls barred for this extension';
    const v = outboundVerdict(destination, forwarder.outboundClass, d.config.restrictions);
    return v.ok ? undefined : v.reason;
  }
}
