import { describe, it, expect } from 'vitest';
import { OutStream } from '../../../src/media/builtin/out-stream.js';
import { newRtpView, parseRtp } from '../../../src/media/builtin/rtp.js';
import { rtpPacket } from './rtp-phone.js';

function send(out: OutStream, source: number, ssrc: number, seq: number, ts: number, now: number): { seq: number; ts: number; ssrc: number; switched: boolean } {
  const buf = rtpPacket({ pt: 0, seq, ts, ssrc, payload: new Uint8Array(160) });
  const switched = out.rewrite(buf, source, ssrc, 0, now);
  const v = newRtpView();
  parseRtp(buf, v);
  return { seq: v.sequence, ts: v.timestamp, ssrc: v.ssrc, switched };
}

describe('OutStream', () => {
  it('keeps one SSRC and contiguous numbering across a change of source', () => {
    const out = new OutStream();
    const a = [0, 1, 2].map((i) => send(out, 1, 111, 65534 + i, 4_294_967_000 + i * 160, i * 20));
    expect(a.every((p) => p.ssrc === out.ssrc)).toBe(true);
    expect(a[1]!.seq).toBe((a[0]!.seq + 1) & 0xffff);
    expect(a[2]!.ts).toBe((a[1]!.ts + 160) >>> 0);
    // 100 ms after the last packet another source starts with unrelated numbers.
    const b = send(out, 2, 222, 7, 12345, 140);
    expect(b.switched).toBe(true);
    expect(b.ssrc).toBe(out.ssrc);
    expect(b.seq).toBe((a[2]!.seq + 1) & 0xffff);
    expect(b.ts).toBe((a[2]!.ts + 800) >>> 0);
    const b2 = send(out, 2, 222, 8, 12505, 160);
    expect(b2.switched).toBe(false);
    expect(b2.seq).toBe((b.seq + 1) & 0xffff);
    expect(b2.ts).toBe((b.ts + 160) >>> 0);
  });

  it('treats a new SSRC from the same source as a change of source', () => {
    const out = new OutStream();
    const a = send(out, 1, 111, 10, 1000, 0);
    const b = send(out, 1, 999, 500, 90000, 20);
    expect(b.switched).toBe(true);
    expect(b.seq).toBe((a.seq + 1) & 0xffff);
    expect(b.ts).toBe((a.ts + 160) >>> 0);
  });

  it('maps a reordered packet but does not move the stream back', () => {
    const out = new OutStream();
    const p1 = send(out, 1, 1, 100, 0, 0);
    send(out, 1, 1, 102, 320, 40);
    const late = send(out, 1, 1, 101, 160, 41);
    expect(late.seq).toBe((p1.seq + 1) & 0xffff);
    const next = send(out, 2, 2, 0, 0, 60);
    expect(next.seq).toBe((p1.seq + 3) & 0xffff);
  });
});
