// The command line as an admin uses it: `hibiki config check`, the server started from the CLI
// (SIGHUP reload, SIGTERM stop, bindings kept across restarts), `registrations` and `cdr export`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../support/ports.js';
import { TestUA } from '../support/test-ua.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const children: ChildProcess[] = [];
const phones: TestUA[] = [];

afterEach(async () => {
  await Promise.all(phones.splice(0).map((p) => p.close()));
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function workspace(port: number, extra: Record<string, unknown> = {}): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hibiki-cli-'));
  const config = join(dir, 'hibiki.yaml');
  writeFileSync(
    config,
    stringify({
      tenant: { domain: 'hibiki.test' },
      listen: [{ transport: 'udp', host: '127.0.0.1', port }],
      data: { dir: join(dir, 'data') },
      media: { bindAddress: '127.0.0.1', address: '127.0.0.1', rtpPorts: [port + 2, port + 401] },
      registrar: { qualifyInterval: 0 },
      reload: { debounceMs: 50 },
      extensions: [
        { number: '2001', name: 'Alice', password: 'secret-2001' },
        { number: '2002', name: 'Bob', password: 'secret-2002' },
      ],
      ...extra,
    }),
  );
  return { dir, config };
}

/** Start the server through the CLI and wait for its "hibiki started" log line. */
async function serve(config: string): Promise<{ child: ChildProcess; lines: Array<Record<string, unknown>> }> {
  const child = spawn(process.execPath, [CLI, '--config', config, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: Array<Record<string, unknown>> = [];
  let buffer = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
    }
  });
  await waitFor(() => lines.some((l) => l.msg === 'hibiki started'), 10_000, 'server start');
  return { child, lines };
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

// Each CLI run is a whole process start (about a second, several on a busy machine): a generous limit.
describe('hibiki command line', { timeout: 120_000 }, () => {
  it('config check prints every error as file:line: message and exits 1; a good file exits 0', async () => {
    const port = await freePort();
    const { dir, config } = workspace(port);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      ['tenant:', '  domain: hibiki.test', '  colour: blue', 'listen:', '  - transport: sctp', '    port: 5060', 'extensions:', '  - number: "1001"', '    name: X', '    password: y'].join('\n'),
    );
    const r = spawnSync(process.execPath, [CLI, 'config', 'check', bad], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    const errs = r.stderr.trim().split('\n');
    expect(errs.length).toBeGreaterThanOrEqual(3);
    for (const e of errs) expect(e).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: `));
    expect(r.stderr).toContain(`${bad}:3:`); // the unknown key, on its own line
    expect(r.stderr).toContain(`${bad}:5:`); // the bad transport
    expect(r.stderr).toContain(`${bad}:8:`); // extension numbers start with 2-9

    const good = spawnSync(process.execPath, [CLI, 'config', 'check', config], { encoding: 'utf8' });
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('OK');
  });

  it('runs the server from the CLI: registrations survive a restart, SIGHUP reloads, SIGTERM stops cleanly', async () => {
    const port = await freePort();
    const { config } = workspace(port);
    const first = await serve(config);
    const alice = await TestUA.create({ user: '2001', password: 'secret-2001', server: { host: '127.0.0.1', port }, domain: 'hibiki.test' });
    phones.push(alice);
    expect((await alice.register({ expires: 600 })).status).toBe(200);

    first.child.kill('SIGTERM');
    expect(await exited(first.child)).toBe(0);
    expect(first.lines.some((l) => l.msg === 'hibiki stopped')).toBe(true);

    const listed = spawnSync(process.execPath, [CLI, 'registrations', '--config', config], { encoding: 'utf8' });
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/^2001\tsip:2001@127\.0\.0\.1:\d+\tudp\t127\.0\.0\.1:\d+\t\d+s\treachable/m);

    const second = await serve(config);
    expect(second.lines.find((l) => l.msg === 'hibiki started')?.bindings).toBe(1);

    // SIGHUP re-reads the file: add extension 2003 and it can register.
    const text = readFileSync(config, 'utf8');
    writeFileSync(config, text.replace('extensions:\n', 'extensions:\n  - number: "2003"\n    name: Carol\n    password: secret-2003\n'));
    second.child.kill('SIGHUP');
    await waitFor(() => second.lines.some((l) => l.msg === 'configuration reloaded' && l.extensions === 3), 5000, 'reload');
    const carol = await TestUA.create({ user: '2003', password: 'secret-2003', server: { host: '127.0.0.1', port }, domain: 'hibiki.test' });
    phones.push(carol);
    expect((await carol.register()).status).toBe(200);

    second.child.kill('SIGTERM');
    expect(await exited(second.child)).toBe(0);
  });

  it('exports the CDR of a call as CSV, in UTF-8 and in Shift_JIS', async () => {
    const port = await freePort();
    const { dir, config } = workspace(port);
    const server = await serve(config);
    const alice = await TestUA.create({ user: '2001', password: 'secret-2001', server: { host: '127.0.0.1', port }, domain: 'hibiki.test', displayName: 'Alice' });
    const bob = await TestUA.create({ user: '2002', password: 'secret-2002', server: { host: '127.0.0.1', port }, domain: 'hibiki.test' });
    phones.push(alice, bob);
    await alice.register();
    await bob.register();
    const ringing = bob.waitForCall();
    const outgoing = await alice.dial('2002');
    const bobCall = await (await ringing).answer();
    const aliceCall = await outgoing.answered;
    await aliceCall.hangup();
    await bobCall.waitForEnd();
    await waitFor(() => server.lines.some((l) => l.msg === 'call ended'), 5000, 'call end');
    server.child.kill('SIGTERM');
    await exited(server.child);

    const day = new Date();
    const ymd = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, '0')}-${String(day.getDate()).padStart(2, '0')}`;
    const out = join(dir, 'export');
    const r = spawnSync(process.execPath, [CLI, 'cdr', 'export', '--config', config, '--from', ymd, '--to', ymd, '--out', out], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const files = readdirSync(out);
    expect(files).toHaveLength(1);
    const csv = readFileSync(join(out, files[0]!), 'utf8').split('\r\n').filter(Boolean);
    expect(csv).toHaveLength(2);
    expect(csv[0]).toContain('call_id');
    expect(csv[0]).toContain('q850_cause');
    expect(csv[1]).toContain('2001');
    expect(csv[1]).toContain('answered');

    const sjis = join(dir, 'sjis');
    const r2 = spawnSync(process.execPath, [CLI, 'cdr', 'export', '--config', config, '--from', ymd, '--to', ymd, '--out', sjis, '--encoding', 'shift_jis'], { encoding: 'utf8' });
    expect(r2.status).toBe(0);
    expect(existsSync(sjis)).toBe(true);
    const bad = spawnSync(process.execPath, [CLI, 'cdr', 'export', '--config', config, '--from', 'yesterday', '--to', ymd], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/from/);
  });

  it('lists parked calls with `hibiki park list` while the server runs', async () => {
    const port = await freePort();
    const { config } = workspace(port);
    const server = await serve(config);
    const alice = await TestUA.create({ user: '2001', password: 'secret-2001', server: { host: '127.0.0.1', port }, domain: 'hibiki.test' });
    const bob = await TestUA.create({ user: '2002', password: 'secret-2002', server: { host: '127.0.0.1', port }, domain: 'hibiki.test' });
    phones.push(alice, bob);
    await alice.register();
    await bob.register();
    const ringing = bob.waitForCall();
    const outgoing = await alice.dial('2002');
    const bobCall = await (await ringing).answer();
    await outgoing.answered;
    await bobCall.sendDtmf('#72', { method: 'rfc4733' });
    await waitFor(() => server.lines.some((l) => l.msg === 'park parked'), 5000, 'park');
    const r = spawnSync(process.execPath, [CLI, 'park', 'list', '--config', config], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^9001\t2001\t2002\t\d{4}-\d\d-\d\dT/m);
    server.child.kill('SIGTERM');
    await exited(server.child);
  });
});
