// SDP (RFC 4566) parsing and building, and the RFC 3264 offer/answer rules for one G.711 audio stream with
// telephone-event (RFC 4733). Only what an audio B2BUA needs: every other stream is declined with port 0.
// Input comes from the network: every failure is a MediaError (400 malformed, 488 unusable), never another throw.
import { MediaError, type Codec, type Direction, type MediaProfile, type NegotiatedMedia } from './engine.js';

export interface SdpConnection {
  addrType: 'IP4' | 'IP6';
  address: string;
}

export interface SdpAttribute {
  name: string;
  value: string | null;
}

export interface SdpMedia {
  type: string;
  port: number;
  proto: string;
  formats: string[];
  connection: SdpConnection | null;
  attributes: SdpAttribute[];
}

export interface SessionDescription {
  /** The t= line as written (copied into answers, RFC 3264 §6). */
  timing: string;
  connection: SdpConnection | null;
  attributes: SdpAttribute[];
  media: SdpMedia[];
}

/** What an RTP payload type carries on a leg. */
export type PayloadKind = Codec | 'telephone-event';

export const DEFAULT_TELEPHONE_EVENT_PT = 101;
const DIRECTIONS: readonly Direction[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];
const STATIC_PT: ReadonlyMap<number, Codec> = new Map([
  [0, 'PCMU'],
  [8, 'PCMA'],
]);
const CODEC_PT: Record<Codec, number> = { PCMU: 0, PCMA: 8 };

function malformed(why: string): MediaError {
  return new MediaError(`malformed SDP: ${why}`, 400);
}

function parseConnection(value: string): SdpConnection {
  const parts = value.trim().split(/\s+/);
  if (parts.length !== 3 || parts[0] !== 'IN' || (parts[1] !== 'IP4' && parts[1] !== 'IP6')) throw malformed(`c=${value}`);
  // RFC 4566 §5.7: multicast addresses may carry /ttl and /count suffixes; the address is what precedes them.
  const address = parts[2]!.split('/')[0]!;
  if (address === '') throw malformed(`c=${value}`);
  return { addrType: parts[1], address };
}

function parseAttribute(value: string): SdpAttribute {
  const colon = value.indexOf(':');
  if (colon < 0) return { name: value.trim(), value: null };
  return { name: value.slice(0, colon).trim(), value: value.slice(colon + 1).trim() };
}

function parseMediaLine(value: string): SdpMedia {
  const parts = value.trim().split(/\s+/);
  if (parts.length < 3) throw malformed(`m=${value}`);
  const portText = parts[1]!.split('/')[0]!;
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw malformed(`m=${value}`);
  return { type: parts[0]!, port: Number(portText), proto: parts[2]!, formats: parts.slice(3), connection: null, attributes: [] };
}

/** Parses SDP text; throws MediaError(400) when it is not SDP. Unknown line types are ignored. */
/**
 * What the SDP's party speaks, from its audio stream's transport profile alone: WebRTC is DTLS-SRTP with
 * feedback (UDP/TLS/RTP/SAVPF, or RTP/SAVPF with a DTLS fingerprint). A desk phone that also does ICE, or
 * SDES-SRTP, is not a browser.
 */
export function mediaProfileOf(sdp: string): MediaProfile {
  const proto = /^m=audio \d+(?:\/\d+)? (\S+)/m.exec(sdp)?.[1];
  if (proto === 'UDP/TLS/RTP/SAVPF') return 'webrtc';
  if (proto === 'RTP/SAVPF' && /^a=fingerprint:/m.test(sdp)) return 'webrtc';
  return 'rtp';
}

export function parseSdp(text: string): SessionDescription {
  if (typeof text !== 'string') throw malformed('no body');
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines[0]?.trim() !== 'v=0') throw malformed('does not start with v=0');
  const sd: SessionDescription = { timing: '0 0', connection: null, attributes: [], media: [] };
  let current: SdpMedia | null = null;
  for (const line of lines.slice(1)) {
    if (line.length < 2 || line[1] !== '=') throw malformed(`line "${line.slice(0, 40)}"`);
    const type = line[0];
    const value = line.slice(2);
    switch (type) {
      case 'm':
        current = parseMediaLine(value);
        sd.media.push(current);
        break;
      case 'c':
        if (current) current.connection = parseConnection(value);
        else sd.connection = parseConnection(value);
        break;
      case 'a':
        (current ? current.attributes : sd.attributes).push(parseAttribute(value));
        break;
      case 't':
        if (!current) sd.timing = value.trim();
        break;
      default:
        break;
    }
  }
  return sd;
}

function directionOf(attributes: SdpAttribute[]): Direction | undefined {
  for (const a of attributes) {
    if (a.value === null && (DIRECTIONS as readonly string[]).includes(a.name)) return a.name as Direction;
  }
  return undefined;
}

/** The stream's direction: media-level attribute, else session-level, else sendrecv (RFC 3264 §5.1). */
export function mediaDirection(sd: SessionDescription, m: SdpMedia): Direction {
  return directionOf(m.attributes) ?? directionOf(sd.attributes) ?? 'sendrecv';
}

/** The direction the other side must use in reply: what one side sends, the other receives. */
export function mirrorDirection(d: Direction): Direction {
  if (d === 'sendonly') return 'recvonly';
  if (d === 'recvonly') return 'sendonly';
  return d;
}

const canSend = (d: Direction): boolean => d === 'sendrecv' || d === 'sendonly';
const canRecv = (d: Direction): boolean => d === 'sendrecv' || d === 'recvonly';

function directionFrom(send: boolean, recv: boolean): Direction {
  if (send && recv) return 'sendrecv';
  if (send) return 'sendonly';
  if (recv) return 'recvonly';
  return 'inactive';
}

/** The most both sides allow: `a` limited by `b`. */
export function intersectDirection(a: Direction, b: Direction): Direction {
  return directionFrom(canSend(a) && canSend(b), canRecv(a) && canRecv(b));
}

export function directionSends(d: Direction): boolean {
  return canSend(d);
}

export function directionReceives(d: Direction): boolean {
  return canRecv(d);
}

/** Payload types of a stream mapped to what they carry (rtpmap first, then the static table of RFC 3551). */
export function payloadKinds(m: SdpMedia): Map<number, PayloadKind> {
  const rtpmap = new Map<number, string>();
  for (const a of m.attributes) {
    if (a.name !== 'rtpmap' || a.value === null) continue;
    const match = /^(\d{1,3})\s+([^/\s]+)\/(\d+)/.exec(a.value);
    if (match) rtpmap.set(Number(match[1]), `${match[2]!.toUpperCase()}/${match[3]}`);
  }
  const kinds = new Map<number, PayloadKind>();
  for (const f of m.formats) {
    if (!/^\d{1,3}$/.test(f)) continue;
    const pt = Number(f);
    if (pt > 127) continue;
    const mapped = rtpmap.get(pt);
    if (mapped === 'PCMU/8000' || mapped === 'PCMA/8000') kinds.set(pt, mapped.slice(0, 4) as Codec);
    else if (mapped === 'TELEPHONE-EVENT/8000') kinds.set(pt, 'telephone-event');
    else if (mapped === undefined && STATIC_PT.has(pt)) kinds.set(pt, STATIC_PT.get(pt)!);
  }
  return kinds;
}

function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** Whether we can carry this stream: RTP/AVP (or AVPF, whose RTCP feedback we may ignore) audio, no SRTP. */
function usableAudio(m: SdpMedia): boolean {
  return m.type === 'audio' && m.port > 0 && (m.proto === 'RTP/AVP' || m.proto === 'RTP/AVPF');
}

export interface LocalSdpParams {
  address: string;
  port: number;
  sessionId: string;
  sessionVersion: number;
  direction: Direction;
}

function addrType(address: string): 'IP4' | 'IP6' {
  return address.includes(':') ? 'IP6' : 'IP4';
}

function sessionLines(p: LocalSdpParams, timing: string): string[] {
  const t = addrType(p.address);
  return ['v=0', `o=hibiki ${p.sessionId} ${p.sessionVersion} IN ${t} ${p.address}`, 's=hibiki', `c=IN ${t} ${p.address}`, `t=${timing}`];
}

function audioLines(port: number, proto: string, codecs: { codec: Codec; pt: number }[], tePt: number | undefined, direction: Direction): string[] {
  const pts = codecs.map((c) => String(c.pt));
  if (tePt !== undefined) pts.push(String(tePt));
  const lines = [`m=audio ${port} ${proto} ${pts.join(' ')}`];
  for (const c of codecs) lines.push(`a=rtpmap:${c.pt} ${c.codec}/8000`);
  if (tePt !== undefined) lines.push(`a=rtpmap:${tePt} telephone-event/8000`, `a=fmtp:${tePt} 0-16`);
  lines.push('a=ptime:20', `a=${direction}`);
  return lines;
}

/** What we offered, kept to interpret the answer. */
export interface OfferedMedia {
  codecs: readonly Codec[];
  telephoneEventPt: number;
  direction: Direction;
}

export function buildOffer(p: LocalSdpParams, offered: OfferedMedia): string {
  const codecs = offered.codecs.map((codec) => ({ codec, pt: CODEC_PT[codec] }));
  return [...sessionLines(p, '0 0'), ...audioLines(p.port, 'RTP/AVP', codecs, offered.telephoneEventPt, offered.direction), ''].join('\r\n');
}

/** Negotiated media plus what the engine needs to run the stream. */
export interface Negotiation {
  media: NegotiatedMedia;
  /** Our direction for the stream (what we may do: send, receive). */
  localDirection: Direction;
  /** Payload types we may receive on this leg and what they carry. */
  inbound: Map<number, PayloadKind>;
}

function remoteConnection(sd: SessionDescription, m: SdpMedia): SdpConnection {
  const c = m.connection ?? sd.connection;
  if (!c) throw malformed('no c= line for the audio stream');
  return c;
}

/**
 * The remote party's direction as it affects us. An RFC 2543-style hold (c=0.0.0.0) means "do not send to me":
 * treated like sendonly (recvonly becomes inactive), RFC 3264 §8.4.
 */
function remoteDirection(sd: SessionDescription, m: SdpMedia, c: SdpConnection): Direction {
  const d = mediaDirection(sd, m);
  return isUnspecified(c.address) ? directionFrom(canSend(d), false) : d;
}

function firstTelephoneEvent(kinds: Map<number, PayloadKind>): number | undefined {
  for (const [pt, kind] of kinds) if (kind === 'telephone-event') return pt;
  return undefined;
}

/**
 * What the other side's audio m-line gives us, offer or answer alike: the first of its formats that we
 * allow, its telephone-event PT, its address and its direction. Null when no format is allowed.
 */
function remoteAudio(
  sd: SessionDescription,
  m: SdpMedia,
  allowed: readonly Codec[],
): { pick: { codec: Codec; pt: number }; kinds: Map<number, PayloadKind>; tePt: number | undefined; theirs: Direction; media: NegotiatedMedia } | null {
  const kinds = payloadKinds(m);
  let pick: { codec: Codec; pt: number } | undefined;
  for (const [pt, kind] of kinds) {
    if (kind !== 'telephone-event' && allowed.includes(kind)) {
      pick = { codec: kind, pt };
      break;
    }
  }
  if (!pick) return null;
  const c = remoteConnection(sd, m);
  const theirs = remoteDirection(sd, m, c);
  const tePt = firstTelephoneEvent(kinds);
  return {
    pick,
    kinds,
    tePt,
    theirs,
    media: {
      codec: pick.codec,
      payloadType: pick.pt,
      ...(tePt !== undefined ? { telephoneEventPt: tePt } : {}),
      remoteAddress: c.address,
      remotePort: m.port,
      remoteDirection: theirs,
    },
  };
}

export interface AnswerParams extends LocalSdpParams {
  /** Codecs we allow on this leg, in our preference order. */
  codecs: readonly Codec[];
}

function answerAudio(offer: SessionDescription, m: SdpMedia, p: AnswerParams): { negotiation: Negotiation; lines: string[] } | null {
  const remote = remoteAudio(offer, m, p.codecs);
  if (!remote) return null;
  const local = intersectDirection(p.direction, mirrorDirection(remote.theirs));
  // Everything G.711 the offer listed is understood on receive (transcoded if need be), whatever we chose.
  const negotiation: Negotiation = { media: remote.media, localDirection: local, inbound: new Map<number, PayloadKind>(remote.kinds) };
  return { negotiation, lines: audioLines(p.port, m.proto, [remote.pick], remote.tePt, local) };
}

/**
 * RFC 3264 §6: answer every m-line in order; the first usable audio stream gets the first offered codec we
 * allow (the offerer's preference wins) and the offerer's telephone-event PT; every other stream port 0.
 * `p.direction` is what we want locally; the answer's direction is that limited by the mirror of the offer's.
 */
export function answerOffer(offerText: string, p: AnswerParams): { sdp: string; negotiation: Negotiation } {
  const offer = parseSdp(offerText);
  if (offer.media.length === 0) throw new MediaError('offer has no media stream', 488);
  let negotiation: Negotiation | null = null;
  const mediaLines: string[] = [];
  for (const m of offer.media) {
    const accepted: { negotiation: Negotiation; lines: string[] } | null = negotiation === null && usableAudio(m) ? answerAudio(offer, m, p) : null;
    if (accepted) {
      negotiation = accepted.negotiation;
      mediaLines.push(...accepted.lines);
      continue;
    }
    // RFC 3264 §6: a declined stream keeps its m-line, with port 0 and at least one of the offered formats.
    mediaLines.push(`m=${m.type} 0 ${m.proto} ${m.formats[0] ?? '0'}`);
  }
  if (negotiation === null) throw new MediaError('no common codec', 488);
  return { sdp: [...sessionLines(p, offer.timing), ...mediaLines, ''].join('\r\n'), negotiation };
}

/** Interprets the answer to our offer (one audio stream, first m-line). Throws MediaError(488) when unusable. */
export function acceptAnswer(answerText: string, offered: OfferedMedia): Negotiation {
  const answer = parseSdp(answerText);
  const m = answer.media[0];
  if (!m || m.type !== 'audio') throw new MediaError('answer has no audio stream', 488);
  if (m.port === 0) throw new MediaError('audio stream rejected by the answer', 488);
  if (!usableAudio(m)) throw new MediaError(`unsupported transport ${m.proto}`, 488);
  const remote = remoteAudio(answer, m, offered.codecs);
  if (!remote) throw new MediaError('no common codec', 488);
  const { pick, tePt } = remote;
  // The answerer sends with the payload types of our offer (RFC 3264 §6.1) but may echo its own numbers:
  // accept both on receive.
  const inbound = new Map<number, PayloadKind>();
  for (const codec of offered.codecs) inbound.set(CODEC_PT[codec], codec);
  inbound.set(pick.pt, pick.codec);
  if (tePt !== undefined) {
    inbound.set(offered.telephoneEventPt, 'telephone-event');
    inbound.set(tePt, 'telephone-event');
  }
  return {
    media: remote.media,
    localDirection: intersectDirection(offered.direction, mirrorDirection(remote.theirs)),
    inbound,
  };
}

/**
 * The direction an offer asks for on its first audio stream (a= attribute of the stream, else of the
 * session), as phones signal hold: sendonly, inactive, or the RFC 2543 `c=IN IP4 0.0.0.0`.
 */
export function sdpDirection(sdp: string): Direction {
  let session: Direction = 'sendrecv';
  let media: Direction | undefined;
  let inMedia = false;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      if (inMedia) break;
      inMedia = line.startsWith('m=audio');
      continue;
    }
    const m = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/.exec(line);
    if (m) {
      if (inMedia) media = m[1] as Direction;
      else session = m[1] as Direction;
    }
    if (/^c=IN IP4 0\.0\.0\.0/.test(line)) media = media ?? 'sendonly';
  }
  return media ?? session;
}

/** RFC 3264 §8: an offer whose o= line (version included) is unchanged changes nothing. */
export function isSameSessionVersion(previous: string | undefined, offer: string): boolean {
  if (!previous) return false;
  const origin = (sdp: string) => /^o=.*$/m.exec(sdp)?.[0]?.trim();
  const a = origin(previous);
  return a !== undefined && a === origin(offer);
}
