// F-TRUNK / F-CLIR end to end: hibiki registers to a carrier with digest auth, sends outbound calls
// through it by route prefix with digit manipulation and the presented number, limits channels, and
// routes inbound DIDs to extensions. The carrier is a test UA on 127.0.0.2 (phones are on 127.0.0.1,
// so IP authentication of the trunk cannot catch them).
import { afterEach, describe, expect, it } from 'vitest';
import { startHibiki, type RunningHibiki } from '../support/hibiki.js';
import { TestUA, CallFailedError } from '../support/test-ua.js';
import { DigestServer } from '../../src/sip/digest.js';
import type { SipRequest } from '../../src/sip/message.js';

const CARRIER_HOST = '127.0.0.2';
let hibiki: RunningHibiki | undefined;
const uas: TestUA[] = [];

afterEach(async () => {
  await Promise.all(uas.splice(0).map((u) => u.close()));
  await hibiki?.stop();
  hibiki = undefined;
});

/** A carrier: a registrar for hibiki's account (digest-protected) and a UA that answers calls. */
async function carrier(granted = '120'): Promise<{ ua: TestUA; registers: SipRequest[] }> {
  const ua = await TestUA.create({ user: 'carrier', host: CARRIER_HOST, domain: 'carrier.test' });
  uas.push(ua);
  const digest = new DigestServer({ realm: 'carrier.test', algorithms: ['MD5'], nonceTtlSec: 300 });
  const registers: SipRequest[] = [];
  ua.stack.use('REGISTER', (req, res) => {
    registers.push(req);
    const auth = req.get('authorization');
    const verdict = auth ? digest.verify(auth, 'REGISTER', req.uri, (u) => (u === 'acct-77' ? { password: 'carrier-pw' } : undefined)) : undefined;
    if (!verdict || verdict.result !== 'ok') {
      res.send(401, undefined, { headers: { 'www-authenticate': digest.challenge() } });
      return;
    }
    res.send(200, undefined, { headers: { contact: `${req.get('contact')};expires=${granted}` } });
  });
  return { ua, registers };
}

async function phone(h: RunningHibiki, user: string): Promise<TestUA> {
  const p = await TestUA.create({ user, password: `secret-${user}`, server: { host: '127.0.0.1', port: h.port('udp') }, domain: 'hibiki.test' });
  uas.push(p);
  await p.register();
  return p;
}

function trunkConfig(carrierPort: number, extra: Record<string, unknown> = {}) {
  return {
    trunks: [
      {
        name: 'carrier',
        host: CARRIER_HOST,
        port: carrierPort,
        register: true,
        username: 'acct-77',
        password: 'carrier-pw',
        domain: 'carrier.test',
        expires: 120,
        callerId: '0311112222',
        ...extra,
      },
    ],
    routes: [{ name: 'domestic', prefix: '0', minLength: 10, maxLength: 11, trunk: 'carrier', strip: 1, prepend: '+81' }],
    inbound: [{ did: '0399998888', destination: '2002' }],
  };
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('trunks', () => {
  it('registers to the carrier with digest auth and places an outbound call through it', async () => {
    const c = await carrier();
    const h = (hibiki = await startHibiki({ config: trunkConfig(c.ua.address.port) }));
    await until(() => h.server.trunks.state('carrier') === 'registered');
    expect(c.registers.length).toBe(2);
    expect(c.registers[1]?.get('authorization')).toMatch(/username="acct-77"/);
    expect(c.registers[1]?.get('to')).toContain('sip:acct-77@carrier.test');

    const alice = await phone(h, '2001');
    const ringing = c.ua.waitForCall();
    const outgoing = await alice.dial('0312345678');
    const incoming = await ringing;
    // strip 1 + prepend +81, presented number from the trunk, From in the carrier's domain.
    expect(incoming.request.uri).toMatch(/^sip:\+81312345678@127\.0\.0\.2:\d+$/);
    expect(incoming.from).toContain('<sip:0311112222@carrier.test>');
    const carrierCall = await incoming.answer();
    const aliceCall = await outgoing.answered;

    aliceCall.rtp.startTone({ seed: 31 });
    carrierCall.rtp.startTone({ seed: 32 });
    const atCarrier = await carrierCall.rtp.waitForPackets(25, 5000);
    const atAlice = await aliceCall.rtp.waitForPackets(25, 5000);
    aliceCall.rtp.stopTone();
    carrierCall.rtp.stopTone();
    expect(atCarrier.tone.seeds).toEqual(new Set([31]));
    expect(atAlice.tone.seeds).toEqual(new Set([32]));

    await carrierCall.hangup();
    await aliceCall.waitForEnd();
    await until(() => h.server.cdr.query({}).length === 1);
    expect(h.server.cdr.query({})[0]).toMatchObject({ direction: 'outbound', trunk: 'carrier', disposition: 'answered', dialedNumber: '0312345678', calleeNumber: '+81312345678', q850Cause: 16 });
  });

  it('takes a granted Expires larger than it asked for as what it asked for (issue #14: 999999999 s re-registered every millisecond)', async () => {
    const c = await carrier('999999999');
    const h = (hibiki = await startHibiki({ config: trunkConfig(c.ua.address.port) }));
    await until(() => h.server.trunks.state('carrier') === 'registered');
    const registered = h.logs.find((l) => l.msg === 'trunk registered');
    expect(registered).toMatchObject({ trunk: 'carrier', expires: 120 });
    // A phone registering is a few round trips: time enough for a refresh timer gone wrong to fire many times.
    await phone(h, '2001');
    expect(c.registers.length).toBe(2);
    expect(h.logs.some((l) => l.msg === 'carrier granted more than requested: using the requested interval')).toBe(true);
  });

  it('withholds the caller with 184 (anonymous From, Privacy: id, identity asserted to the trunk) and presents with 186', async () => {
    const c = await carrier();
    const h = (hibiki = await startHibiki({ config: trunkConfig(c.ua.address.port) }));
    const alice = await phone(h, '2001');

    const ringing = c.ua.waitForCall();
    const attempt = alice.call('1840312345678');
    const incoming = await ringing;
    expect(incoming.from).toContain('sip:anonymous@anonymous.invalid');
    expect(incoming.request.get('privacy')).toBe('id');
    expect(incoming.request.get('p-asserted-identity')).toContain('0311112222');
    expect(incoming.request.uri).toContain('+81312345678');
    incoming.reject(603);
    await attempt.catch(() => undefined);

    const ringing2 = c.ua.waitForCall();
    const attempt2 = alice.call('1860312345678');
    const incoming2 = await ringing2;
    expect(incoming2.from).toContain('0311112222');
    expect(incoming2.request.get('privacy')).toBeUndefined();
    incoming2.reject(486);
    await attempt2.catch(() => undefined);
  });

  it('refuses calls over the channel limit with 503 / cause 34', async () => {
    const c = await carrier();
    const h = (hibiki = await startHibiki({ config: trunkConfig(c.ua.address.port, { channels: 1, register: false, username: undefined, password: undefined }) }));
    const alice = await phone(h, '2001');
    const bob = await phone(h, '2002');
    const ringing = c.ua.waitForCall();
    const first = await alice.dial('0312345678');
    const carrierCall = await (await ringing).answer();
    await first.answered;
    const err = await bob.call('0398765432').then(
      () => undefined,
      (e: unknown) => e as CallFailedError,
    );
    expect(err).toBeInstanceOf(CallFailedError);
    expect(err?.status).toBe(503);
    expect(err?.response?.get('reason')).toMatch(/cause=34/);
    await until(() => h.server.cdr.query({}).some((r) => r.q850Cause === 34));
    expect(h.server.cdr.query({}).find((r) => r.q850Cause === 34)).toMatchObject({ direction: 'outbound', trunk: 'carrier', disposition: 'failed', sipStatus: 503 });
    await carrierCall.hangup();
  });

  it('a call to a queue refused for the channel limit is not counted by the queue and leaves no CDR (F-QUEUE)', async () => {
    const c = await carrier();
    const config = { ...trunkConfig(c.ua.address.port, { channels: 1, register: false, username: undefined, password: undefined }), inbound: [{ did: '0399998888', destination: '6000' }] };
    const h = (hibiki = await startHibiki({ config: { ...config, queues: [{ number: '6000', name: 'Support', members: ['2002'], periodicAnnouncementInterval: 0 }] } }));
    const target = { host: '127.0.0.1', port: h.port('udp'), transport: 'udp' as const };
    // The queue answers the first caller at once (no agent is registered): the trunk's only channel is in use.
    const first = await c.ua.call('0399998888', { target, from: '<sip:0455556666@carrier.test>' });
    const err = await c.ua.call('0399998888', { target, from: '<sip:0455557777@carrier.test>' }).then(
      () => undefined,
      (e: unknown) => e as CallFailedError,
    );
    expect(err).toBeInstanceOf(CallFailedError);
    expect(err?.status).toBe(503);
    expect(err?.response?.get('reason')).toMatch(/cause=34/);
    await first.hangup();
    await until(() => h.server.cdr.query({}).length === 1);
    expect(h.server.cdr.query({})[0]).toMatchObject({ callerNumber: '0455556666', queue: '6000' });
    await until(() => h.server.queues.events.between(0, Date.now() + 1).some((e) => e.event === 'ABANDON'));
    expect(h.server.queues.events.between(0, Date.now() + 1).filter((e) => e.event === 'ENTER')).toHaveLength(1);
  });

  it('routes an inbound DID from the trunk to its extension', async () => {
    const c = await carrier();
    const h = (hibiki = await startHibiki({ config: trunkConfig(c.ua.address.port, { register: false, username: undefined, password: undefined }) }));
    const bob = await phone(h, '2002');
    const ringing = bob.waitForCall();
    const outgoing = await c.ua.dial('0399998888', { target: { host: '127.0.0.1', port: h.port('udp'), transport: 'udp' }, from: '"Caller" <sip:0455556666@carrier.test>' });
    const incoming = await ringing;
    expect(incoming.from).toContain('0455556666');
    const bobCall = await incoming.answer();
    const carrierCall = await outgoing.answered;
    carrierCall.rtp.startTone({ seed: 41 });
    const got = await bobCall.rtp.waitForPackets(20, 5000);
    carrierCall.rtp.stopTone();
    expect(got.tone.seeds).toEqual(new Set([41]));
    await carrierCall.hangup();
    await bobCall.waitForEnd();
    await until(() => h.server.cdr.query({}).length === 1);
    expect(h.server.cdr.query({})[0]).toMatchObject({ direction: 'inbound', trunk: 'carrier', callerNumber: '0455556666', dialedNumber: '0399998888', calleeNumber: '2002' });

    // An unknown DID is refused with 404.
    const err = await c.ua.call('0300000000', { target: { host: '127.0.0.1', port: h.port('udp'), transport: 'udp' } }).then(
      () => undefined,
      (e: unknown) => e as CallFailedError,
    );
    expect(err?.status).toBe(404);
  });
});
