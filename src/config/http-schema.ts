// YAML schema of the administration surface (issue #12, F-API, F-WEB, F-EVENTS): where the HTTP API, the
// event stream, /metrics and the web console listen, and their limits. Absent `http:` = no HTTP server.
import { isIP } from 'node:net';
import { z } from 'zod';
import { int } from './schema-kit.js';

export const httpSchema = z
  .object({
    host: z
      .string()
      .refine((h) => isIP(h) !== 0, 'must be an IPv4 or IPv6 address (0.0.0.0 or :: for all)')
      .default('127.0.0.1')
      .describe('Local address of the HTTP API and web console.'),
    port: z.number().int().min(0).max(65535).default(8080).describe('TCP port; 0 picks a free port (tests).'),
    cert: z.string().min(1).optional().describe('PEM certificate file: with `key`, the API and console are served over HTTPS only.'),
    key: z.string().min(1).optional().describe('PEM private key file for `cert`.'),
    loginAttempts: int(3, 1, 100, 'Consecutive failed console/API logins that lock an account (F-WEB).'),
    loginLockMinutes: int(60, 1, 525_600, 'How long a locked console account stays locked (min).'),
    loginFailuresPerAddress: int(
      20,
      1,
      100_000,
      'Failed logins from one source address within a minute (any account name, existing or not) after which its logins get 429 until the minute has passed.',
    ),
    sessionHours: int(12, 1, 8760, 'Lifetime of a console login session (h); API tokens have their own expiry.'),
    eventBuffer: int(1000, 10, 100_000, 'Events kept for clients that reconnect to /api/events with their last sequence number.'),
    eventClientBufferKiB: int(
      1024,
      16,
      1_048_576,
      'Unsent data an /api/events client may fall behind by (KiB); a client that reads slower is disconnected (close code 1013) so it cannot grow memory.',
    ),
    metricsToken: z.string().min(16).optional().describe('When set, GET /metrics requires `Authorization: Bearer <metricsToken>`; unset, /metrics is open to whoever reaches the HTTP port.'),
    csvRowsPerFile: int(40_000, 100, 1_000_000, 'Rows per CDR CSV file; a longer export is split into numbered files.'),
    cdrPageRows: int(1000, 10, 100_000, 'Most CDR rows one GET /api/cdr page returns (limit); larger sets are paged with offset or exported as CSV.'),
    bodyLimitKiB: int(4096, 16, 65_536, 'Largest request body accepted (KiB); larger gets 413. CSV imports count here.'),
  })
  .strict()
  .superRefine((h, ctx) => {
    if ((h.cert === undefined) !== (h.key === undefined)) ctx.addIssue({ code: 'custom', path: [h.cert === undefined ? 'cert' : 'key'], message: 'cert and key go together (HTTPS needs both)' });
  })
  .describe('HTTP API, live events, /metrics and the web console (F-API, F-WEB). Leave out to run without them.');

export type HttpConfig = z.infer<typeof httpSchema>;
