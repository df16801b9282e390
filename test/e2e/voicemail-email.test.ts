// Voicemail e-mail notification end to end (issue #10): the real server sends through nodemailer to a
// real SMTP server started here (npm smtp-server) with STARTTLS on a self-signed certificate. The mail
// arrives with the WAV attached, its bytes equal to the file; a server that answers 451 at first gets
// the mail on a later attempt. A message is left the way the voicemail deposit leaves it: the WAV on
// disk, the row in the store, then `deposited` and `changed` on the server's mailbox events.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHibiki, type RunningHibiki } from '../support/hibiki.js';
import { decodeHeader, mimeParts, startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { configuredMailboxes, type Mailboxes } from '../../src/features/voicemail/mailboxes.js';
import { DEFAULT_EXTENSIONS } from '../support/hibiki.js';

let hibiki: RunningHibiki | undefined;
let smtp: SmtpSink | undefined;

afterEach(async () => {
  await hibiki?.stop();
  hibiki = undefined;
  await smtp?.close();
  smtp = undefined;
});

/** A real SMTP server on loopback offering STARTTLS; it refuses the first `refusals` recipients with 451. */
async function startSmtp(refusals: number): Promise<SmtpSink> {
  const sink = await startSmtpSink(refusals);
  smtp = sink;
  return sink;
}

/** An 8 kHz mono 16-bit PCM WAV of a 1 kHz tone, `ms` long (what the recorder writes). */
function toneWav(ms: number): Buffer {
  const samples = (8000 * ms) / 1000;
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 8000)), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(16000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** Leaves a message as the deposit does: WAV, row, then the events. */
function deposit(h: RunningHibiki, box: string, wav: Buffer): { id: number; path: string } {
  const dir = join(h.dataDir, 'voicemail', box);
  mkdirSync(dir, { recursive: true });
  const file = `${box}/${Date.now()}-1.wav`;
  const path = join(h.dataDir, 'voicemail', file);
  writeFileSync(path, wav);
  const m = h.server.voicemailStore.add({
    box,
    file,
    receivedAt: Date.UTC(2026, 11, 2, 14, 5, 9),
    callerNumber: '0312345678',
    callerName: 'Tanaka',
    calledNumber: box,
    durationMs: 1500,
    callId: 'vm-call-1',
  });
  h.server.mailboxEvents.emit('deposited', m, path);
  h.server.mailboxEvents.emit('changed', box, h.server.voicemailStore.counts(box));
  return { id: m.id, path };
}

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

/** The configured boxes, with an address on 2001's. */
function withEmail(h: () => RunningHibiki | undefined, attach: boolean): Mailboxes {
  const base = configuredMailboxes(() => h()!.server.currentConfig);
  return {
    shownOn: (ext) => base.shownOn(ext),
    lookup: (box) => {
      const info = base.lookup(box);
      return info && box === '2001' ? { ...info, email: 'alice@example.com', attach, language: 'en' } : info;
    },
  };
}

describe('voicemail e-mail notification', () => {
  it('delivers over STARTTLS with the WAV attached, its bytes equal to the file, and leaves the message alone', async () => {
    const mail = await startSmtp(0);
    const wav = toneWav(1500);
    const h = (hibiki = await startHibiki({
      extensions: DEFAULT_EXTENSIONS,
      config: { tenant: { domain: 'hibiki.test', timezone: 'Asia/Tokyo' }, smtp: { host: '127.0.0.1', port: mail.port, starttls: 'required', tlsVerify: false, from: 'hibiki <pbx@hibiki.test>' } },
      mailboxes: withEmail(() => hibiki, true),
    }));
    const { id, path } = deposit(h, '2001', wav);
    expect(await waitFor(() => mail.received.length === 1), JSON.stringify(h.logs.filter((l) => String(l.msg).includes('mail')))).toBe(true);
    const got = mail.received[0]!;
    expect(got.secure).toBe(true);
    expect(got.from).toBe('pbx@hibiki.test');
    expect(got.to).toEqual(['alice@example.com']);
    const subject = decodeHeader(/^Subject: (.*(?:\r\n[ \t].*)*)/m.exec(got.raw)?.[1] ?? '');
    expect(subject).toBe('New voicemail in box 2001 (Alice) from Tanaka <0312345678>');
    const parts = mimeParts(got.raw);
    const text = parts.find((p) => (p.headers.get('content-type') ?? '').startsWith('text/plain'));
    expect(text).toBeDefined();
    const attachment = parts.find((p) => (p.headers.get('content-disposition') ?? '').startsWith('attachment'));
    expect(attachment?.headers.get('content-type')).toMatch(/^audio\/wav/);
    expect(attachment?.headers.get('content-transfer-encoding')).toBe('base64');
    expect(attachment?.headers.get('content-disposition')).toContain('voicemail-2001-20261202-230509.wav');
    const bytes = Buffer.from(attachment!.body.replace(/\s+/g, ''), 'base64');
    expect(bytes.equals(readFileSync(path))).toBe(true);
    expect(bytes.equals(wav)).toBe(true);
    // Sent, and nothing else changed: the message is still new, its file still there.
    expect(h.server.voicemailStore.get(id)?.status).toBe('new');
    expect(readFileSync(path).equals(wav)).toBe(true);
    // The SMTP server has the mail before nodemailer's reply reaches hibiki: its log line may come a moment later.
    expect(await waitFor(() => h.logs.some((l) => l.msg === 'voicemail notification mail sent' && l.box === '2001' && l.callId === 'vm-call-1' && l.attached === true))).toBe(true);
  });

  it('retries when the server answers 451 at first, then delivers', async () => {
    const mail = await startSmtp(2);
    const wav = toneWav(500);
    const h = (hibiki = await startHibiki({
      config: { smtp: { host: '127.0.0.1', port: mail.port, starttls: 'opportunistic', tlsVerify: false, from: 'pbx@hibiki.test', retry: { attempts: 5, backoffSeconds: 1 } } },
      mailboxes: withEmail(() => hibiki, true),
    }));
    deposit(h, '2001', wav);
    // Back-off 1 s, then 2 s: the third attempt is accepted.
    expect(await waitFor(() => mail.received.length === 1, 20_000)).toBe(true);
    expect(mail.refused()).toBe(2);
    const warnings = h.logs.filter((l) => l.msg === 'voicemail notification mail not delivered; will retry');
    expect(warnings.map((l) => [l.smtpCode, l.retryInSeconds, l.attempt])).toEqual([
      [451, 1, 1],
      [451, 2, 2],
    ]);
    const parts = mimeParts(mail.received[0]!.raw);
    const attachment = parts.find((p) => (p.headers.get('content-disposition') ?? '').startsWith('attachment'));
    expect(Buffer.from(attachment!.body.replace(/\s+/g, ''), 'base64').equals(wav)).toBe(true);
    expect(await waitFor(() => h.logs.some((l) => l.msg === 'voicemail notification mail sent' && l.attempt === 3))).toBe(true);
  });
});
