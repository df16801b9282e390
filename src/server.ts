// Assembles a running hibiki: SIP stack, store, registrar, security, config reload.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type Database from 'better-sqlite3';
import type { HibikiConfig } from './config/schema.js';
import { ConfigWatcher } from './config/watch.js';
import { ConfigEvents } from './config/config-events.js';
import { SipStack } from './sip/stack.js';
import { digestSettings, mediaAddress, protectionOf, stackSettings } from './sip/stack-settings.js';
import { AddressSet } from './sip/address-set.js';
import { DigestServer } from './sip/digest.js';
import { openDatabase } from './store/db.js';
import { RegistrationStore } from './store/registrations.js';
import { AuthGuard } from './registrar/auth-guard.js';
import { AuthLockStore } from './store/auth-lock-store.js';
import { RequestAuthenticator } from './registrar/authenticator.js';
import { Directory } from './registrar/directory.js';
import { Registrar } from './registrar/registrar.js';
import { Qualifier } from './registrar/qualify.js';
import { Router } from './pbx/router.js';
import { TrunkManager } from './pbx/trunks.js';
import { CallCore } from './pbx/core.js';
import type { CallRegistry } from './pbx/calls.js';
import type { Call, CallOutcome } from './pbx/call.js';
import { CdrStore, startRetentionPurge, type RetentionPurge } from './store/cdr-store.js';
import { callCdrs } from './pbx/call-cdr.js';
import { CallJournal } from './pbx/call-journal.js';
import { prepareRecovery, type RecoverySummary } from './pbx/crash-recovery.js';
import { ActiveCallStore } from './store/active-call-store.js';
import { flushQueuedWrites } from './store/tick-writer.js';
import type { MediaEngine } from './media/engine.js';
import { createMediaEngine } from './media/engine-factory.js';
import { BlindTransfer } from './features/transfer.js';
import { ParkLot } from './features/park.js';
import { ParkStore } from './store/park-store.js';
import { HoldMusic } from './features/hold.js';
import { AttendedTransfer } from './features/attended-transfer.js';
import { PromptCatalogue } from './media/prompts.js';
import { ForwardingService } from './features/forwarding.js';
import { Screening, ScreeningFeature } from './features/screening.js';
import { ScreeningStore } from './store/screening-store.js';
import { HuntGroups } from './features/hunt.js';
import { HuntStore } from './store/hunt-store.js';
import { CallPickup } from './features/pickup.js';
import { ServiceCodes } from './features/service-codes.js';
import { Extensions } from './features/extension.js';
import { Groups } from './features/group.js';
import { OutsideLine } from './features/outside-line.js';
import { DidBulkForwarding } from './features/did-forwarding.js';
import { Ivrs, missingIvrPrompts } from './features/ivr.js';
import { promptLanguage } from './pbx/extension-audio.js';
import { Voicemail } from './features/voicemail/voicemail.js';
import { MailboxEvents } from './features/voicemail/mailbox-events.js';
import { VoicemailStore } from './store/voicemail-store.js';
import { VoicemailBoxStore } from './store/voicemail-box-store.js';
import { every, systemClock, type Clock, type TimerHandle } from './util/clock.js';
import { Notifier } from './sip/subscription.js';
import { configuredMailboxes, type Mailboxes } from './features/voicemail/mailboxes.js';
import { MessageWaiting } from './features/voicemail/mwi.js';
import { VoicemailMailer } from './features/voicemail/mail-notify.js';
import { QueueCenter } from './features/queue/queue-center.js';
import { missingQueuePrompts } from './features/queue/queue.js';
import { Conference } from './features/conference/conference.js';
import { Spy } from './features/spy.js';
import { Rooms } from './features/conference/rooms.js';
import { ConferenceStore } from './store/conference-store.js';
import { HotDesk } from './features/hotdesk/hotdesk.js';
import { HotDeskLogins } from './features/hotdesk/logins.js';
import { HotDeskStore } from './store/hotdesk-store.js';
import { CallRecording } from './features/recording/call-recording.js';
import { startRecordingPurge, type RecordingPurge } from './features/recording/recording-purge.js';
import { MailOutboxStore } from './store/mail-outbox-store.js';
import { fileURLToPath } from 'node:url';
import { ProcessStats } from './log/process-stats.js';
import type { AddressInfo } from 'node:net';
import { ConfigEditor } from './config/config-editor.js';
import { ApiServer } from './api/http-server.js';

export interface ServerOptions {
  config: HibikiConfig;
  /** The file the config came from; watched for changes when set. */
  configPath?: string;
  logger: Logger;
  /** Outbound TLS certificate verification (tests talk to self-signed peers). */
  tlsRejectUnauthorized?: boolean;
  /** The one clock every timer and timestamp comes from (tests drive it). Default: the real clock. */
  clock?: Clock;
  /**
   * The voicemail boxes as message-waiting and e-mail notification see them. Default:
   * the configured boxes (configuredMailboxes); tests give their own.
   */
  mailboxes?: Mailboxes;
}

export class HibikiServer {
  readonly logger: Logger;
  readonly stack: SipStack;
  readonly db: Database.Database;
  readonly registrations: RegistrationStore;
  readonly guard: AuthGuard;
  readonly directory: Directory;
  readonly registrar: Registrar;
  readonly qualifier: Qualifier;
  readonly router: Router;
  readonly trunks: TrunkManager;
  readonly media: MediaEngine;
  readonly core: CallCore;
  /** The calls in progress. */
  readonly calls: CallRegistry;
  readonly cdr: CdrStore;
  readonly prompts: PromptCatalogue;
  readonly park: ParkLot;
  readonly forwarding: ForwardingService;
  readonly screening: Screening;
  /**
   * F-VM: every deposit, status change and deletion of a voicemail message, after the WAV and the row are in
   * place (message-waiting lamps and e-mail listen here). Messages deleted by the CLI are not announced:
   * the CLI is another process; the counts are right again at the box's next change.
   */
  readonly mailboxEvents = new MailboxEvents();
  readonly voicemailStore: VoicemailStore;
  readonly clock: Clock;
  /** SUBSCRIBE handling (RFC 6665), one event package per feature. */
  readonly notifier: Notifier;
  /** Message-waiting lamps (RFC 3842). */
  readonly mwi: MessageWaiting;
  /** ACD queues and agents (F-QUEUE, F-AGENT). */
  readonly queues: QueueCenter;
  /** Conference rooms in progress (F-CONF). */
  readonly rooms: Rooms;
  private roomCommands: TimerHandle | undefined;
  /** E-mail notification of new voicemail, with its outbox. */
  readonly mailer: VoicemailMailer;
  /** Hot-desk logins (F-HOTDESK): which device rings for, and calls as, which extension. */
  readonly hotDesk: HotDeskLogins;
  /** Crash recovery: the answered calls as rows, and the heartbeat (issue #14). */
  readonly activeCalls: ActiveCallStore;
  private readonly journal: CallJournal;
  /** Settles when the BYEs of the calls a crash cut have their answers (a resolved empty summary when there were none). */
  recovery: Promise<RecoverySummary> | undefined;
  private purge: RetentionPurge | undefined;
  private recordingPurge: RecordingPurge | undefined;
  private readonly recording: CallRecording;
  private stats: ProcessStats | undefined;
  private readonly authenticator: RequestAuthenticator;
  /**
   * One digest server for the life of the process: a reload reconfigures it, keeping the nonce counts
   * already used (a new one would accept every captured credential of the last nonce lifetime again).
   * Its secret is random per process, so a restart invalidates every earlier nonce.
   */
  private readonly digest: DigestServer;
  private watcher: ConfigWatcher | undefined;
  /** Every configuration applied or refused (the event stream, issue #12). */
  readonly configEvents = new ConfigEvents();
  /** Edits of the config file made by the API (issue #12); undefined without a config file. */
  readonly configEditor: ConfigEditor | undefined;
  private api: ApiServer | undefined;
  /** Where the HTTP API and console listen, once started (with `http:` in the config). */
  httpAddress: AddressInfo | undefined;
  private config: HibikiConfig;
  private stopped = false;
  /** security.trustedAddresses: sources the rate limit never blocks (trunks are trusted too). */
  private trusted: AddressSet;

  constructor(private readonly opts: ServerOptions) {
    const config = opts.config;
    this.config = config;
    this.logger = opts.logger;
    // The one clock of the process; it logs the first delay it has to clamp through the server's logger.
    this.clock = opts.clock ?? systemClock(this.logger);
    this.trusted = AddressSet.parse(config.security.trustedAddresses);
    this.stack = new SipStack({
      ...stackSettings(config),
      clock: this.clock,
      logger: this.logger,
      tls: { rejectUnauthorized: opts.tlsRejectUnauthorized ?? true },
      protection: { ...protectionOf(config), trusted: (address) => this.trusted.has(address) || this.trunks.matchInbound(address) !== undefined },
    });
    this.db = openDatabase(resolve(config.data.dir));
    // An API edit is applied at once; the watcher's own reload of the same file later changes nothing.
    this.configEditor = opts.configPath
      ? new ConfigEditor(opts.configPath, (c) => {
          this.watcher?.supersede();
          this.applyConfig(c, 'api');
        })
      : undefined;
    // Bindings expire by the server's one clock, as the registrar's sweep does.
    this.registrations = new RegistrationStore(this.db, () => this.clock.now(), this.logger);
    this.directory = new Directory(config);
    this.guard = new AuthGuard({
      store: new AuthLockStore(this.db),
      limits: config.auth,
      logger: this.logger,
      clock: this.stack.clock,
      isRegisteredDevice: (user, address, transport) => this.registrar.isRegisteredFrom(user, address, transport),
    });
    this.digest = new DigestServer(digestSettings(config));
    this.authenticator = new RequestAuthenticator(this.digest, this.guard, this.directory, this.logger);
    this.registrar = new Registrar(this.stack, this.registrations, this.authenticator, this.directory, config.registrar, this.logger);
    this.qualifier = new Qualifier(this.stack, this.registrations, config.registrar, this.logger, config.tenant.domain);
    this.router = new Router(config);
    this.hotDesk = new HotDeskLogins({ store: new HotDeskStore(this.db), registrar: this.registrar, config: () => this.config, clock: this.clock, logger: this.logger });
    this.trunks = new TrunkManager(this.stack, this.logger);
    this.cdr = new CdrStore(this.db);
    this.activeCalls = new ActiveCallStore(this.db);
    this.journal = new CallJournal({ store: this.activeCalls, clock: this.stack.clock, logger: this.logger });
    this.media = createMediaEngine(config.media, { address: mediaAddress(this.stack, config), dataDir: config.data.dir, logger: this.logger });
    const clock = this.clock;
    const now = () => clock.now();
    this.forwarding = new ForwardingService({ db: this.db, config: () => this.config, now, logger: this.logger });
    this.forwarding.applyConfig(config);
    this.screening = new Screening({ store: new ScreeningStore(this.db), config: () => this.config, now, logger: this.logger });
    this.prompts = new PromptCatalogue({
      root: resolve(config.prompts.dir ?? fileURLToPath(new URL('../prompts', import.meta.url))),
      mohRoot: resolve(config.prompts.mohDir ?? fileURLToPath(new URL('../moh', import.meta.url))),
      languages: ['ja', 'en'],
    });
    this.recording = new CallRecording({ media: this.media, prompts: this.prompts, config: () => this.config, dir: resolve(config.data.dir, 'recordings'), logger: this.logger });
    this.core = new CallCore({
      stack: this.stack,
      media: this.media,
      clock,
      logger: this.logger,
      router: this.router,
      // F-HOTDESK: a device with a hot-desk login places its calls as the extension it has taken.
      authenticator: this.hotDesk.invites(this.authenticator),
      trunks: this.trunks,
      // Read at the start of each call: a call keeps the plan it started with (F-RELOAD).
      config: () => this.config,
      onCallEnded: (call, outcome) => this.writeCdr(call, outcome),
      // Answered, and re-bridged (transfer, pickup, park): the journal row follows the legs that are up.
      // The recording follows the legs too (issue #15); first, so the journal row already names its file.
      onBridged: (call) => {
        this.recording.bridged(call);
        this.journal.record(call);
      },
      // An IVR's caller, already answered, hears this while the destination it chose rings.
      ringback: (leg) => [this.prompts.file('ringback', promptLanguage(this.config, leg.extension))],
    });
    this.calls = this.core.calls;
    const configNow = () => this.config;
    const callsOf = (extension: string) => this.calls.callsOf(extension);
    // Every feature that rings an extension sees the hot-desk device that has taken it among its contacts.
    const ringable = { contacts: (aor: string) => this.hotDesk.contacts(aor), onEvent: this.registrar.onEvent.bind(this.registrar) };
    const hold = new HoldMusic(this.prompts, configNow);
    this.park = new ParkLot({ prompts: this.prompts, clock, config: configNow, logger: this.logger, store: new ParkStore(this.db) });
    this.voicemailStore = new VoicemailStore(this.db);
    // The voicemail PIN is also the hot-desk PIN: both read it from the same box rows.
    const boxes = new VoicemailBoxStore(this.db);
    const voicemail = new Voicemail({
      store: this.voicemailStore,
      boxes,
      events: this.mailboxEvents,
      prompts: this.prompts,
      clock,
      config: configNow,
      dir: resolve(config.data.dir, 'voicemail'),
      // PIN guessing counts towards blocking its source address (F-AUTH), never towards locking a username.
      onPinFailure: (address) => this.guard.recordFailure(undefined, address),
    });
    this.queues = new QueueCenter({
      db: this.db,
      config: configNow,
      clock,
      registrar: ringable,
      extension: (n) => this.router.extension(n),
      callCounts: () => this.calls.callCounts(),
      prompts: this.prompts,
      logger: this.logger,
    });
    this.rooms = new Rooms({ media: this.media, prompts: this.prompts, store: new ConferenceStore(this.db), now, logger: this.logger });
    // Every feature, in one list: destinations in the dial plan, in-call codes, the phone's hold and transfer keys.
    const features = [
      new Extensions({ router: this.router, registrar: ringable, forwarding: this.forwarding, callsOf }),
      new Groups({ router: this.router, registrar: ringable, forwarding: this.forwarding, hunt: new HuntGroups(new HuntStore(this.db)), callsOf }),
      new OutsideLine({ router: this.router, trunks: this.trunks, prompts: this.prompts }),
      new DidBulkForwarding(this.forwarding),
      new ScreeningFeature(this.screening, this.prompts, configNow),
      this.park,
      new CallPickup({ ringing: this.core.ringing, prompts: this.prompts, config: configNow, logger: this.logger }),
      new ServiceCodes({ forwarding: this.forwarding, prompts: this.prompts, config: configNow, logger: this.logger }),
      hold,
      new BlindTransfer({ prompts: this.prompts, clock, config: configNow, park: this.park, hold }),
      new AttendedTransfer({ prompts: this.prompts, clock, config: configNow }),
      new Ivrs({ prompts: this.prompts, clock }),
      voicemail,
      ...this.queues.features,
      new Conference({ rooms: this.rooms, prompts: this.prompts, config: configNow, logger: this.logger }),
      new Spy({ media: this.media, bridgedLegOf: (ext) => this.calls.bridgedLegOf(ext), prompts: this.prompts, config: configNow, logger: this.logger }),
      new HotDesk({
        logins: this.hotDesk,
        prompts: this.prompts,
        config: configNow,
        pin: (ext) => boxes.pin(ext.number, ext.pin),
        // As voicemail's: a wrong PIN counts towards blocking its source address (F-AUTH), never a username.
        onPinFailure: (address) => this.guard.recordFailure(undefined, address),
        logger: this.logger,
      }),
      this.recording,
    ];
    for (const f of features) this.core.use(f);
    const mailboxes = opts.mailboxes ?? configuredMailboxes(() => this.config);
    this.notifier = new Notifier(this.stack);
    this.mwi = new MessageWaiting({
      stack: this.stack,
      notifier: this.notifier,
      auth: this.authenticator,
      registrations: this.registrar,
      counts: (box) => this.voicemailStore.counts(box),
      events: this.mailboxEvents,
      mailboxes,
      settings: () => this.config.mwi,
      domain: () => this.config.tenant.domain,
      logger: this.logger,
    });
    this.mailer = new VoicemailMailer({
      outbox: new MailOutboxStore(this.db),
      messages: this.voicemailStore,
      events: this.mailboxEvents,
      mailboxes,
      config: () => ({ smtp: this.config.smtp, timeZone: this.config.tenant.timezone }),
      clock,
      logger: this.logger,
    });
  }

  /** F-CDR: the call's rows, written when it ends, in one unit with the removal of its journal row. */
  private writeCdr(call: Call, o: CallOutcome): void {
    const failed = (err: unknown): void => {
      call.log.error({ err }, 'CDR not written');
      this.journal.forget(call);
    };
    try {
      // The rows are taken now and committed at the end of this event-loop turn with the other calls'
      // (store/tick-writer.ts).
      const rows = callCdrs(call, o);
      this.activeCalls.transactionSoon(() => {
        this.cdr.insertMany(rows);
        this.journal.forget(call);
      }, failed);
    } catch (err) {
      failed(err);
    }
  }

  get currentConfig(): HibikiConfig {
    return this.config;
  }

  async start(): Promise<void> {
    // F-AUDIO: a prompt or MOH file in the wrong format is a configuration error, named with its format.
    const promptErrors = this.prompts.load();
    if (promptErrors.length > 0) {
      for (const e of promptErrors) this.logger.error({ file: e.file, actual: e.actual }, e.message);
      throw new Error(`invalid prompt files:\n${promptErrors.map((e) => `${e.file}: ${e.message}`).join('\n')}`);
    }
    const classes = new Set(this.prompts.mohClassNames());
    const unknown = this.config.extensions.filter((e) => !classes.has(e.moh));
    if (unknown.length > 0) throw new Error(`unknown music-on-hold class: ${unknown.map((e) => `extension ${e.number} uses "${e.moh}"`).join(', ')} (classes: ${[...classes].join(', ')})`);
    // F-IVR: a greeting or prompt name the prompt set lacks is an error at start (a reload logs it).
    const ivrPrompts = missingIvrPrompts(this.config, this.prompts);
    if (ivrPrompts.length > 0) throw new Error(`IVR prompts not found:\n${ivrPrompts.join('\n')}`);
    const queuePrompts = missingQueuePrompts(this.config, this.prompts);
    if (queuePrompts.length > 0) throw new Error(`queue prompts not found:\n${queuePrompts.join('\n')}`);
    await this.media.start();
    // Locks from the store are in force before the first request can arrive.
    this.guard.start();
    // Crash recovery: the dialogs of calls cut by a crash exist before the stack listens (a phone's BYE
    // gets 200), and are ended before any call is taken; their BYEs' answers are not waited for.
    const recovery = await prepareRecovery({ stack: this.stack, store: this.activeCalls, cdr: this.cdr, logger: this.logger });
    await this.stack.start();
    this.recovery = recovery.run();
    this.journal.startHeartbeat(() => this.config.cdr.heartbeatInterval);
    this.registrar.start();
    this.hotDesk.start();
    this.qualifier.start();
    this.mwi.start();
    this.mailer.start();
    this.core.start();
    this.queues.start();
    // The CLI's kick and mute commands (another process) are read from the database.
    this.roomCommands = every(this.stack.clock, 1000, () => this.rooms.runCommands());
    await this.trunks.start(this.config);
    this.purge = startRetentionPurge(this.cdr, this.config.cdr.retentionDays, this.logger);
    this.recordingPurge = startRecordingPurge({ dir: resolve(this.config.data.dir, 'recordings'), retentionDays: () => this.config.recording.retentionDays, logger: this.logger });
    this.dropBindingsOfUnavailableExtensions();
    this.stats = new ProcessStats({
      logger: this.logger,
      clock: this.stack.clock,
      sources: {
        activeCalls: () => this.calls.active().length,
        bindings: () => this.registrations.count(),
        transactions: () => this.stack.transactions.size,
        dialogs: () => this.stack.dialogs.size,
        connections: () => this.stack.transport.connectionCount,
      },
    });
    this.stats.start(this.config.log.statsInterval);
    if (this.opts.configPath) {
      this.watcher = new ConfigWatcher({
        file: this.opts.configPath,
        debounceMs: this.config.reload.debounceMs,
        logger: this.logger,
        onChange: (c, reason) => this.applyConfig(c, reason),
        onRejected: (errors, reason) => this.configEvents.tell({ type: 'rejected', reason, errors }),
      });
      this.watcher.start();
    }
    if (this.config.http) {
      this.api = new ApiServer(this, this.config.http);
      this.httpAddress = await this.api.start(this.config.http.host, this.config.http.port);
    }
    const listening = this.stack.listening().map((p) => `${p.transport}:${p.host}:${p.port}`);
    this.logger.info({ listening, extensions: this.config.extensions.length, bindings: this.registrations.count() }, 'hibiki started');
  }

  /** SIGHUP: re-read the config file now. */
  reload(reason = 'SIGHUP'): boolean {
    return this.watcher?.reloadNow(reason) ?? false;
  }

  /**
   * F-RELOAD: a validated new config takes effect for new requests; registrations and
   * runtime state stay. Listen sockets and the data directory need a restart.
   */
  applyConfig(next: HibikiConfig, reason = 'api'): void {
    const prev = this.config;
    if (
      JSON.stringify(prev.listen) !== JSON.stringify(next.listen) ||
      prev.data.dir !== next.data.dir ||
      prev.http?.host !== next.http?.host ||
      prev.http?.port !== next.http?.port ||
      prev.http?.cert !== next.http?.cert ||
      JSON.stringify(prev.media) !== JSON.stringify(next.media)
    ) {
      this.logger.warn('listen, http, media and data.dir changes take effect after a restart');
    }
    this.config = next;
    this.forwarding.applyConfig(next);
    this.directory.load(next);
    this.guard.updateLimits(next.auth);
    this.digest.reconfigure(digestSettings(next));
    this.stack.userAgent = next.sip.userAgent;
    this.trusted = AddressSet.parse(next.security.trustedAddresses);
    this.stack.updateProtection(protectionOf(next));
    this.registrar.updateSettings(next.registrar);
    this.qualifier.updateSettings(next.registrar);
    this.router.load(next);
    this.trunks.load(next).catch((err: unknown) => this.logger.error({ err }, 'trunks not reloaded'));
    this.logger.level = next.log.level;
    if (next.log.statsInterval !== prev.log.statsInterval) this.stats?.start(next.log.statsInterval);
    this.dropBindingsOfUnavailableExtensions();
    for (const problem of missingIvrPrompts(next, this.prompts)) this.logger.error({ problem }, 'IVR prompt not found; callers hear nothing in its place');
    for (const problem of missingQueuePrompts(next, this.prompts)) this.logger.error({ problem }, 'queue prompt or music class not found; callers hear nothing (or the default music) in its place');
    this.logger.info({ extensions: next.extensions.length }, 'configuration reloaded');
    this.configEvents.tell({ type: 'reloaded', reason, extensions: next.extensions.length });
  }

  /** Extensions that were deleted or suspended lose their registrations (F-USER). */
  private dropBindingsOfUnavailableExtensions(): void {
    const aors = new Set(this.registrations.all().map((b) => b.aor));
    for (const aor of aors) {
      const ext = this.directory.extension(aor);
      if (!ext) this.registrar.removeAll(aor, 'removed');
      else if (ext.suspended) this.registrar.removeAll(aor, 'suspended');
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.api?.stop();
    this.watcher?.stop();
    this.stats?.stop();
    this.core.stop();
    this.journal.stopHeartbeat();
    this.roomCommands?.cancel();
    for (const part of [this.purge, this.recordingPurge, this.trunks, this.qualifier, this.mwi, this.queues, this.mailer, this.notifier, this.registrar, this.hotDesk, this.guard]) {
      part?.stop();
    }
    // Let the BYEs of the calls just ended leave before the sockets close.
    await new Promise((r) => setTimeout(r, 50));
    try {
      await this.stack.stop();
      await this.media.stop();
      this.registrations.flush();
      this.registrations.close();
    } finally {
      // The CDRs of calls just ended are queued for this turn's commit: written even when a stop above failed.
      flushQueuedWrites(this.db);
      this.db.close();
    }
    this.logger.info('hibiki stopped');
  }
}
