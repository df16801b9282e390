// The call-detail record (SPEC F-CDR): one row per call, built from what the call knows when it ends.
import { isQ850Cause, parseReasonHeader, Q850, sipToQ850 } from './q850.js';
import type { CdrDisposition, CdrFeature, CdrHangupBy, CdrRecord, CdrDirection } from '../store/cdr-row.js';

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
  /**
   * A disposition hibiki decided itself, over the one worked out from the facts: an answered call that
   * a crash cut is `failed`.
   */
  disposition?: CdrDisposition;
  /** Free text for operators: why hibiki ended or failed the call. */
  hangupReason?: string;
  trunk?: string;
  queue?: string;
  recordingPath?: string;
  /** Milliseconds a queue call waited (F-QUEUE). */
  queueWaitMs?: number;
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
  if (facts.disposition !== undefined) return facts.disposition;
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
    queueWait: facts.queueWaitMs === undefined ? null : Math.max(0, Math.round(facts.queueWaitMs / 1000)),
  };
}
