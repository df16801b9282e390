// RFC 4028 session timers: header rules, and two stacks on an in-memory network, on one fake clock,
// refreshing or expiring a session (exact timing, whatever the machine is doing).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SipStack, type StackOptions } from '../../../src/sip/stack.js';
import type { DestroyCause, Dialog, RefreshBy } from '../../../src/sip/dialog.js';
import { SipRequest, SipResponse } from '../../../src/sip/message.js';
import { parseMessage } from '../../../src/sip/parser.js';
import {
  DEFAULT_MAX_SESSION_EXPIRES,
  expiryDelayMs,
  negotiateAsUas,
  parseMinSE,
  parseSessionExpires,
  refreshDelayMs,
  SESSION_EXPIRED_REASON,
  sessionTimerFromAnswer,
} from '../../../src/sip/session-timer.js';
import { FakeClock } from '../../support/fake-clock.js';
import { SipNetwork, advance, settle } from '../../support/sip-network.js';

const logger = pino({ level: 'silent' });
const stacks: SipStack[] = [];

afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
});

const SHORT = { sessionExpires: 2, minSE: 1 };

let network: SipNetwork;
let clock: FakeClock;
beforeEach(() => {
  network = new SipNetwork();
  clock = new FakeClock(Date.UTC(2026, 11, 1));
});

async function stack(opts: Partial<StackOptions> = {}): Promise<SipStack> {
  const s = new SipStack({ listen: [], transport: network.transport(), clock, logger, ...opts });
  await s.start();
  stacks.push(s);
  return s;
}

function uriOf(s: SipStack): string {
  const p = s.listening()[0]!;
  return `sip:bob@${p.host}:${p.port}`;
}

/** Requests of a method as they arrive on the wire at `s`. */
function sniff(s: SipStack, method: string): SipRequest[] {
  const seen: SipRequest[] = [];
  s.transport.onMessage((data) => {
    const parsed = parseMessage(data);
    if (parsed.ok && parsed.message instanceof SipRequest && parsed.message.method === method) seen.push(parsed.message);
  });
  return seen;
}

const SDP_A = 'v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
const SDP_B = 'v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n';

function request(headers: Record<string, string>): SipRequest {
  const req = new SipRequest('INVITE', 'sip:b@x');
  for (const [k, v] of Object.entries(headers)) req.add(k, v);
  return req;
}

describe('headers and the UAS choice (RFC 4028 §4, §5, §9)', () => {
  it('parses Session-Expires and Min-SE', () => {
    expect(parseSessionExpires('1800')).toEqual({ interval: 1800 });
    expect(parseSessionExpires('1800 ; refresher=UAS')).toEqual({ interval: 1800, refresher: 'uas' });
    expect(parseSessionExpires('90;refresher=other;x=1')).toEqual({ interval: 90 });
    expect(parseSessionExpires('0')).toBeUndefined();
    expect(parseSessionExpires('abc')).toBeUndefined();
    expect(parseSessionExpires(undefined)).toBeUndefined();
    expect(parseMinSE(' 90 ')).toBe(90);
    expect(parseMinSE('90;x')).toBe(90);
    expect(parseMinSE('-1')).toBeUndefined();
  });

  it('rejects short intervals, keeps the requested refresher, else picks uac only when the UAC supports timers', () => {
    const cfg = { sessionExpires: 1800, minSE: 90 };
    expect(negotiateAsUas(request({ 'session-expires': '60' }), cfg)).toEqual({ kind: 'reject', minSE: 90 });
    expect(negotiateAsUas(request({ 'session-expires': '600;refresher=uas', supported: 'timer' }), cfg)).toEqual({
      kind: 'accept',
      interval: 600,
      refresher: 'uas',
      requireTimer: true,
    });
    expect(negotiateAsUas(request({ 'session-expires': '600', supported: 'replaces, timer' }), cfg)).toMatchObject({ refresher: 'uac', requireTimer: true });
    expect(negotiateAsUas(request({ 'session-expires': '600' }), cfg)).toMatchObject({ refresher: 'uas', requireTimer: false });
    // A longer interval than ours is shortened, but never below the request's Min-SE.
    expect(negotiateAsUas(request({ 'session-expires': '7200', 'min-se': '3600' }), cfg)).toMatchObject({ interval: 3600 });
    expect(negotiateAsUas(request({ 'session-expires': '7200' }), cfg)).toMatchObject({ interval: 1800 });
    // No Session-Expires: inserted only for a UAC that can refresh (or to keep a running timer).
    expect(negotiateAsUas(request({ supported: 'timer' }), cfg)).toEqual({ kind: 'accept', interval: 1800, refresher: 'uac', requireTimer: true });
    expect(negotiateAsUas(request({}), cfg)).toBeUndefined();
    expect(negotiateAsUas(request({}), cfg, { interval: 300 })).toEqual({ kind: 'accept', interval: 300, refresher: 'uas', requireTimer: false });
  });

  it('refreshes at half the interval and gives up min(32 s, interval/3) before the end', () => {
    expect(refreshDelayMs(1800)).toBe(900_000);
    expect(expiryDelayMs(1800)).toBe(1_768_000);
    expect(expiryDelayMs(90)).toBe(60_000);
  });

  it('refuses a session timer configuration below its own minimum', () => {
    expect(() => new SipStack({ listen: [], logger, sessionTimer: { sessionExpires: 30, minSE: 90 } })).toThrow(RangeError);
  });
});

describe('session timers between two stacks', () => {
  it('answers a too-short Session-Expires with 422, and the UAC retries once with the larger Min-SE', async () => {
    const a = await stack({ sessionTimer: SHORT });
    const b = await stack({ sessionTimer: { sessionExpires: 4, minSE: 3 } });
    const offered = sniff(b, 'INVITE');
    let uas: Dialog | undefined;
    let seenByApp: SipRequest | undefined;
    b.use('INVITE', (req, res) => {
      seenByApp = req;
      uas = b.createUAS(req, res, { localSdp: SDP_B });
    });
    const uac = await a.createUAC({ uri: uriOf(b), localSdp: SDP_A });
    // Retransmissions aside (none happen on the fake clock, but count each CSeq once anyway): the first
    // INVITE asked for 2 s, the retry for 3 s.
    const firstOfEach = offered.filter((r, i) => offered.findIndex((o) => o.cseq?.seq === r.cseq?.seq) === i);
    expect(firstOfEach.map((r) => r.get('session-expires'))).toEqual(['2', '3']);
    expect(offered[0]!.getAll('supported')).toEqual(expect.arrayContaining(['100rel', 'timer']));
    // The application saw only the retry (CSeq 2), never the refused INVITE.
    expect(seenByApp?.cseq?.seq).toBe(2);
    expect(seenByApp?.get('min-se')).toBe('3');
    expect(uac.session).toEqual({ interval: 3, refresher: 'local' });
    expect(uas!.session).toEqual({ interval: 3, refresher: 'remote' });

    // An in-dialog refresh below the minimum is refused the same way.
    const refused = await uac.request({ method: 'UPDATE', headers: { 'session-expires': '1', supported: 'timer' } });
    expect(refused.status).toBe(422);
    expect(refused.get('min-se')).toBe('3');
    await uac.destroy();
  });

  it('the 2xx of a timer-capable UAS carries Session-Expires and Require: timer', async () => {
    const a = await stack({ sessionTimer: SHORT });
    const b = await stack({ sessionTimer: SHORT });
    const ok: string[] = [];
    a.transport.onMessage((data) => {
      const text = data.toString('utf8');
      if (text.startsWith('SIP/2.0 200') && text.includes('INVITE')) ok.push(text);
    });
    b.use('INVITE', (req, res) => b.createUAS(req, res, { localSdp: SDP_B }));
    const uac = await a.createUAC({ uri: uriOf(b), localSdp: SDP_A });
    expect(ok[0]).toMatch(/\r\nSession-Expires: 2;refresher=uac\r\n/i);
    expect(ok[0]).toMatch(/\r\nRequire: timer\r\n/i);
    await uac.destroy();
  });

  describe.each([
    ['uac', 'the caller'],
    ['uas', 'the callee'],
  ] as const)('refresher=%s (%s refreshes)', (refresher, _who) => {
    it('refreshes by re-INVITE at about half the interval and keeps the session past it', async () => {
      const a = await stack({ sessionTimer: SHORT });
      const b = await stack({ sessionTimer: SHORT });
      let uas: Dialog | undefined;
      b.use('INVITE', (req, res) => {
        uas = b.createUAS(req, res, { localSdp: SDP_B });
      });
      const reinvitesAtB = sniff(b, 'INVITE');
      const reinvitesAtA = sniff(a, 'INVITE');
      const started = clock.now();
      const uac = await a.createUAC({ uri: uriOf(b), localSdp: SDP_A, headers: { 'session-expires': `2;refresher=${refresher}` } });
      const refresherDialog = refresher === 'uac' ? uac : uas!;
      const otherDialog = refresher === 'uac' ? uas! : uac;
      expect(refresherDialog.session).toEqual({ interval: 2, refresher: 'local' });
      expect(otherDialog.session).toEqual({ interval: 2, refresher: 'remote' });

      const refreshedAt: number[] = [];
      refresherDialog.on('refresh', (by: RefreshBy) => by === 'local' && refreshedAt.push(clock.now() - started));
      let seenByOther: RefreshBy | undefined;
      otherDialog.on('refresh', (by) => (seenByOther ??= by));
      // Past the whole interval: one refresh at about half of it, both sides still up afterwards.
      await advance(network, clock, 2300);
      const at = refreshedAt[0];
      expect(at).toBeGreaterThan(700);
      expect(at).toBeLessThan(1600);
      expect(seenByOther).toBe('remote');

      // The refresh is a re-INVITE with the unchanged SDP that carries Session-Expires; its sender,
      // the UAC of that transaction, stays the refresher.
      const refreshes = (refresher === 'uac' ? reinvitesAtB : reinvitesAtA).filter((r) => r.toTag !== undefined);
      expect(refreshes.length).toBeGreaterThanOrEqual(1);
      expect(refreshes[0]!.get('session-expires')).toBe('2;refresher=uac');
      expect(refreshes[0]!.body.toString()).toBe(refresher === 'uac' ? SDP_A : SDP_B);

      expect(uac.state).toBe('confirmed');
      expect(uas!.state).toBe('confirmed');
      await uac.destroy();
    }, 10_000);
  });

  it('ends the dialog with a BYE carrying the Reason when the peer does not refresh', async () => {
    // `a` has session timers off but claims timer support, so it is chosen as refresher and never refreshes.
    const a = await stack();
    const b = await stack({ sessionTimer: SHORT });
    let uas: Dialog | undefined;
    b.use('INVITE', (req, res) => {
      uas = b.createUAS(req, res, { localSdp: SDP_B });
    });
    const started = clock.now();
    const uac = await a.createUAC({ uri: uriOf(b), localSdp: SDP_A, headers: { supported: 'timer', 'session-expires': '2' } });
    expect(uac.session).toBeUndefined();
    expect(uas!.session).toEqual({ interval: 2, refresher: 'remote' });
    let atA: [SipRequest | undefined, DestroyCause | undefined] | undefined;
    let atB: [SipRequest | undefined, DestroyCause | undefined] | undefined;
    let elapsed = 0;
    uac.on('destroy', (req, cause) => (atA = [req, cause]));
    uas!.on('destroy', (req, cause) => {
      atB = [req, cause];
      elapsed = clock.now() - started;
    });
    await advance(network, clock, 2500);
    // 2 s minus min(32, 2/3) s.
    expect(elapsed).toBeGreaterThan(1200);
    expect(elapsed).toBeLessThan(2000);
    expect(atB).toEqual([undefined, 'session-expired']);
    expect(atA?.[0]?.method).toBe('BYE');
    expect(atA?.[0]?.get('reason')).toBe(SESSION_EXPIRED_REASON);
    expect(atA?.[1]).toBe('bye');
    expect(a.dialogs.size).toBe(0);
    expect(b.dialogs.size).toBe(0);
  }, 10_000);

  it('runs no session timer when the stacks have none configured', async () => {
    const a = await stack();
    const b = await stack();
    const invites = sniff(b, 'INVITE');
    let uas: Dialog | undefined;
    b.use('INVITE', (req, res) => {
      uas = b.createUAS(req, res, { localSdp: SDP_B });
    });
    const uac = await a.createUAC({ uri: uriOf(b), localSdp: SDP_A });
    expect(invites[0]!.has('session-expires')).toBe(false);
    expect(invites[0]!.getAll('supported')).toEqual(['100rel']);
    expect(uac.session).toBeUndefined();
    expect(uas!.session).toBeUndefined();
    await uac.destroy();
  });
});

// Issue #14 (6): Session-Expires / Min-SE of 999999999 s overflowed Node's timer (2^31-1 ms), which then fired
// after 1 ms and ended the call at once. The fake clock runs delays the way Node does, overflow included.
describe('intervals too large for a timer (issue #14)', () => {
  const HUGE = '999999999';
  const CAPPED = { sessionExpires: 1800, minSE: 90, maxSessionExpires: 10_800 };

  it('a UAS lowers a huge Session-Expires and Min-SE to its maximum (RFC 4028 §9 lets it lower the interval)', () => {
    expect(negotiateAsUas(request({ 'session-expires': HUGE, 'min-se': HUGE, supported: 'timer' }), CAPPED)).toEqual({
      kind: 'accept',
      interval: 10_800,
      refresher: 'uac',
      requireTimer: true,
    });
    // Without a large Min-SE the interval comes down to our own, as before.
    expect(negotiateAsUas(request({ 'session-expires': `${HUGE};refresher=uas` }), CAPPED)).toMatchObject({ interval: 1800, refresher: 'uas' });
    expect(negotiateAsUas(request({ 'min-se': HUGE, supported: 'timer' }), CAPPED)).toMatchObject({ interval: 10_800 });
    // Without a configured maximum the stack's default applies.
    expect(negotiateAsUas(request({ 'session-expires': HUGE, 'min-se': HUGE }), { sessionExpires: 1800, minSE: 90 })).toMatchObject({ interval: DEFAULT_MAX_SESSION_EXPIRES });
  });

  it('a UAC lowers a huge interval in a 2xx and refreshes itself, since the peer would refresh too late', () => {
    const ok = (se: string): SipResponse => {
      const r = new SipResponse(200, 'OK');
      r.set('session-expires', se);
      return r;
    };
    expect(sessionTimerFromAnswer(ok(`${HUGE};refresher=uas`), 10_800)).toEqual({ interval: 10_800, refresher: 'uac' });
    expect(sessionTimerFromAnswer(ok(`${HUGE};refresher=uac`), 10_800)).toEqual({ interval: 10_800, refresher: 'uac' });
    expect(sessionTimerFromAnswer(ok('1800;refresher=uas'), 10_800)).toEqual({ interval: 1800, refresher: 'uas' });
  });

  it('refuses a session timer maximum below the interval it asks for', () => {
    expect(() => new SipStack({ listen: [], logger, sessionTimer: { sessionExpires: 1800, minSE: 90, maxSessionExpires: 900 } })).toThrow(RangeError);
  });

  it('keeps the dialogs of an INVITE, a re-INVITE and a 2xx asking for 999999999 s up, and expires them on time', async () => {
    // `a` is hibiki (timers on); `b` a peer asking for absurd intervals both ways.
    const a = await stack({ sessionTimer: CAPPED });
    const b = await stack();
    const responses: SipResponse[] = [];
    b.transport.onMessage((data) => {
      const parsed = parseMessage(data);
      if (parsed.ok && parsed.message instanceof SipResponse) responses.push(parsed.message);
    });
    let uas: Dialog | undefined;
    a.use('INVITE', (req, res) => {
      uas = a.createUAS(req, res, { localSdp: SDP_A });
    });
    // b calls a: Session-Expires and Min-SE 999999999, b to refresh.
    const inbound = await b.createUAC({ uri: uriOf(a), localSdp: SDP_B, headers: { supported: 'timer', 'session-expires': `${HUGE};refresher=uac`, 'min-se': HUGE } });
    expect(inbound.state).toBe('confirmed');
    expect(responses.find((r) => r.status === 200)?.get('session-expires')).toBe('10800;refresher=uac');
    expect(uas!.session).toEqual({ interval: 10_800, refresher: 'remote' });

    // a calls b, whose 2xx asks for 999999999 s with b refreshing.
    b.use('INVITE', (req, res) => {
      b.createUAS(req, res, { localSdp: SDP_B, headers: { 'session-expires': `${HUGE};refresher=uas`, require: 'timer' } });
    });
    const outbound = await a.createUAC({ uri: uriOf(b), localSdp: SDP_A });
    expect(outbound.session).toEqual({ interval: 10_800, refresher: 'local' });

    // A re-INVITE from b asking for 999999999 s again is answered with the maximum too.
    const reinvite = await inbound.request({
      method: 'INVITE',
      body: SDP_B,
      headers: { 'content-type': 'application/sdp', supported: 'timer', 'session-expires': `${HUGE};refresher=uac`, 'min-se': HUGE },
    });
    expect(reinvite.status).toBe(200);
    expect(reinvite.get('session-expires')).toBe('10800;refresher=uac');

    // Let the ACKs arrive before time moves (an unACKed 2xx would end its dialog).
    await settle(network);
    // An hour on: nothing has expired (before the fix, both timers fired after 1 ms).
    const refreshesAtB = sniff(b, 'INVITE');
    await advance(network, clock, 3_600_001);
    expect(uas!.state).toBe('confirmed');
    expect(outbound.state).toBe('confirmed');
    expect(refreshesAtB).toHaveLength(0);
    // At half the interval a refreshes its outgoing dialog itself, with the interval it runs.
    let refreshed: RefreshBy | undefined;
    outbound.on('refresh', (by) => (refreshed ??= by));
    await advance(network, clock, 5400_000 - 3_600_001);
    expect(refreshed).toBe('local');
    expect(refreshesAtB[0]?.get('session-expires')).toBe('10800;refresher=uac');
    expect(outbound.state).toBe('confirmed');
    // b never refreshes its call to a: after 10800 − 32 s a ends it as RFC 4028 §10 says.
    let ended: DestroyCause | undefined;
    uas!.on('destroy', (_req, cause) => (ended = cause));
    await advance(network, clock, (10_800 - 32) * 1000 - 5400_000);
    expect(ended).toBe('session-expired');
    await outbound.destroy();
  });
});
