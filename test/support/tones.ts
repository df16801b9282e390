// What a test UA hears, by frequency, over its last frames: for calls where several parties' tones are mixed
// (conference rooms, monitoring), so the marked test-tone frames of talking() cannot be used.
import { alawDecode, toneShare, ulawDecode } from './audio.js';
import { waitUntil } from './call-helpers.js';
import type { RtpPeer } from './rtp-peer.js';

/** Anything with an RTP peer: a test UA's call, a SIP.js call. */
type Listener = { rtp: RtpPeer };

/** The share of a tone in the audio a call received over its last `frames` 20 ms frames (0–1). */
export function heard(call: Listener, hz: number, frames = 25): number {
  const eventPt = call.rtp.telephoneEventPt;
  const decode = (call.rtp.remote?.codec ?? 'PCMU') === 'PCMU' ? ulawDecode : alawDecode;
  const audio = call.rtp.packets.filter((p) => p.payloadType !== eventPt && p.payload.length === 160).slice(-frames);
  if (audio.length < frames) return 0;
  let sum = 0;
  for (const p of audio) sum += toneShare(Array.from(p.payload, decode), hz);
  return sum / audio.length;
}

/** How many 20 ms frames a call received that are a clean tone at `hz` (a prompt or signal tone). */
export function toneFrames(call: Listener, hz: number): number {
  const eventPt = call.rtp.telephoneEventPt;
  const decode = (call.rtp.remote?.codec ?? 'PCMU') === 'PCMU' ? ulawDecode : alawDecode;
  let n = 0;
  for (const p of call.rtp.packets) if (p.payloadType !== eventPt && p.payload.length === 160 && toneShare(Array.from(p.payload, decode), hz) > 0.8) n++;
  return n;
}

/** Wait until what `call` hears has each tone of `present` (a fifth of the power or more) and none of `absent`. */
export async function hears(call: Listener, present: number[], absent: number[], timeoutMs = 15_000): Promise<void> {
  await waitUntil(() => present.every((hz) => heard(call, hz) > 0.2) && absent.every((hz) => heard(call, hz) < 0.05), timeoutMs).catch(() => {
    throw new Error(`heard ${[...present, ...absent].map((hz) => `${hz} Hz ${heard(call, hz).toFixed(2)}`).join(', ')}; wanted ${present.join('+')} and not ${absent.join(', ')}`);
  });
}
