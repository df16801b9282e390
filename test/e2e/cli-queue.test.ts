// `hibiki queue show|stats` and `hibiki agent show|pause|resume` as a supervisor uses them, on a database a
// server left behind (events written through QueueEventStore, as the server does).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import iconv from 'iconv-lite';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { localText } from '../../src/features/queue/stats-report.js';
import { startOfDay } from '../../src/util/zoned-time.js';
import { AgentStateStore } from '../../src/store/agent-state-store.js';
import { openDatabase } from '../../src/store/db.js';
import { QueueEventStore, type QueueEvent } from '../../src/store/queue-event-store.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const TZ = 'Asia/Tokyo';

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

/** An instant on 2026-01-05 in Tokyo. */
const jan5 = (h: number, m = 0, s = 0): number => Date.UTC(2026, 0, 5, h - 9, m, s);

// Queue 600 on 2026-01-05: three calls at 09:xx (answered after 12 s, abandoned, overflowed); agent 2001's
// after-call work runs across 10:00.
const pastDay: QueueEvent[] = [
  { at: jan5(8, 30), queue: '600', agent: '2001', event: 'AGENT', detail: 'available' },
  { at: jan5(9, 5), queue: '600', callId: 'c1', event: 'ENTER' },
  { at: jan5(9, 5), queue: '600', callId: 'c1', agent: '2002', event: 'RINGNOANSWER', detail: 'no_answer' },
  { at: jan5(9, 5, 12), queue: '600', callId: 'c1', agent: '2001', event: 'ANSWER', waitMs: 12_000 },
  { at: jan5(9, 5, 12), queue: '600', agent: '2001', event: 'AGENT', detail: 'in_call' },
  { at: jan5(9, 20), queue: '600', callId: 'c2', event: 'ENTER' },
  { at: jan5(9, 20, 30), queue: '600', callId: 'c2', event: 'ABANDON', waitMs: 30_000 },
  { at: jan5(9, 30), queue: '600', callId: 'c3', event: 'ENTER' },
  { at: jan5(9, 30), queue: '600', callId: 'c3', event: 'OVERFLOW', waitMs: 0 },
  { at: jan5(9, 55, 12), queue: '600', callId: 'c1', agent: '2001', event: 'COMPLETE', talkMs: 3_000_000, detail: 'caller' },
  { at: jan5(9, 55, 12), queue: '600', agent: '2001', event: 'AGENT', detail: 'wrapup' },
  { at: jan5(10, 0, 42), queue: '600', agent: '2001', event: 'AGENT', detail: 'available' },
];

let config: string;
let data: string;
let today: number;

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'hibiki-cli-queue-'));
  data = join(dir, 'data');
  config = join(dir, 'hibiki.yaml');
  writeFileSync(
    config,
    stringify({
      tenant: { domain: 'hibiki.test', timezone: TZ },
      listen: [{ transport: 'udp', host: '127.0.0.1', port: 5060 }],
      data: { dir: data },
      extensions: [
        { number: '2001', name: 'Alice', password: 'secret-2001' },
        { number: '2002', name: 'Bob', password: 'secret-2002' },
        { number: '2003', name: 'Carol', password: 'secret-2003' },
      ],
      queues: [
        { number: '600', name: 'サポート', members: ['2001', { extension: '2002', level: 2 }] },
        { number: '610', name: 'Sales', members: ['2001'] },
      ],
    }),
  );
  // Today's calls a little before the CLI runs (never before local midnight, so they count as today).
  const now = Date.now();
  today = Math.max(startOfDay(now, TZ), now - 600_000);
  const db = openDatabase(data);
  new QueueEventStore(db).appendMany([
    ...pastDay,
    { at: today, queue: '600', callId: 't1', event: 'ENTER' },
    { at: today + 1000, queue: '600', agent: '2002', event: 'AGENT', detail: 'paused:離席中' },
    { at: today + 12_000, queue: '600', callId: 't1', agent: '2001', event: 'ANSWER', waitMs: 12_000 },
    { at: today + 12_000, queue: '600', agent: '2001', event: 'AGENT', detail: 'in_call' },
    { at: today + 20_000, queue: '600', callId: 't2', event: 'ENTER' },
    { at: today + 50_000, queue: '600', callId: 't2', event: 'ABANDON', waitMs: 30_000 },
    { at: today + 60_000, queue: '600', callId: 't3', event: 'ENTER' },
  ]);
  db.close();
});

// Each CLI run is a whole process start (about a second, several on a busy machine): a generous limit.
describe('hibiki queue', { timeout: 120_000 }, () => {
  it("show prints today's counters, the caller waiting and each agent's state since when", () => {
    const r = cli('queue', 'show', '--config', config);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'queue 600 サポート',
      '  today: offered 3, answered 1, abandoned 1, overflow 0, timeout 0, exited 0, lost 0, answer rate 33.3%',
      expect.stringMatching(/^ {2}waiting now 1, longest wait \d+:\d\d:\d\d$/),
    ]);
    expect(lines.slice(3, 6)).toEqual([
      '  agents: online 2, available 0, ringing 0, in call 1, paused 1, wrapup 0',
      `  2001\tlevel 1\tin_call\tsince ${localText(today + 12_000, TZ)}`,
      `  2002\tlevel 2\tpaused (離席中)\tsince ${localText(today + 1000, TZ)}`,
    ]);
    expect(lines).toContain('queue 610 Sales');
    expect(lines).toContain('  2001\tlevel 1\toffline\tnever seen');

    const one = cli('queue', 'show', '610', '--config', config);
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout.split('\n')[0]).toBe('queue 610 Sales');
    expect(one.stdout).not.toContain('600');
    expect(cli('queue', 'show', '699', '--config', config)).toMatchObject({ status: 2, stderr: 'unknown queue 699\n' });
  });

  it('stats --csv prints exact hourly and daily figures per queue and per agent', () => {
    const hourly = cli('queue', 'stats', '--from', '2026-01-05', '--to', '2026-01-05', '--csv', '--config', config);
    expect(hourly.status, hourly.stderr).toBe(0);
    const rows = hourly.stdout.split('\r\n');
    expect(rows[0]).toBe('period,queue,name,offered,answered,abandoned,overflow,timeout,exited,lost,answer_rate,avg_wait_ms,max_wait_ms,talk_ms,wrapup_ms');
    // 24 hours × 2 queues, the header and the empty string after the last CRLF.
    expect(rows).toHaveLength(24 * 2 + 2);
    expect(rows).toContain('2026-01-05 09:00,600,サポート,3,1,1,1,0,0,0,0.3333,12000,12000,3000000,288000');
    expect(rows).toContain('2026-01-05 10:00,600,サポート,0,0,0,0,0,0,0,0,0,0,0,42000');
    expect(rows).toContain('2026-01-05 09:00,610,Sales,0,0,0,0,0,0,0,0,0,0,0,0');

    const daily = cli('queue', 'stats', '--from', '2026-01-05', '--to', '2026-01-05', '--by', 'day', '--agents', '--csv', '--config', config);
    expect(daily.status, daily.stderr).toBe(0);
    expect(daily.stdout.split('\r\n')).toEqual([
      'period,queue,agent,name,answered,no_answer,talk_ms,avg_talk_ms,offline_ms,available_ms,ringing_ms,in_call_ms,on_hold_ms,paused_ms,wrapup_ms',
      // available 08:30–09:05:12 and 10:00:42–24:00, 50 min in the call, 5 min 30 s of wrap-up.
      '2026-01-05,600,2001,Alice,1,0,3000000,3000000,0,52470000,0,3000000,0,0,330000',
      '2026-01-05,600,2002,Bob,0,1,0,0,0,0,0,0,0,0,0',
      '',
    ]);

    const table = cli('queue', 'stats', '--from', '2026-01-05T09:00', '--to', '2026-01-05T10:00', '--config', config);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout.split('\n')).toEqual([
      'period\tqueue\tname\toffered\tanswered\tabandoned\toverflow\ttimeout\texited\tlost\tanswer rate\tavg wait\tmax wait\ttalk\twrapup',
      '2026-01-05 09:00\t600\tサポート\t3\t1\t1\t1\t0\t0\t0\t33.3%\t0:00:12\t0:00:12\t0:50:00\t0:04:48',
      '2026-01-05 09:00\t610\tSales\t0\t0\t0\t0\t0\t0\t0\t0.0%\t0:00:00\t0:00:00\t0:00:00\t0:00:00',
      '',
    ]);

    const sjis = spawnSync(process.execPath, [CLI, 'queue', 'stats', '--from', '2026-01-05', '--to', '2026-01-05', '--csv', '--encoding', 'sjis', '--config', config]);
    expect(sjis.status, sjis.stderr.toString()).toBe(0);
    expect(iconv.decode(sjis.stdout, 'shift_jis')).toBe(hourly.stdout);
    expect(sjis.stdout.includes(Buffer.from('サポート', 'utf8'))).toBe(false);
  });

  it('refuses bad arguments with a message and the usage, exit code 2', () => {
    const bad = (args: string[], message: string) => {
      const r = cli(...args, '--config', config);
      expect(r.status, r.stdout).toBe(2);
      expect(r.stderr).toContain(message);
    };
    bad(['queue', 'stats', '--from', '2026-02-30', '--to', '2026-03-01'], "--from must be YYYY-MM-DD or YYYY-MM-DDTHH:MM, got '2026-02-30'");
    bad(['queue', 'stats', '--from', '2026-02-30', '--to', '2026-03-01'], 'usage:');
    bad(['queue', 'stats', '--from', '2026-03-02', '--to', '2026-03-01'], '--to 2026-03-01 is not after --from 2026-03-02');
    bad(['queue', 'stats', '--from', '2026-03-01'], 'queue stats needs --from and --to');
    bad(['queue', 'stats', '--from', '2026-03-01', '--to', '2026-03-01', '--by', 'week'], '--by must be hour or day, not week');
    bad(['queue', 'stats', '--from', '2026-03-01', '--to', '2026-03-01', '--encoding', 'latin1'], '--encoding must be utf8 or sjis');
    bad(['queue', 'show', '--csv'], 'usage:');
    bad(['agent', 'resume', '2001', '--reason', 'x'], 'usage:');
  });
});

describe('hibiki agent', { timeout: 120_000 }, () => {
  it('pauses with a reason and resumes through AgentHolds, and shows the holds per queue', () => {
    const paused = cli('agent', 'pause', '2001', '600', '--reason', '離席中', '--config', config);
    expect(paused.status, paused.stderr).toBe(0);
    expect(paused.stdout).toBe('2001\t600\tpaused\t離席中\n');
    const db = openDatabase(data);
    try {
      const [hold] = new AgentStateStore(db).all();
      expect(hold).toMatchObject({ queue: '600', agent: '2001', state: 'paused', reason: '離席中', until: null });
      const pauses = new QueueEventStore(db).between(0, Number.MAX_SAFE_INTEGER).filter((e) => e.event === 'PAUSE');
      expect(pauses).toMatchObject([{ queue: '600', agent: '2001', detail: '離席中|cli', at: hold!.since }]);

      const shown = cli('agent', 'show', '2001', '--config', config);
      expect(shown.status, shown.stderr).toBe(0);
      expect(shown.stdout.split('\n')).toEqual([
        'agent\tqueue\tname\thold\treason\tsince\tuntil',
        `2001\t600\tサポート\tpaused\t離席中\t${localText(hold!.since, TZ)}\tuntil resumed`,
        '2001\t610\tSales\tnone\t\t\t',
        '',
      ]);
      expect(cli('agent', 'pause', '2001', '600', '--reason', '離席中', '--config', config).stdout).toBe('2001\t600\talready paused\t離席中\n');

      // Without a queue: every queue 2001 is a member of.
      const resumed = cli('agent', 'resume', '2001', '--config', config);
      expect(resumed.status, resumed.stderr).toBe(0);
      expect(resumed.stdout).toBe('2001\t600\tresumed\n2001\t610\tnot held\n');
      expect(new AgentStateStore(db).all()).toEqual([]);
      expect(new QueueEventStore(db).between(0, Number.MAX_SAFE_INTEGER).filter((e) => e.event === 'RESUME')).toMatchObject([{ queue: '600', agent: '2001', detail: 'paused|cli' }]);

      const all = cli('agent', 'pause', '2001', '--config', config);
      expect(all.stdout).toBe('2001\t600\tpaused\t\n2001\t610\tpaused\t\n');
      expect(new AgentStateStore(db).all().map((h) => [h.queue, h.agent, h.state, h.reason])).toEqual([
        ['600', '2001', 'paused', null],
        ['610', '2001', 'paused', null],
      ]);
    } finally {
      db.close();
    }
  });

  it('refuses an extension that is no member of the queue or of any queue, exit code 2', () => {
    expect(cli('agent', 'pause', '2002', '610', '--config', config)).toMatchObject({ status: 2, stderr: '2002 is not a member of queue 610\n' });
    expect(cli('agent', 'resume', '2003', '--config', config)).toMatchObject({ status: 2, stderr: '2003 is not a member of any queue\n' });
    expect(cli('agent', 'show', '2003', '--config', config)).toMatchObject({ status: 2, stderr: '2003 is not a member of any queue\n' });
    expect(cli('agent', 'pause', '2001', '699', '--config', config)).toMatchObject({ status: 2, stderr: 'unknown queue 699\n' });
  });
});
