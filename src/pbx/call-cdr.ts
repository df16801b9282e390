// The CDR rows of one finished call (F-CDR): a row per forwarding hop before its last destination
// (F-FWD), then the call's own row, all in the call's linked id. Used when a call ends, and by crash
// recovery for the calls a crash cut.
import { buildCdr } from './cdr.js';
import type { CdrDisposition, CdrRecord } from '../store/cdr-row.js';
import type { CallOutcome } from './call.js';

export function callCdrs(ids: { callId: string; linkedId: string }, o: CallOutcome, opts: { disposition?: CdrDisposition } = {}): CdrRecord[] {
  const hops = o.hops.map((hop) =>
    buildCdr({
      callId: ids.callId,
      linkedId: ids.linkedId,
      startedAt: hop.startedAt,
      endedAt: hop.endedAt,
      direction: o.direction,
      callerNumber: o.caller.number,
      callerName: o.caller.name,
      dialedNumber: o.dialled,
      calleeNumber: hop.callee.number,
      hangupBy: 'system',
      sipStatus: hop.sipStatus,
      q850Cause: hop.q850,
      cancelled: false,
      hangupReason: hop.reason,
      trunk: o.trunk,
      feature: hop.feature,
      forwardedFrom: hop.forwardedFrom,
    }),
  );
  const main = buildCdr({
    callId: ids.callId,
    linkedId: ids.linkedId,
    startedAt: o.startedAt,
    answeredAt: o.answeredAt,
    endedAt: o.endedAt,
    direction: o.direction,
    callerNumber: o.caller.number,
    callerName: o.caller.name,
    dialedNumber: o.dialled,
    calleeNumber: o.callee.number,
    answeredBy: o.answeredBy,
    hangupBy: o.hangupBy,
    sipStatus: o.sipStatus,
    q850Cause: o.q850,
    cancelled: o.disposition === 'cancelled',
    disposition: opts.disposition,
    hangupReason: o.reason,
    trunk: o.trunk,
    feature: o.feature,
    transferredBy: o.transferredBy,
    forwardedFrom: o.forwardedFrom,
    queue: o.queue,
    queueWaitMs: o.queueWaitMs,
    recordingPath: o.recordingPath,
  });
  return [...hops, main];
}
