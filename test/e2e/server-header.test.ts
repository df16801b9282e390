// Fingerprinting (issue #14): every Server and User-Agent header hibiki sends carries sip.userAgent —
// default "hibiki", without a version — on each path that emits one: stateful and stateless responses,
// the answer to a CANCEL, and the requests hibiki originates (trunk REGISTER, qualify OPTIONS, the B2BUA's
// INVITE and BYE). An empty sip.userAgent leaves both headers out everywhere.
import { afterEach, describe, expect, it } from 'vitest';
import { DigestServer } from '../../src/sip/digest.js';
import { SipRequest, SipResponse } from '../../src/sip/message.js';
import { dirname } from 'node:path';
import { startHibiki, writeConfig, type RunningHibiki } from '../support/hibiki.js';
import { RawUa } from '../support/raw-ua.js';
import { TestUA, type SipMessage } from '../support/test-ua.js';

const CARRIER_HOST = '127.0.0.2';
let hibiki: RunningHibiki | undefined;
const uas: TestUA[] = [];
const raws: RawUa[] = [];

afterEach(async () => {
  await Promise.all(uas.splice(0).map((u) => u.close()));
  await Promise.all(raws.splice(0).map((u) => u.close()));
  await hibiki?.stop();
  hibiki = undefined;
});

async function until(what: string, check: () => boolean, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const isRequest = (m: SipMessage, method: string): m is SipRequest => m instanceof SipRequest && m.method === method;

/**
 * Runs every path that emits Server or User-Agent against a hibiki started with `sip` settings, and returns
 * what hibiki sent, by path, plus every message it sent.
 */
async function exercise(sip: Record<string, unknown>): Promise<{ paths: Record<string, SipMessage>; all: SipMessage[] }> {
  // A carrier registrar for the trunk REGISTER (challenged, as carriers do).
  const carrier = await TestUA.create({ user: 'carrier', host: CARRIER_HOST, domain: 'carrier.test' });
  uas.push(carrier);
  const digest = new DigestServer({ realm: 'carrier.test', algorithms: ['MD5'], nonceTtlSec: 300 });
  carrier.stack.use('REGISTER', (req, res) => {
    const auth = req.get('authorization');
    const ok = auth !== undefined && digest.verify(auth, 'REGISTER', req.uri, () => ({ password: 'pw' })).result === 'ok';
    if (ok) res.send(200, undefined, { headers: { contact: `${req.get('contact')};expires=120` } });
    else res.send(401, undefined, { headers: { 'www-authenticate': digest.challenge() } });
  });
  const h = (hibiki = await startHibiki({
    config: {
      sip,
      registrar: { qualifyInterval: 1 },
      trunks: [{ name: 'carrier', host: CARRIER_HOST, port: carrier.address.port, register: true, username: 'acct', password: 'pw', domain: 'carrier.test', expires: 120 }],
    },
  }));
  await until('the trunk registered', () => h.server.trunks.state('carrier') === 'registered');

  // Stateful responses (401, 200 to REGISTER) and the qualify OPTIONS to a registered device.
  const raw = await RawUa.open({ port: h.port('udp') });
  raws.push(raw);
  const reg = await raw.register({ user: '2003', password: 'secret-2003' });
  expect(reg.final.status).toBe(200);
  await until('a qualify OPTIONS arrived', () => raw.requests('OPTIONS').length > 0);

  // A stateless answer: the parser refuses a CSeq whose method is not the request's.
  const broken = raw.buildRequest({ method: 'OPTIONS', uri: 'sip:hibiki.test', callId: 'stateless-1' }).replace(/CSeq: (\d+) OPTIONS/, 'CSeq: $1 INVITE');
  await raw.send(broken);
  const stateless = await raw.waitFor((m) => m instanceof SipResponse && m.callId === 'stateless-1');
  expect(stateless instanceof SipResponse && stateless.status).toBe(400);

  // The B2BUA: hibiki's INVITE to the callee, its responses to the caller, its BYE; then a CANCEL.
  const alice = await TestUA.create({ user: '2001', password: 'secret-2001', server: { host: '127.0.0.1', port: h.port('udp') }, domain: 'hibiki.test' });
  const bob = await TestUA.create({ user: '2002', password: 'secret-2002', server: { host: '127.0.0.1', port: h.port('udp') }, domain: 'hibiki.test' });
  uas.push(alice, bob);
  await alice.register();
  await bob.register();
  const outgoing = await alice.dial('2002');
  const incoming = await bob.waitForCall();
  incoming.ring();
  const bobCall = await incoming.answer();
  const aliceCall = await outgoing.answered;
  await aliceCall.hangup();
  await bobCall.waitForEnd();

  const second = await alice.dial('2002');
  const ringing = await bob.waitForCall();
  ringing.ring();
  await second.waitForProvisional(180);
  second.cancel();
  await ringing.waitForCancel();
  await until('the CANCEL was answered', () => alice.messages.some((m) => m instanceof SipResponse && m.cseq?.method === 'CANCEL'));
  await second.answered.catch(() => undefined);

  const find = <T extends SipMessage>(list: SipMessage[], match: (m: SipMessage) => m is T, what: string): T => {
    const found = list.find(match);
    if (!found) throw new Error(`no ${what}`);
    return found;
  };
  const response =
    (status: number, method: string) =>
    (m: SipMessage): m is SipResponse =>
      m instanceof SipResponse && m.status === status && m.cseq?.method === method;
  const paths: Record<string, SipMessage> = {
    'stateful 401': reg.challenge,
    'stateful 200 to REGISTER': reg.final,
    'stateless 400': stateless as SipResponse,
    'trunk REGISTER': find(carrier.messages, (m): m is SipRequest => isRequest(m, 'REGISTER'), 'trunk REGISTER'),
    'qualify OPTIONS': find(raw.messages, (m): m is SipRequest => isRequest(m, 'OPTIONS'), 'qualify OPTIONS'),
    'B2BUA INVITE': incoming.request,
    '180 to the caller': find(alice.messages, response(180, 'INVITE'), '180'),
    '200 to the caller': find(alice.messages, response(200, 'INVITE'), '200 to INVITE'),
    'B2BUA BYE': find(bob.messages, (m): m is SipRequest => isRequest(m, 'BYE'), 'BYE'),
    '200 to CANCEL': find(alice.messages, response(200, 'CANCEL'), '200 to CANCEL'),
  };
  const all = [...carrier.messages, ...raw.messages, ...alice.messages, ...bob.messages];
  return { paths, all };
}

/** The header that names the sender: Server on a response, User-Agent on a request. */
function product(m: SipMessage): string | undefined {
  return m instanceof SipResponse ? m.get('server') : m.get('user-agent');
}

describe('Server and User-Agent', () => {
  it('are "hibiki" by default on every path, with no version anywhere', async () => {
    const { paths, all } = await exercise({});
    for (const [path, m] of Object.entries(paths)) expect(product(m), path).toBe('hibiki');
    for (const m of all) expect([undefined, 'hibiki']).toContain(product(m));
  });

  it('carry the configured sip.userAgent', async () => {
    const { paths, all } = await exercise({ userAgent: 'Acme PBX' });
    for (const [path, m] of Object.entries(paths)) expect(product(m), path).toBe('Acme PBX');
    for (const m of all) expect([undefined, 'Acme PBX']).toContain(product(m));
  });

  it('are left out everywhere when sip.userAgent is empty', async () => {
    const { all } = await exercise({ userAgent: '' });
    expect(all.length).toBeGreaterThan(10);
    for (const m of all) {
      expect(m.get('server'), `${m instanceof SipRequest ? m.method : m.status}`).toBeUndefined();
      expect(m.get('user-agent'), `${m instanceof SipRequest ? m.method : m.status}`).toBeUndefined();
    }
  });

  it('follow a reload of sip.userAgent', async () => {
    const h = (hibiki = await startHibiki());
    const raw = await RawUa.open({ port: h.port('udp') });
    raws.push(raw);
    const options = () => raw.request(raw.buildRequest({ method: 'OPTIONS', uri: 'sip:hibiki.test' }));
    expect((await options()).get('server')).toBe('hibiki');
    writeConfig(dirname(h.configPath), { config: { sip: { userAgent: 'PBX' } } }, h.dataDir);
    expect(h.server.reload('test')).toBe(true);
    expect((await options()).get('server')).toBe('PBX');
  });
});
