// F-PICKUP: answer a call ringing at another extension. `*8` takes the longest-ringing call at a member
// of any pickup group I belong to; `*8` + group number one ringing in that group; `**` + extension that
// extension's ringing call. Nothing to pick up: a prompt and 404 (CDR feature pickup_none).
import type { HibikiConfig } from '../config/schema.js';
import type { PromptCatalogue } from '../media/prompts.js';
import type { CallManager, DialContext } from '../pbx/b2bua.js';
import type { RingingCalls } from '../pbx/ringing.js';
import { normaliseDialled } from '../pbx/router.js';
import { answerOnFailure } from '../pbx/failures.js';
import { refuseWithPrompt, type AnnounceDeps } from './announce.js';
import { promptLanguage } from './extension-audio.js';

export interface PickupDeps extends AnnounceDeps {
  ringing: RingingCalls;
  prompts: PromptCatalogue;
  config: () => HibikiConfig;
}

export class CallPickup {
  constructor(private readonly deps: PickupDeps) {}

  start(calls: CallManager): void {
    calls.onDial((ctx) => this.onDial(ctx));
  }

  /** The extensions whose ringing calls this dialled string may take, or undefined when it is not a pickup code. */
  private scope(config: HibikiConfig, picker: string, dialled: string): Set<string> | undefined {
    const { pickup, directedPickup } = config.serviceCodes;
    if (dialled.startsWith(directedPickup) && dialled.length > directedPickup.length) {
      const target = dialled.slice(directedPickup.length);
      return /^[0-9]+$/.test(target) ? new Set([target]) : undefined;
    }
    if (dialled === pickup) {
      const mine = config.pickupGroups.filter((g) => g.members.includes(picker));
      return new Set(mine.flatMap((g) => g.members));
    }
    if (dialled.startsWith(pickup)) {
      const group = config.pickupGroups.find((g) => g.number === dialled.slice(pickup.length));
      // An unknown group is still a pickup attempt: the caller hears that there is nothing to pick up.
      return new Set(group?.members ?? []);
    }
    return undefined;
  }

  private onDial(ctx: DialContext): boolean {
    const config = this.deps.config();
    const dialled = normaliseDialled(ctx.dialled);
    const scope = this.scope(config, ctx.extension.number, dialled);
    if (!scope) return false;
    scope.delete(ctx.extension.number);
    for (const entry of this.deps.ringing.at(scope, ctx.extension.number)) {
      if (entry.pick(ctx)) {
        this.deps.logger.info({ callId: entry.call.callId, event: 'pickup', extension: entry.extension, pickedUpBy: ctx.extension.number }, 'pickup');
        return true;
      }
    }
    this.deps.logger.info({ callId: ctx.req.callId, event: 'pickup_none', dialled, picker: ctx.extension.number }, 'nothing to pick up');
    const lang = promptLanguage(config, ctx.extension.number);
    refuseWithPrompt(
      this.deps,
      { req: ctx.req, res: ctx.res, offer: ctx.offer, direction: 'internal', caller: { number: ctx.extension.number, name: ctx.extension.name }, dialled, feature: 'pickup_none' },
      [this.deps.prompts.file('pickup-none', lang)],
      { status: 404, cause: 1, reason: 'nothing to pick up' },
    ).catch(answerOnFailure(ctx.res, this.deps.logger, 'pickup refusal failed'));
    return true;
  }
}
