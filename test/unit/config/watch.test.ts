import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HibikiConfig } from '../../../src/config/schema.js';
import { ConfigWatcher } from '../../../src/config/watch.js';

interface LogLine {
  level: number;
  msg: string;
  file?: string;
  line?: number;
}

function configText(domain: string, extra = ''): string {
  return `tenant:\n  domain: ${domain}\nlisten:\n  - transport: udp\n    port: 5060\n${extra}`;
}

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ConfigWatcher', () => {
  let dir: string;
  let file: string;
  let logs: LogLine[];
  let applied: HibikiConfig[];
  let watcher: ConfigWatcher;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hibiki-watch-'));
    file = join(dir, 'hibiki.yaml');
    writeFileSync(file, configText('one.example'));
    logs = [];
    applied = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString('utf8').split('\n')) if (l) logs.push(JSON.parse(l) as LogLine);
        cb();
      },
    });
    const logger = pino({ level: 'debug' }, stream);
    watcher = new ConfigWatcher({ file, debounceMs: 50, logger, onChange: (c) => applied.push(c) });
    watcher.start();
  });

  afterEach(() => {
    watcher.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a valid change to the file', async () => {
    await sleep(30);
    writeFileSync(file, configText('two.example'));
    await until(() => applied.length > 0, 'onChange');
    expect(applied.at(-1)?.tenant.domain).toBe('two.example');
    expect(logs.some((l) => l.level === 30 && l.msg === 'configuration reloaded')).toBe(true);
  });

  it('debounces a burst of writes into one reload', async () => {
    await sleep(30);
    for (let i = 0; i < 5; i++) {
      writeFileSync(file, configText(`burst${i}.example`));
      await sleep(5);
    }
    await until(() => applied.length > 0, 'onChange');
    await sleep(200);
    expect(applied).toHaveLength(1);
    expect(applied[0].tenant.domain).toBe('burst4.example');
  });

  it('keeps the running config and logs each error with file and line when the change is invalid', async () => {
    await sleep(30);
    writeFileSync(file, configText('bad.example', 'sip:\n  t1: 0\nbogus: 1\n'));
    await until(() => logs.some((l) => l.msg.includes('not reloaded')), 'error log');
    await sleep(100);
    expect(applied).toEqual([]);
    const errors = logs.filter((l) => l.level === 50 && l.line !== undefined);
    expect(errors.map((l) => [l.file, l.line])).toEqual([
      [file, 7],
      [file, 8],
    ]);
    expect(errors[0].msg).toContain('sip.t1');
    expect(errors[1].msg).toContain('unknown key "bogus"');
  });

  it('follows a file replaced by rename, as editors save, and keeps watching afterwards', async () => {
    await sleep(30);
    const tmp = join(dir, 'hibiki.yaml.tmp');
    writeFileSync(tmp, configText('renamed.example'));
    renameSync(tmp, file);
    await until(() => applied.some((c) => c.tenant.domain === 'renamed.example'), 'reload after rename');
    writeFileSync(file, configText('after.example'));
    await until(() => applied.some((c) => c.tenant.domain === 'after.example'), 'reload after a later write');
  });

  it('ignores other files in the same directory', async () => {
    await sleep(30);
    writeFileSync(join(dir, 'other.yaml'), 'x: 1\n');
    await sleep(250);
    expect(applied).toEqual([]);
    expect(logs.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('reloadNow applies a valid file and reports whether it did', () => {
    expect(watcher.reloadNow('SIGHUP')).toBe(true);
    expect(applied.at(-1)?.tenant.domain).toBe('one.example');
    writeFileSync(file, 'tenant: [\n');
    expect(watcher.reloadNow('SIGHUP')).toBe(false);
    expect(applied).toHaveLength(1);
  });

  it('treats a throwing onChange as not applied instead of crashing', () => {
    const stream = new Writable({ write: (_c, _e, cb) => cb() });
    const w = new ConfigWatcher({
      file,
      debounceMs: 10,
      logger: pino(stream),
      onChange: () => {
        throw new Error('apply failed');
      },
    });
    expect(w.reloadNow('test')).toBe(false);
  });

  it('does nothing after stop()', async () => {
    watcher.stop();
    writeFileSync(file, configText('stopped.example'));
    await sleep(200);
    expect(applied).toEqual([]);
  });
});
