// The YAML configuration schema. It is the single source of truth for keys, defaults and limits
// (DESIGN.md "Configuration contract"): every object is strict so a typo is an error, and every
// timer/limit carries a default and a describe() text from which docs/configuration.md is generated.
import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULT_CODES, validateCodes } from '../rules/code-config.js';
import { forwardDestinationVerdict, isParkNumber, type DestinationContext } from '../rules/number-rules.js';
import {
  bulkSetSchema,
  extensionForwardingSchema,
  forwardingSettingsSchema,
  groupSchema,
  numberPatternSchema,
  outboundClasses,
  pickupGroupSchema,
  restrictionsSchema,
  scheduleSchema,
  screeningSchema,
  serviceCodesSchema,
} from './routing-schema.js';
import { mwiSchema, smtpSchema } from './mail-schema.js';
import { checkIvrs, ivrListSchema } from './ivr-schema.js';
import { checkVoicemail, voicemailBoxesSchema, voicemailExtensionFields, voicemailSettingsSchema } from './voicemail-schema.js';

/** Issue params understood by the loader: the path of the other entry in a clash, so both lines can be named. */
export interface ConflictParams {
  conflictWith: (string | number)[];
}

const transports = ['udp', 'tcp', 'tls', 'ws', 'wss'] as const;
const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const digestAlgorithms = ['SHA-256', 'MD5'] as const;

/** F-USER: 2–15 digits, first digit 2–9 (0… and 1… are outside lines and service codes). */
export const extensionNumberPattern = /^[2-9][0-9]{1,14}$/;

const hostnamePattern = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function int(def: number, min: number, max: number, text: string) {
  return z.number().int().min(min).max(max).default(def).describe(text);
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const tenantSchema = z
  .object({
    domain: z.string().regex(hostnamePattern, 'must be a domain name such as pbx.example.com').describe('SIP domain of the tenant; the host part of every extension AOR (sip:2001@domain).'),
    timezone: z.string().refine(isTimeZone, 'unknown IANA time zone').default('Asia/Tokyo').describe('IANA time zone in which schedules and holidays are evaluated.'),
    holidays: z
      .array(z.string().regex(/^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/, 'a holiday is YYYY-MM-DD'))
      .default([])
      .describe('Dates (YYYY-MM-DD) on which schedule rows marked holiday (forwarding) or holidayOnly (IVR) apply.'),
    japaneseHolidays: z
      .boolean()
      .default(true)
      .describe(
        'Japanese public holidays (the @holiday-jp/holiday_jp calendar) count as holidays, besides the holidays listed: in IVR schedules (holidayOnly rows) and forwarding schedules (holiday rows) alike.',
      ),
  })
  .strict()
  .describe('The tenant this server serves.');

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

const listenListSchema = z
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

const dataSchema = z
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

const sipSchema = z
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

const registrarSchema = z
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

const authSchema = z
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
const securitySchema = z
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

const logSchema = z
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

const reloadSchema = z
  .object({
    debounceMs: int(300, 0, 60_000, 'Quiet time after the last change to the file before it is reloaded (ms).'),
  })
  .strict()
  .describe('Reload on file change and SIGHUP (F-RELOAD).');

// YAML turns `number: 2001` into a number; extension numbers are strings of digits.
const extensionNumberSchema = z
  .union([z.string(), z.number().int().nonnegative()], { error: 'must be a string of digits' })
  .transform((v) => String(v))
  .pipe(z.string().regex(extensionNumberPattern, 'extension numbers are 2–15 digits and start with 2–9'));

const mediaSchema = z
  .object({
    engine: z.enum(['builtin']).default('builtin').describe('Media engine: the built-in G.711 RTP engine.'),
    address: z
      .string()
      .refine((h) => isIP(h) !== 0, 'must be an IPv4 or IPv6 address')
      .optional()
      .describe('Address written into SDP (c=); default: the SIP advertised address (127.0.0.1 toward loopback peers, else the first non-internal address).'),
    bindAddress: z
      .string()
      .refine((h) => isIP(h) !== 0, 'must be an IPv4 or IPv6 address')
      .default('0.0.0.0')
      .describe('Local address the RTP sockets bind to.'),
    rtpPorts: z
      .tuple([z.number().int().min(1024).max(65534), z.number().int().min(1025).max(65535)])
      .default([10000, 20000])
      .describe('Inclusive UDP port range for RTP/RTCP pairs (RTP on even ports).'),
    rtpTimeout: int(60, 0, 3600, 'Seconds without RTP from a party in an answered call before the call is ended with Q.850 cause 41; 0 turns it off.'),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.rtpPorts[0] >= m.rtpPorts[1]) ctx.addIssue({ code: 'custom', path: ['rtpPorts'], message: 'rtpPorts must be [min, max] with min < max' });
  })
  .describe('Media (RTP) handling.');

const callsSchema = z
  .object({
    ringTimeout: int(60, 5, 360, 'Default seconds a called extension rings before the call fails as no answer (Q.850 19); an extension may set its own.'),
    sessionExpires: int(1800, 90, 86_400, 'RFC 4028 session interval (s) requested on each leg; refreshes keep calls alive through proxies.'),
    minSE: int(90, 90, 86_400, 'RFC 4028 Min-SE (s): shorter session intervals are answered 422.'),
    maxSessionExpires: int(
      10_800,
      90,
      86_400,
      'Longest RFC 4028 session interval (s) hibiki runs, whatever a peer asks for: a larger Session-Expires or Min-SE from a peer is lowered to it (when it comes in a 2xx, hibiki then refreshes the session itself).',
    ),
    maxForwards: int(70, 1, 255, 'Max-Forwards put on calls hibiki originates; an incoming call with Max-Forwards 0 gets 483.'),
    transferRingTimeout: int(30, 5, 300, 'Seconds a transfer target rings before the call goes back to the transferor (recall).'),
  })
  .strict()
  .superRefine(
    (c, ctx) => {
      if (c.sessionExpires < c.minSE) ctx.addIssue({ code: 'custom', path: ['sessionExpires'], message: `sessionExpires (${c.sessionExpires}) must not be less than minSE (${c.minSE})` });
      if (c.maxSessionExpires < c.sessionExpires) {
        ctx.addIssue({ code: 'custom', path: ['maxSessionExpires'], message: `maxSessionExpires (${c.maxSessionExpires}) must not be less than sessionExpires (${c.sessionExpires})` });
      }
    },
    // A value already out of its own range is reported once, not again against its neighbours.
    { when: (payload) => payload.issues.length === 0 },
  )
  .describe('Call handling defaults.');

const inCallCode = (def: string, text: string) => z.string().default(def).describe(text);

const codesSchema = z
  .object({
    park: inCallCode(DEFAULT_CODES.park, 'In-call code that parks the other party (F-PARK).'),
    blindTransfer: inCallCode(DEFAULT_CODES.blindTransfer, 'In-call code + target + confirm: blind (direct) transfer (F-XFER-BLIND).'),
    attendedTransfer: inCallCode(DEFAULT_CODES.attendedTransfer, 'In-call code + target + confirm: consult transfer (F-XFER-ATTENDED).'),
    dialConfirm: inCallCode(DEFAULT_CODES.dialConfirm, 'Ends transfer-target entry at once (1–3 chars starting with * or #).'),
    dtmfSend: inCallCode(DEFAULT_CODES.dtmfSend, 'Lifts DTMF suppression for the rest of the call (1–3 chars starting with * or #).'),
  })
  .strict()
  .superRefine((codes, ctx) => {
    const { errors } = validateCodes(codes);
    for (const e of errors) ctx.addIssue({ code: 'custom', path: [e.key], message: e.message });
  })
  .describe('In-call feature codes typed on the keypad (F-CODES); park/transfer codes must be prefix-free against each other.');

const dtmfSchema = z
  .object({
    suppress: z
      .boolean()
      .default(true)
      .describe(
        'No digit typed by a local user reaches the far end unless the DTMF-send code was pressed in that call. false: digits are forwarded, except feature codes, which are held back and replayed on mismatch.',
      ),
    featureDigitTimeout: int(1000, 100, 10_000, 'How long (ms) a partly typed feature code waits for its next digit.'),
    transferDigitTimeout: int(4000, 1000, 30_000, 'Silence (ms) that ends transfer-target entry when the dial-confirm code is not pressed.'),
  })
  .strict()
  .describe('DTMF handling in calls (F-CODES).');

const parkSchema = z
  .object({
    slots: z
      .tuple([z.number().int().min(0), z.number().int().min(0)])
      .default([9001, 9020])
      .describe('First and last park slot number (inclusive); dialling a slot retrieves the call parked there.'),
    lot: z
      .string()
      .regex(/^[2-9][0-9]{1,14}$/)
      .default('9000')
      .describe('Lot number: a blind transfer to it parks the call in a free slot.'),
    findSlot: z.enum(['first', 'next']).default('first').describe('first: the lowest free slot; next: the free slot after the one used last.'),
    timeout: int(120, 10, 3600, 'Seconds a call stays parked before it rings back the parker.'),
    comebackTimeout: int(30, 5, 600, 'Seconds the parker is rung back before the call goes to timeoutDestination.'),
    timeoutDestination: z
      .string()
      .regex(/^[0-9*#+]{2,32}$/, 'a number to dial')
      .optional()
      .describe('Number a parked call rings when the parker does not answer the comeback (e.g. an operator or voicemail); unset: the call ends with cause 19.'),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.slots[0] > p.slots[1]) ctx.addIssue({ code: 'custom', path: ['slots'], message: 'slots must be [first, last] with first ≤ last' });
    if (p.slots[1] - p.slots[0] > 999) ctx.addIssue({ code: 'custom', path: ['slots'], message: 'at most 1000 park slots' });
  })
  .describe('Call park (F-PARK).');

const promptsSchema = z
  .object({
    dir: z.string().min(1).optional().describe('Folder with the prompt sets (ja/, en/, tones/); default: the prompts shipped with hibiki.'),
    mohDir: z.string().min(1).optional().describe('Folder of music-on-hold classes (one sub-folder per class, files played in order); default: the shipped moh/.'),
  })
  .strict()
  .describe('Prompts and music on hold (F-AUDIO): 8 kHz mono 16-bit PCM WAV files, validated at start.');

const cdrSchema = z
  .object({
    retentionDays: int(92, 1, 36_500, 'Call-detail records older than this are purged daily.'),
    heartbeatInterval: int(
      10,
      1,
      3600,
      'Seconds between the "server alive" timestamps written to the database. After a crash, the calls that were up are recorded as ended at the last one, so their billsec falls short by at most this much.',
    ),
  })
  .strict()
  .describe('Call-detail records (F-CDR).');

const trunkSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'letters, digits, _ . - (max 40)')
      .describe('Name used by routes and in CDRs.'),
    host: z.string().min(1).describe('Carrier or PBX address (IP or host name).'),
    port: z.number().int().min(1).max(65535).default(5060).describe('Carrier port.'),
    transport: z.enum(['udp', 'tcp', 'tls']).default('udp').describe('Transport toward the carrier.'),
    register: z.boolean().default(false).describe('Register to the carrier with username/password (otherwise IP authentication).'),
    username: z.string().min(1).optional().describe('Account user (From user and REGISTER AOR).'),
    authUsername: z.string().min(1).optional().describe('Digest user name if it differs from username.'),
    password: z.string().min(1).optional().describe('Digest password toward the carrier.'),
    domain: z.string().min(1).optional().describe('Domain of the account AOR; default: host.'),
    expires: int(600, 60, 86_400, 'Registration interval requested from the carrier (s).'),
    channels: int(0, 0, 100_000, 'Concurrent calls allowed over this trunk; over the limit calls get 503 / Q.850 34. 0 = unlimited.'),
    inboundAddresses: z
      .array(z.string().refine((h) => isIP(h) !== 0, 'must be an IP address'))
      .default([])
      .describe("Source addresses whose requests are accepted as coming from this trunk (IP authentication). The host's address is always included when it is an IP."),
    callerId: z
      .string()
      .regex(/^\+?[0-9]{1,20}$/, 'digits, optional leading +')
      .optional()
      .describe('Number presented on calls out of this trunk when neither route nor extension sets one.'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.register && (t.username === undefined || t.password === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['register'], message: 'a registering trunk needs username and password' });
    }
  });

const inboundSchema = z
  .object({
    did: z
      .union([z.string(), z.number().int().nonnegative()])
      .transform((v) => String(v))
      .pipe(z.string().regex(/^(\+?[0-9]{1,20}|\*)$/, 'a DID is digits (optional +) or * for any'))
      .describe('Dialled number as it arrives from the trunk (Request-URI user), or * for any.'),
    trunk: z.string().optional().describe('Only for calls from this trunk (any trunk when unset).'),
    destination: extensionNumberSchema.describe(
      'Extension, group, IVR or shared voicemail box that the DID reaches (an IVR with schedule rows routes by time: open hours → a group, closed → its menu).',
    ),
    blockList: z.array(numberPatternSchema).default([]).describe('Caller numbers refused on this DID (403 / Q.850 21); a trailing * matches a prefix.'),
    rejectAnonymous: z.boolean().default(false).describe('Anonymous callers to this DID hear an announcement and get 433 / Q.850 21.'),
  })
  .strict();

const routeSchema = z
  .object({
    name: z.string().min(1).max(60).describe('Name for logs.'),
    prefix: z
      .string()
      .regex(/^[0-9*#+]{1,20}$/, 'digits, * # +')
      .describe('Dialled numbers starting with this prefix use this route (longest prefix wins).'),
    minLength: int(1, 1, 32, 'Shortest dialled number (with prefix) this route accepts.'),
    maxLength: int(32, 1, 32, 'Longest dialled number (with prefix) this route accepts.'),
    trunk: z.string().min(1).describe('Trunk name.'),
    strip: int(0, 0, 20, 'Leading digits removed before sending.'),
    prepend: z
      .string()
      .regex(/^[0-9*#+]{0,20}$/)
      .default('')
      .describe('Digits added in front after stripping.'),
    callerId: z
      .string()
      .regex(/^\+?[0-9]{1,20}$/, 'digits, optional leading +')
      .optional()
      .describe('Number presented on this route unless the extension sets callerId.'),
  })
  .strict();

const extensionSchema = z
  .object({
    number: extensionNumberSchema.describe('Extension number, also the SIP username.'),
    name: z.string().min(1).describe('Display name (any UTF-8).'),
    password: z.string({ error: 'must be a string (quote it in YAML)' }).min(1, 'must not be empty').describe('SIP digest password. Required: there is no default password.'),
    maxContacts: int(5, 1, 100, 'Simultaneous registrations allowed; the oldest is replaced beyond this.'),
    suspended: z.boolean().default(false).describe('A suspended extension cannot register, call or be called.'),
    ringTimeout: z.number().int().min(5).max(360).optional().describe('Seconds the extension rings before no-answer handling; default calls.ringTimeout (60).'),
    language: z.enum(['ja', 'en']).default('ja').describe('Prompt language.'),
    callWaiting: z.boolean().default(true).describe('Whether a second call rings an extension that is already in a call; false answers it 486 Busy Here.'),
    callerId: z
      .string()
      .regex(/^(\+?[0-9]{1,20}|none)$/, 'must be a phone number (digits, optional leading +) or none')
      .optional()
      .describe("Number presented on external calls; `none` bars external calls. Unset: the route's callerId."),
    moh: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/, 'a music-on-hold class is a folder name: letters, digits, _ and -')
      .default('default')
      .describe('Music-on-hold class the other party hears when this extension holds, parks or transfers a call (F-HOLD).'),
    presentation: z.enum(['present', 'withhold']).default('present').describe('Caller-ID presentation by default (F-CLIR); 184/186 prefixes override it per call.'),
    memo: z.string().optional().describe('Free text for administrators.'),
    dnd: z.boolean().default(false).describe('Do-not-disturb: calls are treated as busy (busy forwarding, else 486). Service codes 1429/1430 change it at run time.'),
    forwarding: extensionForwardingSchema.prefault({}).describe('Call forwarding set by the admin (F-FWD); service codes change it at run time, and an edit here wins over earlier run-time changes.'),
    forwardingSchedule: z.string().optional().describe('Name of a schedule (schedules:) whose matching row overrides the normal forwarding (時間帯転送).'),
    outboundClass: z
      .enum(outboundClasses)
      .default('domestic')
      .describe('internal: extensions only; domestic: plus outside numbers; international: plus international numbers (restrictions.internationalPrefixes).'),
    blockList: z.array(numberPatternSchema).max(30, 'at most 30 blocked numbers per extension').default([]).describe('Caller numbers refused (403 / Q.850 21); a trailing * matches a prefix.'),
    rejectAnonymous: z.boolean().default(false).describe('Calls without a caller number hear an announcement and get 433 Anonymity Disallowed / Q.850 21.'),
    ...voicemailExtensionFields,
  })
  .strict();

const extensionListSchema = z
  .array(extensionSchema)
  .superRefine(
    (list, ctx) => {
      // Runs even when some entries are invalid so that every clash is reported in one pass.
      const seen = new Map<string, number>();
      list.forEach((raw: unknown, i) => {
        if (!isRecord(raw)) return;
        const n = raw.number;
        if (typeof n !== 'string' && typeof n !== 'number') return;
        const num = String(n);
        const first = seen.get(num);
        if (first === undefined) {
          seen.set(num, i);
          return;
        }
        const params: ConflictParams = { conflictWith: ['extensions', first, 'number'] };
        ctx.addIssue({ code: 'custom', path: [i, 'number'], params, message: `extension number ${num} is defined twice` });
      });
    },
    { when: (payload) => Array.isArray(payload.value) },
  )
  .default([])
  .describe('Extensions (F-USER).');

export const configObjectSchema = z
  .object({
    tenant: tenantSchema,
    listen: listenListSchema,
    data: dataSchema.prefault({}),
    sip: sipSchema.prefault({}),
    registrar: registrarSchema.prefault({}),
    auth: authSchema.prefault({}),
    security: securitySchema.prefault({}),
    log: logSchema.prefault({}),
    reload: reloadSchema.prefault({}),
    extensions: extensionListSchema,
    media: mediaSchema.prefault({}),
    calls: callsSchema.prefault({}),
    cdr: cdrSchema.prefault({}),
    codes: codesSchema.prefault({}),
    prompts: promptsSchema.prefault({}),
    park: parkSchema.prefault({}),
    dtmf: dtmfSchema.prefault({}),
    trunks: z.array(trunkSchema).default([]).describe('SIP trunks to carriers or other PBXs (F-TRUNK).'),
    inbound: z.array(inboundSchema).default([]).describe('Inbound DID routing: which extension a number dialled from a trunk rings.'),
    routes: z.array(routeSchema).default([]).describe('Outbound routes: dialled-number prefixes sent to a trunk, with digit manipulation.'),
    groups: z.array(groupSchema).max(4096).default([]).describe('Hunt groups and departments (F-HUNT, F-DEPT): a number that rings its members by a strategy.'),
    pickupGroups: z.array(pickupGroupSchema).max(4096, 'at most 4096 pickup groups').default([]).describe('Pickup groups (F-PICKUP).'),
    forwarding: forwardingSettingsSchema.prefault({}),
    schedules: z.array(scheduleSchema).default([]).describe('Forwarding schedules (時間帯転送, F-FWD), evaluated in tenant.timezone.'),
    bulkForwarding: z.array(bulkSetSchema).default([]).describe('Bulk (disaster) forwarding sets (一括転送), switched with `hibiki bulk on|off NAME`.'),
    screening: screeningSchema.prefault({}),
    restrictions: restrictionsSchema.prefault({}),
    serviceCodes: serviceCodesSchema.prefault({}),
    mwi: mwiSchema.prefault({}),
    smtp: smtpSchema.optional(),
    ivrs: ivrListSchema,
    voicemail: voicemailSettingsSchema.prefault({}),
    voicemailBoxes: voicemailBoxesSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    const trunks = new Set<string>();
    c.trunks.forEach((t, i) => {
      if (trunks.has(t.name)) ctx.addIssue({ code: 'custom', path: ['trunks', i, 'name'], message: `trunk ${t.name} is defined twice` });
      trunks.add(t.name);
    });
    c.routes.forEach((r, i) => {
      if (!trunks.has(r.trunk)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'trunk'], message: `unknown trunk ${r.trunk}` });
      if (r.minLength > r.maxLength) ctx.addIssue({ code: 'custom', path: ['routes', i, 'minLength'], message: 'minLength exceeds maxLength' });
    });
    const exts = new Set(c.extensions.map((e) => e.number));
    // F-USER: numbers are unique across extensions and park slots.
    const lotNumbers = [c.park.lot];
    for (let n = c.park.slots[0]; n <= c.park.slots[1] && n - c.park.slots[0] < 1000; n++) lotNumbers.push(String(n));
    c.extensions.forEach((e, i) => {
      if (lotNumbers.includes(e.number)) ctx.addIssue({ code: 'custom', path: ['extensions', i, 'number'], message: `extension ${e.number} clashes with the park lot or a park slot` });
    });
    // F-USER: group numbers are unique across extensions, groups and park numbers.
    const groupNumbers = new Map<string, number>();
    c.groups.forEach((g, i) => {
      if (exts.has(g.number)) ctx.addIssue({ code: 'custom', path: ['groups', i, 'number'], message: `group ${g.number} clashes with extension ${g.number}` });
      if (lotNumbers.includes(g.number)) ctx.addIssue({ code: 'custom', path: ['groups', i, 'number'], message: `group ${g.number} clashes with the park lot or a park slot` });
      const first = groupNumbers.get(g.number);
      if (first !== undefined) {
        const params: ConflictParams = { conflictWith: ['groups', first, 'number'] };
        ctx.addIssue({ code: 'custom', path: ['groups', i, 'number'], params, message: `group number ${g.number} is defined twice` });
      } else groupNumbers.set(g.number, i);
      const seen = new Set<string>();
      g.members.forEach((m, j) => {
        // Deleting an extension that is still a member is refused (F-USER): remove it from the group first.
        if (!exts.has(m))
          ctx.addIssue({ code: 'custom', path: ['groups', i, 'members', j], message: `group ${g.number} member ${m} is not an extension (remove it from the group when deleting the extension)` });
        if (seen.has(m)) ctx.addIssue({ code: 'custom', path: ['groups', i, 'members', j], message: `${m} is listed twice in group ${g.number}` });
        seen.add(m);
      });
    });
    const pickupNumbers = new Map<string, number>();
    c.pickupGroups.forEach((g, i) => {
      const first = pickupNumbers.get(g.number);
      if (first !== undefined) {
        const params: ConflictParams = { conflictWith: ['pickupGroups', first, 'number'] };
        ctx.addIssue({ code: 'custom', path: ['pickupGroups', i, 'number'], params, message: `pickup group ${g.number} is defined twice` });
      } else pickupNumbers.set(g.number, i);
      g.members.forEach((m, j) => {
        if (!exts.has(m))
          ctx.addIssue({
            code: 'custom',
            path: ['pickupGroups', i, 'members', j],
            message: `pickup group ${g.number} member ${m} is not an extension (remove it from the group when deleting the extension)`,
          });
      });
    });
    // F-FWD destination rules see the dial plan as the router does: extensions and groups are local, park
    // numbers are no destination, anything else needs an outbound route, and 184/186 would be stripped.
    const ivrNumbers = new Set(c.ivrs.map((v) => v.number));
    const boxNumbers = new Set(c.voicemailBoxes.map((b) => b.number));
    const destinations: DestinationContext = {
      isLocal: (n) => exts.has(n) || groupNumbers.has(n) || ivrNumbers.has(n) || boxNumbers.has(n),
      isParkNumber: (n) => isParkNumber(n, c.park),
      routes: c.routes,
      callPrefixes: { withhold: c.serviceCodes.withhold, present: c.serviceCodes.present },
      isMailbox: (n) => c.extensions.some((e) => e.number === n && e.voicemail) || c.voicemailBoxes.some((b) => b.number === n),
    };
    checkVoicemail({ ...c, groupNumbers: groupNumbers.keys(), lotNumbers }, ctx);
    c.groups.forEach((g, i) => {
      const dest = g.noAnswerDestination;
      if (dest === undefined) return;
      const path = ['groups', i, 'noAnswerDestination'];
      if (dest === g.number) {
        ctx.addIssue({ code: 'custom', path, message: `group ${g.number} cannot send its unanswered calls to itself` });
        return;
      }
      // A group has no outbound class of its own: the admin chose the number, so only the tenant rules apply.
      const v = forwardDestinationVerdict(dest, { number: g.number, outboundClass: 'international' }, c.restrictions, destinations);
      if (!v.ok) ctx.addIssue({ code: 'custom', path, message: v.reason });
    });
    const schedules = new Set<string>();
    c.schedules.forEach((s, i) => {
      if (schedules.has(s.name)) ctx.addIssue({ code: 'custom', path: ['schedules', i, 'name'], message: `schedule ${s.name} is defined twice` });
      schedules.add(s.name);
    });
    c.extensions.forEach((e, i) => {
      if (e.forwardingSchedule !== undefined && !schedules.has(e.forwardingSchedule)) {
        ctx.addIssue({ code: 'custom', path: ['extensions', i, 'forwardingSchedule'], message: `unknown schedule ${e.forwardingSchedule}` });
      }
      const f = e.forwarding;
      const named: Array<[string, string | undefined]> = [
        ['unconditional', f.unconditional],
        ['busy', f.busy],
        ['noAnswer', f.noAnswer],
        ['unreachable', f.unreachable],
      ];
      for (const [key, dest] of named) {
        if (dest === undefined) continue;
        const v = forwardDestinationVerdict(dest, e, c.restrictions, destinations);
        if (!v.ok) ctx.addIssue({ code: 'custom', path: ['extensions', i, 'forwarding', key], message: v.reason });
      }
    });
    const bulkNames = new Set<string>();
    c.bulkForwarding.forEach((b, i) => {
      if (bulkNames.has(b.name)) ctx.addIssue({ code: 'custom', path: ['bulkForwarding', i, 'name'], message: `bulk-forwarding set ${b.name} is defined twice` });
      bulkNames.add(b.name);
      b.members.forEach((m, j) => {
        if (m.extension !== undefined && !exts.has(m.extension)) ctx.addIssue({ code: 'custom', path: ['bulkForwarding', i, 'members', j, 'extension'], message: `unknown extension ${m.extension}` });
      });
    });
    // F-DIALPLAN: service codes are prefix-free against every local number.
    for (const [key, code] of Object.entries(c.serviceCodes)) {
      for (const n of [...exts, ...groupNumbers.keys(), ...lotNumbers]) {
        if (n.startsWith(code) || code.startsWith(n)) {
          ctx.addIssue({ code: 'custom', path: ['serviceCodes', key], message: `service code ${code} overlaps number ${n}` });
          break;
        }
      }
    }
    c.inbound.forEach((d, i) => {
      // A DID may also reach an IVR, or a shared voicemail box directly (a number that only takes messages).
      if (!exts.has(d.destination) && !groupNumbers.has(d.destination) && !ivrNumbers.has(d.destination) && !boxNumbers.has(d.destination)) {
        ctx.addIssue({ code: 'custom', path: ['inbound', i, 'destination'], message: `unknown extension, group, IVR or voicemail box ${d.destination}` });
      }
      if (d.trunk !== undefined && !trunks.has(d.trunk)) ctx.addIssue({ code: 'custom', path: ['inbound', i, 'trunk'], message: `unknown trunk ${d.trunk}` });
    });
    checkIvrs(
      {
        ivrs: c.ivrs,
        extensions: c.extensions,
        groupNumbers: new Set(groupNumbers.keys()),
        lotNumbers,
        boxNumbers,
        voicemailPilot: c.voicemail.pilot,
        serviceCodes: c.serviceCodes,
        routes: c.routes,
        restrictions: c.restrictions,
        destinations,
      },
      ctx,
    );
    // F-DIALPLAN: a route prefix that starts like an extension number would make that extension unreachable.
    c.routes.forEach((r, i) => {
      for (const e of [...exts, ...groupNumbers.keys(), ...c.voicemailBoxes.map((b) => b.number)]) {
        if (e.startsWith(r.prefix) && e.length >= r.minLength && e.length <= r.maxLength) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'prefix'], message: `route prefix ${r.prefix} overlaps local number ${e}` });
          break;
        }
      }
    });
  });

/** The whole file. Output has auth.realm filled in from tenant.domain when not given. */
export const configSchema = configObjectSchema.transform((c) => ({
  ...c,
  auth: { ...c.auth, realm: c.auth.realm ?? c.tenant.domain },
}));

export type HibikiConfig = z.infer<typeof configSchema>;
export type ExtensionConfig = HibikiConfig['extensions'][number];
export type ListenConfig = HibikiConfig['listen'][number];
