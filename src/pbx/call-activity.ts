// What happens to calls, for whoever watches them (issue #12, F-EVENTS: the live event stream and the
// metrics). The core and the features report a moment on the Call (call.report); the CallRegistry relays
// every tracked call's moments here. The PBX knows nothing of who listens.
import { EventEmitter } from 'node:events';
import type { Call, CallMoment } from './call.js';

export type { CallMoment } from './call.js';

export interface CallActivityEvents {
  moment: [call: Call, moment: CallMoment];
}

/** The calls' moments, from every call the registry tracks. Listeners must not throw (the emitter is on the call path). */
export class CallActivity extends EventEmitter<CallActivityEvents> {}
