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
  /** The call-ids rtpengine holds now (ng `list`): empty once hibiki has freed every leg. */
  calls(): Promise<string[]>;
  /** Resolves once rtpengine holds no call (each leg's call is deleted when the leg ends); throws after 5 s. */
  waitEmpty(): Promise<void>;
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
  const calls = async (): Promise<string[]> => {
    const reply = await client.request('list', { limit: 10_000 });
    return Array.isArray(reply.calls) ? reply.calls.filter((c): c is string => typeof c === 'string') : [];
  };
  return {
    ng,
    ports,
    calls,
    async waitEmpty() {
      const end = Date.now() + 5000;
      for (;;) {
        const left = await calls();
        if (left.length === 0) return;
        if (Date.now() > end) throw new Error(`rtpengine still holds ${left.join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    kill,
    restart: launch,
    async stop() {
      await kill();
      client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
