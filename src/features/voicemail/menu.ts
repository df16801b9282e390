// The voicemail retrieval menu's prompts and keys (F-VM): a key pressed while a prompt plays stops it and
// counts (barge-in), and the voicemail digit timeout ends a wait for a key.
import type { HibikiConfig } from '../../config/schema.js';
import type { PromptCatalogue, PromptLanguage, PromptName } from '../../media/prompts.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { CallApi } from '../../pbx/application.js';
import type { LegHandle } from '../../pbx/leg.js';

export type Answer = { kind: 'key'; key: string } | { kind: 'timeout' } | { kind: 'gone' };

export interface MenuDeps {
  prompts: PromptCatalogue;
  clock: Clock;
  config: () => HibikiConfig;
}

/**
 * Prompts and keys on the retrieval leg: a key pressed while a prompt plays stops it and counts (barge-in);
 * after the prompt, digitTimeout without a key is a timeout.
 */
export class Menu {
  constructor(
    private readonly session: CallApi,
    readonly handle: LegHandle,
    private readonly deps: MenuDeps,
    readonly lang: PromptLanguage,
    readonly gone: () => boolean,
  ) {}

  file(name: PromptName): string {
    return this.deps.prompts.file(name, this.lang);
  }

  /** A key pressed during play(): it cuts the prompt short and is the answer to the next ask (type-ahead). */
  private pending: string | undefined;

  async play(names: PromptName[]): Promise<void> {
    if (this.gone()) return;
    const files = names.map((n) => this.file(n));
    let playing: { stop(): void } | undefined;
    const mine = this.handle.leg.take({
      label: 'voicemail prompt',
      ended: () => playing?.stop(),
      digit: (_l, d) => {
        if (this.pending !== undefined) return;
        this.pending = d;
        playing?.stop();
      },
    });
    const h = this.session.play(mine, files);
    playing = h;
    await h.done;
    mine.release();
  }

  /** Play `files` and wait for one key. */
  ask(files: string[]): Promise<Answer> {
    const timeoutMs = this.deps.config().voicemail.digitTimeout * 1000;
    return new Promise((resolve) => {
      if (this.gone()) {
        resolve({ kind: 'gone' });
        return;
      }
      const typed = this.pending;
      this.pending = undefined;
      if (typed !== undefined) {
        resolve({ kind: 'key', key: typed });
        return;
      }
      let timer: TimerHandle | undefined;
      let settled = false;
      const settle = (a: Answer) => {
        if (settled) return;
        settled = true;
        timer?.cancel();
        playing.stop();
        mine.release();
        resolve(a);
      };
      const mine = this.handle.leg.take({
        label: 'voicemail menu',
        ended: () => settle({ kind: 'gone' }),
        digit: (_l, d) => settle({ kind: 'key', key: d }),
      });
      const playing = this.session.play(mine, files);
      playing.done.then(
        () => {
          if (!settled) timer = this.deps.clock.setTimer(timeoutMs, () => settle({ kind: 'timeout' }));
        },
        () => settle({ kind: 'timeout' }),
      );
    });
  }

  /** Digits ended by # (box numbers, PINs), the first may interrupt the prompt; undefined when none came or the caller left. */
  async digits(names: PromptName[]): Promise<string | undefined> {
    const first = await this.ask(names.map((n) => this.file(n)));
    if (first.kind !== 'key') return undefined;
    if (first.key === '#') return '';
    const timeoutMs = this.deps.config().voicemail.digitTimeout * 1000;
    const rest = await this.session.collect(this.handle, { terminator: '#', firstDigitTimeoutMs: timeoutMs, interDigitTimeoutMs: timeoutMs, maxDigits: 16 });
    if (rest.kind === 'digits') return first.key + rest.digits;
    if (rest.kind === 'timeout') return first.key;
    if (rest.kind === 'too-long') return first.key + rest.digits;
    return undefined;
  }
}
