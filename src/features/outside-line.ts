// Calling an outside number through a trunk (F-TRUNK, F-SCREEN outbound restriction, F-CLIR): the number
// leaves by the longest-prefix route, with a channel of the trunk's limit, presenting the extension's (or
// route's, or trunk's) number — or the original caller, or the called DID, when an outside call is forwarded
// back out. An extension barred from outside calls (callerId none, its class, the restriction list) hears
// a prompt and gets 403.
import type { HibikiConfig } from '../config/schema.js';
import type { PromptCatalogue } from '../media/prompts.js';
import type { SendTarget } from '../sip/transport/types.js';
import { isServiceNumber, outboundVerdict } from '../rules/number-rules.js';
import { failure } from '../pbx/delivery.js';
import type { RouteConfig, Router, TrunkConfig } from '../pbx/router.js';
import { DIRECT, type Arrival, type CallApi, type CallApplication, type DeliveryOutcome, type Feature, type FeatureRegistry, type RingContext } from '../pbx/application.js';
import type { Leg } from '../pbx/leg.js';
import { promptLanguage } from '../pbx/extension-audio.js';

export interface OutsideCall {
  trunk: TrunkConfig;
  route: RouteConfig;
  /** The number as sent to the trunk (after strip/prepend). */
  sent: string;
  /** The number as dialled (after 184/186). */
  dialled: string;
}

export interface TrunkLines {
  acquire(name: string): boolean;
  release(name: string): void;
  target(t: TrunkConfig): Promise<SendTarget>;
  domainOf(t: TrunkConfig): string;
  requestUri(t: TrunkConfig, number: string): string;
}

export interface OutsideLineDeps {
  router: Router;
  trunks: TrunkLines;
  prompts: PromptCatalogue;
}

export class OutsideLine implements Feature, CallApplication<OutsideCall> {
  readonly name = 'outside line';

  constructor(private readonly deps: OutsideLineDeps) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'outbound routes',
      tier: 'outbound',
      resolve: (number) => {
        const out = this.deps.router.route(number);
        return out ? { app: this, args: { trunk: out.trunk, route: out.route, sent: out.number, dialled: number }, callee: { number: out.number }, outbound: true, screening: 'none' } : undefined;
      },
    });
  }

  /** A local device dialled an outside number: its restrictions first, then a trunk channel, then ring. */
  async run(session: CallApi, leg: Leg, out: OutsideCall): Promise<void> {
    const call = session.call;
    const origin = session.origin;
    const config = session.config();
    call.trunk = out.trunk.name;
    if (origin.kind === 'device') {
      const ext = origin.extension;
      // A refusal's CDR names the number as dialled (the caller may not reach the trunk at all).
      const refuse = (status: number, cause: number, reason: string, prompt?: string[]) => {
        call.callee = { number: call.dialled };
        if (prompt) call.feature = 'barred';
        return session.refuse(leg.take({ label: 'outside line refusal', ended: () => undefined }), { status, cause, reason }, { prompt });
      };
      if (ext.callerId === 'none') {
        call.log.info({ dialled: call.dialled }, 'external calls barred for this extension');
        return refuse(403, 21, 'external calls barred');
      }
      // F-SCREEN outbound restriction: the extension's class and the tenant restriction list.
      const verdict = outboundVerdict(out.dialled, ext.outboundClass, config.restrictions);
      if (!verdict.ok) {
        call.log.info({ dialled: call.dialled, reason: verdict.reason }, 'outbound call barred');
        return refuse(403, 21, verdict.reason, [this.deps.prompts.file('call-barred', promptLanguage(config, ext.number))]);
      }
    }
    if (!this.deps.trunks.acquire(out.trunk.name)) {
      call.log.info({ trunk: out.trunk.name }, 'trunk channel limit reached');
      call.callee = { number: call.dialled };
      return session.refuse(leg.take({ label: 'outside line refusal', ended: () => undefined }), { status: 503, cause: 34, reason: 'trunk channel limit' });
    }
    call.once('ended', () => this.deps.trunks.release(out.trunk.name));
    return session.connect(leg, (d) => this.ring(d, out, DIRECT), { channelHeld: true });
  }

  async ring(d: RingContext, out: OutsideCall, arrival: Arrival): Promise<DeliveryOutcome> {
    if (d.cancelled) return { kind: 'cancelled' };
    const { trunks, router } = this.deps;
    const { trunk, route, sent, dialled } = out;
    const { config, call } = d;
    d.arriving({ number: sent }, arrival);
    // Whose outside line this is: the forwarding extension's for a forwarded call, else the caller's.
    const forwarder = arrival.from !== undefined ? router.extension(arrival.from) : undefined;
    const responsible = forwarder ?? d.origin;
    const held = d.channelHeld && arrival.from === undefined;
    // A direct outbound call was checked before it got here; a forwarded hop or a transfer leg is checked
    // against the extension responsible for it (F-SCREEN outbound class, restriction list, callerId none).
    if (!held && responsible) {
      const refusal = outsideRefusal(responsible, dialled, arrival.from !== undefined, config);
      if (refusal) return failure(403, 21, 'failed', refusal);
    }
    let release: (() => void) | undefined;
    if (!held) {
      if (!trunks.acquire(trunk.name)) return failure(503, 34, 'failed', 'trunk channel limit');
      let released = false;
      release = () => {
        if (released) return;
        released = true;
        trunks.release(trunk.name);
      };
      if (d.annotate) call.once('ended', release);
    }
    if (d.annotate) call.trunk = trunk.name;
    let target: SendTarget;
    try {
      target = await trunks.target(trunk);
    } catch (err) {
      release?.();
      call.log.warn({ err: (err as Error).message, trunk: trunk.name }, 'trunk unreachable');
      return failure(503, 38, 'failed', 'trunk unreachable');
    }
    const domain = trunks.domainOf(trunk);
    // F-CLIR: an outside caller forwarded back out is presented as itself, or as the DID it called.
    let presented: string;
    if (call.direction === 'inbound') {
      presented = config.forwarding.presentCalledNumber && d.did ? d.did : d.caller.number;
    } else {
      const own = responsible?.callerId !== undefined && responsible.callerId !== 'none' ? responsible.callerId : undefined;
      presented = own ?? route.callerId ?? trunk.callerId ?? responsible?.number ?? d.caller.number;
    }
    const auth = trunk.password && trunk.username ? { username: trunk.authUsername ?? trunk.username, password: trunk.password } : undefined;
    const outcome = await d.ring({
      contacts: [{ uri: trunks.requestUri(trunk, sent), target, label: `trunk:${trunk.name}` }],
      extensions: [],
      from: d.fromHeader(d.caller.name, presented, domain),
      to: `<sip:${sent}@${domain}>`,
      ringTimeoutSec: d.ringTimeoutSec ?? config.calls.ringTimeout,
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
        return failure(480, 19, 'no_answer', 'ring timeout');
      case 'failed':
        return failure(outcome.status, outcome.cause, outcome.disposition, `callee answered ${outcome.response.status}`, outcome.disposition === 'busy' ? 'callee' : 'system');
    }
  }
}

/** Why an extension may not send a (forwarded or transferred) call to an outside number, or undefined. */
function outsideRefusal(
  responsible: { number: string; callerId?: string; outboundClass: HibikiConfig['extensions'][number]['outboundClass'] },
  dialled: string,
  forwarded: boolean,
  config: HibikiConfig,
): string | undefined {
  if (responsible.callerId === 'none') return `external calls barred for ${responsible.number}`;
  if (forwarded && isServiceNumber(dialled, config.restrictions)) return `${dialled} is an emergency or service number`;
  const v = outboundVerdict(dialled, responsible.outboundClass, config.restrictions);
  return v.ok ? undefined : v.reason;
}
