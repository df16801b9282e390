// The prompt catalogue (F-AUDIO): which WAV file plays a named prompt in a caller's language, and the files of
// each music-on-hold class. Layout under `root`: one folder per language (`ja/`, `en/`) holding `<name>.wav`,
// and `tones/` holding the language-neutral tones; under `mohRoot`: one folder per MOH class, played in order.
// Every file is validated when loaded; a file that fails is reported and never handed out.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseWav, WavFormatError } from './builtin/wav.js';

export type PromptLanguage = 'ja' | 'en';

export const DIGIT_PROMPTS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;
export const SPOKEN_PROMPTS = [
  'parked-at',
  'not-available',
  'transfer-failed',
  'invalid-code',
  'park-empty',
  'park-full',
  'setting-done',
  'please-try-again',
  'setting-cancelled',
  'forward-invalid',
  'pickup-none',
  'anonymous-rejected',
  'call-barred',
  // F-IVR: the defaults of an IVR's invalidPrompt / noInputPrompt, and what ends a menu without a default.
  'ivr-invalid',
  'ivr-no-input',
  'ivr-goodbye',
] as const;
/**
 * Voicemail (F-VM). Some exist in one language only, because the two languages build counts and dates
 * differently (features/voicemail/speech.ts asks each language only for its own); the rest are in both.
 */
export const VOICEMAIL_PROMPTS = [
  'vm-greeting-before',
  'vm-greeting-after',
  'vm-leave-message',
  'vm-thank-you',
  'vm-box-full',
  'vm-enter-box',
  'vm-enter-pin',
  'vm-wrong-pin',
  'vm-goodbye',
  'vm-no-messages',
  'vm-unknown-caller',
  'vm-message-menu',
  'vm-main-menu',
  'vm-deleted',
  'vm-saved',
  'vm-no-more',
  'vm-record-greeting',
  'vm-greeting-saved',
  'vm-new-pin',
  'vm-reenter-pin',
  'vm-pin-invalid',
  'vm-pin-mismatch',
  'vm-pin-changed',
  'vm-invalid-box',
  'vm-you-have',
  'vm-new-message',
  'vm-new-messages',
  'vm-and',
  'vm-saved-message',
  'vm-saved-messages',
  'vm-message-from',
  'vm-received',
  'vm-at',
  'vm-oclock',
  'vm-oh',
  'vm-new-count',
  'vm-saved-count',
  'vm-ken',
  'vm-arimasu',
  'vm-from-after',
  'vm-minute',
  'vm-day-1',
  'vm-day-2',
  'vm-day-3',
  'vm-day-4',
  'vm-day-5',
  'vm-day-6',
  'vm-day-7',
  'vm-day-8',
  'vm-day-9',
  'vm-day-10',
  'vm-day-11',
  'vm-day-12',
  'vm-day-13',
  'vm-day-14',
  'vm-day-15',
  'vm-day-16',
  'vm-day-17',
  'vm-day-18',
  'vm-day-19',
  'vm-day-20',
  'vm-day-21',
  'vm-day-22',
  'vm-day-23',
  'vm-day-24',
  'vm-day-25',
  'vm-day-26',
  'vm-day-27',
  'vm-day-28',
  'vm-day-29',
  'vm-day-30',
  'vm-day-31',
  'vm-hour-0',
  'vm-hour-1',
  'vm-hour-2',
  'vm-hour-3',
  'vm-hour-4',
  'vm-hour-5',
  'vm-hour-6',
  'vm-hour-7',
  'vm-hour-8',
  'vm-hour-9',
  'vm-hour-10',
  'vm-hour-11',
  'vm-hour-12',
  'vm-hour-13',
  'vm-hour-14',
  'vm-hour-15',
  'vm-hour-16',
  'vm-hour-17',
  'vm-hour-18',
  'vm-hour-19',
  'vm-hour-20',
  'vm-hour-21',
  'vm-hour-22',
  'vm-hour-23',
  'vm-n-10',
  'vm-n-11',
  'vm-n-12',
  'vm-n-13',
  'vm-n-14',
  'vm-n-15',
  'vm-n-16',
  'vm-n-17',
  'vm-n-18',
  'vm-n-19',
  'vm-n-20',
  'vm-n-30',
  'vm-n-40',
  'vm-n-50',
  'vm-n-60',
  'vm-n-70',
  'vm-n-80',
  'vm-n-90',
  'vm-month-1',
  'vm-month-2',
  'vm-month-3',
  'vm-month-4',
  'vm-month-5',
  'vm-month-6',
  'vm-month-7',
  'vm-month-8',
  'vm-month-9',
  'vm-month-10',
  'vm-month-11',
  'vm-month-12',
] as const;
/**
 * Queues (F-QUEUE, F-AGENT): the waiting caller's periodic announcement, position and estimated wait (spoken with
 * the digit and vm-n-… number prompts), and the agent's pause/resume confirmations. As with voicemail, some exist
 * in one language only because the sentences are built differently: queue-position-after is Japanese (…3 ばんめです).
 * The samples queue-welcome (a greeting) and queue-call (a whisper) are shipped
 * but optional, like ivr-welcome: a queue names them in its config.
 */
export const QUEUE_PROMPTS = [
  'queue-periodic',
  'queue-position',
  'queue-position-after',
  'queue-wait',
  'queue-minutes',
  'queue-wait-short',
  'agent-paused',
  'agent-resumed',
  'agent-not-member',
] as const;
/** Conference rooms (F-CONF): conf-count-after is Japanese only (さんかしゃわ 3 にんです). */
export const CONFERENCE_PROMPTS = ['conf-full', 'conf-alone', 'conf-count', 'conf-count-after', 'conf-muted', 'conf-unmuted', 'conf-wait-moderator'] as const;
export const TONE_PROMPTS = ['confirm-tone', 'error-tone', 'ringback', 'busy-tone', 'vm-beep', 'conf-join', 'conf-leave'] as const;
/** Every prompt the features play; each must resolve to a valid file. */
export const REQUIRED_PROMPTS = [...DIGIT_PROMPTS, ...SPOKEN_PROMPTS, ...VOICEMAIL_PROMPTS, ...QUEUE_PROMPTS, ...CONFERENCE_PROMPTS, ...TONE_PROMPTS] as const;
export type PromptName = (typeof REQUIRED_PROMPTS)[number];

/**
 * What a spoken prompt falls back to when no language has it (a trimmed custom set): a caller still hears that
 * something failed or succeeded. Digits have no fallback: a slot number cannot be announced with beeps.
 */
export const TONE_FALLBACK: Partial<Record<PromptName, PromptName>> = {
  'parked-at': 'confirm-tone',
  'setting-done': 'confirm-tone',
  'not-available': 'error-tone',
  'transfer-failed': 'error-tone',
  'invalid-code': 'error-tone',
  'park-empty': 'error-tone',
  'park-full': 'error-tone',
  'please-try-again': 'error-tone',
  'setting-cancelled': 'confirm-tone',
  'forward-invalid': 'error-tone',
  'pickup-none': 'error-tone',
  'anonymous-rejected': 'error-tone',
  'call-barred': 'error-tone',
  'ivr-invalid': 'error-tone',
  'ivr-no-input': 'error-tone',
  'ivr-goodbye': 'confirm-tone',
  'agent-paused': 'confirm-tone',
  'agent-resumed': 'confirm-tone',
  'agent-not-member': 'error-tone',
};

export const TONES_FOLDER = 'tones';
export const DEFAULT_MOH_CLASS = 'default';

export interface PromptLoadError {
  /** The file at fault, or the folder where something required was looked for (absolute). */
  file: string;
  /** `format`: not a readable 8 kHz mono 16-bit PCM WAV; `missing`: a required prompt or folder is absent. */
  kind: 'format' | 'missing';
  /** For `format`: what the file actually is, e.g. "16000 Hz mono 16-bit PCM". */
  actual?: string;
  message: string;
}

export class PromptNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromptNotFoundError';
  }
}

export interface PromptCatalogueOptions {
  /** The prompts folder (the repository's `prompts/` or `prompts.dir` from the config). */
  root: string;
  /** The music-on-hold folder (the repository's `moh/` or `prompts.mohDir`). */
  mohRoot: string;
  /** Languages in fallback order: a prompt missing in the caller's language is taken from the next one. */
  languages: readonly PromptLanguage[];
}

const WAV_FILE = /\.wav$/i;
// A class name becomes a folder name: no separators or dot-folders, so config cannot point outside mohRoot.
const MOH_CLASS = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const naturalOrder = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

export class PromptCatalogue {
  private readonly root: string;
  private readonly mohRoot: string;
  private readonly languages: readonly PromptLanguage[];
  /** Folder (language or tones) → prompt name → absolute path of a validated file. */
  private prompts = new Map<string, Map<string, string>>();
  /** MOH class → validated files in play order. */
  private mohClasses = new Map<string, string[]>();
  private loaded = false;

  constructor(opts: PromptCatalogueOptions) {
    this.root = resolve(opts.root);
    this.mohRoot = resolve(opts.mohRoot);
    this.languages = [...opts.languages];
  }

  /**
   * Reads and validates every WAV file of the prompt folders and MOH classes (F-AUDIO) and reports each one
   * that is unreadable or not 8 kHz mono 16-bit PCM, each required prompt no language or fallback provides,
   * and a missing default MOH class. Synchronous: it runs when the configuration is (re)loaded, not per call.
   */
  load(): PromptLoadError[] {
    const errors: PromptLoadError[] = [];
    const rootExists = isDirectory(this.root);
    if (!rootExists) errors.push({ file: this.root, kind: 'missing', message: `${this.root}: prompt folder not found` });
    const prompts = new Map<string, Map<string, string>>();
    for (const folder of [...this.languages, TONES_FOLDER]) {
      // A missing language folder is not an error in itself: the required-prompt check below reports real gaps.
      const dir = join(this.root, folder);
      const found = new Map<string, string>();
      for (const file of listWavFiles(dir) ?? []) {
        if (validate(file, errors)) found.set(file.slice(dir.length + 1).replace(WAV_FILE, ''), file);
      }
      prompts.set(folder, found);
    }

    const mohClasses = new Map<string, string[]>();
    const classDirs = listSubfolders(this.mohRoot);
    if (classDirs === null) {
      errors.push({ file: this.mohRoot, kind: 'missing', message: `${this.mohRoot}: music-on-hold folder not found` });
    } else {
      for (const name of classDirs) {
        if (!MOH_CLASS.test(name)) continue;
        const files = (listWavFiles(join(this.mohRoot, name)) ?? []).filter((f) => validate(f, errors));
        if (files.length > 0) mohClasses.set(name, files);
      }
    }
    if (!mohClasses.has(DEFAULT_MOH_CLASS)) {
      const dir = join(this.mohRoot, DEFAULT_MOH_CLASS);
      errors.push({ file: dir, kind: 'missing', message: `${dir}: the default music-on-hold class has no valid WAV file` });
    }

    this.prompts = prompts;
    this.mohClasses = mohClasses;
    this.loaded = true;
    for (const name of rootExists ? REQUIRED_PROMPTS : []) {
      if (this.resolve(name, this.languages[0] ?? 'ja') === undefined) {
        const where = join(this.root, `{${[...this.languages, TONES_FOLDER].join(',')}}`, `${name}.wav`);
        errors.push({ file: where, kind: 'missing', message: `${where}: required prompt "${name}" not found` });
      }
    }
    return errors;
  }

  /**
   * The file that plays `name` to a caller of `language`: that language's, else another language's in the
   * configured order, else a tone from `tones/`, else the prompt's tone fallback. Throws PromptNotFoundError.
   */
  file(name: PromptName, language: PromptLanguage): string {
    this.ensureLoaded();
    const path = this.resolve(name, language);
    if (path === undefined) throw new PromptNotFoundError(`prompt "${name}" not found under ${this.root}`);
    return path;
  }

  /** The files announcing a number digit by digit ("9001" → 9, 0, 0, 1), e.g. a park slot (F-PARK). */
  digits(number: string, language: PromptLanguage): string[] {
    if (!/^[0-9]+$/.test(number)) throw new RangeError(`cannot announce "${number}": only the digits 0-9 have prompts`);
    return [...number].map((d) => this.file(d as PromptName, language));
  }

  /** The files of a music-on-hold class in play order (natural file-name order: 2 before 10). */
  moh(className: string = DEFAULT_MOH_CLASS): string[] {
    this.ensureLoaded();
    const files = MOH_CLASS.test(className) ? this.mohClasses.get(className) : undefined;
    if (!files) throw new PromptNotFoundError(`music-on-hold class "${className}" has no valid WAV file under ${this.mohRoot}`);
    return [...files];
  }

  /** The MOH classes that have at least one valid file, for validating `moh:` settings in the config. */
  mohClassNames(): string[] {
    this.ensureLoaded();
    return [...this.mohClasses.keys()].sort(naturalOrder.compare);
  }

  /**
   * Any prompt of the folders by name (an IVR greeting a site added, such as `ivr-welcome`), in the caller's
   * language first, then the others; undefined when no folder has it.
   */
  find(name: string, language: PromptLanguage): string | undefined {
    this.ensureLoaded();
    return this.lookup(name, language);
  }

  private lookup(name: string, language: PromptLanguage): string | undefined {
    for (const folder of [language, ...this.languages.filter((l) => l !== language), TONES_FOLDER]) {
      const hit = this.prompts.get(folder)?.get(name);
      if (hit) return hit;
    }
    return undefined;
  }

  private resolve(name: PromptName, language: PromptLanguage): string | undefined {
    const fallback = TONE_FALLBACK[name];
    return this.lookup(name, language) ?? (fallback ? this.lookup(fallback, language) : undefined);
  }

  private ensureLoaded(): void {
    // Callers are expected to load() at configuration time and act on its errors; this only spares a crash.
    if (!this.loaded) this.load();
  }
}

/** The WAV files directly in `dir`, natural-sorted; null when the folder does not exist. */
function listWavFiles(dir: string): string[] | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  return names
    .filter((n) => WAV_FILE.test(n) && isFile(join(dir, n)))
    .sort(naturalOrder.compare)
    .map((n) => join(dir, n));
}

function listSubfolders(dir: string): string[] | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  return names.filter((n) => isDirectory(join(dir, n))).sort(naturalOrder.compare);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** True when `file` is a readable 8 kHz mono 16-bit PCM WAV; otherwise records why in `errors`. */
function validate(file: string, errors: PromptLoadError[]): boolean {
  try {
    parseWav(readFileSync(file), file);
    return true;
  } catch (err) {
    const actual = err instanceof WavFormatError ? err.actual : `an unreadable file (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
    const message = err instanceof WavFormatError ? err.message : `${file}: expected 8000 Hz mono 16-bit PCM WAV, got ${actual}`;
    errors.push({ file, kind: 'format', actual, message });
    return false;
  }
}
