// Conference mixing in the media worker (issue #15): every 20 ms each mix takes one frame of what each
// speaking member said, and sends each member the saturating sum of the members it hears (never itself),
// plus any prompt played to it, encoded for its codec. The sending goes through the member's OutStream, so
// its phone sees one continuous stream (SSRC, sequence, timestamps) across joins, leaves, prompts and bridges.
import type { RelayEndpoint } from './endpoint.js';
import { FramePacer } from './player.js';
import type { ToWorker } from './protocol.js';
import { BACKLOG_TICKS, MIX_FRAME, MixInput, addInto, applyGain, dbToGain, encodeClamped, encodeTable, subtractInto } from './mix-math.js';
import { RTP_HEADER_LENGTH, setPayloadType, writeSequence, writeUint32 } from './rtp.js';

const now = (): number => performance.now();

class Member {
  readonly input: MixInput;
  /** This tick's speech (valid when `has`). */
  readonly pcm = new Int16Array(MIX_FRAME);
  has = false;
  hears: 'all' | ReadonlySet<string> = 'all';
  /** For an explicit `hears` list: the members it names that are in the mix now (refreshed on any change). */
  heard: Member[] = [];
  gain = 1;
  /**
   * The packet sent to this member, reused every tick. dgram copies nothing, but the send is either done at
   * once or queued for far less than the 20 ms until the next tick writes the buffer again.
   */
  readonly pkt = Buffer.alloc(RTP_HEADER_LENGTH + MIX_FRAME);
  /** Frames sent since joining: this membership's own sequence numbers (OutStream maps them onto the leg's). */
  sent = 0;
  /** The mix tick at which it joined: frame timestamps follow the ticks (ts = ticks since joining × 160). */
  joinedAt = -1;

  constructor(
    mixId: string,
    readonly ep: RelayEndpoint,
    /** Names this membership as a feed of the endpoint's OutStream. */
    readonly source: number,
  ) {
    this.input = new MixInput(mixId);
    this.pkt[0] = 0x80;
  }
}

export class Mix {
  private members: Member[] = [];
  private readonly byId = new Map<string, Member>();
  private readonly pacer: FramePacer;
  private tickNo = 0;
  private readonly total = new Int32Array(MIX_FRAME);
  private readonly acc = new Int32Array(MIX_FRAME);
  private readonly promptPcm = new Int16Array(MIX_FRAME);

  constructor(
    readonly id: string,
    guard: (fn: () => void) => void,
  ) {
    this.pacer = new FramePacer((n) => {
      guard(() => this.tick(n));
      return true;
    });
  }

  get size(): number {
    return this.members.length;
  }

  has(epId: string): boolean {
    return this.byId.has(epId);
  }

  join(ep: RelayEndpoint, newSource: () => number, msg: Extract<ToWorker, { t: 'mix-join' }>): void {
    let m = this.byId.get(ep.id);
    if (!m) {
      m = new Member(this.id, ep, newSource());
      this.byId.set(ep.id, m);
      this.members = [...this.members, m];
      ep.mix = m.input;
    }
    m.hears = msg.hears === 'all' ? 'all' : new Set(msg.hears);
    m.gain = dbToGain(msg.volumeDb);
    m.input.speaks = msg.speaks;
    if (!msg.speaks) m.input.speech.clear();
    this.refresh();
    // The pacer runs only while someone is in the mix: an empty room costs nothing.
    if (!this.pacer.isRunning) {
      this.tickNo = 0;
      this.pacer.start();
    }
  }

  leave(ep: RelayEndpoint): void {
    const m = this.byId.get(ep.id);
    if (!m) return;
    this.byId.delete(ep.id);
    this.members = this.members.filter((x) => x !== m);
    if (ep.mix === m.input) ep.mix = null;
    this.refresh();
    if (this.members.length === 0) this.pacer.stop();
  }

  /** Everyone leaves (destroyMix): each stays allocated and silent. */
  close(): void {
    for (const m of this.members) if (m.ep.mix === m.input) m.ep.mix = null;
    this.members = [];
    this.byId.clear();
    this.pacer.stop();
  }

  private refresh(): void {
    for (const m of this.members) {
      const hears = m.hears;
      m.heard = hears === 'all' ? [] : this.members.filter((x) => x !== m && hears.has(x.ep.id));
    }
  }

  private tick(n: number): void {
    this.tickNo = n;
    const members = this.members;
    const total = this.total;
    total.fill(0);
    for (const m of members) {
      const stream = m.ep.stream;
      const input = m.input;
      m.has = input.speaks && stream !== null && stream.receive && input.speech.take(m.pcm);
      if (m.has) addInto(total, m.pcm);
      if (input.speech.available < MIX_FRAME) input.backlog = 0;
      else if (++input.backlog >= BACKLOG_TICKS) {
        input.speech.drop(MIX_FRAME);
        input.backlog = 0;
      }
    }
    const t = now();
    for (const m of members) this.send(m, t);
  }

  private send(m: Member, t: number): void {
    const ep = m.ep;
    const hasPrompt = m.input.prompt.take(this.promptPcm);
    if (m.joinedAt < 0) m.joinedAt = this.tickNo;
    // Generated DTMF takes the leg's stream while it plays (as it does over a bridged call's audio).
    if (!ep.canSend || ep.dtmfSender?.active === true) return;
    const acc = this.acc;
    if (m.hears === 'all') {
      if (m.has) subtractInto(acc, this.total, m.pcm);
      else acc.set(this.total);
    } else {
      acc.fill(0);
      for (const h of m.heard) if (h.has) addInto(acc, h.pcm);
    }
    if (m.gain !== 1) applyGain(acc, m.gain);
    // A prompt (join tone, participant count) is heard on top of the conference, at its own level.
    if (hasPrompt) addInto(acc, this.promptPcm);
    const stream = ep.stream!;
    const pkt = m.pkt;
    encodeClamped(acc, pkt, RTP_HEADER_LENGTH, encodeTable(stream.codec));
    writeSequence(pkt, m.sent & 0xffff);
    writeUint32(pkt, 4, ((this.tickNo - m.joinedAt) * MIX_FRAME) >>> 0);
    writeUint32(pkt, 8, 0);
    const switched = ep.out.rewrite(pkt, m.source, 0, 0, t);
    setPayloadType(pkt, stream.payloadType, m.sent === 0 || switched);
    m.sent++;
    ep.send(pkt);
  }
}

/** The relay's mixes, driven by the mix-* control messages. */
export class RelayMixes {
  private readonly mixes = new Map<string, Mix>();

  constructor(
    private readonly guard: (fn: () => void) => void,
    private readonly nextSource: () => number,
    private readonly log: (msg: string, id?: string) => void,
  ) {}

  create(mixId: string): void {
    if (!this.mixes.has(mixId)) this.mixes.set(mixId, new Mix(mixId, this.guard));
  }

  /** Joining (or changing membership); the caller has unbridged the endpoint. */
  join(ep: RelayEndpoint, msg: Extract<ToWorker, { t: 'mix-join' }>): void {
    const mix = this.mixes.get(msg.mix);
    if (!mix) {
      this.log(`mix ${msg.mix} not found`, ep.id);
      return;
    }
    // In at most one mix: joining another one leaves the first.
    if (!mix.has(ep.id)) this.leaveAny(ep);
    mix.join(ep, this.nextSource, msg);
  }

  leave(ep: RelayEndpoint, mixId: string): void {
    this.mixes.get(mixId)?.leave(ep);
  }

  /** Takes the endpoint out of whatever mix it is in (bridged, destroyed, or joining another). */
  leaveAny(ep: RelayEndpoint): void {
    if (ep.mix !== null) this.mixes.get(ep.mix.mixId)?.leave(ep);
  }

  destroy(mixId: string): void {
    const mix = this.mixes.get(mixId);
    if (!mix) return;
    this.mixes.delete(mixId);
    mix.close();
  }

  shutdown(): void {
    for (const mix of this.mixes.values()) mix.close();
    this.mixes.clear();
  }
}
