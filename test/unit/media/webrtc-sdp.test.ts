// Telling a browser's (WebRTC) offer from a desk phone's plain RTP offer, and the checks hibiki makes on a
// WebRTC offer before relaying it through rtpengine (issue #16): a real Chromium offer passes, an offer
// without G.711 or without audio earns 488, and text that is not SDP earns 400.
import { describe, expect, it } from 'vitest';
import { MediaError } from '../../../src/media/engine.js';
import { checkWebRtcOffer } from '../../../src/media/rtpengine/webrtc-sdp.js';
import { mediaProfileOf } from '../../../src/media/sdp.js';

const crlf = (lines: string[]): string => lines.join('\r\n') + '\r\n';

/** An offer Chromium made (audio only), as it arrives over SIP-over-WebSocket. */
const CHROMIUM_OFFER = crlf([
  'v=0',
  'o=- 1862959175662582674 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:xIF9',
  'a=ice-pwd:smNKa1Ijh5hfT5NVfwN0AB0N',
  'a=fingerprint:sha-256 93:7E:B0:20:98:BB:41:E7:95:5D:B5:1F:57:E6:64:A2:FE:E2:28:BC:47:2E:2E:5F:83:57:41:52:5A:1C:03:40',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=rtpmap:63 red/48000/2',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:13 CN/8000',
  'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:126 telephone-event/8000',
]);

/** What a desk phone sends: RTP/AVP, no ICE, no DTLS fingerprint. */
const DESK_PHONE_OFFER = crlf([
  'v=0',
  'o=- 4711 1 IN IP4 192.0.2.20',
  's=-',
  'c=IN IP4 192.0.2.20',
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=sendrecv',
]);

/** The Chromium offer with its audio stream cut down to Opus only. */
const OPUS_ONLY_OFFER = CHROMIUM_OFFER.replace('m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126', 'm=audio 9 UDP/TLS/RTP/SAVPF 111 110')
  .split('\r\n')
  .filter((l) => !/^a=rtpmap:(63|9|0|8|13|126) /.test(l))
  .join('\r\n');

/** A WebRTC offer with a video stream and no audio stream. */
const VIDEO_ONLY_OFFER = CHROMIUM_OFFER.replace('m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126', 'm=video 9 UDP/TLS/RTP/SAVPF 96 97')
  .split('\r\n')
  .filter((l) => !l.startsWith('a=rtpmap:'))
  .join('\r\n')
  .concat('a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n');

/** The MediaError that checkWebRtcOffer throws for `sdp`; the test fails if it throws nothing or something else. */
function refusal(sdp: string): MediaError {
  let caught: unknown;
  try {
    checkWebRtcOffer(sdp);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(MediaError);
  return caught as MediaError;
}

describe('mediaProfileOf', () => {
  it("takes Chromium's offer for WebRTC", () => {
    expect(mediaProfileOf(CHROMIUM_OFFER)).toBe('webrtc');
  });

  it("does not take a desk phone's RTP/AVP offer for WebRTC", () => {
    expect(mediaProfileOf(DESK_PHONE_OFFER)).toBe('rtp');
  });

  it('does not take a desk phone that also does ICE, or SDES-SRTP, for a browser: only the transport profile counts', () => {
    expect(mediaProfileOf(DESK_PHONE_OFFER.replace('a=sendrecv', 'a=ice-ufrag:abcd\r\na=sendrecv'))).toBe('rtp');
    expect(mediaProfileOf(DESK_PHONE_OFFER.replace('RTP/AVP', 'RTP/SAVP').replace('a=sendrecv', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\na=sendrecv'))).toBe('rtp');
  });

  it('takes RTP/SAVPF with a DTLS fingerprint for WebRTC, and not without one', () => {
    const savpf = DESK_PHONE_OFFER.replace('RTP/AVP', 'RTP/SAVPF');
    expect(mediaProfileOf(savpf.replace('a=sendrecv', 'a=fingerprint:sha-256 00:11\r\na=sendrecv'))).toBe('webrtc');
    expect(mediaProfileOf(savpf)).toBe('rtp');
  });
});

describe('checkWebRtcOffer', () => {
  it("accepts Chromium's offer: it offers PCMU and PCMA next to Opus", () => {
    expect(() => checkWebRtcOffer(CHROMIUM_OFFER)).not.toThrow();
  });

  it('accepts G.711 offered on a dynamic payload type', () => {
    const dynamic = CHROMIUM_OFFER.replace('m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126', 'm=audio 9 UDP/TLS/RTP/SAVPF 111 96').concat('a=rtpmap:96 PCMA/8000\r\n');
    expect(() => checkWebRtcOffer(dynamic.replace(/^a=rtpmap:(0|8) .*\r\n/gm, ''))).not.toThrow();
  });

  it('refuses an Opus-only offer with 488 (rtpengine would have to transcode)', () => {
    expect(mediaProfileOf(OPUS_ONLY_OFFER)).toBe('webrtc');
    const e = refusal(OPUS_ONLY_OFFER);
    expect(e.sipStatus).toBe(488);
    expect(e.message).toMatch(/G\.711/);
  });

  it('refuses an offer without an audio stream with 488', () => {
    expect(VIDEO_ONLY_OFFER).toMatch(/^m=video /m);
    expect(VIDEO_ONLY_OFFER).not.toMatch(/^m=audio /m);
    const e = refusal(VIDEO_ONLY_OFFER);
    expect(e.sipStatus).toBe(488);
    expect(e.message).toMatch(/audio/);
  });

  it('refuses text that is not SDP with 400', () => {
    expect(refusal('hello, this is not SDP\r\nm=audio banana\r\n').sipStatus).toBe(400);
    expect(refusal('').sipStatus).toBe(400);
  });
});
