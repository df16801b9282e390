// Message-waiting indication (RFC 3842 `message-summary`, F-VM): the lamp on a phone for a voicemail
// box. Phones that SUBSCRIBE get a NOTIFY at once and on every change of the box; registered phones
// that do not subscribe get out-of-dialog ("unsolicited") NOTIFYs after they register and on every
// change, as Asterisk and most PBXs send them, because many desk phones never subscribe.
// Subscriptions live in memory only: after a restart a phone's refresh gets 481 and it subscribes anew.
import type { Logger } from 'pino';
import type { SipRequest } from '../../sip/message.js';
import type { ServerResponse } from '../../sip/server-response.js';
import type { SipStack } from '../../sip/stack.js';
import type { SendTarget } from '../../sip/transport/types.js';
import { formatUri, isSipUri } from '../../sip/uri.js';
import { subscriptionExpires, type EventHeader, type EventPackage, type Notifier, type Subscription } from '../../sip/subscription.js';
import type { Binding } from '../../store/registrations.js';
import type { MessageCounts } from '../../store/voicemail-store.js';
import type { MwiConfig } from '../../config/mail-schema.js';
import type { TimerHandle } from '../../util/clock.js';
import type { MailboxEvents } from './mailbox-events.js';
import type { Mailboxes } from './mailboxes.js';

export const MESSAGE_SUMMARY = 'message-summary';
export const SIMPLE_MESSAGE_SUMMARY = 'application/simple-message-summary';

/**
 * The RFC 3842 §5.2 body: the lamp (new messages waiting or not), the account the counts are for, and
 * voice-message counts as new/old (urgent new/urgent old). hibiki has no urgent messages; "old" are
 * the saved (heard) ones.
 */
export function messageSummary(account: string, counts: MessageCounts): string {
  return [`Messages-Waiting: ${counts.new > 0 ? 'yes' : 'no'}`, `Message-Account: ${account}`, `Voice-Message: ${counts.new}/${counts.saved} (0/0)`, ''].join('\r\n');
}

/** What the registrar offers here: the live contacts of an extension, and word of new registrations. */
export interface RegistrationView {
  contacts(aor: string): Array<{ binding: Binding; target: SendTarget }>;
  onEvent(fn: (e: { type: 'registered'; binding: Binding; refreshed: boolean } | { type: 'unregistered'; binding: Binding }) => void): void;
}

/** Digest authentication of a request from a phone (the registrar's authenticator): the extension, or null once answered. */
export interface Authenticate {
  authenticate(req: SipRequest, res: ServerResponse, challengeStatus: 401 | 407): { number: string } | null;
}

export interface MessageWaitingOptions {
  stack: SipStack;
  notifier: Notifier;
  auth: Authenticate;
  registrations: RegistrationView;
  counts: (box: string) => MessageCounts;
  events: MailboxEvents;
  mailboxes: Mailboxes;
  settings: () => MwiConfig;
  /** The tenant domain: Message-Account is sip:<box>@<domain>. */
  domain: () => string;
  logger: Logger;
}

/** One phone's subscription to one box. */
interface MwiSubscription {
  box: string;
  extension: string;
  sub: Subscription;
  /** The subscriber's Contact URI, in the registrar's form (to tell which registered contact subscribed). */
  contact: string;
  source: { transport: string; address: string; port: number };
}

export class MessageWaiting implements EventPackage {
  readonly name = MESSAGE_SUMMARY;
  readonly contentTypes = [SIMPLE_MESSAGE_SUMMARY];
  private readonly byBox = new Map<string, Set<MwiSubscription>>();
  /** Each extension's subscriptions, oldest first (the limit ends the oldest). */
  private readonly byExtension = new Map<string, MwiSubscription[]>();
  /** Unsolicited NOTIFYs awaiting an answer, by contact and box; true when the box changed again meanwhile. */
  private readonly unsolicitedInFlight = new Map<string, boolean>();
  /** New registrations waiting out mwi.unsolicitedDelaySeconds. */
  private readonly pendingRegistrations = new Set<TimerHandle>();
  private running = false;
  private readonly onChanged = (box: string): void => this.changed(box);

  constructor(private readonly o: MessageWaitingOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.o.notifier.add(this);
    this.o.events.on('changed', this.onChanged);
    this.o.registrations.onEvent((e) => {
      if (this.running && e.type === 'registered' && !e.refreshed) this.registered(e.binding);
    });
  }

  stop(): void {
    this.running = false;
    this.o.events.off('changed', this.onChanged);
    for (const t of this.pendingRegistrations) t.cancel();
    this.pendingRegistrations.clear();
    for (const list of this.byExtension.values()) for (const s of [...list]) s.sub.stop();
  }

  /** Subscriptions alive now (all boxes). */
  get size(): number {
    let n = 0;
    for (const set of this.byBox.values()) n += set.size;
    return n;
  }

  private account(box: string): string {
    return `sip:${box}@${this.o.domain()}`;
  }

  private content(box: string): { contentType: string; body: string } {
    return { contentType: SIMPLE_MESSAGE_SUMMARY, body: messageSummary(this.account(box), this.o.counts(box)) };
  }

  /** A new SUBSCRIBE for message-summary (the Notifier checked Event, Contact and Accept). */
  subscribe(req: SipRequest, res: ServerResponse, event: EventHeader): void {
    const box = boxOf(req);
    if (box === undefined) {
      res.sendStateless(404, 'Not Found (no mailbox in the Request-URI)');
      return;
    }
    const ext = this.o.auth.authenticate(req, res, 401);
    if (!ext) return;
    const log = { callId: req.callId, box, extension: ext.number, src: req.source?.address };
    const info = this.o.mailboxes.lookup(box);
    if (!info) {
      this.o.logger.info(log, 'message-summary subscription to an unknown mailbox');
      res.sendStateless(404, 'Not Found (no such mailbox)');
      return;
    }
    if (!info.notify.includes(ext.number)) {
      // An extension sees its own box and the shared boxes that list it; anything else is someone else's.
      this.o.logger.warn({ ...log, event: 'security', kind: 'mwi-foreign-box' }, 'message-summary subscription refused');
      res.sendStateless(403, 'Forbidden (not your mailbox)');
      return;
    }
    const settings = this.o.settings();
    const bounds = { min: settings.minExpires, max: settings.maxExpires, default: settings.defaultExpires };
    const verdict = subscriptionExpires(req.get('expires'), bounds);
    if (verdict.kind === 'malformed') {
      res.sendStateless(400, 'Bad Request (bad Expires)');
      return;
    }
    if (verdict.kind === 'too-brief') {
      res.sendStateless(423, undefined, { headers: { 'min-expires': String(verdict.min) } });
      return;
    }
    const contactAddr = req.contacts?.[0];
    const source = req.source;
    if (!contactAddr || !source) {
      res.sendStateless(400, 'Bad Request (SUBSCRIBE needs one Contact)');
      return;
    }
    if (verdict.expires > 0) this.makeRoom(ext.number, settings.maxSubscriptionsPerExtension - 1);
    const sub = this.o.notifier.accept(req, res, {
      event,
      expires: verdict.expires,
      bounds,
      content: () => this.content(box),
      logContext: { box, extension: ext.number },
    });
    if (!sub) {
      this.o.logger.info({ ...log, expires: 0 }, 'message-summary fetched');
      return;
    }
    const entry: MwiSubscription = {
      box,
      extension: ext.number,
      sub,
      contact: formatUri(contactAddr.uri),
      source: { transport: source.transport, address: source.address, port: source.port },
    };
    this.index(entry);
    sub.once('end', (reason) => {
      this.unindex(entry);
      this.o.logger.info({ ...log, reason }, 'message-summary subscription ended');
    });
    this.o.logger.info({ ...log, expires: verdict.expires }, 'message-summary subscription');
  }

  /** Keep an extension at `keep` subscriptions at most: its oldest go first (F-REG does the same with contacts). */
  private makeRoom(extension: string, keep: number): void {
    const list = this.byExtension.get(extension) ?? [];
    while (list.length > keep) {
      const oldest = list[0] as MwiSubscription;
      this.o.logger.info({ callId: oldest.sub.dialog.callId, box: oldest.box, extension }, 'oldest message-summary subscription ended (maxSubscriptionsPerExtension)');
      // reason=timeout: the phone may subscribe again later, as after any lapse.
      oldest.sub.terminate('timeout', 'ended');
      // terminate() ends it synchronously, and its 'end' listener unindexed it.
      if (list[0] === oldest) list.shift();
    }
  }

  private index(e: MwiSubscription): void {
    let set = this.byBox.get(e.box);
    if (!set) this.byBox.set(e.box, (set = new Set()));
    set.add(e);
    let list = this.byExtension.get(e.extension);
    if (!list) this.byExtension.set(e.extension, (list = []));
    list.push(e);
  }

  private unindex(e: MwiSubscription): void {
    const set = this.byBox.get(e.box);
    set?.delete(e);
    if (set?.size === 0) this.byBox.delete(e.box);
    const list = this.byExtension.get(e.extension);
    if (list) {
      const i = list.indexOf(e);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.byExtension.delete(e.extension);
    }
  }

  /** True when this registered contact holds a subscription to the box: it gets its NOTIFYs there instead. */
  private subscribed(box: string, b: Binding): boolean {
    for (const e of this.byBox.get(box) ?? []) {
      if (e.extension !== b.aor) continue;
      if (e.contact === b.contact) return true;
      if (e.source.transport === b.transport && e.source.address === b.sourceAddress && e.source.port === b.sourcePort) return true;
    }
    return false;
  }

  /** A box's counts changed: every subscription to it, and the other registered phones that show it. */
  changed(box: string): void {
    for (const e of this.byBox.get(box) ?? []) e.sub.notify();
    if (!this.o.settings().unsolicited) return;
    const info = this.o.mailboxes.lookup(box);
    if (!info) return;
    for (const ext of info.notify) {
      for (const { binding, target } of this.o.registrations.contacts(ext)) {
        if (!this.subscribed(box, binding)) this.sendUnsolicited(box, binding, target);
      }
    }
  }

  /** A phone registered (a new binding): after a short wait, its boxes' state unless it subscribed meanwhile. */
  private registered(b: Binding): void {
    const settings = this.o.settings();
    if (!settings.unsolicited) return;
    const timer = this.o.stack.clock.setTimer(settings.unsolicitedDelaySeconds * 1000, () => {
      this.pendingRegistrations.delete(timer);
      if (!this.running || !this.o.settings().unsolicited) return;
      const live = this.o.registrations.contacts(b.aor).find((c) => c.binding.contact === b.contact);
      if (!live) return;
      for (const box of this.o.mailboxes.shownOn(b.aor)) {
        if (!this.subscribed(box, live.binding)) this.sendUnsolicited(box, live.binding, live.target);
      }
    });
    this.pendingRegistrations.add(timer);
  }

  /**
   * An out-of-dialog NOTIFY to one registered contact. One at a time per contact and box: a change
   * while one is unanswered sends the latest state after it, so a phone that went silent costs one
   * transaction, not one per change.
   */
  private sendUnsolicited(box: string, b: Binding, target: SendTarget): void {
    const key = `${b.aor}\n${b.contact}\n${box}`;
    if (this.unsolicitedInFlight.has(key)) {
      this.unsolicitedInFlight.set(key, true);
      return;
    }
    const log = { box, extension: b.aor, contact: b.contact };
    let contact: string;
    try {
      contact = this.o.stack.contactUri(target.transport, target.address);
    } catch (err) {
      this.o.logger.warn({ ...log, err: (err as Error).message }, 'unsolicited NOTIFY not sent');
      return;
    }
    this.unsolicitedInFlight.set(key, false);
    const domain = this.o.domain();
    const c = this.content(box);
    this.o.stack
      .request({
        method: 'NOTIFY',
        uri: b.contact,
        target,
        from: `<sip:${box}@${domain}>`,
        to: `<sip:${b.aor}@${domain}>`,
        headers: { event: MESSAGE_SUMMARY, 'subscription-state': 'active', contact: `<${contact}>`, 'content-type': c.contentType },
        body: c.body,
      })
      .then(
        (res) => {
          if (res.status >= 300) this.o.logger.info({ ...log, callId: res.callId, status: res.status }, 'unsolicited NOTIFY refused');
          else this.o.logger.debug({ ...log, callId: res.callId }, 'unsolicited NOTIFY delivered');
        },
        (err: Error) => this.o.logger.info({ ...log, err: err.message }, 'unsolicited NOTIFY not sent'),
      )
      .finally(() => {
        const again = this.unsolicitedInFlight.get(key) === true;
        this.unsolicitedInFlight.delete(key);
        if (!again || !this.running) return;
        const live = this.o.registrations.contacts(b.aor).find((x) => x.binding.contact === b.contact);
        if (live && !this.subscribed(box, live.binding)) this.sendUnsolicited(box, live.binding, live.target);
      });
  }
}

/** The box a SUBSCRIBE is for: the user part of its Request-URI (RFC 3842 §3.7), else of its To. */
function boxOf(req: SipRequest): string | undefined {
  const r = req.requestUri;
  if (isSipUri(r) && r.user) return r.user;
  const to = req.to?.uri;
  if (isSipUri(to) && to.user) return to.user;
  return undefined;
}
