// The call-detail record as stored (SPEC F-CDR): the record, its table columns in the SPEC's order (also the
// CSV column order), and the mapping between the two. What a call's facts make of it is pbx/cdr.ts.

export type CdrDirection = 'internal' | 'inbound' | 'outbound';
export type CdrDisposition = 'answered' | 'no_answer' | 'busy' | 'failed' | 'cancelled';
export type CdrHangupBy = 'caller' | 'callee' | 'system';
/** The feature that shaped the call; SPEC F-CDR lists these and leaves the set open for later features. */
export type CdrFeature = 'none' | 'pickup' | 'park' | 'transfer_blind' | 'transfer_attended' | 'forward_cfu' | 'forward_cfb' | 'forward_cfnr' | (string & {});

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
  /** Whole seconds a queue call waited before an agent answered or it left the queue (F-QUEUE); null for other calls. */
  queueWait: number | null;
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
  queueWait: 'queue_wait',
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
    queue_wait: rec.queueWait,
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
    queueWait: row.queue_wait,
  };
}
