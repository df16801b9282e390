// The notifier side of SIP-specific event notification (RFC 6665), with no knowledge of any event
// package: a Notifier takes every out-of-dialog SUBSCRIBE, answers what no package can (no Event,
// unknown package → 489, no Contact), and hands the rest to the package registered for the Event. A
// package accepts a subscription with accept(): the 200 makes a dialog, and the Subscription on it
// sends NOTIFYs (one at a time, the latest state winning), answers refreshes and unsubscribes inside
// the dialog, expires on the stack's clock, and ends when a NOTIFY is refused or unanswered.
import { EventEmitter } from 'node:events';
import type { SipRequest, SipResponse } from './message.js';
import type { ServerResponse } from './server-response.js';
import type { Dialog } from './dialog.js';
import type { SipStack } from './stack.js';
import type { TimerHandle } from '../util/clock.js';
import { isToken, parseParams } from './params.js';
import { contactUriText } from './dialog-init.js';

/** The Event header (RFC 6665 §8.2.1): the package name and the optional id parameter. */
export interface EventHeader {
  /** Lower-cased: hibiki compares package names without case, as many phones vary it. */
  package: string;
  id: string | undefined;
}

/** Parse an Event header value; null when absent or malformed. */
export function parseEventHeader(value: string | undefined): EventHeader | null {
  if (value === undefined) return null;
  const semi = value.indexOf(';');
  const name = (semi < 0 ? value : value.slice(0, semi)).trim();
  // event-type = token-nodot *( "." token-nodot ): a token covers it (a dot included).
  if (name.length === 0 || !isToken(name)) return null;
  const params = semi < 0 ? new Map<string, string | null>() : parseParams(value, semi);
  if (!params) return null;
  const id = params.get('id');
  return { package: name.toLowerCase(), id: id ?? undefined };
}

export function formatEventHeader(e: EventHeader): string {
  return e.id === undefined ? e.package : `${e.package};id=${e.id}`;
}

/** Bounds of a subscription's duration, in seconds (RFC 6665 §4.2.1.1). */
export interface ExpiryBounds {
  min: number;
  max: number;
  /** Granted when the SUBSCRIBE names no Expires. */
  default: number;
}

export type ExpiresVerdict = { kind: 'ok'; expires: number } | { kind: 'too-brief'; min: number } | { kind: 'malformed' };

/**
 * The duration to grant for a SUBSCRIBE's Expires: 0 stays 0 (a fetch, or an unsubscribe), anything
 * below the minimum is refused with 423 (RFC 6665 §4.2.1.1), anything above the maximum is cut to it.
 */
export function subscriptionExpires(value: string | undefined, bounds: ExpiryBounds): ExpiresVerdict {
  if (value === undefined) return { kind: 'ok', expires: bounds.default };
  const t = value.trim();
  if (!/^\d{1,10}$/.test(t)) return { kind: 'malformed' };
  const n = Number(t);
  if (n === 0) return { kind: 'ok', expires: 0 };
  if (n < bounds.min) return { kind: 'too-brief', min: bounds.min };
  return { kind: 'ok', expires: Math.min(n, bounds.max) };
}

/** What a NOTIFY carries: the package's current state document. */
export interface NotifyContent {
  contentType: string;
  body: string | Buffer;
}

/**
 * Why a subscription ended: the subscriber unsubscribed (Expires: 0), it was not refreshed in time, a
 * NOTIFY was refused or never answered, the package ended it (e.g. a limit replaced it), or the
 * server stopped.
 */
export type SubscriptionEnd = 'unsubscribed' | 'expired' | 'notify-failed' | 'ended' | 'stopped';

export interface SubscriptionEvents {
  end: [reason: SubscriptionEnd];
}

export interface AcceptOptions {
  event: EventHeader;
  /** The granted duration (s): subscriptionExpires() of the request. 0 is a fetch: one NOTIFY, no subscription. */
  expires: number;
  /** Bounds for the refreshes inside the dialog. */
  bounds: ExpiryBounds;
  /** The current state, read for each NOTIFY (so a coalesced NOTIFY always carries the latest). */
  content: () => NotifyContent;
  /** Fields added to every log line of this subscription (e.g. the box and the subscriber). */
  logContext?: Record<string, unknown>;
}

export class Subscription extends EventEmitter<SubscriptionEvents> {
  readonly event: EventHeader;
  /** Monotonic time (ms) at which the subscription lapses unless refreshed. */
  expiresAt: number;
  private timer: TimerHandle | undefined;
  private state: 'active' | 'terminated' = 'active';
  /** A NOTIFY is awaiting its answer; another one is sent after it when the state changed meanwhile. */
  private inFlight = false;
  private dirty = false;

  constructor(
    private readonly stack: SipStack,
    readonly dialog: Dialog,
    private readonly opts: AcceptOptions,
  ) {
    super();
    this.event = opts.event;
    this.expiresAt = stack.clock.monotonic() + opts.expires * 1000;
    this.arm(opts.expires);
    dialog.on('subscribe', (req, res) => this.onSubscribe(req, res));
    // 408/481 to one of our NOTIFYs ends the dialog (RFC 3261 §12.2.1.2); so does a BYE, should one come.
    dialog.on('destroy', () => this.finish('notify-failed'));
  }

  get active(): boolean {
    return this.state === 'active';
  }

  /** Seconds left, as Subscription-State's expires parameter says it. */
  get remaining(): number {
    return Math.max(0, Math.ceil((this.expiresAt - this.stack.clock.monotonic()) / 1000));
  }

  private get log(): Record<string, unknown> {
    return { callId: this.dialog.callId, event: this.event.package, ...this.opts.logContext };
  }

  /** Send the current state (RFC 6665 §4.2.2); while a NOTIFY is unanswered, only the latest state follows it. */
  notify(): void {
    if (this.state !== 'active') return;
    if (this.inFlight) {
      this.dirty = true;
      return;
    }
    this.inFlight = true;
    this.dirty = false;
    this.send(`active;expires=${this.remaining}`).then(
      (res) => {
        this.inFlight = false;
        if (res.status < 300) {
          if (this.dirty) this.notify();
          return;
        }
        // RFC 6665 §4.2.2: a NOTIFY refused (481 above all) or timed out (408, Timer F) removes the subscription;
        // the subscriber makes a new one when its refresh gets 481.
        this.stack.logger.info({ ...this.log, status: res.status }, 'NOTIFY refused or unanswered: subscription removed');
        this.finish('notify-failed');
      },
      (err: Error) => {
        this.inFlight = false;
        this.stack.logger.info({ ...this.log, err: err.message }, 'NOTIFY not sent: subscription removed');
        this.finish('notify-failed');
      },
    );
  }

  /** End the subscription from our side with a final NOTIFY (RFC 6665 §4.2.2: terminated;reason=…). */
  terminate(reason: 'timeout' | 'deactivated' | 'noresource' | 'rejected', why: SubscriptionEnd): void {
    if (this.state !== 'active') return;
    // The final NOTIFY goes out before the dialog is forgotten: it is sent inside it.
    const final = this.send(`terminated;reason=${reason}`);
    this.finish(why);
    final.then(
      (res) => {
        if (res.status >= 300) this.stack.logger.debug({ ...this.log, status: res.status }, 'final NOTIFY refused');
      },
      (err: Error) => this.stack.logger.debug({ ...this.log, err: err.message }, 'final NOTIFY not sent'),
    );
  }

  /** Forget the subscription without a NOTIFY (server shutdown: phones resubscribe when their refresh gets 481). */
  stop(): void {
    this.finish('stopped');
  }

  private send(subscriptionState: string): Promise<SipResponse> {
    const c = this.opts.content();
    const flow = this.dialog.flow;
    return this.dialog.request({
      method: 'NOTIFY',
      headers: {
        event: formatEventHeader(this.event),
        'subscription-state': subscriptionState,
        contact: `<${this.stack.contactUri(flow.transport, flow.address)}>`,
        'content-type': c.contentType,
      },
      body: c.body,
    });
  }

  private arm(seconds: number): void {
    this.timer?.cancel();
    this.timer = this.stack.clock.setTimer(seconds * 1000, () => {
      this.timer = undefined;
      this.stack.logger.info(this.log, 'subscription expired');
      this.terminate('timeout', 'expired');
    });
  }

  /** A SUBSCRIBE inside the dialog: a refresh, or with Expires: 0 an unsubscribe (RFC 6665 §4.2.1.2, §4.2.1.3). */
  private onSubscribe(req: SipRequest, res: ServerResponse): void {
    if (this.state !== 'active') {
      res.send(481);
      return;
    }
    const event = parseEventHeader(req.get('event'));
    if (!event || event.package !== this.event.package || event.id !== this.event.id) {
      // §4.2.1.2: a refresh names the same package and id as the subscription it refreshes.
      res.send(489, undefined, { headers: { 'allow-events': this.event.package } });
      return;
    }
    const verdict = subscriptionExpires(req.get('expires'), this.opts.bounds);
    if (verdict.kind === 'malformed') {
      res.send(400, 'Bad Request (bad Expires)');
      return;
    }
    if (verdict.kind === 'too-brief') {
      res.send(423, undefined, { headers: { 'min-expires': String(verdict.min) } });
      return;
    }
    const contact = req.get('contact');
    if (contact) this.dialog.remoteTarget = contactUriText(contact);
    res.send(200, undefined, { headers: { expires: String(verdict.expires), contact: `<${this.stack.contactUri(this.dialog.flow.transport, this.dialog.flow.address)}>` } });
    if (verdict.expires === 0) {
      this.stack.logger.info(this.log, 'unsubscribed');
      this.terminate('timeout', 'unsubscribed');
      return;
    }
    this.expiresAt = this.stack.clock.monotonic() + verdict.expires * 1000;
    this.arm(verdict.expires);
    this.stack.logger.debug({ ...this.log, expires: verdict.expires }, 'subscription refreshed');
    // §4.2.2: a refresh is answered with a NOTIFY of the current state.
    this.notify();
  }

  private finish(reason: SubscriptionEnd): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timer?.cancel();
    this.timer = undefined;
    // Out of the dialog index without a BYE: a subscription dialog has no session to end.
    this.dialog.terminate(undefined, false);
    this.emit('end', reason);
  }
}

/** An event package: what to do with a new SUBSCRIBE for it (authenticate, authorise, accept or refuse). */
export interface EventPackage {
  readonly name: string;
  /** Content types the package's NOTIFYs can carry (an Accept without any of them → 406). */
  readonly contentTypes: readonly string[];
  subscribe(req: SipRequest, res: ServerResponse, event: EventHeader): void;
}

export class Notifier {
  private readonly packages = new Map<string, EventPackage>();
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly stack: SipStack) {}

  /** Register a package; the first one makes the stack take SUBSCRIBE (until then it answers 405). */
  add(pkg: EventPackage): void {
    this.packages.set(pkg.name.toLowerCase(), pkg);
    if (this.packages.size === 1) this.stack.use('SUBSCRIBE', (req, res) => this.onSubscribe(req, res));
  }

  /** Subscriptions alive now. */
  get size(): number {
    return this.subscriptions.size;
  }

  /** End every subscription without NOTIFY (shutdown). */
  stop(): void {
    for (const s of [...this.subscriptions]) s.stop();
  }

  get allowEvents(): string {
    return [...this.packages.keys()].join(', ');
  }

  /**
   * Accept a SUBSCRIBE for the package: 200 with Expires, then at once the first NOTIFY (RFC 6665
   * §4.2.1.1, §4.2.2). With Expires 0 (a fetch) the one NOTIFY says terminated and no subscription
   * remains: undefined is returned.
   */
  accept(req: SipRequest, res: ServerResponse, opts: AcceptOptions): Subscription | undefined {
    const dialog = this.stack.dialogs.createNotifierDialog(req, res, { headers: { expires: String(opts.expires) } });
    const sub = new Subscription(this.stack, dialog, opts);
    this.subscriptions.add(sub);
    sub.once('end', () => this.subscriptions.delete(sub));
    if (opts.expires === 0) {
      sub.terminate('timeout', 'unsubscribed');
      return undefined;
    }
    sub.notify();
    return sub;
  }

  /** Out-of-dialog SUBSCRIBE: what is wrong with it whatever the package, then the package's own handling. */
  private onSubscribe(req: SipRequest, res: ServerResponse): void {
    const raw = req.get('event');
    if (raw === undefined) {
      res.sendStateless(400, 'Bad Request (missing Event)');
      return;
    }
    const event = parseEventHeader(raw);
    if (!event) {
      res.sendStateless(400, 'Bad Request (bad Event)');
      return;
    }
    const pkg = this.packages.get(event.package);
    if (!pkg) {
      res.sendStateless(489, undefined, { headers: { 'allow-events': this.allowEvents } });
      return;
    }
    const contacts = req.contacts;
    if (contacts === null || contacts.length !== 1 || contacts[0]?.wildcard) {
      // RFC 6665 §4.1.2.1: a SUBSCRIBE has exactly one Contact, where NOTIFYs go.
      res.sendStateless(400, 'Bad Request (SUBSCRIBE needs one Contact)');
      return;
    }
    const accept = req.getAll('accept');
    if (accept.length > 0 && !pkg.contentTypes.some((t) => accept.some((a) => acceptMatches(a, t)))) {
      res.sendStateless(406, undefined, { headers: { accept: pkg.contentTypes.join(', ') } });
      return;
    }
    pkg.subscribe(req, res, event);
  }
}

function acceptMatches(range: string, type: string): boolean {
  const r = (range.split(';')[0] ?? '').trim().toLowerCase();
  if (r === '*/*' || r === type) return true;
  return r === `${type.split('/')[0]}/*`;
}
