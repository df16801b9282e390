// F-REG / F-AUTH / F-TRANSPORT details end to end with the raw test UA: SHA-256 digest, stale
// and replayed nonces, IP blocking, TLS, NAT keep-alive, maxContacts, third-party REGISTER,
// OPTIONS and binding queries.
import { afterEach, describe, expect, it } from 'vitest';
import { buildAuthorization } from '../../src/sip/digest.js';
import { SipRequest, type SipResponse } from '../../src/sip/message.js';
import { startHibiki, type RunningHibiki, type StartOptions } from '../support/hibiki.js';
import { authParam, challenges, RawUa, type RawTransport } from '../support/raw-ua.js';
import { createSelfSignedCert, removeCert, type TestCert } from '../support/tls-cert.js';

let hibiki: RunningHibiki | undefined;
let uas: RawUa[] = [];
let cert: TestCert | undefined;
const realDateNow = Date.now;

afterEach(async () => {
  await Promise.all(uas.map((u) => u.close()));
  uas = [];
  await hibiki?.stop();
  hibiki = undefined;
  Date.now = realDateNow;
  if (cert) await removeCert(cert);
  cert = undefined;
});

async function start(opts: StartOptions = {}): Promise<RunningHibiki> {
  hibiki = await startHibiki(opts);
  return hibiki;
}

async function ua(h: RunningHibiki, transport: RawTransport = 'udp'): Promise<RawUa> {
  const u = await RawUa.open({ transport, port: h.port(transport) });
  uas.push(u);
  return u;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitUntil(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = realDateNow() + timeoutMs;
  while (!predicate()) {
    if (realDateNow() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

/** The contacts a 200 to REGISTER lists, without their parameters. */
function listed(res: SipResponse): string[] {
  return res.getAll('contact').map((c) => /<([^>]*)>/.exec(c)?.[1] ?? c);
}

function security(h: RunningHibiki, kind: string): Array<Record<string, unknown>> {
  return h.logs.filter((l) => l.event === 'security' && l.kind === kind);
}

describe('digest algorithms', () => {
  it('registers with SHA-256 when it is the only algorithm offered', async () => {
    const h = await start({ config: { auth: { algorithms: ['SHA-256'] } } });
    const phone = await ua(h);
    const reg = await phone.register({ user: '2001', password: 'secret-2001' });
    expect(reg.challenge.status).toBe(401);
    const offered = challenges(reg.challenge);
    expect(offered).toHaveLength(1);
    expect(authParam(offered[0] ?? '', 'algorithm')).toBe('SHA-256');
    expect(authParam(offered[0] ?? '', 'qop')).toBe('auth');
    expect(authParam(reg.authorization ?? '', 'algorithm')).toBe('SHA-256');
    expect(reg.final.status).toBe(200);
    expect(h.server.registrar.contacts('2001').map((c) => c.binding.contact)).toEqual([phone.contactUri('2001')]);
  });

  it('offers MD5 and SHA-256 together and accepts the SHA-256 answer', async () => {
    // Two challenges in one 401, MD5 first (the order of auth.algorithms): the UA picks SHA-256.
    const h = await start({ config: { auth: { algorithms: ['MD5', 'SHA-256'] } } });
    const phone = await ua(h);
    const reg = await phone.register({ user: '2002', password: 'secret-2002', algorithm: 'SHA-256' });
    const offered = challenges(reg.challenge);
    expect(offered.map((c) => authParam(c, 'algorithm')).sort()).toEqual(['MD5', 'SHA-256']);
    // One nonce for both challenges (RFC 8760 §2.4): whichever the UA answers, it is the same.
    expect(new Set(offered.map((c) => authParam(c, 'nonce'))).size).toBe(1);
    expect(authParam(reg.authorization ?? '', 'algorithm')).toBe('SHA-256');
    expect(reg.final.status).toBe(200);
    expect(h.server.registrar.contacts('2002')).toHaveLength(1);
  });

  it('refuses an answer for an algorithm it did not offer', async () => {
    const h = await start({ config: { auth: { algorithms: ['SHA-256'] } } });
    const phone = await ua(h);
    const first = await phone.register({ user: '2001' });
    // An MD5 answer to the SHA-256 nonce: not credentials hibiki can check, so a fresh challenge.
    const md5Challenge = (challenges(first.challenge)[0] ?? '').replace('algorithm=SHA-256', 'algorithm=MD5');
    const authorization = buildAuthorization(md5Challenge, { username: '2001', password: 'secret-2001' }, 'REGISTER', 'sip:hibiki.test');
    const res = await phone.request(
      phone.buildRequest({ method: 'REGISTER', uri: 'sip:hibiki.test', to: '<sip:2001@hibiki.test>', user: '2001', callId: first.callId, headers: [`Authorization: ${authorization}`] }),
    );
    expect(res.status).toBe(401);
    expect(h.server.registrar.contacts('2001')).toHaveLength(0);
  });
});

describe('nonces', () => {
  it('rechallenges with stale=true when a correct answer uses an expired nonce', async () => {
    // hibiki's clocks are read through Date.now (taken when the server is built), so moving it
    // forward ages the nonce without waiting out auth.nonceExpires.
    let offset = 0;
    Date.now = () => realDateNow() + offset;
    const h = await start({ config: { auth: { nonceExpires: 10 } } });
    const phone = await ua(h);
    const first = await phone.register({ user: '2001' });
    expect(first.challenge.status).toBe(401);
    const authorization = buildAuthorization(challenges(first.challenge, 'MD5')[0] ?? '', { username: '2001', password: 'secret-2001' }, 'REGISTER', 'sip:hibiki.test');
    offset = 11_000;
    const stale = await phone.request(
      phone.buildRequest({ method: 'REGISTER', uri: 'sip:hibiki.test', to: '<sip:2001@hibiki.test>', user: '2001', callId: first.callId, headers: [`Authorization: ${authorization}`] }),
    );
    expect(stale.status).toBe(401);
    const renewed = challenges(stale);
    expect(renewed.length).toBeGreaterThan(0);
    expect(renewed.every((c) => authParam(c, 'stale')?.toLowerCase() === 'true')).toBe(true);
    expect(authParam(renewed[0] ?? '', 'nonce')).not.toBe(authParam(challenges(first.challenge)[0] ?? '', 'nonce'));
    expect(h.server.registrar.contacts('2001')).toHaveLength(0);
    // A stale nonce is not a failed attempt: no security event, no lockout progress.
    expect(security(h, 'bad-password')).toEqual([]);

    // The fresh nonce works.
    const again = buildAuthorization(challenges(stale, 'MD5')[0] ?? '', { username: '2001', password: 'secret-2001' }, 'REGISTER', 'sip:hibiki.test');
    const ok = await phone.request(
      phone.buildRequest({ method: 'REGISTER', uri: 'sip:hibiki.test', to: '<sip:2001@hibiki.test>', user: '2001', callId: first.callId, headers: [`Authorization: ${again}`] }),
    );
    expect(ok.status).toBe(200);
    expect(h.server.registrar.contacts('2001')).toHaveLength(1);
  });

  it('treats a nonce from a previous server instance as unknown: a plain rechallenge', async () => {
    const before = await start();
    const oldPhone = await ua(before);
    const first = await oldPhone.register({ user: '2001' });
    const oldChallenge = challenges(first.challenge, 'MD5')[0] ?? '';
    await before.stop();
    const h = await start({ dataDir: before.dataDir });
    const phone = await ua(h);
    const authorization = buildAuthorization(oldChallenge, { username: '2001', password: 'secret-2001' }, 'REGISTER', 'sip:hibiki.test');
    const res = await phone.request(phone.buildRequest({ method: 'REGISTER', uri: 'sip:hibiki.test', to: '<sip:2001@hibiki.test>', user: '2001', headers: [`Authorization: ${authorization}`] }));
    expect(res.status).toBe(401);
    expect(challenges(res).every((c) => authParam(c, 'stale') === undefined)).toBe(true);
    expect(h.server.registrar.contacts('2001')).toHaveLength(0);
  });

  it('rechallenges a replayed nc and does not register the replay', async () => {
    const h = await start();
    const phone = await ua(h);
    const reg = await phone.register({ user: '2003', password: 'secret-2003' });
    expect(reg.final.status).toBe(200);
    const authorization = reg.authorization ?? '';
    expect(authParam(authorization, 'nc')).toBe('00000001');

    // The same credentials (nonce, nc=1) on a new request that would add another contact.
    const replay = await phone.request(
      phone.buildRequest({
        method: 'REGISTER',
        uri: 'sip:hibiki.test',
        to: '<sip:2003@hibiki.test>',
        callId: reg.callId,
        contact: '<sip:2003@127.0.0.1:9999>',
        headers: [`Authorization: ${authorization}`],
      }),
    );
    expect(replay.status).toBe(401);
    expect(challenges(replay).every((c) => authParam(c, 'stale') === undefined)).toBe(true);
    expect(h.server.registrar.contacts('2003').map((c) => c.binding.contact)).toEqual([phone.contactUri('2003')]);
    expect(security(h, 'nonce-replay').some((e) => e.user === '2003')).toBe(true);

    // The next count on the same nonce is fine (RFC 7616 §3.4: nc increases per request).
    const challenge = challenges(reg.challenge).find((c) => authParam(c, 'algorithm') === authParam(authorization, 'algorithm')) ?? '';
    const next = buildAuthorization(challenge, { username: '2003', password: 'secret-2003' }, 'REGISTER', 'sip:hibiki.test', 2);
    const ok = await phone.request(
      phone.buildRequest({
        method: 'REGISTER',
        uri: 'sip:hibiki.test',
        to: '<sip:2003@hibiki.test>',
        callId: reg.callId,
        contact: '<sip:2003@127.0.0.1:9999>',
        headers: [`Authorization: ${next}`],
      }),
    );
    expect(ok.status).toBe(200);
    expect(h.server.registrar.contacts('2003')).toHaveLength(2);
  });
});

describe('brute-force protection', () => {
  it('blocks a source IP after failures with different usernames, even for a good user', async () => {
    const h = await start({
      config: { auth: { ipFailures: 5, lockoutAttempts: 0 } },
      extensions: [
        { number: '2001', password: 'secret-2001' },
        { number: '2002', password: 'secret-2002' },
        { number: '2003', password: 'secret-2003' },
      ],
    });
    const attacker = await ua(h);
    const users = ['2001', '2003', '3001', '3002', '2001'];
    const statuses: number[] = [];
    for (const user of users) {
      const attempt = await attacker.register({ user, password: 'guess-123456' });
      statuses.push(attempt.final.status);
    }
    // Four failures are rechallenged; the fifth from this address blocks it.
    expect(statuses).toEqual([401, 401, 401, 401, 403]);
    expect(h.server.guard.isIpBlocked('127.0.0.1')).toBe(true);
    // lockoutAttempts 0: usernames themselves are never locked.
    expect(h.server.guard.isUserLocked('2001', '127.0.0.1')).toBe(false);

    // A good user from the same address, on another socket: 403 at once, no challenge.
    const phone = await ua(h);
    const good = await phone.register({ user: '2002', password: 'secret-2002' });
    expect(good.challenge.status).toBe(403);
    expect(good.challenge.has('www-authenticate')).toBe(false);
    expect(h.server.registrar.contacts('2002')).toHaveLength(0);
    expect(security(h, 'ip-blocked').length).toBeGreaterThan(0);
  });
});

describe('transports and NAT', () => {
  it('registers over TLS and keeps the connection as the way to the device', async () => {
    cert = await createSelfSignedCert();
    const h = await start({ transports: [{ transport: 'udp' }, { transport: 'tls', cert: cert.certPath, key: cert.keyPath }] });
    const phone = await ua(h, 'tls');
    const reg = await phone.register({ user: '2001', password: 'secret-2001' });
    expect(reg.final.status).toBe(200);
    expect(listed(reg.final)).toEqual([phone.contactUri('2001')]);
    const [c] = h.server.registrar.contacts('2001');
    expect(c?.binding.contact).toContain('transport=tls');
    expect(c?.target.transport).toBe('tls');
    expect(c?.target.port).toBe(phone.localPort);
    expect(c?.target.connectionId && h.server.stack.transport.hasConnection(c.target.connectionId)).toBe(true);

    // hibiki reaches the device over that connection.
    const res = await h.server.stack.request({ method: 'OPTIONS', uri: c?.binding.contact ?? '', target: c?.target });
    expect(res.status).toBe(200);
    expect(phone.requests('OPTIONS')).toHaveLength(1);
  });

  it('qualifies a NATed contact at its source address and marks it unreachable after missed replies', async () => {
    const h = await start({
      config: { registrar: { qualifyInterval: 1, qualifyMaxMissed: 2 }, sip: { t1: 20 } },
    });
    const phone = await ua(h);
    // A private address that is not on this machine: only the source address reaches the phone.
    const reg = await phone.register({ user: '2001', password: 'secret-2001', contact: '<sip:2001@10.9.9.9:5060>' });
    expect(reg.final.status).toBe(200);
    const [c] = h.server.registrar.contacts('2001');
    expect(c?.binding.contact).toBe('sip:2001@10.9.9.9:5060');
    expect(c?.target).toMatchObject({ transport: 'udp', address: '127.0.0.1', port: phone.localPort });

    const probe = await phone.waitFor((m) => m instanceof SipRequest && m.method === 'OPTIONS', 4000);
    expect(probe).toBeInstanceOf(SipRequest);
    expect((probe as SipRequest).uri).toBe('sip:2001@10.9.9.9:5060');
    expect(h.server.registrar.contacts('2001')[0]?.binding.reachable).toBe(true);

    // The phone goes quiet: after qualifyMaxMissed unanswered probes (Timer F = 64*T1 each).
    phone.optionsAnswer = null;
    await waitUntil('the contact is unreachable', () => h.server.registrar.contacts('2001')[0]?.binding.reachable === false, 12_000);
    expect(h.server.registrar.contacts('2001')[0]?.binding.missedQualify).toBeGreaterThanOrEqual(2);
    expect(h.logs.some((l) => l.msg === 'contact unreachable' && l.aor === '2001')).toBe(true);

    // It answers again: reachable at the next probe, and the binding was never dropped.
    phone.optionsAnswer = 200;
    await waitUntil('the contact is reachable again', () => h.server.registrar.contacts('2001')[0]?.binding.reachable === true, 6000);
    expect(h.server.registrar.contacts('2001')).toHaveLength(1);
  });
});

describe('registrar rules', () => {
  it('replaces the oldest registration beyond maxContacts', async () => {
    const h = await start({ extensions: [{ number: '2001', password: 'secret-2001', maxContacts: 2 }] });
    const phones = [await ua(h), await ua(h), await ua(h)];
    let last: SipResponse | undefined;
    for (const p of phones) {
      last = (await p.register({ user: '2001', password: 'secret-2001' })).final;
      expect(last.status).toBe(200);
      await sleep(5);
    }
    const [first, second, third] = phones.map((p) => p.contactUri('2001'));
    const bound = h.server.registrar.contacts('2001').map((c) => c.binding.contact);
    expect(bound.sort()).toEqual([second, third].sort());
    expect(bound).not.toContain(first);
    expect(listed(last as SipResponse).sort()).toEqual([second, third].sort());
    expect(h.logs.some((l) => l.msg === 'oldest registration replaced (maxContacts)' && l.contact === first)).toBe(true);
  });

  it('refuses a third-party registration with 403', async () => {
    const h = await start();
    const phone = await ua(h);
    const reg = await phone.register({ user: '2002', authUser: '2001', password: 'secret-2001' });
    expect(reg.challenge.status).toBe(401);
    expect(reg.final.status).toBe(403);
    expect(h.server.registrar.contacts('2002')).toHaveLength(0);
    expect(h.server.registrar.contacts('2001')).toHaveLength(0);
    expect(security(h, 'third-party-register').some((e) => e.user === '2001' && e.aor === '2002')).toBe(true);
  });

  it('answers OPTIONS with Allow, Accept and Supported', async () => {
    const h = await start();
    const phone = await ua(h);
    const res = await phone.request(phone.buildRequest({ method: 'OPTIONS', uri: `sip:127.0.0.1:${h.port('udp')}` }));
    expect(res.status).toBe(200);
    const allow = res.getAll('allow').map((m) => m.trim());
    expect(allow).toEqual(expect.arrayContaining(['OPTIONS', 'REGISTER', 'ACK', 'CANCEL', 'BYE']));
    expect(res.getAll('accept')).toContain('application/sdp');
    expect(res.has('supported')).toBe(true);
    expect(res.toTag).toBeDefined();
  });

  it('lists the current bindings for a REGISTER without Contact', async () => {
    const h = await start();
    const phone = await ua(h);
    expect((await phone.register({ user: '2003', password: 'secret-2003', expires: 600 })).final.status).toBe(200);
    const query = await phone.register({ user: '2003', password: 'secret-2003', contact: null });
    expect(query.final.status).toBe(200);
    expect(listed(query.final)).toEqual([phone.contactUri('2003')]);
    const expires = Number(/;expires=(\d+)/.exec(query.final.get('contact') ?? '')?.[1]);
    expect(expires).toBeGreaterThan(590);
    expect(expires).toBeLessThanOrEqual(600);
    expect(h.server.registrar.contacts('2003')).toHaveLength(1);
  });
});
