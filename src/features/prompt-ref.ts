// The files of a prompt named in the YAML (an IVR greeting, a queue's announcements): a name from the prompt
// set or a WAV file path, for every caller or one per language.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { PromptCatalogue, PromptLanguage } from '../media/prompts.js';

/** One prompt reference, or one per language (config/ivr-schema.ts promptSchema). */
export type PromptSetting = string | { ja?: string; en?: string };

/** The files of a prompt setting in a language (that language's entry first), or none when the set lacks it. */
export function promptSettingFiles(prompts: PromptCatalogue, p: PromptSetting, lang: PromptLanguage, log: Logger): string[] {
  const ref = typeof p === 'string' ? p : (p[lang] ?? p.ja ?? p.en);
  return ref === undefined ? [] : promptRefFiles(prompts, ref, lang, log);
}

/** A prompt name from the prompt folders, or a WAV file path (relative to the working directory). */
export function promptRefFiles(prompts: PromptCatalogue, ref: string, lang: PromptLanguage, log: Logger): string[] {
  if (/\.wav$/i.test(ref)) return [resolve(ref)];
  const file = prompts.find(ref, lang);
  if (file === undefined) {
    // The caller still gets the feature; the admin gets a warning to fix the prompt set.
    log.warn({ prompt: ref, lang }, 'prompt not found');
    return [];
  }
  return [file];
}

/** The prompt references of a setting with their languages (to check at start that the set has them). */
export function promptSettingRefs(p: PromptSetting, lang: PromptLanguage): Array<readonly [PromptLanguage, string]> {
  return typeof p === 'string' ? [[lang, p] as const] : (['ja', 'en'] as const).flatMap((l) => (p[l] !== undefined ? [[l, p[l]] as const] : []));
}
