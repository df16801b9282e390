// SIP trunks (F-TRUNK): outbound registration with digest, IP authentication of inbound requests,
// per-trunk channel counting, and how a call to a trunk is addressed.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { SipStack } from '../sip/stack.js';
import type { SipResponse } from '../sip/message.js';
import type { SendTarget } from '../sip/transport/types.js';
import { buildAuthorization } from '../sip/digest.js';
import { newTag } from '../sip/response-builder.js';
import { defaultPort } from '../sip/target.js';
import type { TimerHandle } from '../util/clock.js';

export type TrunkConfig = HibikiConfig['trunks'][number];

export type RegistrationState = 'unregistered' | 'registering' | 'registered' | 'failed';

interface TrunkRuntime {
  config: TrunkConfig;
  active: number;
  addresses: Set<string>;
  state: RegistrationState;
  timer: TimerHandle | undefined;
  callId: string;
  cseq: number;
  failures: number;
  expiresAt: number;
}

/** Registration retry after a failure: 30 s doubling to 5 min. */
const RETRY_MIN_MS = 30_000;
const RETRY_MAX_MS = 300_000;

export class TrunkManager {
  private trunks = new Map<string, TrunkRuntime>();
  private running = false;

  constructor(
    private readonly stack: SipStack,
    private readonly logger: Logger,
  ) {}

  async start(config: HibikiConfig): Promise<void> {
    this.running = true;
    await this.load(config);
  }

  /** Apply a (re)loaded config: new trunks start, removed ones stop; active-call counts survive. */
  async load(config: HibikiConfig): Promise<void> {
    const next = new Map<string, TrunkRuntime>();
    for (const t of config.trunks) {
      const prev = this.trunks.get(t.name);
      const rt: TrunkRuntime = prev ?? {
        config: t,
        active: 0,
        addresses: new Set(),
        state: 'unregistered',
        timer: undefined,
        callId: `${newTag()}${newTag()}`,
        cseq: 0,
        failures: 0,
        expiresAt: 0,
      };
      const changed = prev !== undefined && JSON.stringify(prev.config) !== JSON.stringify(t);
      rt.config = t;
      rt.addresses = await this.addressesOf(t);
      next.set(t.name, rt);
      if (changed && rt.timer) {
        rt.timer.cancel();
        rt.timer = undefined;
      }
      if (this.running && t.register && (!prev || changed)) this.register(rt, 0);
    }
    for (const [name, rt] of this.trunks) {
      if (!next.has(name)) rt.timer?.cancel();
    }
    this.trunks = next;
  }

  stop(): void {
    this.running = false;
    for (const rt of this.trunks.values()) {
      rt.timer?.cancel();
      rt.timer = undefined;
    }
  }

  private async addressesOf(t: TrunkConfig): Promise<Set<string>> {
    const set = new Set(t.inboundAddresses);
    if (isIP(t.host)) set.add(t.host);
    else {
      try {
        const all = await lookup(t.host, { all: true });
        for (const a of all) set.add(a.address);
      } catch (err) {
        this.logger.warn({ trunk: t.name, host: t.host, err: (err as Error).message }, 'cannot resolve trunk host');
      }
    }
    return set;
  }

  /** The trunk a request from this source address belongs to (IP authentication). */
  matchInbound(address: string): TrunkConfig | undefined {
    for (const rt of this.trunks.values()) if (rt.addresses.has(address)) return rt.config;
    return undefined;
  }

  get(name: string): TrunkConfig | undefined {
    return this.trunks.get(name)?.config;
  }

  /** Take a channel; false when the trunk is at its limit (F-TRUNK: 503 / cause 34). */
  acquire(name: string): boolean {
    const rt = this.trunks.get(name);
    if (!rt) return false;
    if (rt.config.channels > 0 && rt.active >= rt.config.channels) return false;
    rt.active++;
    return true;
  }

  release(name: string): void {
    const rt = this.trunks.get(name);
    if (rt && rt.active > 0) rt.active--;
  }

  active(name: string): number {
    return this.trunks.get(name)?.active ?? 0;
  }

  state(name: string): RegistrationState | undefined {
    return this.trunks.get(name)?.state;
  }

  domainOf(t: TrunkConfig): string {
    return t.domain ?? (t.host.includes(':') ? `[${t.host}]` : t.host);
  }

  requestUri(t: TrunkConfig, number: string): string {
    const host = t.host.includes(':') ? `[${t.host}]` : t.host;
    const transport = t.transport === 'udp' ? '' : `;transport=${t.transport}`;
    return `sip:${number}@${host}:${t.port}${transport}`;
  }

  async target(t: TrunkConfig): Promise<SendTarget> {
    if (isIP(t.host)) return { transport: t.transport, address: t.host, port: t.port ?? defaultPort(t.transport) };
    const { address } = await lookup(t.host);
    return { transport: t.transport, address, port: t.port };
  }

  private register(rt: TrunkRuntime, delayMs: number): void {
    rt.timer?.cancel();
    rt.timer = this.stack.clock.setTimer(delayMs, () => {
      rt.timer = undefined;
      void this.sendRegister(rt).catch((err: unknown) => {
        this.logger.warn({ trunk: rt.config.name, err: (err as Error).message }, 'trunk registration error');
        this.retry(rt);
      });
    });
  }

  private retry(rt: TrunkRuntime): void {
    rt.failures++;
    rt.state = 'failed';
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(rt.failures - 1, 4));
    if (this.running) this.register(rt, delay);
  }

  private async sendRegister(rt: TrunkRuntime): Promise<void> {
    const t = rt.config;
    if (!this.running || !t.username || !t.password) return;
    rt.state = rt.state === 'registered' ? 'registered' : 'registering';
    const target = await this.target(t);
    const domain = this.domainOf(t);
    const aor = `<sip:${t.username}@${domain}>`;
    const contact = `<${this.stack.contactUri(target.transport, target.address, t.username)}>`;
    const uri = `sip:${domain}${isIP(t.host) || t.domain === undefined ? `:${t.port}` : ''}`;
    const fromTag = newTag();
    const send = (authorization?: { header: string; value: string }): Promise<SipResponse> =>
      this.stack.request({
        method: 'REGISTER',
        uri,
        target,
        from: `${aor};tag=${fromTag}`,
        to: aor,
        callId: rt.callId,
        cseq: ++rt.cseq,
        headers: [['contact', contact], ['expires', String(t.expires)], ...(authorization ? ([[authorization.header, authorization.value]] as [string, string][]) : [])],
      });
    let res = await send();
    if (res.status === 401 || res.status === 407) {
      const challenge = res.get(res.status === 401 ? 'www-authenticate' : 'proxy-authenticate');
      if (challenge) {
        const value = buildAuthorization(challenge, { username: t.authUsername ?? t.username, password: t.password }, 'REGISTER', uri);
        res = await send({ header: res.status === 401 ? 'authorization' : 'proxy-authorization', value });
      }
    }
    if (res.status >= 200 && res.status < 300) {
      const offered = grantedExpires(res, contact);
      // RFC 3261 §10.3: a registrar may shorten the interval asked for, never lengthen it. A longer one (or
      // a huge one, which would overflow the refresh timer) is taken as what we asked for.
      if (offered !== undefined && offered > t.expires)
        this.logger.warn({ trunk: t.name, granted: offered, requested: t.expires }, 'carrier granted more than requested: using the requested interval');
      const granted = offered === undefined || offered > t.expires ? t.expires : offered;
      rt.state = 'registered';
      rt.failures = 0;
      rt.expiresAt = this.stack.clock.now() + granted * 1000;
      this.logger.info({ trunk: t.name, expires: granted }, 'trunk registered');
      // Refresh well before expiry so one lost REGISTER does not drop the trunk.
      if (this.running) this.register(rt, Math.max(5, Math.floor(granted * 0.8)) * 1000);
      return;
    }
    this.logger.warn({ trunk: t.name, status: res.status }, 'trunk registration refused');
    this.retry(rt);
  }
}

/** The expiry the registrar granted: the expires param of our Contact in the 200, else Expires. */
function grantedExpires(res: SipResponse, ourContact: string): number | undefined {
  const uri = ourContact.slice(1, -1);
  for (const c of res.getAll('contact')) {
    if (!c.includes(uri)) continue;
    const m = /;\s*expires\s*=\s*(\d+)/i.exec(c);
    if (m) return Number(m[1]);
  }
  const e = res.get('expires');
  return e !== undefined && /^\d+$/.test(e.trim()) ? Number(e.trim()) : undefined;
}
