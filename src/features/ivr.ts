// F-IVR (自動音声応答): a number that answers with a greeting menu. On arrival the IVR's schedule rows are
// checked top-down (first match wins; on a holiday only ★ rows) and may route the call at once; otherwise
// the greeting plays, and a key — pressed during the greeting too (barge-in) — picks a destination. No input
// within digitTimeout or an invalid key plays a prompt and the menu again, up to maxRetries, then the call goes
// to defaultDestination. With allowExtensionDial a caller may dial an extension number instead of a key.
// Destinations are the strings of config/ivr-schema.ts. Moving to another IVR stays in this application,
// so `parent` knows where the caller came from and the CDR's feature column shows the whole path with the
// keys pressed, e.g. `ivr:100>1>ivr:110>2>2001`.
import type { HibikiConfig } from '../config/schema.js';
import { parseIvrDestination, type IvrConfig, type IvrDestination } from '../config/ivr-schema.js';
import type { PromptCatalogue, PromptLanguage } from '../media/prompts.js';
import type { CallApi, CallApplication, Feature, FeatureRegistry } from '../pbx/application.js';
import { ends, type IvrPath } from '../pbx/call.js';
import type { Leg, LegHandle } from '../pbx/leg.js';
import type { Clock } from '../util/clock.js';
import { matchIvrScheduleIndex, tenantHolidays } from './schedule.js';
import { promptRefFiles, promptSettingFiles, promptSettingRefs } from './prompt-ref.js';

export interface IvrDeps {
  prompts: PromptCatalogue;
  /** The one clock: schedules are judged by its wall-clock time. */
  clock: Clock;
}

export interface IvrArgs {
  ivr: IvrConfig;
}

/** The CDR feature column is text; a caller pressing keys for an hour must not grow it without end. */
const MAX_PATH = 200;
/** IVR-to-IVR moves in one call before it is ended: loops without a caller's choice are refused at load, so only keys get here. */
const MAX_MOVES = 100;

/** One menu the caller is in, and the one that sent it there (`parent`). */
interface Visit {
  ivr: IvrConfig;
  parent: Visit | undefined;
}

/** What a menu round ended with. */
type MenuResult = { kind: 'go'; destination: IvrDestination; step: string } | { kind: 'gone' };

export class Ivrs implements Feature, CallApplication<IvrArgs> {
  readonly name = 'ivr';

  constructor(private readonly deps: IvrDeps) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'ivrs',
      tier: 'local',
      resolve: (number, _origin, config) => {
        const ivr = config.ivrs.find((v) => v.number === number);
        // An IVR has no block list of its own: the tenant's applies.
        return ivr ? { app: this, args: { ivr }, callee: { number: ivr.number, name: ivr.name }, screening: {} } : undefined;
      },
    });
  }

  async run(session: CallApi, leg: Leg, args: IvrArgs): Promise<void> {
    const call = session.call;
    const log = session.log.child({ ivr: args.ivr.number });
    let gone = false;
    let playing: { stop(): void } | undefined;
    let path = `ivr:${args.ivr.number}`;
    const callerLeft = () => {
      gone = true;
      if (!call.isFinished) session.hangup('caller', 16, `caller hung up in the IVR (${path})`);
    };
    const mine = leg.take({
      label: 'ivr',
      ended: (_l, end) => {
        gone = true;
        playing?.stop();
        if (end.cancelled) call.end(ends.cancelled('caller cancelled before the IVR answered'));
        else callerLeft();
      },
    });
    if (!(await session.answer(mine))) return;
    // Reached after a group or an extension failed to answer, the caller is answered here first.
    if (!call.isAnswered) call.markAnswered('hibiki');

    const step = (s: string) => {
      if (s === '') return;
      path = path.length + s.length + 1 > MAX_PATH ? path : `${path}>${s}`;
      call.feature = path as IvrPath;
    };
    call.feature = path as IvrPath;
    log.info('caller in the IVR');

    const play = async (files: string[]): Promise<void> => {
      if (gone || files.length === 0) return;
      const h = session.play(mine, files);
      playing = h;
      await h.done;
      playing = undefined;
    };

    let visit: Visit = { ivr: args.ivr, parent: undefined };
    let arriving = true;
    for (let moves = 0; ;) {
      if (gone || call.isFinished) return;
      const config = session.config();
      let next: MenuResult;
      const row = arriving ? this.scheduleRow(visit.ivr, config) : -1;
      if (row >= 0) {
        const text = visit.ivr.schedule[row]!.destination;
        next = { kind: 'go', destination: parseIvrDestination(text) ?? { kind: 'hangup' }, step: `schedule[${row}]` };
        log.info({ row, destination: text }, 'IVR schedule row applies');
      } else {
        next = await this.menu(session, mine, visit.ivr, config, play);
      }
      arriving = false;
      if (next.kind === 'gone') return callerLeft();
      step(next.step);
      const d = next.destination;
      switch (d.kind) {
        case 'repeat':
          continue;
        case 'parent':
          if (visit.parent) {
            visit = visit.parent;
            step(`ivr:${visit.ivr.number}`);
          }
          continue;
        case 'hangup':
          step('hangup');
          log.info({ path }, 'IVR hangs up');
          session.hangup('system', 16, `IVR ${visit.ivr.number}: hangup`);
          return;
        case 'prompt':
          step(`prompt:${d.prompt}`);
          await play(this.files(d.prompt, visit.ivr.language, log));
          if (gone) return callerLeft();
          session.hangup('system', 16, `IVR ${visit.ivr.number}: prompt ${d.prompt} played`);
          return;
        case 'voicemail':
          step(`voicemail:${d.box}`);
          log.info({ path, box: d.box }, 'IVR hands the caller to voicemail');
          await session.handTo(mine, `voicemail:${d.box}`);
          return;
        case 'number': {
          const target = config.ivrs.find((v) => v.number === d.number);
          if (target) {
            if (++moves > MAX_MOVES) {
              log.warn({ path }, 'too many IVR moves in one call');
              session.hangup('system', 16, 'too many IVR moves');
              return;
            }
            visit = { ivr: target, parent: visit };
            arriving = true;
            step(`ivr:${target.number}`);
            continue;
          }
          step(d.number);
          log.info({ path, number: d.number }, 'IVR hands the caller on');
          await session.handTo(mine, d.number);
          return;
        }
      }
    }
  }

  /** The schedule row that applies now (tenant time zone, the call core's clock), or -1. */
  private scheduleRow(ivr: IvrConfig, config: HibikiConfig): number {
    if (ivr.schedule.length === 0) return -1;
    return matchIvrScheduleIndex(ivr.schedule, this.deps.clock.now(), config.tenant.timezone, tenantHolidays(config.tenant));
  }

  /**
   * The menu: greeting with barge-in, then a key (or an extension number), retried after no input or an
   * invalid key up to maxRetries, then defaultDestination (unset: goodbye and hang-up).
   */
  private async menu(session: CallApi, mine: LegHandle, ivr: IvrConfig, config: HibikiConfig, play: (files: string[]) => Promise<void>): Promise<MenuResult> {
    const log = session.log.child({ ivr: ivr.number });
    const lang = ivr.language;
    const extensions = ivr.allowExtensionDial ? config.extensions.filter((e) => !e.suspended).map((e) => e.number) : [];
    const couldBeExtension = (digits: string) => extensions.some((n) => n.startsWith(digits));
    const isExtension = (digits: string) => extensions.includes(digits);
    // One key decides at once, unless an extension number could still be dialled from it.
    const complete = (digits: string): boolean => {
      if (!couldBeExtension(digits)) return true;
      return isExtension(digits) && !extensions.some((n) => n !== digits && n.startsWith(digits));
    };
    for (let attempt = 0; ; attempt++) {
      const greeting = session.play(mine, this.promptFiles(ivr.greeting, lang, log));
      const r = await session.collect(mine, {
        prompt: greeting,
        firstDigitTimeoutMs: ivr.digitTimeout * 1000,
        interDigitTimeoutMs: ivr.interDigitTimeout * 1000,
        maxDigits: 15,
        complete,
      });
      if (r.kind === 'gone' || mine.leg.ended) return { kind: 'gone' };
      let problem: 'no-input' | 'invalid';
      if (r.kind === 'digits') {
        const digits = r.digits;
        const key = digits.length === 1 ? ivr.keys[digits] : undefined;
        if (key !== undefined && !isExtension(digits)) {
          const destination = parseIvrDestination(key);
          if (destination) return { kind: 'go', destination, step: digits };
        }
        // The number itself is the next step of the path: no separate key to show.
        if (isExtension(digits)) return { kind: 'go', destination: { kind: 'number', number: digits }, step: '' };
        log.info({ digits }, 'IVR: invalid key');
        problem = 'invalid';
      } else {
        log.info({ result: r.kind }, 'IVR: no input');
        problem = r.kind === 'timeout' ? 'no-input' : 'invalid';
      }
      await play(this.promptFiles(problem === 'invalid' ? ivr.invalidPrompt : ivr.noInputPrompt, lang, log));
      if (mine.leg.ended) return { kind: 'gone' };
      if (attempt >= ivr.maxRetries) {
        const step = problem === 'invalid' ? 'invalid' : 'timeout';
        if (ivr.defaultDestination !== undefined) {
          const destination = parseIvrDestination(ivr.defaultDestination);
          if (destination) return { kind: 'go', destination, step };
        }
        return { kind: 'go', destination: { kind: 'prompt', prompt: 'ivr-goodbye' }, step };
      }
    }
  }

  /** The files of a prompt setting: one reference, or one per language (the IVR's language first). */
  private promptFiles(p: IvrConfig['greeting'], lang: PromptLanguage, log: CallApi['log']): string[] {
    return promptSettingFiles(this.deps.prompts, p, lang, log);
  }

  private files(ref: string, lang: PromptLanguage, log: CallApi['log']): string[] {
    return promptRefFiles(this.deps.prompts, ref, lang, log);
  }
}

/**
 * Prompt names the IVRs use that the prompt set lacks (a typo in a greeting name), one line each: the
 * schema cannot know the prompt folders, so the server checks them when it starts and after a reload.
 */
export function missingIvrPrompts(config: HibikiConfig, prompts: PromptCatalogue): string[] {
  const out: string[] = [];
  for (const ivr of config.ivrs) {
    const check = (what: string, p: IvrConfig['greeting']) => {
      for (const [lang, ref] of promptSettingRefs(p, ivr.language)) {
        if (!/\.wav$/i.test(ref) && prompts.find(ref, lang) === undefined) out.push(`IVR ${ivr.number}: ${what} prompt "${ref}" not found`);
      }
    };
    check('greeting', ivr.greeting);
    check('invalidPrompt', ivr.invalidPrompt);
    check('noInputPrompt', ivr.noInputPrompt);
    const destinations = [
      ...Object.entries(ivr.keys).map(([k, d]) => [`key ${k}`, d] as const),
      ['defaultDestination', ivr.defaultDestination] as const,
      ...ivr.schedule.map((r, j) => [`schedule[${j}]`, r.destination] as const),
    ];
    for (const [what, text] of destinations) {
      const d = text === undefined ? undefined : parseIvrDestination(text);
      if (d?.kind === 'prompt') check(what, d.prompt);
    }
  }
  return out;
}
