// `hibiki extensions import|export` (F-CSV): the CLI face of the extension CSV. The import edits the YAML
// file as the API does (one validated, atomic write); a running server picks the change up with its file
// watcher. Returns what to print and the exit code; cli.ts only dispatches.
import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigEditor } from './config-editor.js';
import { csvEncodings, type CsvEncodingChoice, type CsvExportEncoding } from './extension-csv.js';
import { exportExtensionCsv, importExtensionCsv } from './extension-import.js';
import { formatConfigError } from './errors.js';
import { loadConfigFile } from './load.js';

export interface CsvCommandResult {
  exitCode: number;
  /** For stdout. */
  lines: string[];
  /** For stderr. */
  errors: string[];
  /** The exported file when it goes to stdout. */
  data?: Buffer;
}

const fail = (...errors: string[]): CsvCommandResult => ({ exitCode: 1, lines: [], errors });

export function extensionsImportCommand(configFile: string, csvFile: string, encoding = 'auto'): CsvCommandResult {
  if (!(csvEncodings as readonly string[]).includes(encoding)) return fail(`--encoding must be ${csvEncodings.join(', ')}, not ${encoding}`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(csvFile);
  } catch (err) {
    return fail(`cannot read ${csvFile}: ${(err as Error).message}`);
  }
  // The written file is all this process does with the new config; a running server reloads it itself.
  const r = importExtensionCsv(new ConfigEditor(configFile, () => undefined), bytes, encoding as CsvEncodingChoice);
  if (!r.ok) return fail(`${csvFile}: ${r.message}`, ...r.errors.map((e) => `${csvFile}:${e.line}: ${e.message}`));
  return {
    exitCode: 0,
    lines: [`${r.created.length} created${r.created.length ? `: ${r.created.join(' ')}` : ''}`, `${r.updated.length} updated${r.updated.length ? `: ${r.updated.join(' ')}` : ''}`],
    errors: [],
  };
}

export function extensionsExportCommand(configFile: string, encoding = 'utf8', includePasswords = false, out?: string): CsvCommandResult {
  if (encoding !== 'utf8' && encoding !== 'shift_jis') return fail(`--encoding must be utf8 or shift_jis, not ${encoding}`);
  const loaded = loadConfigFile(configFile);
  if (!loaded.ok) return fail(...loaded.errors.map(formatConfigError));
  const data = exportExtensionCsv(loaded.config, encoding as CsvExportEncoding, includePasswords);
  if (out === undefined) return { exitCode: 0, lines: [], errors: [], data };
  // With passwords the file holds every SIP secret: readable by its owner only.
  writeFileSync(out, data, { mode: includePasswords ? 0o600 : 0o644 });
  return { exitCode: 0, lines: [`${loaded.config.extensions.length} extensions written to ${out}`], errors: [] };
}
