// F-SERVICE-CODES: forwarding and do-not-disturb codes dialled from an idle phone (1421 + number … 1430).
// hibiki answers, plays a confirmation ("設定しました" / "解除しました") or, when the destination breaks the
// F-FWD rules, an error prompt that changes nothing, then hangs up. Answering even for an error suits phones
// better than a SIP refusal: every phone plays the prompt, and none shows a failure screen.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import { PromptNotFoundError, type PromptCatalogue, type PromptName } from '../media/prompts.js';
import type { CallApi, CallApplication, Feature, FeatureRegistry } from '../pbx/application.js';
import type { Leg } from '../pbx/leg.js';
import type { ForwardCondition, ForwardingService } from './forwarding.js';
import { normaliseDialled } from '../rules/numbers.js';
import { answerWithPrompt } from './announce.js';
import { promptLanguage } from '../pbx/extension-audio.js';

export interface ServiceCodesDeps {
  forwarding: ForwardingService;
  prompts: PromptCatalogue;
  config: () => HibikiConfig;
  logger: Logger;
}

export type ServiceCodeAction =
  { kind: 'forward'; condition: ForwardCondition; on: true; destination: string | undefined } | { kind: 'forward'; condition: ForwardCondition; on: false } | { kind: 'dnd'; on: boolean };

type Codes = HibikiConfig['serviceCodes'];

const FORWARD_CODES: ReadonlyArray<{ condition: ForwardCondition; on: keyof Codes; off: keyof Codes }> = [
  { condition: 'cfu', on: 'forwardUnconditionalOn', off: 'forwardUnconditionalOff' },
  { condition: 'cfb', on: 'forwardBusyOn', off: 'forwardBusyOff' },
  { condition: 'cfna', on: 'forwardNoAnswerOn', off: 'forwardNoAnswerOff' },
  { condition: 'cfur', on: 'forwardUnreachableOn', off: 'forwardUnreachableOff' },
];

/**
 * The action a dialled string asks for, or undefined when it is not one of these codes. The "on" codes take
 * an optional destination after them; "off" and DND codes must be dialled exactly, so a longer string is
 * left to the dial plan. The codes are prefix-free against each other (schema), so the order does not matter.
 */
export function parseServiceCode(dialled: string, codes: Codes): ServiceCodeAction | undefined {
  const d = normaliseDialled(dialled);
  if (d === codes.dndOn) return { kind: 'dnd', on: true };
  if (d === codes.dndOff) return { kind: 'dnd', on: false };
  for (const f of FORWARD_CODES) {
    if (d === codes[f.off]) return { kind: 'forward', condition: f.condition, on: false };
    const on = codes[f.on];
    if (d.startsWith(on)) {
      const rest = d.slice(on.length);
      return { kind: 'forward', condition: f.condition, on: true, destination: rest === '' ? undefined : rest };
    }
  }
  return undefined;
}

export class ServiceCodes implements Feature, CallApplication<ServiceCodeAction> {
  readonly name = 'service code';

  constructor(private readonly deps: ServiceCodesDeps) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'service codes',
      tier: 'service',
      resolve: (dialled, origin, config) => {
        if (origin.kind !== 'device') return undefined;
        const action = parseServiceCode(dialled, config.serviceCodes);
        return action ? { app: this, args: action, callee: { number: normaliseDialled(dialled) } } : undefined;
      },
    });
  }

  async run(session: CallApi, leg: Leg, action: ServiceCodeAction): Promise<void> {
    const { forwarding, logger } = this.deps;
    const origin = session.origin;
    if (origin.kind !== 'device') return;
    const extension = origin.extension.number;
    const callId = session.call.callId;
    let prompt: PromptName;
    let reason: string;
    try {
      if (action.kind === 'dnd') {
        forwarding.setDnd(extension, action.on, 'service-code');
        prompt = action.on ? 'setting-done' : 'setting-cancelled';
        reason = `service code: dnd ${action.on ? 'on' : 'off'}`;
      } else {
        // F-VM: the voicemail pilot as the number (1425 + 1410) forwards to the extension's own box.
        const destination = action.on && action.destination === this.deps.config().voicemail.pilot ? 'voicemail' : action.on ? action.destination : undefined;
        const r = forwarding.setCondition(extension, action.condition, action.on, destination, 'service-code');
        if (r.ok) {
          prompt = action.on ? 'setting-done' : 'setting-cancelled';
          reason = `service code: ${action.condition} ${action.on ? `on${r.destination ? ` to ${r.destination}` : ''}` : 'off'}`;
        } else {
          prompt = 'forward-invalid';
          reason = `service code refused: ${r.reason}`;
        }
      }
    } catch (err) {
      // A storage failure must still end the call with an audible error instead of leaving it ringing.
      logger.error({ err, callId, extension }, 'service code not applied');
      prompt = 'forward-invalid';
      reason = 'service code failed';
    }
    session.call.feature = 'service_code';
    await answerWithPrompt(session, leg, this.promptFiles(prompt, promptLanguage(this.deps.config(), extension)), reason);
  }

  /** The prompt, or nothing when the prompt set lacks it and its tone (the call is still answered and ended). */
  private promptFiles(name: PromptName, lang: ReturnType<typeof promptLanguage>): string[] {
    try {
      return [this.deps.prompts.file(name, lang)];
    } catch (err) {
      if (!(err instanceof PromptNotFoundError)) throw err;
      this.deps.logger.warn({ prompt: name, lang }, 'service-code prompt missing');
      return [];
    }
  }
}
