// What the call core's sessions and connect flow work with, built once by pbx/core.ts.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { MediaEngine } from '../media/engine.js';
import type { Clock } from '../util/clock.js';
import type { SipStack } from '../sip/stack.js';
import type { Call } from './call.js';
import type { CallRegistry } from './calls.js';
import type { LegControl } from './leg-control.js';
import type { LegMedia } from './leg-media.js';
import type { InDialog } from './in-dialog.js';
import type { DialPlan } from './dial-plan.js';
import type { RingingCalls } from './ringing.js';
import type { Router } from './router.js';
import type { InCallFeatures } from './bridge.js';
import type { CallApi, PickRequest } from './application.js';
import type { Leg } from './leg.js';
import type { Delivery, DeliveryOptions } from './delivery.js';

/** Everything a session works with; built once by the call core. */
export interface CoreServices {
  stack: SipStack;
  media: MediaEngine;
  clock: Clock;
  logger: Logger;
  registry: CallRegistry;
  legs: LegControl;
  legMedia: LegMedia;
  inDialog: InDialog;
  dialPlan: DialPlan;
  ringing: RingingCalls;
  router: Router;
  features: InCallFeatures;
  config(): HibikiConfig;
  session(call: Call): CoreSession;
  /** Told after two legs of a call were connected (crash recovery keeps the legs that are up). */
  onBridged(call: Call): void;
  /** What an answered caller hears while the destination it was handed to rings (no files: silence). */
  ringback(leg: Leg): string[];
}

/** A session as the core sees it: the call API plus what the core itself uses of it. */
export interface CoreSession extends CallApi {
  /** F-PICKUP: answer the picker's leg into this (ringing) call. */
  takePicker(picker: PickRequest): Promise<Leg | undefined>;
  /** The DTMF policy of a leg before it is bridged (suppression on: a local user's digits are not sent). */
  applyDtmfPolicy(leg: Leg): void;
  /** A callee side for this call: the hop chain, cancellation and ringing of one attempt. */
  delivery(opts: DeliveryOptions): Delivery;
}
