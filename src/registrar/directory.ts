// The extensions known from the configuration, by number (SIP username).
import type { ExtensionConfig, HibikiConfig } from '../config/schema.js';

export class Directory {
  private byNumber = new Map<string, ExtensionConfig>();

  constructor(config: HibikiConfig) {
    this.load(config);
  }

  load(config: HibikiConfig): void {
    const next = new Map<string, ExtensionConfig>();
    for (const ext of config.extensions) next.set(ext.number, ext);
    this.byNumber = next;
  }

  extension(number: string): ExtensionConfig | undefined {
    return this.byNumber.get(number);
  }

  all(): ExtensionConfig[] {
    return [...this.byNumber.values()];
  }
}
