// Importing and exporting the extension CSV against the config file (F-CSV), for the API and the CLI alike.
// An import is all or nothing: every problem of the file is collected (format, duplicates, clashes, unknown
// groups, and what the whole config would say after it), and only a clean file becomes ONE config edit.
import type { ConfigEditor, EditRefusal } from './config-editor.js';
import { checkRows, decodeCsv, encodeExtensionCsv, formatExtensionCsv, parseExtensionCsv, type CsvEncodingChoice, type CsvExportEncoding, type CsvRow, type LineError } from './extension-csv.js';
import { addExtension, configOfText, takenNumbers, updateExtension, type ExtensionFields } from './extension-edit.js';
import type { ConfigError } from './errors.js';
import { loadConfigText } from './load.js';
import type { HibikiConfig } from './schema.js';

export type ImportResult = { ok: true; created: string[]; updated: string[] } | { ok: false; message: string; errors: LineError[] };

/** The row as the full state of the extension: an empty optional cell removes the field; empty password and PIN keep the stored ones. */
function fieldsOf(row: CsvRow): ExtensionFields {
  return {
    name: row.name,
    kana: row.kana ?? null,
    password: row.password,
    pin: row.pin,
    departments: row.departments,
    pickupGroups: row.pickupGroups,
    callerId: row.callerId ?? null,
    ringTimeout: row.ringTimeout ?? null,
    memo: row.memo ?? null,
  };
}

/** Config errors after the import, on the CSV line of the extension they concern (0 when they concern none). */
function onLines(errors: readonly ConfigError[], numbersAfter: readonly string[], rows: readonly CsvRow[]): LineError[] {
  const lineOf = new Map(rows.map((r) => [r.number, r.line]));
  return errors.map((e) => {
    const index = /^extensions\[(\d+)\]/.exec(e.path ?? '')?.[1];
    const number = index === undefined ? undefined : numbersAfter[Number(index)];
    const line = number === undefined ? undefined : lineOf.get(number);
    return { line: line ?? 0, message: line === undefined ? `after the import, ${e.message}` : e.message };
  });
}

function refusalLines(r: EditRefusal): LineError[] {
  return r.errors?.map((e) => ({ line: 0, message: e.message })) ?? [{ line: 0, message: r.message }];
}

export function importExtensionCsv(editor: ConfigEditor, bytes: Buffer, encoding: CsvEncodingChoice): ImportResult {
  const decoded = decodeCsv(bytes, encoding);
  if ('errors' in decoded) return { ok: false, message: 'the file cannot be decoded', errors: decoded.errors };
  const parsed = parseExtensionCsv(decoded.text);
  const created: string[] = [];
  const updated: string[] = [];
  let lineErrors: LineError[] = [];
  const result = editor.edit<null>((doc, text) => {
    // The editor runs this again when another process wrote the file meanwhile: each run starts afresh.
    created.length = 0;
    updated.length = 0;
    const current = configOfText(text);
    if ('refusal' in current) return current;
    const config = current.config;
    const existing = new Set(config.extensions.map((e) => e.number));
    const taken = takenNumbers(config);
    lineErrors = [
      ...parsed.errors,
      ...checkRows(parsed.rows, {
        taken,
        extensions: existing,
        groups: new Set(config.groups.map((g) => g.number)),
        pickupGroups: new Set(config.pickupGroups.map((g) => g.number)),
      }),
    ];
    if (lineErrors.length > 0) return { refusal: { status: 400, message: 'the file has errors' } };
    for (const row of parsed.rows) {
      const refusal = existing.has(row.number)
        ? updateExtension(doc, config, row.number, fieldsOf(row))
        : addExtension(doc, config, { ...fieldsOf(row), number: row.number, name: row.name, password: row.password ?? '' }, taken);
      if (refusal) {
        lineErrors = [{ line: row.line, message: refusal.message }];
        return { refusal };
      }
      (existing.has(row.number) ? updated : created).push(row.number);
    }
    const check = loadConfigText(doc.toString(), 'config');
    if (!check.ok) {
      const numbersAfter = (doc.toJS() as { extensions?: Array<{ number?: unknown }> }).extensions?.map((e) => String(e.number)) ?? [];
      lineErrors = onLines(check.errors, numbersAfter, parsed.rows);
      return { refusal: { status: 400, message: 'the config would be invalid after the import' } };
    }
    return { value: null };
  });
  if (!result.ok) {
    const errors = lineErrors.length > 0 ? lineErrors : refusalLines(result.refusal);
    errors.sort((a, b) => a.line - b.line);
    return { ok: false, message: `nothing was imported: ${errors.length} error${errors.length === 1 ? '' : 's'} in the file`, errors };
  }
  return { ok: true, created, updated };
}

export function exportExtensionCsv(config: HibikiConfig, encoding: CsvExportEncoding, includeSecrets: boolean): Buffer {
  return encodeExtensionCsv(formatExtensionCsv(config, includeSecrets), encoding);
}
