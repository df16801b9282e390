// E-mail notification of voicemail (F-VM, issue #10): when a message is left in a box with an `email`,
// a mail goes to it over the tenant's SMTP server — subject with the box and the caller, the time (in
// tenant.timezone), caller and length in the body, in the box's language, the WAV attached if the box
// says so. The mail is written to an outbox row first and sent off the call path; a failed delivery is
// retried with a doubling back-off (each failure a warning, giving up an error), and a restart resumes
// the outbox. The message itself is only ever read: a mail never changes or deletes it. A message
// deleted before its mail went out drops the mail (info log): its owner has dealt with it already.
import { readFile } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { SmtpConfig } from '../../config/mail-schema.js';
import type { MailOutboxStore, OutboxMail } from '../../store/mail-outbox-store.js';
import type { VoicemailMessage } from '../../store/voicemail-store.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { MailboxEvents } from './mailbox-events.js';
import type { MailboxInfo, Mailboxes } from './mailboxes.js';

export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  attachments: Array<{ filename: string; content: Buffer; contentType: string }>;
}

/** Hands one mail to a mail server; rejects when the server (or the connection) refused it. */
export interface MailTransport {
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

/** The tenant's SMTP server through nodemailer: STARTTLS as configured, AUTH when a username is set. */
export function smtpTransport(cfg: SmtpConfig): MailTransport {
  const timeout = cfg.timeoutSeconds * 1000;
  const transporter = nodemailer.createTransport({
    host: cfg.host,
    port: cfg.port,
    secure: cfg.secure,
    // required: no mail goes over a connection that STARTTLS did not upgrade; off: never upgrade.
    requireTLS: !cfg.secure && cfg.starttls === 'required',
    ignoreTLS: !cfg.secure && cfg.starttls === 'off',
    auth: cfg.username !== undefined && cfg.password !== undefined ? { user: cfg.username, pass: cfg.password } : undefined,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    tls: { rejectUnauthorized: cfg.tlsVerify },
  });
  return {
    async send(mail) {
      await transporter.sendMail({ from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, attachments: mail.attachments });
    },
    close() {
      transporter.close();
    },
  };
}

/** "2026-12-02 23:10:05" in the time zone. */
function localTime(ms: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(ms));
  const p = (t: string): string => parts.find((x) => x.type === t)?.value ?? '';
  return `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')}:${p('second')}`;
}

function duration(ms: number, language: 'ja' | 'en'): string {
  const total = Math.max(1, Math.round(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  if (language === 'ja') return m > 0 ? `${m}分${s}秒` : `${s}秒`;
  return `${m}:${String(s).padStart(2, '0')}`;
}

function caller(m: VoicemailMessage, language: 'ja' | 'en'): string {
  const number = m.callerNumber !== '' ? m.callerNumber : language === 'ja' ? '非通知' : 'anonymous';
  return m.callerName ? `${m.callerName} <${number}>` : number;
}

/** The notification for one message, in the box's language (the attachment is added by the caller). */
export function composeMail(m: VoicemailMessage, box: Pick<MailboxInfo, 'name' | 'language'>, opts: { from: string; to: string; timeZone: string }): Omit<OutgoingMail, 'attachments'> {
  const when = localTime(m.receivedAt, opts.timeZone);
  const who = caller(m, box.language);
  const boxName = `${m.box} (${box.name})`;
  if (box.language === 'ja') {
    return {
      from: opts.from,
      to: opts.to,
      subject: `【ボイスメール】${boxName} に ${who} から新しいメッセージ`,
      text: [
        `ボイスメールボックス ${boxName} に新しいメッセージが届きました。`,
        '',
        `発信者: ${who}`,
        `着信番号: ${m.calledNumber}`,
        `受信日時: ${when} (${opts.timeZone})`,
        `長さ: ${duration(m.durationMs, 'ja')}`,
        '',
        '電話で 1410 をダイヤルすると再生できます。',
        '',
      ].join('\n'),
    };
  }
  return {
    from: opts.from,
    to: opts.to,
    subject: `New voicemail in box ${boxName} from ${who}`,
    text: [
      `A new message was left in voicemail box ${boxName}.`,
      '',
      `From: ${who}`,
      `Called number: ${m.calledNumber}`,
      `Received: ${when} (${opts.timeZone})`,
      `Length: ${duration(m.durationMs, 'en')}`,
      '',
      'Dial 1410 from your phone to listen to it.',
      '',
    ].join('\n'),
  };
}

export function attachmentName(m: VoicemailMessage, timeZone: string): string {
  return `voicemail-${m.box}-${localTime(m.receivedAt, timeZone)
    .replace(/[-: ]/g, '')
    .replace(/^(\d{8})/, '$1-')}.wav`;
}

/** The wait before attempt `attempts + 1` after `attempts` failures: backoff, doubling, capped. */
export function retryDelayMs(attempts: number, retry: SmtpConfig['retry']): number {
  const seconds = retry.backoffSeconds * 2 ** Math.min(attempts - 1, 30);
  return Math.min(seconds, retry.maxBackoffSeconds) * 1000;
}

export interface VoicemailMailerOptions {
  outbox: MailOutboxStore;
  /** Read-only access to the messages (a mail is about one; it is never changed here). */
  messages: { get(id: number): VoicemailMessage | undefined };
  events: MailboxEvents;
  mailboxes: Mailboxes;
  /** Read at each attempt, so a reload of the SMTP settings applies to the mails still pending. */
  config: () => { smtp: SmtpConfig | undefined; timeZone: string };
  clock: Clock;
  logger: Logger;
  /** Default: smtpTransport. Unit tests give their own server stand-in. */
  transport?: (cfg: SmtpConfig) => MailTransport;
}

/** At most this many mails per run of the outbox; the next run follows at once while more are due. */
const BATCH = 20;

export class VoicemailMailer {
  private timer: TimerHandle | undefined;
  private timerDue: number | undefined;
  private running = false;
  private sending = false;
  private transport: { key: string; t: MailTransport } | undefined;
  private readonly onDeposited = (m: VoicemailMessage, path: string): void => this.deposited(m, path);

  constructor(private readonly o: VoicemailMailerOptions) {}

  /** True while a run of the outbox is delivering (tests wait for it to finish before moving the clock). */
  get busy(): boolean {
    return this.sending;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.o.events.on('deposited', this.onDeposited);
    const pending = this.o.outbox.all().length;
    if (pending > 0) this.o.logger.info({ pending }, 'voicemail notification mails pending from before the restart');
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.o.events.off('deposited', this.onDeposited);
    this.timer?.cancel();
    this.timer = undefined;
    this.timerDue = undefined;
    this.transport?.t.close();
    this.transport = undefined;
  }

  /** A message was stored: queue its mail if the box has an address (a SQLite insert; the sending comes later). */
  deposited(m: VoicemailMessage, wavPath: string): void {
    const info = this.o.mailboxes.lookup(m.box);
    if (!info?.email) return;
    const log = { box: m.box, messageId: m.id, callId: m.callId, to: info.email };
    if (!this.o.config().smtp) {
      this.o.logger.warn(log, 'voicemail box has an e-mail address but no smtp: is configured; no mail sent');
      return;
    }
    try {
      const row = this.o.outbox.add({ messageId: m.id, box: m.box, recipient: info.email, wavPath, attach: info.attach, createdAt: this.o.clock.now() });
      this.o.logger.info({ ...log, mailId: row.id }, 'voicemail notification mail queued');
    } catch (err) {
      this.o.logger.error({ ...log, err }, 'voicemail notification mail not queued');
      return;
    }
    this.schedule();
  }

  /** One timer for the earliest pending mail (clock time, so a fake clock drives it in tests). */
  private schedule(): void {
    if (!this.running || this.sending) return;
    const due = this.o.outbox.nextDue();
    if (due === undefined) return;
    if (this.timer && this.timerDue !== undefined && this.timerDue <= due) return;
    this.timer?.cancel();
    this.timerDue = due;
    this.timer = this.o.clock.setTimer(Math.max(0, due - this.o.clock.now()), () => {
      this.timer = undefined;
      this.timerDue = undefined;
      void this.run();
    });
  }

  /** Send what is due, one mail at a time, then wait for the next. */
  private async run(): Promise<void> {
    if (!this.running || this.sending) return;
    this.sending = true;
    try {
      for (const mail of this.o.outbox.due(this.o.clock.now(), BATCH)) {
        if (!this.running) break;
        await this.attempt(mail);
      }
    } catch (err) {
      // The store went away under us (shutdown): the rows stay for the next start.
      this.o.logger.warn({ err }, 'voicemail notification outbox not processed');
    } finally {
      this.sending = false;
    }
    this.schedule();
  }

  private transportFor(smtp: SmtpConfig): MailTransport {
    const key = JSON.stringify(smtp);
    if (this.transport?.key !== key) {
      this.transport?.t.close();
      this.transport = { key, t: (this.o.transport ?? smtpTransport)(smtp) };
    }
    return this.transport.t;
  }

  private async attempt(mail: OutboxMail): Promise<void> {
    const log = { box: mail.box, messageId: mail.messageId, mailId: mail.id, to: mail.recipient, attempt: mail.attempts + 1 };
    const message = this.o.messages.get(mail.messageId);
    if (!message) {
      this.o.outbox.remove(mail.id);
      this.o.logger.info(log, 'voicemail message deleted before its notification mail was sent; mail dropped');
      return;
    }
    const { smtp, timeZone } = this.o.config();
    if (!smtp) {
      this.o.outbox.remove(mail.id);
      this.o.logger.warn(log, 'smtp: is no longer configured; voicemail notification mail dropped');
      return;
    }
    const info = this.o.mailboxes.lookup(mail.box);
    const composed = composeMail(message, { name: info?.name ?? mail.box, language: info?.language ?? 'ja' }, { from: smtp.from, to: mail.recipient, timeZone });
    const attachments: OutgoingMail['attachments'] = [];
    if (mail.attach) {
      try {
        attachments.push({ filename: attachmentName(message, timeZone), content: await readFile(mail.wavPath), contentType: 'audio/wav' });
      } catch (err) {
        // The row is there but its audio is not (removed by hand?): the notification still goes out.
        this.o.logger.warn({ ...log, callId: message.callId, err: (err as Error).message }, 'voicemail WAV not readable; mail sent without it');
      }
    }
    try {
      await this.transportFor(smtp).send({ ...composed, attachments });
    } catch (err) {
      this.failed(mail, smtp, { ...log, callId: message.callId }, err);
      return;
    }
    this.o.outbox.remove(mail.id);
    this.o.logger.info({ ...log, callId: message.callId, attached: attachments.length > 0 }, 'voicemail notification mail sent');
  }

  private failed(mail: OutboxMail, smtp: SmtpConfig, log: Record<string, unknown>, err: unknown): void {
    const attempts = mail.attempts + 1;
    const e = err as { message?: string; responseCode?: number; code?: string };
    const error = `${e.responseCode !== undefined ? `${e.responseCode} ` : ''}${e.message ?? String(err)}`;
    if (attempts >= smtp.retry.attempts) {
      this.o.outbox.remove(mail.id);
      this.o.logger.error({ ...log, error, smtpCode: e.responseCode, attempts }, 'voicemail notification mail given up');
      return;
    }
    const delay = retryDelayMs(attempts, smtp.retry);
    this.o.outbox.failed(mail.id, attempts, this.o.clock.now() + delay, error);
    this.o.logger.warn({ ...log, error, smtpCode: e.responseCode, retryInSeconds: delay / 1000 }, 'voicemail notification mail not delivered; will retry');
  }
}
