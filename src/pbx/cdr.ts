// The call-detail record (SPEC F-CDR): one row per call, built from what the call knows when it ends.
import { isQ850Cause, parseReasonHeader, Q850, sipToQ850 } from './q850.js';
import type { CallOutcome } from './call.js';

export type CdrDirection = 'internal' | 'inbound' | 'outbound';
export type CdrDisposition = 'answered' | 'no_answer' | 'busy' | 'failed' | 'cancelled';
export type CdrHangupBy = 'caller' | 'callee' | 'system';
/** The feature that shaped the call; SPEC F-CDR lists these and leaves the set open for later features. */
export type CdrFeature =
  | 'none'
  | 'pickup'
  | 'park'
  | 'transfer_blind'
  | 'transfer_attended'
  | 'forward_cfu'
  | 'forward_cfb'
  | 'forward_cfnr'
  | (string & {});

export const cdrDirections: readonly CdrDirection[] = ['internal', 'inbound', 'outbound'];
export const cdrDispositions: readonly CdrDisposition[] = ['answered', 'no_answer', 'busy', 'failed', 'cancelled'];
export const cdrHangupBys: readonly CdrHangupBy[] = ['caller', 'callee', 'system'];

/**
 * One CDR row. Times are ISO-8601 UTC with milliseconds (`2024-05-01T09:30:00.123Z`): text that sorts
 * in time order, so SQLite compares it with an index, and that a CSV reader recognises. Absent values
 * are null, as in the table.
 */
export interface CdrRecord {
  /** Assigned by the store on insert. */
  id?: number;
  callId: string;
  /** Shared by every row of one call, transfers included. */
  linkedId: string;
  startedAt: string;
  answeredAt: string | null;
  endedAt: string;
  /** Whole seconds from start to end. */
  duration: number;
  /** Whole seconds from answer to end; 0 when not answered. */
  billsec: number;
  direction: CdrDirection;
  disposition: CdrDisposition;
  callerNumber: string;
  callerName: string | null;
  dialedNumber: string;
  calleeNumber: string | null;
  answeredBy: string | null;
  forwardedFrom: string | null;
  transferredBy: string | null;
  feature: CdrFeature;
  hangupBy: CdrHangupBy;
  q850Cause: number;
  sipStatus: number | null;
  hangupReason: string | null;
  trunk: string | null;
  queue: string | null;
  recordingPath: string | null;
}

/** Table column of each field, in the order SPEC F-CDR lists them (also the CSV column order). */
export const cdrColumns = {
  id: 'id',
  callId: 'call_id',
  linkedId: 'linked_id',
  startedAt: 'started_at',
  answeredAt: 'answered_at',
  endedAt: 'ended_at',
  duration: 'duration',
  billsec: 'billsec',
  direction: 'direction',
  disposition: 'disposition',
  callerNumber: 'caller_number',
  callerName: 'caller_name',
  dialedNumber: 'dialed_number',
  calleeNumber: 'callee_number',
  answeredBy: 'answered_by',
  forwardedFrom: 'forwarded_from',
  transferredBy: 'transferred_by',
  feature: 'feature',
  hangupBy: 'hangup_by',
  q850Cause: 'q850_cause',
  sipStatus: 'sip_status',
  hangupReason: 'hangup_reason',
  trunk: 'trunk',
  queue: 'queue',
  recordingPath: 'recording_path',
} as const satisfies Record<keyof CdrRecord, string>;

export type CdrField = keyof typeof cdrColumns;
export const cdrFields = Object.keys(cdrColumns) as CdrField[];

/** The row as SQLite stores it: snake_case columns, the same values. */
export type CdrRow = { [K in CdrField as (typeof cdrColumns)[K]]-?: Exclude<CdrRecord[K], undefined> };

export function cdrToRow(rec: CdrRecord): Omit<CdrRow, 'id'> {
  return {
    call_id: rec.callId,
    linked_id: rec.linkedId,
    started_at: rec.startedAt,
    answered_at: rec.answeredAt,
    ended_at: rec.endedAt,
    duration: rec.duration,
    billsec: rec.billsec,
    direction: rec.direction,
    disposition: rec.disposition,
    caller_number: rec.callerNumber,
    caller_name: rec.callerName,
    dialed_number: rec.dialedNumber,
    callee_number: rec.calleeNumber,
    answered_by: rec.answeredBy,
    forwarded_from: rec.forwardedFrom,
    transferred_by: rec.transferredBy,
    feature: rec.feature,
    hangup_by: rec.hangupBy,
    q850_cause: rec.q850Cause,
    sip_status: rec.sipStatus,
    hangup_reason: rec.hangupReason,
    trunk: rec.trunk,
    queue: rec.queue,
    recording_path: rec.recordingPath,
  };
}

export function cdrFromRow(row: CdrRow): CdrRecord {
  return {
    id: row.id,
    callId: row.call_id,
    linkedId: row.linked_id,
    startedAt: row.started_at,
    answeredAt: row.answered_at,
    endedAt: row.ended_at,
    duration: row.duration,
    billsec: row.billsec,
    direction: row.direction,
    disposition: row.disposition,
    callerNumber: row.caller_number,
    callerName: row.caller_name,
    dialedNumber: row.dialed_number,
    calleeNumber: row.callee_number,
    answeredBy: row.answered_by,
    forwardedFrom: row.forwarded_from,
    transferredBy: row.transferred_by,
    feature: row.feature,
    hangupBy: row.hangup_by,
    q850Cause: row.q850_cause,
    sipStatus: row.sip_status,
    hangupReason: row.hangup_reason,
    trunk: row.trunk,
    queue: row.queue,
    recordingPath: row.recording_path,
  };
}

/** What a finished call knows about itself; times are epoch milliseconds. */
export interface CallFacts {
  callId: string;
  /** Defaults to callId. */
  linkedId?: string;
  startedAt: number;
  answeredAt?: number;
  endedAt: number;
  direction: CdrDirection;
  callerNumber: string;
  callerName?: string;
  /** The number as dialled (or the DID received on a trunk). */
  dialedNumber: string;
  /** The extension or external number the call was finally offered to. */
  calleeNumber?: string;
  answeredBy?: string;
  forwardedFrom?: string;
  transferredBy?: string;
  feature?: CdrFeature;
  hangupBy: CdrHangupBy;
  /**
   * Final SIP status of the callee side (200 when answered); undefined when no callee leg reached a
   * final response, e.g. nothing was dialled.
   */
  sipStatus?: number;
  /**
   * A cause hibiki decided itself (ring timeout 19, not registered 20, channel limit 34, RTP timeout
   * 41…). It wins over any Reason header and over the status mapping.
   */
  q850Cause?: number;
  /** Reason header values received with the message that ended the call (RFC 3326). */
  reason?: readonly string[];
  /** The caller gave up (CANCEL, or hung up) before anyone answered. */
  cancelled?: boolean;
  /** Free text for operators: why hibiki ended or failed the call. */
  hangupReason?: string;
  trunk?: string;
  queue?: string;
  recordingPath?: string;
}

type CauseSource = 'explicit' | 'reason' | 'status' | 'default';

/**
 * The cause to record, by precedence: hibiki's own decision, then a Reason header received (SPEC
 * F-CDR: it overrides the status mapping), then the status (RFC 3398 §7.2.4.1). With none of those,
 * an answered or cancelled call ended normally (16) and anything else is "normal, unspecified" (31).
 */
function effectiveCause(facts: CallFacts, answered: boolean): { cause: number; source: CauseSource } {
  if (facts.q850Cause !== undefined && isQ850Cause(facts.q850Cause)) return { cause: facts.q850Cause, source: 'explicit' };
  const reason = facts.reason ? parseReasonHeader(facts.reason) : undefined;
  if (reason) return { cause: reason.protocol === 'Q.850' ? reason.cause : sipToQ850(reason.cause), source: 'reason' };
  if (facts.sipStatus !== undefined) return { cause: sipToQ850(facts.sipStatus), source: 'status' };
  return { cause: answered || facts.cancelled ? Q850.normalClearing : Q850.normalUnspecified, source: 'default' };
}

/**
 * How the call ended for reporting (SPEC F-CDR). Busy and no-answer follow the cause (17; 18 and 19),
 * and also the status when that is what the cause came from (486/600; 408 and 480). A 487 with a
 * normal-clearing cause means the callee side was cancelled because the caller gave up; a 487 with
 * cause 19 is hibiki's ring timeout and counts as no answer.
 */
function dispositionOf(facts: CallFacts, answered: boolean, cause: number, source: CauseSource): CdrDisposition {
  if (answered) return 'answered';
  if (facts.cancelled) return 'cancelled';
  const status = facts.sipStatus;
  if (cause === Q850.userBusy || status === 486 || status === 600) return 'busy';
  if (cause === Q850.noUserResponding || cause === Q850.noAnswer) return 'no_answer';
  if (source === 'status' && (status === 408 || status === 480)) return 'no_answer';
  if (status === 487 && cause === Q850.normalClearing) return 'cancelled';
  return 'failed';
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Whole seconds between two instants; a clock stepping backwards gives 0, not a negative duration. */
function wholeSeconds(fromMs: number, toMs: number): number {
  return Math.max(0, Math.floor((toMs - fromMs) / 1000));
}

/** The CDR row for a finished call. Throws RangeError when a time is not a finite number. */
export function buildCdr(facts: CallFacts): CdrRecord {
  for (const t of [facts.startedAt, facts.endedAt, facts.answeredAt ?? 0]) {
    if (!Number.isFinite(t)) throw new RangeError(`CDR for ${facts.callId}: time ${t} is not a finite epoch-ms value`);
  }
  const started = facts.startedAt;
  const ended = Math.max(facts.endedAt, started);
  // Keep answer within [start, end] so that billsec never exceeds duration.
  const answered = facts.answeredAt === undefined ? undefined : Math.min(Math.max(facts.answeredAt, started), ended);
  const { cause, source } = effectiveCause(facts, answered !== undefined);
  return {
    callId: facts.callId,
    linkedId: facts.linkedId ?? facts.callId,
    startedAt: iso(started),
    answeredAt: answered === undefined ? null : iso(answered),
    endedAt: iso(ended),
    duration: wholeSeconds(started, ended),
    billsec: answered === undefined ? 0 : wholeSeconds(answered, ended),
    direction: facts.direction,
    disposition: dispositionOf(facts, answered !== undefined, cause, source),
    callerNumber: facts.callerNumber,
    callerName: facts.callerName ?? null,
    dialedNumber: facts.dialedNumber,
    calleeNumber: facts.calleeNumber ?? null,
    answeredBy: facts.answeredBy ?? null,
    forwardedFrom: facts.forwardedFrom ?? null,
    transferredBy: facts.transferredBy ?? null,
    feature: facts.feature ?? 'none',
    hangupBy: facts.hangupBy,
    q850Cause: cause,
    sipStatus: facts.sipStatus ?? (answered === undefined ? null : 200),
    hangupReason: facts.hangupReason ?? null,
    trunk: facts.trunk ?? null,
    queue: facts.queue ?? null,
    recordingPath: facts.recordingPath ?? null,
  };
}

/**
 * The rows of a finished call (F-CDR): one for every forwarding hop before its last destination (F-FWD), in
 * the call's linked id, then the call's own.
 */
export function cdrRecords(call: { callId: string; linkedId: string }, o: CallOutcome): CdrRecord[] {
  const common = { callId: call.callId, linkedId: call.linkedId, direction: o.direction, callerNumber: o.caller.number, callerName: o.caller.name, dialedNumber: o.dialled, trunk: o.trunk };
  const hops = o.hops.map((hop) =>
    buildCdr({
      ...common,
      startedAt: hop.startedAt,
      endedAt: hop.endedAt,
      calleeNumber: hop.callee.number,
      hangupBy: 'system',
      sipStatus: hop.sipStatus,
      q850Cause: hop.q850,
      cancelled: false,
      hangupReason: hop.reason,
      feature: hop.feature,
      forwardedFrom: hop.forwardedFrom,
    }),
  );
  const own = buildCdr({
    ...common,
    startedAt: o.startedAt,
    answeredAt: o.answeredAt,
    endedAt: o.endedAt,
    calleeNumber: o.callee.number,
    answeredBy: o.answeredBy,
    hangupBy: o.hangupBy,
    sipStatus: o.sipStatus,
    q850Cause: o.q850,
    cancelled: o.disposition === 'cancelled',
    hangupReason: o.reason,
    feature: o.feature,
    transferredBy: o.transferredBy,
    forwardedFrom: o.forwardedFrom,
  });
  return [...hops, own];
}
