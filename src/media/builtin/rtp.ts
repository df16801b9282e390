// RTP fixed header (RFC 3550 §5.1): validation of untrusted packets and in-place field rewrites. The relay
// reads into one reusable view object so the per-packet path allocates nothing.

export const RTP_HEADER_LENGTH = 12;

export interface RtpView {
  payloadType: number;
  marker: boolean;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payloadOffset: number;
  payloadLength: number;
}

export function newRtpView(): RtpView {
  return { payloadType: 0, marker: false, sequence: 0, timestamp: 0, ssrc: 0, payloadOffset: 0, payloadLength: 0 };
}

/**
 * Fills `view` from `buf`; false when it is not an RTP packet we can handle: version ≠ 2, shorter than its
 * CSRC list and extension header (§5.3.1), padding longer than the payload (§5.1 P bit), or RTCP sent to
 * the RTP port (RFC 5761 §4: packet types 200–204 show as payload types 72–76). `length`: the datagram's
 * length when `buf` is a larger reused buffer.
 */
export function parseRtp(buf: Uint8Array, view: RtpView, length = buf.length): boolean {
  if (length < RTP_HEADER_LENGTH) return false;
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2) return false;
  const b1 = buf[1]!;
  const payloadType = b1 & 0x7f;
  if (payloadType >= 72 && payloadType <= 76) return false;
  let offset = RTP_HEADER_LENGTH + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    if (offset + 4 > length) return false;
    offset += 4 + ((buf[offset + 2]! << 8) | buf[offset + 3]!) * 4;
  }
  let padding = 0;
  if (b0 & 0x20) {
    padding = buf[length - 1]!;
    if (padding === 0) return false;
  }
  const payloadLength = length - offset - padding;
  if (payloadLength < 0) return false;
  view.payloadType = payloadType;
  view.marker = (b1 & 0x80) !== 0;
  view.sequence = (buf[2]! << 8) | buf[3]!;
  view.timestamp = ((buf[4]! << 24) | (buf[5]! << 16) | (buf[6]! << 8) | buf[7]!) >>> 0;
  view.ssrc = ((buf[8]! << 24) | (buf[9]! << 16) | (buf[10]! << 8) | buf[11]!) >>> 0;
  view.payloadOffset = offset;
  view.payloadLength = payloadLength;
  return true;
}

export function setPayloadType(buf: Uint8Array, payloadType: number, marker: boolean): void {
  buf[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
}

export function writeSequence(buf: Uint8Array, sequence: number): void {
  buf[2] = (sequence >> 8) & 0xff;
  buf[3] = sequence & 0xff;
}

export function writeUint32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = (value >>> 24) & 0xff;
  buf[offset + 1] = (value >>> 16) & 0xff;
  buf[offset + 2] = (value >>> 8) & 0xff;
  buf[offset + 3] = value & 0xff;
}

/** A packet with a bare 12-byte header (no CSRC, no extension) and room for `payloadLength` bytes. */
export function buildRtp(payloadType: number, marker: boolean, sequence: number, timestamp: number, ssrc: number, payloadLength: number): Buffer {
  const buf = Buffer.allocUnsafe(RTP_HEADER_LENGTH + payloadLength);
  buf[0] = 0x80;
  setPayloadType(buf, payloadType, marker);
  writeSequence(buf, sequence);
  writeUint32(buf, 4, timestamp);
  writeUint32(buf, 8, ssrc);
  return buf;
}
