// YAML schema of call handling: the media engine, call timers and limits, in-call codes and DTMF, the park
// lot, prompts, and call-detail records (see docs/configuration.md).
import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULT_CODES, validateCodes } from '../rules/code-config.js';
import { readNgAddress } from './ng-address.js';
import { int } from './schema-kit.js';

const ipAddress = z.string().refine((h) => isIP(h) !== 0, 'must be an IPv4 or IPv6 address');

export const rtpengineSchema = z
  .object({
    ng: z
      .string()
      .refine((text) => readNgAddress(text) !== undefined, 'must be IP:port (or [IPv6]:port) with a port from 1 to 65535')
      .default('127.0.0.1:22222')
      .describe("rtpengine's ng control socket (UDP)."),
    launch: z.boolean().default(false).describe('Start and supervise a local rtpengine (Debian package rtpengine-daemon) with a config file hibiki writes; false: use one already running at `ng`.'),
    binary: z.string().min(1).default('rtpengine').describe('The rtpengine program hibiki launches.'),
    interface: ipAddress.default('127.0.0.1').describe('Address a launched rtpengine relays media on (and writes into SDP).'),
    advertise: ipAddress.optional().describe('Address a launched rtpengine writes into SDP instead of `interface` (behind 1:1 NAT).'),
    ports: z
      .tuple([z.number().int().min(1024).max(65534), z.number().int().min(1025).max(65535)])
      .default([30000, 39999])
      .describe('Inclusive UDP port range of a launched rtpengine (keep it apart from media.rtpPorts).'),
    kernel: z.boolean().default(false).describe('Kernel forwarding in a launched rtpengine (table 0; needs the xt_RTPENGINE module, falls back to userspace without it); false: userspace (table -1).'),
    timeoutMs: int(500, 50, 10_000, 'Milliseconds one ng request waits for its reply before it is resent.'),
    retries: int(2, 0, 10, 'Resends of an ng request before rtpengine counts as down (new calls that need it get 503, cause 41).'),
    checkInterval: int(
      5,
      1,
      300,
      'Seconds between checks that rtpengine answers and still holds our calls: new calls that need it are refused from the first check without an answer, the calls through it end (cause 41) at the second in a row, and calls a restarted rtpengine forgot end at once.',
    ),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.ports[0] >= r.ports[1]) ctx.addIssue({ code: 'custom', path: ['ports'], message: 'ports must be [min, max] with min < max' });
  })
  .describe('rtpengine (Debian rtpengine-daemon) as the media relay for WebRTC legs (mixed) or every leg.');

/** Upper bound of media.workers: past this, more threads only add memory (an isolate each) and switching. */
export const MAX_MEDIA_WORKERS = 16;
/** media.workers auto stops here: leaves room for the main thread (SIP) on the machines hibiki targets. */
export const AUTO_MEDIA_WORKERS_CAP = 4;

export const mediaSchema = z
  .object({
    engine: z
      .enum(['builtin', 'mixed', 'rtpengine'])
      .optional()
      .describe(
        'Media engine: builtin (G.711 RTP in a worker thread), mixed (rtpengine in front of WebRTC legs only, the built-in engine for plain RTP legs; the default when media.rtpengine is set) or rtpengine (every leg through rtpengine).',
      ),
    rtpengine: rtpengineSchema.optional(),
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
    udpIo: z
      .enum(['native', 'dgram'])
      .default('native')
      .describe(
        "RTP socket I/O of the built-in engine: native (the addon built at npm ci: recvmmsg batches, no per-packet allocation; falls back to node:dgram, logged at start, when it is not built) or dgram (Node's dgram sockets). Both take a scoped IPv6 link-local media address (`fe80::1%eth0` or `%index`) and give a link-local source with its scope. The environment variable HIBIKI_MEDIA_UDP_IO=native|dgram overrides it (tests, benchmarks).",
      ),
    workers: z
      .union([z.literal('auto'), z.number().int().min(1).max(MAX_MEDIA_WORKERS)])
      .default('auto')
      .describe(
        `Worker threads of the built-in media engine (1–${MAX_MEDIA_WORKERS}), each with its own RTP sockets and an even share of rtpPorts; the two legs of a call share one. auto: one per CPU core up to ${AUTO_MEDIA_WORKERS_CAP} (the main thread needs a core for SIP, and more threads than cores only add switching).`,
      ),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.rtpPorts[0] >= m.rtpPorts[1]) ctx.addIssue({ code: 'custom', path: ['rtpPorts'], message: 'rtpPorts must be [min, max] with min < max' });
    if ((m.engine === 'mixed' || m.engine === 'rtpengine') && m.rtpengine === undefined) {
      ctx.addIssue({ code: 'custom', path: ['rtpengine'], message: `engine ${m.engine} needs media.rtpengine (at least its ng address)` });
    }
  })
  .transform((m) => ({ ...m, engine: m.engine ?? (m.rtpengine ? 'mixed' : 'builtin') }))
  .describe('Media (RTP) handling.');

export const callsSchema = z
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

export const codesSchema = z
  .object({
    park: inCallCode(DEFAULT_CODES.park, 'In-call code that parks the other party (F-PARK).'),
    blindTransfer: inCallCode(DEFAULT_CODES.blindTransfer, 'In-call code + target + confirm: blind (direct) transfer (F-XFER-BLIND).'),
    attendedTransfer: inCallCode(DEFAULT_CODES.attendedTransfer, 'In-call code + target + confirm: consult transfer (F-XFER-ATTENDED).'),
    dialConfirm: inCallCode(DEFAULT_CODES.dialConfirm, 'Ends transfer-target entry at once (1–3 chars starting with * or #).'),
    dtmfSend: inCallCode(DEFAULT_CODES.dtmfSend, 'Lifts DTMF suppression for the rest of the call (1–3 chars starting with * or #).'),
    record: inCallCode(DEFAULT_CODES.record, 'In-call code that starts / stops recording the call where recording is on-demand (F-CDR recording).'),
  })
  .strict()
  .superRefine((codes, ctx) => {
    const { errors } = validateCodes(codes);
    for (const e of errors) ctx.addIssue({ code: 'custom', path: [e.key], message: e.message });
  })
  .describe('In-call feature codes typed on the keypad (F-CODES); park, transfer, DTMF-send and record codes must be prefix-free against each other.');

export const dtmfSchema = z
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

export const parkSchema = z
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

export const promptsSchema = z
  .object({
    dir: z.string().min(1).optional().describe('Folder with the prompt sets (ja/, en/, tones/); default: the prompts shipped with hibiki.'),
    mohDir: z.string().min(1).optional().describe('Folder of music-on-hold classes (one sub-folder per class, files played in order); default: the shipped moh/.'),
  })
  .strict()
  .describe('Prompts and music on hold (F-AUDIO): 8 kHz mono 16-bit PCM WAV files, validated at start.');

export const cdrSchema = z
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
