// The conference rooms in progress (F-CONF): who is in each, the room's mix in the media engine, and what
// each participant hears besides the others (tones, music while alone or while waiting for the moderator,
// prompts). Every change is mirrored to the conference store so the CLI (another process) can list the
// rooms, and the CLI's kick and mute commands are read back from it.
import type { Logger } from 'pino';
import type { RoomConfig } from '../../config/conference-schema.js';
import type { MediaEngine, MixId, PlayHandle } from '../../media/engine.js';
import type { PromptCatalogue, PromptLanguage } from '../../media/prompts.js';
import type { CallApi } from '../../pbx/application.js';
import type { LegHandle } from '../../pbx/leg.js';
import type { ConferenceStore } from '../../store/conference-store.js';

export type MixControl = Pick<MediaEngine, 'createMix' | 'joinMix' | 'leaveMix' | 'destroyMix'>;

export interface Participant {
  readonly id: string;
  readonly room: RoomConfig;
  readonly session: CallApi;
  readonly handle: LegHandle;
  readonly number: string;
  readonly name: string | undefined;
  readonly moderator: boolean;
  readonly lang: PromptLanguage;
  readonly joinedAt: number;
  muted: boolean;
  volumeDb: number;
  /** Music this participant hears while alone or waiting for the moderator. */
  music: string[];
  playing?: PlayHandle;
  /** In the mix (the room has started for them). */
  mixed: boolean;
}

interface LiveRoom {
  config: RoomConfig;
  mix: MixId;
  participants: Participant[];
  /** A room with a moderator PIN starts when a moderator joins. */
  started: boolean;
}

export interface RoomsDeps {
  media: MixControl;
  prompts: PromptCatalogue;
  store: ConferenceStore;
  now(): number;
  logger: Logger;
}

let seq = 0;

export class Rooms {
  private readonly live = new Map<string, LiveRoom>();

  constructor(private readonly deps: RoomsDeps) {
    // Participants of a server that stopped or crashed are gone.
    deps.store.clear();
  }

  count(room: RoomConfig): number {
    return this.live.get(room.number)?.participants.length ?? 0;
  }

  isFull(room: RoomConfig): boolean {
    return this.count(room) >= room.maxParticipants;
  }

  /** Every room in progress, for the CLI and the API. */
  rooms(): Array<{ room: RoomConfig; participants: readonly Participant[]; started: boolean }> {
    return [...this.live.values()].map((r) => ({ room: r.config, participants: r.participants, started: r.started }));
  }

  join(room: RoomConfig, p: Omit<Participant, 'id' | 'room' | 'joinedAt' | 'muted' | 'volumeDb' | 'mixed' | 'playing'>): Participant {
    let r = this.live.get(room.number);
    if (!r) {
      r = { config: room, mix: this.deps.media.createMix(), participants: [], started: room.moderatorPin === undefined };
      this.live.set(room.number, r);
    }
    const participant: Participant = { ...p, id: `P${(++seq).toString(36)}`, room: r.config, joinedAt: this.deps.now(), muted: false, volumeDb: 0, mixed: false };
    for (const other of r.participants) this.tone(other, 'conf-join');
    r.participants.push(participant);
    if (!r.started && p.moderator) {
      r.started = true;
      this.deps.logger.info({ room: room.number }, 'moderator joined: the conference starts');
    }
    if (r.started) for (const x of r.participants) this.enter(r, x);
    else this.wait(participant);
    this.aloneMusic(r);
    this.deps.store.put({
      room: room.number,
      id: participant.id,
      callId: p.session.call.callId,
      number: p.number,
      name: p.name ?? null,
      moderator: p.moderator,
      muted: false,
      joinedAt: participant.joinedAt,
    });
    return participant;
  }

  /** The participant leaves (hung up, left by key, kicked): out of the mix, a tone for the others; the last one out ends the room. */
  leave(p: Participant, why: string): void {
    const r = this.live.get(p.room.number);
    if (!r) return;
    const i = r.participants.indexOf(p);
    if (i < 0) return;
    r.participants.splice(i, 1);
    p.playing?.stop();
    if (p.mixed) this.deps.media.leaveMix(r.mix, endpointOf(p));
    this.deps.store.remove(p.id);
    p.session.log.info({ room: r.config.number, why, participants: r.participants.length }, 'left the conference');
    if (r.participants.length === 0) {
      this.deps.media.destroyMix(r.mix);
      this.live.delete(r.config.number);
      return;
    }
    for (const other of r.participants) this.tone(other, 'conf-leave');
    this.aloneMusic(r);
  }

  setMuted(p: Participant, muted: boolean): void {
    p.muted = muted;
    this.deps.store.setMuted(p.id, muted);
    this.member(p);
  }

  setVolume(p: Participant, volumeDb: number): void {
    p.volumeDb = volumeDb;
    this.member(p);
  }

  /** Play prompts to one participant (over what they hear of the room). */
  tell(p: Participant, files: string[]): void {
    if (files.length === 0 || p.handle.leg.ended) return;
    p.session.play(p.handle, files);
  }

  /** Carry out what the CLI asked (kick, mute, unmute); true when something was done. */
  runCommands(): boolean {
    let done = false;
    for (const c of this.deps.store.takeCommands()) if (this.command(c.room, c.participant, c.action)) done = true;
    return done;
  }

  /** Kick, mute or unmute a participant now (the API, or a CLI command read back); false when not in the room. */
  command(room: string, participant: string, action: 'kick' | 'mute' | 'unmute'): boolean {
    const p = this.live.get(room)?.participants.find((x) => x.id === participant);
    if (!p) return false;
    if (action === 'kick') {
      this.leave(p, 'kicked');
      p.session.hangup('system', 16, `kicked from conference ${room}`);
    } else this.setMuted(p, action === 'mute');
    return true;
  }

  private enter(r: LiveRoom, p: Participant): void {
    if (p.mixed) return;
    p.playing?.stop();
    p.playing = undefined;
    p.mixed = true;
    this.member(p);
  }

  private member(p: Participant): void {
    const r = this.live.get(p.room.number);
    if (!r || !p.mixed || p.handle.leg.ended) return;
    this.deps.media.joinMix(r.mix, endpointOf(p), { hears: 'all', speaks: !p.muted, volumeDb: p.volumeDb });
  }

  /** Waiting for the moderator: the prompt, then music until the room starts. */
  private wait(p: Participant): void {
    if (p.handle.leg.ended) return;
    const prompt = p.session.play(p.handle, [this.deps.prompts.file('conf-wait-moderator', p.lang)]);
    p.playing = prompt;
    const next = () => {
      if (p.playing !== prompt || p.mixed) return;
      p.playing = undefined;
      this.playMusic(p);
    };
    prompt.done.then(next, next);
  }

  /** A participant alone in a started room hears music (when the room has it); two or more hear each other. */
  private aloneMusic(r: LiveRoom): void {
    if (!r.started) return;
    const alone = r.participants.length === 1;
    for (const p of r.participants) {
      if (alone && r.config.musicWhileAlone) this.playMusic(p);
      else if (p.playing) {
        p.playing.stop();
        p.playing = undefined;
      }
    }
  }

  private playMusic(p: Participant): void {
    if (p.playing || p.music.length === 0 || p.handle.leg.ended) return;
    p.playing = p.session.play(p.handle, p.music, { loop: true });
  }

  private tone(p: Participant, name: 'conf-join' | 'conf-leave'): void {
    if (p.handle.leg.ended) return;
    p.session.play(p.handle, [this.deps.prompts.file(name, p.lang)]);
  }
}

function endpointOf(p: Participant): string {
  const ep = p.handle.leg.endpoint;
  if (ep === undefined) throw new Error(`conference participant ${p.id} has no media endpoint`);
  return ep;
}
