// Issue #12: console/API logins, roles, the lockout after 3 failures, tokens, accounts and the audit trail.
import { request } from 'node:https';
import { readFileSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api.js';
import { createSelfSignedCert } from '../support/tls-cert.js';

/** A login over HTTPS that trusts only the test's own certificate. */
function httpsLogin(port: number, ca: Buffer, body: object): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/login', method: 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

let h: RunningApi | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe('HTTP API authentication (F-API, F-WEB)', () => {
  it('refuses requests without a token, logs in, and names who the token is', async () => {
    h = await startApi();
    expect((await h.client().get('/api/extensions')).status).toBe(401);
    // The router decodes and strips what the raw URL holds: the check follows the route, not the text.
    expect((await h.client().get('/%61pi/accounts')).status).toBe(401);
    const admin = await h.login('root', 'correct horse', 'admin');
    const me = await admin.get<{ username: string; role: string }>('/api/me');
    expect(me.body).toMatchObject({ username: 'root', role: 'admin' });
    expect((await admin.post('/api/logout')).status).toBe(204);
    expect((await admin.get('/api/me')).status).toBe(401);
  });

  it('locks an account after 3 failed logins, even for the right password, and audits each try', async () => {
    h = await startApi();
    await h.createAccount('ops', 'the-right-one', 'admin');
    const c = h.client();
    for (let i = 0; i < 2; i++) expect((await c.post('/api/login', { username: 'ops', password: 'wrong-one' })).status).toBe(401);
    expect((await c.post('/api/login', { username: 'ops', password: 'wrong-one' })).status).toBe(403);
    const locked = await c.post<{ message: string }>('/api/login', { username: 'ops', password: 'the-right-one' });
    expect(locked.status).toBe(403);
    expect(locked.body.message).toMatch(/locked for 60 minutes/);
    const admin = await h.login('root', 'correct horse', 'admin');
    const audit = await admin.get<{ entries: Array<{ actor: string; action: string; address: string }> }>('/api/audit?actor=ops');
    expect(audit.body.entries.map((e) => e.action)).toEqual(['login-locked', 'login-failed-locked', 'login-failed', 'login-failed']);
    expect(audit.body.entries[0]!.address).toBe('127.0.0.1');
    expect((await admin.post('/api/accounts/ops/unlock')).status).toBe(204);
    expect((await c.post('/api/login', { username: 'ops', password: 'the-right-one' })).status).toBe(200);
  });

  it('keeps a user to their own extension and out of admin routes', async () => {
    h = await startApi();
    const user = await h.login('alice', 'alice-password', 'user', '2001');
    expect((await user.get('/api/extensions/2001')).status).toBe(200);
    expect((await user.get('/api/extensions/2002')).status).toBe(403);
    expect((await user.get('/api/extensions')).status).toBe(403);
    expect((await user.get('/api/accounts')).status).toBe(403);
  });

  it('validates account input with the field named, and refuses duplicates with 409', async () => {
    h = await startApi();
    const admin = await h.login('root', 'correct horse', 'admin');
    const bad = await admin.post<{ field: string }>('/api/accounts', { username: 'bob', password: 'long-enough', role: 'owner' });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('role');
    const noExt = await admin.post<{ field: string }>('/api/accounts', { username: 'bob', password: 'long-enough', role: 'user', extension: '9999' });
    expect(noExt.status).toBe(400);
    expect(noExt.body.field).toBe('extension');
    expect((await admin.post('/api/accounts', { username: 'bob', password: 'long-enough', role: 'user', extension: '2002' })).status).toBe(201);
    expect((await admin.post('/api/accounts', { username: 'bob', password: 'long-enough', role: 'user', extension: '2002' })).status).toBe(409);
    // The only admin cannot demote itself: nobody could administer the server afterwards.
    const demote = await admin.patch<{ field: string }>('/api/accounts/root', { role: 'user', extension: '2001' });
    expect(demote.status).toBe(409);
    expect(demote.body.field).toBe('role');
    // Changing one's own password keeps the session that did it.
    expect((await admin.put('/api/me/password', { current: 'correct horse', password: 'battery staple' })).status).toBe(204);
    expect((await admin.get('/api/me')).status).toBe(200);
    const notJson = await admin.request('POST', '/api/accounts', '{not json', { 'content-type': 'application/json' });
    expect(notJson.status).toBe(400);
  });

  it('issues API tokens that work until revoked, and serves the OpenAPI document', async () => {
    h = await startApi();
    const admin = await h.login('root', 'correct horse', 'admin');
    const t = await admin.post<{ id: string; token: string }>('/api/tokens', { label: 'prometheus' });
    expect(t.status).toBe(201);
    const byToken = h.client();
    byToken.token = t.body.token;
    expect((await byToken.get('/api/me')).status).toBe(200);
    expect((await admin.delete(`/api/tokens/${t.body.id}`)).status).toBe(204);
    expect((await byToken.get('/api/me')).status).toBe(401);
    const doc = await h.client().get<{ openapi: string; paths: Record<string, unknown> }>('/api/openapi.json');
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/login', '/api/extensions', '/api/extensions/{number}', '/api/audit']));
  });

  it('serves the API over HTTPS with the configured certificate', async () => {
    const cert = await createSelfSignedCert();
    try {
      h = await startApi({ config: { http: { host: '127.0.0.1', port: 0, cert: cert.certPath, key: cert.keyPath } } });
      await h.createAccount('root', 'correct horse', 'admin');
      const r = await httpsLogin(h.server.httpAddress!.port, readFileSync(cert.certPath), { username: 'root', password: 'correct horse' });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ username: 'root', role: 'admin' });
    } finally {
      rmSync(cert.dir, { recursive: true, force: true });
    }
  });
});
