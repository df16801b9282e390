// A real SMTP server for tests (npm smtp-server) on loopback, offering STARTTLS with a self-signed
// certificate, that keeps every mail it is given; and the small MIME reading the tests need.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createSelfSignedCert, removeCert } from './tls-cert.js';

export interface Received {
  raw: string;
  from: string | undefined;
  to: string[];
  /** The session was upgraded by STARTTLS before the mail was given. */
  secure: boolean;
}

export interface SmtpSink {
  port: number;
  received: Received[];
  /** How many recipients were refused with 451 so far. */
  refused: () => number;
  close: () => Promise<void>;
}

/** A real SMTP server on loopback offering STARTTLS; it refuses the first `refusals` recipients with 451. */
export async function startSmtpSink(refusals = 0): Promise<SmtpSink> {
  const c = await createSelfSignedCert();
  const received: Received[] = [];
  let refused = 0;
  const server = new SMTPServer({
    key: readFileSync(c.keyPath),
    cert: readFileSync(c.certPath),
    authOptional: true,
    logger: false,
    onRcptTo(_address, _session, cb) {
      if (refused < refusals) {
        refused++;
        cb(Object.assign(new Error('Mailbox busy, try again later'), { responseCode: 451 }));
        return;
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('end', () => {
        received.push({
          raw: Buffer.concat(chunks).toString('latin1'),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
        });
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.server.address() as AddressInfo).port,
    received,
    refused: () => refused,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await removeCert(c);
    },
  };
}

/** The parts of a multipart MIME message: each part's headers (lower-cased names) and body. */
export function mimeParts(raw: string): Array<{ headers: Map<string, string>; body: string }> {
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(raw)?.[1];
  if (!boundary) throw new Error(`not a multipart message:\n${raw.slice(0, 2000)}`);
  const parts = raw.split(`--${boundary}`).slice(1, -1);
  return parts.map((p) => {
    const text = p.replace(/^\r\n/, '');
    const split = text.indexOf('\r\n\r\n');
    const headers = new Map<string, string>();
    for (const line of text
      .slice(0, split)
      .replace(/\r\n[ \t]+/g, ' ')
      .split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    return { headers, body: text.slice(split + 4) };
  });
}

export function decodeHeader(value: string): string {
  // RFC 2047 encoded words, as nodemailer writes non-ASCII subjects.
  return value.replace(/=\?UTF-8\?([BQ])\?([^?]*)\?=\s*/gi, (_m, enc: string, text: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(
          text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))),
          'latin1',
        ).toString('utf8'),
  );
}
