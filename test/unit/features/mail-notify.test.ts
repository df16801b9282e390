// Voicemail e-mail notification on a fake clock with an in-memory database: the mail's content, the
// outbox (queued on deposit, sent off the call path, retried with a doubling back-off, given up after
// the configured attempts, resumed after a restart), and that the message and its WAV are never touched.
import BetterSqlite3 from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/store/migrations.js';
import { MailOutboxStore } from '../../../src/store/mail-outbox-store.js';
import { VoicemailStore, type VoicemailMessage } from '../../../src/store/voicemail-store.js';
import { MailboxEvents } from '../../../src/features/voicemail/mailbox-events.js';
import type { MailboxInfo, Mailboxes } from '../../../src/features/voicemail/mailboxes.js';
import { VoicemailMailer, attachmentName, composeMail, retryDelayMs, type MailTransport, type OutgoingMail } from '../../../src/features/voicemail/mail-notify.js';
import { smtpSchema, type SmtpConfig } from '../../../src/config/mail-schema.js';
import { FakeClock } from '../../support/fake-clock.js';
import { captureLogger } from '../../support/logger.js';

const T0 = Date.UTC(2026, 11, 2, 14, 5, 9); // 23:05:09 in Tokyo

function message(over: Partial<VoicemailMessage> = {}): VoicemailMessage {
  return { id: 7, box: '2001', file: '2001/a.wav', receivedAt: T0, callerNumber: '0312345678', callerName: 'Tanaka', calledNumber: '2001', durationMs: 65_400, status: 'new', callId: 'c-1', ...over };
}

describe('the notification mail', () => {
  it('in English: box and caller in the subject; time in the tenant zone, caller and length in the body', () => {
    const m = composeMail(message(), { name: 'Alice', language: 'en' }, { from: 'pbx@example.com', to: 'alice@example.com', timeZone: 'Asia/Tokyo' });
    expect(m.subject).toBe('New voicemail in box 2001 (Alice) from Tanaka <0312345678>');
    expect(m.text).toContain('From: Tanaka <0312345678>');
    expect(m.text).toContain('Received: 2026-12-02 23:05:09 (Asia/Tokyo)');
    expect(m.text).toContain('Length: 1:05');
    expect(m.to).toBe('alice@example.com');
    expect(m.from).toBe('pbx@example.com');
  });

  it('in Japanese, in another zone, for an anonymous caller', () => {
    const m = composeMail(message({ callerNumber: '', callerName: undefined, durationMs: 4_200 }), { name: '営業', language: 'ja' }, { from: 'f', to: 't', timeZone: 'Europe/London' });
    expect(m.subject).toBe('【ボイスメール】2001 (営業) に 非通知 から新しいメッセージ');
    expect(m.text).toContain('受信日時: 2026-12-02 14:05:09 (Europe/London)');
    expect(m.text).toContain('長さ: 4秒');
    expect(attachmentName(message(), 'Asia/Tokyo')).toBe('voicemail-2001-20261202-230509.wav');
  });

  it('waits backoff, doubling, up to the cap', () => {
    const retry = { attempts: 6, backoffSeconds: 60, maxBackoffSeconds: 300 };
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(n, retry))).toEqual([60_000, 120_000, 240_000, 300_000, 300_000]);
  });
});

// ---- the outbox -------------------------------------------------------------------------------------

/** A mail server stand-in: refuses the first `failures` deliveries (like a 4xx), then accepts, and keeps what it accepted. */
class Server {
  readonly accepted: OutgoingMail[] = [];
  readonly attemptsAt: number[] = [];
  failures = 0;
  constructor(private readonly clock: FakeClock) {}
  transport = (): MailTransport => ({
    send: async (mail) => {
      this.attemptsAt.push(this.clock.now());
      if (this.failures > 0) {
        this.failures--;
        throw Object.assign(new Error('Mailbox temporarily unavailable'), { responseCode: 451 });
      }
      this.accepted.push(mail);
    },
    close: () => undefined,
  });
}

const BOXES: Record<string, MailboxInfo> = {
  '2001': { name: 'Alice', email: 'alice@example.com', attach: true, notify: ['2001'], language: 'en' },
  '2002': { name: 'Bob', email: 'bob@example.com', attach: false, notify: ['2002'], language: 'ja' },
  '2003': { name: 'Carol', attach: true, notify: ['2003'], language: 'ja' },
};
const mailboxes: Mailboxes = { lookup: (b) => BOXES[b], shownOn: (ext) => Object.keys(BOXES).filter((b) => BOXES[b]?.notify.includes(ext)) };

let dir: string;
let db: BetterSqlite3.Database;
let clock: FakeClock;
const mailers: VoicemailMailer[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hibiki-mail-'));
  db = new BetterSqlite3(join(dir, 'db.sqlite'));
  migrate(db);
  clock = new FakeClock(T0);
});

afterEach(() => {
  for (const m of mailers.splice(0)) m.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function smtp(over: Partial<SmtpConfig> = {}): SmtpConfig {
  return { ...smtpSchema.parse({ host: 'mail.example.com', from: 'pbx@example.com' }), ...over };
}

function setup(opts: { smtp?: SmtpConfig | undefined; server?: Server } = {}) {
  const { logger, lines } = captureLogger('debug');
  const server = opts.server ?? new Server(clock);
  const events = new MailboxEvents();
  const store = new VoicemailStore(db);
  const outbox = new MailOutboxStore(db);
  const cfg = 'smtp' in opts ? opts.smtp : smtp();
  const mailer = new VoicemailMailer({ outbox, messages: store, events, mailboxes, config: () => ({ smtp: cfg, timeZone: 'Asia/Tokyo' }), clock, logger, transport: server.transport });
  mailer.start();
  mailers.push(mailer);
  let n = 0;
  const deposit = (box: string): { m: VoicemailMessage; path: string; bytes: Buffer } => {
    const bytes = Buffer.from(`RIFF-test-audio-${box}-${++n}`);
    const path = join(dir, `${box}-${n}.wav`);
    writeFileSync(path, bytes);
    const m = store.add({ box, file: `${box}/${n}.wav`, receivedAt: clock.now(), callerNumber: '0312345678', callerName: undefined, calledNumber: box, durationMs: 3000, callId: `call-${n}` });
    events.emit('deposited', m, path);
    return { m, path, bytes };
  };
  return { server, events, store, outbox, mailer, logs: lines, deposit };
}

/**
 * Let the mailers finish what they started (reading the WAV is real file I/O) without moving the clock.
 * The bound only turns a hang into a failure; a busy machine may need many turns of the loop.
 */
async function flush(): Promise<void> {
  const giveUp = Date.now() + 20_000;
  do {
    await new Promise<void>((r) => setImmediate(r));
    if (!mailers.some((m) => m.busy)) return;
  } while (Date.now() < giveUp);
  throw new Error('a mailer never finished its run');
}

async function advance(ms: number): Promise<void> {
  const target = clock.now() + ms;
  await flush();
  for (;;) {
    const due = clock.nextDue();
    if (due === undefined || due > target) break;
    clock.advance(due - clock.now());
    await flush();
  }
  clock.advance(target - clock.now());
  await flush();
}

describe('the outbox', () => {
  it('queues on deposit and sends off the call path, with the WAV attached, its bytes unchanged, the message untouched', async () => {
    const s = setup();
    const { m, path, bytes } = s.deposit('2001');
    // The deposit only wrote a row: nothing is sent inside the event.
    expect(s.server.accepted).toHaveLength(0);
    expect(s.outbox.all()).toHaveLength(1);
    await advance(0);
    expect(s.server.accepted).toHaveLength(1);
    const mail = s.server.accepted[0]!;
    expect(mail.to).toBe('alice@example.com');
    expect(mail.subject).toContain('2001 (Alice)');
    expect(mail.attachments).toHaveLength(1);
    expect(mail.attachments[0]!.contentType).toBe('audio/wav');
    expect(mail.attachments[0]!.content.equals(bytes)).toBe(true);
    expect(s.outbox.all()).toHaveLength(0);
    expect(s.store.get(m.id)).toEqual(m);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(s.logs.some((l) => l.msg === 'voicemail notification mail sent' && l.box === '2001' && l.callId === 'call-1')).toBe(true);
  });

  it('leaves the WAV out when the box says so, and sends nothing for a box without an address', async () => {
    const s = setup();
    s.deposit('2002');
    s.deposit('2003');
    await advance(0);
    expect(s.server.accepted.map((m) => [m.to, m.attachments.length])).toEqual([['bob@example.com', 0]]);
    expect(s.server.accepted[0]!.subject).toContain('【ボイスメール】');
  });

  it('retries a refused delivery after 60, 120, 240 s, warning each time, and delivers', async () => {
    const server = new Server(clock);
    server.failures = 3;
    const s = setup({ server });
    s.deposit('2001');
    await advance(0);
    expect(server.attemptsAt).toEqual([T0]);
    expect(s.outbox.all()[0]).toMatchObject({ attempts: 1, nextAttemptAt: T0 + 60_000, lastError: '451 Mailbox temporarily unavailable' });
    await advance(59_999);
    expect(server.attemptsAt).toHaveLength(1);
    await advance(1);
    expect(server.attemptsAt).toHaveLength(2);
    await advance(10 * 60_000);
    expect(server.attemptsAt.map((t) => (t - T0) / 1000)).toEqual([0, 60, 180, 420]);
    expect(server.accepted).toHaveLength(1);
    expect(s.outbox.all()).toHaveLength(0);
    const warnings = s.logs.filter((l) => l.msg === 'voicemail notification mail not delivered; will retry');
    expect(warnings.map((l) => l.retryInSeconds)).toEqual([60, 120, 240]);
    expect(warnings.every((l) => l.level === 40 && l.box === '2001' && l.smtpCode === 451)).toBe(true);
  });

  it('gives up after retry.attempts with an error, and drops only the mail', async () => {
    const server = new Server(clock);
    server.failures = 100;
    const s = setup({ server, smtp: smtp({ retry: { attempts: 3, backoffSeconds: 10, maxBackoffSeconds: 3600 } }) });
    const { m, path, bytes } = s.deposit('2001');
    await advance(3600_000);
    expect(server.attemptsAt.map((t) => (t - T0) / 1000)).toEqual([0, 10, 30]);
    expect(s.outbox.all()).toHaveLength(0);
    const gaveUp = s.logs.filter((l) => l.msg === 'voicemail notification mail given up');
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]).toMatchObject({ level: 50, box: '2001', attempts: 3 });
    expect(s.store.get(m.id)).toEqual(m);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it('resumes the outbox after a restart, at the time it was due', async () => {
    const server = new Server(clock);
    server.failures = 1;
    const first = setup({ server });
    first.deposit('2001');
    await advance(0);
    expect(first.outbox.all()).toHaveLength(1);
    first.mailer.stop();
    // The process is gone for a while; a new one starts on the same database.
    clock.advance(30_000);
    const second = setup({ server });
    await advance(29_999);
    expect(server.accepted).toHaveLength(0);
    await advance(1);
    expect(server.accepted).toHaveLength(1);
    expect(server.accepted[0]!.attachments).toHaveLength(1);
    expect(second.outbox.all()).toHaveLength(0);
    expect(second.logs.some((l) => l.msg === 'voicemail notification mails pending from before the restart' && l.pending === 1)).toBe(true);
  });

  it('drops the mail of a message deleted before it went out (info), and sends without the WAV when only the file is gone', async () => {
    const server = new Server(clock);
    server.failures = 1;
    const s = setup({ server });
    const gone = s.deposit('2001');
    await advance(0);
    s.store.remove(gone.m.id);
    await advance(60_000);
    expect(server.accepted).toHaveLength(0);
    expect(s.outbox.all()).toHaveLength(0);
    expect(s.logs.some((l) => l.msg === 'voicemail message deleted before its notification mail was sent; mail dropped' && l.level === 30 && l.messageId === gone.m.id)).toBe(true);

    const noFile = s.deposit('2001');
    rmSync(noFile.path);
    await advance(0);
    expect(server.accepted).toHaveLength(1);
    expect(server.accepted[0]!.attachments).toHaveLength(0);
    expect(existsSync(noFile.path)).toBe(false);
  });

  it('without smtp: configured, warns and queues nothing', async () => {
    const s = setup({ smtp: undefined });
    s.deposit('2001');
    await advance(0);
    expect(s.outbox.all()).toHaveLength(0);
    expect(s.server.attemptsAt).toHaveLength(0);
    expect(s.logs.some((l) => l.level === 40 && l.box === '2001' && typeof l.msg === 'string' && l.msg.includes('no smtp'))).toBe(true);
  });

  it('sends every mail of a burst, in order', async () => {
    const s = setup();
    for (let i = 0; i < 25; i++) s.deposit(i % 2 === 0 ? '2001' : '2002');
    await advance(0);
    expect(s.server.accepted).toHaveLength(25);
    expect(s.outbox.all()).toHaveLength(0);
  });
});
