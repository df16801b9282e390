// Call recording (issue #15, F-CDR recording_path): decides when a bridged call is recorded and points the
// media engine's two-party recorder at the call's legs. A recording belongs to the Call: it starts at the
// first bridge (record: always) or on the record code (*1, on-demand), follows every re-bridge (transfer,
// pickup, park retrieval) into the same file, and ends with the call. The file's path is put on the call at
// once, so the CDR written when the call ends names it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { HibikiConfig } from '../../config/schema.js';
import type { RecordPolicy } from '../../config/recording-schema.js';
import type { CallRecordHandle, MediaEngine } from '../../media/engine.js';
import type { PromptCatalogue } from '../../media/prompts.js';
import type { Feature, FeatureRegistry, InCallContext } from '../../pbx/application.js';
import type { Call } from '../../pbx/call.js';
import { promptLanguage } from '../../pbx/extension-audio.js';
import type { Leg } from '../../pbx/leg.js';

export interface CallRecordingDeps {
  media: MediaEngine;
  prompts: PromptCatalogue;
  config: () => HibikiConfig;
  /** `<data.dir>/recordings`. */
  dir: string;
  logger: Logger;
}

interface Recording {
  handle: CallRecordHandle;
  path: string;
  paused: boolean;
  /** The legs recorded now: left (or first) channel, right channel. */
  legs: [Leg, Leg];
}

const STRENGTH: Record<RecordPolicy, number> = { never: 0, 'on-demand': 1, always: 2 };

/**
 * What a call's parties say about recording it: the strongest setting among the extensions in it (its live
 * legs, the one that answered), the groups and queue it came through (the number dialled, the callees it
 * was offered to, call.queue). `always` wins, then `on-demand`; nobody saying anything is `never`.
 */
export function recordPolicy(call: Call, config: HibikiConfig): RecordPolicy {
  let best: RecordPolicy = 'never';
  const consider = (p: RecordPolicy | undefined): void => {
    if (p !== undefined && STRENGTH[p] > STRENGTH[best]) best = p;
  };
  const extensions = new Set<string>();
  for (const l of call.legs) if (!l.ended && l.extension !== undefined) extensions.add(l.extension);
  if (call.answeredBy !== undefined) extensions.add(call.answeredBy);
  for (const e of config.extensions) if (extensions.has(e.number)) consider(e.record);
  const numbers = new Set<string>([call.dialled, call.callee.number, ...call.hops.map((h) => h.callee.number)]);
  for (const g of config.groups) if (numbers.has(g.number)) consider(g.record);
  if (call.queue !== undefined) numbers.add(call.queue);
  for (const q of config.queues) if (numbers.has(q.number)) consider(q.record);
  return best;
}

/** YYYY/MM/DD of `ms` in the tenant's time zone (where the file of a call started then goes). */
export function dayFolder(ms: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(new Date(ms));
  const part = (t: string): string => parts.find((p) => p.type === t)?.value ?? '00';
  return join(part('year'), part('month'), part('day'));
}

/** The two bridged legs of a call, caller side first (the stereo file's left channel). */
function bridgedPair(call: Call): [Leg, Leg] | undefined {
  const live = call.legs.filter((l) => !l.ended && l.endpoint !== undefined && l.peer !== undefined && !l.peer.ended && l.peer.endpoint !== undefined);
  const first = live.find((l) => l.role === 'caller') ?? live[0];
  return first && first.peer ? [first, first.peer] : undefined;
}

export class CallRecording implements Feature {
  private readonly recordings = new WeakMap<Call, Recording>();
  /** The day folder made last: made once a day rather than checked on every call. */
  private madeFolder: string | undefined;

  constructor(private readonly deps: CallRecordingDeps) {}

  register(r: FeatureRegistry): void {
    r.inCallCode('record', (ctx) => this.toggle(ctx));
  }

  /** Two legs of the call were connected (answer, transfer, pickup): start or follow its recording. */
  bridged(call: Call): void {
    const pair = bridgedPair(call);
    if (!pair) return;
    const rec = this.recordings.get(call);
    if (rec) {
      // The party that stays keeps its channel, whichever role its leg has (a caller may transfer too).
      const [left, right] = pair[1] === rec.legs[0] || pair[0] === rec.legs[1] ? [pair[1], pair[0]] : pair;
      rec.legs = [left, right];
      rec.handle.retarget(left.endpoint!, right.endpoint!);
      return;
    }
    if (recordPolicy(call, this.deps.config()) === 'always') this.start(call, pair, 'always');
  }

  private toggle(ctx: InCallContext): void {
    const call = ctx.session.call;
    const config = this.deps.config();
    const policy = recordPolicy(call, config);
    const lang = promptLanguage(config, ctx.leg.extension);
    // never: nobody may record; always: nobody may stop it.
    if (policy !== 'on-demand') {
      call.log.info({ event: 'recording', extension: ctx.leg.extension, policy }, 'record code refused');
      ctx.session.play(ctx.leg, [this.deps.prompts.file('error-tone', lang)]);
      return;
    }
    const rec = this.recordings.get(call);
    if (!rec) {
      const pair = bridgedPair(call);
      if (!pair || !this.start(call, pair, 'on-demand')) {
        ctx.session.play(ctx.leg, [this.deps.prompts.file('error-tone', lang)]);
        return;
      }
    } else {
      rec.paused = !rec.paused;
      rec.handle.pause(rec.paused);
      call.log.info({ event: 'recording', path: rec.path, by: ctx.leg.extension }, rec.paused ? 'recording stopped' : 'recording resumed');
    }
    if (config.recording.beep) {
      for (const leg of [ctx.leg, ctx.other]) if (!leg.ended) ctx.session.play(leg, [this.deps.prompts.file('vm-beep', promptLanguage(config, leg.extension))]);
    }
  }

  private start(call: Call, [a, b]: [Leg, Leg], why: RecordPolicy): boolean {
    const config = this.deps.config();
    const folder = join(this.deps.dir, dayFolder(call.startedAt, config.tenant.timezone));
    try {
      // Synchronous, but only the first call of a day gets here with a folder to make.
      if (this.madeFolder !== folder) mkdirSync(folder, { recursive: true });
      this.madeFolder = folder;
    } catch (err) {
      call.log.error({ err, folder }, 'recording folder not created: call not recorded');
      return false;
    }
    // The call's own id (CDR linked_id): file-name safe, unlike a SIP Call-ID, and kept through transfers.
    const path = join(folder, `${call.linkedId}.wav`);
    const handle = this.deps.media.recordCall(a.endpoint!, b.endpoint!, path, { format: config.recording.format });
    this.recordings.set(call, { handle, path, paused: false, legs: [a, b] });
    call.recordingPath = path;
    call.log.info({ event: 'recording', path, policy: why, format: config.recording.format }, 'recording started');
    call.once('ended', () => handle.stop());
    handle.done.then(
      (r) => {
        if (r.reason === 'failed') call.log.error({ path, err: r.error }, 'recording failed');
        else call.log.info({ event: 'recording', path, durationMs: r.durationMs }, 'recording complete');
      },
      (err: unknown) => call.log.error({ err, path }, 'recording failed'),
    );
    return true;
  }
}
