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
export const TONE_PROMPTS = ['confirm-tone', 'error-tone', 'ringback', 'busy-tone'] as const;
/** Every prompt the features play; each must resolve to a valid file. */
export const REQUIRED_PROMPTS = [...DIGIT_PROMPTS, ...SPOKEN_PROMPTS, ...TONE_PROMPTS] as const;
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
