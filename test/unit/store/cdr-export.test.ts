import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildCdr, type CallFacts } from '../../../src/pbx/cdr.js';
import { cdrColumns, cdrFields, type CdrRecord } from '../../../src/store/cdr-row.js';
import { cdrExportRange, csvField, encodeCsv, exportCdrCsv } from '../../../src/store/cdr-export.js';
import { CdrStore } from '../../../src/store/cdr-store.js';
import { openDatabase } from '../../../src/store/db.js';
import type { Database } from '../../../src/store/db.js';

const header: string[] = cdrFields.map((f) => cdrColumns[f]);

// Local midnight, as the CLI range is given in local days.
const DAY1 = new Date(2024, 4, 1);
const DAY2 = new Date(2024, 4, 2);
const DAY3 = new Date(2024, 4, 3);

function cdr(startedAt: number, over: Partial<CallFacts> = {}): CdrRecord {
  return buildCdr({
    callId: `c${startedAt}@192.0.2.10`,
    startedAt,
    answeredAt: startedAt + 2_000,
    endedAt: startedAt + 62_000,
    direction: 'inbound',
    callerNumber: '0312345678',
    callerName: '山田 太郎',
    dialedNumber: '0501234567',
    calleeNumber: '2001',
    hangupBy: 'caller',
    sipStatus: 200,
    trunk: 'carrier',
    ...over,
  });
}

/** A strict RFC 4180 reader for the checks: CRLF records, quoted fields with doubled quotes. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field: string;
    if (text[i] === '"') {
      field = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) throw new Error('unterminated quote');
        field += text.slice(j, q);
        if (text[q + 1] === '"') {
          field += '"';
          j = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
    } else {
      const m = /[,\r\n"]/g;
      m.lastIndex = i;
      const hit = m.exec(text);
      const end = hit ? hit.index : text.length;
      if (hit && hit[0] === '"') throw new Error(`quote inside an unquoted field at ${end}`);
      field = text.slice(i, end);
      i = end;
    }
    record.push(field);
    if (text[i] === ',') {
      i++;
      if (i === text.length) throw new Error('record ends in a comma');
    } else if (text.startsWith('\r\n', i)) {
      records.push(record);
      record = [];
      i += 2;
    } else {
      throw new Error(i >= text.length ? 'last record not CRLF-terminated' : `bare CR or LF at ${i}`);
    }
  }
  return records;
}

describe('exportCdrCsv', () => {
  let dir: string;
  let out: string;
  let db: Database;
  let store: CdrStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hibiki-cdr-export-'));
    out = join(dir, 'out');
    mkdirSync(out);
    db = openDatabase(dir);
    store = new CdrStore(db);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('splits 85,000 rows into three numbered files of at most 40,000, each with the header', () => {
    const base = DAY1.getTime();
    const recs: CdrRecord[] = [];
    for (let i = 0; i < 85_000; i++) recs.push(cdr(base + i * 1_000));
    // Outside the range on both sides: must not be exported.
    recs.push(cdr(base - 1), cdr(DAY3.getTime()));
    store.insertMany(recs);

    const files = exportCdrCsv(store, { from: DAY1, to: DAY3, dir: out });
    expect(files.map((f) => basename(f))).toEqual(['cdr-20240501-20240502-001.csv', 'cdr-20240501-20240502-002.csv', 'cdr-20240501-20240502-003.csv']);
    expect(readdirSync(out).sort()).toEqual(files.map((f) => basename(f)).sort());

    const counts: number[] = [];
    const ids = new Set<string>();
    const starts: string[] = [];
    let badWidth = 0;
    for (const f of files) {
      const records = parseCsv(readFileSync(f, 'utf8'));
      expect(records[0]).toEqual(header);
      const rows = records.slice(1);
      counts.push(rows.length);
      for (const r of rows) {
        if (r.length !== header.length) badWidth++;
        ids.add(r[0]);
        starts.push(r[3]);
      }
    }
    expect(counts).toEqual([40_000, 40_000, 5_000]);
    expect(badWidth).toBe(0);
    expect(ids.size).toBe(85_000);
    // Oldest first, continuing across files.
    expect(starts).toEqual(recs.slice(0, 85_000).map((r) => r.startedAt));

    const first = parseCsv(readFileSync(files[0], 'utf8'))[1];
    const rec = recs[0];
    expect(Object.fromEntries(header.map((h, i) => [h, first[i]]))).toMatchObject({
      call_id: rec.callId,
      started_at: rec.startedAt,
      answered_at: rec.answeredAt,
      duration: '62',
      billsec: '60',
      disposition: 'answered',
      caller_number: '0312345678',
      caller_name: '山田 太郎',
      q850_cause: '16',
      sip_status: '200',
      hangup_reason: '',
      queue: '',
    });
  });

  it('writes a single file without a number, and Shift_JIS that decodes back to the Japanese names', () => {
    const names = ['山田 太郎', '髙橋 﨑子', '渡辺〜サポート', 'ｶﾀｶﾅ ①', 'Émile 😀'];
    store.insertMany(names.map((n, i) => cdr(DAY1.getTime() + i * 60_000, { callerName: n })));
    const files = exportCdrCsv(store, { from: DAY1, to: DAY2, dir: out, encoding: 'shift_jis' });
    expect(files.map((f) => basename(f))).toEqual(['cdr-20240501-20240501.csv']);

    const bytes = readFileSync(files[0]);
    const text = new TextDecoder('shift_jis', { fatal: true }).decode(bytes);
    const records = parseCsv(text);
    expect(records[0]).toEqual(header);
    const got = records.slice(1).map((r) => r[header.indexOf('caller_name')]);
    // WAVE DASH is written as the CP932 tilde (same byte pair); what Shift_JIS lacks becomes '?'.
    expect(got).toEqual(['山田 太郎', '髙橋 﨑子', '渡辺～サポート', 'ｶﾀｶﾅ ①', '?mile ?']);
    // Really Shift_JIS, not UTF-8: 山 is 0x8E 0x52.
    expect(bytes.includes(Buffer.from([0x8e, 0x52]))).toBe(true);
    expect(bytes.includes(Buffer.from('山', 'utf8'))).toBe(false);
  });

  it('quotes fields per RFC 4180 and defuses spreadsheet formulas from the network', () => {
    store.insertMany([
      cdr(DAY1.getTime(), { callerName: 'Smith, "Bob"\r\nJr.' }),
      cdr(DAY1.getTime() + 1, { callerName: '=HYPERLINK("http://x","y")', callerNumber: '+81312345678' }),
      cdr(DAY1.getTime() + 2, { callerName: '-2+3', callerNumber: '@SUM(A1)', hangupReason: '\tx' }),
    ]);
    const [file] = exportCdrCsv(store, { from: DAY1, to: DAY2, dir: out, baseName: 'x' });
    expect(basename(file)).toBe('x.csv');
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('"Smith, ""Bob""\r\nJr."');
    const rows = parseCsv(text).slice(1);
    const col = (name: string): string[] => rows.map((r) => r[header.indexOf(name)]);
    expect(col('caller_name')).toEqual(['Smith, "Bob"\r\nJr.', '\'=HYPERLINK("http://x","y")', "'-2+3"]);
    expect(col('caller_number')).toEqual(['0312345678', '+81312345678', "'@SUM(A1)"]);
    expect(col('hangup_reason')).toEqual(['', '', "'\tx"]);

    const [raw] = exportCdrCsv(store, { from: DAY1, to: DAY2, dir: out, baseName: 'raw', neutralizeFormulas: false });
    expect(parseCsv(readFileSync(raw, 'utf8'))[2][header.indexOf('caller_name')]).toBe('=HYPERLINK("http://x","y")');
  });

  it('writes the header alone for a range without calls', () => {
    store.insert(cdr(DAY3.getTime()));
    const files = exportCdrCsv(store, { from: DAY1, to: DAY2, dir: out });
    expect(files).toHaveLength(1);
    expect(readFileSync(files[0], 'utf8')).toBe(header.join(',') + '\r\n');
  });

  it('numbers files from exactly rowsPerFile + 1 rows, and not at exactly rowsPerFile', () => {
    store.insertMany(Array.from({ length: 4 }, (_, i) => cdr(DAY1.getTime() + i)));
    expect(exportCdrCsv(store, { from: DAY1, to: DAY2, dir: out, rowsPerFile: 4, baseName: 'a' }).map((f) => basename(f))).toEqual(['a.csv']);
    const split = exportCdrCsv(store, { from: DAY1, to: DAY2, dir: out, rowsPerFile: 3, baseName: 'b' });
    expect(split.map((f) => basename(f))).toEqual(['b-001.csv', 'b-002.csv']);
    expect(split.map((f) => parseCsv(readFileSync(f, 'utf8')).length - 1)).toEqual([3, 1]);
  });

  it('rejects bad options and leaves no partial file when it fails', () => {
    expect(() => exportCdrCsv(store, { from: DAY2, to: DAY1, dir: out })).toThrow(RangeError);
    expect(() => exportCdrCsv(store, { from: DAY1, to: DAY2, dir: out, rowsPerFile: 0 })).toThrow(RangeError);
    store.insert(cdr(DAY1.getTime()));
    expect(() => exportCdrCsv(store, { from: DAY1, to: DAY2, dir: join(out, 'missing') })).toThrow(/ENOENT/);
    db.exec('DROP TABLE cdr');
    expect(() => exportCdrCsv(store, { from: DAY1, to: DAY2, dir: out })).toThrow();
    expect(readdirSync(out)).toEqual([]);
  });
});

describe('cdrExportRange', () => {
  it('covers whole local days, the last one included', () => {
    expect(cdrExportRange('2024-05-01', '2024-05-31')).toEqual({ from: new Date(2024, 4, 1), to: new Date(2024, 5, 1) });
    expect(cdrExportRange('2024-12-31', '2024-12-31')).toEqual({ from: new Date(2024, 11, 31), to: new Date(2025, 0, 1) });
  });

  it('names the bad argument', () => {
    expect(() => cdrExportRange('2024-02-30', '2024-03-01')).toThrow(/--from/);
    expect(() => cdrExportRange('2024-05-01', '31/05/2024')).toThrow(/--to/);
    expect(() => cdrExportRange('2024-05-02', '2024-05-01')).toThrow(/before/);
  });
});

describe('CSV pieces', () => {
  it('quotes only what RFC 4180 requires', () => {
    expect(csvField(null)).toBe('');
    expect(csvField(16)).toBe('16');
    expect(csvField('plain text')).toBe('plain text');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
  });

  it('encodes UTF-8 and Shift_JIS', () => {
    expect(encodeCsv('山', 'utf8')).toEqual(Buffer.from([0xe5, 0xb1, 0xb1]));
    expect(encodeCsv('山,〜', 'shift_jis')).toEqual(Buffer.from([0x8e, 0x52, 0x2c, 0x81, 0x60]));
  });
});
