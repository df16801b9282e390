// RFC 3261 §10.3 registrar (F-REG, F-DEVICE): digest-authenticated bindings of extensions to contacts,
// persisted in SQLite, expired on time, reachable at the address and flow they registered from.
import type { Logger } from 'pino';
import type { SipRequest, TransportName } from '../sip/message.js';
import type { SipStack } from '../sip/stack.js';
import type { ServerResponse } from '../sip/server-response.js';
import type { NameAddr } from '../sip/address.js';
import { formatUri, isSipUri } from '../sip/uri.js';
import type { SendTarget } from '../sip/transport/types.js';
import { every, type TimerHandle } from '../util/clock.js';
import { ConnectionHolds } from '../sip/transport/connection-holds.js';
import type { Binding, RegistrationStore } from '../store/registrations.js';
import type { RequestAuthenticator } from './authenticator.js';
import type { Directory } from './directory.js';

export interface RegistrarSettings {
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
}

export type RegistrationEvent =
  { type: 'registered'; binding: Binding; refreshed: boolean } | { type: 'unregistered'; binding: Binding; reason: 'request' | 'expired' | 'replaced' | 'suspended' | 'removed' | 'cleared' };

export class Registrar {
  private listeners: Array<(e: RegistrationEvent) => void> = [];
  private sweepTimer: TimerHandle | undefined;
  /**
   * RFC 5626/5923 connection reuse: a device registered over TCP/TLS/WS is reached over that
   * connection, so each binding keeps its connection open for as long as the binding lives.
   */
  private readonly flows: ConnectionHolds<string>;

  constructor(
    private readonly stack: SipStack,
    private readonly store: RegistrationStore,
    private readonly auth: RequestAuthenticator,
    private readonly directory: Directory,
    private settings: RegistrarSettings,
    private readonly logger: Logger,
  ) {
    this.flows = new ConnectionHolds(stack.transport, 'registration');
    this.onEvent((e) => {
      if (e.type === 'registered') this.flows.set(bindingKey(e.binding), e.binding.connectionId);
      else this.flows.delete(bindingKey(e.binding));
    });
  }

  updateSettings(settings: RegistrarSettings): void {
    this.settings = settings;
  }

  /** Returns the unsubscribe (the API server's event stream stops listening when it stops). */
  onEvent(fn: (e: RegistrationEvent) => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((f) => f !== fn);
    };
  }

  private emit(e: RegistrationEvent): void {
    for (const fn of this.listeners) fn(e);
  }

  start(): void {
    this.stack.use('REGISTER', (req, res) => this.handle(req, res));
    this.stack.transport.onConnectionClosed((id) => this.flowClosed(id));
    // Expiry is checked every second: a binding never outlives its Expires by more than that.
    this.sweepTimer = every(this.stack.clock, 1000, () => this.sweep());
  }

  stop(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
    this.flows.clear();
  }

  /** Live contacts of an extension with the target that reaches each one (its registered flow). */
  contacts(aor: string): Array<{ binding: Binding; target: SendTarget }> {
    return this.store.list(aor).map((binding) => ({ binding, target: bindingTarget(binding) }));
  }

  /**
   * True when `aor` has a live binding registered from this source address over this transport: the
   * "registered device" a username lock never refuses (F-AUTH). The port is not compared: NAT mappings
   * and TCP connections change it while the device stays the same.
   */
  isRegisteredFrom(aor: string, address: string, transport: TransportName): boolean {
    return this.store.list(aor).some((b) => b.sourceAddress === address && b.transport === transport);
  }

  /** Drop every binding of an extension (e.g. it was suspended or deleted by a reload). */
  removeAll(aor: string, reason: 'suspended' | 'removed' | 'cleared'): void {
    const bindings = this.store.list(aor);
    if (bindings.length === 0) return;
    this.store.removeAll(aor);
    for (const b of bindings) this.emit({ type: 'unregistered', binding: b, reason });
  }

  /**
   * A WebSocket flow closed: a browser phone cannot be reached any other way (its Contact host is
   * `*.invalid`, RFC 7118), so its bindings go with the connection. TCP/TLS devices keep theirs: hibiki
   * can open a new connection to them.
   */
  flowClosed(connectionId: string): void {
    for (const b of this.store.all()) {
      if (b.connectionId !== connectionId || (b.transport !== 'ws' && b.transport !== 'wss')) continue;
      this.store.remove(b.aor, b.contact);
      this.logger.info({ aor: b.aor, contact: b.contact }, 'WebSocket closed: registration removed');
      this.emit({ type: 'unregistered', binding: b, reason: 'removed' });
    }
  }

  sweep(): void {
    for (const b of this.store.expire(this.stack.clock.now())) {
      this.logger.info({ aor: b.aor, contact: b.contact }, 'registration expired');
      this.emit({ type: 'unregistered', binding: b, reason: 'expired' });
    }
  }

  private handle(req: SipRequest, res: ServerResponse): void {
    // RFC 3261 §10.3 step 1–3: the AOR comes from To and must be a SIP URI.
    const to = req.to;
    if (!to || !isSipUri(to.uri) || !to.uri.user) {
      res.send(400, 'Bad Request (To must be a sip: or sips: URI with a user)');
      return;
    }
    const aor = to.uri.user;
    const ext = this.auth.authenticate(req, res, 401);
    if (!ext) return;
    if (ext.number !== aor) {
      this.logger.warn({ event: 'security', kind: 'third-party-register', user: ext.number, aor, src: req.source?.address }, 'request refused');
      res.send(403, 'Forbidden (may only register own extension)');
      return;
    }

    const contacts = req.contacts;
    if (contacts === null) {
      res.send(400, 'Bad Request (unparsable Contact)');
      return;
    }
    const expiresHeader = parseExpires(req.get('expires'));
    if (expiresHeader === null) {
      res.send(400, 'Bad Request (bad Expires)');
      return;
    }
    const callId = req.callId;
    const cseq = req.cseq?.seq ?? 0;

    if (contacts.some((c) => c.wildcard)) {
      // §10.3 step 6: "*" only alone and with Expires: 0.
      if (contacts.length !== 1 || expiresHeader !== 0) {
        res.send(400, 'Bad Request (wildcard Contact needs Expires: 0 and no other contact)');
        return;
      }
      for (const b of this.store.list(aor)) {
        if (b.callId === callId && cseq <= b.cseq) continue;
        this.store.remove(aor, b.contact);
        this.emit({ type: 'unregistered', binding: b, reason: 'request' });
      }
      this.logger.info({ aor, src: req.source?.address }, 'unregistered all contacts');
      this.reply(res, aor);
      return;
    }

    // Validate every contact before changing anything (the request is atomic).
    const changes: Array<{ contact: NameAddr; key: string; expires: number }> = [];
    for (const c of contacts) {
      if (!isSipUri(c.uri)) {
        res.send(400, 'Bad Request (Contact must be a sip: or sips: URI)');
        return;
      }
      const param = c.params.get('expires');
      let expires = (param !== undefined && param !== null ? parseExpires(param) : expiresHeader) ?? this.settings.defaultExpires;
      if (expires > 0 && expires < this.settings.minExpires) {
        res.send(423, undefined, { headers: { 'min-expires': String(this.settings.minExpires) } });
        return;
      }
      expires = Math.min(expires, this.settings.maxExpires);
      changes.push({ contact: c, key: formatUri(c.uri), expires });
    }

    const source = req.source;
    if (!source) {
      res.send(500);
      return;
    }
    const now = this.stack.clock.now();
    for (const { contact, key, expires } of changes) {
      const existing = this.store.get(aor, key) ?? this.findByInstance(aor, contact);
      if (existing && existing.callId === callId && cseq <= existing.cseq) {
        res.send(400, 'Bad Request (CSeq not above the stored binding)');
        return;
      }
      if (expires === 0) {
        if (existing) {
          this.store.remove(aor, existing.contact);
          this.emit({ type: 'unregistered', binding: existing, reason: 'request' });
          this.logger.info({ aor, contact: existing.contact, src: source.address }, 'unregistered');
        }
        continue;
      }
      if (existing && existing.contact !== key) {
        // Same instance, new Contact: the old binding goes without an event of its own.
        this.store.remove(aor, existing.contact);
        this.flows.delete(bindingKey(existing));
      }
      const binding: Binding = {
        aor,
        contact: key,
        instanceId: contact.params.get('+sip.instance') ?? undefined,
        webrtc: contact.params.has('+sip.ice'),
        regId: numberOrUndefined(contact.params.get('reg-id')),
        callId,
        cseq,
        expiresAt: now + expires * 1000,
        q: numberOrUndefined(contact.params.get('q')),
        transport: source.transport,
        sourceAddress: source.address,
        sourcePort: source.port,
        localAddress: source.localAddress,
        localPort: source.localPort,
        connectionId: source.connectionId,
        userAgent: req.get('user-agent'),
        registeredAt: existing?.registeredAt ?? now,
        reachable: true,
        missedQualify: 0,
      };
      this.store.upsert(binding);
      if (!existing) this.enforceMaxContacts(aor, binding);
      this.emit({ type: 'registered', binding, refreshed: existing !== undefined });
      if (!existing) this.logger.info({ aor, contact: key, src: `${source.address}:${source.port}`, transport: source.transport, expires }, 'registered');
    }
    this.reply(res, aor);
  }

  private findByInstance(aor: string, contact: NameAddr): Binding | undefined {
    const instance = contact.params.get('+sip.instance');
    if (!instance) return undefined;
    return this.store.list(aor).find((b) => b.instanceId === instance);
  }

  /** F-REG: beyond maxContacts the oldest registrations are replaced. */
  private enforceMaxContacts(aor: string, keep: Binding): void {
    // maxContacts is at least 1: an AOR holding one binding has nothing to replace (the usual case).
    if (this.store.heldCount(aor) <= 1) return;
    const max = this.directory.extension(aor)?.maxContacts ?? 5;
    const list = this.store.list(aor);
    if (list.length <= max) return;
    const oldestFirst = [...list].sort((a, b) => a.registeredAt - b.registeredAt);
    for (const b of oldestFirst) {
      if (list.length <= max) break;
      if (b.contact === keep.contact) continue;
      this.store.remove(aor, b.contact);
      list.splice(list.indexOf(b), 1);
      this.emit({ type: 'unregistered', binding: b, reason: 'replaced' });
      this.logger.info({ aor, contact: b.contact }, 'oldest registration replaced (maxContacts)');
    }
  }

  private reply(res: ServerResponse, aor: string): void {
    const now = this.stack.clock.now();
    const contacts = this.store.peek(aor).map((b) => `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`);
    res.send(200, undefined, { headers: { contact: contacts, date: httpDate(now) } });
  }
}

let dateSecond = NaN;
let dateText = '';

/** RFC 3261 §20.17 Date (RFC 1123 form), formatted once per second rather than once per REGISTER. */
function httpDate(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

function bindingKey(b: Binding): string {
  return `${b.aor}\n${b.contact}`;
}

/** The flow a registered device is reached over: its source address, over the connection it registered on. */
export function bindingTarget(b: Binding): SendTarget {
  return { transport: b.transport, address: b.sourceAddress, port: b.sourcePort, connectionId: b.connectionId };
}

function parseExpires(value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  const t = value.trim();
  if (!/^\d{1,10}$/.test(t)) return null;
  return Number(t);
}

function numberOrUndefined(v: string | null | undefined): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}
