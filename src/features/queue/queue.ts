// F-QUEUE: the ACD queue as a call application. A caller reaching a queue number waits in that queue's
// line (or overflows when maxWaiting is reached), hears the greeting, music and periodic announcements, and
// is offered to agents by the dispatcher (dispatcher.ts) longest-waiting first. The caller leaves the line
// when an agent answers (bridged), hangs up (abandoned), reaches the queue's timeout, or presses the exit
// key — the last two go to the queue's destination for it. Every step is a queue event (statistics).
import type { Logger } from 'pino';
import type { HibikiConfig } from '../../config/schema.js';
import { queueDestination, type QueueConfig } from '../../config/queue-schema.js';
import type { PromptCatalogue, PromptLanguage, PromptName } from '../../media/prompts.js';
import type { CallApi, CallApplication, Feature, FeatureRegistry, Refusal } from '../../pbx/application.js';
import { ends } from '../../pbx/call.js';
import type { Leg, LegHandle } from '../../pbx/leg.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import { mohFiles } from '../../pbx/extension-audio.js';
import { numberFiles } from '../voicemail/speech.js';
import { promptRefFiles, promptSettingFiles, promptSettingRefs } from '../prompt-ref.js';
import { WaitingAudio } from './waiting-audio.js';
import type { Dispatcher, Waiter } from './dispatcher.js';
import type { QueueLog } from './queue-log.js';

export interface QueueArgs {
  queue: QueueConfig;
}

export interface QueuesDeps {
  prompts: PromptCatalogue;
  clock: Clock;
  config: () => HibikiConfig;
  dispatcher: Dispatcher;
  log: QueueLog;
  logger: Logger;
}

/** How a waiting caller left the line without an agent. */
type Leaving = 'timeout' | 'exit';

const BUSY: Refusal = { status: 486, cause: 17, reason: 'queue busy' };

export class Queues implements Feature, CallApplication<QueueArgs> {
  readonly name = 'queue';
  /** The queues each call has overflowed from (an overflow loop through forwarding is stopped the second time round). */
  private readonly overflowed = new WeakMap<object, Set<string>>();

  constructor(private readonly deps: QueuesDeps) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'queues',
      tier: 'local',
      resolve: (number, _origin, config) => {
        const queue = config.queues.find((q) => q.number === number);
        // A queue has no block list of its own: the tenant's applies.
        return queue ? { app: this, args: { queue }, callee: { number: queue.number, name: queue.name }, screening: {}, uncountedWithoutChannel: true } : undefined;
      },
    });
  }

  async run(session: CallApi, leg: Leg, args: QueueArgs): Promise<void> {
    const { dispatcher, clock, log } = this.deps;
    const q = args.queue;
    const call = session.call;
    const qlog = session.log.child({ queue: q.number });
    const arrivedAt = clock.now();
    call.queue = q.number;
    log.add({ at: arrivedAt, queue: q.number, callId: call.callId, event: 'ENTER', detail: call.caller.number });

    if (!dispatcher.admits(q)) {
      // A call that overflowed from this queue before and came back (through forwarding, a schedule…)
      // would go round at once: the second time it gets busy instead.
      const overflowed = this.overflowed.get(call) ?? new Set<string>();
      this.overflowed.set(call, overflowed);
      const again = overflowed.has(q.number);
      overflowed.add(q.number);
      const destination = again ? undefined : q.overflowDestination;
      qlog.info({ waiting: dispatcher.waitingCount(q.number), again }, 'queue full: overflow');
      call.queueWaitMs = 0;
      log.add({ at: arrivedAt, queue: q.number, callId: call.callId, event: 'OVERFLOW', waitMs: 0, detail: destination ?? 'busy' });
      const mine = leg.take({ label: 'queue overflow', ended: (_l, end) => call.end(end.cancelled ? ends.cancelled('caller cancelled at the queue') : ends.failed(487, 16, 'caller left')) });
      await this.goTo(session, mine, q, destination, 'overflow');
      return;
    }

    return new Promise<void>((resolve) => {
      let audio: WaitingAudio | undefined;
      let timeout: TimerHandle | undefined;
      let ringFirst: TimerHandle | undefined;
      let left = false;
      const waitedMs = () => Math.max(0, clock.now() - arrivedAt);
      const leaveLine = () => {
        left = true;
        timeout?.cancel();
        ringFirst?.cancel();
        audio?.stop();
        dispatcher.remove(waiter);
        call.queueWaitMs = waitedMs();
      };
      /** The caller is gone (hung up, or the call ended otherwise: media timeout, a failed answer). */
      const abandoned = (why: string) => {
        leaveLine();
        qlog.info({ waitedMs: call.queueWaitMs, why }, 'caller left the queue');
        log.add({ at: clock.now(), queue: q.number, callId: call.callId, event: 'ABANDON', waitMs: call.queueWaitMs, detail: why });
        resolve();
      };
      // A call can end without the caller's leg telling its owner (the RTP timeout, a failed answer).
      call.once('ended', () => {
        if (!left) abandoned('call ended');
      });
      const mine: LegHandle = leg.take({
        label: 'queue',
        ended: (_l, end) => {
          if (left) return;
          abandoned('caller hung up');
          if (end.cancelled) call.end(ends.cancelled('caller cancelled in the queue'));
          else if (!call.isFinished) session.hangup('caller', end.cause, 'caller hung up in the queue');
        },
        digit: (_l, d) => {
          if (left || d !== q.exitKey) return;
          leave('exit');
        },
      });
      const leave = (why: Leaving) => {
        if (left) return;
        leaveLine();
        const destination = why === 'exit' ? q.exitDestination : q.timeoutDestination;
        qlog.info({ waitedMs: call.queueWaitMs, destination }, why === 'exit' ? 'caller pressed the exit key' : 'queue timeout');
        log.add({ at: clock.now(), queue: q.number, callId: call.callId, event: why === 'exit' ? 'EXIT' : 'TIMEOUT', waitMs: call.queueWaitMs, detail: destination ?? 'busy' });
        this.goTo(session, mine, q, destination, why).then(resolve, (err: unknown) => {
          qlog.error({ err }, 'queue destination failed');
          resolve();
        });
      };
      // One answer, shared by the ring-first timer and an agent answering at the same moment.
      let answering: Promise<boolean> | undefined;
      /** Answer the caller (once) and, unless an agent is taking the call, start what a waiting caller hears. */
      const answerAndWait = async (listen = true): Promise<boolean> => {
        ringFirst?.cancel();
        answering ??= session.answer(mine);
        if (!(await answering)) return false;
        if (!call.isAnswered) call.markAnswered('hibiki');
        if (left || audio || !listen) return true;
        audio = new WaitingAudio(session, mine, clock, {
          greeting: q.greeting === undefined ? [] : promptSettingFiles(this.deps.prompts, q.greeting, q.language, qlog),
          moh: this.moh(q),
          periodic: () => this.periodicFiles(q, waiter, qlog),
          intervalMs: q.periodicAnnouncementInterval * 1000,
        });
        audio.start();
        return true;
      };
      const waiter: Waiter = {
        queue: q,
        session,
        handle: mine,
        arrivedAt,
        log: qlog,
        get waiting() {
          return !left;
        },
        connect: async () => {
          // An agent answered: the caller is answered (still ringing with ringBeforeQueueSeconds) and leaves the line.
          if (left) return false;
          if (!(await answerAndWait(false)) || left) return false;
          leaveLine();
          resolve();
          return true;
        },
      };
      dispatcher.add(waiter);
      if (q.timeout > 0) timeout = clock.setTimer(q.timeout * 1000, () => leave('timeout'));
      qlog.info({ waiting: dispatcher.waitingCount(q.number) }, 'caller waits in the queue');
      const invite = leg.invite;
      if (q.ringBeforeQueueSeconds > 0 && leg.state === 'offered' && invite && !invite.res.finalResponseSent) {
        // The caller hears ringing while the agents are offered the call; the queue answers after that.
        invite.res.send(180);
        ringFirst = clock.setTimer(q.ringBeforeQueueSeconds * 1000, () => {
          if (!left) void answerAndWait();
        });
        dispatcher.dispatch(q.number);
        return;
      }
      answerAndWait().then(
        (ok) => {
          if (ok) dispatcher.dispatch(q.number);
        },
        (err: unknown) => qlog.error({ err }, 'queue caller not answered'),
      );
    });
  }

  /** Where a caller goes who cannot wait or stops waiting; unset: busy (486 before the answer, a BYE with cause 17 after). */
  private async goTo(session: CallApi, h: LegHandle, q: QueueConfig, text: string | undefined, why: string): Promise<void> {
    const call = session.call;
    const answered = h.leg.state === 'answered';
    if (text === undefined) {
      if (answered) session.hangup('system', BUSY.cause, `queue ${q.number}: ${why}`);
      else await session.refuse(h, { ...BUSY, reason: `queue ${q.number}: ${why}` }, { disposition: 'busy' });
      return;
    }
    const d = queueDestination(text);
    switch (d.kind) {
      case 'number':
        await session.handTo(h, d.number);
        return;
      case 'voicemail':
        await session.handTo(h, `voicemail:${d.box}`);
        return;
      case 'hangup':
        if (answered) session.hangup('system', 16, `queue ${q.number}: ${why}, hangup`);
        else await session.refuse(h, { status: 480, cause: 16, reason: `queue ${q.number}: ${why}, hangup` });
        return;
      case 'prompt': {
        if (!(await session.answer(h))) return;
        if (!call.isAnswered) call.markAnswered('hibiki');
        let gone = false;
        const mine = h.leg.take({ label: 'queue prompt', ended: () => (gone = true) });
        const play = session.play(mine, promptRefFiles(this.deps.prompts, d.prompt, q.language, session.log));
        await play.done;
        mine.release();
        if (!call.isFinished) session.hangup(gone ? 'caller' : 'system', 16, `queue ${q.number}: ${why}, prompt ${d.prompt} played`);
        return;
      }
    }
  }

  /** The queue's music class; the default class when it has none (the server reports unknown classes at start). */
  private moh(q: QueueConfig): string[] {
    const classes = this.deps.prompts.mohClassNames();
    return classes.includes(q.moh) ? this.deps.prompts.moh(q.moh) : mohFiles(this.deps.config(), this.deps.prompts, undefined);
  }

  /** The periodic announcement, then the caller's position and estimated wait when the queue says them. */
  private periodicFiles(q: QueueConfig, w: Waiter, log: Logger): string[] {
    const lang = q.language;
    const files = promptSettingFiles(this.deps.prompts, q.periodicAnnouncement, lang, log);
    const position = this.deps.dispatcher.positionOf(w);
    if (q.announcePosition && position > 0) files.push(...positionFiles(this.deps.prompts, lang, position));
    if (q.announceWaitTime) {
      const estimate = this.deps.dispatcher.estimatedWaitMs(q.number, position);
      if (estimate !== undefined) files.push(...waitFiles(this.deps.prompts, lang, Math.ceil(estimate / 60_000)));
    }
    return files;
  }
}

/** "You are caller number N" / "あなたの順番は N 番目です": each language asks only for its own prompts. */
export function positionFiles(prompts: PromptCatalogue, lang: PromptLanguage, position: number): string[] {
  const say = (name: PromptName) => prompts.file(name, lang);
  const n = numberFiles(prompts, lang, position);
  return lang === 'ja' ? [say('queue-position'), ...n, say('queue-position-after')] : [say('queue-position'), ...n];
}

/** "Your estimated wait is about N minutes" (less than a minute: "…less than a minute" / "まもなくおつなぎします"). */
export function waitFiles(prompts: PromptCatalogue, lang: PromptLanguage, minutes: number): string[] {
  const say = (name: PromptName) => prompts.file(name, lang);
  if (minutes <= 1) return [say('queue-wait-short')];
  return [say('queue-wait'), ...numberFiles(prompts, lang, minutes), say('queue-minutes')];
}

/**
 * What the queues name that the prompt set lacks (a prompt name, a music class), one line each: the schema
 * cannot know the prompt folders, so the server checks them when it starts and after a reload.
 */
export function missingQueuePrompts(config: HibikiConfig, prompts: PromptCatalogue): string[] {
  const out: string[] = [];
  const classes = new Set(prompts.mohClassNames());
  for (const q of config.queues) {
    if (!classes.has(q.moh)) out.push(`queue ${q.number}: music-on-hold class "${q.moh}" not found (classes: ${[...classes].join(', ')})`);
    const check = (what: string, p: QueueConfig['periodicAnnouncement'] | undefined) => {
      if (p === undefined) return;
      for (const [lang, ref] of promptSettingRefs(p, q.language)) {
        if (!/\.wav$/i.test(ref) && prompts.find(ref, lang) === undefined) out.push(`queue ${q.number}: ${what} prompt "${ref}" not found`);
      }
    };
    check('greeting', q.greeting);
    check('periodicAnnouncement', q.periodicAnnouncement);
    check('whisper', q.whisper);
    for (const key of ['overflowDestination', 'timeoutDestination', 'exitDestination'] as const) {
      const text = q[key];
      const d = text === undefined ? undefined : queueDestination(text);
      if (d?.kind === 'prompt') check(key, d.prompt);
    }
  }
  return out;
}
