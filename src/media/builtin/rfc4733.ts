// RFC 4733 telephone-event payloads: parse/build, and the receiver that turns a stream of event packets
// into one digit per key press.

/** Event codes 0–15 (RFC 4733 §3.2): 0–9, *, #, A–D. */
const DIGITS = '0123456789*#ABCD';

export function digitToEvent(digit: string): number {
  return digit.length === 1 ? DIGITS.indexOf(digit.toUpperCase()) : -1;
}

export function eventToDigit(event: number): string | undefined {
  return event >= 0 && event < DIGITS.length ? DIGITS[event] : undefined;
}

export interface TelephoneEvent {
  event: number;
  end: boolean;
  volume: number;
  /** In timestamp units (8 kHz: 8 per ms). */
  duration: number;
}

export const TELEPHONE_EVENT_LENGTH = 4;

/** §2.3: event (8 bits), E, R, volume (6 bits), duration (16 bits). False when the payload is too short. */
export function parseTelephoneEvent(buf: Uint8Array, offset: number, length: number, out: TelephoneEvent): boolean {
  if (length < TELEPHONE_EVENT_LENGTH) return false;
  out.event = buf[offset]!;
  const b1 = buf[offset + 1]!;
  out.end = (b1 & 0x80) !== 0;
  out.volume = b1 & 0x3f;
  out.duration = (buf[offset + 2]! << 8) | buf[offset + 3]!;
  return true;
}

export function writeTelephoneEvent(buf: Uint8Array, offset: number, ev: TelephoneEvent): void {
  buf[offset] = ev.event & 0xff;
  buf[offset + 1] = (ev.end ? 0x80 : 0) | (ev.volume & 0x3f);
  const duration = Math.min(ev.duration, 0xffff);
  buf[offset + 2] = (duration >> 8) & 0xff;
  buf[offset + 3] = duration & 0xff;
}

/** How long a digit may go without its end packet before it is reported anyway. */
export const DTMF_NO_END_TIMEOUT_MS = 1000;

/**
 * Reports each key press once. An event is identified by SSRC + RTP timestamp: all packets of one event
 * (start, updates, the end packet and its retransmissions, §2.5.1.4) share the timestamp of its start, and
 * a new key press has a new timestamp. The digit is reported at its first end packet (with the final
 * duration); if no end packet arrives within DTMF_NO_END_TIMEOUT_MS of the first packet (ends lost, or a
 * very long press), it is reported then with the duration seen so far, and its later packets are ignored.
 * A new event before the previous one ended also reports the previous one.
 */
export class DtmfReceiver {
  private ssrc = -1;
  private timestamp = -1;
  private event = -1;
  private duration = 0;
  private reported = true;
  private timer: NodeJS.Timeout | undefined;
  // The event reported before the current one, so a late end packet of it is not taken for a new press.
  private previousSsrc = -1;
  private previousTimestamp = -1;

  constructor(
    private readonly emit: (digit: string, durationMs: number) => void,
    private readonly noEndTimeoutMs = DTMF_NO_END_TIMEOUT_MS,
  ) {}

  onPacket(ssrc: number, timestamp: number, ev: TelephoneEvent): void {
    if (ssrc === this.ssrc && timestamp === this.timestamp) {
      if (this.reported) return;
      this.duration = Math.max(this.duration, ev.duration);
      if (ev.end) this.report();
      return;
    }
    if (ssrc === this.previousSsrc && timestamp === this.previousTimestamp) return;
    if (!this.reported) this.report();
    this.previousSsrc = this.ssrc;
    this.previousTimestamp = this.timestamp;
    this.ssrc = ssrc;
    this.timestamp = timestamp;
    this.event = ev.event;
    this.duration = ev.duration;
    this.reported = false;
    if (ev.end) {
      this.report();
      return;
    }
    this.timer = setTimeout(() => this.report(), this.noEndTimeoutMs);
    this.timer.unref();
  }

  dispose(): void {
    this.clearTimer();
    this.reported = true;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private report(): void {
    this.clearTimer();
    if (this.reported) return;
    this.reported = true;
    const digit = eventToDigit(this.event);
    // Flash (16) and the tone events above it are not digits: tracked for dedupe, not reported.
    if (digit !== undefined) this.emit(digit, Math.round(this.duration / 8));
  }
}
