// Splits a byte stream (TCP, TLS) into whole SIP messages, RFC 3261 §18.3:
// the header block ends at the first empty line and Content-Length gives the
// body length (mandatory on streams; treated as 0 when absent).
// RFC 5626 §3.5.1: a CRLFCRLF "ping" between messages is reported so the
// transport can answer with a CRLF "pong"; a lone CRLF is ignored (RFC 3261 §7.5).
// Pure: no sockets, no timers — the caller feeds bytes and acts on the events.

export type FramerEvent = { kind: 'message'; data: Buffer } | { kind: 'ping' } | { kind: 'error'; reason: string };

export interface StreamFramerLimits {
  /** Bound on the header block and, separately, on the body. */
  maxMessageBytes: number;
  /** Bound on bytes buffered but not yet framed. */
  maxPendingBytes: number;
}

const CR = 0x0d;
const LF = 0x0a;
const PING = Buffer.from('\r\n\r\n', 'latin1');
const INITIAL_CAPACITY = 4096;
// Content-Length values longer than this cannot be below any sane maxMessageBytes.
const MAX_LENGTH_DIGITS = 15;

type State = 'between' | 'headers' | 'body';

export class StreamFramer {
  private readonly limits: StreamFramerLimits;
  // Unconsumed input lives in buf[start, end); storage grows by doubling so
  // byte-at-a-time input costs amortised O(1) per byte.
  private buf = Buffer.alloc(INITIAL_CAPACITY);
  private start = 0;
  private end = 0;
  private state: State = 'between';
  /** Offset (relative to start) where the search for the end of the header block resumes. */
  private scanFrom = 0;
  private headerLength = 0;
  private bodyLength = 0;
  private failed = false;

  constructor(limits: StreamFramerLimits) {
    this.limits = limits;
  }

  /** Bytes received but not yet emitted as a message. */
  get pendingBytes(): number {
    return this.end - this.start;
  }

  /**
   * True while part of a message has arrived but not all of it. Keep-alive CRLFs (even half a
   * CRLFCRLF ping) between messages are not part of one.
   */
  get inMessage(): boolean {
    return this.state !== 'between';
  }

  /** True once a framing error was reported; the stream cannot be resynchronised after that. */
  get hasFailed(): boolean {
    return this.failed;
  }

  push(chunk: Buffer): FramerEvent[] {
    if (this.failed) return [];
    this.append(chunk);
    const events: FramerEvent[] = [];
    for (;;) {
      const progressed = this.state === 'between' ? this.skipKeepAlives(events) : this.state === 'headers' ? this.findHeaderEnd(events) : this.takeBody(events);
      if (this.failed || !progressed) break;
    }
    if (!this.failed && this.pendingBytes > this.limits.maxPendingBytes) {
      this.fail(events, `more than ${this.limits.maxPendingBytes} bytes of unframed input`);
    }
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    }
    return events;
  }

  /** Consumes CRLFs before a message; returns false when more input is needed. */
  private skipKeepAlives(events: FramerEvent[]): boolean {
    const available = this.end - this.start;
    if (available === 0) return false;
    const first = this.buf[this.start];
    if (first === LF) {
      this.start += 1; // a bare LF is tolerated like a CRLF
      return true;
    }
    if (first !== CR) {
      this.state = 'headers';
      this.scanFrom = 0;
      return true;
    }
    const prefix = Math.min(available, PING.length);
    if (this.buf.subarray(this.start, this.start + prefix).equals(PING.subarray(0, prefix))) {
      if (prefix < PING.length) return false; // could still become a ping
      this.start += PING.length;
      events.push({ kind: 'ping' });
      return true;
    }
    // CRLF followed by something else (a lone CRLF), or a stray CR: skip it.
    this.start += this.buf[this.start + 1] === LF ? 2 : 1;
    return true;
  }

  /** Looks for the empty line (CRLFCRLF, also LFLF) that ends the header block. */
  private findHeaderEnd(events: FramerEvent[]): boolean {
    const filled = this.buf.subarray(0, this.end);
    let i = this.start + this.scanFrom;
    for (;;) {
      i = filled.indexOf(LF, i);
      if (i === -1) {
        // Re-examine the last two bytes next time: they may begin the terminator.
        return this.awaitHeaderEnd(events, Math.max(0, this.end - this.start - 2));
      }
      let blockEnd = -1;
      if (i + 1 < this.end && this.buf[i + 1] === LF) blockEnd = i + 2;
      else if (i + 2 < this.end && this.buf[i + 1] === CR && this.buf[i + 2] === LF) blockEnd = i + 3;
      else if (i + 1 >= this.end || (i + 2 >= this.end && this.buf[i + 1] === CR)) {
        return this.awaitHeaderEnd(events, i - this.start); // undecided until the next bytes arrive
      }
      if (blockEnd === -1) {
        i += 1;
        continue;
      }
      const headerLength = blockEnd - this.start;
      if (headerLength > this.limits.maxMessageBytes) {
        this.fail(events, `header block larger than ${this.limits.maxMessageBytes} bytes`);
        return false;
      }
      const length = parseContentLength(this.buf.subarray(this.start, blockEnd));
      if (typeof length === 'string') {
        this.fail(events, length);
        return false;
      }
      if (length > this.limits.maxMessageBytes) {
        this.fail(events, `body of ${length} bytes exceeds ${this.limits.maxMessageBytes}`);
        return false;
      }
      this.headerLength = headerLength;
      this.bodyLength = length;
      this.state = 'body';
      return true;
    }
  }

  /** No complete header block yet: remember where to resume, and give up if it is already too large. */
  private awaitHeaderEnd(events: FramerEvent[], resumeAt: number): false {
    this.scanFrom = resumeAt;
    if (this.end - this.start > this.limits.maxMessageBytes) {
      this.fail(events, `header block larger than ${this.limits.maxMessageBytes} bytes`);
    }
    return false;
  }

  private takeBody(events: FramerEvent[]): boolean {
    const total = this.headerLength + this.bodyLength;
    if (this.end - this.start < total) return false;
    // Copy out: the internal buffer is reused for later input.
    events.push({ kind: 'message', data: Buffer.from(this.buf.subarray(this.start, this.start + total)) });
    this.start += total;
    this.state = 'between';
    return true;
  }

  private append(chunk: Buffer): void {
    const pending = this.end - this.start;
    if (this.buf.length - this.end < chunk.length) {
      if (this.buf.length - pending >= chunk.length && this.start > 0) {
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        let capacity = Math.max(this.buf.length, INITIAL_CAPACITY);
        while (capacity - pending < chunk.length) capacity *= 2;
        const grown = Buffer.alloc(capacity);
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      }
      this.start = 0;
      this.end = pending;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  private fail(events: FramerEvent[], reason: string): void {
    this.failed = true;
    this.buf = Buffer.alloc(0);
    this.start = 0;
    this.end = 0;
    events.push({ kind: 'error', reason });
  }
}

/**
 * Content-Length (compact form `l`, RFC 3261 §7.3.3) of a header block: 0 when
 * absent, or a string describing why the value is unusable. Several instances
 * must agree (a disagreement would make the stream ambiguous).
 */
function parseContentLength(block: Buffer): number | string {
  const lines = unfold(block.toString('latin1'));
  let found: number | undefined;
  // lines[0] is the start line.
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n];
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name !== 'content-length' && name !== 'l') continue;
    const value = line.slice(colon + 1).trim();
    if (!/^[0-9]+$/.test(value)) return `invalid Content-Length ${JSON.stringify(value.slice(0, 40))}`;
    if (value.length > MAX_LENGTH_DIGITS) return `Content-Length ${value.slice(0, 20)}… too large`;
    const length = Number(value);
    if (found !== undefined && found !== length) return 'conflicting Content-Length headers';
    found = length;
  }
  return found ?? 0;
}

/** Header lines with continuation lines (leading SP/HT, RFC 3261 §7.3.1) joined to their header. */
function unfold(text: string): string[] {
  const lines: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw === '') continue;
    if ((raw[0] === ' ' || raw[0] === '\t') && lines.length > 0) {
      lines[lines.length - 1] += ' ' + raw.trim();
    } else {
      lines.push(raw);
    }
  }
  return lines;
}
