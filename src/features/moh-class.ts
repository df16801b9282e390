// Which music-on-hold class a feature plays: the one of the extension that holds, parks or transfers.
import type { HibikiConfig } from '../config/schema.js';
import type { PromptCatalogue } from '../media/prompts.js';

export function mohFiles(config: HibikiConfig, prompts: PromptCatalogue, extension: string | undefined): string[] {
  const cls = (extension ? config.extensions.find((e) => e.number === extension)?.moh : undefined) ?? 'default';
  const files = prompts.moh(cls);
  return files.length > 0 || cls === 'default' ? files : prompts.moh('default');
}
