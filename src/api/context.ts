// What the administration surface (issue #12) reaches of the running PBX. HibikiServer provides it; the API
// layer sees the PBX only through this, so routes can be read without the assembly in server.ts.
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { ConfigEditor } from '../config/config-editor.js';
import type { ConfigEvents } from '../config/config-events.js';
import type { HibikiConfig } from '../config/schema.js';
import type { MailboxEvents } from '../features/voicemail/mailbox-events.js';
import type { ForwardingService } from '../features/forwarding.js';
import type { ParkLot } from '../features/park.js';
import type { Screening } from '../features/screening.js';
import type { QueueCenter } from '../features/queue/queue-center.js';
import type { Rooms } from '../features/conference/rooms.js';
import type { HotDeskLogins } from '../features/hotdesk/logins.js';
import type { MediaEngine } from '../media/engine.js';
import type { CallRegistry } from '../pbx/calls.js';
import type { CallCore } from '../pbx/core.js';
import type { TrunkManager } from '../pbx/trunks.js';
import type { AuthGuard } from '../registrar/auth-guard.js';
import type { Registrar } from '../registrar/registrar.js';
import type { SipStack } from '../sip/stack.js';
import type { CdrStore } from '../store/cdr-store.js';
import type { RegistrationStore } from '../store/registrations.js';
import type { VoicemailStore } from '../store/voicemail-store.js';
import type { Clock } from '../util/clock.js';

export interface ApiContext {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly db: Database.Database;
  /** The configuration in force (changes on every reload). */
  readonly currentConfig: HibikiConfig;
  /** Edits of the YAML file; undefined when the server was not started from a file (changes are then refused). */
  readonly configEditor: ConfigEditor | undefined;
  /** Every configuration applied or refused. */
  readonly configEvents: ConfigEvents;
  readonly stack: SipStack;
  readonly media: MediaEngine;
  readonly registrations: RegistrationStore;
  readonly registrar: Registrar;
  readonly guard: AuthGuard;
  readonly core: CallCore;
  readonly calls: CallRegistry;
  readonly trunks: TrunkManager;
  readonly cdr: CdrStore;
  readonly forwarding: ForwardingService;
  readonly screening: Screening;
  readonly park: ParkLot;
  readonly voicemailStore: VoicemailStore;
  readonly mailboxEvents: MailboxEvents;
  readonly queues: QueueCenter;
  readonly rooms: Rooms;
  readonly hotDesk: HotDeskLogins;
}
