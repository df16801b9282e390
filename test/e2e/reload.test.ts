// F-RELOAD end to end: the config file is rewritten under a running hibiki. A valid file takes
// effect for new requests without dropping registrations; an invalid one is logged with file and
// line and the running configuration stays; server.reload() is the SIGHUP path.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_EXTENSIONS, startHibiki, writeConfig, type RunningHibiki, type TestExtension } from '../support/hibiki.js';
import { RawUa } from '../support/raw-ua.js';

let hibiki: RunningHibiki | undefined;
let uas: RawUa[] = [];

afterEach(async () => {
  await Promise.all(uas.map((u) => u.close()));
  uas = [];
  await hibiki?.stop();
  hibiki = undefined;
});

async function phone(h: RunningHibiki): Promise<RawUa> {
  const u = await RawUa.open({ port: h.port('udp') });
  uas.push(u);
  return u;
}

async function register(h: RunningHibiki, user: string): Promise<number> {
  const u = await phone(h);
  return (await u.register({ user, password: `secret-${user}` })).final.status;
}

/** Rewrites the running server's config file with these extensions (everything else as started). */
function rewrite(h: RunningHibiki, extensions: TestExtension[]): void {
  writeConfig(dirname(h.configPath), { extensions }, h.dataDir);
}

/** Resolves with the first log line from index `from` on that matches, polling every 10 ms. */
async function logLine(h: RunningHibiki, from: number, match: (l: Record<string, unknown>) => boolean, timeoutMs = 3000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = h.logs.slice(from).find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching log line within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const notReloaded = (l: Record<string, unknown>): boolean => l.msg === 'configuration not reloaded; the running configuration stays in force';
const reloaded = (l: Record<string, unknown>): boolean => l.msg === 'configuration reloaded' && l.reason === 'file changed';

const with2004: TestExtension[] = [...DEFAULT_EXTENSIONS, { number: '2004', name: 'Dave', password: 'secret-2004' }];

describe('configuration reload', () => {
  it('applies a valid file, keeps the running config on an invalid one, and drops bindings of a suspended extension', async () => {
    const h = (hibiki = await startHibiki());
    expect(await register(h, '2001')).toBe(200);
    const binding = h.server.registrar.contacts('2001')[0]?.binding;
    expect(binding).toBeDefined();

    // A new extension: usable as soon as the watcher has picked the file up.
    let mark = h.logs.length;
    const written = Date.now();
    rewrite(h, with2004);
    await logLine(h, mark, reloaded);
    expect(Date.now() - written).toBeLessThan(1500);
    expect(h.server.directory.extension('2004')).toBeDefined();
    expect(await register(h, '2004')).toBe(200);
    // The reload kept 2001's registration as it was.
    expect(h.server.registrar.contacts('2001').map((c) => c.binding)).toEqual([binding]);

    // A YAML syntax error: logged with file and line, the running config stays.
    const valid = readFileSync(h.configPath, 'utf8');
    mark = h.logs.length;
    writeFileSync(h.configPath, `${valid}extensions: [ { number: 2005, name: "Eve"\n`);
    await logLine(h, mark, notReloaded);
    const syntax = h.logs.slice(mark).find((l) => l.level === 50 && l.file === h.configPath && typeof l.line === 'number');
    expect(syntax).toBeDefined();
    expect(h.server.directory.extension('2004')).toBeDefined();
    expect(await register(h, '2004')).toBe(200);
    expect(h.server.registrar.contacts('2001')).toHaveLength(1);

    // An unknown key: reported at its own line.
    mark = h.logs.length;
    writeFileSync(h.configPath, `${valid}colour: blue\n`);
    await logLine(h, mark, notReloaded);
    const unknown = h.logs.slice(mark).find((l) => l.level === 50 && l.file === h.configPath && String(l.msg).includes('colour'));
    expect(unknown?.line).toBe(valid.split('\n').length);
    expect(h.server.directory.extension('2004')).toBeDefined();
    expect(h.server.registrar.contacts('2001')).toHaveLength(1);

    // 2001 suspended: its binding goes, and it is refused.
    mark = h.logs.length;
    rewrite(
      h,
      with2004.map((e) => (e.number === '2001' ? { ...e, suspended: true } : e)),
    );
    await logLine(h, mark, reloaded);
    expect(h.server.registrar.contacts('2001')).toEqual([]);
    expect(await register(h, '2001')).toBe(403);
    expect(await register(h, '2004')).toBe(200);
  });

  it('reloads on demand (the SIGHUP path) and reports whether the file was applied', async () => {
    const h = (hibiki = await startHibiki());
    rewrite(h, with2004);
    expect(h.server.reload()).toBe(true);
    expect(h.server.directory.extension('2004')).toBeDefined();
    expect(h.logs.some((l) => l.msg === 'configuration reloaded' && l.reason === 'SIGHUP')).toBe(true);

    const valid = readFileSync(h.configPath, 'utf8');
    writeFileSync(h.configPath, valid.replace('registrar:', 'registrar:\n  bogusLimit: 3'));
    expect(h.server.reload()).toBe(false);
    expect(h.logs.some((l) => l.level === 50 && l.file === h.configPath && String(l.msg).includes('bogusLimit'))).toBe(true);
    expect(h.server.directory.extension('2004')).toBeDefined();
    expect(await register(h, '2004')).toBe(200);
  });
});
