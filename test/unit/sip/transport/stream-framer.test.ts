import { describe, it, expect } from 'vitest';
import { StreamFramer, type FramerEvent } from '../../../../src/sip/transport/stream-framer.js';

const LIMITS = { maxMessageBytes: 65535, maxPendingBytes: 256 * 1024 };

function framer(limits = LIMITS): StreamFramer {
  return new StreamFramer(limits);
}

function request(body = '', extra = ''): string {
  return (
    'INVITE sip:bob@example.com SIP/2.0\r\n' +
    'Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n' +
    'Call-ID: a84b4c76e66710@pc33.example.com\r\n' +
    'CSeq: 1 INVITE\r\n' +
    extra +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    '\r\n' +
    body
  );
}

const SDP = 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

function feedAll(f: StreamFramer, chunks: Buffer[]): FramerEvent[] {
  return chunks.flatMap((c) => f.push(c));
}

function messages(events: FramerEvent[]): string[] {
  return events.flatMap((e) => (e.kind === 'message' ? [e.data.toString('latin1')] : []));
}

function byteChunks(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'latin1');
  return [...bytes].map((b) => Buffer.from([b]));
}

describe('StreamFramer', () => {
  it('frames a message fed in one chunk', () => {
    const msg = request(SDP);
    const events = framer().push(Buffer.from(msg));
    expect(messages(events)).toEqual([msg]);
  });

  it('frames the same message whatever byte it is split at', () => {
    const msg = request(SDP);
    const bytes = Buffer.from(msg, 'latin1');
    for (let cut = 1; cut < bytes.length; cut++) {
      const f = framer();
      const events = feedAll(f, [bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(messages(events), `split at ${cut}`).toEqual([msg]);
      expect(f.pendingBytes).toBe(0);
    }
  });

  it('frames messages fed one byte at a time', () => {
    const first = request(SDP);
    const second = request('', 'Subject: second\r\n');
    const events = feedAll(framer(), byteChunks(first + second));
    expect(messages(events)).toEqual([first, second]);
  });

  it('emits two messages that arrive in one chunk, and keeps a partial third', () => {
    const a = request('hello');
    const b = request('world!');
    const c = request('third');
    const f = framer();
    const events = f.push(Buffer.from(a + b + c.slice(0, 20)));
    expect(messages(events)).toEqual([a, b]);
    expect(f.pendingBytes).toBe(20);
    expect(messages(f.push(Buffer.from(c.slice(20))))).toEqual([c]);
  });

  it('does not end the message at a CRLFCRLF inside the body', () => {
    const body = 'part one\r\n\r\npart two\r\n\r\n';
    const msg = request(body);
    const next = request('x');
    const events = framer().push(Buffer.from(msg + next));
    expect(messages(events)).toEqual([msg, next]);
  });

  it('counts the body in bytes, not characters', () => {
    const body = 'é€ and more';
    const msg = request(body);
    const next = request();
    const events = framer().push(Buffer.concat([Buffer.from(msg, 'utf8'), Buffer.from(next, 'utf8')]));
    expect(events.map((e) => e.kind)).toEqual(['message', 'message']);
    const [first] = events;
    expect(first.kind === 'message' && first.data.toString('utf8')).toBe(msg);
  });

  it('accepts the compact form l, in any case, with odd spacing', () => {
    const head = 'MESSAGE sip:a@b SIP/2.0\r\nCall-ID: x\r\n';
    for (const line of ['l: 5', 'L:5', 'l :  5  ', 'CONTENT-LENGTH: 5', 'content-length:\t5']) {
      const msg = `${head}${line}\r\n\r\nabcde`;
      const events = framer().push(Buffer.from(msg + 'OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n'));
      expect(messages(events)[0], line).toBe(msg);
      expect(events).toHaveLength(2);
    }
  });

  it('reads a Content-Length folded onto a continuation line', () => {
    const msg = 'MESSAGE sip:a@b SIP/2.0\r\nContent-Length:\r\n   3\r\n\r\nabc';
    expect(messages(framer().push(Buffer.from(msg)))).toEqual([msg]);
  });

  it('treats a missing Content-Length as an empty body', () => {
    const msg = 'OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n';
    const next = 'OPTIONS sip:a@b SIP/2.0\r\nCall-ID: y\r\n\r\n';
    expect(messages(framer().push(Buffer.from(msg + next)))).toEqual([msg, next]);
  });

  it('accepts LF-only line ends', () => {
    const msg = 'OPTIONS sip:a@b SIP/2.0\nl: 2\n\nok';
    const events = feedAll(framer(), byteChunks(msg + msg));
    expect(messages(events)).toEqual([msg, msg]);
  });

  it('skips CRLFs before a message without reporting a ping for a lone CRLF', () => {
    const msg = request();
    const events = framer().push(Buffer.from('\r\n' + msg + '\r\n' + msg));
    expect(events.map((e) => e.kind)).toEqual(['message', 'message']);
  });

  it('reports a CRLFCRLF keep-alive between messages as a ping, even split byte by byte', () => {
    const msg = request();
    const events = feedAll(framer(), byteChunks('\r\n\r\n' + msg + '\r\n\r\n' + '\r\n\r\n' + msg));
    expect(events.map((e) => e.kind)).toEqual(['ping', 'message', 'ping', 'ping', 'message']);
  });

  it('waits for more input after a lone CRLF before deciding it is not a ping', () => {
    const f = framer();
    expect(f.push(Buffer.from('\r\n'))).toEqual([]);
    expect(f.push(Buffer.from('\r'))).toEqual([]);
    expect(f.push(Buffer.from('\n')).map((e) => e.kind)).toEqual(['ping']);
  });

  it('fails on a Content-Length that is not a non-negative integer', () => {
    for (const value of ['-1', 'abc', '1.5', '', '12 34', '0x10']) {
      const events = framer().push(Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nContent-Length: ${value}\r\n\r\n`));
      expect(events.at(-1)?.kind, JSON.stringify(value)).toBe('error');
    }
  });

  it('fails on conflicting Content-Length headers', () => {
    const events = framer().push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nab'));
    expect(events.map((e) => e.kind)).toEqual(['error']);
  });

  it('fails on a body larger than maxMessageBytes without waiting for it', () => {
    const f = framer({ maxMessageBytes: 1000, maxPendingBytes: 256 * 1024 });
    const events = f.push(Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 1001\r\n\r\n'));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'error' });
    expect(f.hasFailed).toBe(true);
  });

  it('fails on a header block larger than maxMessageBytes, even when it never ends', () => {
    const f = framer({ maxMessageBytes: 1000, maxPendingBytes: 256 * 1024 });
    const line = 'X-Filler: ' + 'a'.repeat(88) + '\r\n';
    const events: FramerEvent[] = [];
    events.push(...f.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\n')));
    for (let i = 0; i < 11 && events.length === 0; i++) events.push(...f.push(Buffer.from(line)));
    expect(events.map((e) => e.kind)).toEqual(['error']);
  });

  it('accepts a message exactly at the limits', () => {
    const head = 'MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\n';
    const f = framer({ maxMessageBytes: head.length, maxPendingBytes: 256 * 1024 });
    expect(messages(f.push(Buffer.from(head + '0123456789')))).toEqual([head + '0123456789']);
  });

  it('fails when unframed input exceeds maxPendingBytes', () => {
    const f = framer({ maxMessageBytes: 65535, maxPendingBytes: 100 });
    const events = f.push(Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 500\r\n\r\n' + 'x'.repeat(100)));
    expect(events.map((e) => e.kind)).toEqual(['error']);
  });

  it('delivers the messages that precede a framing error, then nothing more', () => {
    const good = request();
    const f = framer();
    const events = f.push(Buffer.from(good + 'OPTIONS sip:a@b SIP/2.0\r\nl: nope\r\n\r\n'));
    expect(events.map((e) => e.kind)).toEqual(['message', 'error']);
    expect(f.push(Buffer.from(good))).toEqual([]);
  });

  it('returns copies that later input does not overwrite', () => {
    const f = framer();
    const a = request('first');
    const [ev] = f.push(Buffer.from(a));
    f.push(Buffer.from(request('second') + request('third')));
    expect(ev.kind === 'message' && ev.data.toString()).toBe(a);
  });
});
