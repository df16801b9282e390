// The call core on a bench, for fast deterministic unit tests: a real CallCore with the real features
// registered as server.ts registers them, a config parsed by the real schema, real SQLite stores (an
// in-memory database with the real migrations: no disk, nothing to clean up), test phones on an in-memory
// SIP network, the test media engine, and one fake clock for every timer (SIP transactions included).
// Nothing here waits on real time: settle() lets every message in flight arrive, and advance() moves the
// fake clock timer by timer, letting the network settle in between.
//
//   const h = await CoreHarness.start({ extensions: [{ number: '2002', ringTimeout: 5 }] });
//   const alice = await h.phone('2001');
//   const bob = await h.phone('2002');
//   const out = alice.dial('2002');
//   await h.settle();
//   const atBob = bob.takeCall();
//   atBob.ring();
//   await h.advance(5000);
//   expect(out.status).toBe(480);
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import type { Logger } from 'pino';
import { configSchema, type HibikiConfig } from '../../src/config/schema.js';
import { SipStack } from '../../src/sip/stack.js';
import type { SendTarget } from '../../src/sip/transport/types.js';
import type { SessionTimerConfig } from '../../src/sip/session-timer.js';
import type { Database } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrations.js';
import { ParkStore } from '../../src/store/park-store.js';
import { HuntStore } from '../../src/store/hunt-store.js';
import { ScreeningStore } from '../../src/store/screening-store.js';
import { PromptCatalogue } from '../../src/media/prompts.js';
import { Router } from '../../src/pbx/router.js';
import { CallCore } from '../../src/pbx/core.js';
import type { Call, CallOutcome } from '../../src/pbx/call.js';
import type { Leg } from '../../src/pbx/leg.js';
import type { CallSession } from '../../src/pbx/session.js';
import type { EndpointId } from '../../src/media/engine.js';
import type { CdrRecord } from '../../src/store/cdr-row.js';
import { callCdrs } from '../../src/pbx/call-cdr.js';
import { Extensions, type Contacts } from '../../src/features/extension.js';
import type { Feature } from '../../src/pbx/application.js';
import { Groups } from '../../src/features/group.js';
import { HuntGroups } from '../../src/features/hunt.js';
import { OutsideLine } from '../../src/features/outside-line.js';
import { DidBulkForwarding } from '../../src/features/did-forwarding.js';
import { ForwardingService } from '../../src/features/forwarding.js';
import { Screening, ScreeningFeature } from '../../src/features/screening.js';
import { ParkLot } from '../../src/features/park.js';
import { CallPickup } from '../../src/features/pickup.js';
import { ServiceCodes } from '../../src/features/service-codes.js';
import { HoldMusic } from '../../src/features/hold.js';
import { BlindTransfer } from '../../src/features/transfer.js';
import { AttendedTransfer } from '../../src/features/attended-transfer.js';
import { Ivrs } from '../../src/features/ivr.js';
import { Voicemail } from '../../src/features/voicemail/voicemail.js';
import { HotDesk } from '../../src/features/hotdesk/hotdesk.js';
import { HotDeskLogins } from '../../src/features/hotdesk/logins.js';
import { HotDeskStore } from '../../src/store/hotdesk-store.js';
import { CallRecording } from '../../src/features/recording/call-recording.js';
import { MailboxEvents } from '../../src/features/voicemail/mailbox-events.js';
import { VoicemailStore } from '../../src/store/voicemail-store.js';
import { VoicemailBoxStore } from '../../src/store/voicemail-box-store.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from './fake-clock.js';
import { captureLogger } from './logger.js';
import { SIP_PORT, SipNetwork, advance, settle } from './sip-network.js';
import { MemoryMedia } from './memory-media.js';
import { Phone } from './core-phone.js';
import { FromUserAuthenticator, TestTrunks } from './core-stubs.js';

export const PBX_ADDRESS = '127.0.0.1';
export const DOMAIN = 'hibiki.test';
/** A Monday, 10:00 in Tokyo: schedules see office hours. */
const EPOCH = Date.UTC(2025, 0, 6, 1, 0, 0);

export interface HarnessExtension {
  number: string;
  name?: string;
  /** Any other key of an extension in the YAML schema (ringTimeout, forwarding, callWaiting…). */
  [key: string]: unknown;
}

export interface HarnessOptions {
  /** Default: 2001 Alice … 2005 Eve. Extensions named here replace the default of the same number. */
  extensions?: HarnessExtension[];
  /** Top-level config sections, as in the YAML (park, calls, groups, trunks…). */
  config?: Record<string, unknown>;
  /** Log level of the captured log (h.logs). */
  logLevel?: string;
  /** Features registered after the standard ones (a new destination type under test). */
  extraFeatures?: (h: { prompts: PromptCatalogue }) => Feature[];
  /** Wall-clock time the fake clock starts at (epoch ms); default a Monday, 10:00 in Tokyo. */
  now?: number;
}

const DEFAULT_EXTENSIONS: HarnessExtension[] = [
  { number: '2001', name: 'Alice' },
  { number: '2002', name: 'Bob' },
  { number: '2003', name: 'Carol' },
  { number: '2004', name: 'Dave' },
  { number: '2005', name: 'Eve' },
];

function buildConfig(opts: HarnessOptions): HibikiConfig {
  const byNumber = new Map(DEFAULT_EXTENSIONS.map((e) => [e.number, e]));
  for (const e of opts.extensions ?? []) byNumber.set(e.number, { ...byNumber.get(e.number), ...e });
  const parsed = configSchema.safeParse({
    tenant: { domain: DOMAIN },
    listen: [{ transport: 'udp', host: PBX_ADDRESS, port: SIP_PORT }],
    extensions: [...byNumber.values()].map((e) => ({ name: `User ${e.number}`, password: `secret-${e.number}`, ...e })),
    ...opts.config,
  });
  if (!parsed.success) throw new Error(`harness config: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

let prompts: PromptCatalogue | undefined;

/** The prompts and music on hold shipped with hibiki, read once per test process (they never change). */
function shippedPrompts(): PromptCatalogue {
  if (prompts) return prompts;
  const catalogue = new PromptCatalogue({
    root: fileURLToPath(new URL('../../prompts', import.meta.url)),
    mohRoot: fileURLToPath(new URL('../../moh', import.meta.url)),
    languages: ['ja', 'en'],
  });
  const errors = catalogue.load();
  if (errors.length > 0) throw new Error(`harness prompts: ${errors.map((e) => e.message).join('; ')}`);
  return (prompts = catalogue);
}

export class CoreHarness implements Contacts {
  readonly clock: FakeClock;
  readonly network = new SipNetwork();
  readonly media: MemoryMedia;
  readonly logger: Logger;
  /** Every log line, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** Every call that ended with a CDR, with what the core reported. */
  readonly ended: Array<{ call: Call; outcome: CallOutcome }> = [];
  /** The CDR rows the server would write for them, in order. */
  readonly cdrs: CdrRecord[] = [];
  readonly config: HibikiConfig;
  readonly router: Router;
  readonly trunks: TestTrunks;
  readonly stack: SipStack;
  readonly core: CallCore;
  readonly forwarding: ForwardingService;
  readonly park: ParkLot;
  readonly prompts: PromptCatalogue;
  /** Voicemail: the store, the events the server would emit, and the folder messages are written to (a temporary one). */
  readonly voicemailStore: VoicemailStore;
  readonly voicemailBoxes: VoicemailBoxStore;
  readonly mailboxEvents = new MailboxEvents();
  readonly voicemailDir: string;
  /** Where the call recordings go (a temporary folder per harness). */
  readonly recordingsDir: string;
  readonly recording: CallRecording;
  readonly pinFailures: string[] = [];
  readonly hotDesk: HotDeskLogins;
  private readonly db: Database;
  private readonly phones: Phone[] = [];
  private readonly registered = new Map<string, Phone[]>();

  private constructor(opts: HarnessOptions) {
    const config = (this.config = buildConfig(opts));
    this.clock = new FakeClock(opts.now ?? EPOCH);
    this.media = new MemoryMedia(this.clock);
    const captured = captureLogger(opts.logLevel ?? 'info');
    const logger = (this.logger = captured.logger);
    this.logs = captured.lines;
    const clock = this.clock;
    const configNow = () => config;
    const now = () => clock.now();
    this.db = new BetterSqlite3(':memory:');
    this.db.pragma('foreign_keys = ON');
    migrate(this.db);
    this.router = new Router(config);
    this.trunks = new TestTrunks(configNow);
    this.stack = new SipStack({
      listen: [],
      transport: this.network.transport(PBX_ADDRESS),
      clock,
      logger,
      userAgent: config.sip.userAgent,
      timers: { t1: config.sip.t1, t2: config.sip.t2, t4: config.sip.t4 },
      sessionTimer: { sessionExpires: config.calls.sessionExpires, minSE: config.calls.minSE },
    });
    this.prompts = shippedPrompts();
    this.forwarding = new ForwardingService({ db: this.db, config: configNow, now, logger });
    this.forwarding.applyConfig(config);
    const screening = new Screening({ store: new ScreeningStore(this.db), config: configNow, now, logger });
    this.hotDesk = new HotDeskLogins({ store: new HotDeskStore(this.db), registrar: { contacts: (aor) => this.contacts(aor) }, config: configNow, clock, logger });
    this.recordingsDir = join(mkdtempSync(join(tmpdir(), 'hibiki-harness-rec-')), 'recordings');
    const recording = new CallRecording({ media: this.media, prompts: this.prompts, config: configNow, dir: this.recordingsDir, logger });
    this.recording = recording;
    this.core = new CallCore({
      stack: this.stack,
      media: this.media,
      clock,
      logger,
      router: this.router,
      authenticator: this.hotDesk.invites(new FromUserAuthenticator(this.router)),
      trunks: this.trunks,
      config: configNow,
      onCallEnded: (call, outcome) => {
        this.ended.push({ call, outcome });
        this.cdrs.push(...callCdrs(call, outcome));
      },
      ringback: () => [this.prompts.file('ringback', 'ja')],
      onBridged: (call) => recording.bridged(call),
    });
    const callsOf = (extension: string) => this.core.calls.callsOf(extension);
    const hold = new HoldMusic(this.prompts, configNow);
    this.park = new ParkLot({ prompts: this.prompts, clock, config: configNow, logger, store: new ParkStore(this.db) });
    this.voicemailDir = join(mkdtempSync(join(tmpdir(), 'hibiki-harness-')), 'voicemail');
    this.voicemailStore = new VoicemailStore(this.db);
    this.voicemailBoxes = new VoicemailBoxStore(this.db);
    // The features as server.ts lists them (keep the two lists in step).
    const features = [
      new Extensions({ router: this.router, registrar: this.hotDesk, forwarding: this.forwarding, callsOf }),
      new Groups({ router: this.router, registrar: this.hotDesk, forwarding: this.forwarding, hunt: new HuntGroups(new HuntStore(this.db)), callsOf }),
      new OutsideLine({ router: this.router, trunks: this.trunks, prompts: this.prompts }),
      new DidBulkForwarding(this.forwarding),
      new ScreeningFeature(screening, this.prompts, configNow),
      this.park,
      new CallPickup({ ringing: this.core.ringing, prompts: this.prompts, config: configNow, logger }),
      new ServiceCodes({ forwarding: this.forwarding, prompts: this.prompts, config: configNow, logger }),
      hold,
      new BlindTransfer({ prompts: this.prompts, clock, config: configNow, park: this.park, hold }),
      new AttendedTransfer({ prompts: this.prompts, clock, config: configNow }),
      new Ivrs({ prompts: this.prompts, clock }),
      new Voicemail({
        store: this.voicemailStore,
        boxes: this.voicemailBoxes,
        events: this.mailboxEvents,
        prompts: this.prompts,
        clock,
        config: configNow,
        dir: this.voicemailDir,
        onPinFailure: (address) => this.pinFailures.push(address),
      }),
      new HotDesk({
        logins: this.hotDesk,
        prompts: this.prompts,
        config: configNow,
        pin: (ext) => this.voicemailBoxes.pin(ext.number, ext.pin),
        onPinFailure: (address) => this.pinFailures.push(address),
        logger,
      }),
      recording,
    ];
    for (const f of [...features, ...(opts.extraFeatures?.(this) ?? [])]) this.core.use(f);
  }

  static async start(opts: HarnessOptions = {}): Promise<CoreHarness> {
    const h = new CoreHarness(opts);
    await h.stack.start();
    h.core.start();
    return h;
  }

  /** Contacts of an extension: its registered test phones (the Extensions and Groups features ask). */
  contacts(aor: string): Array<{ binding: { contact: string; reachable: boolean }; target: SendTarget }> {
    return (this.registered.get(aor) ?? []).map((p) => ({ binding: { contact: p.contact, reachable: true }, target: p.address }));
  }

  /** A phone of this extension, registered (another call for the same number adds a device). */
  async phone(number: string, opts: { registered?: boolean; sessionTimer?: SessionTimerConfig } = {}): Promise<Phone> {
    const p = await this.peer(number, undefined, opts.sessionTimer);
    if (opts.registered !== false) this.register(p);
    return p;
  }

  /** The carrier at a trunk's address: it receives the trunk's outbound calls and can call in. */
  carrier(trunk: string): Promise<Phone> {
    const t = this.config.trunks.find((x) => x.name === trunk);
    if (!t) throw new Error(`no trunk ${trunk} in the harness config`);
    return this.peer(trunk, t.host);
  }

  private async peer(user: string, address?: string, sessionTimer?: SessionTimerConfig): Promise<Phone> {
    const transport = this.network.transport(address);
    const pbx = { transport: 'udp' as const, address: PBX_ADDRESS, port: SIP_PORT };
    const p = new Phone({ user, domain: DOMAIN, pbx, sessionTimer }, transport, this.media, this.clock, this.logger.child({ phone: user }));
    await p.start();
    this.phones.push(p);
    return p;
  }

  register(p: Phone): void {
    const list = this.registered.get(p.user) ?? [];
    if (!list.includes(p)) list.push(p);
    this.registered.set(p.user, list);
  }

  unregister(p: Phone): void {
    this.registered.set(
      p.user,
      (this.registered.get(p.user) ?? []).filter((x) => x !== p),
    );
  }

  /** Let every message in flight arrive, and everything it sets off run, until the network is quiet. */
  async settle(): Promise<void> {
    await settle(this.network);
  }

  /**
   * Move the fake clock on by `ms`, firing due timers one instant at a time and letting the network settle
   * after each, as if messages took no time at all.
   */
  async advance(ms: number): Promise<void> {
    await advance(this.network, this.clock, ms);
  }

  /** The calls in progress. */
  get active(): Call[] {
    return this.core.calls.active();
  }

  /** The leg (in a call in progress) whose media endpoint this is, with its call's API. */
  legAt(endpoint: EndpointId): { leg: Leg; session: CallSession } {
    for (const call of this.active) {
      const leg = call.legs.find((l) => l.endpoint === endpoint && !l.ended);
      if (leg) return { leg, session: this.core.session(call) };
    }
    throw new Error(`no live leg has media endpoint ${endpoint}`);
  }

  /** The one CDR row so far (fails the test when there is not exactly one). */
  cdr(): CdrRecord {
    if (this.cdrs.length !== 1) throw new Error(`expected one CDR row, got ${this.cdrs.length}`);
    return this.cdrs[0]!;
  }

  async stop(): Promise<void> {
    this.core.stop();
    await this.settle();
    for (const p of this.phones) await p.stop();
    await this.stack.stop();
    this.db.close();
    // A voicemail call cut by stop() may still be finishing a file; retry until the folder stays empty.
    rmSync(join(this.voicemailDir, '..'), { recursive: true, force: true, maxRetries: 5, retryDelay: 10 });
  }
}
