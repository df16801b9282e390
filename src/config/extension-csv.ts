// The extension CSV file (F-CSV): bytes ↔ text in UTF-8 or Shift_JIS, text → rows with every problem and
// its line, and the extensions → text for an export. Pure: nothing here reads or writes the config file
// (extension-import.ts applies a checked file as one config edit).
import iconv from 'iconv-lite';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { pinProblem } from '../rules/pin.js';
import { encodeCsv } from '../store/cdr-export.js';
import { extensionNumberPattern, type HibikiConfig } from './schema.js';

export const csvColumns = ['number', 'name', 'kana', 'password', 'pin', 'departments', 'pickupGroups', 'callerId', 'ringTimeout', 'memo'] as const;

export const csvEncodings = ['auto', 'utf8', 'shift_jis'] as const;
export type CsvEncodingChoice = (typeof csvEncodings)[number];
export type CsvExportEncoding = Exclude<CsvEncodingChoice, 'auto'>;

/** A problem with the file, on a line counted from 1 (0: the file as a whole). */
export interface LineError {
  line: number;
  message: string;
}

/** One extension as the file gives it; an empty cell is undefined (or an empty list). */
export interface CsvRow {
  /** The line the record starts on. */
  line: number;
  number: string;
  name: string;
  kana?: string;
  password?: string;
  pin?: string;
  departments: string[];
  pickupGroups: string[];
  callerId?: string;
  ringTimeout?: number;
  memo?: string;
}

const BOM = '\ufeff';
const utf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** The lines of the file as byte ranges: both encodings keep LF (0x0A) out of every multi-byte character. */
function byteLines(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      out.push(bytes.subarray(start, i));
      start = i + 1;
    }
  }
  return out;
}

/**
 * Bytes → text. `auto`: valid UTF-8 (with or without BOM) is UTF-8, anything else is read as Shift_JIS.
 * Bytes the chosen encoding cannot decode are an error on their line, never a replacement character.
 */
export function decodeCsv(bytes: Buffer, encoding: CsvEncodingChoice): { text: string; encoding: CsvExportEncoding } | { errors: LineError[] } {
  const chosen: CsvExportEncoding = encoding === 'auto' ? (isUtf8(bytes) ? 'utf8' : 'shift_jis') : encoding;
  if (chosen === 'utf8') {
    if (!isUtf8(bytes)) {
      const errors = byteLines(bytes)
        .map((line, i) => ({ line: i + 1, ok: isUtf8(line) }))
        .filter((l) => !l.ok)
        .map((l) => ({ line: l.line, message: 'bytes that are not valid UTF-8 (save the file as UTF-8, or import it as shift_jis)' }));
      return { errors };
    }
    const text = utf8.decode(bytes);
    return { text: text.startsWith(BOM) ? text.slice(1) : text, encoding: chosen };
  }
  const errors: LineError[] = [];
  const lines = byteLines(bytes).map((line, i) => {
    const text = iconv.decode(line, 'shift_jis');
    // iconv-lite decodes an invalid byte sequence to U+FFFD, which Shift_JIS itself cannot encode.
    if (text.includes('\ufffd')) errors.push({ line: i + 1, message: 'bytes that are not valid Shift_JIS' });
    return text;
  });
  return errors.length > 0 ? { errors } : { text: lines.join('\n'), encoding: chosen };
}

const listPattern = /^#(?:[0-9]+#)+$/;

/** `#600#601#` → ['600', '601']; an empty cell → []. */
function parseList(cell: string, column: string, problems: string[]): string[] {
  if (cell === '') return [];
  if (!listPattern.test(cell)) {
    problems.push(`${column}: write the numbers as #600#601# (got ${JSON.stringify(cell)})`);
    return [];
  }
  const list = cell.slice(1, -1).split('#');
  const twice = list.find((n, i) => list.indexOf(n) !== i);
  if (twice !== undefined) problems.push(`${column}: ${twice} is listed twice`);
  return [...new Set(list)];
}

function formatList(list: readonly string[]): string {
  return list.length === 0 ? '' : `#${list.join('#')}#`;
}

function rowOf(line: number, cells: string[], problems: string[]): CsvRow {
  const [number, name, kana, password, pin, departments, pickupGroups, callerId, ringTimeout, memo] = cells as [string, string, string, string, string, string, string, string, string, string];
  if (!extensionNumberPattern.test(number)) problems.push(`number: ${JSON.stringify(number)} is not an extension number (2–15 digits, first digit 2–9)`);
  if (name.trim() === '') problems.push('name: must not be empty');
  if (kana.length > 100) problems.push('kana: at most 100 characters');
  // As the API: a SIP password reachable from the network is at least 8 characters (the file only warns).
  if (password !== '' && password.length < 8) problems.push('password: at least 8 characters');
  if (pin !== '') {
    const problem = pinProblem(pin);
    if (problem) problems.push(`pin: ${problem}`);
  }
  if (callerId !== '' && !/^(\+?[0-9]{1,20}|none)$/.test(callerId)) problems.push(`callerId: ${JSON.stringify(callerId)} is not a phone number (digits, optional leading +) or none`);
  let timeout: number | undefined;
  if (ringTimeout !== '') {
    timeout = /^[0-9]{1,4}$/.test(ringTimeout) ? Number(ringTimeout) : NaN;
    if (!(timeout >= 5 && timeout <= 360)) problems.push(`ringTimeout: ${JSON.stringify(ringTimeout)} is not a number of seconds from 5 to 360`);
  }
  const row: CsvRow = { line, number, name, departments: parseList(departments, 'departments', problems), pickupGroups: parseList(pickupGroups, 'pickupGroups', problems) };
  if (kana !== '') row.kana = kana;
  if (password !== '') row.password = password;
  if (pin !== '') row.pin = pin;
  if (callerId !== '') row.callerId = callerId;
  if (timeout !== undefined) row.ringTimeout = timeout;
  if (memo !== '') row.memo = memo;
  return row;
}

/** The line of the quote that opens the field left open at the end (the parser only says where it gave up). */
function unclosedQuoteLine(text: string): number {
  let line = 1;
  let openedOn = 0;
  let quoted = false;
  let fieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"' && fieldStart) {
      quoted = true;
      openedOn = line;
    }
    if (c === '\n') line++;
    fieldStart = !quoted && (c === ',' || c === '\n' || c === '\r');
  }
  return openedOn;
}

interface ParsedRecord {
  record: string[];
  info: { lines: number };
}

/** Text → rows. Every problem of every line is listed; a row with a problem is left out of `rows`. */
export function parseExtensionCsv(text: string): { rows: CsvRow[]; errors: LineError[] } {
  let records: ParsedRecord[];
  try {
    // Empty lines are kept (as one empty cell) so each record's first line is the previous one's last + 1.
    records = parse(text, { info: true, relax_column_count: true, skip_empty_lines: false }) as unknown as ParsedRecord[];
  } catch (err) {
    const e = err as { code?: string; lines?: number; message: string };
    if (e.code === 'CSV_QUOTE_NOT_CLOSED') return { rows: [], errors: [{ line: unclosedQuoteLine(text), message: 'a quoted field is never closed (a " without its closing ")' }] };
    return { rows: [], errors: [{ line: e.lines ?? 0, message: `not a CSV file: ${e.message}` }] };
  }
  const errors: LineError[] = [];
  const rows: CsvRow[] = [];
  const firstLine = new Map<string, number>();
  let previousEnd = 0;
  let header = true;
  for (const { record, info } of records) {
    const line = previousEnd + 1;
    previousEnd = info.lines;
    if (record.length === 1 && record[0] === '') continue;
    if (header) {
      header = false;
      if (record.join(',') !== csvColumns.join(',')) errors.push({ line, message: `the first row must be the header ${csvColumns.join(',')}` });
      continue;
    }
    if (record.length !== csvColumns.length) {
      errors.push({ line, message: `${record.length} columns; each row has ${csvColumns.length} (${csvColumns.join(',')})` });
      continue;
    }
    const problems: string[] = [];
    const row = rowOf(line, record, problems);
    const first = firstLine.get(row.number);
    if (first !== undefined) problems.push(`number ${row.number} is also on line ${first}`);
    else firstLine.set(row.number, line);
    for (const message of problems) errors.push({ line, message });
    if (problems.length === 0) rows.push(row);
  }
  if (header) errors.push({ line: 1, message: `the file is empty: the first row must be the header ${csvColumns.join(',')}` });
  return { rows, errors };
}

/** What the rows are checked against: the numbers in use and the groups that exist. */
export interface ImportTarget {
  /** Every number of the dial plan and its owner. */
  taken: ReadonlyMap<string, string>;
  extensions: ReadonlySet<string>;
  groups: ReadonlySet<string>;
  pickupGroups: ReadonlySet<string>;
}

/** Rows checked against the config: clashes with numbers that are not extensions, unknown groups, missing passwords. */
export function checkRows(rows: readonly CsvRow[], target: ImportTarget): LineError[] {
  const errors: LineError[] = [];
  for (const row of rows) {
    const existing = target.extensions.has(row.number);
    const owner = target.taken.get(row.number);
    if (!existing && owner !== undefined) errors.push({ line: row.line, message: `number ${row.number} is already used by ${owner}` });
    if (!existing && row.password === undefined) errors.push({ line: row.line, message: `password: required for the new extension ${row.number}` });
    for (const g of row.departments) if (!target.groups.has(g)) errors.push({ line: row.line, message: `departments: there is no group ${g}` });
    for (const g of row.pickupGroups) if (!target.pickupGroups.has(g)) errors.push({ line: row.line, message: `pickupGroups: there is no pickup group ${g}` });
  }
  return errors;
}

/** Every extension as CSV text (CRLF lines, header first). Passwords and PINs only when asked for. */
export function formatExtensionCsv(config: HibikiConfig, includeSecrets: boolean): string {
  const records = config.extensions.map((e) => [
    e.number,
    e.name,
    e.kana ?? '',
    includeSecrets ? e.password : '',
    includeSecrets ? (e.pin ?? '') : '',
    formatList(config.groups.filter((g) => g.members.includes(e.number)).map((g) => g.number)),
    formatList(config.pickupGroups.filter((g) => g.members.includes(e.number)).map((g) => g.number)),
    e.callerId ?? '',
    e.ringTimeout === undefined ? '' : String(e.ringTimeout),
    e.memo ?? '',
  ]);
  return stringify([[...csvColumns], ...records], { record_delimiter: '\r\n' });
}

/** Text → bytes; UTF-8 gets a BOM so that Excel reads it as UTF-8 (the import skips it). */
export function encodeExtensionCsv(text: string, encoding: CsvExportEncoding): Buffer {
  return encoding === 'utf8' ? Buffer.concat([Buffer.from(BOM, 'utf8'), encodeCsv(text, 'utf8')]) : encodeCsv(text, 'shift_jis');
}
