// Assembles a running hibiki: SIP stack, store, registrar, security, config reload.
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type Database from 'better-sqlite3';
import type { HibikiConfig } from './config/schema.js';
import { ConfigWatcher } from './config/watch.js';
import { SipStack } from './sip/stack.js';
import { DigestServer } from './sip/digest.js';
import type { ListenPoint } from './sip/transport/types.js';
import { openDatabase } from './store/db.js';
import { RegistrationStore } from './store/registrations.js';
import { AuthGuard } from './pbx/auth-guard.js';
import { RequestAuthenticator } from './pbx/authenticator.js';
import { Directory } from './pbx/directory.js';
import { Registrar } from './pbx/registrar.js';
import { Qualifier } from './pbx/qualify.js';
import { Router } from './pbx/router.js';
import { TrunkManager } from './pbx/trunks.js';
import { CallManager } from './pbx/b2bua.js';
import type { Call, CallOutcome } from './pbx/call.js';
import { buildCdr } from './pbx/cdr.js';
import { CdrStore, startRetentionPurge, type RetentionPurge } from './store/cdr-store.js';
import type { MediaEngine } from './media/engine.js';
import { BuiltinMediaEngine } from './media/builtin/engine.js';
import { InCallCodes } from './features/in-call-codes.js';
import { BlindTransfer } from './features/transfer.js';
import { ParkLot } from './features/park.js';
import { ParkStore } from './store/park-store.js';
import { HoldMusic } from './features/hold.js';
import { AttendedTransfer } from './features/attended-transfer.js';
import { PromptCatalogue } from './media/prompts.js';
import { ForwardingService } from './pbx/forwarding.js';
import { Screening } from './pbx/screening.js';
import { ScreeningStore } from './store/screening-store.js';
import { HuntGroups } from './pbx/hunt.js';
import { RingingCalls } from './pbx/ringing.js';
import { CallPickup } from './features/pickup.js';
import { ServiceCodes } from './features/service-codes.js';
import { refuseWithPrompt } from './features/announce.js';
import { promptLanguage } from './features/extension-audio.js';
import { fileURLToPath } from 'node:url';
import { ProcessStats } from './log/process-stats.js';

export interface ServerOptions {
  config: HibikiConfig;
  /** The file the config came from; watched for changes when set. */
  configPath?: string;
  logger: Logger;
  /** Outbound TLS certificate verification (tests talk to self-signed peers). */
  tlsRejectUnauthorized?: boolean;
  /** Wall-clock time for schedules and monthly counters (tests set the time of day). Default Date.now. */
  now?: () => number;
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
  readonly calls: CallManager;
  readonly cdr: CdrStore;
  readonly inCallCodes: InCallCodes;
  readonly prompts: PromptCatalogue;
  readonly blindTransfer: BlindTransfer;
  readonly park: ParkLot;
  readonly forwarding: ForwardingService;
  readonly screening: Screening;
  readonly ringing = new RingingCalls();
  private purge: RetentionPurge | undefined;
  private stats: ProcessStats | undefined;
  private readonly authenticator: RequestAuthenticator;
  private readonly digestSecret = randomBytes(32);
  private watcher: ConfigWatcher | undefined;
  private config: HibikiConfig;
  private stopped = false;

  constructor(private readonly opts: ServerOptions) {
    const config = opts.config;
    this.config = config;
    this.logger = opts.logger;
    this.stack = new SipStack({
      listen: config.listen.map((l) => toListenPoint(l)),
      logger: this.logger,
      userAgent: config.sip.userAgent,
      timers: { t1: config.sip.t1, t2: config.sip.t2, t4: config.sip.t4 },
      limits: {
        maxMessageBytes: config.sip.maxMessageBytes,
        idleTimeoutMs: config.sip.tcpIdleTimeout * 1000,
        maxConnections: config.sip.maxConnections,
      },
      tls: { rejectUnauthorized: opts.tlsRejectUnauthorized ?? true },
      // RFC 4028 on every dialog hibiki is part of, so each leg of a call is refreshed on its own.
      sessionTimer: { sessionExpires: config.calls.sessionExpires, minSE: config.calls.minSE },
    });
    this.db = openDatabase(resolve(config.data.dir));
    this.registrations = new RegistrationStore(this.db);
    this.directory = new Directory(config);
    this.guard = new AuthGuard(config.auth, this.logger);
    this.authenticator = new RequestAuthenticator(this.digestFor(config), this.guard, this.directory, this.logger, config.auth.realm);
    this.registrar = new Registrar(this.stack, this.registrations, this.authenticator, this.directory, config.registrar, this.logger);
    this.qualifier = new Qualifier(this.stack, this.registrations, config.registrar, this.logger, config.tenant.domain);
    this.router = new Router(config);
    this.trunks = new TrunkManager(this.stack, this.logger);
    this.cdr = new CdrStore(this.db);
    this.media = new BuiltinMediaEngine({
      address: config.media.address ?? mediaAddress(this.stack, config),
      bindAddress: config.media.bindAddress,
      rtpPorts: config.media.rtpPorts,
      rtpTimeoutSec: config.media.rtpTimeout,
      logger: this.logger,
    });
    const now = opts.now ?? Date.now;
    this.forwarding = new ForwardingService({ db: this.db, config: () => this.config, now, logger: this.logger });
    this.forwarding.applyConfig(config);
    this.screening = new Screening({ store: new ScreeningStore(this.db), config: () => this.config, now, logger: this.logger });
    this.calls = new CallManager({
      stack: this.stack,
      registrar: this.registrar,
      authenticator: this.authenticator,
      router: this.router,
      trunks: this.trunks,
      media: this.media,
      logger: this.logger,
      // Read at the start of each call: a call keeps the plan it started with (F-RELOAD).
      config: () => this.config,
      onCallEnded: (call, outcome) => this.writeCdr(call, outcome),
      forwarding: this.forwarding,
      hunt: new HuntGroups(this.db),
      ringing: this.ringing,
      screening: this.screening,
      now,
    });
    this.inCallCodes = new InCallCodes(this.media, this.stack.clock);
    this.calls.onAnswered((call, caller, callee, cfg) => this.inCallCodes.attach(call, caller, callee, cfg));
    this.prompts = new PromptCatalogue({
      root: resolve(config.prompts.dir ?? fileURLToPath(new URL('../prompts', import.meta.url))),
      mohRoot: resolve(config.prompts.mohDir ?? fileURLToPath(new URL('../moh', import.meta.url))),
      languages: ['ja', 'en'],
    });
    this.park = new ParkLot({
      stack: this.stack,
      store: new ParkStore(this.db),
      calls: this.calls,
      codes: this.inCallCodes,
      media: this.media,
      prompts: this.prompts,
      config: () => this.config,
      logger: this.logger,
    });
    this.blindTransfer = new BlindTransfer({
      park: this.park,
      calls: this.calls,
      codes: this.inCallCodes,
      media: this.media,
      prompts: this.prompts,
      clock: this.stack.clock,
      config: () => this.config,
      logger: this.logger,
    });
  }

  /** F-CDR: one row per call, written when it ends. */
  private writeCdr(call: Call, o: CallOutcome): void {
    try {
      // F-FWD: every forwarding hop before the last destination has its own row, in the call's linked id.
      for (const hop of o.hops) {
        this.cdr.insert(
          buildCdr({
            callId: call.callId,
            linkedId: call.linkedId,
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
      }
      this.cdr.insert(
        buildCdr({
          callId: call.callId,
          linkedId: call.linkedId,
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
          hangupReason: o.reason,
          trunk: o.trunk,
          feature: o.feature,
          transferredBy: o.transferredBy,
          forwardedFrom: o.forwardedFrom,
        }),
      );
    } catch (err) {
      call.log.error({ err }, 'CDR not written');
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
    await this.media.start();
    await this.stack.start();
    this.registrar.start();
    this.qualifier.start();
    this.calls.start();
    this.blindTransfer.start();
    this.park.start();
    const announce = { calls: this.calls, media: this.media, stack: this.stack, logger: this.logger };
    this.calls.announcer = (attempt, prompt, listener, final) =>
      refuseWithPrompt(announce, attempt, prompt ? [this.prompts.file(prompt, promptLanguage(this.config, listener))] : [], final);
    new CallPickup({ ...announce, ringing: this.ringing, prompts: this.prompts, config: () => this.config }).start(this.calls);
    new ServiceCodes({ ...announce, forwarding: this.forwarding, prompts: this.prompts, config: () => this.config }).start();
    new HoldMusic(this.calls, this.media, this.prompts, () => this.config).start();
    new AttendedTransfer({ calls: this.calls, codes: this.inCallCodes, media: this.media, prompts: this.prompts, clock: this.stack.clock, config: () => this.config }).start();
    await this.trunks.start(this.config);
    this.purge = startRetentionPurge(this.cdr, this.config.cdr.retentionDays, this.logger);
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
        onChange: (c) => this.applyConfig(c),
      });
      this.watcher.start();
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
  applyConfig(next: HibikiConfig): void {
    const prev = this.config;
    if (JSON.stringify(prev.listen) !== JSON.stringify(next.listen) || prev.data.dir !== next.data.dir) {
      this.logger.warn('listen and data.dir changes take effect after a restart');
    }
    this.config = next;
    this.forwarding.applyConfig(next);
    this.directory.load(next);
    this.guard.updateLimits(next.auth);
    this.authenticator.update(this.digestFor(next), next.auth.realm);
    this.registrar.updateSettings(next.registrar);
    this.qualifier.updateSettings(next.registrar);
    this.router.load(next);
    void this.trunks.load(next);
    this.logger.level = next.log.level;
    if (next.log.statsInterval !== prev.log.statsInterval) this.stats?.start(next.log.statsInterval);
    this.dropBindingsOfUnavailableExtensions();
    this.logger.info({ extensions: next.extensions.length }, 'configuration reloaded');
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

  private digestFor(config: HibikiConfig): DigestServer {
    // One secret for the life of the process, so nonces issued before a reload stay valid after it.
    return new DigestServer({ realm: config.auth.realm, algorithms: config.auth.algorithms, nonceTtlSec: config.auth.nonceExpires, secret: this.digestSecret });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.watcher?.stop();
    this.stats?.stop();
    this.calls.stopAll();
    this.purge?.stop();
    this.trunks.stop();
    this.qualifier.stop();
    this.registrar.stop();
    // Let the BYEs of the calls just ended leave before the sockets close.
    await new Promise((r) => setTimeout(r, 50));
    await this.stack.stop();
    await this.media.stop();
    this.registrations.flush();
    this.registrations.close();
    this.db.close();
    this.logger.info('hibiki stopped');
  }
}

/** SDP c= address: the stack's advertised address for its first listener. */
function mediaAddress(stack: SipStack, config: HibikiConfig): string {
  const first = config.listen[0];
  const host = first ? stack.advertisedHost({ transport: first.transport, host: first.host, port: first.port }) : '127.0.0.1';
  return host;
}

function toListenPoint(l: HibikiConfig['listen'][number]): ListenPoint {
  return {
    transport: l.transport,
    host: l.host,
    port: l.port,
    cert: l.cert ? resolve(l.cert) : undefined,
    key: l.key ? resolve(l.key) : undefined,
  };
}
