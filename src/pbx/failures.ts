// What an asynchronous piece of call handling does when it fails, for the places that start one without
// awaiting it (an application taking a dialled number, a transfer started by DTMF or REFER, a park
// timer): the error is logged with the call id, and nothing is left hanging — an unanswered request
// gets a final response, a call in the middle of a feature is ended.
import type { Logger } from 'pino';
import { MediaError } from '../media/engine.js';
import type { ServerResponse } from '../sip/server-response.js';
import type { CallApi } from './application.js';
import { formatReason } from './q850.js';

/** Log and answer the request (the MediaError's status, else 500) if it is still unanswered. */
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

/** Log and end the call (Q.850 41, temporary failure). */
export function endCallOnFailure(session: Pick<CallApi, 'hangup' | 'log'>, what: string): (err: unknown) => void {
  return (err) => {
    session.log.error({ err }, what);
    try {
      session.hangup('system', 41, what);
    } catch (hangupErr) {
      session.log.error({ err: hangupErr }, 'could not end the call after a failure');
    }
  };
}
