// What the event stream tells (issue #12, F-EVENTS), translated from the PBX's own events into stream
// events: registrations, calls, park slots, queues and agents, configuration reloads and security locks.
// Each names the extensions it concerns, which decides who besides admins and supervisors sees it.
import type { ConfigEvent } from '../../config/config-events.js';
import type { HibikiConfig } from '../../config/schema.js';
import type { ForwardingChange } from '../../features/forwarding.js';
import type { ParkEvent } from '../../features/park.js';
import type { CallMoment } from '../../pbx/call-activity.js';
import type { Call } from '../../pbx/call.js';
import type { RegistrationEvent } from '../../registrar/registrar.js';
import type { AuthLock } from '../../store/auth-lock-store.js';
import type { QueueEvent } from '../../store/queue-event-store.js';
import type { AccountLock, Accounts } from '../accounts.js';
import type { ApiContext } from '../context.js';
import type { EventHub } from './hub.js';

/** Subscribe the hub to every source; returns what unsubscribes them all. */
export function connectSources(hub: EventHub, ctx: ApiContext, accounts: Accounts): () => void {
  const calls = new CallTranslator(hub, () => ctx.currentConfig);
  const offs = [
    ctx.registrar.onEvent((e) => registration(hub, e)),
    subscribe(ctx.calls.activity, 'moment', (call: Call, m: CallMoment) => calls.moment(call, m)),
    ctx.park.onEvent((e) => park(hub, e)),
    ctx.forwarding.onChange((c) => forwarding(hub, c, ctx)),
    // The waiting count is read once the queue has taken the caller in or out of its line (same tick).
    ctx.queues.onEvent((e) => queueMicrotask(() => queue(hub, e, ctx.queues.waiting(e.queue)))),
    subscribe(ctx.configEvents, 'event', (e: ConfigEvent) => config(hub, e)),
    ctx.guard.onLock((l) => sipLock(hub, l)),
    accounts.onLock((l) => accountLock(hub, l)),
  ];
  return () => {
    for (const off of offs) off();
  };
}

function subscribe<A extends unknown[]>(emitter: { on(e: string, fn: (...a: A) => void): unknown; off(e: string, fn: (...a: A) => void): unknown }, event: string, fn: (...a: A) => void): () => void {
  emitter.on(event, fn);
  return () => emitter.off(event, fn);
}

/** A run-time forwarding or DND change, with what is in force for the extension afterwards. */
function forwarding(hub: EventHub, c: ForwardingChange, ctx: ApiContext): void {
  const now = ctx.forwarding.effective(c.extension);
  hub.publish('forwarding', { extension: c.extension, changed: c.what, by: c.by, effective: now }, [c.extension]);
}

function registration(hub: EventHub, e: RegistrationEvent): void {
  const b = e.binding;
  const action = e.type === 'registered' ? (e.refreshed ? 'refreshed' : 'registered') : 'unregistered';
  hub.publish(
    'registration',
    {
      action,
      ...(e.type === 'unregistered' ? { reason: e.reason } : {}),
      extension: b.aor,
      contact: b.contact,
      address: b.sourceAddress,
      port: b.sourcePort,
      transport: b.transport,
      userAgent: b.userAgent ?? null,
      expiresAt: new Date(b.expiresAt).toISOString(),
    },
    [b.aor],
  );
}

/** Calls' moments as `call` events; remembers which extensions each call touched, for `ended`. */
class CallTranslator {
  private readonly touched = new WeakMap<Call, Set<string>>();
  private extensionsOf: HibikiConfig | undefined;
  private extensionSet = new Set<string>();

  constructor(
    private readonly hub: EventHub,
    private readonly config: () => HibikiConfig,
  ) {}

  private isExtension(n: string | undefined): n is string {
    const c = this.config();
    if (c !== this.extensionsOf) {
      this.extensionSet = new Set(c.extensions.map((e) => String(e.number)));
      this.extensionsOf = c;
    }
    return n !== undefined && this.extensionSet.has(n);
  }

  moment(call: Call, m: CallMoment): void {
    // Every call is taken in before it rings; the stream tells from ringing on (the metrics count starts).
    if (m.state === 'started') return;
    let seen = this.touched.get(call);
    if (!seen) this.touched.set(call, (seen = new Set()));
    const add = (n: string | undefined) => {
      if (this.isExtension(n)) seen.add(n);
    };
    add(call.caller.number);
    add(call.callee.number);
    for (const e of call.extensions()) add(e);
    let data: Record<string, unknown>;
    switch (m.state) {
      case 'ringing':
        m.extensions.forEach(add);
        data = { ringing: m.extensions };
        break;
      case 'answered':
        add(m.by);
        data = { answeredBy: m.by };
        break;
      case 'held':
      case 'resumed':
        add(m.by);
        data = { by: m.by };
        break;
      case 'transferred':
        add(m.by);
        add(m.to);
        data = { kind: m.kind, by: m.by, to: m.to };
        break;
      case 'parked':
        add(m.by);
        data = { slot: m.slot, by: m.by ?? null };
        break;
      case 'ended': {
        const o = m.outcome;
        add(o.answeredBy);
        add(o.transferredBy);
        data = {
          cause: o.q850,
          disposition: o.disposition,
          hangupBy: o.hangupBy,
          sipStatus: o.sipStatus ?? null,
          reason: o.reason,
          answeredBy: o.answeredBy ?? null,
          durationSec: Math.round((o.endedAt - o.startedAt) / 1000),
          billsec: o.answeredAt === undefined ? 0 : Math.round((o.endedAt - o.answeredAt) / 1000),
        };
        break;
      }
    }
    const extensions = [...seen];
    this.hub.publish(
      'call',
      {
        state: m.state,
        callId: call.callId,
        linkedId: call.linkedId,
        direction: call.direction,
        caller: { number: call.caller.number, name: call.caller.name ?? null },
        dialed: call.dialled,
        callee: { number: call.callee.number, name: call.callee.name ?? null },
        extensions,
        ...data,
      },
      extensions,
    );
  }
}

function park(hub: EventHub, e: ParkEvent): void {
  hub.publish('park', { action: e.type, slot: e.slot, party: e.party, parkedBy: e.parkedBy ?? null, callId: e.callId }, [e.party, e.parkedBy]);
}

/** How a caller left a queue, by the queue event that says so. */
const leaving: Partial<Record<QueueEvent['event'], string>> = {
  ANSWER: 'answered',
  ABANDON: 'abandoned',
  OVERFLOW: 'overflow',
  TIMEOUT: 'timeout',
  EXIT: 'exit',
  LOST: 'lost',
};

function queue(hub: EventHub, e: QueueEvent, waiting: number): void {
  if (e.event === 'AGENT') {
    const [state, reason] = (e.detail ?? '').split(':', 2);
    hub.publish('agent', { queue: e.queue, agent: e.agent ?? null, state, reason: reason ?? null }, [e.agent ?? undefined]);
    return;
  }
  const base = { queue: e.queue, callId: e.callId ?? null, waiting };
  if (e.event === 'ENTER') hub.publish('queue', { action: 'joined', caller: e.detail ?? null, ...base });
  else if (leaving[e.event]) hub.publish('queue', { action: 'left', outcome: leaving[e.event], agent: e.agent ?? null, waitMs: e.waitMs ?? null, ...base }, [e.agent ?? undefined]);
  else if (e.event === 'COMPLETE') hub.publish('queue', { action: 'completed', agent: e.agent ?? null, talkMs: e.talkMs ?? null, hangupBy: e.detail ?? null, ...base }, [e.agent ?? undefined]);
  else if (e.event === 'RINGNOANSWER') hub.publish('queue', { action: 'missed', agent: e.agent ?? null, result: e.detail ?? null, ...base }, [e.agent ?? undefined]);
}

function config(hub: EventHub, e: ConfigEvent): void {
  if (e.type === 'reloaded') hub.publish('config', { action: 'reloaded', reason: e.reason, extensions: e.extensions });
  else hub.publish('config', { action: 'rejected', reason: e.reason, errors: e.errors.map((x) => ({ line: x.line, column: x.column ?? null, path: x.path ?? null, message: x.message })) });
}

function sipLock(hub: EventHub, l: AuthLock): void {
  const until = new Date(l.until).toISOString();
  if (l.kind === 'address') hub.publish('security', { action: 'address-blocked', address: l.address ?? null, reason: l.reason, until });
  else hub.publish('security', { action: 'sip-user-locked', user: l.user ?? null, address: l.address ?? null, reason: l.reason, until }, [l.user]);
}

function accountLock(hub: EventHub, l: AccountLock): void {
  hub.publish('security', { action: 'account-locked', account: l.username, address: l.address, until: new Date(l.until).toISOString() });
}
