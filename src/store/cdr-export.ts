// CSV export of call-detail records by date range (SPEC F-CDR): UTF-8 or Shift_JIS, at most
// rowsPerFile rows per file, rows streamed from SQLite so that any range fits in memory.
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { cdrColumns, cdrFields } from './cdr-row.js';
import type { CdrRow } from './cdr-row.js';
import type { CdrStore } from './cdr-store.js';

export type CdrCsvEncoding = 'utf8' | 'shift_jis';

export interface CdrExportOptions {
  /** Calls that started at or after this instant… */
  from: Date;
  /** …and before this one. */
  to: Date;
  /** Directory the files are written to; it must exist. */
  dir: string;
  /** Default utf8. In shift_jis, characters Shift_JIS (CP932) cannot encode are written as '?'. */
  encoding?: CdrCsvEncoding;
  /** Default 40,000 (SPEC F-CDR). */
  rowsPerFile?: number;
  /** File name before the number and `.csv`; default `cdr-YYYYMMDD-YYYYMMDD` (local dates, last day inclusive). */
  baseName?: string;
  /**
   * Default true: a text cell that a spreadsheet would run as a formula (`=`, `@`, `+` or `-` then
   * more than digits, a leading tab or CR) gets a leading `'`. Caller names and numbers come from the
   * network, so an exported file must not be able to run anything when opened. `+81…` stays as is.
   */
  neutralizeFormulas?: boolean;
}

export const defaultRowsPerFile = 40_000;

const columnNames = cdrFields.map((f) => cdrColumns[f]);
/** Rows gathered before one encode-and-write, to keep system calls few and memory flat. */
const ROWS_PER_WRITE = 500;

/** The header line: column names as in the table, CRLF-terminated (RFC 4180 §2). */
export function cdrCsvHeader(): string {
  return columnNames.join(',') + '\r\n';
}

/** One RFC 4180 field: quoted, with quotes doubled, only when it holds a comma, quote, CR or LF. */
export function csvField(value: string | number | null, neutralizeFormulas = true): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = neutralizeFormulas && looksLikeFormula(value) ? "'" + value : value;
  return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
}

function looksLikeFormula(s: string): boolean {
  const c = s.charCodeAt(0);
  if (c === 0x3d /* = */ || c === 0x40 /* @ */ || c === 0x09 || c === 0x0d) return true;
  // A phone number such as +81312345678 is data, not a formula.
  if (c === 0x2b /* + */ || c === 0x2d /* - */) return !/^[+-][0-9]*$/.test(s);
  return false;
}

/** One CSV record for a stored row, CRLF-terminated. */
export function cdrCsvLine(row: CdrRow, neutralizeFormulas = true): string {
  let line = '';
  for (let i = 0; i < columnNames.length; i++) {
    if (i > 0) line += ',';
    line += csvField(row[columnNames[i]], neutralizeFormulas);
  }
  return line + '\r\n';
}

/**
 * Characters whose JIS X 0208 meaning Unicode spells two ways. Text typed on macOS or Linux uses the
 * first form, which the CP932 table iconv-lite (and Windows) uses has no code for; the second form is
 * the same Shift_JIS byte pair, so map to it instead of losing the character to '?'.
 */
const cp932Variants: ReadonlyMap<string, string> = new Map([
  ['\u301c', '\uff5e'], // WAVE DASH → FULLWIDTH TILDE (0x8160)
  ['\u2016', '\u2225'], // DOUBLE VERTICAL LINE → PARALLEL TO (0x8161)
  ['\u2212', '\uff0d'], // MINUS SIGN → FULLWIDTH HYPHEN-MINUS (0x817C)
  ['\u00a2', '\uffe0'], // CENT SIGN → FULLWIDTH CENT SIGN (0x8191)
  ['\u00a3', '\uffe1'], // POUND SIGN → FULLWIDTH POUND SIGN (0x8192)
  ['\u00ac', '\uffe2'], // NOT SIGN → FULLWIDTH NOT SIGN (0x81CA)
  ['\u2014', '\u2015'], // EM DASH → HORIZONTAL BAR (0x815C)
]);
const cp932VariantPattern = /[\u301c\u2016\u2212\u00a2\u00a3\u00ac\u2014]/g;

/** Encodes CSV text; Node cannot encode Shift_JIS itself (TextEncoder is UTF-8 only), iconv-lite can. */
export function encodeCsv(text: string, encoding: CdrCsvEncoding): Buffer {
  if (encoding === 'utf8') return Buffer.from(text, 'utf8');
  // iconv-lite writes '?' for a character that has no Shift_JIS code (emoji, most non-Japanese scripts).
  return iconv.encode(
    text.replace(cp932VariantPattern, (c) => cp932Variants.get(c) ?? c),
    'shift_jis',
  );
}

function ymd(d: Date): string {
  const p = (n: number, w: number): string => String(n).padStart(w, '0');
  return p(d.getFullYear(), 4) + p(d.getMonth() + 1, 2) + p(d.getDate(), 2);
}

/** `cdr-YYYYMMDD-YYYYMMDD`: the local first and last day of [from, to). */
export function cdrExportBaseName(from: Date, to: Date): string {
  return `cdr-${ymd(from)}-${ymd(new Date(to.getTime() - 1))}`;
}

/** `<base>.csv` when the export is one file, else `<base>-001.csv`, `-002`, … (part counts from 1). */
export function cdrExportFileName(base: string, part: number, parts: number): string {
  return parts === 1 ? `${base}.csv` : `${base}-${String(part).padStart(3, '0')}.csv`;
}

/**
 * The instants for a CLI range of whole local days, `--from 2024-05-01 --to 2024-05-31`: from the start
 * of the first day to the start of the day after the last, in the server's time zone. Throws RangeError
 * naming the argument that is not a real YYYY-MM-DD date, or when the range is backwards.
 */
export function cdrExportRange(fromDay: string, toDay: string): { from: Date; to: Date } {
  const from = localDay(fromDay, 'from');
  const last = localDay(toDay, 'to');
  if (last < from) throw new RangeError(`--to ${toDay} is before --from ${fromDay}`);
  return { from, to: new Date(last.getFullYear(), last.getMonth(), last.getDate() + 1) };
}

function localDay(text: string, name: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const d = m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : undefined;
  // Date rolls 2024-02-30 over to March; a rolled-over day is not the day that was asked for.
  if (!m || !d || d.getFullYear() !== Number(m[1]) || d.getMonth() !== Number(m[2]) - 1 || d.getDate() !== Number(m[3])) {
    throw new RangeError(`--${name} must be a date as YYYY-MM-DD, got '${text}'`);
  }
  return d;
}

/** A CSV file being written under a temporary name, renamed into place when complete. */
class CsvFile {
  readonly path: string;
  private readonly partial: string;
  private fd: number | undefined;

  constructor(path: string) {
    this.path = path;
    this.partial = path + '.partial';
    this.fd = openSync(this.partial, 'w');
  }

  write(bytes: Buffer): void {
    if (this.fd === undefined) throw new Error(`${this.path} is already closed`);
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
  }

  finish(): void {
    this.close();
    renameSync(this.partial, this.path);
  }

  abandon(): void {
    try {
      this.close();
    } finally {
      rmSync(this.partial, { force: true });
    }
  }

  private close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }
}

/**
 * Writes the CDRs of calls that started in [from, to) as CSV files in `dir` and returns their paths in
 * order. Each file starts with the header row; fields are quoted per RFC 4180 and lines end in CRLF.
 * One file is named `<base>.csv`; when the rows need more, they are `<base>-001.csv`, `-002`, …
 * A range without calls gives one file holding only the header. Files appear complete or not at all.
 * Synchronous: a large export blocks the thread it runs on (the CLI, or a worker).
 */
export function exportCdrCsv(store: CdrStore, options: CdrExportOptions): string[] {
  const { from, to, dir } = options;
  const encoding = options.encoding ?? 'utf8';
  const rowsPerFile = options.rowsPerFile ?? defaultRowsPerFile;
  const neutralize = options.neutralizeFormulas ?? true;
  if (!Number.isSafeInteger(rowsPerFile) || rowsPerFile < 1) throw new RangeError(`rowsPerFile must be a positive integer, got ${rowsPerFile}`);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || to <= from) {
    throw new RangeError('CDR export range must be two valid dates with from before to');
  }
  const base = options.baseName ?? cdrExportBaseName(from, to);
  const header = encodeCsv(cdrCsvHeader(), encoding);
  const done: CsvFile[] = [];
  let current: CsvFile | undefined;

  try {
    store.readSnapshot(() => {
      const total = store.count({ from, to });
      const fileCount = Math.max(1, Math.ceil(total / rowsPerFile));
      const nameOf = (i: number): string => join(dir, cdrExportFileName(base, i + 1, fileCount));
      const open = (): CsvFile => {
        const f = new CsvFile(nameOf(done.length));
        f.write(header);
        return f;
      };

      current = open();
      let inFile = 0;
      let chunk = '';
      let inChunk = 0;
      const flush = (): void => {
        if (inChunk === 0) return;
        current?.write(encodeCsv(chunk, encoding));
        chunk = '';
        inChunk = 0;
      };
      for (const row of store.iterateRows({ from, to })) {
        if (inFile === rowsPerFile) {
          flush();
          current.finish();
          done.push(current);
          current = open();
          inFile = 0;
        }
        chunk += cdrCsvLine(row, neutralize);
        inChunk++;
        inFile++;
        if (inChunk === ROWS_PER_WRITE) flush();
      }
      flush();
      current.finish();
      done.push(current);
      current = undefined;
    });
  } catch (err) {
    // Leave no half-written export behind: neither the file in progress nor the ones before it.
    current?.abandon();
    for (const f of done) rmSync(f.path, { force: true });
    throw err;
  }
  return done.map((f) => f.path);
}
