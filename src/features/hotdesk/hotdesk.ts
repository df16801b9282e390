// F-HOTDESK: the login and logout codes as a call application. 998 + extension from a hot-desk device (or any
// device, hotDesk.anyDevice) answers, asks for that extension's PIN (the voicemail PIN) and, when it is right,
// makes the device ring for the extension and present it until 997, a login elsewhere or the expiry. Each wrong
// PIN counts towards blocking the source address (F-AUTH), as voicemail's do; after hotDesk.pinAttempts the call
// is refused. A refusal is still an answered call with a prompt, like the other service codes.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../../config/schema.js';
import { PromptNotFoundError, type PromptCatalogue, type PromptLanguage, type PromptName } from '../../media/prompts.js';
import type { PlayHandle } from '../../media/engine.js';
import type { CallApi, CallApplication, ExtensionConfig, Feature, FeatureRegistry } from '../../pbx/application.js';
import type { Leg, LegHandle } from '../../pbx/leg.js';
import { promptLanguage } from '../../pbx/extension-audio.js';
import { normaliseDialled } from '../../rules/numbers.js';
import { answerWithPrompt } from '../announce.js';
import type { HotDeskLogins } from './logins.js';

export type HotDeskAction = { kind: 'login'; extension: string } | { kind: 'logout' };

export interface HotDeskDeps {
  logins: HotDeskLogins;
  prompts: PromptCatalogue;
  config: () => HibikiConfig;
  /** The extension's PIN in force (the voicemail PIN, which its owner may have changed by phone). */
  pin: (extension: ExtensionConfig) => string | undefined;
  /** A wrong PIN from this source address (counts towards F-AUTH IP blocking, never towards a username lock). */
  onPinFailure?: (address: string) => void;
  logger: Logger;
}

/** The hot-desk action a dialled string asks for; the login code needs an extension after it. */
export function parseHotDeskCode(dialled: string, codes: HibikiConfig['serviceCodes']): HotDeskAction | undefined {
  const d = normaliseDialled(dialled);
  if (d === codes.hotDeskLogout) return { kind: 'logout' };
  if (d.startsWith(codes.hotDeskLogin)) return { kind: 'login', extension: d.slice(codes.hotDeskLogin.length) };
  return undefined;
}

export class HotDesk implements Feature, CallApplication<HotDeskAction> {
  readonly name = 'hot desk';

  constructor(private readonly deps: HotDeskDeps) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'hot desk',
      tier: 'service',
      resolve: (dialled, origin, config) => {
        if (origin.kind !== 'device') return undefined;
        const action = parseHotDeskCode(dialled, config.serviceCodes);
        return action ? { app: this, args: action, callee: { number: normaliseDialled(dialled) } } : undefined;
      },
    });
  }

  async run(session: CallApi, leg: Leg, action: HotDeskAction): Promise<void> {
    const origin = session.origin;
    if (origin.kind !== 'device') return;
    const { logins, config } = this.deps;
    // A device with a login places calls as the taken extension: the code is about the device itself.
    const device = logins.deviceOfRequest(leg.invite?.req) ?? origin.extension;
    const lang = promptLanguage(config(), device.number);
    session.call.feature = 'service_code';
    const say = (name: PromptName, reason: string) => answerWithPrompt(session, leg, this.files([name], lang), reason);
    if (!logins.mayHotDesk(device)) {
      session.log.info({ event: 'hotdesk', device: device.number }, 'hot desk refused: not a hot-desk device');
      return say('not-available', 'hot desk refused: not a hot-desk device');
    }
    if (action.kind === 'logout') {
      const ended = logins.logout(device.number);
      return say('setting-cancelled', ended ? `hot desk: logout from ${ended.extension}` : 'hot desk: logout (no login)');
    }
    const target = config().extensions.find((e) => e.number === action.extension);
    const pin = target && !target.suspended && !target.hotDesk && target.number !== device.number ? this.deps.pin(target) : undefined;
    if (!target || pin === undefined) {
      // Unknown, suspended, a desk phone, the device itself, or no PIN to prove it: nothing to log in to.
      session.log.info({ event: 'hotdesk', device: device.number, extension: action.extension }, 'hot desk refused: extension cannot be taken');
      return say('not-available', `hot desk refused: ${action.extension || 'no extension'} cannot be taken`);
    }
    await this.askPin(session, leg, device, target, pin, lang);
  }

  private async askPin(session: CallApi, leg: Leg, device: ExtensionConfig, target: ExtensionConfig, pin: string, lang: PromptLanguage): Promise<void> {
    const call = session.call;
    const settings = this.deps.config().hotDesk;
    const address = leg.invite?.req.source?.address;
    let playing: PlayHandle | undefined;
    // Nested owners (digit collection) hear the hang-up; this one only stops a prompt that is playing.
    const mine = leg.take({ label: 'hot-desk login', ended: () => playing?.stop() });
    if (!(await session.answer(mine))) return;
    call.markAnswered('hibiki');
    const play = async (names: PromptName[]): Promise<void> => {
      if (leg.ended) return;
      playing = session.play(mine, this.files(names, lang));
      await playing.done;
    };
    const end = (reason: string) => session.hangup(leg.ended ? 'caller' : 'system', 16, reason);
    const timeoutMs = settings.digitTimeout * 1000;
    for (let attempt = 1; attempt <= settings.pinAttempts; attempt++) {
      // After a wrong PIN, "wrong PIN" and the request again are one prompt that a key interrupts (type-ahead).
      const entered = await this.collectPin(session, mine, attempt === 1 ? ['vm-enter-pin'] : ['vm-wrong-pin', 'vm-enter-pin'], lang, timeoutMs);
      if (entered === undefined) return end('hot desk: caller left');
      if (entered === pin) {
        this.deps.logins.login(device.number, target.number);
        await play(['setting-done']);
        return end(`hot desk: ${device.number} logged in as ${target.number}`);
      }
      session.log.info({ event: 'hotdesk', device: device.number, extension: target.number, attempt, address, noInput: entered === '' }, 'hot-desk PIN refused');
      // Every wrong PIN is a guess: it counts towards blocking the address, as a wrong password does.
      if (entered !== '' && address !== undefined) this.deps.onPinFailure?.(address);
    }
    session.log.warn({ event: 'security', kind: 'hotdesk_pin', device: device.number, extension: target.number, address, attempts: settings.pinAttempts }, 'hot-desk PIN attempts exhausted');
    await play(['vm-wrong-pin', 'not-available']);
    end('hot desk: PIN attempts exhausted');
  }

  /** The PIN typed after the prompt (a key stops the prompt), '' when none came in time, undefined when the caller left. */
  private async collectPin(session: CallApi, h: LegHandle, names: PromptName[], lang: PromptLanguage, timeoutMs: number): Promise<string | undefined> {
    const prompt = session.play(h, this.files(names, lang));
    const r = await session.collect(h, { terminator: '#', firstDigitTimeoutMs: timeoutMs, interDigitTimeoutMs: timeoutMs, maxDigits: 16, prompt });
    switch (r.kind) {
      case 'digits':
      case 'too-long':
        return r.digits;
      case 'timeout':
        return '';
      case 'gone':
        return undefined;
    }
  }

  /** The prompts' files; one the prompt set lacks (with no tone to fall back on) is left out, and logged. */
  private files(names: PromptName[], lang: PromptLanguage): string[] {
    const files: string[] = [];
    for (const name of names) {
      try {
        files.push(this.deps.prompts.file(name, lang));
      } catch (err) {
        if (!(err instanceof PromptNotFoundError)) throw err;
        this.deps.logger.warn({ prompt: name, lang }, 'hot-desk prompt missing');
      }
    }
    return files;
  }
}
