// Message-waiting indication (RFC 3842 over RFC 6665), on the in-memory network and a fake clock: the
// real stack, registrar, digest authenticator and voicemail store, and phones that are plain SIP text on
// a test transport, so every header and body hibiki sends is read as a phone would read it.
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SipStack } from '../../../src/sip/stack.js';
import { SipRequest, SipResponse } from '../../../src/sip/message.js';
import { parseMessage } from '../../../src/sip/parser.js';
import { buildAuthorization } from '../../../src/sip/digest.js';
import { DigestServer } from '../../../src/sip/digest.js';
import { Notifier, parseEventHeader, subscriptionExpires } from '../../../src/sip/subscription.js';
import { configSchema, type HibikiConfig } from '../../../src/config/schema.js';
import { migrate } from '../../../src/store/migrations.js';
import { RegistrationStore } from '../../../src/store/registrations.js';
import { VoicemailStore } from '../../../src/store/voicemail-store.js';
import { AuthLockStore } from '../../../src/store/auth-lock-store.js';
import { AuthGuard } from '../../../src/registrar/auth-guard.js';
import { RequestAuthenticator } from '../../../src/registrar/authenticator.js';
import { Directory } from '../../../src/registrar/directory.js';
import { Registrar } from '../../../src/registrar/registrar.js';
import { MailboxEvents } from '../../../src/features/voicemail/mailbox-events.js';
import { MessageWaiting, messageSummary } from '../../../src/features/voicemail/mwi.js';
import type { MailboxInfo, Mailboxes } from '../../../src/features/voicemail/mailboxes.js';
import type { MwiConfig } from '../../../src/config/mail-schema.js';
import { FakeClock } from '../../support/fake-clock.js';
import { SipNetwork, advance, settle, type MemoryTransport } from '../../support/sip-network.js';
import { captureLogger } from '../../support/logger.js';

const DOMAIN = 'hibiki.test';

describe('the message-summary body (RFC 3842 §5.2)', () => {
  it('lights the lamp for new messages only, and counts new/old', () => {
    expect(messageSummary('sip:2001@hibiki.test', { new: 2, saved: 5 })).toBe('Messages-Waiting: yes\r\nMessage-Account: sip:2001@hibiki.test\r\nVoice-Message: 2/5 (0/0)\r\n');
    expect(messageSummary('sip:2001@hibiki.test', { new: 0, saved: 3 })).toBe('Messages-Waiting: no\r\nMessage-Account: sip:2001@hibiki.test\r\nVoice-Message: 0/3 (0/0)\r\n');
    expect(messageSummary('sip:300@x', { new: 0, saved: 0 })).toContain('Messages-Waiting: no\r\n');
  });
});

describe('SUBSCRIBE header rules (RFC 6665)', () => {
  it('parses Event with its id, and refuses malformed ones', () => {
    expect(parseEventHeader('message-summary')).toEqual({ package: 'message-summary', id: undefined });
    expect(parseEventHeader('Message-Summary ; id=7')).toEqual({ package: 'message-summary', id: '7' });
    expect(parseEventHeader('')).toBeNull();
    expect(parseEventHeader('a b')).toBeNull();
    expect(parseEventHeader('x;;')).toBeNull();
    expect(parseEventHeader(undefined)).toBeNull();
  });

  it('grants Expires within the bounds: default, cut to max, 423 below min, 0 kept, garbage refused', () => {
    const b = { min: 60, max: 3600, default: 1800 };
    expect(subscriptionExpires(undefined, b)).toEqual({ kind: 'ok', expires: 1800 });
    expect(subscriptionExpires('7200', b)).toEqual({ kind: 'ok', expires: 3600 });
    expect(subscriptionExpires(' 120 ', b)).toEqual({ kind: 'ok', expires: 120 });
    expect(subscriptionExpires('59', b)).toEqual({ kind: 'too-brief', min: 60 });
    expect(subscriptionExpires('0', b)).toEqual({ kind: 'ok', expires: 0 });
    expect(subscriptionExpires('-1', b)).toEqual({ kind: 'malformed' });
    expect(subscriptionExpires('1e3', b)).toEqual({ kind: 'malformed' });
    expect(subscriptionExpires('99999999999', b)).toEqual({ kind: 'malformed' });
  });
});

// ---- the server side on the test network -----------------------------------------------------------

const EXTENSIONS = [
  { number: '2001', name: 'Alice', password: 'pw-2001' },
  { number: '2002', name: 'Bob', password: 'pw-2002' },
  { number: '2003', name: 'Carol', password: 'pw-2003' },
];

/** Boxes of the tests: each extension's own, and a shared box 300 shown on 2001's and 2002's phones. */
const BOXES: Record<string, MailboxInfo> = {
  '2001': { name: 'Alice', attach: true, notify: ['2001'], language: 'en' },
  '2002': { name: 'Bob', attach: true, notify: ['2002'], language: 'ja' },
  '2003': { name: 'Carol', attach: true, notify: ['2003'], language: 'ja' },
  '300': { name: 'Sales', attach: true, notify: ['2001', '2002'], language: 'ja' },
};
const mailboxes: Mailboxes = { lookup: (box) => BOXES[box], shownOn: (ext) => Object.keys(BOXES).filter((b) => BOXES[b]?.notify.includes(ext)) };

let network: SipNetwork;
let clock: FakeClock;
const cleanups: Array<() => Promise<void> | void> = [];

beforeEach(() => {
  network = new SipNetwork();
  clock = new FakeClock(Date.UTC(2026, 11, 2, 12));
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Server {
  stack: SipStack;
  mwi: MessageWaiting;
  notifier: Notifier;
  registrar: Registrar;
  store: VoicemailStore;
  events: MailboxEvents;
  settings: MwiConfig;
  logs: Array<Record<string, unknown>>;
  /** Add a message to a box and say so, as the voicemail deposit does. */
  deposit(box: string): number;
  /** Remove a message and say so, as the retrieval menu does. */
  remove(id: number): void;
}

async function startServer(mwi: Partial<MwiConfig> = {}): Promise<Server> {
  const { logger, lines } = captureLogger('debug');
  const config: HibikiConfig = configSchema.parse({ tenant: { domain: DOMAIN }, listen: [{ transport: 'udp', port: 5060 }], extensions: EXTENSIONS, mwi });
  const db = new BetterSqlite3(':memory:');
  migrate(db);
  const stack = new SipStack({ listen: [], transport: network.transport('127.0.0.1'), clock, logger });
  await stack.start();
  const directory = new Directory(config);
  const guard = new AuthGuard({ store: new AuthLockStore(db), limits: config.auth, logger, clock, isRegisteredDevice: () => false });
  guard.start();
  const auth = new RequestAuthenticator(new DigestServer({ realm: DOMAIN, algorithms: ['SHA-256', 'MD5'], nonceTtlSec: 300 }), guard, directory, logger);
  const registrar = new Registrar(stack, new RegistrationStore(db, () => clock.now(), logger), auth, directory, config.registrar, logger);
  registrar.start();
  const store = new VoicemailStore(db);
  const events = new MailboxEvents();
  const notifier = new Notifier(stack);
  const settings = config.mwi;
  const service = new MessageWaiting({
    stack,
    notifier,
    auth,
    registrations: registrar,
    counts: (box) => store.counts(box),
    events,
    mailboxes,
    settings: () => settings,
    domain: () => DOMAIN,
    logger,
  });
  service.start();
  cleanups.push(async () => {
    service.stop();
    notifier.stop();
    registrar.stop();
    guard.stop();
    await stack.stop();
    db.close();
  });
  let n = 0;
  return {
    stack,
    mwi: service,
    notifier,
    registrar,
    store,
    events,
    settings,
    logs: lines,
    deposit(box) {
      const m = store.add({ box, file: `${box}/${++n}.wav`, receivedAt: clock.now(), callerNumber: '0312345678', callerName: undefined, calledNumber: box, durationMs: 3000, callId: undefined });
      events.emit('changed', box, store.counts(box));
      return m.id;
    },
    remove(id) {
      const m = store.remove(id);
      if (m) events.emit('changed', m.box, store.counts(m.box));
    },
  };
}

const SERVER = { transport: 'udp' as const, address: '127.0.0.1', port: 5060 };

/** A phone as SIP text: it sends what a test writes, answers NOTIFY (200 unless told otherwise) and keeps everything. */
class Phone {
  readonly transport: MemoryTransport;
  readonly received: Array<SipRequest | SipResponse> = [];
  /** Status answered to NOTIFY; null: never answered (a phone that went silent). */
  notifyStatus: number | null = 200;
  private cseq = 1;
  private static serial = 0;
  readonly host: string;

  constructor(readonly user: string) {
    this.transport = network.transport();
    this.host = this.transport.point.host;
    this.transport.onMessage((data) => {
      const parsed = parseMessage(data);
      if (!parsed.ok) throw new Error('hibiki sent something unparsable');
      const m = parsed.message;
      this.received.push(m);
      if (m instanceof SipRequest && m.method === 'NOTIFY' && this.notifyStatus !== null) this.answer(m, this.notifyStatus);
    });
  }

  static async open(user: string): Promise<Phone> {
    const p = new Phone(user);
    await p.transport.start();
    cleanups.push(() => p.transport.stop());
    return p;
  }

  get contact(): string {
    return `sip:${this.user}@${this.host}:5060`;
  }

  notifies(filter: (r: SipRequest) => boolean = () => true): SipRequest[] {
    return this.received.filter((m): m is SipRequest => m instanceof SipRequest && m.method === 'NOTIFY' && filter(m));
  }

  answer(req: SipRequest, status: number): void {
    const lines = [`SIP/2.0 ${status} ${status < 300 ? 'OK' : 'Error'}`];
    for (const [k, v] of req.headers) if (k === 'via' || k === 'from' || k === 'call-id' || k === 'cseq') lines.push(`${k}: ${v}`);
    const to = req.get('to') ?? '';
    lines.push(`to: ${to.includes(';tag=') ? to : `${to};tag=phone${this.user}`}`, 'Content-Length: 0', '', '');
    this.transport.send(Buffer.from(lines.join('\r\n')), SERVER);
  }

  /** Send a request and return its final response (matched by Call-ID and CSeq). */
  async send(r: { method: string; uri: string; callId: string; fromTag: string; toTag?: string; headers: string[]; contact?: string | null; to?: string }): Promise<SipResponse> {
    const seq = this.cseq++;
    const branch = `z9hG4bK-p${++Phone.serial}`;
    const lines = [
      `${r.method} ${r.uri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.host}:5060;branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:${this.user}@${DOMAIN}>;tag=${r.fromTag}`,
      `To: ${r.to ?? `<${r.uri}>`}${r.toTag ? `;tag=${r.toTag}` : ''}`,
      `Call-ID: ${r.callId}`,
      `CSeq: ${seq} ${r.method}`,
      ...(r.contact === null ? [] : [`Contact: <${r.contact ?? this.contact}>`]),
      ...r.headers,
      'Content-Length: 0',
      '',
      '',
    ];
    this.transport.send(Buffer.from(lines.join('\r\n')), SERVER);
    await settle(network);
    const res = this.received.find((m): m is SipResponse => m instanceof SipResponse && m.callId === r.callId && m.cseq?.seq === seq && m.status >= 200);
    if (!res) throw new Error(`no final response to ${r.method} ${r.callId}`);
    return res;
  }

  /** A request answered with digest credentials when challenged (401), as phones do. */
  async authed(r: Parameters<Phone['send']>[0], password = `pw-${this.user}`): Promise<SipResponse> {
    const first = await this.send(r);
    if (first.status !== 401) return first;
    const challenge = first.getAll('www-authenticate').find((c) => c.includes('MD5')) as string;
    return this.send({ ...r, headers: [...r.headers, `Authorization: ${buildAuthorization(challenge, { username: this.user, password }, r.method, r.uri)}`] });
  }

  async register(): Promise<SipResponse> {
    return this.authed({ method: 'REGISTER', uri: `sip:${DOMAIN}`, to: `<sip:${this.user}@${DOMAIN}>`, callId: `reg-${this.user}-${this.host}`, fromTag: 'r1', headers: ['Expires: 600'] });
  }

  /** A new subscription to a box; returns the response and what an in-dialog request needs. */
  async subscribe(box: string, opts: { expires?: number; event?: string; headers?: string[]; password?: string; callId?: string } = {}) {
    const callId = opts.callId ?? `sub-${++Phone.serial}`;
    const headers = [`Event: ${opts.event ?? 'message-summary'}`, ...(opts.expires !== undefined ? [`Expires: ${opts.expires}`] : []), ...(opts.headers ?? [])];
    const res = await this.authed({ method: 'SUBSCRIBE', uri: `sip:${box}@${DOMAIN}`, callId, fromTag: 's1', headers }, opts.password);
    return { res, callId, toTag: res.toTag };
  }

  /** A SUBSCRIBE inside the subscription's dialog (refresh, or unsubscribe with 0). */
  async resubscribe(box: string, dialog: { callId: string; toTag: string | undefined }, expires: number, event = 'message-summary'): Promise<SipResponse> {
    return this.send({ method: 'SUBSCRIBE', uri: `sip:${box}@${DOMAIN}`, callId: dialog.callId, fromTag: 's1', toTag: dialog.toTag, headers: [`Event: ${event}`, `Expires: ${expires}`] });
  }
}

function body(r: SipRequest): string {
  return r.body.toString('utf8');
}

describe('message-summary subscriptions', () => {
  it('accepts with 200 and Expires, then NOTIFYs at once with the counts, and on every change', async () => {
    const s = await startServer();
    s.store.add({ box: '2001', file: 'a.wav', receivedAt: 1, callerNumber: '1', callerName: undefined, calledNumber: '2001', durationMs: 1, callId: undefined });
    const phone = await Phone.open('2001');
    const { res, callId } = await phone.subscribe('2001', { expires: 600 });
    expect(res.status).toBe(200);
    expect(res.get('expires')).toBe('600');
    expect(res.toTag).toBeTruthy();
    expect(res.get('contact')).toBeTruthy();

    const first = phone.notifies((n) => n.callId === callId);
    expect(first).toHaveLength(1);
    const n0 = first[0]!;
    expect(n0.get('event')).toBe('message-summary');
    expect(n0.get('subscription-state')).toBe('active;expires=600');
    expect(n0.get('content-type')).toBe('application/simple-message-summary');
    expect(n0.fromTag).toBe(res.toTag);
    expect(n0.uri).toBe(phone.contact);
    expect(body(n0)).toBe('Messages-Waiting: yes\r\nMessage-Account: sip:2001@hibiki.test\r\nVoice-Message: 1/0 (0/0)\r\n');

    await advance(network, clock, 100_000);
    const id = s.deposit('2001');
    await settle(network);
    const second = phone.notifies((n) => n.callId === callId);
    expect(second).toHaveLength(2);
    expect(body(second[1]!)).toContain('Voice-Message: 2/0 (0/0)');
    // The remaining time, not the granted one.
    expect(second[1]!.get('subscription-state')).toBe('active;expires=500');
    expect(second[1]!.cseq!.seq).toBeGreaterThan(n0.cseq!.seq);

    s.store.setStatus(id, 'saved');
    s.events.emit('changed', '2001', s.store.counts('2001'));
    await settle(network);
    expect(body(phone.notifies((n) => n.callId === callId)[2]!)).toContain('Voice-Message: 1/1 (0/0)');
    // Another box changing says nothing to this subscription.
    s.deposit('2002');
    await settle(network);
    expect(phone.notifies((n) => n.callId === callId)).toHaveLength(3);
  });

  it('is digest-authenticated: no credentials → 401, a wrong password → no subscription', async () => {
    const s = await startServer();
    const phone = await Phone.open('2001');
    const plain = await phone.send({ method: 'SUBSCRIBE', uri: `sip:2001@${DOMAIN}`, callId: 'noauth', fromTag: 'x', headers: ['Event: message-summary'] });
    expect(plain.status).toBe(401);
    const wrong = await phone.subscribe('2001', { password: 'nope' });
    expect(wrong.res.status).toBe(401);
    expect(s.mwi.size).toBe(0);
    expect(phone.notifies()).toHaveLength(0);
  });

  it('refuses another extension’s box (403), an unknown box (404), and sees the shared boxes that list it', async () => {
    const s = await startServer();
    const alice = await Phone.open('2001');
    expect((await alice.subscribe('2002')).res.status).toBe(403);
    expect(s.logs.some((l) => l.kind === 'mwi-foreign-box' && l.extension === '2001' && l.box === '2002')).toBe(true);
    expect((await alice.subscribe('9999')).res.status).toBe(404);
    const shared = await alice.subscribe('300');
    expect(shared.res.status).toBe(200);
    const carol = await Phone.open('2003');
    expect((await carol.subscribe('300')).res.status).toBe(403);
    s.deposit('300');
    await settle(network);
    const n = alice.notifies((r) => r.callId === shared.callId);
    expect(n).toHaveLength(2);
    expect(body(n[1]!)).toContain('Message-Account: sip:300@hibiki.test');
    expect(body(n[1]!)).toContain('Messages-Waiting: yes');
    expect(carol.notifies()).toHaveLength(0);
  });

  it('answers 489 with Allow-Events for other packages, 400 without Event or Contact, 423 below the minimum, 406 for an Accept it cannot meet', async () => {
    await startServer({ minExpires: 120 });
    const phone = await Phone.open('2001');
    const presence = await phone.send({ method: 'SUBSCRIBE', uri: `sip:2002@${DOMAIN}`, callId: 'p', fromTag: 'x', headers: ['Event: presence'] });
    expect(presence.status).toBe(489);
    expect(presence.get('allow-events')).toBe('message-summary');
    expect((await phone.send({ method: 'SUBSCRIBE', uri: `sip:2001@${DOMAIN}`, callId: 'e', fromTag: 'x', headers: [] })).status).toBe(400);
    expect((await phone.send({ method: 'SUBSCRIBE', uri: `sip:2001@${DOMAIN}`, callId: 'e2', fromTag: 'x', headers: ['Event: ;x'] })).status).toBe(400);
    expect((await phone.send({ method: 'SUBSCRIBE', uri: `sip:2001@${DOMAIN}`, callId: 'c', fromTag: 'x', headers: ['Event: message-summary'], contact: null })).status).toBe(400);
    const brief = await phone.subscribe('2001', { expires: 60 });
    expect(brief.res.status).toBe(423);
    expect(brief.res.get('min-expires')).toBe('120');
    expect((await phone.subscribe('2001', { expires: 'soon' as unknown as number })).res.status).toBe(400);
    expect((await phone.subscribe('2001', { headers: ['Accept: application/pidf+xml'] })).res.status).toBe(406);
    expect((await phone.subscribe('2001', { headers: ['Accept: application/simple-message-summary'] })).res.status).toBe(200);
  });

  it('cuts a long Expires to the maximum, grants the default when none is named', async () => {
    await startServer({ maxExpires: 1800, defaultExpires: 900 });
    const phone = await Phone.open('2001');
    expect((await phone.subscribe('2001', { expires: 86_400 })).res.get('expires')).toBe('1800');
    expect((await phone.subscribe('2001')).res.get('expires')).toBe('900');
  });

  it('a refresh re-arms the timer and NOTIFYs; unrefreshed it expires with a terminated NOTIFY', async () => {
    const s = await startServer();
    const phone = await Phone.open('2001');
    const sub = await phone.subscribe('2001', { expires: 300 });
    await advance(network, clock, 250_000);
    const refresh = await phone.resubscribe('2001', sub, 300);
    expect(refresh.status).toBe(200);
    expect(refresh.get('expires')).toBe('300');
    let n = phone.notifies((r) => r.callId === sub.callId);
    expect(n).toHaveLength(2);
    expect(n[1]!.get('subscription-state')).toBe('active;expires=300');
    // The refresh moved the end: 250 s later it is still alive.
    await advance(network, clock, 250_000);
    expect(s.mwi.size).toBe(1);
    await advance(network, clock, 50_000);
    n = phone.notifies((r) => r.callId === sub.callId);
    expect(n.at(-1)!.get('subscription-state')).toBe('terminated;reason=timeout');
    expect(body(n.at(-1)!)).toContain('Messages-Waiting: no');
    expect(s.mwi.size).toBe(0);
    expect(s.notifier.size).toBe(0);
    expect(s.stack.dialogs.size).toBe(0);
    // Changes no longer reach it, and a late refresh finds no dialog.
    s.deposit('2001');
    await settle(network);
    expect(phone.notifies((r) => r.callId === sub.callId)).toHaveLength(n.length);
    expect((await phone.resubscribe('2001', sub, 300)).status).toBe(481);
  });

  it('a refresh below the minimum gets 423, one for another package 489; the subscription stays', async () => {
    const s = await startServer();
    const phone = await Phone.open('2001');
    const sub = await phone.subscribe('2001', { expires: 600 });
    const brief = await phone.resubscribe('2001', sub, 10);
    expect(brief.status).toBe(423);
    expect(brief.get('min-expires')).toBe('60');
    expect((await phone.resubscribe('2001', sub, 600, 'presence')).status).toBe(489);
    expect(s.mwi.size).toBe(1);
  });

  it('unsubscribes with Expires: 0 — 200, a terminated NOTIFY, nothing after', async () => {
    const s = await startServer();
    const phone = await Phone.open('2001');
    const sub = await phone.subscribe('2001', { expires: 600 });
    const bye = await phone.resubscribe('2001', sub, 0);
    expect(bye.status).toBe(200);
    expect(bye.get('expires')).toBe('0');
    const n = phone.notifies((r) => r.callId === sub.callId);
    expect(n).toHaveLength(2);
    expect(n[1]!.get('subscription-state')).toBe('terminated;reason=timeout');
    expect(s.mwi.size).toBe(0);
    s.deposit('2001');
    await settle(network);
    expect(phone.notifies((r) => r.callId === sub.callId)).toHaveLength(2);
    // No expiry timer was left behind: past the granted time nothing more comes.
    await advance(network, clock, 700_000);
    expect(phone.notifies((r) => r.callId === sub.callId)).toHaveLength(2);
  });

  it('a fetch (Expires: 0 on a new SUBSCRIBE) gets one terminated NOTIFY with the counts and leaves nothing', async () => {
    const s = await startServer();
    s.deposit('2001');
    const phone = await Phone.open('2001');
    const sub = await phone.subscribe('2001', { expires: 0 });
    expect(sub.res.status).toBe(200);
    expect(sub.res.get('expires')).toBe('0');
    const n = phone.notifies((r) => r.callId === sub.callId);
    expect(n).toHaveLength(1);
    expect(n[0]!.get('subscription-state')).toBe('terminated;reason=timeout');
    expect(body(n[0]!)).toContain('Voice-Message: 1/0');
    expect(s.mwi.size).toBe(0);
    expect(s.stack.dialogs.size).toBe(0);
  });

  it('drops a subscription whose NOTIFY gets 481', async () => {
    const s = await startServer();
    const phone = await Phone.open('2001');
    const sub = await phone.subscribe('2001', { expires: 600 });
    phone.notifyStatus = 481;
    s.deposit('2001');
    await settle(network);
    expect(s.mwi.size).toBe(0);
    expect(s.logs.some((l) => l.msg === 'message-summary subscription ended' && l.box === '2001' && l.callId === sub.callId)).toBe(true);
    phone.notifyStatus = 200;
    s.deposit('2001');
    await settle(network);
    expect(phone.notifies((r) => r.callId === sub.callId)).toHaveLength(2);
  });

  it('drops a subscription whose NOTIFY is never answered (Timer F, 408), and sends one NOTIFY at a time meanwhile', async () => {
    const s = await startServer();
    const phone = await Phone.open('2001');
    const sub = await phone.subscribe('2001', { expires: 3600 });
    phone.notifyStatus = null;
    network.unplug(phone.host);
    s.deposit('2001');
    s.deposit('2001');
    s.deposit('2001');
    await settle(network);
    expect(s.mwi.size).toBe(1);
    // 64*T1 = 32 s of retransmissions, then the NOTIFY times out.
    await advance(network, clock, 33_000);
    expect(s.mwi.size).toBe(0);
    network.plug(phone.host);
    const sent = network.log.filter((m) => m.firstLine.startsWith('NOTIFY') && m.text.includes(sub.callId));
    // Only the first NOTIFY and its retransmissions went out; the later changes waited behind it.
    expect(new Set(sent.map((m) => /CSeq: (\d+)/i.exec(m.text)?.[1])).size).toBe(1);
  });

  it('keeps at most maxSubscriptionsPerExtension, ending the oldest', async () => {
    const s = await startServer({ maxSubscriptionsPerExtension: 2 });
    const phone = await Phone.open('2001');
    const a = await phone.subscribe('2001');
    const b = await phone.subscribe('300');
    const c = await phone.subscribe('2001');
    expect([a, b, c].map((x) => x.res.status)).toEqual([200, 200, 200]);
    expect(s.mwi.size).toBe(2);
    expect(
      phone
        .notifies((r) => r.callId === a.callId)
        .at(-1)!
        .get('subscription-state'),
    ).toBe('terminated;reason=timeout');
    expect((await phone.resubscribe('2001', a, 600)).status).toBe(481);
    expect((await phone.resubscribe('300', b, 600)).status).toBe(200);
  });

  it('never throws on malformed SUBSCRIBEs', async () => {
    const s = await startServer();
    const phone = await Phone.open('2001');
    expect((await phone.send({ method: 'SUBSCRIBE', uri: `sip:${DOMAIN}`, to: `<sip:${DOMAIN}>`, callId: 'nouser', fromTag: 'x', headers: ['Event: message-summary'] })).status).toBe(404);
    expect((await phone.send({ method: 'SUBSCRIBE', uri: `sip:2001@${DOMAIN}`, callId: 'star', fromTag: 'x', headers: ['Event: message-summary'], contact: '*' })).status).toBe(400);
    expect((await phone.send({ method: 'SUBSCRIBE', uri: `sip:2001@${DOMAIN}`, callId: 'stray', fromTag: 'x', toTag: 'nosuch', headers: ['Event: message-summary'] })).status).toBe(481);
    expect(s.logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
  });
});

describe('unsolicited NOTIFY (phones that do not subscribe)', () => {
  it('after a new registration, each box the extension shows; not again on a refresh of the binding', async () => {
    const s = await startServer();
    s.deposit('300');
    const alice = await Phone.open('2001');
    expect((await alice.register()).status).toBe(200);
    await advance(network, clock, 1_000);
    expect(alice.notifies()).toHaveLength(0);
    await advance(network, clock, 1_000);
    const n = alice.notifies();
    expect(n.map((r) => body(r).split('\r\n')[1]).sort()).toEqual(['Message-Account: sip:2001@hibiki.test', 'Message-Account: sip:300@hibiki.test']);
    const shared = n.find((r) => body(r).includes('sip:300@'))!;
    expect(shared.get('event')).toBe('message-summary');
    expect(shared.get('subscription-state')).toBe('active');
    expect(shared.get('content-type')).toBe('application/simple-message-summary');
    expect(shared.uri).toBe(alice.contact);
    expect(shared.toTag).toBeUndefined();
    expect(body(shared)).toContain('Messages-Waiting: yes');
    expect(body(n.find((r) => body(r).includes('sip:2001@'))!)).toContain('Messages-Waiting: no');
    await alice.register();
    await advance(network, clock, 5_000);
    expect(alice.notifies()).toHaveLength(2);
  });

  it('on every change, to every registered contact of the notify extensions, but not to a contact that subscribed', async () => {
    const s = await startServer();
    const alice = await Phone.open('2001');
    const bob = await Phone.open('2002');
    const bobDesk = await Phone.open('2002');
    const carol = await Phone.open('2003');
    for (const p of [alice, bob, bobDesk, carol]) await p.register();
    // Bob's softphone subscribes to the shared box before the registration delay is over.
    const sub = await bob.subscribe('300');
    await advance(network, clock, 3_000);
    const before = (p: Phone) => p.notifies().length;
    const counts = [alice, bob, bobDesk, carol].map(before);
    s.deposit('300');
    await settle(network);
    const fresh = (p: Phone, i: number) => p.notifies().slice(counts[i]);
    expect(fresh(alice, 0).map(body)).toEqual([expect.stringContaining('Message-Account: sip:300@hibiki.test')]);
    expect(fresh(alice, 0)[0]!.toTag).toBeUndefined();
    expect(fresh(bobDesk, 2)).toHaveLength(1);
    // The subscriber gets it in its subscription, once.
    expect(fresh(bob, 1)).toHaveLength(1);
    expect(fresh(bob, 1)[0]!.callId).toBe(sub.callId);
    expect(fresh(carol, 3)).toHaveLength(0);
    // And the lamp goes off when the message is gone.
    const id = s.store.list('300')[0]!.id;
    s.remove(id);
    await settle(network);
    expect(body(alice.notifies().at(-1)!)).toContain('Messages-Waiting: no');
    expect(body(bob.notifies().at(-1)!)).toContain('Messages-Waiting: no');
  });

  it('is off with mwi.unsolicited: false', async () => {
    const s = await startServer({ unsolicited: false });
    const alice = await Phone.open('2001');
    await alice.register();
    await advance(network, clock, 10_000);
    s.deposit('2001');
    await settle(network);
    expect(alice.notifies()).toHaveLength(0);
  });

  it('sends one NOTIFY at a time to a silent phone; the latest state follows the answer', async () => {
    const s = await startServer({ unsolicitedDelaySeconds: 0 });
    const alice = await Phone.open('2001');
    await alice.register();
    await advance(network, clock, 0);
    const base = network.log.filter((m) => m.firstLine.startsWith('NOTIFY')).length;
    network.unplug(alice.host);
    s.deposit('2001');
    s.deposit('2001');
    s.deposit('2001');
    await settle(network);
    const sent = (): Array<{ text: string }> => network.log.filter((m) => m.firstLine.startsWith('NOTIFY')).slice(base);
    // Nothing arrives while the phone is unplugged; the stack's own sends are counted instead.
    expect(sent()).toHaveLength(0);
    // The pending NOTIFY times out (Timer F, 64*T1 = 32 s); then the latest counts go out, once.
    await advance(network, clock, 31_900);
    network.plug(alice.host);
    await advance(network, clock, 1_000);
    expect(sent()).toHaveLength(1);
    const last = alice.notifies().at(-1)!;
    expect(body(last)).toContain('Voice-Message: 3/0');
    expect(s.logs.some((l) => l.msg === 'unsolicited NOTIFY refused' && l.status === 408 && l.box === '2001')).toBe(true);
  });
});
