// TEMPORARY placeholder until the strategies branch is merged (replaced by it).
import type { QueueStrategy } from '../../config/queue-schema.js';
export interface Candidate { extension: string; level: number; index: number }
export interface AgentHistory { lastEndedAt: number | undefined; talkMsToday: number; callsToday: number }
export interface OfferDecision { ringAll: boolean; agents: string[] }
export function chooseAgents(strategy: QueueStrategy, available: readonly Candidate[], _ctx: { history(ext: string): AgentHistory; lastOffered: string | undefined; members: readonly string[]; random(): number }): OfferDecision {
  const min = Math.min(...available.map((c) => c.level));
  return { ringAll: strategy === 'ringall', agents: available.filter((c) => c.level === min).map((c) => c.extension) };
}
