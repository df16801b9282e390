// The extension CSV (F-CSV): decoding (UTF-8 with and without BOM, Shift_JIS, bad bytes on their line),
// every row problem with its line, #a#b# lists, the export, and an import applied to a real config file.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { ConfigEditor } from '../../../src/config/config-editor.js';
import { checkRows, csvColumns, decodeCsv, encodeExtensionCsv, formatExtensionCsv, parseExtensionCsv, type LineError } from '../../../src/config/extension-csv.js';
import { importExtensionCsv } from '../../../src/config/extension-import.js';
import { loadConfigText } from '../../../src/config/load.js';
import type { HibikiConfig } from '../../../src/config/schema.js';

const header = csvColumns.join(',');
const csv = (...rows: string[]) => [header, ...rows].join('\r\n') + '\r\n';

const yaml = `# the office PBX
tenant:
  domain: pbx.example.com
listen:
  - transport: udp
    port: 5060
extensions:
  - { number: "2001", name: 山田太郎, kana: ヤマダタロウ, password: secret-2001, pin: "2580" } # reception
  - { number: "2002", name: Bob, password: secret-2002 }
groups:
  - { number: "600", name: 営業, members: ["2001"] }
  - { number: "601", name: 総務, members: ["2001", "2002"] }
pickupGroups:
  - { number: "1", members: ["2001"] }
`;

function config(): HibikiConfig {
  const r = loadConfigText(yaml, 'h.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config;
}

function text(bytes: Buffer, encoding: 'auto' | 'utf8' | 'shift_jis' = 'auto'): string {
  const r = decodeCsv(bytes, encoding);
  if ('errors' in r) throw new Error(JSON.stringify(r.errors));
  return r.text;
}

const lines = (errors: LineError[]) => errors.map((e) => e.line);

describe('extension CSV decoding', () => {
  it('reads UTF-8 with and without a BOM, and Shift_JIS, as the same text', () => {
    const t = csv('2003,鈴木花子,スズキハナコ,password-3,,#600#601#,#1#,,,');
    expect(text(Buffer.from(t, 'utf8'))).toBe(t);
    expect(text(Buffer.from('\ufeff' + t, 'utf8'))).toBe(t);
    expect(text(Buffer.from('\ufeff' + t, 'utf8'), 'utf8')).toBe(t);
    const sjis = iconv.encode(t, 'shift_jis');
    expect(sjis.includes(Buffer.from('鈴木', 'utf8'))).toBe(false);
    expect(decodeCsv(sjis, 'auto')).toEqual({ text: t, encoding: 'shift_jis' });
    expect(text(sjis, 'shift_jis')).toBe(t);
  });

  it('names every line with bytes the chosen encoding cannot decode', () => {
    const sjis = Buffer.concat([Buffer.from(header + '\n'), iconv.encode('2003,鈴木,,password-3,,,,,,\n', 'shift_jis'), Buffer.from('2004,ok,,password-4,,,,,,\n')]);
    expect(decodeCsv(sjis, 'utf8')).toEqual({ errors: [{ line: 2, message: expect.stringContaining('not valid UTF-8') }] });
    const broken = Buffer.concat([Buffer.from(header + '\n2003,a,,password-3,,,,,,\n'), Buffer.from([0x32, 0x30, 0x30, 0x34, 0x2c, 0xff, 0xfe, 0x0a])]);
    expect(decodeCsv(broken, 'shift_jis')).toEqual({ errors: [{ line: 3, message: 'bytes that are not valid Shift_JIS' }] });
    expect(decodeCsv(broken, 'auto')).toEqual({ errors: [{ line: 3, message: 'bytes that are not valid Shift_JIS' }] });
  });
});

describe('extension CSV rows', () => {
  it('parses #a#b# lists, empty cells, quoted commas and line breaks', () => {
    const { rows, errors } = parseExtensionCsv(csv('2003,"Suzuki, Hanako",,password-3,2580,#600#601#,#1#,+81312345678,30,"two\nlines"', '', '2004,B,,,,,,,,'));
    expect(errors).toEqual([]);
    expect(rows).toEqual([
      {
        line: 2,
        number: '2003',
        name: 'Suzuki, Hanako',
        password: 'password-3',
        pin: '2580',
        departments: ['600', '601'],
        pickupGroups: ['1'],
        callerId: '+81312345678',
        ringTimeout: 30,
        memo: 'two\nlines',
      },
      { line: 5, number: '2004', name: 'B', departments: [], pickupGroups: [] },
    ]);
  });

  it('lists every problem of every row with its line', () => {
    const { rows, errors } = parseExtensionCsv(
      csv(
        '2003,A,,password-3,,,,,,', // fine
        '0123,B,,password-4,,,,,,', // bad number
        '2005,,,password-5,,,,,,', // empty name
        '2006,C,,short,1234,600,#x#,abc,3,', // password, pin, both lists, callerId, ringTimeout
        '2003,D,,password-7,,,,,,', // duplicate of line 2
        '2008,E,,password-8,,,,,', // 9 columns
        '2009,F,,password-9,,#600#600#,,,,', // listed twice
      ),
    );
    expect(rows.map((r) => r.number)).toEqual(['2003']);
    expect(lines(errors)).toEqual([3, 4, 5, 5, 5, 5, 5, 5, 6, 7, 8]);
    const at = (line: number) => errors.filter((e) => e.line === line).map((e) => e.message);
    expect(at(3)[0]).toContain('not an extension number');
    expect(at(4)[0]).toContain('name');
    expect(at(5).map((m) => m.split(':')[0])).toEqual(['password', 'pin', 'callerId', 'ringTimeout', 'departments', 'pickupGroups']);
    expect(at(6)).toEqual(['number 2003 is also on line 2']);
    expect(at(7)[0]).toContain('9 columns');
    expect(at(8)).toEqual(['departments: 600 is listed twice']);
  });

  it('requires the header row and reports an unclosed quote on its line', () => {
    expect(parseExtensionCsv('number,name\r\n2003,A\r\n').errors[0]).toEqual({ line: 1, message: expect.stringContaining('header') });
    expect(parseExtensionCsv('').errors).toEqual([{ line: 1, message: expect.stringContaining('empty') }]);
    expect(parseExtensionCsv(csv('2003,A,,password-3,,,,,,', '2004,"B,,password-4,,,,,,')).errors).toEqual([{ line: 3, message: expect.stringContaining('never closed') }]);
  });

  it('checks rows against the config: clashes, unknown groups, a new extension without a password', () => {
    const c = config();
    const { rows } = parseExtensionCsv(csv('2001,A,,,,#600#,#1#,,,', '600,G,,password-6,,,,,,', '2005,N,,,,#699#,#9#,,,', '9001,P,,password-9,,,,,,'));
    const errors = checkRows(rows, {
      taken: new Map([
        ['2001', 'extension 2001'],
        ['600', 'group 600'],
        ['9001', 'park slot 9001'],
      ]),
      extensions: new Set(c.extensions.map((e) => e.number)),
      groups: new Set(c.groups.map((g) => g.number)),
      pickupGroups: new Set(c.pickupGroups.map((g) => g.number)),
    });
    expect(errors).toEqual([
      { line: 3, message: 'number 600 is already used by group 600' },
      { line: 4, message: 'password: required for the new extension 2005' },
      { line: 4, message: 'departments: there is no group 699' },
      { line: 4, message: 'pickupGroups: there is no pickup group 9' },
      { line: 5, message: 'number 9001 is already used by park slot 9001' },
    ]);
  });
});

describe('extension CSV export', () => {
  it('writes every extension with its memberships; secrets only when asked; Shift_JIS round trip', () => {
    const c = config();
    const plain = formatExtensionCsv(c, false);
    expect(plain).toBe(csv('2001,山田太郎,ヤマダタロウ,,,#600#601#,#1#,,,', '2002,Bob,,,,#601#,,,,'));
    expect(formatExtensionCsv(c, true).split('\r\n')[1]).toBe('2001,山田太郎,ヤマダタロウ,secret-2001,2580,#600#601#,#1#,,,');
    const sjis = encodeExtensionCsv(plain, 'shift_jis');
    expect(iconv.decode(sjis, 'shift_jis')).toBe(plain);
    expect(text(sjis)).toBe(plain);
    const utf8 = encodeExtensionCsv(plain, 'utf8');
    expect([...utf8.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(parseExtensionCsv(text(utf8)).rows.map((r) => [r.number, r.name, r.kana, r.departments])).toEqual([
      ['2001', '山田太郎', 'ヤマダタロウ', ['600', '601']],
      ['2002', 'Bob', undefined, ['601']],
    ]);
  });
});

describe('extension CSV import into the config file', () => {
  function file(): { path: string; editor: ConfigEditor; applied: HibikiConfig[] } {
    const path = join(mkdtempSync(join(tmpdir(), 'hibiki-csv-')), 'hibiki.yaml');
    writeFileSync(path, yaml);
    const applied: HibikiConfig[] = [];
    return { path, editor: new ConfigEditor(path, (c) => applied.push(c)), applied };
  }

  it('adds new numbers, updates existing ones, keeps passwords left empty and the comments', () => {
    const f = file();
    const r = importExtensionCsv(f.editor, iconv.encode(csv('2001,山田太郎,,,,#601#,,0312345678,,受付', '2003,鈴木花子,スズキハナコ,password-3,,#600#,#1#,,25,'), 'shift_jis'), 'auto');
    expect(r).toEqual({ ok: true, created: ['2003'], updated: ['2001'] });
    const after = readFileSync(f.path, 'utf8');
    expect(after).toContain('# the office PBX');
    expect(after).toContain('# reception');
    expect(f.applied).toHaveLength(1);
    const c = f.applied[0]!;
    const e2001 = c.extensions.find((e) => e.number === '2001')!;
    expect(e2001).toMatchObject({ password: 'secret-2001', pin: '2580', callerId: '0312345678', memo: '受付' });
    expect(e2001.kana).toBeUndefined();
    expect(c.extensions.find((e) => e.number === '2003')).toMatchObject({ name: '鈴木花子', kana: 'スズキハナコ', password: 'password-3', ringTimeout: 25 });
    expect(c.groups.map((g) => [g.number, g.members])).toEqual([
      ['600', ['2003']],
      ['601', ['2001', '2002']],
    ]);
    expect(c.pickupGroups[0]!.members).toEqual(['2003']);
  });

  it('writes nothing when any row is bad, and lists every error', () => {
    const f = file();
    const before = readFileSync(f.path, 'utf8');
    const r = importExtensionCsv(f.editor, Buffer.from(csv('2003,A,,password-3,,,,,,', '2004,B,,,,,,,,', '600,C,,password-6,,,,,,', '2006,D,,password-6,,#650#,,,,')), 'utf8');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(lines(r.errors)).toEqual([3, 4, 5]);
    expect(readFileSync(f.path, 'utf8')).toBe(before);
    expect(f.applied).toHaveLength(0);
  });

  it('reports what the whole config says after the import on the line of the row', () => {
    const f = file();
    // 995 is the spy (monitor) code: an extension 9950 would make it the prefix of a local number.
    const r = importExtensionCsv(f.editor, Buffer.from(csv('2003,A,,password-3,,,,,,', '9950,B,,password-4,,,,,,')), 'utf8');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([{ line: 0, message: expect.stringContaining('overlaps number 9950') }]);
    // 2001 leaves group 600 and pickup group 1, of which it is the only member: both would be empty.
    const bad = importExtensionCsv(f.editor, Buffer.from(csv('2001,A,,,,,,,,')), 'utf8');
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.errors).toEqual([
      { line: 0, message: expect.stringContaining('groups[0].members: a group needs at least one member') },
      { line: 0, message: expect.stringContaining('pickupGroups[0].members: a pickup group needs at least one member') },
    ]);
  });
});
