// The call core assembled: the calls in progress, call set-up, the dial plan, and the registry features
// plug into (FeatureRegistry). server.ts builds one CallCore and registers every feature with it.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { MediaEngine } from '../media/engine.js';
import type { Clock } from '../util/clock.js';
import type { SipStack } from '../sip/stack.js';
import type { Call, CallOutcome } from './call.js';
import { CallRegistry } from './calls.js';
import { LegControl } from './leg-control.js';
import { LegMedia } from './leg-media.js';
import { InDialog } from './in-dialog.js';
import { DialPlan } from './dial-plan.js';
import { RingingCalls } from './ringing.js';
import type { Router } from './router.js';
import { CallSession } from './session.js';
import type { CoreServices } from './services.js';
import { CallSetup, type InviteAuthenticator, type TrunkChannels } from './call-setup.js';
import type { InCallFeatures } from './bridge.js';
import type { Leg } from './leg.js';
import { originate, type OriginateDeps, type OriginateRequest, type OriginateResult } from './originate.js';
import type { DialPlanEntry, Feature, FeatureRegistry, HoldHandler, InCallAction, InCallContext, Origin, ReferHandler, ScreenHandler } from './application.js';

export interface CallCoreDeps {
  stack: SipStack;
  media: MediaEngine;
  clock: Clock;
  logger: Logger;
  router: Router;
  authenticator: InviteAuthenticator;
  trunks: TrunkChannels;
  /** Read when a call starts and when a setting is needed: a call keeps the plan it started with (F-RELOAD). */
  config: () => HibikiConfig;
  /** Every call that ends with a CDR row. */
  onCallEnded: (call: Call, outcome: CallOutcome) => void;
  /** Two legs of a call were connected: at answer, and again on every transfer, pickup or park retrieval. */
  onBridged?: (call: Call) => void;
  /**
   * The ringback tone an already answered caller (handed on by an IVR) hears while its destination rings:
   * its phone no longer plays one itself. Default: silence.
   */
  ringback?: (leg: Leg) => string[];
}

class Registry implements FeatureRegistry, InCallFeatures {
  readonly codes = new Map<InCallAction, (ctx: InCallContext) => void>();
  referHandler: ReferHandler | undefined;
  holdHandler: HoldHandler | undefined;
  screenHandler: ScreenHandler | undefined;

  constructor(private readonly dialPlan: DialPlan) {}

  destination(entry: DialPlanEntry): void {
    this.dialPlan.add(entry);
  }
  inCallCode(action: InCallAction, handler: (ctx: InCallContext) => void): void {
    if (this.codes.has(action)) throw new Error(`in-call code ${action} registered twice`);
    this.codes.set(action, handler);
  }
  refer(handler: ReferHandler): void {
    this.referHandler = handler;
  }
  hold(handler: HoldHandler): void {
    this.holdHandler = handler;
  }
  screen(handler: ScreenHandler): void {
    this.screenHandler = handler;
  }
  code(action: InCallAction): ((ctx: InCallContext) => void) | undefined {
    return this.codes.get(action);
  }
}

export class CallCore {
  readonly calls: CallRegistry;
  readonly ringing = new RingingCalls();
  readonly dialPlan: DialPlan;
  private readonly registry: Registry;
  private readonly services: CoreServices;
  private readonly setup: CallSetup;
  private readonly sessions = new WeakMap<Call, CallSession>();
  private readonly features: Feature[] = [];
  private readonly originateDeps: OriginateDeps;

  constructor(deps: CallCoreDeps) {
    const { stack, media, clock, logger, router } = deps;
    const legs = new LegControl(media);
    this.calls = new CallRegistry(media, logger, deps.onCallEnded, (call) => legs.hangup(call, 'system', 41, 'RTP timeout'));
    this.dialPlan = new DialPlan((did, trunk) => router.didDestination(did, trunk));
    this.registry = new Registry(this.dialPlan);
    const inDialog = new InDialog({ stack, media, registry: this.calls, legs });
    this.services = {
      stack,
      media,
      clock,
      logger,
      registry: this.calls,
      legs,
      legMedia: new LegMedia(media, stack, this.calls, inDialog, logger),
      inDialog,
      dialPlan: this.dialPlan,
      ringing: this.ringing,
      router,
      features: this.registry,
      config: deps.config,
      session: (call) => this.session(call),
      onBridged: deps.onBridged ?? (() => undefined),
      ringback: deps.ringback ?? (() => []),
    };
    this.setup = new CallSetup({
      stack,
      media,
      clock,
      logger,
      authenticator: deps.authenticator,
      trunks: deps.trunks,
      dialPlan: this.dialPlan,
      registry: this.calls,
      legs,
      config: deps.config,
      screen: () => this.registry.screenHandler,
      session: (call, context) => this.session(call, context),
    });
    this.originateDeps = {
      media,
      clock,
      logger,
      registry: this.calls,
      dialPlan: this.dialPlan,
      config: deps.config,
      screen: () => this.registry.screenHandler,
      session: (call, context) => this.session(call, context),
    };
  }

  /** Click-to-call: ring `from`'s phones, then dial `to` as that extension (pbx/originate.ts). */
  originate(req: OriginateRequest): OriginateResult {
    return originate(this.originateDeps, req);
  }

  /** End a call in progress from outside it (an administrator): every leg gets a BYE with the cause, then the CDR. */
  hangup(call: Call, cause: number, reason: string): void {
    this.services.legs.hangup(call, 'system', cause, reason);
  }

  /** Register a feature (server.ts lists them all, in one place). */
  use(feature: Feature): this {
    feature.register(this.registry);
    this.features.push(feature);
    return this;
  }

  start(): void {
    this.calls.start();
    this.setup.start();
  }

  /** The call API of a call (made once per call; the context is the call's origin and presentation). */
  session(call: Call, context?: { origin: Origin; presentation: 'present' | 'withhold' }): CallSession {
    let s = this.sessions.get(call);
    if (!s) {
      s = new CallSession(call, this.services, context ?? { origin: { kind: 'trunk', trunk: call.trunk ?? '', did: call.dialled }, presentation: 'present' });
      this.sessions.set(call, s);
    }
    return s;
  }

  /** Hang up every call (shutdown) and stop the features. */
  stop(): void {
    for (const c of this.calls.active()) this.services.legs.hangup(c, 'system', 16, 'server shutdown');
    for (const f of this.features) f.stop?.();
  }
}
