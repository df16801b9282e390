// F-REG / F-TRANSPORT interop: SIP.js, the WebRTC client library, registers over WS and WSS (RFC 7118)
// and stays reachable over its WebSocket, the only way to reach a browser (its Contact host is *.invalid).
//
// These tests keep hibiki's default digest offer (SHA-256 challenge, then MD5) on purpose: SIP.js 0.21
// knows only MD5 and keeps only the last WWW-Authenticate of a response (its parser replaces earlier
// ones), so it answers the MD5 challenge. Were the order ever reversed, SIP.js could not register.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startHibiki, type RunningHibiki } from '../support/hibiki.js';
import { startSipJsClient, type SipJsClient } from '../support/sipjs-client.js';
import { createSelfSignedCert, removeCert, type TestCert } from '../support/tls-cert.js';

let hibiki: RunningHibiki | undefined;
let client: SipJsClient | undefined;
let cert: TestCert | undefined;

afterEach(async () => {
  await client?.stop();
  client = undefined;
  await hibiki?.stop();
  hibiki = undefined;
  if (cert) await removeCert(cert);
  cert = undefined;
});

async function startWithWebSockets(): Promise<{ hibiki: RunningHibiki; cert: TestCert }> {
  const c = await createSelfSignedCert();
  cert = c;
  const h = await startHibiki({
    transports: [{ transport: 'ws' }, { transport: 'wss', cert: c.certPath, key: c.keyPath }],
  });
  hibiki = h;
  return { hibiki: h, cert: c };
}

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

describe('registration with SIP.js over WebSocket', () => {
  for (const transport of ['ws', 'wss'] as const) {
    it(`registers 2001 over ${transport}, answers OPTIONS on its flow, and unregisters`, async () => {
      const { hibiki: h, cert: c } = await startWithWebSockets();
      client = await startSipJsClient({
        server: `${transport}://127.0.0.1:${h.port(transport)}`,
        user: '2001',
        password: 'secret-2001',
        // The wss client verifies the server for real: it trusts exactly the test's self-signed certificate.
        ca: transport === 'wss' ? readFileSync(c.certPath) : undefined,
      });
      const outcome = await client.register();
      expect(outcome, client.logs.join('\n')).toEqual({ registered: true });
      expect(client.logs.join('\n')).toMatch(/Authorization: Digest algorithm=MD5, username="2001"/);

      const contacts = h.server.registrar.contacts('2001');
      expect(contacts).toHaveLength(1);
      const { binding, target } = contacts[0]!;
      expect(binding.transport).toBe(transport);
      expect(target.transport).toBe(transport);
      expect(target.connectionId).toBeTruthy();
      expect(binding.contact).toMatch(/@[^;>]+\.invalid[;>]?/);
      expect(binding.userAgent).toMatch(/SIP\.js/);

      // The Contact cannot be resolved; only the registered WebSocket flow reaches SIP.js.
      const options = await h.server.stack.request({ method: 'OPTIONS', uri: binding.contact, target, to: `<${binding.contact}>` });
      expect(options.status).toBe(200);
      expect(options.getAll('allow')).toContain('INVITE');

      await client.unregister();
      expect(h.server.registrar.contacts('2001')).toHaveLength(0);
      expect(h.logs.some((l) => l.msg === 'unregistered' && l.aor === '2001')).toBe(true);
    });
  }

  it('keeps the binding reachable through the qualifier probe', async () => {
    const { hibiki: h } = await startWithWebSockets();
    client = await startSipJsClient({ server: `ws://127.0.0.1:${h.port('ws')}`, user: '2001', password: 'secret-2001' });
    expect(await client.register()).toEqual({ registered: true });
    const { binding } = h.server.registrar.contacts('2001')[0]!;
    // Mark it unreachable first so the probe's answer is observable as a state change.
    h.server.registrations.setReachable('2001', binding.contact, false, 3);
    h.server.qualifier.probe(binding);
    expect(await waitFor(() => h.server.registrations.get('2001', binding.contact)?.reachable === true)).toBe(true);
    expect(h.server.registrations.get('2001', binding.contact)?.missedQualify).toBe(0);
  });

  it('fails to register with a wrong password and leaves no binding', async () => {
    const { hibiki: h } = await startWithWebSockets();
    client = await startSipJsClient({ server: `ws://127.0.0.1:${h.port('ws')}`, user: '2001', password: 'not-the-password' });
    const outcome = await client.register();
    expect(outcome.registered).toBe(false);
    if (!outcome.registered) expect([401, 403]).toContain(outcome.status);
    expect(client.registerer.state).not.toBe('Registered');
    expect(h.server.registrar.contacts('2001')).toHaveLength(0);
    expect(h.logs.some((l) => l.event === 'security' && l.kind === 'bad-password' && l.user === '2001')).toBe(true);
  });

  it('drops the binding when its WebSocket closes, and an OPTIONS on that flow fails at once', async () => {
    const { hibiki: h } = await startWithWebSockets();
    client = await startSipJsClient({ server: `ws://127.0.0.1:${h.port('ws')}`, user: '2001', password: 'secret-2001' });
    expect(await client.register()).toEqual({ registered: true });
    const { binding, target } = h.server.registrar.contacts('2001')[0]!;
    // Closing the socket without unregistering models a browser tab that vanished.
    await client.ua.transport.dispose();
    expect(await waitFor(() => h.logs.some((l) => l.msg === 'websocket closed' && l.connectionId === target.connectionId))).toBe(true);
    // A browser phone can only be reached over its WebSocket: the binding goes with it.
    expect(await waitFor(() => h.server.registrar.contacts('2001').length === 0)).toBe(true);
    const started = Date.now();
    const res = await h.server.stack.request({ method: 'OPTIONS', uri: binding.contact, target, to: `<${binding.contact}>` });
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
