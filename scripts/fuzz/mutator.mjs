// @ts-check
// Mutates SIP messages for the fuzzer. A message is taken from the corpus, split into start line,
// header lines and body, bent by one to a few structural mutations (headers duplicated, removed,
// reordered, folded; numbers, tokens, URIs, parameters, line ends, lengths, bodies), put back
// together (usually with a Content-Length that matches, so the message gets past framing and into
// the layers behind the parser), and sometimes damaged byte by byte on top. Deterministic: the
// same (seed, index) gives the same bytes.
import { GROUP_SIZE } from './corpus.mjs';
import { messageSeed, Rand } from './random.mjs';

/**
 * @typedef {import('./corpus.mjs').CorpusEntry} CorpusEntry
 * @typedef {import('./corpus.mjs').BuildContext} BuildContext
 *
 * @typedef {object} Parts  a message as latin1 text (one char per byte)
 * @property {string} start
 * @property {string[]} headers  physical lines, folds included
 * @property {string} body
 * @property {string} eol        line end used when the message is put back together
 * @property {string} sep        what separates the header block from the body
 * @property {boolean} fixLength whether Content-Length is rewritten to the body's length
 *
 * @typedef {(m: Parts, r: Rand, env: MutationEnv) => void} StructuralOp
 * @typedef {(b: Buffer, r: Rand, env: MutationEnv) => Buffer} ByteOp
 *
 * @typedef {object} MutationEnv
 * @property {readonly CorpusEntry[]} corpus
 * @property {BuildContext} ctx
 * @property {number} maxBytes
 *
 * @typedef {object} FuzzOptions
 * @property {number} seed
 * @property {number} index
 * @property {readonly CorpusEntry[]} corpus
 * @property {string} sentBy
 * @property {'UDP' | 'TCP'} transport
 * @property {string} domain
 * @property {readonly string[]} users
 * @property {number} maxBytes  largest message produced (a UDP datagram cannot exceed 65,507 bytes)
 * @property {(callId: string) => string | undefined} [learnedTag]  see BuildContext
 *
 * @typedef {object} FuzzMessage
 * @property {number} index
 * @property {string} base   corpus entry the message came from
 * @property {string[]} ops  mutations applied, in order
 * @property {Buffer} bytes
 */

/** @param {Buffer} buf @returns {Parts} */
export function split(buf) {
  const text = buf.toString('latin1');
  const crlf = text.indexOf('\r\n\r\n');
  const lf = text.indexOf('\n\n');
  let headEnd = -1;
  let sep = '\r\n\r\n';
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) headEnd = crlf;
  else if (lf >= 0) {
    headEnd = lf;
    sep = '\n\n';
  }
  const head = headEnd < 0 ? text : text.slice(0, headEnd);
  const body = headEnd < 0 ? '' : text.slice(headEnd + sep.length);
  const lines = head.split(/\r?\n/);
  return { start: lines[0] ?? '', headers: lines.slice(1), body, eol: '\r\n', sep: headEnd < 0 ? '\r\n\r\n' : sep, fixLength: true };
}

const CONTENT_LENGTH = /^(content-length|l)([ \t]*:[ \t]*)(.*)$/i;

/** @param {Parts} m @returns {Buffer} */
export function join(m) {
  let headers = m.headers;
  if (m.fixLength) {
    let fixed = false;
    headers = headers.map((h) => {
      const cl = fixed ? null : CONTENT_LENGTH.exec(h);
      if (!cl) return h;
      fixed = true;
      return `${cl[1]}${cl[2]}${m.body.length}`;
    });
  }
  const head = [m.start, ...headers].join(m.eol);
  return Buffer.from(head + m.sep + m.body, 'latin1');
}

// ---- values that break things --------------------------------------------------------------

const WEIRD_NUMBERS = [
  '0',
  '-0',
  '-1',
  '-2147483648',
  '2147483647',
  '2147483648',
  '4294967295',
  '4294967296',
  '4294967297',
  '9007199254740991',
  '9007199254740993',
  '18446744073709551616',
  '99999999999999999999999999999999',
  '1e3',
  '1e309',
  '0x10',
  '0b1',
  '1.5',
  '.5',
  'NaN',
  'Infinity',
  '+1',
  '00000000000000000000001',
  '',
  ' ',
  '٣',
  '１２',
  '1 2',
  '1,2',
  '-',
  '--1',
  '65536',
  '99999',
];

const ODD_TEXT = [
  '\x00',
  '\x00\x00\x00\x00',
  '\xff',
  '\xfe\xff',
  '\xc3',
  '\xc0\xaf',
  '\xe0\x80\xaf',
  '\xed\xa0\x80',
  '\xf4\x90\x80\x80',
  '\xf8\x88\x80\x80\x80',
  '\x1b[31m',
  '\x7f',
  '\x08',
  '\x0b',
  '\x0c',
];

/** Well-formed UTF-8 that is still unwelcome: BOM, RTL override, zero-width, full-width colon, emoji, CJK. */
const ODD_UNICODE = ['\ufeff', '\u202e', '\u200b', '\uff1a', '😀', '日本語', 'Ω', '\u0301', '\ufffd', '\u2028', 'ｓｉｐ'];

/** @param {Rand} r */
function oddText(r) {
  if (r.chance(0.5)) return r.pick(ODD_TEXT);
  return Buffer.from(r.pick(ODD_UNICODE), 'utf8').toString('latin1');
}

/** @param {Rand} r @param {number} maxBytes */
function overlong(r, maxBytes) {
  const n = r.chance(0.2) ? r.int(16_000, Math.max(16_001, maxBytes - 2_000)) : r.size(8_000);
  const unit = r.pick(['a', '9', '%41', ';', ',', ' ', '<', '"', '\\', '@', 'z9hG4bK', '\t']);
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

const MANDATORY = ['via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq', 'max-forwards', 'content-length', 'l', 'contact', 'm', 'content-type', 'c'];
const COMPACT = {
  via: 'v',
  from: 'f',
  to: 't',
  'call-id': 'i',
  contact: 'm',
  'content-length': 'l',
  'content-type': 'c',
  subject: 's',
  supported: 'k',
  'content-encoding': 'e',
  'refer-to': 'r',
  'referred-by': 'b',
  event: 'o',
};

/** @param {string} line */
function headerName(line) {
  const colon = line.indexOf(':');
  return colon < 0 ? '' : line.slice(0, colon).trim().toLowerCase();
}

/** @param {Parts} m @param {Rand} r @returns {number} index of a header line, or -1 */
function someHeader(m, r) {
  return m.headers.length === 0 ? -1 : r.int(0, m.headers.length - 1);
}

/**
 * Replaces one match of `re` (global) in `s` by what `fn` returns.
 * @param {string} s @param {RegExp} re @param {Rand} r @param {(match: string) => string} fn
 */
function replaceOne(s, re, r, fn) {
  const matches = [...s.matchAll(re)];
  if (matches.length === 0) return s;
  const m = r.pick(matches);
  const at = m.index ?? 0;
  return s.slice(0, at) + fn(m[0]) + s.slice(at + m[0].length);
}

/**
 * A line of the message (start line or header) to rewrite with `fn`.
 * @param {Parts} m @param {Rand} r @param {(line: string) => string} fn
 */
function rewriteLine(m, r, fn) {
  const i = r.int(-1, m.headers.length - 1);
  if (i < 0) m.start = fn(m.start);
  else m.headers[i] = fn(m.headers[i] ?? '');
}

// ---- structural mutations -----------------------------------------------------------------------

/** @type {Record<string, StructuralOp>} */
export const STRUCTURAL = {
  headerDuplicate(m, r) {
    const i = someHeader(m, r);
    if (i < 0) return;
    const line = m.headers[i] ?? '';
    const copies = r.chance(0.1) ? r.size(400) : r.int(1, 3);
    m.headers.splice(r.int(0, m.headers.length), 0, ...Array.from({ length: copies }, () => line));
  },
  headerRemove(m, r) {
    if (r.chance(0.6)) {
      const name = r.pick(MANDATORY);
      m.headers = m.headers.filter((h) => headerName(h) !== name);
    } else {
      const i = someHeader(m, r);
      if (i >= 0) m.headers.splice(i, 1);
    }
  },
  headerReorder(m, r) {
    if (r.chance(0.5)) r.shuffle(m.headers);
    else {
      const i = someHeader(m, r);
      if (i < 0) return;
      const [line] = m.headers.splice(i, 1);
      m.headers.splice(r.int(0, m.headers.length), 0, line ?? '');
    }
  },
  headerName(m, r) {
    const i = someHeader(m, r);
    if (i < 0) return;
    const line = m.headers[i] ?? '';
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1);
    const lower = name.trim().toLowerCase();
    const compact = /** @type {Record<string, string>} */ (COMPACT)[lower];
    const newName = r.pick([compact ?? lower, lower.toUpperCase(), `${name} `, `${name}\t\t`, ` ${name}`, '', `${name}${oddText(r)}`, `X-${r.token(r.size(60))}`, name.replace(/-/g, '_')]);
    m.headers[i] = r.chance(0.1) ? `${newName}${value}` : `${newName}:${value}`;
  },
  numbers(m, r, env) {
    rewriteLine(m, r, (line) => replaceOne(line, /-?\d+/g, r, () => (r.chance(0.1) ? '9'.repeat(r.size(Math.min(env.maxBytes / 2, 5000))) : r.pick(WEIRD_NUMBERS))));
  },
  overlongToken(m, r, env) {
    rewriteLine(m, r, (line) => replaceOne(line, /[A-Za-z0-9.!%*_+`'~-]+/g, r, () => overlong(r, env.maxBytes)));
  },
  lineEnds(m, r) {
    const kind = r.int(0, 6);
    if (kind === 0) m.eol = r.pick(['\n', '\r', '\r\r\n', '\n\r', '\r\n\r\n']);
    else if (kind === 1) m.sep = r.pick(['\n\n', '\r\n\n', '\n\r\n', '\r\r', '\r\n', '\r\n\r\n\r\n', '']);
    else if (kind === 2) m.headers.splice(r.int(0, m.headers.length), 0, '');
    else if (kind === 3) m.start = '\r\n'.repeat(r.size(50)) + m.start;
    else if (kind === 4) {
      const i = someHeader(m, r);
      if (i >= 0) m.headers[i] = (m.headers[i] ?? '').replace(/ /, r.pick(['\r', '\n', '\r\n', '\x00']));
    } else if (kind === 5) m.body += '\r\n'.repeat(r.size(20));
    else m.headers.push('');
  },
  whitespace(m, r) {
    const ws = () => r.pick([' ', '\t', '  ', ' \t ', '\t\t\t', ' '.repeat(r.size(500)), '\xa0', '\x0b']);
    const kind = r.int(0, 4);
    if (kind === 0) m.start = m.start.replace(/ /g, () => (r.chance(0.5) ? ws() : ' '));
    else if (kind === 1) rewriteLine(m, r, (l) => l.replace(':', `${ws()}:${ws()}`));
    else if (kind === 2) rewriteLine(m, r, (l) => `${ws()}${l}${ws()}`);
    else if (kind === 3) rewriteLine(m, r, (l) => l.replace(/;/g, () => `${ws()};${ws()}`));
    else rewriteLine(m, r, (l) => l.replace(/[=,/]/g, (c) => `${ws()}${c}${ws()}`));
  },
  fold(m, r) {
    const i = someHeader(m, r);
    if (i < 0) return;
    const line = m.headers[i] ?? '';
    const points = [...line.matchAll(/[ ;,:=]/g)];
    if (points.length === 0) return;
    const p = r.pick(points).index ?? 0;
    const fold = `${m.eol}${r.pick([' ', '\t', '   ', ' \t'])}`;
    m.headers[i] = line.slice(0, p + 1) + fold + line.slice(p + 1);
    // A fold as the first line, where nothing can be continued.
    if (r.chance(0.1)) m.headers.unshift(` ${r.printable(r.size(40))}`);
  },
  contentLength(m, r, env) {
    m.fixLength = false;
    const len = m.body.length;
    const value = r.pick([
      String(Math.max(0, len - r.int(1, 50))),
      String(len + r.int(1, 5000)),
      String(len + r.int(env.maxBytes, 10 * env.maxBytes)),
      '-1',
      String(-len),
      '4294967296',
      '99999999999999999999',
      'banana',
      '',
      `${len} ${len}`,
      `${len}, ${len + 1}`,
      `0x${len.toString(16)}`,
      `${len}.0`,
      `+${len}`,
    ]);
    const existing = m.headers.findIndex((h) => CONTENT_LENGTH.test(h));
    const line = `${r.pick(['Content-Length', 'l', 'content-length', 'CONTENT-LENGTH'])}: ${value}`;
    if (existing < 0 || r.chance(0.3)) m.headers.push(line);
    else m.headers[existing] = line;
  },
  oddText(m, r) {
    const text = oddText(r);
    const kind = r.int(0, 3);
    if (kind === 0) m.start = replaceOne(m.start, /[^ ]/g, r, (c) => c + text);
    else if (kind === 1) rewriteLine(m, r, (l) => replaceOne(l, /./g, r, (c) => c + text));
    else if (kind === 2) m.body = replaceOne(m.body || ' ', /./g, r, (c) => c + text);
    else rewriteLine(m, r, (l) => l.replace(/"[^"]*"/, `"${text}${text}"`));
  },
  uri(m, r) {
    const swap = r.pick([
      'sip:',
      'sips:',
      'tel:',
      'SIP:',
      'sip:@',
      'sip::',
      'http://',
      'urn:uuid:x',
      'sip:[::1',
      'sip:[::1]:99999',
      'sip:a@b@c',
      'sip:%zz@x',
      'sip:user;param@host',
      'sip:host:-1',
      'sip:host:0',
      'sip:host;maddr=239.255.255.1;ttl=15',
      'sip:;;;@;',
      '<',
      '>',
      '<<sip:x>>',
      'sip:x?Route=%3Csip:y%3E&body=z',
    ]);
    rewriteLine(m, r, (l) => replaceOne(l, /(sips?|tel):[^\s>;,]*/gi, r, (u) => (r.chance(0.5) ? swap : u.replace(/[@:.]/, swap))));
  },
  params(m, r) {
    const junk = r.pick([
      ';',
      ';;;',
      ';=',
      ';branch',
      ';branch=',
      ';branch=z9hG4bK',
      ';tag',
      ';tag=',
      ';rport=abc',
      ';rport=99999',
      ';received=',
      ';received=::ffff:',
      ';maddr=',
      ';ttl=999',
      ';expires=-5',
      ';q=2.5',
      ';q=abc',
      ';lr=lr',
      ';transport=',
      ';transport=sctp',
      ';x="unterminated',
      `;${'p'.repeat(1000)}=1`,
      ';a=1'.repeat(500),
      ';branch=z9hG4bKa;branch=z9hG4bKb',
      ';tag=a;tag=b',
    ]);
    rewriteLine(m, r, (l) => (r.chance(0.5) ? l + junk : l.replace(/;/, `${junk};`)));
  },
  startLine(m, r) {
    const parts = m.start.split(' ');
    const kind = r.int(0, 5);
    if (kind === 0)
      parts[0] = r.pick(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'UPDATE', 'REFER', 'NOTIFY', 'SUBSCRIBE', 'INFO', 'MESSAGE', 'PUBLISH', 'invite', 'FOO', 'SIP/2.0', '']);
    else if (kind === 1) parts[parts.length - 1] = r.pick(['SIP/2.1', 'SIP/1.0', 'sip/2.0', 'SIP/2.0000', 'SIP/', 'SIP/2.0 SIP/2.0', 'HTTP/1.1', '']);
    else if (kind === 2 && m.start.startsWith('SIP/')) parts[1] = r.pick(['0', '099', '100', '199', '600', '699', '700', '1000', '-200', '2OO', '200.0', '4294967496']);
    else if (kind === 3) parts.splice(r.int(0, parts.length), 0, r.token(r.size(20)));
    else if (kind === 4) parts.splice(r.int(0, parts.length - 1), 1);
    else {
      // CSeq method different from the request line's.
      const i = m.headers.findIndex((h) => headerName(h) === 'cseq');
      if (i >= 0) m.headers[i] = (m.headers[i] ?? '').replace(/[A-Za-z]+\s*$/, r.pick(['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'FOO', '']));
    }
    m.start = parts.join(' ');
  },
  multipart(m, r) {
    const b = r.chance(0.8) ? `b${r.token(r.size(70))}` : '';
    const part = (/** @type {string} */ type, /** @type {string} */ content) => `--${b}\r\nContent-Type: ${type}\r\n\r\n${content}\r\n`;
    const sdpPart = m.body.startsWith('v=') ? m.body : 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
    const bodies = [
      part('application/sdp', sdpPart) + `--${b}--\r\n`,
      part('application/sdp', sdpPart) + part('application/sdp', sdpPart) + `--${b}--`,
      part('text/plain', 'no end boundary'),
      `--${b}--\r\n`,
      part(`multipart/mixed;boundary=${b}`, part('application/sdp', sdpPart)) + `--${b}--`,
      Array.from({ length: r.size(300) }, () => part('text/plain', 'x')).join('') + `--${b}--`,
      `preamble\r\n${part('application/sdp', sdpPart)}--${b}--\r\nepilogue`,
      part('application/sdp', '') + `--${b}--`,
    ];
    m.body = r.pick(bodies);
    const type = r.pick([
      `multipart/mixed;boundary=${b}`,
      `multipart/mixed; boundary="${b}"`,
      'multipart/mixed',
      `multipart/alternative;boundary=${b}`,
      `multipart/related;type="application/sdp";boundary=${b}`,
      `multipart/mixed;boundary=`,
    ]);
    m.headers = m.headers.filter((h) => !/^(content-type|c)\s*:/i.test(h));
    m.headers.push(`Content-Type: ${type}`);
  },
  sdp(m, r, env) {
    if (!m.body.startsWith('v=')) {
      m.body = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n';
      m.headers = m.headers.filter((h) => !/^(content-type|c)\s*:/i.test(h));
      m.headers.push('Content-Type: application/sdp');
    }
    const lines = m.body.split(/\r?\n/);
    const kind = r.int(0, 9);
    const mIndex = lines.findIndex((l) => l.startsWith('m='));
    if (kind === 0)
      lines.splice(
        r.int(0, lines.length),
        0,
        r.pick([
          'm=audio 0 RTP/AVP 0',
          'm=video 5000 RTP/AVP 96',
          'm=audio 70000 RTP/AVP 0',
          'm=audio -1 RTP/AVP',
          'm=audio 4000 RTP/SAVP 0',
          'm=audio 4000/2 RTP/AVP 0',
          'm=',
          'm=image 4000 udptl t38',
          'm=audio 4000 RTP/AVP ' + '0 '.repeat(r.size(2000)),
        ]),
      );
    else if (kind === 1)
      lines.splice(
        r.int(0, lines.length),
        0,
        r.pick(['c=IN IP6 ::1', 'c=IN IP4 0.0.0.0', 'c=IN IP4 999.1.1.1', 'c=IN IP4', 'c=', 'c=IN IP4 239.1.1.1/127', 'c=IN IP4 example.invalid', 'c=IN IP6 [::1]']),
      );
    else if (kind === 2)
      lines.splice(
        r.int(0, lines.length),
        0,
        r.pick([
          'a=rtpmap:101 telephone-event/0',
          'a=rtpmap:999 PCMU/8000',
          'a=rtpmap:0',
          'a=rtpmap:96 opus/48000/2',
          'a=fmtp:101 0-9999',
          'a=fmtp:',
          'a=ptime:0',
          'a=ptime:-20',
          'a=ptime:99999999',
          'a=maxptime:1',
          'a=rtcp:0',
          'a=rtcp-mux',
          'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x',
          'a=',
          'a=sendonly',
          'a=inactive',
          'a=candidate:1 1 UDP 1 127.0.0.1 9 typ host',
        ]),
      );
    else if (kind === 3 && mIndex >= 0) lines.splice(mIndex, 0, ...Array.from({ length: r.size(200) }, () => lines[mIndex] ?? ''));
    else if (kind === 4) lines.splice(r.int(0, lines.length - 1), 1);
    else if (kind === 5) r.shuffle(lines);
    else if (kind === 6) lines.push(...Array.from({ length: r.size(Math.min(2000, env.maxBytes / 40)) }, (_, i) => `a=rtpmap:${96 + (i % 32)} x${i}/8000`));
    else if (kind === 7) lines[0] = r.pick(['v=1', 'v=', 'v=0 0', 'x=0', '']);
    else if (kind === 8) m.body = m.body.replace(/\r\n/g, '\n');
    else lines.splice(r.int(0, lines.length), 0, `${r.pick(['o', 's', 't', 'b', 'k', 'z', 'r'])}=${r.printable(r.size(300))}`);
    if (kind !== 8) m.body = lines.join('\r\n');
  },
};

// ---- byte mutations -----------------------------------------------------------------------------

/** @type {Record<string, ByteOp>} */
export const BYTES = {
  bitFlip(b, r) {
    const out = Buffer.from(b);
    if (out.length === 0) return out;
    for (let n = r.size(16); n > 0; n--) {
      const i = r.int(0, out.length - 1);
      out[i] = (out[i] ?? 0) ^ (1 << r.int(0, 7));
    }
    return out;
  },
  byteInsert(b, r) {
    const at = r.int(0, b.length);
    const ins = r.chance(0.5) ? r.bytes(r.size(64)) : Buffer.from(oddText(r), 'latin1');
    return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
  },
  byteDelete(b, r) {
    if (b.length < 2) return b;
    const at = r.int(0, b.length - 1);
    return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + r.size(64)))]);
  },
  byteDuplicate(b, r) {
    if (b.length === 0) return b;
    const at = r.int(0, b.length - 1);
    const chunk = b.subarray(at, Math.min(b.length, at + r.size(256)));
    const to = r.int(0, b.length);
    return Buffer.concat([b.subarray(0, to), chunk, b.subarray(to)]);
  },
  truncate(b, r) {
    return b.subarray(0, r.int(0, Math.max(0, b.length - 1)));
  },
  overwrite(b, r) {
    const out = Buffer.from(b);
    if (out.length === 0) return out;
    const at = r.int(0, out.length - 1);
    r.bytes(Math.min(r.size(128), out.length - at)).copy(out, at);
    return out;
  },
  randomBytes(_b, r, env) {
    return r.bytes(r.chance(0.1) ? r.int(2000, env.maxBytes) : r.size(1500));
  },
  splice(b, r, env) {
    // Two messages in one datagram or write (pipelining), or one's head on another's body.
    const other = r.pick(env.corpus).build({ ...env.ctx, group: Math.max(0, env.ctx.group + r.int(-1, 1)) });
    if (r.chance(0.5)) return Buffer.concat([b, other]);
    const cut = r.int(0, b.length);
    return Buffer.concat([b.subarray(0, cut), other.subarray(r.int(0, other.length))]);
  },
};

/** @type {ReadonlyArray<readonly [number, string]>} */
const STRUCTURAL_WEIGHTS = [
  [6, 'headerDuplicate'],
  [6, 'headerRemove'],
  [4, 'headerReorder'],
  [4, 'headerName'],
  [8, 'numbers'],
  [5, 'overlongToken'],
  [6, 'lineEnds'],
  [5, 'whitespace'],
  [5, 'fold'],
  [7, 'contentLength'],
  [5, 'oddText'],
  [7, 'uri'],
  [7, 'params'],
  [6, 'startLine'],
  [4, 'multipart'],
  [7, 'sdp'],
];
/** @type {ReadonlyArray<readonly [number, string]>} */
const BYTE_WEIGHTS = [
  [6, 'bitFlip'],
  [4, 'byteInsert'],
  [4, 'byteDelete'],
  [3, 'byteDuplicate'],
  [5, 'truncate'],
  [3, 'overwrite'],
  [1, 'randomBytes'],
  [3, 'splice'],
];

/** @type {WeakMap<readonly CorpusEntry[], { total: number, upTo: number[] }>} */
const cumulative = new WeakMap();

/**
 * A corpus entry by weight (the cumulative weights are worked out once per corpus).
 * @param {readonly CorpusEntry[]} corpus @param {Rand} r
 */
function pickEntry(corpus, r) {
  let c = cumulative.get(corpus);
  if (!c) {
    let total = 0;
    const upTo = corpus.map((e) => (total += e.weight ?? 1));
    c = { total, upTo };
    cumulative.set(corpus, c);
  }
  const x = r.float() * c.total;
  let lo = 0;
  let hi = c.upTo.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((c.upTo[mid] ?? 0) > x) hi = mid;
    else lo = mid + 1;
  }
  const entry = corpus[lo];
  if (!entry) throw new Error('empty corpus');
  return entry;
}

/**
 * Message `index` of run `seed`: a corpus entry, built for this fuzzer's socket, then mutated.
 * About 4 % go out unmutated, so the valid paths (and transactions the others hit) stay busy.
 * @param {FuzzOptions} o
 * @returns {FuzzMessage}
 */
export function fuzzMessage(o) {
  const r = new Rand(messageSeed(o.seed, o.index));
  /** @type {BuildContext} */
  const ctx = { sentBy: o.sentBy, transport: o.transport, domain: o.domain, users: o.users, seed: o.seed, group: Math.floor(o.index / GROUP_SIZE), rand: r, learnedTag: o.learnedTag };
  const entry = pickEntry(o.corpus, r);
  /** @type {MutationEnv} */
  const env = { corpus: o.corpus, ctx, maxBytes: o.maxBytes };
  /** @type {string[]} */
  const ops = [];
  let bytes = entry.build(ctx);
  if (!r.chance(0.04)) {
    const structural = r.weighted([
      [40, 1],
      [30, 2],
      [15, 3],
      [8, 4],
      [4, 6],
      [3, 0],
    ]);
    if (structural > 0) {
      const parts = split(bytes);
      for (let i = 0; i < structural; i++) {
        const name = r.weighted(STRUCTURAL_WEIGHTS);
        STRUCTURAL[name]?.(parts, r, env);
        ops.push(name);
      }
      // Mostly keep the framing honest so the damage reaches the layers behind the parser.
      if (r.chance(0.15)) parts.fixLength = false;
      bytes = join(parts);
    }
    const byteOps =
      structural === 0
        ? r.int(1, 3)
        : r.weighted([
            [82, 0],
            [15, 1],
            [3, 2],
          ]);
    for (let i = 0; i < byteOps; i++) {
      const name = r.weighted(BYTE_WEIGHTS);
      bytes = BYTES[name]?.(bytes, r, env) ?? bytes;
      ops.push(name);
    }
  }
  if (bytes.length > o.maxBytes) {
    bytes = bytes.subarray(0, o.maxBytes);
    ops.push('capped');
  }
  return { index: o.index, base: entry.name, ops, bytes };
}
