// F-AGENT service codes dialled from an agent's phone: *51 pauses the agent in every queue they belong to,
// *51 + a queue number in that queue; *52 (+ queue) makes them available again, which also ends after-call
// work and an auto-pause. A confirmation prompt says what happened, then hibiki hangs up.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../../config/schema.js';
import type { PromptCatalogue } from '../../media/prompts.js';
import type { CallApi, CallApplication, Feature, FeatureRegistry } from '../../pbx/application.js';
import { promptLanguage } from '../../pbx/extension-audio.js';
import type { Leg } from '../../pbx/leg.js';
import type { Clock } from '../../util/clock.js';
import { normaliseDialled } from '../../rules/numbers.js';
import { answerWithPrompt } from '../announce.js';
import type { AgentBoard } from './agent-board.js';
import type { AgentHolds } from './agent-holds.js';

export interface AgentCodeAction {
  pause: boolean;
  /** A queue number, or undefined for every queue of the agent. */
  queue: string | undefined;
}

export interface AgentCodesDeps {
  holds: AgentHolds;
  board: AgentBoard;
  prompts: PromptCatalogue;
  clock: Clock;
  config: () => HibikiConfig;
  logger: Logger;
  /** An agent's availability changed (the dispatcher offers waiting callers). */
  changed(agent: string): void;
}

export function parseAgentCode(dialled: string, codes: { agentPause: string; agentResume: string }): AgentCodeAction | undefined {
  const d = normaliseDialled(dialled);
  for (const [code, pause] of [
    [codes.agentPause, true],
    [codes.agentResume, false],
  ] as const) {
    if (!d.startsWith(code)) continue;
    const rest = d.slice(code.length);
    if (rest === '') return { pause, queue: undefined };
    if (/^[0-9]{2,15}$/.test(rest)) return { pause, queue: rest };
  }
  return undefined;
}

export class AgentCodes implements Feature, CallApplication<AgentCodeAction> {
  readonly name = 'agent code';

  constructor(private readonly deps: AgentCodesDeps) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'agent codes',
      tier: 'service',
      resolve: (dialled, origin, config) => {
        if (origin.kind !== 'device') return undefined;
        const action = parseAgentCode(dialled, config.serviceCodes);
        return action ? { app: this, args: action, callee: { number: normaliseDialled(dialled) } } : undefined;
      },
    });
  }

  async run(session: CallApi, leg: Leg, action: AgentCodeAction): Promise<void> {
    const origin = session.origin;
    if (origin.kind !== 'device') return;
    const { holds, board, clock, logger } = this.deps;
    const agent = origin.extension.number;
    const mine = board.queuesOf(agent);
    const queues = action.queue === undefined ? mine : mine.filter((q) => q === action.queue);
    let prompt: string;
    let reason: string;
    if (queues.length === 0) {
      prompt = 'agent-not-member';
      reason = action.queue === undefined ? `agent code: ${agent} is in no queue` : `agent code: ${agent} is not an agent of queue ${action.queue}`;
    } else {
      try {
        const now = clock.now();
        const changed = action.pause ? holds.pause(agent, queues, { by: 'phone', now }) : holds.resume(agent, queues, { by: 'phone', now });
        prompt = action.pause ? 'agent-paused' : 'agent-resumed';
        reason = `agent code: ${action.pause ? 'paused' : 'resumed'} in ${queues.join(', ')} (${changed.filter((c) => c.changed).length} changed)`;
        this.deps.changed(agent);
      } catch (err) {
        // A storage failure must still end the call with an audible error.
        logger.error({ err, callId: session.call.callId, agent }, 'agent code not applied');
        prompt = 'forward-invalid';
        reason = 'agent code failed';
      }
    }
    session.log.info({ agent, queues }, reason);
    session.call.feature = 'service_code';
    const lang = promptLanguage(this.deps.config(), agent);
    const file = this.deps.prompts.find(prompt, lang);
    await answerWithPrompt(session, leg, file === undefined ? [] : [file], reason);
  }
}
