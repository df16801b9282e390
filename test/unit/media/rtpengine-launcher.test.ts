// The launcher of a local rtpengine (media.rtpengine.launch) with the real rtpengine: the config file it
// writes, a restart after the process dies, and restarts that keep being tried while starting fails (here a
// wrapper script that refuses to start rtpengine until a flag file exists), then stop() ends the process.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RtpengineLauncher } from '../../../src/media/rtpengine/launcher.js';
import { NgClient } from '../../../src/media/rtpengine/ng-client.js';
import { waitUntil } from '../../support/call-helpers.js';
import { captureLogger } from '../../support/logger.js';
import { freePort } from '../../support/ports.js';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('RtpengineLauncher', () => {
  it('writes its config, restarts rtpengine when it dies, keeps trying while a start fails, and stops it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hibiki-launcher-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const allowed = join(dir, 'allowed');
    const wrapper = join(dir, 'rtpengine-wrapper');
    // Starts rtpengine only while the flag file exists; otherwise fails at once, as a broken install would.
    writeFileSync(wrapper, `#!/bin/sh\n[ -e '${allowed}' ] || exit 3\nexec rtpengine "$@"\n`);
    chmodSync(wrapper, 0o755);
    writeFileSync(allowed, '');
    const ng = `127.0.0.1:${await freePort()}`;
    const base = 40000 + 2 * Math.floor(Math.random() * 10000);
    const client = new NgClient({ address: ng, timeoutMs: 200, retries: 0 });
    cleanup.push(() => client.close());
    const { logger, lines } = captureLogger('info');
    const launcher = new RtpengineLauncher({ binary: wrapper, dir: join(dir, 'rtpengine'), ng, interface: '127.0.0.1', ports: [base, base + 19], kernel: false, client, logger });
    cleanup.push(() => launcher.stop());
    const exits: number[] = [];
    const restarts: number[] = [];
    launcher.onExit(() => exits.push(Date.now()));
    launcher.onRestart(() => restarts.push(Date.now()));

    await launcher.start();
    const conf = readFileSync(launcher.configFile, 'utf8');
    expect(conf).toContain(`listen-ng = ${ng}`);
    expect(conf).toContain(`port-min = ${base}`);
    expect(conf).toContain('table = -1');
    expect((await client.request('ping')).result).toBe('pong');
    const pids = () => lines.filter((l) => l.msg === 'rtpengine started').map((l) => l.childPid as number);

    // Killed while starting is refused: the restarts fail and are tried again until it may start.
    rmSync(allowed);
    process.kill(pids()[0] as number, 'SIGKILL');
    await waitUntil(() => exits.length === 1, 5000);
    await waitUntil(() => lines.some((l) => l.msg === 'rtpengine restart failed'), 10_000);
    expect(restarts).toEqual([]);
    writeFileSync(allowed, '');
    await waitUntil(() => restarts.length === 1, 20_000);
    expect((await client.request('ping')).result).toBe('pong');
    const running = pids().at(-1) as number;
    expect(alive(running)).toBe(true);

    await launcher.stop();
    expect(alive(running)).toBe(false);
    expect(existsSync(launcher.configFile)).toBe(true);
  }, 40_000);
});
