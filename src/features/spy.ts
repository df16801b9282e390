// F-SPY: a supervisor dials 995 (monitor), 994 (whisper) or 996 (barge) + an extension to join that
// extension's current call. The two parties' audio is moved from their bridge into a mix in the media engine
// with the supervisor: in monitor the supervisor hears both and nobody hears them; in whisper the extension
// (the agent) hears the supervisor too; in barge both parties do. Keys 5, 4 and 6 switch between the three
// during the session. When the supervisor hangs up, the parties are bridged again as before; they hear
// nothing of all this unless spy.beep is on. Who may spy on whom is `spy.rules`; refusals are logged and get
// a prompt.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { EndpointId, MediaEngine } from '../media/engine.js';
import type { PromptCatalogue } from '../media/prompts.js';
import type { CallApi, CallApplication, Feature, FeatureRegistry } from '../pbx/application.js';
import { ends } from '../pbx/call.js';
import { promptLanguage } from '../pbx/extension-audio.js';
import type { Leg } from '../pbx/leg.js';
import { normaliseDialled } from '../rules/numbers.js';

export type SpyMode = 'monitor' | 'whisper' | 'barge';

export interface SpyArgs {
  mode: SpyMode;
  target: string;
}

export interface SpyDeps {
  media: Pick<MediaEngine, 'createMix' | 'joinMix' | 'leaveMix' | 'destroyMix' | 'bridge'>;
  /** The target extension's leg in a bridged call now, with the leg it is bridged to. */
  bridgedLegOf(extension: string): { leg: Leg; peer: Leg } | undefined;
  prompts: PromptCatalogue;
  config: () => HibikiConfig;
  logger: Logger;
}

const MODE_KEYS: Record<string, SpyMode> = { '5': 'monitor', '4': 'whisper', '6': 'barge' };

/** The service code a dialled string starts with, and the extension after it. */
export function parseSpyCode(dialled: string, codes: { spyMonitor: string; spyWhisper: string; spyBarge: string }): SpyArgs | undefined {
  const d = normaliseDialled(dialled);
  for (const [mode, code] of [
    ['monitor', codes.spyMonitor],
    ['whisper', codes.spyWhisper],
    ['barge', codes.spyBarge],
  ] as const) {
    if (d.startsWith(code) && /^[0-9]{2,15}$/.test(d.slice(code.length))) return { mode, target: d.slice(code.length) };
  }
  return undefined;
}

/** Whether `supervisor` may monitor `target` under spy.rules (groups and queues stand for their members). */
export function maySpy(config: HibikiConfig, supervisor: string, target: string): boolean {
  if (supervisor === target) return false;
  const members = (n: string): string[] => {
    const group = config.groups.find((g) => g.number === n);
    if (group) return group.members;
    const queue = config.queues.find((q) => q.number === n);
    if (queue) return queue.members.map((m) => m.extension);
    return [n];
  };
  return config.spy.rules.some((r) => members(r.supervisor).includes(supervisor) && r.targets.some((t) => t === '*' || members(t).includes(target)));
}

export class Spy implements Feature, CallApplication<SpyArgs> {
  readonly name = 'spy';

  constructor(private readonly deps: SpyDeps) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'monitor codes',
      tier: 'service',
      resolve: (dialled, origin, config) => {
        if (origin.kind !== 'device') return undefined;
        const args = parseSpyCode(dialled, config.serviceCodes);
        return args ? { app: this, args, callee: { number: normaliseDialled(dialled) } } : undefined;
      },
    });
  }

  async run(session: CallApi, leg: Leg, args: SpyArgs): Promise<void> {
    const origin = session.origin;
    if (origin.kind !== 'device') return;
    const config = this.deps.config();
    const supervisor = origin.extension.number;
    const call = session.call;
    const log = session.log.child({ spy: args.target, mode: args.mode });
    call.feature = 'spy';
    const lang = promptLanguage(config, supervisor);
    const refuse = async (why: string, prompt: 'call-barred' | 'not-available', status: number, cause: number) => {
      log.warn({ supervisor, target: args.target, why }, 'monitoring refused');
      await session.refuse(leg.take({ label: 'spy refusal', ended: () => undefined }), { status, cause, reason: `spy: ${why}` }, { prompt: [this.deps.prompts.file(prompt, lang)] });
    };
    if (!maySpy(config, supervisor, args.target)) return refuse(`${supervisor} may not monitor ${args.target}`, 'call-barred', 403, 21);
    const found = this.deps.bridgedLegOf(args.target);
    if (!found || found.leg.endpoint === undefined || found.peer.endpoint === undefined) return refuse(`${args.target} is in no call`, 'not-available', 480, 18);
    const agent = found.leg;
    const other = found.peer;
    let mode = args.mode;
    let over = false;
    const mine = leg.take({
      label: 'spy',
      ended: (_l, end) => {
        finish();
        if (end.cancelled) call.end(ends.cancelled('supervisor cancelled'));
        else if (!call.isFinished) session.hangup('caller', end.cause, 'supervisor hung up');
      },
      digit: (_l, d) => {
        const next = MODE_KEYS[d];
        if (!next || next === mode || over) return;
        mode = next;
        log.info({ mode }, 'monitoring mode changed');
        arrange();
      },
    });
    if (!(await session.answer(mine)) || mine.leg.ended) return;
    if (!call.isAnswered) call.markAnswered('hibiki');
    const me = mine.leg.endpoint;
    if (me === undefined || agent.ended || other.ended) {
      session.hangup('system', 16, 'monitored call ended');
      return;
    }
    const { media } = this.deps;
    const mix = media.createMix();
    const a: EndpointId = agent.endpoint!;
    const b: EndpointId = other.endpoint!;
    /** Who hears whom in the current mode. */
    function arrange(): void {
      if (over) return;
      media.joinMix(mix, me!, { hears: [a, b], speaks: mode !== 'monitor' });
      media.joinMix(mix, a, { hears: mode === 'monitor' ? [b] : [b, me!], speaks: true });
      media.joinMix(mix, b, { hears: mode === 'barge' ? [a, me!] : [a], speaks: true });
    }
    function finish(): void {
      if (over) return;
      over = true;
      media.destroyMix(mix);
      // The parties talk as before, if they still are in that call together and neither holds it.
      if (!agent.ended && !other.ended && agent.peer === other && !agent.holding && !other.holding) media.bridge(a, b);
    }
    arrange();
    log.info({ supervisor }, 'monitoring started');
    if (config.spy.beep) {
      for (const l of [agent, other]) if (!l.ended) session.play(l, [this.deps.prompts.file('confirm-tone', lang)]);
    }
    // A monitored party hangs up (or is transferred away): the supervisor's session ends too.
    const partyGone = () => {
      if (over) return;
      finish();
      if (!call.isFinished) session.hangup('system', 16, 'the monitored call ended');
    };
    agent.holds(partyGone);
    other.holds(partyGone);
  }
}
