// YAML schema of the server's own settings: where it listens and keeps its data, the SIP stack's timers
// and limits, the registrar, authentication, security, logging and reload (see docs/configuration.md).
import { isIP } from 'node:net';
import { z } from 'zod';
import { int, isRecord, type ConflictParams } from './schema-kit.js';

export const transports = ['udp', 'tcp', 'tls', 'ws', 'wss'] as const;
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const digestAlgorithms = ['SHA-256', 'MD5'] as const;
export const hostnamePattern = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const listenSchema = z
  .object({
    transport: z.enum(transports).describe('udp, tcp, tls, ws or wss (RFC 7118).'),
    host: z
      .string()
      .refine((h) => isIP(h) !== 0, 'must be an IPv4 or IPv6 address (0.0.0.0 or :: for all)')
      .default('0.0.0.0')
      .describe('Local address to bind.'),
    port: z.number().int().min(0).max(65535).describe('Local port; 0 picks a free port (tests).'),
    cert: z.string().min(1).optional().describe('PEM certificate file (tls and wss only), relative to the working directory.'),
    key: z.string().min(1).optional().describe('PEM private key file (tls and wss only), relative to the working directory.'),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.transport !== 'tls' && l.transport !== 'wss') return;
    for (const k of ['cert', 'key'] as const) {
      if (l[k] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: `${l.transport} needs ${k} (a PEM file path)` });
    }
  });

export const listenListSchema = z
  .array(listenSchema)
  .min(1, 'at least one listen address is needed')
  .superRefine(
    (list, ctx) => {
      // Runs even when some entries are invalid so that every clash is reported in one pass.
      const seen = new Map<string, number>();
      list.forEach((raw: unknown, i) => {
        if (!isRecord(raw) || typeof raw.transport !== 'string' || typeof raw.port !== 'number') return;
        const host = typeof raw.host === 'string' ? raw.host : '0.0.0.0';
        const key = `${raw.transport} ${host} ${raw.port}`;
        const first = seen.get(key);
        if (first === undefined) {
          seen.set(key, i);
          return;
        }
        const params: ConflictParams = { conflictWith: ['listen', first] };
        ctx.addIssue({ code: 'custom', path: [i], params, message: `duplicate listen address ${raw.transport} ${host}:${raw.port}` });
      });
    },
    { when: (payload) => Array.isArray(payload.value) },
  )
  .describe('Listening sockets. Several entries of one transport may bind different addresses (IPv4 and IPv6).');

export const dataSchema = z
  .object({
    dir: z
      .string()
      .min(1)
      .default('./data')
      .describe(
        'Directory for the SQLite database, voicemail and recordings. A relative path is resolved against the working directory of the process (the repository root under `npm start`), not against this file.',
      ),
  })
  .strict()
  .describe('Where runtime state is stored.');

export const sipSchema = z
  .object({
    t1: int(500, 1, 60_000, 'RFC 3261 T1, RTT estimate (ms).'),
    t2: int(4000, 1, 600_000, 'RFC 3261 T2, maximum retransmit interval for non-INVITE requests and INVITE responses (ms).'),
    t4: int(5000, 0, 600_000, 'RFC 3261 T4, maximum time a message stays in the network (ms).'),
    userAgent: z
      .string()
      .max(200)
      // A line break would end the header and let the value inject others.
      // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
      .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'must not contain control characters (line breaks, tabs)')
      .default('hibiki')
      .describe(
        'Value of the Server header of every response and the User-Agent header of every request hibiki sends. The default names no version, so as not to tell scanners which fixes are missing; an empty string leaves both headers out.',
      ),
    maxMessageBytes: int(65535, 1024, 1_048_576, 'Largest SIP message accepted; larger ones are dropped (UDP) or answered 513 (stream).'),
    // Stream (TCP/TLS/WS/WSS) connection bounds: one peer must not be able to take every slot.
    tcpIdleTimeout: int(
      3600,
      1,
      86_400,
      'Seconds without traffic after which a TCP/TLS/WS connection that has carried a registration or a dialog (or that hibiki opened) is closed. Never while a registration, dialog or ringing INVITE still uses it.',
    ),
    tcpUnprovenIdleTimeout: int(
      30,
      1,
      86_400,
      'Seconds without a SIP message after which a TCP/TLS/WS connection that has not yet carried a registration or a dialog is closed (keep-alives do not count). A phone registers within a second of connecting.',
    ),
    tcpMessageTimeout: int(
      20,
      1,
      3600,
      'Seconds in which a whole SIP message must arrive on a TCP/TLS/WS connection once its first byte has; otherwise the connection is closed (slow-send defence). Keep-alive CRLFs do not start it.',
    ),
    tcpHandshakeTimeout: int(10, 1, 3600, 'Seconds from accept in which a TLS handshake, a WebSocket upgrade, or both (WSS) must complete; otherwise the connection is closed.'),
    maxConnections: int(10_000, 1, 1_000_000, 'Maximum simultaneous TCP/TLS/WS connections, counted from accept (handshakes in progress included); further ones are reset.'),
    maxConnectionsPerAddress: int(
      500,
      1,
      1_000_000,
      'Maximum simultaneous inbound TCP/TLS/WS connections from one IPv4 address or one IPv6 /64; further ones are reset at once. A device holds one (briefly two while reconnecting), so an office of a few hundred phones behind one NAT address fits, while one address can hold at most 5% of the default maxConnections.',
    ),
    connectionReportInterval: int(
      60,
      1,
      86_400,
      'Seconds over which refused connections and connections cut by tcpMessageTimeout/tcpHandshakeTimeout are summarised in one security log line (the first is logged at once; each is logged at debug).',
    ),
    maxServerTransactions: int(
      100_000,
      0,
      10_000_000,
      'Server transactions kept in memory at most (a completed one lives 32 s over UDP, ≈ 2.5 KB each). Beyond it new out-of-dialog requests get a stateless 503 with Retry-After until the table is back under 90 %; in-dialog requests and CANCELs for calls in progress are still served. 0 = no limit.',
    ),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.t2 < s.t1) ctx.addIssue({ code: 'custom', path: ['t2'], message: `t2 (${s.t2}) must not be less than t1 (${s.t1})` });
  })
  .describe('SIP stack timers and limits.');

export const registrarSchema = z
  .object({
    minExpires: int(60, 1, 86_400, 'Shortest registration accepted (s); shorter requests get 423 Interval Too Brief.'),
    maxExpires: int(3600, 1, 604_800, 'Longest registration granted (s); longer requests are cut to this.'),
    defaultExpires: int(600, 1, 604_800, 'Registration time granted when the request names none (s).'),
    qualifyInterval: int(30, 0, 3600, 'Seconds between OPTIONS keep-alives to each contact; 0 turns qualify off.'),
    qualifyMaxMissed: int(3, 1, 100, 'Unanswered keep-alives after which a contact is marked unreachable.'),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.minExpires > r.maxExpires) {
      ctx.addIssue({ code: 'custom', path: ['minExpires'], message: `minExpires (${r.minExpires}) must not exceed maxExpires (${r.maxExpires})` });
      return;
    }
    if (r.defaultExpires < r.minExpires || r.defaultExpires > r.maxExpires) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultExpires'],
        message: `defaultExpires (${r.defaultExpires}) must lie between minExpires (${r.minExpires}) and maxExpires (${r.maxExpires})`,
      });
    }
  })
  .describe('Registrar (F-REG).');

export const authSchema = z
  .object({
    realm: z.string().min(1).optional().describe('Digest realm; defaults to tenant.domain.'),
    algorithms: z
      .array(z.enum(digestAlgorithms))
      .min(1, 'at least one algorithm is needed')
      .refine((a) => new Set(a).size === a.length, 'an algorithm is listed twice')
      .default(['MD5'])
      .describe(
        'Digest algorithms offered (RFC 8760), one challenge each, in this order. Default MD5 only: sipp 3.6 cannot answer a 401 with two challenges, SIP.js 0.21 reads only the last one and knows only MD5, and baresip 1.0 gives up on any 401 that contains a SHA-256 challenge. Use [SHA-256, MD5] or [SHA-256] when every device supports SHA-256.',
      ),
    nonceExpires: int(300, 10, 86_400, 'Seconds a nonce stays valid; older ones are rechallenged with stale=true.'),
    lockoutAttempts: int(
      3,
      0,
      1000,
      'Failed attempts for one username from one source address that lock that username for that address only (counted until a success from there, or lockoutMinutes without a failure); 0 turns this lock off.',
    ),
    lockoutMinutes: int(60, 1, 525_600, 'How long a locked username stays locked (min); also how long failed attempts are remembered.'),
    lockoutAddresses: int(
      3,
      0,
      1000,
      'Different source addresses with failed attempts for one username (each remembered lockoutMinutes) that lock that username for every address; 0 never locks a username everywhere. No username lock refuses a device with a live registration from the same address and transport.',
    ),
    ipFailures: int(20, 0, 100_000, 'Failures from one source IP within ipWindowSeconds that block it; 0 turns IP blocking off.'),
    ipWindowSeconds: int(60, 1, 86_400, 'Window over which failures per source IP are counted (s).'),
    ipBlockMinutes: int(60, 1, 525_600, 'How long a blocked source IP stays blocked (min).'),
  })
  .strict()
  .describe('Digest authentication and lockout (F-AUTH).');

/** An IP address or a CIDR block (192.0.2.0/24, 2001:db8::/32). */
function isAddressOrBlock(entry: string): boolean {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
}

// Issue #14: flood and overload protection. Defaults sized for a site of ~100 phones behind one NAT
// address (README, "Flood and overload protection").
export const securitySchema = z
  .object({
    trustedAddresses: z
      .array(z.string().refine(isAddressOrBlock, 'must be an IP address or a CIDR block such as 192.0.2.0/24'))
      .default([])
      .describe('Sources never rate-limited: IP addresses or CIDR blocks (an office NAT address, a monitoring host). Trunk addresses are always trusted.'),
    rateLimit: z
      .object({
        windowSeconds: int(10, 1, 3600, 'Window over which requests are counted per source address (IPv6: per /64).'),
        maxRequests: int(
          3000,
          0,
          10_000_000,
          'Requests one source may send in a window; more blocks it, and everything it sends is then dropped unanswered (a closed connection for TCP/TLS/WS). 0 turns the limit off.',
        ),
        blockSeconds: int(60, 1, 86_400, 'How long a blocked source stays blocked after its last window over the limit (s).'),
      })
      .strict()
      .prefault({})
      .describe('Per-source request-rate limit with a block (like Kamailio pike). Responses are not counted.'),
    overload: z
      .object({
        sampleMs: int(250, 50, 10_000, 'How often load is sampled and the share of refused requests adjusted (ms).'),
        maxLoopUtilization: int(90, 0, 100, 'Event-loop utilization (%) above which new out-of-dialog INVITEs and REGISTERs start to be refused; 0 ignores it.'),
        maxLoopDelayMs: int(
          150,
          0,
          60_000,
          'Mean event-loop delay (ms, averaged over smoothingMs) above which they start to be refused; 0 ignores it. Well under the 500 ms after which SIP clients retransmit: a short stall (a garbage collection, a database checkpoint) delays answers without being overload.',
        ),
        maxQueueDelayMs: int(
          50,
          0,
          60_000,
          'How long a datagram waits in the UDP receive queue before it is read (ms, measured with a probe datagram every sampleMs; the lower of two consecutive samples, so a lone stall counts for nothing, and the same with smoothingMs 0 as each sample) above which they start to be refused; 0 ignores it. The backlog a busy loop cannot show: a tenth of the 500 ms after which SIP clients retransmit, since at twice capacity the queue grows by about 60 ms every sample.',
        ),
        maxPendingInvites: int(2000, 0, 1_000_000, 'INVITEs still waiting for their final response above which they start to be refused; 0 ignores it.'),
        retryAfterSeconds: int(5, 1, 3600, 'Retry-After of a 503 for overload or the transaction limit; a random 0–50 % is added so refused phones do not return together.'),
        smoothingMs: int(
          1000,
          0,
          60_000,
          'Window over which utilization and delay are averaged before they are compared with the limits (ms): a lone garbage-collection pause must not refuse calls; sustained overload is shed within about two windows. 0 reacts to every sample.',
        ),
      })
      .strict()
      .prefault({})
      .describe(
        'Overload shedding: new out-of-dialog INVITEs and REGISTERs are refused with a stateless 503 in the share needed to keep load under the limits, or dropped unanswered while refusing alone is not enough. In-dialog requests and ACKs are never shed.',
      ),
  })
  .strict()
  .describe('Flood and overload protection (issue #14).');

export const logSchema = z
  .object({
    level: z.enum(logLevels).default('info').describe('pino log level.'),
    statsInterval: int(
      60,
      0,
      86_400,
      'Seconds between "process stats" lines (info level: rss, heapUsed, external, open fds, active calls, bindings, transactions, dialogs, connections); 0 turns them off.',
    ),
  })
  .strict()
  .describe('Logging.');

export const reloadSchema = z
  .object({
    debounceMs: int(300, 0, 60_000, 'Quiet time after the last change to the file before it is reloaded (ms).'),
  })
  .strict()
  .describe('Reload on file change and SIGHUP (F-RELOAD).');

// YAML turns `number: 2001` into a number; extension numbers are strings of digits.
