// The call journal (crash recovery, issue #14): every answered call is kept as one row in SQLite —
// its CDR facts so far and a snapshot of each live leg's dialog — written when the call is answered or
// re-bridged (transfer, pickup, park retrieval) and deleted when it ends, so that a server starting
// after a crash knows which calls were up. No write happens per in-dialog request: the CSeq a restored
// dialog uses is worked out at recovery (RESTORED_CSEQ_STEP). A heartbeat row says when the server
// was last known alive, which becomes the end time of the calls a crash cut.
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Clock, TimerHandle } from '../util/clock.js';
import { snapshotDialog, type DialogSnapshot } from '../sip/dialog-snapshot.js';
import type { ActiveCallStore } from '../store/active-call-store.js';
import type { Call, CallFeature, CallSummary, ForwardFeature, LegRole } from './call.js';

/** What the journal keeps of one call. */
export interface JournalEntry {
  /** CDR callId / linkedId of the call. */
  callId: string;
  linkedId: string;
  call: CallSummary;
  legs: Array<{ role: LegRole; number: string; dialog: DialogSnapshot }>;
}

/** Format version of the JSON entry; a newer hibiki reads older versions or discards them with a log line. */
const ENTRY_VERSION = 1;

const party = z.object({ number: z.string(), name: z.string().optional() });
const snapshot = z.object({
  role: z.enum(['uas', 'uac']),
  callId: z.string().min(1),
  localTag: z.string(),
  remoteTag: z.string(),
  localAddress: z.string().min(1),
  remoteAddress: z.string().min(1),
  remoteTarget: z.string().min(1),
  routeSet: z.array(z.string()),
  localSeq: z.number().int().min(0),
  flow: z.object({ transport: z.enum(['udp', 'tcp', 'tls', 'ws', 'wss']), address: z.string().min(1), port: z.number().int().min(1).max(65535) }),
});
// The row was written by a process that has crashed, possibly another hibiki version: it is checked
// like any other outside input before anything is sent on its word.
const entrySchema = z.object({
  v: z.literal(ENTRY_VERSION),
  callId: z.string().min(1),
  linkedId: z.string().min(1),
  call: z.object({
    startedAt: z.number(),
    answeredAt: z.number().optional(),
    direction: z.enum(['internal', 'inbound', 'outbound']),
    caller: party,
    dialled: z.string(),
    callee: party,
    answeredBy: z.string().optional(),
    trunk: z.string().optional(),
    // Feature names are the CDR's own vocabulary: stored and written back as text, never acted on.
    feature: z.string().optional(),
    transferredBy: z.string().optional(),
    forwardedFrom: z.string().optional(),
    hops: z.array(
      z.object({
        callee: party,
        forwardedFrom: z.string().optional(),
        feature: z.string().optional(),
        startedAt: z.number(),
        endedAt: z.number(),
        q850: z.number().int(),
        sipStatus: z.number().int().optional(),
        reason: z.string(),
      }),
    ),
  }),
  legs: z.array(z.object({ role: z.enum(['caller', 'callee']), number: z.string(), dialog: snapshot })),
});

export function encodeEntry(entry: JournalEntry): string {
  return JSON.stringify({ v: ENTRY_VERSION, ...entry });
}

/** The entry in a row's JSON text, or an error message saying why it cannot be used. */
export function decodeEntry(text: string): { ok: true; entry: JournalEntry } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  const parsed = entrySchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  const { v: _version, call, ...rest } = parsed.data;
  return {
    ok: true,
    entry: {
      ...rest,
      call: {
        ...call,
        feature: call.feature as CallFeature | undefined,
        hops: call.hops.map((h) => ({ ...h, forwardedFrom: h.forwardedFrom, feature: h.feature as ForwardFeature | undefined })),
      },
    },
  };
}

/** The journal entry of a call now: its facts and the legs whose dialog is up. */
export function entryOf(call: Call): JournalEntry {
  const legs: JournalEntry['legs'] = [];
  for (const leg of call.legs) {
    if (leg.ended || !leg.dialog || leg.dialog.state !== 'confirmed') continue;
    legs.push({ role: leg.role, number: leg.extension ?? leg.party.number, dialog: snapshotDialog(leg.dialog) });
  }
  return { callId: call.callId, linkedId: call.linkedId, call: call.summary(), legs };
}

export interface CallJournalDeps {
  store: ActiveCallStore;
  clock: Clock;
  logger: Logger;
}

export class CallJournal {
  /** Calls with a row, so that a call that was never answered costs no DELETE when it ends. */
  private readonly journaled = new Set<string>();
  private heartbeat: TimerHandle | undefined;

  constructor(private readonly deps: CallJournalDeps) {}

  /** Write (or rewrite) the row of an answered call; a failure is logged and the call goes on. */
  record(call: Call): void {
    // A call that has ended already had its row deleted (or never had one): writing now would leave a
    // row no end removes, and the next start would take the call for one a crash cut.
    if (call.isFinished) return;
    // The entry is taken now; the row is committed at the end of this event-loop turn with the other
    // writes of the turn. It counts as journaled from now on, so that an end in the same turn deletes it.
    const warn = (err: unknown): void => call.log.warn({ err }, 'call not journaled: a crash now would leave it without BYE and CDR');
    try {
      this.deps.store.putSoon({ key: call.id, callId: call.callId, entry: encodeEntry(entryOf(call)), updatedAt: this.deps.clock.now() }, warn);
      this.journaled.add(call.id);
    } catch (err) {
      warn(err);
    }
  }

  /** Delete the row of a call that has ended (inside the transaction of its CDR insert, when there is one). Runs at once: the caller queues it. */
  forget(call: Call): void {
    if (!this.journaled.has(call.id)) return;
    try {
      this.deps.store.remove(call.id);
      this.journaled.delete(call.id);
    } catch (err) {
      call.log.error({ err }, 'journal row of an ended call not deleted: the next start will treat the call as cut by a crash');
    }
  }

  /** Write "alive now" at once and then every `intervalSec()` seconds (read each time: reloadable). */
  startHeartbeat(intervalSec: () => number): void {
    const beat = (): void => {
      try {
        this.deps.store.beat(this.deps.clock.now());
      } catch (err) {
        this.deps.logger.warn({ err }, 'heartbeat not written');
      }
      this.heartbeat = this.deps.clock.setTimer(intervalSec() * 1000, beat);
    };
    this.stopHeartbeat();
    beat();
  }

  stopHeartbeat(): void {
    this.heartbeat?.cancel();
    this.heartbeat = undefined;
  }
}
