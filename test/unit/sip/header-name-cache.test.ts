// The header-name caches of the parser (found by the fuzzer): a cached name must not keep the
// message it was read from alive, nor be a huge name itself. A name sliced out of the header block
// is, to V8, a view on the whole block; cached as it is, each of the few thousand cache slots could
// pin a 64 KB message.
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../src/sip/parser.js';
import { headerKey } from '../../../src/sip/headers.js';
import { heapAfterGc } from '../../support/heap.js';

/** A request with one header of a name never seen before, and a 60 KB header beside it. */
function message(n: number): Buffer {
  return Buffer.from(
    [
      'OPTIONS sip:hibiki.test SIP/2.0',
      `Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-cache-${n}`,
      `X-Unheard-Of-Header-${n}: 1`,
      `X-Filler: ${'f'.repeat(60_000)}`,
      'From: <sip:a@hibiki.test>;tag=1',
      'To: <sip:hibiki.test>',
      `Call-ID: cache-${n}`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
    'latin1',
  );
}

describe('header-name caches', () => {
  it('do not keep the messages their names came from', () => {
    // Fills the caches with what earlier tests in this process left out.
    for (let n = 0; n < 50; n++) parseMessage(message(-1 - n));
    const before = heapAfterGc();
    for (let n = 0; n < 600; n++) {
      const parsed = parseMessage(message(n));
      expect(parsed.ok).toBe(true);
    }
    const growth = heapAfterGc() - before;
    // 600 pinned header blocks would be 36 MB; 600 cached names are a few tens of KB.
    expect(growth).toBeLessThan(4 * 1024 * 1024);
  });

  it('do not keep overlong names', () => {
    const long = (n: number): Buffer => Buffer.from(`OPTIONS sip:hibiki.test SIP/2.0\r\nX-${n}-${'n'.repeat(30_000)}: 1\r\nCall-ID: long-${n}\r\nContent-Length: 0\r\n\r\n`, 'latin1');
    for (let n = 0; n < 20; n++) parseMessage(long(-1 - n));
    const before = heapAfterGc();
    for (let n = 0; n < 600; n++) parseMessage(long(n));
    // 600 cached 30 KB names would be 18 MB.
    expect(heapAfterGc() - before).toBeLessThan(4 * 1024 * 1024);
  });

  it('still map every spelling to its key once the cache has filled up', () => {
    for (let n = 0; n < 10_000; n++) headerKey(`X-Junk-${n}`);
    expect(headerKey('Content-Length')).toBe('content-length');
    expect(headerKey('l')).toBe('content-length');
    expect(headerKey('X-Junk-5')).toBe('x-junk-5');
  });
});
