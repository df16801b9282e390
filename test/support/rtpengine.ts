// A real rtpengine (Debian rtpengine-daemon, userspace) for the tests: its own config on loopback, a free
// ng port and a media port range of its own, and kill/restart for the "rtpengine went away" cases.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NgClient } from '../../src/media/rtpengine/ng-client.js';
import { freePort } from './ports.js';

export interface TestRtpengine {
  /** host:port of its ng socket. */
  ng: string;
  /** Media ports it relays on. */
  ports: [number, number];
  kill(): Promise<void>;
  /** Starts it again on the same ng port and ports (after kill). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRtpengine(): Promise<TestRtpengine> {
  const dir = mkdtempSync(join(tmpdir(), 'hibiki-rtpengine-'));
  const ngPort = await freePort();
  const base = 40000 + 2 * Math.floor(Math.random() * 10000);
  const ports: [number, number] = [base, base + 199];
  const ng = `127.0.0.1:${ngPort}`;
  const config = join(dir, 'rtpengine.conf');
  writeFileSync(
    config,
    ['[rtpengine]', 'table = -1', 'interface = 127.0.0.1', `listen-ng = ${ng}`, `port-min = ${ports[0]}`, `port-max = ${ports[1]}`, 'delete-delay = 0', 'log-level = 6', ''].join('\n'),
  );
  let child: ChildProcess | undefined;
  const client = new NgClient({ address: ng, timeoutMs: 200, retries: 0 });

  const launch = async () => {
    const stderr: string[] = [];
    child = spawn('rtpengine', [`--config-file=${config}`, '--foreground', '--log-stderr'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
    const until = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`rtpengine exited: ${stderr.join('')}`);
      try {
        await client.request('ping');
        return;
      } catch {
        if (Date.now() > until) throw new Error(`rtpengine did not answer on ${ng}: ${stderr.join('')}`);
      }
    }
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  };
  await launch();
  return {
    ng,
    ports,
    kill,
    restart: launch,
    async stop() {
      await kill();
      client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
