// Offering waiting callers to agents (F-QUEUE). Each queue keeps its line in arrival order; the dispatcher
// walks it longest-waiting first and gives each caller that has no offer ringing the agents the ring
// strategy chooses among those who may take a call now (AgentBoard.offerable; strict skill levels). An
// agent who let an offer go unanswered is not offered again for retryDelay seconds — yet still counts as
// available, so a no-answer never spills the call to the next skill level while that agent is there. On
// answer the agent hears the whisper alone, then caller and agent are bridged; an agent whose phone fails
// before that puts the caller back where they were, at the front. dispatch() runs on every change that can
// free an agent or bring a caller, and on a one-second tick while callers wait.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../../config/schema.js';
import type { QueueConfig } from '../../config/queue-schema.js';
import type { PromptCatalogue } from '../../media/prompts.js';
import type { CallApi, DeliveryOutcome, RingContext, RingResult } from '../../pbx/application.js';
import type { CallOutcome } from '../../pbx/call.js';
import { failure } from '../../pbx/delivery.js';
import type { LegHandle } from '../../pbx/leg.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import { every } from '../../util/clock.js';
import { ringTargetsOf, type Contacts } from '../extension.js';
import { promptSettingFiles } from '../prompt-ref.js';
import type { AgentBoard } from './agent-board.js';
import type { AgentHolds } from './agent-holds.js';
import type { AgentHistoryBook } from './agent-history.js';
import type { QueueLog } from './queue-log.js';
import { chooseAgents, type Candidate } from './strategies.js';

/** A caller in a queue's line, as the queue application (queue.ts) keeps it. */
export interface Waiter {
  readonly queue: QueueConfig;
  readonly session: CallApi;
  /** The caller's leg, owned by the queue while it waits. */
  readonly handle: LegHandle;
  /** Wall-clock ms of arrival. */
  readonly arrivedAt: number;
  readonly log: Logger;
  /** False once the caller has left the line (answered, gone, timed out, exited). */
  readonly waiting: boolean;
  /** An agent answered: answer the caller if needed and take them out of the line; false when they are gone. */
  connect(): Promise<boolean>;
}

export interface DispatcherDeps {
  config: () => HibikiConfig;
  clock: Clock;
  registrar: Contacts;
  board: AgentBoard;
  holds: AgentHolds;
  history: AgentHistoryBook;
  log: QueueLog;
  prompts: PromptCatalogue;
  logger: Logger;
  random?: () => number;
}

/** Answered waits kept per queue for the estimated wait. */
const RECENT_WAITS = 20;
/** How often the lines are looked at while callers wait (agents freed by direct calls, CLI changes, retry windows). */
const TICK_MS = 1000;

interface Line {
  waiters: Waiter[];
  /** Callers with an offer ringing now. */
  offering: Set<Waiter>;
  /** agent → monotonic ms until which they are not offered again (retryDelay after a no-answer). */
  retryUntil: Map<string, number>;
  /** Waits (ms) of the last answered calls, newest last. */
  recentWaits: number[];
}

export class Dispatcher {
  private readonly lines = new Map<string, Line>();
  private tick: TimerHandle | undefined;
  /** Offers to stop when their caller leaves. */
  private readonly cancels = new Map<Waiter, () => void>();

  constructor(private readonly deps: DispatcherDeps) {}

  private line(queue: string): Line {
    let l = this.lines.get(queue);
    if (!l) this.lines.set(queue, (l = { waiters: [], offering: new Set(), retryUntil: new Map(), recentWaits: [] }));
    return l;
  }

  waitingCount(queue: string): number {
    return this.lines.get(queue)?.waiters.length ?? 0;
  }

  /** 1-based place in the line (1: next to be offered); 0 when not in it. */
  positionOf(w: Waiter): number {
    return (this.lines.get(w.queue.number)?.waiters.indexOf(w) ?? -1) + 1;
  }

  /** Asterisk's estimate: the average wait of the last answered calls times the caller's position. */
  estimatedWaitMs(queue: string, position: number): number | undefined {
    const waits = this.lines.get(queue)?.recentWaits ?? [];
    if (waits.length === 0 || position <= 0) return undefined;
    return (waits.reduce((a, b) => a + b, 0) / waits.length) * position;
  }

  /**
   * Whether a new caller may wait: fewer callers in the line than maxWaiting plus the agents free for it
   * now (maxWaiting 0: only as many calls as free agents).
   */
  admits(q: QueueConfig): boolean {
    const now = this.deps.clock.now();
    const counts = this.deps.board.counts();
    const free = q.members.filter((m) => this.deps.board.offerable(q, m.extension, now, counts)).length;
    return this.waitingCount(q.number) < q.maxWaiting + free;
  }

  add(w: Waiter): void {
    this.line(w.queue.number).waiters.push(w);
    this.tick ??= every(this.deps.clock, TICK_MS, () => this.onTick());
  }

  remove(w: Waiter): void {
    const l = this.lines.get(w.queue.number);
    if (!l) return;
    const i = l.waiters.indexOf(w);
    if (i >= 0) l.waiters.splice(i, 1);
    this.cancels.get(w)?.();
    this.cancels.delete(w);
    if (this.totalWaiting() === 0) {
      this.tick?.cancel();
      this.tick = undefined;
    }
  }

  private totalWaiting(): number {
    let n = 0;
    for (const l of this.lines.values()) n += l.waiters.length;
    return n;
  }

  private onTick(): void {
    this.deps.holds.refresh();
    for (const [queue, l] of this.lines) if (l.waiters.length > 0) this.dispatch(queue);
  }

  /** Offer the queue's waiting callers to the agents who may take them, longest-waiting first. */
  dispatch(queue: string): void {
    const l = this.lines.get(queue);
    if (!l || l.waiters.length === 0) return;
    // A reload may have changed the queue's members or strategy: the line follows the configuration in force.
    const q = this.deps.config().queues.find((c) => c.number === queue) ?? l.waiters[0]!.queue;
    const now = this.deps.clock.now();
    const mono = this.deps.clock.monotonic();
    // Who may take a call is worked out once per pass; each offer takes its agents out of the list.
    let available: Candidate[] | undefined;
    for (const w of l.waiters) {
      if (l.offering.has(w) || !w.waiting) continue;
      if (available === undefined) {
        const counts = this.deps.board.counts();
        available = q.members.flatMap((m, index) => (this.deps.board.offerable(q, m.extension, now, counts) ? [{ extension: m.extension, level: m.level, index }] : []));
      }
      if (available.length === 0) return;
      const { history } = this.deps;
      const decision = chooseAgents(q.strategy, available, {
        history: (ext) => history.history(q.number, ext),
        lastOffered: history.lastOffered(q.number),
        members: q.members.map((m) => m.extension),
        random: this.deps.random ?? Math.random,
      });
      const ready = decision.agents.filter((a) => (l.retryUntil.get(a) ?? 0) <= mono);
      // Strictness: the chosen level's agents in their retry window hold the call at that level.
      if (ready.length === 0) return;
      const agents = decision.ringAll ? ready : [ready[0]!];
      available = available.filter((c) => !agents.includes(c.extension));
      this.offer(q, l, w, agents);
    }
  }

  private offer(q: QueueConfig, l: Line, w: Waiter, agents: string[]): void {
    const { board, history, log, clock } = this.deps;
    l.offering.add(w);
    for (const a of agents) {
      board.ringing(a, true);
      board.poke(a);
    }
    if (q.strategy !== 'ringall') history.offered(q.number, agents[0]!);
    w.log.info({ agents }, 'offering the queue call');
    const caller = w.session.call.caller;
    const name = q.displayPrefix !== undefined ? `${q.displayPrefix}${caller.name ?? caller.number}` : caller.name;
    let agentGone = false;
    void w.session
      .dial(
        { label: `queue ${q.number}`, ring: (d) => this.ringAgents(d, q, agents) },
        {
          presentedAs: { number: caller.number, name },
          ringTimeoutSec: q.agentRingTime,
          onRinging: (cancel) => {
            // The caller may have left while the offer's media was being set up: stop at once.
            if (w.waiting) this.cancels.set(w, cancel);
            else cancel();
          },
          owner: { label: 'queue agent', ended: () => (agentGone = true) },
        },
      )
      .then(
        async (r) => {
          this.cancels.delete(w);
          for (const a of agents) board.ringing(a, false);
          if (!r.ok) {
            l.offering.delete(w);
            if (!w.waiting) {
              // The caller left: the ringing was stopped, no agent missed a call.
              for (const a of agents) board.poke(a);
              return;
            }
            const now = clock.now();
            for (const a of agents) {
              log.add({ at: now, queue: q.number, callId: w.session.call.callId, agent: a, event: 'RINGNOANSWER', detail: r.disposition });
              this.missed(q, l, a, r.disposition);
              board.poke(a);
            }
            this.dispatchSoon(q.number);
            return;
          }
          const agentHandle = r.leg;
          const agent = agentHandle.leg.extension ?? agents[0]!;
          // The others of a ring-all offer stopped ringing.
          for (const a of agents) if (a !== agent) board.poke(a);
          if (!w.waiting) {
            // The caller left while the agent's phone was being answered.
            l.offering.delete(w);
            w.session.drop(agentHandle);
            board.poke(agent);
            return;
          }
          await this.whisper(q, w, agentHandle);
          if (!w.waiting) {
            // The caller left during the whisper: the agent answered, so no missed call; their leg goes too.
            l.offering.delete(w);
            if (!agentHandle.leg.ended) w.session.drop(agentHandle);
            board.poke(agent);
            return;
          }
          if (agentGone || agentHandle.leg.ended) {
            // The agent's phone failed (or they hung up) before the caller was connected: back to the front.
            l.offering.delete(w);
            w.log.info({ agent }, 'agent gone before the caller was connected: caller stays in the line');
            log.add({ at: clock.now(), queue: q.number, callId: w.session.call.callId, agent, event: 'RINGNOANSWER', detail: 'failed' });
            board.poke(agent);
            this.dispatchSoon(q.number);
            return;
          }
          const connected = await w.connect();
          l.offering.delete(w);
          if (!connected) {
            w.session.drop(agentHandle);
            board.poke(agent);
            return;
          }
          this.connected(q, l, w, agent, agentHandle);
        },
        (err: unknown) => {
          this.cancels.delete(w);
          l.offering.delete(w);
          for (const a of agents) board.ringing(a, false);
          w.log.error({ err }, 'queue offer failed');
        },
      );
  }

  /** Ring the chosen agents' phones directly (their own forwarding does not apply, as for hunt groups). */
  private async ringAgents(d: RingContext, q: QueueConfig, agents: string[]): Promise<DeliveryOutcome> {
    const { targets: contacts, extensionOf } = ringTargetsOf(this.deps.registrar, agents);
    if (contacts.length === 0) return failure(480, 20, 'failed', `queue ${q.number}: agents not registered`);
    const outcome: RingResult = await d.ring({
      contacts,
      // Not offered to call pickup: a queue call is for its agents, whose states and statistics it keeps.
      extensions: [],
      from: d.fromHeader(d.caller.name),
      to: `<sip:${q.number}@${d.config.tenant.domain}>`,
      ringTimeoutSec: q.agentRingTime,
      local: true,
    });
    if (outcome.kind === 'answered') {
      const agent = extensionOf.get(outcome.label) ?? agents[0]!;
      return { kind: 'answered', dialog: outcome.dialog, label: outcome.label, party: { number: agent, name: d.config.extensions.find((e) => e.number === agent)?.name }, extension: agent };
    }
    if (outcome.kind === 'picked' || outcome.kind === 'cancelled') return outcome;
    if (outcome.kind === 'timeout') return failure(480, 19, 'no_answer', `queue ${q.number}: agent did not answer`);
    if (outcome.kind === 'unresponsive') return failure(408, 18, 'failed', `queue ${q.number}: agent phone did not respond`);
    return failure(outcome.status, outcome.cause, outcome.disposition, `queue ${q.number}: agent phone ${outcome.status}`);
  }

  /** The whisper, to the agent alone (the caller keeps hearing the music). */
  private async whisper(q: QueueConfig, w: Waiter, agent: LegHandle): Promise<void> {
    if (q.whisper === undefined) return;
    const files = promptSettingFiles(this.deps.prompts, q.whisper, q.language, w.log);
    if (files.length === 0) return;
    await w.session.play(agent, files).done;
  }

  /**
   * The offer to `agent` was not taken: a retry window; and an auto-pause when the queue has it and the
   * agent's phone let it ring out or was busy (not for a failure on our side, such as no free RTP port).
   */
  private missed(q: QueueConfig, l: Line, agent: string, disposition: string): void {
    l.retryUntil.set(agent, this.deps.clock.monotonic() + q.retryDelay * 1000);
    if (!q.autoPause || (disposition !== 'no_answer' && disposition !== 'busy')) return;
    const now = this.deps.clock.now();
    const until = q.autoPauseSeconds > 0 ? now + q.autoPauseSeconds * 1000 : undefined;
    this.deps.holds.pause(agent, [q.number], { reason: 'auto', by: 'auto-pause', now, until });
    this.deps.logger.info({ queue: q.number, agent, until }, 'agent auto-paused after a missed queue call');
  }

  private connected(q: QueueConfig, l: Line, w: Waiter, agent: string, agentHandle: LegHandle): void {
    const { board, history, log, clock, holds } = this.deps;
    const call = w.session.call;
    const answeredAt = clock.now();
    const waitMs = Math.max(0, answeredAt - w.arrivedAt);
    l.recentWaits.push(waitMs);
    if (l.recentWaits.length > RECENT_WAITS) l.recentWaits.shift();
    call.callee = agentHandle.leg.party;
    call.answeredBy = agent;
    call.queueWaitMs = waitMs;
    log.add({ at: answeredAt, queue: q.number, callId: call.callId, agent, event: 'ANSWER', waitMs });
    w.log.info({ agent, waitMs }, 'queue call answered');
    const endQueueCall = board.inQueueCall(agent, q.number, agentHandle.leg);
    let hangupBy: string | undefined;
    const onEnded = (outcome: CallOutcome | undefined) => {
      hangupBy = outcome?.hangupBy;
    };
    call.once('ended', onEnded);
    // The queue call is over for the agent when their leg ends: the caller hung up, the agent did, or the
    // agent transferred the caller on (the call goes on without them).
    agentHandle.leg.holds(() => {
      endQueueCall();
      const endedAt = clock.now();
      // The call's end, if the leg's end ends it, is known once the hang-up has run to its end.
      setImmediate(() => {
        call.off('ended', onEnded);
        const by = hangupBy === undefined ? 'transfer' : hangupBy === 'caller' ? 'caller' : hangupBy === 'callee' ? 'agent' : 'system';
        log.add({ at: endedAt, queue: q.number, callId: call.callId, agent, event: 'COMPLETE', talkMs: Math.max(0, endedAt - answeredAt), detail: by });
        history.callEnded(q.number, agent, { answeredAt, endedAt });
        if (q.wrapupSeconds !== undefined) holds.wrapup(agent, q.number, endedAt, q.wrapupSeconds === 0 ? null : endedAt + q.wrapupSeconds * 1000);
        board.poke(agent);
        for (const queue of board.queuesOf(agent)) this.dispatchSoon(queue);
      });
    });
    w.session.bridge(w.handle, agentHandle);
    board.poke(agent);
  }

  /** Dispatch after the current event has been handled (never from inside an offer's own bookkeeping). */
  private dispatchSoon(queue: string): void {
    setImmediate(() => this.dispatch(queue));
  }

  /** Called when anything may have freed agents of these queues (a registration, a resume). */
  agentChanged(agent: string): void {
    this.deps.board.poke(agent);
    for (const queue of this.deps.board.queuesOf(agent)) this.dispatchSoon(queue);
  }

  stop(): void {
    this.tick?.cancel();
    this.tick = undefined;
  }
}
