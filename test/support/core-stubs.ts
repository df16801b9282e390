// Stand-ins for what the call core gets from the registrar side and the trunk manager, for the call-core
// harness: who is calling (by the From user) and trunk channels counted in memory.
import type { ExtensionConfig, HibikiConfig } from '../../src/config/schema.js';
import type { ServerResponse } from '../../src/sip/server-response.js';
import type { SipRequest } from '../../src/sip/message.js';
import type { SendTarget } from '../../src/sip/transport/types.js';
import { parseNameAddr } from '../../src/sip/address.js';
import { isSipUri } from '../../src/sip/uri.js';
import type { Router, TrunkConfig } from '../../src/pbx/router.js';
import type { InviteAuthenticator, TrunkChannels } from '../../src/pbx/call-setup.js';
import type { TrunkLines } from '../../src/features/outside-line.js';

/**
 * Caller identity by the From user: digest authentication of INVITEs is the registrar's and authenticator's
 * business and has its own tests (test/unit/sip/digest.test.ts, the e2e suites); here it would only add a
 * round trip to every call.
 */
export class FromUserAuthenticator implements InviteAuthenticator {
  constructor(private readonly router: Router) {}

  authenticate(req: SipRequest, res: ServerResponse): ExtensionConfig | null {
    const from = parseNameAddr(req.get('from') ?? '');
    const user = from && isSipUri(from.uri) ? from.uri.user : undefined;
    const ext = user ? this.router.extension(user) : undefined;
    if (!ext || ext.suspended) {
      res.send(403);
      return null;
    }
    return ext;
  }
}

/** Trunk channels and addressing over the config's trunks, with an in-memory channel count. */
export class TestTrunks implements TrunkChannels, TrunkLines {
  private readonly active = new Map<string, number>();

  constructor(private readonly config: () => HibikiConfig) {}

  private trunk(name: string): TrunkConfig | undefined {
    return this.config().trunks.find((t) => t.name === name);
  }

  /** Channels in use on a trunk now. */
  inUse(name: string): number {
    return this.active.get(name) ?? 0;
  }

  matchInbound(address: string): { name: string } | undefined {
    return this.config().trunks.find((t) => t.host === address || t.inboundAddresses.includes(address));
  }

  acquire(name: string): boolean {
    const t = this.trunk(name);
    const n = this.inUse(name);
    if (!t || (t.channels > 0 && n >= t.channels)) return false;
    this.active.set(name, n + 1);
    return true;
  }

  release(name: string): void {
    const n = this.inUse(name);
    if (n > 0) this.active.set(name, n - 1);
  }

  async target(t: TrunkConfig): Promise<SendTarget> {
    return { transport: 'udp', address: t.host, port: t.port };
  }

  domainOf(t: TrunkConfig): string {
    return t.domain ?? t.host;
  }

  requestUri(t: TrunkConfig, number: string): string {
    return `sip:${number}@${t.host}:${t.port}`;
  }
}
