// Issue #14 part 7: calls that were up when hibiki died (kill -9) are cleaned up when it starts again.
// hibiki runs as a child process (the real CLI), so SIGKILL is a real crash: nothing of the process
// survives but the SQLite file. After the restart on the same config and data directory, both legs of
// every call must get a BYE with Q.850 cause 41 and every call must have its CDR row.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../support/ports.js';
import { TestUA, type Call, type UaTransport } from '../support/test-ua.js';
import { connect, talking, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { openDatabase } from '../../src/store/db.js';
import { CdrStore } from '../../src/store/cdr-store.js';
import type { CdrRecord } from '../../src/store/cdr-row.js';
import { decodeEntry } from '../../src/pbx/call-journal.js';
import type { RunningHibiki } from '../support/hibiki.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const children: ChildProcess[] = [];
const phones: TestUA[] = [];

afterEach(async () => {
  await Promise.all(phones.splice(0).map((p) => p.close()));
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const NUMBERS = Array.from({ length: 10 }, (_, i) => String(2001 + i));

function workspace(port: number): { config: string; dataDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hibiki-crash-'));
  const config = join(dir, 'hibiki.yaml');
  const dataDir = join(dir, 'data');
  writeFileSync(
    config,
    stringify({
      tenant: { domain: 'hibiki.test' },
      // Fixed ports, so that the restarted process is where the phones' dialogs point.
      listen: [
        { transport: 'udp', host: '127.0.0.1', port },
        { transport: 'tcp', host: '127.0.0.1', port },
      ],
      data: { dir: dataDir },
      media: { bindAddress: '127.0.0.1', address: '127.0.0.1', rtpPorts: [port + 2, port + 401] },
      registrar: { qualifyInterval: 0 },
      extensions: NUMBERS.map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}` })),
    }),
  );
  return { config, dataDir };
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
  await waitFor(() => lines.some((l) => l.msg === 'hibiki started'), 20_000, 'server start');
  return { child, lines };
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function phone(user: string, port: number, transport: UaTransport = 'udp'): Promise<TestUA> {
  const p = await TestUA.create({ user, password: `secret-${user}`, transport, server: { host: '127.0.0.1', port }, domain: 'hibiki.test' });
  phones.push(p);
  await p.register();
  return p;
}

interface UpCall {
  caller: Call;
  callee: Call;
  callerNumber: string;
  calleeNumber: string;
  /** Before the INVITE left the calling phone. */
  dialledAt: number;
  /** After the calling phone got the 200. */
  answerSeenAt: number;
}

async function upCall(from: TestUA, to: TestUA, seed: number): Promise<UpCall> {
  const dialledAt = Date.now();
  const ringing = to.waitForCall();
  const outgoing = await from.dial(to.user);
  const callee = await (await ringing).answer();
  const caller = await outgoing.answered;
  const answerSeenAt = Date.now();
  // RTP flows both ways through hibiki's media engine before the crash.
  await talking(caller, callee, seed, seed + 1);
  return { caller, callee, callerNumber: from.user, calleeNumber: to.user, dialledAt, answerSeenAt };
}

describe('crash recovery', () => {
  it('after kill -9 and a restart, BYEs both legs of every call that was up (cause 41) and writes their CDR rows', async () => {
    const port = await freePort();
    const { config, dataDir } = workspace(port);
    const first = await serve(config);

    // Four calls between UDP phones and one whose callee is a TCP phone (its connection dies with hibiki).
    const ua: TestUA[] = [];
    for (const n of NUMBERS) ua.push(await phone(n, port, n === '2010' ? 'tcp' : 'udp'));
    const calls: UpCall[] = [];
    for (let i = 0; i < NUMBERS.length; i += 2) calls.push(await upCall(ua[i]!, ua[i + 1]!, 100 + i));

    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    await exited(first.child);
    for (const c of calls) {
      expect(c.caller.ended).toBeUndefined();
      expect(c.callee.ended).toBeUndefined();
    }

    const second = await serve(config);
    const restartedAt = Date.now();
    await waitFor(() => second.lines.some((l) => l.msg === 'crash recovery finished'), 40_000, 'the answers to the BYEs');
    expect(second.lines.find((l) => l.msg === 'crash recovery finished')).toMatchObject({ calls: 5, legs: 10, answered: 10, failed: 0 });
    for (const c of calls) {
      for (const leg of [c.caller, c.callee]) {
        const end = await leg.waitForEnd(40_000);
        expect(end.by, `${leg.role} of ${c.callerNumber}→${c.calleeNumber}`).toBe('remote');
        expect(end.reason).toMatch(/^Q\.850;cause=41\b/);
      }
    }

    // The rows are written by the restarted server; read them from the data directory it shares.
    const db = openDatabase(dataDir);
    let rows: CdrRecord[] = [];
    try {
      const store = new CdrStore(db);
      await waitFor(() => (rows = store.query({})).length >= calls.length, 10_000, 'CDR rows');
      expect(rows).toHaveLength(calls.length);
      for (const c of calls) {
        const row = rows.find((r) => r.callerNumber === c.callerNumber);
        expect(row, `CDR of ${c.callerNumber}→${c.calleeNumber}`).toMatchObject({
          callId: c.caller.callId,
          direction: 'internal',
          disposition: 'failed',
          hangupBy: 'system',
          q850Cause: 41,
          dialedNumber: c.calleeNumber,
          calleeNumber: c.calleeNumber,
          answeredBy: c.calleeNumber,
        });
        // The real start and answer times of the call, and an end no later than the crash.
        const started = Date.parse(row!.startedAt);
        const answered = Date.parse(row!.answeredAt ?? '');
        const ended = Date.parse(row!.endedAt);
        expect(started).toBeGreaterThanOrEqual(c.dialledAt);
        expect(answered).toBeGreaterThanOrEqual(started);
        expect(answered).toBeLessThanOrEqual(c.answerSeenAt);
        expect(ended).toBeGreaterThanOrEqual(answered);
        expect(ended).toBeLessThanOrEqual(killedAt);
        expect(ended).toBeLessThan(restartedAt);
        expect(row!.billsec).toBe(Math.max(0, Math.floor((ended - answered) / 1000)));
      }
    } finally {
      db.close();
    }

    // Recovered once: a clean stop and another start find nothing left to recover.
    second.child.kill('SIGTERM');
    await exited(second.child);
    const third = await serve(config);
    expect(third.lines.some((l) => l.msg === 'crash recovery: calls ended')).toBe(false);
    third.child.kill('SIGTERM');
    await exited(third.child);
    const after = openDatabase(dataDir);
    try {
      expect(new CdrStore(after).count()).toBe(calls.length);
    } finally {
      after.close();
    }
  }, 120_000);
});

const session = hibikiSession();

/** The Call-IDs of the legs the journal holds for the one call up now ([] when there is none). */
function journaledLegs(h: RunningHibiki): string[] {
  const rows = h.server.activeCalls.all();
  if (rows.length === 0) return [];
  expect(rows).toHaveLength(1);
  const decoded = decodeEntry(rows[0]!.entry);
  if (!decoded.ok) throw new Error(decoded.error);
  return decoded.entry.legs.map((l) => l.dialog.callId).sort();
}

describe('the call journal', () => {
  it('follows the legs that are up: answer, an attended-transfer consultation, its completion, the end', async () => {
    const { h, phone: registered } = await session.start({ config: { calls: { transferRingTimeout: 10 } } });
    const alice = await registered('2001');
    const bob = await registered('2002');
    const carol = await registered('2003');
    const { caller: aliceCall, callee: bobCall } = await connect(alice, bob, '2002');
    expect(journaledLegs(h)).toEqual([aliceCall.callId, bobCall.callId].sort());

    // Bob consults Carol while Alice is held: all three legs are up, and a crash now must BYE all three.
    const carolRings = carol.waitForCall({ timeoutMs: 8000 });
    await bobCall.sendDtmf('#92003#', { method: 'rfc4733' });
    const carolCall = await (await carolRings).answer();
    await waitUntil(() => journaledLegs(h).length === 3, 5000);
    expect(journaledLegs(h)).toEqual([aliceCall.callId, bobCall.callId, carolCall.callId].sort());

    // Bob hangs up: the transfer completes and Alice talks to Carol.
    await bobCall.hangup();
    await talking(aliceCall, carolCall, 3, 4);
    expect(journaledLegs(h)).toEqual([aliceCall.callId, carolCall.callId].sort());

    await carolCall.hangup();
    await aliceCall.waitForEnd();
    await waitUntil(() => h.server.cdr.count() === 1, 3000);
    expect(journaledLegs(h)).toEqual([]);
  });
});
