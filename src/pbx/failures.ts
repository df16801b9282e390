// What an asynchronous piece of call handling does when it fails, for the places that start one without
// awaiting it (a dialled number a feature takes over, a transfer started by DTMF or REFER, a park
// timer): the error is logged with the call id, and nothing is left hanging — an unanswered request
// gets a final response, a call in the middle of a feature is ended.
import type { Logger } from 'pino';
import { MediaError } from '../media/engine.js';
import type { ServerResponse } from '../sip/stack.js';
import type { CallManager } from './b2bua.js';
import type { Call } from './call.js';
import { formatReason } from './q850.js';

/** A rejection handler that logs and answers the request (the MediaError's status, else 500) if it is still unanswered. */
export function answerOnFailure(res: ServerResponse, log: Logger, what: string): (err: unknown) => void {
  return (err) => {
    log.error({ err, callId: res.req.callId, method: res.req.method }, what);
    if (res.finalResponseSent) return;
    try {
      res.send(err instanceof MediaError ? err.sipStatus : 500, undefined, { headers: { reason: formatReason(41) } });
    } catch (sendErr) {
      log.error({ err: sendErr, callId: res.req.callId }, 'could not answer the failed request');
    }
  };
}

/** A rejection handler that logs and ends the call (Q.850 41, temporary failure). */
export function endCallOnFailure(calls: Pick<CallManager, 'hangup'>, call: Call, what: string): (err: unknown) => void {
  return (err) => {
    call.log.error({ err }, what);
    try {
      calls.hangup(call, 'system', 41, what);
    } catch (hangupErr) {
      call.log.error({ err: hangupErr }, 'could not end the call after a failure');
    }
  };
}
