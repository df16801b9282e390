// F-VM: voicemail boxes as a destination and the retrieval service.
//   Deposit (`voicemail:<box>`, a shared box's number, or forwarding/group no-answer to a box): answer, the
//   box greeting (the owner's recorded one, else the system greeting that speaks the box number), the leave-a-
//   message prompt and the beep, then record until #, hang-up, silence or the length limit. Too short a
//   message is discarded; a full box plays its prompt and records nothing.
//   Retrieval (the pilot, 1410, from an idle phone): the owner's phone is asked for the PIN; any other phone
//   for the box number + # first. Then the counts, the messages (new, then saved, each announced with its
//   time and caller), and keys to replay, delete, save, go on or back, record the greeting, change the PIN.
// Messages are WAV files under <data.dir>/voicemail/<box>/ with a row each in SQLite; every change is told
// to MailboxEvents (message-waiting lamps, e-mail) after both are in place.
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { HibikiConfig } from '../../config/schema.js';
import type { PromptCatalogue } from '../../media/prompts.js';
import type { Clock } from '../../util/clock.js';
import type { Arrival, CallApi, CallApplication, DeliveryOutcome, Destination, Feature, FeatureRegistry, RingContext } from '../../pbx/application.js';
import type { Leg, LegHandle } from '../../pbx/leg.js';
import { isIvrPath } from '../../pbx/call.js';
import { failure } from '../../pbx/delivery.js';
import { promptLanguage } from '../../pbx/extension-audio.js';
import type { VoicemailBoxStore } from '../../store/voicemail-box-store.js';
import type { VoicemailMessage, VoicemailStore } from '../../store/voicemail-store.js';
import { pinProblem } from '../../rules/pin.js';
import type { MailboxEvents } from './mailbox-events.js';
import { mailbox, type Mailbox } from './mailbox.js';
import { Menu } from './menu.js';
import { countFiles, envelopeFiles } from './speech.js';

export interface VoicemailDeps {
  store: VoicemailStore;
  boxes: VoicemailBoxStore;
  events: MailboxEvents;
  prompts: PromptCatalogue;
  clock: Clock;
  config: () => HibikiConfig;
  /** Absolute <data.dir>/voicemail: one folder per box. */
  dir: string;
  /** A retrieval call used up its PIN attempts from this source address (counts towards F-AUTH IP blocking). */
  onPinFailure?: (address: string) => void;
}

export type VoicemailArgs = { kind: 'deposit'; box: string } | { kind: 'retrieve' };

/** Timeouts of the menu before the call is ended (no key at all). */
const MENU_TIMEOUTS = 3;
const GREETING_FILE = 'greeting.wav';

export class Voicemail implements Feature, CallApplication<VoicemailArgs> {
  readonly name = 'voicemail';

  constructor(private readonly deps: VoicemailDeps) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'voicemail pilot',
      tier: 'service',
      resolve: (dialled, origin, config) => (origin.kind === 'device' && dialled === config.voicemail.pilot ? { app: this, args: { kind: 'retrieve' }, callee: { number: dialled } } : undefined),
    });
    r.destination({
      name: 'voicemail boxes',
      tier: 'local',
      resolve: (dialled, _origin, config) => {
        // `voicemail:<box>` names any box (forwarding, groups, IVR keys); a shared box's number is dialled as is.
        const m = /^voicemail:([0-9]+)$/.exec(dialled);
        const box = m ? m[1]! : config.voicemailBoxes.some((b) => b.number === dialled) ? dialled : undefined;
        const mb = box === undefined ? undefined : mailbox(config, box);
        return mb ? this.destination(mb) : undefined;
      },
    });
  }

  private destination(mb: Mailbox): Destination<VoicemailArgs> {
    return { app: this, args: { kind: 'deposit', box: mb.number }, callee: { number: mb.number, name: mb.name } };
  }

  /** Reached by forwarding or a group's no-answer destination: the caller is handed to the deposit. */
  async ring(d: RingContext, args: VoicemailArgs, arrival: Arrival): Promise<DeliveryOutcome> {
    if (d.cancelled) return { kind: 'cancelled' };
    const mb = args.kind === 'deposit' ? mailbox(d.config, args.box) : undefined;
    if (!mb) return failure(404, 1, 'failed', 'no such voicemail box');
    const destination = this.destination(mb);
    d.arriving(destination.callee, arrival);
    return { kind: 'application', destination };
  }

  run(session: CallApi, leg: Leg, args: VoicemailArgs): Promise<void> {
    return args.kind === 'deposit' ? this.deposit(session, leg, args.box) : this.retrieve(session, leg);
  }

  // ---- deposit -----------------------------------------------------------------------------------

  private async deposit(session: CallApi, leg: Leg, box: string): Promise<void> {
    const { prompts, store, config } = this.deps;
    const call = session.call;
    const settings = config().voicemail;
    const mb = mailbox(config(), box);
    if (!mb) {
      await session.refuse(leg.take({ label: 'voicemail (no box)', ended: () => undefined }), { status: 404, cause: 1, reason: `no voicemail box ${box}` });
      return;
    }
    let gone = false;
    let playing: { stop(): void } | undefined;
    const mine = leg.take({
      label: 'voicemail deposit',
      ended: () => {
        gone = true;
        playing?.stop();
      },
    });
    if (!(await this.answer(session, mine))) return;
    // Reached through an IVR, the CDR keeps the IVR's path (which ends with this box), as other destinations do.
    const here = `voicemail:${box}` as const;
    if (!isIvrPath(call.feature)) call.feature = here;
    else if (!call.feature.endsWith(`>${here}`)) call.feature = `${call.feature}>${here}`;
    const lang = mb.language;
    const play = async (files: string[]) => {
      const h = session.play(mine, files);
      playing = h;
      await h.done;
      playing = undefined;
    };
    const counts = store.counts(box);
    if (counts.new + counts.saved >= settings.maxMessages) {
      session.log.info({ box, messages: counts.new + counts.saved }, 'voicemail box full: no message taken');
      await play([prompts.file('vm-box-full', lang)]);
      session.hangup(gone ? 'caller' : 'system', 16, `voicemail box ${box} full`);
      return;
    }
    await play([...(await this.greeting(mb)), prompts.file('vm-leave-message', lang), prompts.file('vm-beep', lang)]);
    // The call may also have been ended from outside (shutdown): then nothing is recorded.
    if (gone || leg.ended || call.isFinished) {
      session.hangup('caller', 16, 'caller hung up during the voicemail greeting');
      return;
    }
    const receivedAt = this.deps.clock.now();
    const file = `${box}/${receivedAt}-${randomBytes(4).toString('hex')}.wav`;
    const path = join(this.deps.dir, file);
    try {
      await mkdir(join(this.deps.dir, box), { recursive: true });
    } catch (err) {
      session.log.error({ err, box }, 'voicemail folder not created');
      session.hangup('system', 41, 'voicemail folder not writable');
      return;
    }
    const recording = session.record(mine, path, { maxSeconds: settings.maxMessageSeconds, maxSilenceSeconds: settings.maxSilenceSeconds, stopKeys: '#' });
    session.log.info({ event: 'voicemail', box, file }, 'voicemail recording');
    const r = await recording;
    gone ||= r.kind === 'hangup' || leg.ended;
    if (r.kind === 'failed') {
      await unlink(path).catch(() => undefined);
      if (!gone) await play([prompts.file('error-tone', lang)]);
      session.hangup(gone ? 'caller' : 'system', 41, 'voicemail recording failed');
      return;
    }
    if (r.durationMs < settings.minMessageSeconds * 1000) {
      await unlink(path).catch((err: unknown) => session.log.warn({ err, path }, 'short voicemail file not removed'));
      session.log.info({ box, durationMs: r.durationMs, end: r.kind }, 'voicemail message too short: discarded');
    } else {
      this.store(session, { box, file, path, receivedAt, durationMs: r.durationMs });
    }
    // After # (or the limits) the caller hears the thanks; a caller who hung up has already left.
    if (!gone) await play([prompts.file('vm-thank-you', lang)]);
    session.hangup(gone ? 'caller' : 'system', 16, gone ? 'caller hung up after leaving a voicemail' : 'voicemail left');
  }

  /**
   * Answer the caller, unless another application that handed the leg on (an IVR key to a box) already
   * has: then the call keeps the time and answerer it was answered with.
   */
  private async answer(session: CallApi, mine: LegHandle): Promise<boolean> {
    if (mine.leg.state === 'answered') return true;
    if (!(await session.answer(mine))) return false;
    session.call.markAnswered('hibiki');
    return true;
  }

  /** The row, then the events: the WAV is already complete on disk. */
  private store(session: CallApi, m: { box: string; file: string; path: string; receivedAt: number; durationMs: number }): void {
    const call = session.call;
    let message: VoicemailMessage;
    try {
      message = this.deps.store.add({
        box: m.box,
        file: m.file,
        receivedAt: m.receivedAt,
        // F-CLIR: a caller who withheld the number stays anonymous to the box owner too.
        callerNumber: session.presentation === 'withhold' ? 'anonymous' : call.caller.number,
        callerName: session.presentation === 'withhold' ? undefined : call.caller.name,
        calledNumber: call.dialled,
        durationMs: m.durationMs,
        callId: call.callId,
      });
    } catch (err) {
      // The audio stays on disk for an admin to find; the caller is not told (the message may be recovered).
      session.log.error({ err, box: m.box, file: m.file }, 'voicemail message not stored');
      return;
    }
    session.log.info({ event: 'voicemail', box: m.box, messageId: message.id, durationMs: m.durationMs, caller: call.caller.number }, 'voicemail message left');
    this.emit(session, () => this.deps.events.emit('deposited', message, m.path));
    this.changed(session, m.box);
  }

  private changed(session: CallApi, box: string): void {
    this.emit(session, () => this.deps.events.emit('changed', box, this.deps.store.counts(box)));
  }

  /** A listener that throws (an e-mail bug) must not break the call that caused the event. */
  private emit(session: CallApi, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      session.log.error({ err }, 'mailbox event listener failed');
    }
  }

  /** The owner's recorded greeting, else the system one: "this is the voicemail of 2-0-0-1 …". */
  private async greeting(mb: Mailbox): Promise<string[]> {
    const { prompts, boxes } = this.deps;
    if (boxes.hasGreeting(mb.number)) {
      const file = join(this.deps.dir, mb.number, GREETING_FILE);
      if (
        await stat(file).then(
          (s) => s.isFile(),
          () => false,
        )
      )
        return [file];
    }
    return [prompts.file('vm-greeting-before', mb.language), ...prompts.digits(mb.number, mb.language), prompts.file('vm-greeting-after', mb.language)];
  }

  // ---- retrieval ---------------------------------------------------------------------------------

  private async retrieve(session: CallApi, leg: Leg): Promise<void> {
    const { config } = this.deps;
    const call = session.call;
    // Nested owners (menu, digit collection, recording) hear the hang-up; the leg itself says it ended.
    const mine = leg.take({ label: 'voicemail retrieval', ended: () => undefined });
    if (!(await this.answer(session, mine))) return;
    call.feature = 'voicemail';
    const origin = session.origin.kind === 'device' ? session.origin.extension.number : undefined;
    const menu = new Menu(session, mine, this.deps, promptLanguage(config(), origin), () => leg.ended);
    const box = await this.login(session, menu, origin, leg.invite?.req.source?.address);
    if (box === undefined) {
      await menu.play(['vm-goodbye']);
      session.hangup(leg.ended ? 'caller' : 'system', 16, 'voicemail login failed');
      return;
    }
    session.log.info({ event: 'voicemail', box, by: origin }, 'voicemail box opened');
    let timeouts = 0;
    while (!leg.ended) {
      const counts = this.deps.store.counts(box);
      const a = await menu.ask([...countFiles(this.deps.prompts, menu.lang, counts), menu.file('vm-main-menu')]);
      if (a.kind === 'gone') break;
      if (a.kind === 'timeout') {
        if (++timeouts >= MENU_TIMEOUTS) break;
        continue;
      }
      timeouts = 0;
      if (a.key === '1') await this.listen(session, menu, box);
      else if (a.key === '8') await this.recordGreeting(session, menu, box);
      else if (a.key === '0') await this.changePin(session, menu, box);
      else if (a.key === '#') break;
      else await menu.play(['invalid-code']);
    }
    await menu.play(['vm-goodbye']);
    session.hangup(leg.ended ? 'caller' : 'system', 16, 'voicemail retrieval ended');
  }

  /**
   * Which box, proven by its PIN. The caller's own box (its extension has one) needs no box number; its PIN
   * is asked when one is set — an own box without a PIN opens from its own phone only, since the call was
   * authenticated as that extension. Another box needs its number and its PIN; a box without a PIN cannot
   * be opened from another phone. Every failure counts as one attempt.
   */
  private async login(session: CallApi, menu: Menu, origin: string | undefined, address: string | undefined): Promise<string | undefined> {
    const config = this.deps.config();
    const own = origin !== undefined ? mailbox(config, origin) : undefined;
    const attempts = config.voicemail.pinAttempts;
    let tried: string | undefined = own?.number;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let mb = own;
      if (!mb) {
        const entered = await menu.digits(['vm-enter-box']);
        if (entered === undefined) return undefined;
        tried = entered;
        mb = mailbox(config, entered);
      }
      const pin = mb ? this.deps.boxes.pin(mb.number, mb.pin) : undefined;
      if (mb && mb === own && pin === undefined) return mb.number;
      const entered = await menu.digits(['vm-enter-pin']);
      if (entered === undefined) return undefined;
      if (mb && pin !== undefined && entered === pin) return mb.number;
      session.log.info({ event: 'voicemail', box: tried, attempt, address }, 'voicemail login refused');
      if (attempt < attempts) await menu.play(['vm-wrong-pin']);
    }
    // F-AUTH style security event: PIN guessing is logged with where it came from and which box it aimed at.
    session.log.warn({ event: 'security', kind: 'voicemail_pin', box: tried, address, attempts }, 'voicemail PIN attempts exhausted');
    if (address !== undefined) this.deps.onPinFailure?.(address);
    await menu.play(['vm-wrong-pin']);
    return undefined;
  }

  /**
   * New messages first, then saved ones (the store's order), each announced with its time and caller. A new
   * message becomes saved as soon as it is played (as Asterisk moves a heard message to Old): the lamp goes
   * out once everything has been heard. Keys: 5 replay, 7 delete, 9 save, 6 next, 4 previous, # back.
   */
  private async listen(session: CallApi, menu: Menu, box: string): Promise<void> {
    const { store, prompts } = this.deps;
    const messages = store.list(box);
    if (messages.length === 0) {
      await menu.play(['vm-no-messages']);
      return;
    }
    const tz = this.deps.config().tenant.timezone;
    let i = 0;
    let timeouts = 0;
    while (i < messages.length && !menu.gone()) {
      const m = messages[i]!;
      if (m.status === 'new') {
        store.setStatus(m.id, 'saved');
        m.status = 'saved';
        this.changed(session, box);
      }
      const a = await menu.ask([...envelopeFiles(prompts, menu.lang, m, tz), join(this.deps.dir, m.file), menu.file('vm-message-menu')]);
      if (a.kind === 'gone') return;
      if (a.kind === 'timeout') {
        if (++timeouts >= MENU_TIMEOUTS) return;
        i++;
        continue;
      }
      timeouts = 0;
      switch (a.key) {
        case '5':
          break;
        case '7':
          await this.remove(session, m);
          messages.splice(i, 1);
          await menu.play(['vm-deleted']);
          break;
        case '9':
          await menu.play(['vm-saved']);
          i++;
          break;
        case '6':
          i++;
          break;
        case '4':
          i = Math.max(0, i - 1);
          break;
        case '#':
          return;
        default:
          await menu.play(['invalid-code']);
      }
    }
    if (!menu.gone()) await menu.play(['vm-no-more']);
  }

  /** Deleting removes the row, then the file (a file without a row is harmless, the reverse is not). */
  private async remove(session: CallApi, m: VoicemailMessage): Promise<void> {
    const removed = this.deps.store.remove(m.id);
    if (!removed) return;
    await unlink(join(this.deps.dir, removed.file)).catch((err: unknown) => session.log.warn({ err, file: removed.file }, 'voicemail file not removed'));
    session.log.info({ event: 'voicemail', box: m.box, messageId: m.id }, 'voicemail message deleted');
    this.changed(session, m.box);
  }

  private async recordGreeting(session: CallApi, menu: Menu, box: string): Promise<void> {
    const settings = this.deps.config().voicemail;
    await menu.play(['vm-record-greeting', 'vm-beep']);
    if (menu.gone()) return;
    const folder = join(this.deps.dir, box);
    const temp = join(folder, `greeting-${randomBytes(4).toString('hex')}.tmp.wav`);
    await mkdir(folder, { recursive: true });
    const r = await session.record(menu.handle, temp, { maxSeconds: settings.maxGreetingSeconds, maxSilenceSeconds: settings.maxSilenceSeconds, stopKeys: '#' });
    if (r.kind === 'failed' || r.kind === 'hangup' || r.durationMs < Math.max(1, settings.minMessageSeconds) * 1000) {
      await unlink(temp).catch(() => undefined);
      if (r.kind !== 'hangup' && !menu.gone()) await menu.play(['please-try-again']);
      return;
    }
    // Renamed into place only when complete, so a caller never hears half a greeting.
    await rename(temp, join(folder, GREETING_FILE));
    this.deps.boxes.setGreeting(box, true, this.deps.clock.now());
    session.log.info({ event: 'voicemail', box, durationMs: r.durationMs }, 'voicemail greeting recorded');
    await menu.play(['vm-greeting-saved']);
  }

  private async changePin(session: CallApi, menu: Menu, box: string): Promise<void> {
    const mb = mailbox(this.deps.config(), box);
    if (!mb) return;
    const pin = await menu.digits(['vm-new-pin']);
    if (pin === undefined) return;
    const problem = pinProblem(pin);
    if (problem) {
      session.log.info({ event: 'voicemail', box, reason: problem }, 'voicemail PIN change refused');
      await menu.play(['vm-pin-invalid']);
      return;
    }
    const again = await menu.digits(['vm-reenter-pin']);
    if (again === undefined) return;
    if (again !== pin) {
      await menu.play(['vm-pin-mismatch']);
      return;
    }
    this.deps.boxes.setPin(box, pin, mb.pin, this.deps.clock.now());
    session.log.info({ event: 'voicemail', box }, 'voicemail PIN changed');
    await menu.play(['vm-pin-changed']);
  }
}
