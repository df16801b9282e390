// The test UA against the real server: it registers over UDP and TCP with digest auth (here with a
// SHA-256 + MD5 double challenge), hibiki keeps a binding per UA and reaches each UA on its flow.
// Call tests through hibiki (issue #3) build on this file's setup.
import { afterEach, describe, expect, it } from 'vitest';
import { startHibiki, type RunningHibiki } from '../support/hibiki.js';
import { TestUA, SipStatusError } from '../support/test-ua.js';
import { SipRequest, SipResponse } from '../../src/sip/message.js';

let hibiki: RunningHibiki | undefined;
const uas: TestUA[] = [];

afterEach(async () => {
  await Promise.all(uas.splice(0).map((ua) => ua.close()));
  await hibiki?.stop();
  hibiki = undefined;
});

async function ua(h: RunningHibiki, user: string, transport: 'udp' | 'tcp', password = `secret-${user}`): Promise<TestUA> {
  const u = await TestUA.create({ user, password, transport, server: { host: '127.0.0.1', port: h.port(transport) }, domain: 'hibiki.test' });
  uas.push(u);
  return u;
}

describe('test UA with hibiki', () => {
  it('registers alice over UDP and bob over TCP; both bindings exist and hibiki reaches each UA', async () => {
    const h = (hibiki = await startHibiki({ config: { auth: { algorithms: ['SHA-256', 'MD5'] } } }));
    const alice = await ua(h, '2001', 'udp');
    const bob = await ua(h, '2002', 'tcp');

    const okA = await alice.register({ expires: 600 });
    const okB = await bob.register({ expires: 300, algorithm: 'MD5' });
    expect(okA.status).toBe(200);
    expect(okB.status).toBe(200);
    expect(alice.registered && bob.registered).toBe(true);

    // The 401 offered both algorithms; alice answered the first (SHA-256), bob picked MD5.
    const challenge = alice.messages.find((m): m is SipResponse => m instanceof SipResponse && m.status === 401);
    expect(challenge?.getAll('www-authenticate').map((c) => /algorithm=([\w-]+)/.exec(c)?.[1])).toEqual(['SHA-256', 'MD5']);

    const [a] = h.server.registrar.contacts('2001');
    expect(h.server.registrar.contacts('2001')).toHaveLength(1);
    expect(a?.binding.contact).toBe(alice.contact.slice(1, -1));
    expect(a?.target).toMatchObject({ transport: 'udp', address: '127.0.0.1', port: alice.address.port });
    const remainingA = ((a?.binding.expiresAt ?? 0) - Date.now()) / 1000;
    expect(remainingA).toBeGreaterThan(590);

    const [b] = h.server.registrar.contacts('2002');
    expect(h.server.registrar.contacts('2002')).toHaveLength(1);
    expect(b?.binding.contact).toMatch(/^sip:2002@127\.0\.0\.1:\d+;transport=tcp$/);
    expect(b?.target.transport).toBe('tcp');
    expect(b?.target.connectionId).toBeTruthy();

    // hibiki can reach both UAs through their bindings (bob only over the connection he opened).
    for (const [binding, who] of [
      [a, alice],
      [b, bob],
    ] as const) {
      const res = await h.server.stack.request({ method: 'OPTIONS', uri: binding!.binding.contact, target: binding!.target, to: `<sip:${who.user}@hibiki.test>` });
      expect(res.status).toBe(200);
      const seen = await who.waitForMessage((m) => m instanceof SipRequest && m.method === 'OPTIONS', 2000, 'OPTIONS from hibiki');
      expect(seen.source?.transport).toBe(who.transport);
    }

    await alice.unregister();
    await bob.unregister();
    expect(h.server.registrar.contacts('2001')).toHaveLength(0);
    expect(h.server.registrar.contacts('2002')).toHaveLength(0);
    expect(alice.registered || bob.registered).toBe(false);
  });

  it('reports a refused registration as a SipStatusError with the status', async () => {
    const h = (hibiki = await startHibiki());
    const mallory = await ua(h, '2003', 'udp', 'wrong-password');
    const err = await mallory.register().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SipStatusError);
    expect((err as SipStatusError).status).toBe(401);
    expect(h.server.registrar.contacts('2003')).toHaveLength(0);
  });
});
