// Prometheus metrics of one running hibiki (issue #12, GET /metrics): a registry per server (tests run
// several in one process), Node's default metrics (event-loop lag, heap, GC) and the PBX's own. Gauges and
// the SIP and RTP counters are read from the PBX when Prometheus scrapes; the call counters are fed as
// calls end. Names and labels are documented in docs/api-events.md.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { MediaTotals } from '../../media/engine.js';
import type { CallMoment } from '../../pbx/call-activity.js';
import type { Call } from '../../pbx/call.js';
import type { ApiContext } from '../context.js';

export class PbxMetrics {
  readonly registry = new Registry();
  private readonly starts: number[] = [];
  private readonly off: () => void;
  /** The media engine's totals for the scrape in progress: one worker request serves every RTP metric of it. */
  private totals: Promise<MediaTotals> | undefined;

  constructor(ctx: ApiContext) {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    const { calls, stack, registrations, queues } = ctx;
    const attempts = new Counter({
      name: 'hibiki_call_attempts_total',
      help: 'Calls that ended, by disposition (answered, no_answer, busy, failed, cancelled) and Q.850 cause.',
      labelNames: ['disposition', 'cause'],
      registers: [r],
    });
    const completions = new Counter({
      name: 'hibiki_call_completions_total',
      help: 'Answered calls that ended, by Q.850 cause (16: normal clearing).',
      labelNames: ['cause'],
      registers: [r],
    });
    const started = new Counter({ name: 'hibiki_calls_started_total', help: 'Calls the PBX took in (rate() of it is the CPS over any window).', registers: [r] });
    new Gauge({ name: 'hibiki_calls_active', help: 'Calls in progress (ringing or answered).', registers: [r], collect: gauge(() => calls.size) });
    new Gauge({ name: 'hibiki_calls_per_second', help: 'Calls taken in during the last second.', registers: [r], collect: gauge(() => this.cps()) });
    new Gauge({ name: 'hibiki_registrations', help: 'Registration bindings (contacts) in force.', registers: [r], collect: gauge(() => registrations.count()) });
    new Counter({
      name: 'hibiki_sip_messages_total',
      help: 'SIP messages received (in) and sent (out), retransmissions included: requests by method (status ""), responses by status and CSeq method.',
      labelNames: ['direction', 'method', 'status'],
      registers: [r],
      collect() {
        this.reset();
        for (const c of stack.counters.all()) this.inc({ direction: c.direction, method: c.method, status: c.status }, c.count);
      },
    });
    new Gauge({
      name: 'hibiki_sip_transactions',
      help: 'SIP transactions in progress, client and server.',
      labelNames: ['kind'],
      registers: [r],
      collect() {
        const s = stack.transactions.size;
        this.set({ kind: 'client' }, s.client);
        this.set({ kind: 'server' }, s.server);
      },
    });
    new Gauge({ name: 'hibiki_sip_dialogs', help: 'SIP dialogs in progress.', registers: [r], collect: gauge(() => stack.dialogs.size) });
    const totals = () => (this.totals ??= ctx.media.totals());
    const rtp = (name: string, help: string, key: Exclude<keyof MediaTotals, 'endpoints' | 'pooledPairs'>) =>
      new Counter({
        name,
        help,
        registers: [r],
        async collect() {
          this.reset();
          this.inc((await totals())[key]);
        },
      });
    rtp('hibiki_rtp_packets_received_total', 'RTP packets received on every media endpoint.', 'packetsIn');
    rtp('hibiki_rtp_packets_sent_total', 'RTP packets sent (relayed, prompts, music, telephone-events).', 'packetsOut');
    rtp('hibiki_rtp_packets_relayed_total', 'RTP packets forwarded from a leg to the leg it is bridged to.', 'relayed');
    rtp('hibiki_rtp_packets_lost_total', 'RTP packets missing from the received sequence numbers.', 'lost');
    rtp('hibiki_rtp_sends_dropped_total', 'RTP sends dropped because the socket send buffer was full (native UDP I/O).', 'sendsDropped');
    rtp('hibiki_rtp_datagrams_truncated_total', 'Datagrams received too long for an RTP packet, dropped (native UDP I/O).', 'truncated');
    new Gauge({
      name: 'hibiki_media_endpoints',
      help: 'Media endpoints (RTP port pairs) allocated.',
      registers: [r],
      async collect() {
        this.set((await totals()).endpoints);
      },
    });
    new Gauge({
      name: 'hibiki_media_pooled_socket_pairs',
      help: 'RTP/RTCP socket pairs kept bound between calls for reuse.',
      registers: [r],
      async collect() {
        this.set((await totals()).pooledPairs);
      },
    });
    new Gauge({
      name: 'hibiki_queue_callers_waiting',
      help: 'Callers waiting in each queue.',
      labelNames: ['queue'],
      registers: [r],
      collect() {
        this.reset();
        for (const q of ctx.currentConfig.queues) this.set({ queue: q.number }, queues.waiting(q.number));
      },
    });
    new Gauge({
      name: 'hibiki_queue_agents',
      help: 'Agents of each queue by state (offline, available, ringing, in_call, on_hold, paused, wrapup).',
      labelNames: ['queue', 'state'],
      registers: [r],
      collect() {
        this.reset();
        const counts = queues.board.counts();
        for (const q of ctx.currentConfig.queues) {
          const byState = new Map<string, number>();
          for (const m of q.members) {
            const s = queues.board.stateOf(q.number, m.extension, undefined, counts);
            byState.set(s, (byState.get(s) ?? 0) + 1);
          }
          for (const [state, n] of byState) this.set({ queue: q.number, state }, n);
        }
      },
    });
    const onMoment = (_call: Call, m: CallMoment) => {
      if (m.state === 'started') {
        started.inc();
        this.starts.push(performance.now());
        this.cps();
      } else if (m.state === 'ended') {
        const cause = String(m.outcome.q850);
        attempts.inc({ disposition: m.outcome.disposition, cause });
        if (m.outcome.disposition === 'answered') completions.inc({ cause });
      }
    };
    calls.activity.on('moment', onMoment);
    this.off = () => calls.activity.off('moment', onMoment);
  }

  /** Calls taken in during the last second; forgets older ones, so the list stays as long as one second of calls. */
  private cps(): number {
    const since = performance.now() - 1000;
    let drop = 0;
    while (drop < this.starts.length && this.starts[drop]! < since) drop++;
    if (drop > 0) this.starts.splice(0, drop);
    return this.starts.length;
  }

  /** The exposition text of every metric, read now. */
  async scrape(): Promise<string> {
    this.totals = undefined;
    return this.registry.metrics();
  }

  stop(): void {
    this.off();
    this.registry.clear();
  }
}

function gauge(read: () => number) {
  return function (this: Gauge) {
    this.set(read());
  };
}
