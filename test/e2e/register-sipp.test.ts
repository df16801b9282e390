// F-REG / F-AUTH end to end: sipp registers to the real server over UDP and TCP with digest auth.
import { afterEach, describe, expect, it } from 'vitest';
import { startHibiki, type RunningHibiki } from '../support/hibiki.js';
import { runSipp, sippAuth } from '../support/sipp.js';
import { freePort } from '../support/ports.js';

let hibiki: RunningHibiki | undefined;

// sipp 3.6 cannot answer a 401 that carries more than one challenge (it reads them as one header),
// so these tests offer MD5 only; SHA-256 is covered by the digest unit tests and test/e2e/register-raw.test.ts.
const auth = { algorithms: ['MD5'] };
const registrar = { qualifyInterval: 0 };

afterEach(async () => {
  await hibiki?.stop();
  hibiki = undefined;
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe('registration with sipp', () => {
  it('registers three extensions with digest auth over UDP', async () => {
    hibiki = await startHibiki({ config: { auth, registrar } });
    const res = await runSipp({
      scenario: 'register-auth.xml',
      target: { host: '127.0.0.1', port: hibiki.port('udp') },
      inject: [
        ['2001', sippAuth('2001', 'secret-2001'), '600'],
        ['2002', sippAuth('2002', 'secret-2002'), '600'],
        ['2003', sippAuth('2003', 'secret-2003'), '600'],
      ],
      calls: 3,
    });
    expect(res.errors).toBe('');
    expect(res.code).toBe(0);
    const regs = hibiki.server.registrar;
    for (const ext of ['2001', '2002', '2003']) {
      const contacts = regs.contacts(ext);
      expect(contacts).toHaveLength(1);
      const c = contacts[0]!;
      expect(c.target.transport).toBe('udp');
      expect(c.target.address).toBe('127.0.0.1');
      const remaining = (c.binding.expiresAt - Date.now()) / 1000;
      expect(remaining).toBeGreaterThan(590);
      expect(remaining).toBeLessThanOrEqual(600);
    }
    // The 200 OK listed the binding with its expiry.
    expect(res.messages).toMatch(/SIP\/2\.0 200 OK[\s\S]*Contact: <sip:2001@127\.0\.0\.1:\d+[^>]*>;expires=600/);
  });

  it('registers over TCP and keeps the connection as the way to reach the device', async () => {
    hibiki = await startHibiki({ config: { auth, registrar } });
    const res = await runSipp({
      scenario: 'register-auth.xml',
      target: { host: '127.0.0.1', port: hibiki.port('tcp') },
      transport: 't1',
      inject: [['2002', sippAuth('2002', 'secret-2002'), '300']],
    });
    expect(res.errors).toBe('');
    expect(res.code).toBe(0);
    const [c] = hibiki.server.registrar.contacts('2002');
    expect(c?.target.transport).toBe('tcp');
    expect(c?.target.connectionId).toBeTruthy();
  });

  it('caps Expires at maxExpires and refuses too-brief intervals with 423 and Min-Expires', async () => {
    hibiki = await startHibiki({ config: { auth, registrar: { qualifyInterval: 0, minExpires: 120, maxExpires: 1800, defaultExpires: 600 } } });
    const target = { host: '127.0.0.1', port: hibiki.port('udp') };
    const long = await runSipp({ scenario: 'register-auth.xml', target, inject: [['2001', sippAuth('2001', 'secret-2001'), '7200']] });
    expect(long.code).toBe(0);
    expect(long.messages).toMatch(/;expires=1800/);
    const brief = await runSipp({ scenario: 'register-too-brief.xml', target, inject: [['2002', sippAuth('2002', 'secret-2002'), '30']] });
    expect(brief.errors).toBe('');
    expect(brief.code).toBe(0);
    expect(brief.messages).toMatch(/Min-Expires: 120/);
    expect(hibiki.server.registrar.contacts('2002')).toHaveLength(0);
  });

  it('locks a username after three wrong passwords: the right one then gets 403 without a challenge', async () => {
    hibiki = await startHibiki({ config: { auth, registrar } });
    const res = await runSipp({
      scenario: 'register-wrong-password.xml',
      target: { host: '127.0.0.1', port: hibiki.port('udp') },
      inject: [['2003', sippAuth('2003', 'wrong-password'), sippAuth('2003', 'secret-2003')]],
    });
    expect(res.errors).toBe('');
    expect(res.code).toBe(0);
    expect(hibiki.server.registrar.contacts('2003')).toHaveLength(0);
    expect(hibiki.server.guard.isUserLocked('2003', '127.0.0.1')).toBe(true);
    const events = hibiki.logs.filter((l) => l.event === 'security');
    expect(events.some((e) => e.kind === 'bad-password' && e.user === '2003' && e.src === '127.0.0.1')).toBe(true);
    expect(events.some((e) => e.kind === 'user-locked' && e.user === '2003')).toBe(true);
    // Other users are not affected by 2003's lockout.
    const other = await runSipp({
      scenario: 'register-auth.xml',
      target: { host: '127.0.0.1', port: hibiki.port('udp') },
      inject: [['2001', sippAuth('2001', 'secret-2001'), '600']],
    });
    expect(other.code).toBe(0);
  });

  it('refuses a suspended extension with 403 and logs it', async () => {
    hibiki = await startHibiki({
      config: { auth, registrar },
      extensions: [
        { number: '2001', password: 'secret-2001' },
        { number: '2009', password: 'secret-2009', suspended: true },
      ],
    });
    const res = await runSipp({
      scenario: 'register-auth.xml',
      target: { host: '127.0.0.1', port: hibiki.port('udp') },
      inject: [['2009', sippAuth('2009', 'secret-2009'), '600']],
    });
    expect(res.code).not.toBe(0);
    expect(res.messages).toMatch(/SIP\/2\.0 403/);
    expect(hibiki.logs.some((l) => l.event === 'security' && l.kind === 'suspended' && l.user === '2009')).toBe(true);
  });

  it('unregisters with Expires: 0 and with Contact: *', async () => {
    hibiki = await startHibiki({ config: { auth, registrar } });
    const target = { host: '127.0.0.1', port: hibiki.port('udp') };
    const localPort = await freePort();
    expect((await runSipp({ scenario: 'register-auth.xml', target, localPort, inject: [['2001', sippAuth('2001', 'secret-2001'), '600']] })).code).toBe(0);
    expect(hibiki.server.registrar.contacts('2001')).toHaveLength(1);
    expect((await runSipp({ scenario: 'register-auth.xml', target, localPort, inject: [['2001', sippAuth('2001', 'secret-2001'), '0']] })).code).toBe(0);
    expect(hibiki.server.registrar.contacts('2001')).toHaveLength(0);

    expect((await runSipp({ scenario: 'register-auth.xml', target, inject: [['2002', sippAuth('2002', 'secret-2002'), '600']] })).code).toBe(0);
    expect(
      (await runSipp({ scenario: 'register-auth.xml', target: { host: '127.0.0.1', port: hibiki.port('tcp') }, transport: 't1', inject: [['2002', sippAuth('2002', 'secret-2002'), '600']] })).code,
    ).toBe(0);
    expect(hibiki.server.registrar.contacts('2002')).toHaveLength(2);
    const unreg = await runSipp({ scenario: 'unregister-wildcard.xml', target, inject: [['2002', sippAuth('2002', 'secret-2002')]] });
    expect(unreg.errors).toBe('');
    expect(unreg.code).toBe(0);
    expect(hibiki.server.registrar.contacts('2002')).toHaveLength(0);
  });

  it('expires a binding on time', async () => {
    hibiki = await startHibiki({ config: { auth, registrar: { qualifyInterval: 0, minExpires: 1, maxExpires: 3600, defaultExpires: 600 } } });
    const res = await runSipp({
      scenario: 'register-auth.xml',
      target: { host: '127.0.0.1', port: hibiki.port('udp') },
      inject: [['2001', sippAuth('2001', 'secret-2001'), '2']],
    });
    expect(res.code).toBe(0);
    expect(hibiki.server.registrar.contacts('2001')).toHaveLength(1);
    await sleep(3500);
    expect(hibiki.server.registrar.contacts('2001')).toHaveLength(0);
    expect(hibiki.logs.some((l) => l.msg === 'registration expired' && l.aor === '2001')).toBe(true);
  });

  it('keeps bindings across a restart', async () => {
    const first = await startHibiki({ config: { auth, registrar } });
    hibiki = first;
    const res = await runSipp({
      scenario: 'register-auth.xml',
      target: { host: '127.0.0.1', port: first.port('udp') },
      inject: [['2001', sippAuth('2001', 'secret-2001'), '600']],
    });
    expect(res.code).toBe(0);
    const before = first.server.registrar.contacts('2001');
    expect(before).toHaveLength(1);
    await first.stop({ keepData: true });
    hibiki = await startHibiki({ dataDir: first.dataDir, config: { auth, registrar } });
    const after = hibiki.server.registrar.contacts('2001');
    expect(after).toHaveLength(1);
    expect(after[0]?.binding.contact).toBe(before[0]?.binding.contact);
    expect(after[0]?.binding.expiresAt).toBe(before[0]?.binding.expiresAt);
  });
});
