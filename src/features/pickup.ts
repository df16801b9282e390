// F-PICKUP: answer a call ringing at another extension. `*8` takes the longest-ringing call at a member
// of any pickup group I belong to; `*8` + group number one ringing in that group; `**` + extension that
// extension's ringing call. Nothing to pick up: a prompt and 404 (CDR feature pickup_none).
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { PromptCatalogue } from '../media/prompts.js';
import type { CallApi, CallApplication, Feature, FeatureRegistry } from '../pbx/application.js';
import type { Leg } from '../pbx/leg.js';
import type { RingingCalls } from '../pbx/ringing.js';
import { promptLanguage } from '../pbx/extension-audio.js';

export interface PickupDeps {
  ringing: RingingCalls;
  prompts: PromptCatalogue;
  config: () => HibikiConfig;
  logger: Logger;
}

/** The extensions whose ringing calls a pickup code may take. */
type Scope = Set<string>;

export class CallPickup implements Feature, CallApplication<Scope> {
  readonly name = 'pickup';

  constructor(private readonly deps: PickupDeps) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'pickup codes',
      tier: 'service',
      resolve: (dialled, origin, config) => {
        if (origin.kind !== 'device') return undefined;
        const scope = this.scope(config, origin.extension.number, dialled);
        return scope ? { app: this, args: scope, callee: { number: dialled } } : undefined;
      },
    });
  }

  /** The extensions whose ringing calls this dialled string may take, or undefined when it is not a pickup code. */
  private scope(config: HibikiConfig, picker: string, dialled: string): Scope | undefined {
    const { pickup, directedPickup } = config.serviceCodes;
    let scope: Scope | undefined;
    if (dialled.startsWith(directedPickup) && dialled.length > directedPickup.length) {
      const target = dialled.slice(directedPickup.length);
      scope = /^[0-9]+$/.test(target) ? new Set([target]) : undefined;
    } else if (dialled === pickup) {
      const mine = config.pickupGroups.filter((g) => g.members.includes(picker));
      scope = new Set(mine.flatMap((g) => g.members));
    } else if (dialled.startsWith(pickup)) {
      const group = config.pickupGroups.find((g) => g.number === dialled.slice(pickup.length));
      // An unknown group is still a pickup attempt: the caller hears that there is nothing to pick up.
      scope = new Set(group?.members ?? []);
    }
    scope?.delete(picker);
    return scope;
  }

  async run(session: CallApi, leg: Leg, scope: Scope): Promise<void> {
    const origin = session.origin;
    if (origin.kind !== 'device') return;
    const picker = origin.extension;
    for (const entry of this.deps.ringing.at(scope, picker.number)) {
      if (entry.pick({ session, leg, extension: picker })) {
        this.deps.logger.info({ callId: entry.call.callId, event: 'pickup', extension: entry.extension, pickedUpBy: picker.number }, 'pickup');
        return;
      }
    }
    const call = session.call;
    this.deps.logger.info({ callId: call.callId, event: 'pickup_none', dialled: call.dialled, picker: picker.number }, 'nothing to pick up');
    call.feature = 'pickup_none';
    const lang = promptLanguage(this.deps.config(), picker.number);
    await session.refuse(
      leg.take({ label: 'pickup refusal', ended: () => undefined }),
      { status: 404, cause: 1, reason: 'nothing to pick up' },
      { prompt: [this.deps.prompts.file('pickup-none', lang)] },
    );
  }
}
