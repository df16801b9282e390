// The tenant's outgoing mail (SMTP) settings, for voicemail e-mail notification (F-VM, issue #10), and
// the message-waiting indication settings (RFC 3842). Kept beside schema.ts, which includes both.
import { z } from 'zod';
import { int } from './schema-kit.js';

const hostPattern = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^[0-9a-fA-F:.]+$/;

export const smtpSchema = z
  .object({
    host: z.string().regex(hostPattern, 'must be a host name or an IP address').describe('SMTP server (the tenant mail relay or submission server).'),
    port: int(587, 1, 65535, 'SMTP port: 587 for submission with STARTTLS, 465 with secure: true, 25 for a relay.'),
    secure: z.boolean().default(false).describe('TLS from the first byte (SMTPS, port 465). false: plain connection, upgraded by STARTTLS as `starttls` says.'),
    starttls: z
      .enum(['required', 'opportunistic', 'off'])
      .default('required')
      .describe('When secure is false: required refuses to send without STARTTLS; opportunistic upgrades when the server offers it; off never upgrades.'),
    tlsVerify: z.boolean().default(true).describe("Verify the server's certificate (turn off only for a relay with a self-signed certificate on a trusted network)."),
    username: z.string().min(1).optional().describe('SMTP AUTH user name; unset: no authentication.'),
    password: z.string().min(1).optional().describe('SMTP AUTH password (with username).'),
    from: z.string().min(3).describe('From address of notification mails, e.g. `"hibiki PBX" <pbx@example.com>`.'),
    timeoutSeconds: int(30, 1, 600, 'Connection, greeting and socket timeout of one delivery attempt (s).'),
    retry: z
      .object({
        attempts: int(6, 1, 100, 'Delivery attempts of one mail before it is given up (logged as an error).'),
        backoffSeconds: int(60, 1, 86_400, 'Wait before the second attempt (s); it doubles after each further failure.'),
        maxBackoffSeconds: int(3600, 1, 86_400, 'Longest wait between two attempts (s).'),
      })
      .strict()
      .prefault({})
      .describe('Retries of a failed delivery. Pending mails are kept in the database and survive a restart.'),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.username === undefined) !== (s.password === undefined)) {
      ctx.addIssue({ code: 'custom', path: [s.username === undefined ? 'username' : 'password'], message: 'username and password go together' });
    }
  })
  .describe('Outgoing mail for voicemail notification (per tenant). Unset: no e-mail is sent.');

export type SmtpConfig = z.infer<typeof smtpSchema>;

export const mwiSchema = z
  .object({
    minExpires: int(60, 1, 86_400, 'Shortest message-summary subscription accepted (s); shorter SUBSCRIBEs get 423 Interval Too Brief.'),
    maxExpires: int(3600, 1, 86_400, 'Longest subscription granted (s); longer requests are cut to this.'),
    defaultExpires: int(3600, 1, 86_400, 'Subscription time granted when the SUBSCRIBE names none (s).'),
    maxSubscriptionsPerExtension: int(10, 1, 1000, 'Message-summary subscriptions one extension may hold; beyond it its oldest one is ended (as registrations are).'),
    unsolicited: z.boolean().default(true).describe('Send message-summary NOTIFYs to registered phones that do not subscribe (after they register and on every change), so desk-phone lamps light.'),
    unsolicitedDelaySeconds: int(2, 0, 60, 'Wait after a new registration before its unsolicited NOTIFY (s): a phone that subscribes does so right after registering, and then gets none.'),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.minExpires > m.maxExpires) ctx.addIssue({ code: 'custom', path: ['minExpires'], message: `minExpires (${m.minExpires}) must not exceed maxExpires (${m.maxExpires})` });
    else if (m.defaultExpires < m.minExpires || m.defaultExpires > m.maxExpires) {
      ctx.addIssue({ code: 'custom', path: ['defaultExpires'], message: `defaultExpires (${m.defaultExpires}) must lie between minExpires (${m.minExpires}) and maxExpires (${m.maxExpires})` });
    }
  })
  .describe('Message-waiting indication (RFC 3842 message-summary): lamps on phones for voicemail boxes.');

export type MwiConfig = z.infer<typeof mwiSchema>;
