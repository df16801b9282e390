// @ts-check
// The valid (and famously invalid) messages the fuzzer starts from: the project's own fixtures
// (test/fixtures/sip, test/fixtures/torture), the RFC 4475 torture messages when ../shared is
// present, and generated requests and responses of every method hibiki handles, with bodies.
//
// Generated messages of neighbouring indexes share a "group" (a Call-ID, a From tag, an INVITE
// branch), so a CANCEL, an ACK or a BYE can meet the INVITE transaction of an earlier message and
// the fuzzer reaches transaction matching, not only the parser.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * @typedef {import('./random.mjs').Rand} Rand
 *
 * @typedef {object} BuildContext
 * @property {string} sentBy   the fuzzer socket's address:port, put in the top Via so answers come back
 * @property {'UDP' | 'TCP'} transport
 * @property {string} domain   hibiki's tenant domain
 * @property {readonly string[]} users  extension numbers the messages name (never the liveness user)
 * @property {number} seed
 * @property {number} group    messages of one group share Call-ID, tags and the INVITE branch
 * @property {Rand} rand
 * @property {(callId: string) => string | undefined} [learnedTag]  the To tag hibiki gave this Call-ID's
 *   INVITE, when the driver saw its answer: in-dialog requests then reach a real dialog
 *
 * @typedef {object} CorpusEntry
 * @property {string} name
 * @property {(ctx: BuildContext) => Buffer} build
 * @property {number} [weight]  how often it is picked relative to the others (default 1)
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Message groups: how many consecutive message indexes share a Call-ID. */
export const GROUP_SIZE = 8;

/** Our fixtures are stored with LF line ends; every LF is CRLF on the wire. */
function crlfBytes(/** @type {Buffer} */ raw) {
  /** @type {Buffer[]} */
  const parts = [];
  let from = 0;
  for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) {
    parts.push(raw.subarray(from, i), Buffer.from('\r\n'));
    from = i + 1;
  }
  parts.push(raw.subarray(from));
  return Buffer.concat(parts);
}

const TOP_VIA = /^((?:via|v)[ \t]*:[ \t]*SIP[ \t]*\/[ \t]*2\.0[ \t]*\/[ \t]*)([A-Za-z]+)([ \t]+)([^;,\s]+)([^\r\n]*)/im;

/**
 * Points the top Via's sent-by at the fuzzer's socket and adds rport, so hibiki's answers come back
 * to it rather than to the hosts the fixtures name (RFC 3261 §18.2.2 sends a UDP answer to the
 * source address at the Via's port; without this it would be port 5060 of the fuzzer's address).
 * A Via that does not look like one is left alone: that message is about its Via.
 * @param {Buffer} message
 * @param {BuildContext} ctx
 */
export function aimTopVia(message, ctx) {
  const text = message.toString('latin1');
  const headEnd = text.search(/\r?\n\r?\n/);
  const head = headEnd < 0 ? text : text.slice(0, headEnd);
  const m = TOP_VIA.exec(head);
  if (!m) return message;
  const rest = m[5] ?? '';
  const rport = /;\s*rport\b/i.test(rest) ? '' : ';rport';
  const line = `${m[1]}${ctx.transport}${m[3]}${ctx.sentBy}${rport}${rest}`;
  return Buffer.from(text.slice(0, m.index) + line + text.slice(m.index + m[0].length), 'latin1');
}

/**
 * @param {string} dir
 * @param {string} ext
 * @param {boolean} crlf
 * @returns {CorpusEntry[]}
 */
function filesIn(dir, ext, crlf) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => {
      const raw = readFileSync(dir + f);
      const bytes = crlf ? crlfBytes(raw) : raw;
      return { name: `${dir.split('/').filter(Boolean).at(-1)}/${f}`, build: (/** @type {BuildContext} */ ctx) => aimTopVia(bytes, ctx) };
    });
}

/** test/fixtures/sip, test/fixtures/torture and, when present, ../shared/corpus/rfc4475. */
export function fileCorpus() {
  return [
    ...filesIn(`${ROOT}test/fixtures/sip/`, '.sip', true),
    ...filesIn(`${ROOT}test/fixtures/torture/`, '.sip', true),
    // Read where it lies, never copied into the project (it is the RFC's data).
    ...filesIn(`${ROOT}../shared/corpus/rfc4475/`, '.dat', false),
  ];
}

// ---- generated messages ---------------------------------------------------------------------

/** @param {BuildContext} ctx @param {number} group */
function callIdOf(ctx, group) {
  return `fz-${ctx.seed.toString(36)}g${group}@fuzz.invalid`;
}

/**
 * Call-ID, tags and INVITE branch of the message's group. An in-dialog request (`dialog`) takes
 * those of a recent earlier group whose INVITE hibiki answered, when the driver learned one: the
 * answer to an INVITE comes back after the rest of its own group has gone out.
 * @param {BuildContext} ctx
 * @param {{ dialog?: boolean }} [opts]
 */
function ids(ctx, opts = {}) {
  let group = ctx.group;
  let learned;
  if (opts.dialog && ctx.learnedTag) {
    for (let back = 0; back < 6 && learned === undefined; back++) {
      const candidate = back === 0 ? ctx.group : ctx.group - ctx.rand.int(1, 40);
      learned = candidate >= 0 ? ctx.learnedTag(callIdOf(ctx, candidate)) : undefined;
      if (learned !== undefined) group = candidate;
    }
  }
  const g = `${ctx.seed.toString(36)}g${group}`;
  return {
    callId: callIdOf(ctx, group),
    fromTag: `ft${g}`,
    toTag: learned ?? `tt${g}`,
    inviteBranch: `z9hG4bKfz${g}i`,
    user: ctx.users[group % ctx.users.length] ?? '2001',
  };
}

/** @param {BuildContext} ctx @param {string} body */
function sdp(ctx, body = '') {
  const host = ctx.sentBy.replace(/:\d+$/, '');
  return (
    [
      'v=0',
      `o=fuzz ${ctx.group} ${ctx.rand.int(1, 9)} IN IP4 ${host}`,
      's=fuzz',
      `c=IN IP4 ${host}`,
      't=0 0',
      `m=audio ${2 * ctx.rand.int(5000, 30000)} RTP/AVP 0 8 101`,
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
      ctx.rand.pick(['a=sendrecv', 'a=sendonly', 'a=recvonly', 'a=inactive']),
    ].join('\r\n') +
    '\r\n' +
    body
  );
}

/**
 * @typedef {object} RequestSpec
 * @property {string} method
 * @property {string} [uri]
 * @property {string} [branch]
 * @property {boolean} [toTag]
 * @property {number} [cseq]
 * @property {string} [cseqMethod]
 * @property {string[]} [headers]
 * @property {string} [contentType]
 * @property {string} [body]
 */

/** @param {BuildContext} ctx @param {RequestSpec} spec */
function request(ctx, spec) {
  const id = ids(ctx, { dialog: spec.toTag === true });
  const uri = spec.uri ?? `sip:${id.user}@${ctx.domain}`;
  const body = spec.body ?? '';
  const lines = [
    `${spec.method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/${ctx.transport} ${ctx.sentBy};rport;branch=${spec.branch ?? `z9hG4bKfz${ctx.rand.token(12)}`}`,
    'Max-Forwards: 70',
    `From: "Fuzz ${ctx.group}" <sip:fuzz${ctx.group % 97}@${ctx.domain}>;tag=${id.fromTag}`,
    `To: <sip:${id.user}@${ctx.domain}>${spec.toTag ? `;tag=${id.toTag}` : ''}`,
    `Call-ID: ${id.callId}`,
    `CSeq: ${spec.cseq ?? 1} ${spec.cseqMethod ?? spec.method}`,
    `Contact: <sip:fuzz@${ctx.sentBy}${ctx.transport === 'TCP' ? ';transport=tcp' : ''}>`,
    'User-Agent: hibiki-fuzz',
    ...(spec.headers ?? []),
    ...(body ? [`Content-Type: ${spec.contentType ?? 'application/sdp'}`] : []),
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
  ];
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'latin1');
}

/**
 * @param {BuildContext} ctx
 * @param {number} status
 * @param {string} reason
 * @param {{ cseqMethod?: string, cseq?: number, headers?: string[], body?: string, contentType?: string }} [opts]
 */
function response(ctx, status, reason, opts = {}) {
  const id = ids(ctx);
  const body = opts.body ?? '';
  const lines = [
    `SIP/2.0 ${status} ${reason}`,
    `Via: SIP/2.0/${ctx.transport} ${ctx.domain};branch=z9hG4bKfz${ctx.rand.token(10)};received=127.0.0.1`,
    `From: <sip:${id.user}@${ctx.domain}>;tag=${id.fromTag}`,
    `To: <sip:fuzz@${ctx.domain}>${status > 100 ? `;tag=${id.toTag}` : ''}`,
    `Call-ID: ${id.callId}`,
    `CSeq: ${opts.cseq ?? 1} ${opts.cseqMethod ?? 'INVITE'}`,
    ...(status >= 180 && status < 300 ? [`Contact: <sip:fuzz@${ctx.sentBy}>`] : []),
    ...(opts.headers ?? []),
    ...(body ? [`Content-Type: ${opts.contentType ?? 'application/sdp'}`] : []),
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
  ];
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'latin1');
}

/** @param {BuildContext} ctx */
function fakeAuthorization(ctx, header = 'Authorization', uri = `sip:${ctx.domain}`) {
  const id = ids(ctx);
  return `${header}: Digest username="${id.user}", realm="${ctx.domain}", nonce="${ctx.rand.token(32)}", uri="${uri}", response="${ctx.rand.token(32).toLowerCase()}", algorithm=${ctx.rand.pick(['MD5', 'SHA-256', 'MD5-sess', 'md5'])}, qop=auth, nc=0000000${ctx.rand.int(1, 9)}, cnonce="${ctx.rand.token(8)}"`;
}

/** @param {BuildContext} ctx @param {string} boundary */
function multipartBody(ctx, boundary) {
  return [
    `--${boundary}`,
    'Content-Type: application/sdp',
    '',
    sdp(ctx).replace(/\r\n$/, ''),
    `--${boundary}`,
    'Content-Type: application/pidf+xml',
    'Content-ID: <fuzz@example.invalid>',
    '',
    '<?xml version="1.0"?><presence entity="sip:fuzz@example.invalid"/>',
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

/** @type {CorpusEntry[]} */
const GENERATED = [
  {
    name: 'gen/invite',
    build: (ctx) =>
      request(ctx, { method: 'INVITE', branch: ids(ctx).inviteBranch, body: sdp(ctx), headers: ['Supported: 100rel, timer', 'Session-Expires: 1800', 'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS'] }),
  },
  {
    name: 'gen/invite-auth',
    build: (ctx) =>
      request(ctx, { method: 'INVITE', branch: ids(ctx).inviteBranch, cseq: 2, body: sdp(ctx), headers: [fakeAuthorization(ctx, 'Proxy-Authorization', `sip:${ids(ctx).user}@${ctx.domain}`)] }),
  },
  {
    name: 'gen/invite-multipart',
    build: (ctx) => {
      const boundary = `fz${ctx.rand.token(8)}`;
      return request(ctx, { method: 'INVITE', branch: ids(ctx).inviteBranch, body: multipartBody(ctx, boundary), contentType: `multipart/mixed;boundary=${boundary}`, headers: ['MIME-Version: 1.0'] });
    },
  },
  {
    name: 'gen/invite-tel',
    build: (ctx) =>
      request(ctx, {
        method: 'INVITE',
        uri: `tel:+81355550${ctx.rand.int(100, 199)}`,
        branch: ids(ctx).inviteBranch,
        body: sdp(ctx),
        headers: ['P-Asserted-Identity: <tel:+81355550199>', 'Privacy: id'],
      }),
  },
  { name: 'gen/reinvite', build: (ctx) => request(ctx, { method: 'INVITE', toTag: true, cseq: 3, body: sdp(ctx) }) },
  { name: 'gen/cancel', build: (ctx) => request(ctx, { method: 'CANCEL', branch: ids(ctx).inviteBranch, headers: ['Reason: SIP;cause=487;text="cancelled"'] }) },
  { name: 'gen/ack-non2xx', build: (ctx) => request(ctx, { method: 'ACK', branch: ids(ctx).inviteBranch, toTag: true }) },
  { name: 'gen/ack-2xx', build: (ctx) => request(ctx, { method: 'ACK', toTag: true, body: ctx.rand.chance(0.3) ? sdp(ctx) : '' }) },
  { name: 'gen/bye', build: (ctx) => request(ctx, { method: 'BYE', toTag: true, cseq: 4, headers: ['Reason: Q.850;cause=16'] }) },
  { name: 'gen/register', build: (ctx) => request(ctx, { method: 'REGISTER', uri: `sip:${ctx.domain}`, headers: [`Expires: ${ctx.rand.pick([0, 30, 60, 3600, 86400])}`] }) },
  { name: 'gen/register-auth', build: (ctx) => request(ctx, { method: 'REGISTER', uri: `sip:${ctx.domain}`, cseq: 2, headers: ['Expires: 600', fakeAuthorization(ctx)] }) },
  {
    name: 'gen/register-contacts',
    build: (ctx) =>
      request(ctx, {
        method: 'REGISTER',
        uri: `sip:${ctx.domain}`,
        headers: ctx.rand.chance(0.5)
          ? ['Contact: *', 'Expires: 0']
          : [`Contact: <sip:a@${ctx.sentBy}>;expires=60;q=0.5, <sip:b@${ctx.sentBy}>;expires=120, "x" <sips:c@[::1]:5061>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000000>";reg-id=1`],
      }),
  },
  { name: 'gen/options', build: (ctx) => request(ctx, { method: 'OPTIONS', uri: `sip:${ctx.domain}`, headers: ['Accept: application/sdp'] }) },
  {
    name: 'gen/info-dtmf',
    build: (ctx) => request(ctx, { method: 'INFO', toTag: true, cseq: 5, contentType: 'application/dtmf-relay', body: `Signal=${ctx.rand.pick(['1', '#', '*', 'A', '16'])}\r\nDuration=160\r\n` }),
  },
  {
    name: 'gen/refer',
    build: (ctx) =>
      request(ctx, {
        method: 'REFER',
        toTag: true,
        cseq: 6,
        headers: [`Refer-To: <sip:2002@${ctx.domain}?Replaces=${encodeURIComponent(`${ids(ctx).callId};to-tag=a;from-tag=b`)}>`, `Referred-By: <sip:fuzz@${ctx.domain}>`],
      }),
  },
  {
    name: 'gen/notify',
    build: (ctx) =>
      request(ctx, {
        method: 'NOTIFY',
        toTag: true,
        cseq: 7,
        headers: ['Event: refer;id=6', 'Subscription-State: active;expires=60'],
        contentType: 'message/sipfrag;version=2.0',
        body: 'SIP/2.0 200 OK\r\n',
      }),
  },
  { name: 'gen/subscribe', build: (ctx) => request(ctx, { method: 'SUBSCRIBE', headers: ['Event: message-summary', 'Expires: 3600', 'Accept: application/simple-message-summary'] }) },
  { name: 'gen/message', build: (ctx) => request(ctx, { method: 'MESSAGE', contentType: 'text/plain;charset=utf-8', body: Buffer.from('こんにちは hibiki', 'utf8').toString('latin1') }) },
  { name: 'gen/prack', build: (ctx) => request(ctx, { method: 'PRACK', toTag: true, cseq: 2, headers: ['RAck: 1 1 INVITE'] }) },
  { name: 'gen/update', build: (ctx) => request(ctx, { method: 'UPDATE', toTag: true, cseq: 8, body: sdp(ctx), headers: ['Session-Expires: 90;refresher=uac', 'Min-SE: 90'] }) },
  { name: 'gen/publish', build: (ctx) => request(ctx, { method: 'PUBLISH', headers: ['Event: presence', 'Expires: 60'], contentType: 'application/pidf+xml', body: '<presence/>' }) },
  { name: 'gen/100', build: (ctx) => response(ctx, 100, 'Trying') },
  { name: 'gen/180', build: (ctx) => response(ctx, 180, 'Ringing', { headers: ['Require: 100rel', 'RSeq: 1'] }) },
  { name: 'gen/183-sdp', build: (ctx) => response(ctx, 183, 'Session Progress', { body: sdp(ctx) }) },
  { name: 'gen/200-invite', build: (ctx) => response(ctx, 200, 'OK', { body: sdp(ctx), headers: ['Record-Route: <sip:127.0.0.1;lr>', 'Session-Expires: 1800;refresher=uas'] }) },
  { name: 'gen/200-bye', build: (ctx) => response(ctx, 200, 'OK', { cseqMethod: 'BYE', cseq: 4 }) },
  {
    name: 'gen/401',
    build: (ctx) =>
      response(ctx, 401, 'Unauthorized', { cseqMethod: 'REGISTER', headers: [`WWW-Authenticate: Digest realm="${ctx.domain}", nonce="${ctx.rand.token(24)}", qop="auth", algorithm=MD5`] }),
  },
  { name: 'gen/486', build: (ctx) => response(ctx, 486, 'Busy Here') },
  { name: 'gen/503', build: (ctx) => response(ctx, 503, 'Service Unavailable', { headers: ['Retry-After: 30'] }) },
];

/** Generated messages only (no files): what the corpus holds without the repository around it. */
export function generatedCorpus() {
  return GENERATED;
}

/**
 * Every seed message the fuzzer mutates. The generated ones, which know hibiki's users, domain and
 * call groups, are picked about as often as all the files together, though there are fewer of them.
 */
export function loadCorpus() {
  const files = fileCorpus();
  const weight = Math.max(1, files.length / GENERATED.length);
  return [...GENERATED.map((e) => ({ ...e, weight })), ...files];
}
