// F-AUTH lockout that an attacker cannot turn against the real user (issue #14): wrong passwords lock a
// username for the address they came from; only failures from several addresses lock it everywhere; a
// device registered from an address and transport is never refused by a username lock; locks and
// address blocks survive a restart and are listed and cleared by the CLI, which the running server honours.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startHibiki, type RunningHibiki, type StartOptions } from '../support/hibiki.js';
import { RawUa, type RawTransport } from '../support/raw-ua.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

let running: RunningHibiki[] = [];
let uas: RawUa[] = [];

afterEach(async () => {
  await Promise.all(uas.map((u) => u.close()));
  uas = [];
  for (const h of running) await h.stop();
  running = [];
});

async function start(opts: StartOptions = {}): Promise<RunningHibiki> {
  const h = await startHibiki(opts);
  running.push(h);
  return h;
}

async function ua(h: RunningHibiki, localHost = '127.0.0.1', transport: RawTransport = 'udp'): Promise<RawUa> {
  const u = await RawUa.open({ port: h.port(transport), transport, localHost });
  uas.push(u);
  return u;
}

/** One REGISTER for `user` from `localHost`, answering the challenge with `password`; the final status. */
async function register(h: RunningHibiki, localHost: string, user: string, password: string, transport: RawTransport = 'udp'): Promise<number> {
  const u = await ua(h, localHost, transport);
  return (await u.register({ user, password })).final.status;
}

function security(h: RunningHibiki, kind: string): Array<Record<string, unknown>> {
  return h.logs.filter((l) => l.event === 'security' && l.kind === kind);
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('username lockout scoped to the source address', () => {
  it('3 wrong passwords from 127.0.0.2 lock 2001 there only: 2001 still registers from 127.0.0.1', async () => {
    const h = await start();
    expect(await register(h, '127.0.0.2', '2001', 'guess-1')).toBe(401);
    expect(await register(h, '127.0.0.2', '2001', 'guess-2')).toBe(401);
    expect(await register(h, '127.0.0.2', '2001', 'guess-3')).toBe(403);
    // Locked for that address, even with the right password.
    expect(await register(h, '127.0.0.2', '2001', 'secret-2001')).toBe(403);

    // The real 2001, on another address, is not affected.
    expect(await register(h, '127.0.0.1', '2001', 'secret-2001')).toBe(200);
    expect(h.server.registrar.contacts('2001')).toHaveLength(1);
    expect(security(h, 'user-locked')).toContainEqual(expect.objectContaining({ user: '2001', src: '127.0.0.2', scope: 'address', msg: 'username locked after failed attempts' }));
    expect(h.server.guard.isUserLocked('2001', '127.0.0.2')).toBe(true);
    expect(h.server.guard.isUserLocked('2001', '127.0.0.1')).toBe(false);
    expect(h.server.guard.isUserLocked('2001')).toBe(false);
  });

  it('locks the username everywhere once failures come from lockoutAddresses addresses', async () => {
    const h = await start({ config: { auth: { lockoutAddresses: 3 } } });
    expect(await register(h, '127.0.0.2', '2001', 'guess')).toBe(401);
    expect(await register(h, '127.0.0.3', '2001', 'guess')).toBe(401);
    // Two addresses: below the configured three, so a third address still gets in.
    expect(await register(h, '127.0.0.4', '2001', 'secret-2001')).toBe(200);
    expect(await register(h, '127.0.0.5', '2001', 'guess')).toBe(403);
    expect(security(h, 'user-locked')).toContainEqual(expect.objectContaining({ user: '2001', scope: 'everywhere', addresses: ['127.0.0.2', '127.0.0.3', '127.0.0.5'] }));
    expect(h.server.guard.isUserLocked('2001')).toBe(true);
    // Any address that is not 2001's registered device is refused, without a challenge.
    expect(await register(h, '127.0.0.6', '2001', 'secret-2001')).toBe(403);
    // 127.0.0.4 holds a live registration of 2001 over UDP: it refreshes as usual.
    expect(await register(h, '127.0.0.4', '2001', 'secret-2001')).toBe(200);
    // Other usernames are not affected.
    expect(await register(h, '127.0.0.6', '2002', 'secret-2002')).toBe(200);
  });

  it('never locks out the registered device, even when the attacker shares its address; another transport is not the device', async () => {
    const h = await start({ config: { auth: { lockoutAddresses: 2 } } });
    const device = await ua(h, '127.0.0.1');
    expect((await device.register({ user: '2001', password: 'secret-2001' })).final.status).toBe(200);

    // Wrong passwords from the device's own address (another port), then from a second address.
    for (let i = 0; i < 3; i++) await register(h, '127.0.0.1', '2001', `guess-${i}`);
    expect(await register(h, '127.0.0.2', '2001', 'guess')).toBe(403);
    expect(h.server.guard.isUserLocked('2001', '127.0.0.1')).toBe(true);
    expect(h.server.guard.isUserLocked('2001')).toBe(true);

    // The device (same address and transport, any port) refreshes its registration and places calls.
    expect((await device.register({ user: '2001', password: 'secret-2001' })).final.status).toBe(200);
    expect(await register(h, '127.0.0.1', '2001', 'secret-2001')).toBe(200);
    const call = await device.request(device.buildRequest({ method: 'INVITE', uri: 'sip:2002@hibiki.test', user: '2001' }));
    expect(call.status).toBe(401);
    expect(security(h, 'lock-exempt').some((e) => e.user === '2001' && e.src === '127.0.0.1' && e.transport === 'udp')).toBe(true);

    // Over TCP from the same address it is not the registered device: refused.
    expect(await register(h, '127.0.0.1', '2001', 'secret-2001', 'tcp')).toBe(403);
  });
});

// Each CLI run is a whole process start (about a second, several on a busy machine): a generous limit.
describe('locks in SQLite', { timeout: 120_000 }, () => {
  it('survive a restart: the username lock and the address block still refuse', async () => {
    const config = { auth: { ipFailures: 4, ipWindowSeconds: 60, lockoutAttempts: 3 } };
    const before = await start({ config });
    for (let i = 0; i < 3; i++) await register(before, '127.0.0.2', '2001', `guess-${i}`);
    for (const user of ['3001', '3002', '3003', '3004']) await register(before, '127.0.0.3', user, 'guess');
    expect(before.server.guard.isUserLocked('2001', '127.0.0.2')).toBe(true);
    expect(before.server.guard.isIpBlocked('127.0.0.3')).toBe(true);
    await before.stop({ keepData: true });
    running = running.filter((r) => r !== before);

    const h = await start({ dataDir: before.dataDir, config });
    expect(h.server.guard.locks().map((l) => [l.kind, l.user, l.address])).toEqual([
      ['user', '2001', '127.0.0.2'],
      ['address', undefined, '127.0.0.3'],
    ]);
    expect(await register(h, '127.0.0.2', '2001', 'secret-2001')).toBe(403);
    const blocked = await ua(h, '127.0.0.3');
    expect((await blocked.register({ user: '2002', password: 'secret-2002' })).challenge.status).toBe(403);
    expect(await register(h, '127.0.0.1', '2001', 'secret-2001')).toBe(200);
  });

  it('are listed and cleared by the CLI; the running server honours the clear, and both log it', async () => {
    const h = await start({ config: { auth: { ipFailures: 4 } } });
    for (let i = 0; i < 3; i++) await register(h, '127.0.0.2', '2001', `guess-${i}`);
    for (const user of ['3001', '3002', '3003', '3004']) await register(h, '127.0.0.3', user, 'guess');

    const list = cli('locks', 'list', '--config', h.configPath);
    expect(list.status, list.stderr).toBe(0);
    const rows = list.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    expect(rows.map((r) => r.slice(0, 3))).toEqual([
      ['user', '2001', '127.0.0.2'],
      ['address', '-', '127.0.0.3'],
    ]);

    const clear = cli('locks', 'clear', 'user', '2001', '127.0.0.2', '--config', h.configPath);
    expect(clear.status, clear.stderr).toBe(0);
    expect(clear.stdout).toContain('2001');
    // The CLI logs the clear as a security event (stderr, like its other changes).
    const cliEvents = clear.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(cliEvents).toContainEqual(expect.objectContaining({ event: 'security', kind: 'user-unlocked', user: '2001', src: '127.0.0.2', reason: 'cleared', by: 'cli' }));

    // The running server sees the clear at once: 2001 registers from 127.0.0.2 again.
    expect(await register(h, '127.0.0.2', '2001', 'secret-2001')).toBe(200);
    expect(security(h, 'user-unlocked')).toContainEqual(expect.objectContaining({ user: '2001', src: '127.0.0.2', reason: 'cleared', by: 'another process' }));

    expect(cli('locks', 'clear', 'address', '127.0.0.3', '--config', h.configPath).status).toBe(0);
    expect(await register(h, '127.0.0.3', '2002', 'secret-2002')).toBe(200);
    expect(cli('locks', 'list', '--config', h.configPath).stdout).toBe('');

    // Nothing matched: exit 1 with a message.
    const none = cli('locks', 'clear', 'user', '2003', '--config', h.configPath);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/no lock/);
    expect(security(h, 'ip-unblocked')).toContainEqual(expect.objectContaining({ src: '127.0.0.3', reason: 'cleared', by: 'another process' }));
  });
});
