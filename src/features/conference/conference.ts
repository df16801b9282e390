// F-CONF: meet-me conference rooms as a call application. A caller dialling a room number (or transferred
// to it) is answered, enters the PIN when the room has one (the moderator PIN marks a moderator), and joins
// the room's mix in the media engine: each participant hears the others, never themselves. Join and leave
// tones go to the others; a joiner hears how many are in; a participant alone hears music; with a moderator
// PIN the room starts when the moderator arrives. Keys during the conference: mute, volume, count, leave.
// The rooms' live state is in rooms.ts; the CLI sees it and kicks or mutes through conference-board.ts.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../../config/schema.js';
import type { RoomConfig } from '../../config/conference-schema.js';
import type { PlayHandle } from '../../media/engine.js';
import type { PromptCatalogue, PromptLanguage, PromptName } from '../../media/prompts.js';
import type { CallApi, CallApplication, Feature, FeatureRegistry } from '../../pbx/application.js';
import { ends } from '../../pbx/call.js';
import { mohFiles } from '../../pbx/extension-audio.js';
import type { Leg, LegHandle } from '../../pbx/leg.js';
import { numberFiles } from '../voicemail/speech.js';
import type { Participant, Rooms } from './rooms.js';

export interface ConferenceDeps {
  rooms: Rooms;
  prompts: PromptCatalogue;
  config: () => HibikiConfig;
  logger: Logger;
}

export interface RoomArgs {
  room: RoomConfig;
}

/** PIN attempts before the caller is let go. */
const PIN_ATTEMPTS = 3;
/** A volume key's step and its bounds (MixMember.volumeDb). */
const VOLUME_STEP_DB = 3;
const VOLUME_LIMIT_DB = 12;

export class Conference implements Feature, CallApplication<RoomArgs> {
  readonly name = 'conference';

  constructor(private readonly deps: ConferenceDeps) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'conference rooms',
      tier: 'local',
      resolve: (number, _origin, config) => {
        const room = config.conference.rooms.find((x) => x.number === number);
        return room ? { app: this, args: { room }, callee: { number: room.number, name: room.name }, screening: {} } : undefined;
      },
    });
  }

  async run(session: CallApi, leg: Leg, args: RoomArgs): Promise<void> {
    const { rooms } = this.deps;
    const room = args.room;
    const call = session.call;
    const log = session.log.child({ room: room.number });
    const lang: PromptLanguage = leg.extension !== undefined ? (this.deps.config().extensions.find((e) => e.number === leg.extension)?.language ?? room.language) : room.language;
    call.feature = 'conference';
    let participant: Participant | undefined;
    let gone = false;
    let playing: PlayHandle | undefined;
    const mine: LegHandle = leg.take({
      label: 'conference',
      ended: (_l, end) => {
        gone = true;
        playing?.stop();
        if (participant) rooms.leave(participant, 'hung up');
        if (end.cancelled) call.end(ends.cancelled('caller cancelled before the conference answered'));
        else if (!call.isFinished) session.hangup('caller', end.cause, `left conference ${room.number}`);
      },
      digit: (_l, d) => {
        if (participant) this.key(session, participant, d, lang);
      },
    });
    const say = async (files: string[]): Promise<void> => {
      if (gone || files.length === 0) return;
      playing = session.play(mine, files);
      await playing.done;
      playing = undefined;
    };

    if (rooms.isFull(room)) {
      log.info('conference full');
      await session.refuse(mine, { status: 486, cause: 17, reason: `conference ${room.number} full` }, { prompt: [this.file('conf-full', lang)], disposition: 'busy' });
      return;
    }
    if (!(await session.answer(mine))) return;
    if (!call.isAnswered) call.markAnswered('hibiki');

    let moderator = false;
    if (room.pin !== undefined || room.moderatorPin !== undefined) {
      const entered = await this.pin(session, mine, room, lang, say);
      if (entered === 'gone' || gone) return;
      if (entered === 'wrong') {
        log.info('conference PIN refused');
        await say([this.file('vm-goodbye', lang)]);
        if (!gone) session.hangup('system', 21, `conference ${room.number}: wrong PIN`);
        return;
      }
      moderator = entered === 'moderator';
    }
    if (rooms.isFull(room)) {
      await say([this.file('conf-full', lang)]);
      if (!gone) session.hangup('system', 17, `conference ${room.number} full`);
      return;
    }
    if (gone) return;
    const others = rooms.count(room);
    if (room.announceCount) await say(others === 0 ? [this.file('conf-alone', lang)] : this.countFiles(lang, others + 1));
    if (gone) return;
    participant = rooms.join(room, {
      session,
      handle: mine,
      number: call.caller.number,
      name: call.caller.name,
      moderator,
      music: this.music(leg.extension),
      lang,
    });
    log.info({ participants: rooms.count(room), moderator }, 'joined the conference');
  }

  /** The PIN (followed by #): the room's, or the moderator's; three attempts. */
  private async pin(session: CallApi, mine: LegHandle, room: RoomConfig, lang: PromptLanguage, say: (files: string[]) => Promise<void>): Promise<'participant' | 'moderator' | 'wrong' | 'gone'> {
    for (let attempt = 0; attempt < PIN_ATTEMPTS; attempt++) {
      // After a wrong PIN, "wrong PIN" and the request again are one prompt a key interrupts: digits typed
      // over it count.
      const prompt = attempt === 0 ? [this.file('vm-enter-pin', lang)] : [this.file('vm-wrong-pin', lang), this.file('vm-enter-pin', lang)];
      const r = await session.collect(mine, {
        prompt: session.play(mine, prompt),
        terminator: '#',
        firstDigitTimeoutMs: 10_000,
        interDigitTimeoutMs: 5_000,
        maxDigits: 12,
      });
      if (r.kind === 'gone' || mine.leg.ended) return 'gone';
      // A room with only a moderator PIN lets participants in with # alone (or no input).
      const open = room.pin === undefined;
      if (r.kind === 'digits') {
        if (room.moderatorPin !== undefined && r.digits === room.moderatorPin) return 'moderator';
        if (r.digits === room.pin || (open && r.digits === '')) return 'participant';
      } else if (r.kind === 'timeout' && open) return 'participant';
    }
    await say([this.file('vm-wrong-pin', lang)]);
    return 'wrong';
  }

  /** A key pressed during the conference. */
  private key(session: CallApi, p: Participant, d: string, lang: PromptLanguage): void {
    const keys = this.deps.config().conference.keys;
    const { rooms } = this.deps;
    if (d === keys.mute) {
      rooms.setMuted(p, !p.muted);
      rooms.tell(p, [this.file(p.muted ? 'conf-muted' : 'conf-unmuted', lang)]);
    } else if (d === keys.quieter || d === keys.louder) {
      const next = p.volumeDb + (d === keys.louder ? VOLUME_STEP_DB : -VOLUME_STEP_DB);
      rooms.setVolume(p, Math.max(-VOLUME_LIMIT_DB, Math.min(VOLUME_LIMIT_DB, next)));
    } else if (d === keys.count) {
      rooms.tell(p, this.countFiles(lang, rooms.count(p.room)));
    } else if (d === keys.leave) {
      rooms.leave(p, 'left by key');
      session.hangup('caller', 16, `left conference ${p.room.number}`);
    }
  }

  /** "The number of participants is N" / "参加者は N 人です". */
  private countFiles(lang: PromptLanguage, n: number): string[] {
    const after = lang === 'ja' ? [this.file('conf-count-after', lang)] : [];
    return [this.file('conf-count', lang), ...numberFiles(this.deps.prompts, lang, n), ...after];
  }

  private music(extension: string | undefined): string[] {
    return mohFiles(this.deps.config(), this.deps.prompts, extension);
  }

  private file(name: PromptName, lang: PromptLanguage): string {
    return this.deps.prompts.file(name, lang);
  }
}
