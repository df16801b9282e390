// The one RTP stream a leg receives from us. Whatever feeds it (the bridged peer, a later peer after a
// re-bridge, a prompt, generated DTMF) the leg sees a single SSRC with contiguous sequence numbers and
// timestamps that follow real time, so its jitter buffer never has to resynchronise (RFC 3550 §5.1, §8.2:
// a receiver treats a new SSRC as a new source; RFC 7160 on timestamp jumps).
import type { OutStreamState } from './protocol.js';
import { writeSequence, writeUint32 } from './rtp.js';

const CLOCK_PER_MS = 8;
const FRAME_SAMPLES = 160;

function random32(): number {
  return (Math.random() * 0x1_0000_0000) >>> 0;
}

export class OutStream {
  /** Not readonly only for restore(): an endpoint moved to another worker keeps its SSRC. */
  ssrc: number = random32();
  // RFC 3550 §5.1: initial sequence number and timestamp are random.
  private lastSequence = (Math.random() * 0x10000) & 0xffff;
  private lastTimestamp = random32();
  /** Timestamp units the last packet covers after its timestamp (a telephone-event's duration). */
  private lastExtent = 0;
  private lastSentAt = -1;
  private source = -1;
  private sourceSsrc = -1;
  private sequenceDelta = 0;
  private timestampDelta = 0;

  /** Where the stream has got to, for the worker an endpoint moves to (times on the wall clock). */
  state(): OutStreamState {
    const at = this.lastSentAt < 0 ? -1 : performance.timeOrigin + this.lastSentAt;
    return { ssrc: this.ssrc, lastSequence: this.lastSequence, lastTimestamp: this.lastTimestamp, lastExtent: this.lastExtent, lastSentAt: at };
  }

  /** Goes on from a state(): whatever feeds it next is mapped to continue it (a feed switch). */
  restore(s: OutStreamState): void {
    this.ssrc = s.ssrc;
    this.lastSequence = s.lastSequence;
    this.lastTimestamp = s.lastTimestamp;
    this.lastExtent = s.lastExtent;
    this.lastSentAt = s.lastSentAt < 0 ? -1 : s.lastSentAt - performance.timeOrigin;
    this.source = -1;
    this.sourceSsrc = -1;
  }

  /**
   * Rewrites sequence number, timestamp and SSRC of the packet in place. `source` names the feed (an endpoint
   * or a generator) and `sourceSsrc` its own SSRC; on a change of either, the new feed's numbering is mapped
   * to continue ours: sequence + 1, timestamp + the time elapsed since our last packet (at least one frame).
   * Returns true when the feed changed (the caller marks the packet as the start of a talkspurt).
   */
  rewrite(buf: Uint8Array, source: number, sourceSsrc: number, extent: number, now: number): boolean {
    const sequence = (buf[2]! << 8) | buf[3]!;
    const timestamp = ((buf[4]! << 24) | (buf[5]! << 16) | (buf[6]! << 8) | buf[7]!) >>> 0;
    const switched = source !== this.source || sourceSsrc !== this.sourceSsrc;
    if (switched) {
      this.source = source;
      this.sourceSsrc = sourceSsrc;
      const nextSequence = (this.lastSequence + 1) & 0xffff;
      let nextTimestamp = this.lastTimestamp;
      if (this.lastSentAt >= 0) {
        const elapsed = Math.max(FRAME_SAMPLES, Math.round((now - this.lastSentAt) * CLOCK_PER_MS));
        nextTimestamp = (this.lastTimestamp + this.lastExtent + elapsed) >>> 0;
      }
      this.sequenceDelta = (nextSequence - sequence) & 0xffff;
      this.timestampDelta = (nextTimestamp - timestamp) >>> 0;
    }
    const outSequence = (sequence + this.sequenceDelta) & 0xffff;
    const outTimestamp = (timestamp + this.timestampDelta) >>> 0;
    writeSequence(buf, outSequence);
    writeUint32(buf, 4, outTimestamp);
    writeUint32(buf, 8, this.ssrc);
    // A reordered (older) packet is sent with its mapped numbers but does not move the stream's position.
    if (switched || this.lastSentAt < 0 || ((outSequence - this.lastSequence) & 0xffff) < 0x8000) {
      this.lastSequence = outSequence;
      this.lastTimestamp = outTimestamp;
      this.lastExtent = extent;
      this.lastSentAt = now;
    }
    return switched;
  }
}
