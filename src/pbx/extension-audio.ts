// What an extension hears from features: prompts in its language, and its music-on-hold class when it
// holds, parks or transfers a call.
import type { HibikiConfig } from '../config/schema.js';
import type { PromptCatalogue, PromptLanguage } from '../media/prompts.js';

export function promptLanguage(config: HibikiConfig, extension: string | undefined): PromptLanguage {
  return (extension ? config.extensions.find((e) => e.number === extension)?.language : undefined) ?? 'ja';
}

export function mohFiles(config: HibikiConfig, prompts: PromptCatalogue, extension: string | undefined): string[] {
  const cls = (extension ? config.extensions.find((e) => e.number === extension)?.moh : undefined) ?? 'default';
  const files = prompts.moh(cls);
  return files.length > 0 || cls === 'default' ? files : prompts.moh('default');
}
