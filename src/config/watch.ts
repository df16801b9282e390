// Reloads the config when its file changes (debounced) or on demand (SIGHUP). A new config is
// applied only when it validates in full; otherwise the running one stays in force (F-RELOAD).
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import type { ConfigError } from './errors.js';
import { loadConfigFile, loadConfigText } from './load.js';
import type { ConfigLoadResult } from './load.js';
import type { HibikiConfig } from './schema.js';

export interface ConfigWatcherOptions {
  file: string;
  debounceMs: number;
  logger: Logger;
  onChange(config: HibikiConfig, reason: string): void;
  /** The file did not validate (the running configuration stays in force). */
  onRejected?(errors: ConfigError[], reason: string): void;
}

export class ConfigWatcher {
  private readonly file: string;
  private readonly dir: string;
  private readonly name: string;
  private readonly debounceMs: number;
  private readonly logger: Logger;
  private readonly onChange: (config: HibikiConfig, reason: string) => void;
  private readonly onRejected: ((errors: ConfigError[], reason: string) => void) | undefined;
  private fileWatcher: FSWatcher | undefined;
  private dirWatcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Increases with every load started, so a slow read never overrides a newer one. */
  private generation = 0;

  constructor(opts: ConfigWatcherOptions) {
    this.file = opts.file;
    this.dir = dirname(opts.file);
    this.name = basename(opts.file);
    this.debounceMs = opts.debounceMs;
    this.logger = opts.logger;
    this.onChange = opts.onChange;
    this.onRejected = opts.onRejected;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // Editors often save by writing a new file and renaming it over the old one, which ends a watch
    // on the old inode; the directory watch sees the new file arrive.
    this.dirWatcher = this.openWatcher(this.dir, (filename) => {
      if (filename === null || filename === this.name) this.schedule();
    });
    this.watchFile();
  }

  stop(): void {
    this.running = false;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.fileWatcher?.close();
    this.dirWatcher?.close();
    this.fileWatcher = undefined;
    this.dirWatcher = undefined;
  }

  /**
   * The file was just written and applied by this process (ConfigEditor): a load still reading the older
   * file must not apply it over the newer config. The write's own change event loads the file again.
   */
  supersede(): void {
    this.generation++;
  }

  /** Loads and applies the file now (SIGHUP). Returns whether the new config was applied. */
  reloadNow(reason: string): boolean {
    const gen = ++this.generation;
    return this.apply(loadConfigFile(this.file), reason, gen);
  }

  private schedule(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.watchFile();
      this.reloadFromDisk().catch((err: unknown) => this.logger.error({ file: this.file, err }, 'configuration reload failed'));
    }, this.debounceMs);
    this.timer.unref();
  }

  private async reloadFromDisk(): Promise<void> {
    const gen = ++this.generation;
    let result: ConfigLoadResult;
    try {
      result = loadConfigText(await readFile(this.file, 'utf8'), this.file);
    } catch (err) {
      const message = `cannot read the file: ${err instanceof Error ? err.message : String(err)}`;
      result = { ok: false, errors: [{ file: this.file, line: 1, message }] };
    }
    if (gen !== this.generation || !this.running) return;
    this.apply(result, 'file changed', gen);
  }

  private apply(result: ConfigLoadResult, reason: string, gen: number): boolean {
    if (gen !== this.generation) return false;
    if (!result.ok) {
      for (const e of result.errors) this.logProblem('error', e);
      this.logger.error({ file: this.file, reason, errors: result.errors.length }, 'configuration not reloaded; the running configuration stays in force');
      this.onRejected?.(result.errors, reason);
      return false;
    }
    for (const w of result.warnings) this.logProblem('warn', w);
    try {
      this.onChange(result.config, reason);
    } catch (err) {
      this.logger.error({ file: this.file, reason, err }, 'applying the reloaded configuration failed');
      return false;
    }
    this.logger.info({ file: this.file, reason }, 'configuration reloaded');
    return true;
  }

  private logProblem(level: 'error' | 'warn', e: ConfigError): void {
    const fields = e.column === undefined ? { file: e.file, line: e.line } : { file: e.file, line: e.line, column: e.column };
    this.logger[level](fields, e.message);
  }

  /** (Re)opens the watch on the file itself; after a rename the old watch follows a dead inode. */
  private watchFile(): void {
    if (!this.running) return;
    this.fileWatcher?.close();
    this.fileWatcher = this.openWatcher(this.file, () => this.schedule());
  }

  private openWatcher(path: string, onEvent: (filename: string | null) => void): FSWatcher | undefined {
    try {
      const w = watch(path, { persistent: false }, (_event, filename) => onEvent(filename));
      w.on('error', (err) => this.logger.warn({ path, err }, 'config watch failed'));
      return w;
    } catch (err) {
      // A missing file is expected mid-rename; the directory watch picks the new one up.
      this.logger.debug({ path, err }, 'cannot watch path');
      return undefined;
    }
  }
}
