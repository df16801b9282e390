// Hot-desk logins in force (F-HOTDESK) and what they change for the rest of the PBX: the taken extension's
// ring targets gain the device's contacts (every feature that rings an extension asks `contacts`), and a
// call from the device is authenticated as the device but placed as the taken extension (`invites`).
import type { Logger } from 'pino';
import type { HibikiConfig } from '../../config/schema.js';
import type { ExtensionConfig } from '../../pbx/application.js';
import type { InviteAuthenticator } from '../../pbx/call-setup.js';
import type { SipRequest } from '../../sip/message.js';
import type { ServerResponse } from '../../sip/server-response.js';
import type { HotDeskLogin, HotDeskStore } from '../../store/hotdesk-store.js';
import { every, type Clock, type TimerHandle } from '../../util/clock.js';
import type { Contacts } from '../extension.js';
import { loginExpiry } from './expiry.js';

export interface HotDeskLoginsDeps {
  store: HotDeskStore;
  registrar: Contacts;
  config: () => HibikiConfig;
  clock: Clock;
  logger: Logger;
}

/** How often expired logins are swept (they are also ignored and removed whenever looked up). */
const SWEEP_MS = 60_000;

export class HotDeskLogins implements Contacts {
  /** The device each mapped INVITE was authenticated as (the login code needs the device, not the extension). */
  private readonly devices = new WeakMap<SipRequest, ExtensionConfig>();
  private sweepTimer: TimerHandle | undefined;

  constructor(private readonly deps: HotDeskLoginsDeps) {}

  start(): void {
    this.sweepTimer = every(this.deps.clock, SWEEP_MS, () => this.purge());
  }

  stop(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
  }

  /** Whether this extension's device may take other extensions. */
  mayHotDesk(device: ExtensionConfig): boolean {
    return device.hotDesk || this.deps.config().hotDesk.anyDevice;
  }

  /** The extension `device` has taken now, when its login is live and both ends still allow it. */
  takenBy(device: string): ExtensionConfig | undefined {
    const login = this.live(this.deps.store.byDevice(device));
    return login && this.valid(login)?.extension;
  }

  /** The device that has taken `extension` now. */
  deviceOf(extension: string): string | undefined {
    const login = this.live(this.deps.store.byExtension(extension));
    return login && this.valid(login) ? login.device : undefined;
  }

  /**
   * The login unless it has run out; one that has is deleted (and logged) with any others, now rather
   * than at the next sweep. Read first and purged only then: a DELETE on every call's lookup was a write
   * transaction per call for logins that almost never expire (issue #13).
   */
  private live(login: HotDeskLogin | undefined): HotDeskLogin | undefined {
    if (!login || login.expires > this.deps.clock.now()) return login;
    this.purge();
    return undefined;
  }

  /** The registered devices of an extension, plus those of the hot-desk device that has taken it. */
  contacts(aor: string): ReturnType<Contacts['contacts']> {
    const own = this.deps.registrar.contacts(aor);
    const device = this.deviceOf(aor);
    return device === undefined ? own : [...own, ...this.deps.registrar.contacts(device)];
  }

  /**
   * INVITE authentication as call set-up sees it: the device's credentials are checked as usual, and a device
   * with a live login places its calls as the taken extension (origin, caller ID, class and restrictions).
   */
  invites(inner: InviteAuthenticator): InviteAuthenticator {
    return {
      authenticate: (req: SipRequest, res: ServerResponse, challengeStatus: 401 | 407) => {
        const device = inner.authenticate(req, res, challengeStatus);
        if (!device) return device;
        const taken = this.takenBy(device.number);
        if (!taken) return device;
        this.devices.set(req, device);
        return taken;
      },
    };
  }

  /** The device an INVITE came from when it was placed as a taken extension. */
  deviceOfRequest(req: SipRequest | undefined): ExtensionConfig | undefined {
    return req ? this.devices.get(req) : undefined;
  }

  /** `device` takes `extension` from now until the configured expiry; the device it moved from, if any. */
  login(device: string, extension: string): { login: HotDeskLogin; movedFrom: string | undefined } {
    const config = this.deps.config();
    const since = this.deps.clock.now();
    const login: HotDeskLogin = { device, extension, since, expires: loginExpiry(since, config.hotDesk.expires, config.tenant.timezone) };
    const movedFrom = this.deps.store.login(login);
    this.deps.logger.info({ event: 'hotdesk', device, extension, expires: new Date(login.expires).toISOString(), movedFrom }, 'hot-desk login');
    return { login, movedFrom };
  }

  logout(device: string): HotDeskLogin | undefined {
    const ended = this.deps.store.logoutDevice(device);
    if (ended) this.deps.logger.info({ event: 'hotdesk', device, extension: ended.extension }, 'hot-desk logout');
    return ended;
  }

  /** Logins that have run out are deleted (and logged) rather than merely ignored. */
  private purge(): void {
    for (const l of this.deps.store.purge(this.deps.clock.now())) {
      this.deps.logger.info({ event: 'hotdesk', device: l.device, extension: l.extension }, 'hot-desk login expired');
    }
  }

  /**
   * A stored login still counts while the device may hot-desk and the taken extension exists, is not suspended
   * and is no hot-desk device itself (a reload may have changed any of these; the row stays for when it is undone).
   */
  private valid(login: HotDeskLogin): { extension: ExtensionConfig } | undefined {
    const exts = this.deps.config().extensions;
    const device = exts.find((e) => e.number === login.device);
    const extension = exts.find((e) => e.number === login.extension);
    if (!device || !extension || extension.suspended || extension.hotDesk || !this.mayHotDesk(device)) return undefined;
    return { extension };
  }
}
