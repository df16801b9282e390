// The SIP message model: requests and responses with lazily parsed headers.
// Raw header values are kept as received; structured views (Via, From, CSeq…)
// are parsed on first access and cached until that header is changed.

import { headerDisplayName, headerKey, isListHeader, splitHeaderList } from './headers.js';
import { parseNameAddr, type NameAddr } from './address.js';
import { formatVia, parseVia, type Via } from './via.js';
import { parseUri, type Uri } from './uri.js';
import { ownString } from './strings.js';

export type TransportName = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

/** Where a message came from (or is bound to), as seen by the transport layer. */
export interface TransportSource {
  transport: TransportName;
  address: string;
  port: number;
  localAddress: string;
  localPort: number;
  /** Set for connection-oriented transports: identifies the flow to reuse for replies. */
  connectionId?: string;
}

export interface CSeq {
  seq: number;
  method: string;
}

export type HeaderEntry = [key: string, value: string];

export abstract class SipMessage {
  body: Buffer;
  source?: TransportSource;
  private cache: Map<string, unknown> | undefined;
  /** The headers as entries; undefined while they are packed. */
  private entries: HeaderEntry[] | undefined;
  /** The headers as one string, `key:value` lines, while a long-kept message is not read (packHeaders). */
  private packed: string | undefined;

  constructor(headers: HeaderEntry[] = [], body: Buffer = EMPTY) {
    this.entries = headers;
    this.body = body;
  }

  /** Headers in wire order; key is the lower-case full name (compact forms expanded). */
  get headers(): HeaderEntry[] {
    return this.entries ?? this.unpackHeaders();
  }

  set headers(headers: HeaderEntry[]) {
    this.entries = headers;
    this.packed = undefined;
  }

  abstract get isRequest(): boolean;
  protected abstract startLine(): string;

  /** First value of a header (for list headers: the first element of the list). */
  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const [k, v] of this.headers) {
      if (k === key) return isListHeader(key) ? splitHeaderList(v)[0] : v;
    }
    return undefined;
  }

  /** Every value of a header, in order, with list headers split on top-level commas. */
  getAll(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    const list = isListHeader(key);
    for (const [k, v] of this.headers) {
      if (k !== key) continue;
      if (list) for (const part of splitHeaderList(v)) out.push(part);
      else out.push(v);
    }
    return out;
  }

  has(name: string): boolean {
    const key = headerKey(name);
    for (const [k] of this.headers) if (k === key) return true;
    return false;
  }

  /** Replace every occurrence of a header with one value (placed where the first was). */
  set(name: string, value: string | number): this {
    const key = headerKey(name);
    const str = String(value);
    const idx = this.headers.findIndex(([k]) => k === key);
    this.headers = this.headers.filter(([k]) => k !== key);
    if (idx < 0) this.headers.push([key, str]);
    else this.headers.splice(Math.min(idx, this.headers.length), 0, [key, str]);
    this.invalidate(key);
    return this;
  }

  /** Append a header after the existing ones. */
  add(name: string, value: string | number): this {
    const key = headerKey(name);
    this.headers.push([key, String(value)]);
    this.invalidate(key);
    return this;
  }

  /** Insert a header value above every existing value of that header (e.g. a new top Via). */
  prepend(name: string, value: string): this {
    const key = headerKey(name);
    const idx = this.headers.findIndex(([k]) => k === key);
    if (idx < 0) this.headers.push([key, value]);
    else this.headers.splice(idx, 0, [key, value]);
    this.invalidate(key);
    return this;
  }

  remove(name: string): this {
    const key = headerKey(name);
    this.headers = this.headers.filter(([k]) => k !== key);
    this.invalidate(key);
    return this;
  }

  /** Remove the first value of a list header (e.g. pop the top Via or Route). */
  removeFirstValue(name: string): string | undefined {
    const key = headerKey(name);
    const idx = this.headers.findIndex(([k]) => k === key);
    if (idx < 0) return undefined;
    const entry = this.headers[idx] as HeaderEntry;
    const parts = splitHeaderList(entry[1]);
    const first = parts.shift();
    if (parts.length === 0) this.headers.splice(idx, 1);
    else entry[1] = parts.join(', ');
    this.invalidate(key);
    return first;
  }

  /** Replace the first value of a list header, keeping the rest of that line. */
  replaceFirstValue(name: string, value: string): this {
    const key = headerKey(name);
    const idx = this.headers.findIndex(([k]) => k === key);
    if (idx < 0) {
      this.headers.push([key, value]);
    } else {
      const entry = this.headers[idx] as HeaderEntry;
      const parts = splitHeaderList(entry[1]);
      parts[0] = value;
      entry[1] = parts.join(', ');
    }
    this.invalidate(key);
    return this;
  }

  /**
   * Replace the top Via with `via` (the received/rport stamp, RFC 3581 §4), keeping the parsed Via
   * list in step instead of parsing every Via again on its next use.
   */
  replaceTopVia(via: Via): this {
    const parsed = this.cache?.get('via') as Via[] | null | undefined;
    this.replaceFirstValue('via', formatVia(via));
    if (parsed && parsed.length > 0) this.cache?.set('via', [via, ...parsed.slice(1)]);
    return this;
  }

  private cached<T>(key: string, compute: () => T): T {
    if (!this.cache) this.cache = new Map();
    if (this.cache.has(key)) return this.cache.get(key) as T;
    const value = compute();
    this.cache.set(key, value);
    return value;
  }

  /**
   * Lets go of what was parsed from the headers (it is parsed again on the next access): for a message
   * kept long and rarely read again, as an answered call's INVITE (its parsed From/To/Via/Contact and
   * their parameter maps were over a kilobyte per call held, issue #13).
   */
  forgetParsed(): void {
    this.cache = undefined;
  }

  /**
   * Keeps the headers as one flat string until they are next read, for a message kept long and seldom
   * read again (an answered call's INVITE): an array of [key, value] pairs whose values are slices of
   * the received datagram's text was some 1.4 KB per call held, and the slices kept that text too.
   */
  packHeaders(): void {
    const entries = this.entries;
    if (!entries) return;
    // A value with a line break (never from our parser, which unfolds) could not be split back.
    for (const [, v] of entries) if (v.includes('\n')) return;
    this.packed = entries.map(([k, v]) => `${k}:${v}`).join('\n');
    this.entries = undefined;
  }

  private unpackHeaders(): HeaderEntry[] {
    const entries: HeaderEntry[] = [];
    if (this.packed) {
      for (const line of this.packed.split('\n')) {
        // Keys are header names, which never hold a colon.
        const colon = line.indexOf(':');
        entries.push([line.slice(0, colon), line.slice(colon + 1)]);
      }
    }
    this.entries = entries;
    this.packed = undefined;
    return entries;
  }

  /**
   * Lets go of the body once what it said lives elsewhere: an answered call's INVITE keeps its SDP offer
   * in the dialog and the media endpoint, and the body was a slice holding the whole received datagram.
   */
  forgetBody(): void {
    this.body = EMPTY;
  }

  private invalidate(key: string): void {
    if (!this.cache) return;
    this.cache.delete(key);
  }

  get callId(): string {
    return this.get('call-id') ?? '';
  }

  get cseq(): CSeq | null {
    return this.cached('cseq', () => parseCSeq(this.get('cseq')));
  }

  get from(): NameAddr | null {
    return this.cached('from', () => {
      const v = this.get('from');
      return v === undefined ? null : parseNameAddr(v);
    });
  }

  get to(): NameAddr | null {
    return this.cached('to', () => {
      const v = this.get('to');
      return v === undefined ? null : parseNameAddr(v);
    });
  }

  get fromTag(): string | undefined {
    return this.from?.params.get('tag') ?? undefined;
  }

  get toTag(): string | undefined {
    return this.to?.params.get('tag') ?? undefined;
  }

  /** All Via values parsed, top first; null if any is unparsable. */
  get vias(): Via[] | null {
    return this.cached('via', () => {
      const out: Via[] = [];
      for (const raw of this.getAll('via')) {
        const v = parseVia(raw);
        if (!v) return null;
        out.push(v);
      }
      return out;
    });
  }

  get topVia(): Via | null {
    const vias = this.vias;
    return vias && vias.length > 0 ? (vias[0] as Via) : null;
  }

  /** Contact values parsed; `*` yields one entry with `wildcard: true`. Null if any is unparsable. */
  get contacts(): NameAddr[] | null {
    return this.cached('contact', () => {
      const out: NameAddr[] = [];
      for (const raw of this.getAll('contact')) {
        const a = parseNameAddr(raw);
        if (!a) return null;
        out.push(a);
      }
      return out;
    });
  }

  get contentType(): string | undefined {
    return this.get('content-type');
  }

  get maxForwards(): number | undefined {
    const v = this.get('max-forwards');
    if (v === undefined) return undefined;
    const n = Number(v.trim());
    return Number.isInteger(n) ? n : undefined;
  }

  /** Serialize; Content-Length is always written from the actual body length. */
  toBuffer(): Buffer {
    let head = this.startLine() + '\r\n';
    for (const [k, v] of this.headers) {
      if (k === 'content-length') continue;
      head += headerDisplayName(k) + ': ' + v + '\r\n';
    }
    head += 'Content-Length: ' + this.body.length + '\r\n\r\n';
    if (this.body.length === 0) return Buffer.from(head, 'utf8');
    return Buffer.concat([Buffer.from(head, 'utf8'), this.body]);
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}

export class SipRequest extends SipMessage {
  method: string;
  /** Request-URI as text; `requestUri` is the parsed form. */
  uri: string;
  version: string;

  constructor(method: string, uri: string, headers: HeaderEntry[] = [], body: Buffer = EMPTY, version = 'SIP/2.0') {
    super(headers, body);
    this.method = method;
    this.uri = uri;
    this.version = version;
  }

  get isRequest(): boolean {
    return true;
  }

  private parsedUri: { text: string; uri: Uri | null } | undefined;

  get requestUri(): Uri | null {
    if (!this.parsedUri || this.parsedUri.text !== this.uri) {
      this.parsedUri = { text: this.uri, uri: parseUri(this.uri) };
    }
    return this.parsedUri.uri;
  }

  /** Packed, the request also stops keeping its datagram's text through its Request-URI (a slice of it). */
  override packHeaders(): void {
    super.packHeaders();
    this.uri = ownString(this.uri);
  }

  /** The parsed Request-URI goes too (about 500 B with its parameter maps). */
  override forgetParsed(): void {
    super.forgetParsed();
    this.parsedUri = undefined;
  }

  protected startLine(): string {
    return `${this.method} ${this.uri} ${this.version}`;
  }
}

export class SipResponse extends SipMessage {
  status: number;
  reason: string;
  version: string;

  constructor(status: number, reason: string, headers: HeaderEntry[] = [], body: Buffer = EMPTY, version = 'SIP/2.0') {
    super(headers, body);
    this.status = status;
    this.reason = reason;
    this.version = version;
  }

  get isRequest(): boolean {
    return false;
  }

  protected startLine(): string {
    return `${this.version} ${this.status} ${this.reason}`;
  }
}

export const EMPTY = Buffer.alloc(0);

export function parseCSeq(value: string | undefined): CSeq | null {
  if (value === undefined) return null;
  const m = /^\s*(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)\s*$/.exec(value);
  if (!m) return null;
  const seq = Number(m[1]);
  if (seq > 0xffffffff) return null;
  return { seq, method: m[2] as string };
}

export type SipMessageAny = SipRequest | SipResponse;

export function isRequest(m: SipMessage): m is SipRequest {
  return m.isRequest;
}

/** RFC 3261 reason phrases for the statuses hibiki emits. */
export const REASON_PHRASES: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  200: 'OK',
  202: 'Accepted',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  421: 'Extension Required',
  422: 'Session Interval Too Small',
  423: 'Interval Too Brief',
  433: 'Anonymity Disallowed',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status < 200 ? 'Provisional' : status < 300 ? 'OK' : 'Error');
}

/**
 * The bytes of a message serialized once. What is kept long is kept as latin1 text (one char per byte,
 * lossless) rather than a Buffer: it then lives in the V8 heap, which compacts and gives memory back,
 * instead of one malloc per message outside it (or a slice pinning a whole 8 KiB chunk of Node's pool).
 */
function wireBytes(wire: Buffer | string): Buffer {
  return typeof wire === 'string' ? Buffer.from(wire, 'latin1') : wire;
}

/**
 * A request kept only to be sent again exactly as it went out (the ACK of a 2xx, for the 2xx's
 * retransmissions), with no parsed headers: a parsed ACK held for the length of a call was some 2.5 KB of
 * header arrays and parameter maps.
 */
export class WireRequest extends SipRequest {
  constructor(
    method: string,
    uri: string,
    private readonly wire: string,
  ) {
    super(method, uri);
  }

  override toBuffer(): Buffer {
    return wireBytes(this.wire);
  }
}

/**
 * A final response whose wire form is fixed: sent as the bytes it was serialized to once, then kept as those
 * bytes alone, which is all a Completed non-INVITE transaction needs to answer retransmitted requests. What
 * goes out keeps `headers` for anyone inspecting it; what stays keeps none.
 */
export class WireResponse extends SipResponse {
  constructor(
    res: SipResponse,
    headers: HeaderEntry[],
    private readonly wire: Buffer | string,
  ) {
    super(res.status, res.reason, headers, headers.length > 0 ? res.body : undefined, res.version);
  }

  override toBuffer(): Buffer {
    return wireBytes(this.wire);
  }
}
