// Issue #12: the API's YAML write-back — comments and order kept, every edit validated in full, a refused
// edit leaves the file untouched, and an edit is redone on what another process wrote meanwhile.
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSeq, type Document } from 'yaml';
import { ConfigEditor } from '../../../src/config/config-editor.js';
import type { HibikiConfig } from '../../../src/config/schema.js';

const original = `# the office PBX
tenant:
  domain: office.example # our domain
listen:
  - { transport: udp, host: 127.0.0.1, port: 5060 }
extensions:
  # reception
  - number: '2001'
    name: Reception
    password: pw-2001-long
`;

let dir: string;
let file: string;
let applied: HibikiConfig[];
let editor: ConfigEditor;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hibiki-edit-'));
  file = join(dir, 'hibiki.yaml');
  writeFileSync(file, original);
  applied = [];
  editor = new ConfigEditor(file, (c) => applied.push(c));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function addExtension(number: string, extra: Record<string, unknown> = {}) {
  return (doc: Document) => {
    const list = doc.get('extensions', true);
    if (!isSeq(list)) throw new Error('no extensions');
    list.items.push(doc.createNode({ number, name: `User ${number}`, password: `pw-${number}-long`, ...extra }));
    return { value: number };
  };
}

describe('ConfigEditor', () => {
  it('adds an extension keeping every comment, and hands the new config to the server', () => {
    const r = editor.edit(addExtension('2002'));
    expect(r.ok).toBe(true);
    const text = readFileSync(file, 'utf8');
    for (const comment of ['# the office PBX', '# our domain', '# reception']) expect(text).toContain(comment);
    expect(applied).toHaveLength(1);
    expect(applied[0]!.extensions.map((e) => e.number)).toEqual(['2001', '2002']);
  });

  it('refuses an edit that makes the file invalid, naming the field, and writes nothing', () => {
    const r = editor.edit(addExtension('2003', { ringTimeout: 1 }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.refusal.status).toBe(400);
    expect(r.refusal.field).toBe('extensions[1].ringTimeout');
    expect(readFileSync(file, 'utf8')).toBe(original);
    expect(applied).toHaveLength(0);
  });

  it('refuses a duplicate number with both places named', () => {
    const r = editor.edit(addExtension('2001'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.refusal.message).toMatch(/2001 is defined twice/);
  });

  it('passes on the refusal of the change itself without touching the file', () => {
    const r = editor.edit(() => ({ refusal: { status: 404, message: 'extension 9999 not found' } }));
    expect(r).toEqual({ ok: false, refusal: { status: 404, message: 'extension 9999 not found' } });
    expect(readFileSync(file, 'utf8')).toBe(original);
  });

  it('redoes the edit on the file another process wrote while it was being made', () => {
    let first = true;
    const r = editor.edit((doc) => {
      if (first) {
        first = false;
        // Another writer adds 2005 between this edit's read and its write.
        writeFileSync(file, original + `  - number: '2005'\n    name: Other\n    password: pw-2005-long\n`);
      }
      return addExtension('2002')(doc);
    });
    expect(r.ok).toBe(true);
    const numbers = applied[0]!.extensions.map((e) => e.number);
    expect(numbers).toEqual(['2001', '2005', '2002']);
  });
});

describe('ConfigEditor file handling', () => {
  it('keeps the mode of the file it replaces (it holds SIP passwords) and writes through a symlink', () => {
    chmodSync(file, 0o600);
    const link = join(dir, 'linked.yaml');
    symlinkSync(file, link);
    const linked = new ConfigEditor(link, () => undefined);
    expect(linked.edit(addExtension('2002')).ok).toBe(true);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/number: ["']2002["']/);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('reports a file it cannot write as 503 and leaves the original and no temp file of its own', () => {
    // Something already holds the temp file's name (a directory, so even root cannot write over it).
    mkdirSync(`${file}.tmp-${process.pid}`);
    const r = editor.edit(addExtension('2002'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.refusal).toMatchObject({ status: 503, message: expect.stringMatching(/could not be written/) });
    expect(readFileSync(file, 'utf8')).toBe(original);
    expect(statSync(`${file}.tmp-${process.pid}`).isDirectory()).toBe(true);
    expect(applied).toHaveLength(0);
  });
});
