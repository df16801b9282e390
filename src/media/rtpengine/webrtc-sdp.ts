// The checks hibiki can make on a WebRTC offer without asking rtpengine (a B2BUA checks an offer before
// relaying it; rtpengine's own offer would change state). Which SDP is WebRTC: sdp.ts mediaProfileOf.
import { MediaError } from '../engine.js';

/**
 * Whether rtpengine can bridge this WebRTC offer to a G.711 endpoint without transcoding: it must be SDP
 * with an audio stream that offers PCMU or PCMA (every browser does). Throws the MediaError the offer earns.
 */
export function checkWebRtcOffer(sdp: string): void {
  if (!/^v=0\r?$/m.test(sdp)) throw new MediaError('malformed SDP: no v=0 line', 400);
  const audio = /^m=audio \d+(?:\/\d+)? \S+ ([\d ]+)\r?$/m.exec(sdp);
  if (!audio) throw new MediaError('no audio stream offered', 488);
  const pts = (audio[1] as string).trim().split(/\s+/);
  const g711 = pts.some((pt) => pt === '0' || pt === '8' || new RegExp(`^a=rtpmap:${pt} (PCMU|PCMA)/8000`, 'mi').test(sdp));
  if (!g711) throw new MediaError('no G.711 codec (PCMU/PCMA) offered', 488);
}
