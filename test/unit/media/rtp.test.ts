import { describe, it, expect } from 'vitest';
import { buildRtp, newRtpView, parseRtp } from '../../../src/media/builtin/rtp.js';

function packet(bytes: number[]): Buffer {
  return Buffer.from(bytes);
}

describe('parseRtp', () => {
  it('reads the fixed header fields and the payload bounds', () => {
    const buf = buildRtp(8, true, 0xfffe, 0xfffffff0, 0xdeadbeef, 3);
    buf.set([1, 2, 3], 12);
    const v = newRtpView();
    expect(parseRtp(buf, v)).toBe(true);
    expect(v).toEqual({ payloadType: 8, marker: true, sequence: 0xfffe, timestamp: 0xfffffff0, ssrc: 0xdeadbeef, payloadOffset: 12, payloadLength: 3 });
  });

  it('skips CSRCs and the extension header, and removes padding', () => {
    // CC = 1, X = 1, P = 1: 12 + 4 (CSRC) + 4 + 4 (one extension word) + 2 payload + 2 padding.
    const buf = packet([0xb1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 9, 9, 9, 0xbe, 0xde, 0, 1, 7, 7, 7, 7, 0xaa, 0xbb, 0, 2]);
    const v = newRtpView();
    expect(parseRtp(buf, v)).toBe(true);
    expect(v.payloadOffset).toBe(24);
    expect(v.payloadLength).toBe(2);
  });

  it('rejects packets that are not valid RTP', () => {
    const v = newRtpView();
    const cases: Buffer[] = [
      packet([0x80, 0, 0]), // shorter than the fixed header
      packet([0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), // version 1
      packet([0x8f, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), // 15 CSRCs announced, none present
      packet([0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde]), // extension header cut short
      packet([0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 9]), // extension longer than the packet
      packet([0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 5, 0]), // padding count 0
      packet([0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 5, 40]), // padding longer than the payload
      packet([0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), // RTCP sender report on the RTP port
    ];
    for (const c of cases) expect(parseRtp(c, v)).toBe(false);
  });
});
