import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildAuthorization, DigestServer, parseAuthParams } from '../../../src/sip/digest.js';
import type { DigestAlgorithm, DigestChallengeOptions } from '../../../src/sip/digest.js';

// RFC 7616 §3.9.1 example.
const rfc = {
  username: 'Mufasa',
  password: 'Circle of Life',
  realm: 'http-auth@example.org',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  method: 'GET',
  uri: '/dir/index.html',
};

/** Independent RFC 7616 §3.4.1 computation, written from the RFC rather than from the module. */
function expectedResponse(alg: 'md5' | 'sha256', f: { username: string; realm: string; password: string; method: string; uri: string; nonce: string; nc: string; cnonce: string }): string {
  const H = (s: string) => createHash(alg).update(s).digest('hex');
  return H(`${H(`${f.username}:${f.realm}:${f.password}`)}:${f.nonce}:${f.nc}:${f.cnonce}:auth:${H(`${f.method}:${f.uri}`)}`);
}

function param(header: string, name: string): string | undefined {
  return parseAuthParams(header)?.params.get(name);
}

const users: Record<string, { password: string }> = {
  '2001': { password: 'secret-2001' },
  'we"ird\\user': { password: 'p' },
};
const lookup = (u: string) => users[u];

function makeServer(extra: Partial<DigestChallengeOptions> = {}) {
  let now = 1_700_000_000_000;
  const server = new DigestServer({ realm: 'hibiki.local', algorithms: ['SHA-256', 'MD5'], nonceTtlSec: 300, clock: () => now, ...extra });
  return {
    server,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function challengeFor(server: DigestServer, alg: DigestAlgorithm): string {
  const c = server.challenge().find((v) => param(v, 'algorithm') === alg);
  if (!c) throw new Error(`no ${alg} challenge`);
  return c;
}

describe('buildAuthorization against RFC 7616 §3.9.1', () => {
  const cases: [DigestAlgorithm, 'md5' | 'sha256', string][] = [
    ['MD5', 'md5', '8ca523f5e9506fed4657c9700eebdbec'],
    ['SHA-256', 'sha256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
  ];
  for (const [alg, hash, published] of cases) {
    it(`computes the published ${alg} response`, () => {
      const challenge = `Digest realm="${rfc.realm}", qop="auth, auth-int", algorithm=${alg}, nonce="${rfc.nonce}", opaque="${rfc.opaque}"`;
      const auth = buildAuthorization(challenge, rfc, rfc.method, rfc.uri, 1, rfc.cnonce);
      const p = parseAuthParams(auth)?.params;
      expect(p?.get('response')).toBe(published);
      expect(p?.get('response')).toBe(expectedResponse(hash, { ...rfc, nc: '00000001' }));
      expect(Object.fromEntries(p ?? [])).toMatchObject({
        username: 'Mufasa',
        realm: rfc.realm,
        nonce: rfc.nonce,
        uri: rfc.uri,
        algorithm: alg,
        qop: 'auth',
        nc: '00000001',
        cnonce: rfc.cnonce,
        opaque: rfc.opaque,
      });
    });
  }

  it('answers a challenge without qop in RFC 2069 style and defaults to MD5', () => {
    const auth = buildAuthorization('Digest realm="r", nonce="n"', { username: 'u', password: 'p' }, 'REGISTER', 'sip:r');
    const H = (s: string) => createHash('md5').update(s).digest('hex');
    expect(param(auth, 'response')).toBe(H(`${H('u:r:p')}:n:${H('REGISTER:sip:r')}`));
    expect(param(auth, 'qop')).toBeUndefined();
    expect(param(auth, 'nc')).toBeUndefined();
  });

  it('refuses what it cannot answer', () => {
    const creds = { username: 'u', password: 'p' };
    expect(() => buildAuthorization('Basic realm="r"', creds, 'GET', '/')).toThrow();
    expect(() => buildAuthorization('Digest realm="r"', creds, 'GET', '/')).toThrow(/nonce/);
    expect(() => buildAuthorization('Digest realm="r", nonce="n", algorithm=SHA-512-256', creds, 'GET', '/')).toThrow(/algorithm/);
    expect(() => buildAuthorization('Digest realm="r", nonce="n", qop="auth-int"', creds, 'GET', '/')).toThrow(/qop/);
  });
});

describe('DigestServer.challenge', () => {
  it('offers one challenge per algorithm, in the configured order, sharing one nonce', () => {
    const { server } = makeServer();
    const values = server.challenge();
    expect(values).toHaveLength(2);
    expect(values.map((v) => param(v, 'algorithm'))).toEqual(['SHA-256', 'MD5']);
    const reversed = new DigestServer({ realm: 'hibiki.local', algorithms: ['MD5', 'SHA-256'], nonceTtlSec: 300 });
    expect(reversed.challenge().map((v) => param(v, 'algorithm'))).toEqual(['MD5', 'SHA-256']);
    expect(param(values[0], 'nonce')).toBe(param(values[1], 'nonce'));
    for (const v of values) {
      const parsed = parseAuthParams(v);
      expect(parsed?.scheme).toBe('digest');
      expect(parsed?.params.get('realm')).toBe('hibiki.local');
      expect(parsed?.params.get('qop')).toBe('auth');
      expect(parsed?.params.get('opaque')).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(parsed?.params.has('stale')).toBe(false);
    }
    expect(values[0]).toMatch(/^Digest realm="hibiki\.local", nonce="[A-Za-z0-9_-]+", opaque="[A-Za-z0-9_-]+", algorithm=SHA-256, qop="auth"$/);
  });

  it('marks stale challenges and issues a fresh nonce every time', () => {
    const { server } = makeServer();
    const [a] = server.challenge();
    const [b] = server.challenge(true);
    expect(param(b, 'stale')).toBe('true');
    expect(param(a, 'nonce')).not.toBe(param(b, 'nonce'));
  });

  it('offers only the configured algorithms', () => {
    const { server } = makeServer({ algorithms: ['SHA-256'] });
    expect(server.challenge().map((v) => param(v, 'algorithm'))).toEqual(['SHA-256']);
  });
});

describe('DigestServer.verify', () => {
  for (const alg of ['MD5', 'SHA-256'] as const) {
    it(`accepts a correct ${alg} response built by buildAuthorization`, () => {
      const { server } = makeServer();
      const auth = buildAuthorization(challengeFor(server, alg), { username: '2001', password: 'secret-2001' }, 'REGISTER', 'sip:hibiki.local');
      expect(server.verify(auth, 'REGISTER', 'sip:hibiki.local', lookup)).toEqual({ result: 'ok', username: '2001' });
    });
  }

  it('matches an independent computation for a server nonce (SHA-256)', () => {
    const { server } = makeServer({ realm: rfc.realm });
    const nonce = param(challengeFor(server, 'SHA-256'), 'nonce') as string;
    const response = expectedResponse('sha256', { ...rfc, nonce, nc: '00000001' });
    const header = `Digest username="Mufasa", realm="${rfc.realm}", uri="${rfc.uri}", algorithm=SHA-256, nonce="${nonce}", nc=00000001, cnonce="${rfc.cnonce}", qop=auth, response="${response.toUpperCase()}"`;
    expect(server.verify(header, 'GET', rfc.uri, () => ({ password: rfc.password }))).toEqual({ result: 'ok', username: 'Mufasa' });
  });

  it('handles usernames that need escaping', () => {
    const { server } = makeServer();
    const auth = buildAuthorization(challengeFor(server, 'MD5'), { username: 'we"ird\\user', password: 'p' }, 'INVITE', 'sip:2001@hibiki.local');
    expect(server.verify(auth, 'INVITE', 'sip:2001@hibiki.local', lookup)).toEqual({ result: 'ok', username: 'we"ird\\user' });
  });

  it('rejects a wrong password, and a response made for another method, as bad credentials', () => {
    const { server } = makeServer();
    const c = challengeFor(server, 'SHA-256');
    const wrong = buildAuthorization(c, { username: '2001', password: 'guess' }, 'REGISTER', 'sip:hibiki.local');
    expect(server.verify(wrong, 'REGISTER', 'sip:hibiki.local', lookup)).toEqual({ result: 'bad-credentials', username: '2001' });
    const other = buildAuthorization(c, { username: '2001', password: 'secret-2001' }, 'INVITE', 'sip:hibiki.local');
    expect(server.verify(other, 'REGISTER', 'sip:hibiki.local', lookup)).toEqual({ result: 'bad-credentials', username: '2001' });
  });

  it('reports an unknown user', () => {
    const { server } = makeServer();
    const auth = buildAuthorization(challengeFor(server, 'MD5'), { username: '9999', password: 'x' }, 'REGISTER', 'sip:hibiki.local');
    expect(server.verify(auth, 'REGISTER', 'sip:hibiki.local', lookup)).toEqual({ result: 'unknown-user', username: '9999' });
  });

  it('accepts increasing nc on one nonce and rejects a repeated or lower nc as replay', () => {
    const { server } = makeServer();
    const c = challengeFor(server, 'SHA-256');
    const creds = { username: '2001', password: 'secret-2001' };
    const at = (nc: number) => server.verify(buildAuthorization(c, creds, 'REGISTER', 'sip:hibiki.local', nc), 'REGISTER', 'sip:hibiki.local', lookup).result;
    expect(at(1)).toBe('ok');
    expect(at(2)).toBe('ok');
    expect(at(2)).toBe('replay');
    expect(at(1)).toBe('replay');
    expect(at(7)).toBe('ok');
    // The very same header sent twice is a replay too.
    const same = buildAuthorization(c, creds, 'REGISTER', 'sip:hibiki.local', 8, 'fixed');
    expect(server.verify(same, 'REGISTER', 'sip:hibiki.local', lookup).result).toBe('ok');
    expect(server.verify(same, 'REGISTER', 'sip:hibiki.local', lookup).result).toBe('replay');
  });

  it('answers stale for a correct response on an expired nonce, bad-credentials for a wrong one', () => {
    const { server, advance } = makeServer();
    const c = challengeFor(server, 'MD5');
    advance(300_000);
    const good = (nc: number) => buildAuthorization(c, { username: '2001', password: 'secret-2001' }, 'REGISTER', 'sip:hibiki.local', nc);
    expect(server.verify(good(1), 'REGISTER', 'sip:hibiki.local', lookup).result).toBe('ok');
    advance(1);
    expect(server.verify(good(2), 'REGISTER', 'sip:hibiki.local', lookup)).toEqual({ result: 'stale', username: '2001' });
    const bad = buildAuthorization(c, { username: '2001', password: 'nope' }, 'REGISTER', 'sip:hibiki.local', 3);
    expect(server.verify(bad, 'REGISTER', 'sip:hibiki.local', lookup).result).toBe('bad-credentials');
  });

  it('treats a tampered nonce or one from another server as malformed', () => {
    const { server } = makeServer();
    const c = challengeFor(server, 'SHA-256');
    const nonce = param(c, 'nonce') as string;
    const flipped = nonce.slice(0, 3) + (nonce[3] === 'A' ? 'B' : 'A') + nonce.slice(4);
    const tampered = buildAuthorization(c.replace(nonce, flipped), { username: '2001', password: 'secret-2001' }, 'REGISTER', 'sip:hibiki.local');
    expect(server.verify(tampered, 'REGISTER', 'sip:hibiki.local', lookup)).toEqual({ result: 'malformed', reason: 'unknown nonce' });

    const other = makeServer().server;
    const foreign = buildAuthorization(challengeFor(other, 'SHA-256'), { username: '2001', password: 'secret-2001' }, 'REGISTER', 'sip:hibiki.local');
    expect(server.verify(foreign, 'REGISTER', 'sip:hibiki.local', lookup).result).toBe('malformed');
  });

  it('accepts nonces across servers that share a secret (restart with a configured secret)', () => {
    const secret = Buffer.alloc(32, 7);
    const a = makeServer({ secret }).server;
    const b = makeServer({ secret }).server;
    const auth = buildAuthorization(challengeFor(a, 'MD5'), { username: '2001', password: 'secret-2001' }, 'REGISTER', 'sip:hibiki.local');
    expect(b.verify(auth, 'REGISTER', 'sip:hibiki.local', lookup).result).toBe('ok');
  });

  it('treats unknown or unoffered algorithms, missing fields and foreign realms as malformed', () => {
    const { server } = makeServer({ algorithms: ['SHA-256'] });
    const c = challengeFor(server, 'SHA-256');
    const auth = buildAuthorization(c, { username: '2001', password: 'secret-2001' }, 'REGISTER', 'sip:hibiki.local');
    const variants: [string, string][] = [
      [auth.replace('algorithm=SHA-256', 'algorithm=SHA-512-256'), 'algorithm'],
      [auth.replace('algorithm=SHA-256', 'algorithm=MD5'), 'algorithm'],
      [auth.replace('algorithm=SHA-256', 'algorithm=SHA-256-sess'), 'algorithm'],
      [auth.replace(/, algorithm=SHA-256/, ''), 'algorithm'], // absent means MD5, not offered here
      [auth.replace(/, uri="[^"]*"/, ''), 'missing uri'],
      [auth.replace(/, response="[^"]*"/, ''), 'missing response'],
      [auth.replace(/username="[^"]*", /, ''), 'missing username'],
      [auth.replace(/, qop=auth, nc=\w+, cnonce="[^"]*"/, ''), 'missing qop'],
      [auth.replace('qop=auth', 'qop=auth-int'), 'qop'],
      [auth.replace(/nc=\w+/, 'nc=1'), 'nc'],
      [auth.replace(/, cnonce="[^"]*"/, ''), 'cnonce'],
      [auth.replace('realm="hibiki.local"', 'realm="elsewhere"'), 'realm'],
      [auth.replace(/opaque="[^"]*"/, 'opaque="xyz"'), 'opaque'],
      [auth.replace(/^Digest/, 'Basic'), 'scheme'],
      ['Digest username="2001", realm="hibiki.local"', 'missing'],
      ['Digest username="unterminated', 'unparsable'],
      ['', 'unparsable'],
    ];
    for (const [header, reason] of variants) {
      const v = server.verify(header, 'REGISTER', 'sip:hibiki.local', lookup);
      expect(v.result, header).toBe('malformed');
      if (v.result === 'malformed') expect(v.reason, header).toContain(reason);
    }
    // The unmodified header still passes, so each rejection above is down to its one change.
    expect(server.verify(auth, 'REGISTER', 'sip:hibiki.local', lookup).result).toBe('ok');
  });

  it('bounds nonce tracking, answering stale for an evicted nonce instead of forgetting its nc', () => {
    const { server } = makeServer({ maxTrackedNonces: 2 });
    const creds = { username: '2001', password: 'secret-2001' };
    const challenges = [0, 1, 2].map(() => challengeFor(server, 'MD5'));
    for (const c of challenges) expect(server.verify(buildAuthorization(c, creds, 'REGISTER', 'sip:x', 1), 'REGISTER', 'sip:x', lookup).result).toBe('ok');
    expect(server.trackedNonceCount()).toBe(2);
    expect(server.verify(buildAuthorization(challenges[0], creds, 'REGISTER', 'sip:x', 1), 'REGISTER', 'sip:x', lookup).result).toBe('stale');
    expect(server.verify(buildAuthorization(challenges[2], creds, 'REGISTER', 'sip:x', 2), 'REGISTER', 'sip:x', lookup).result).toBe('ok');
  });

  it('prunes expired nonces from the replay table', () => {
    const { server, advance } = makeServer();
    const creds = { username: '2001', password: 'secret-2001' };
    for (let i = 0; i < 5; i++) server.verify(buildAuthorization(challengeFor(server, 'MD5'), creds, 'REGISTER', 'sip:x'), 'REGISTER', 'sip:x', lookup);
    expect(server.trackedNonceCount()).toBe(5);
    advance(301_000);
    const fresh = challengeFor(server, 'MD5');
    expect(server.verify(buildAuthorization(fresh, creds, 'REGISTER', 'sip:x'), 'REGISTER', 'sip:x', lookup).result).toBe('ok');
    expect(server.trackedNonceCount()).toBe(1);
  });

  it('refuses a correct response made for another Request-URI (RFC 7616 §3.4.6), before recording its nc', () => {
    const { server } = makeServer();
    const c = challengeFor(server, 'MD5');
    const creds = { username: '2001', password: 'secret-2001' };
    // Captured on a call to 2002, offered on a call to an outside number.
    const internal = buildAuthorization(c, creds, 'INVITE', 'sip:2002@hibiki.local', 1);
    expect(server.verify(internal, 'INVITE', 'sip:0312345678@hibiki.local', lookup)).toEqual({ result: 'uri-mismatch', username: '2001', uri: 'sip:2002@hibiki.local' });
    // A wrong password stays bad-credentials whatever its uri: the mismatch is only reported for real credentials.
    const wrong = buildAuthorization(c, { username: '2001', password: 'guess' }, 'INVITE', 'sip:2002@hibiki.local', 1);
    expect(server.verify(wrong, 'INVITE', 'sip:0312345678@hibiki.local', lookup).result).toBe('bad-credentials');
    // The refused attempt did not use up nc 1.
    expect(server.trackedNonceCount()).toBe(0);
    expect(server.verify(internal, 'INVITE', 'sip:2002@hibiki.local', lookup).result).toBe('ok');
  });

  it('accepts a credential uri equivalent to the Request-URI (RFC 3261 §19.1.4), not a different one', () => {
    const { server } = makeServer();
    const creds = { username: '2001', password: 'secret-2001' };
    const verdict = (credentialUri: string, requestUri: string) => server.verify(buildAuthorization(challengeFor(server, 'MD5'), creds, 'INVITE', credentialUri), 'INVITE', requestUri, lookup).result;
    expect(verdict('sip:2002@HIBIKI.local', 'sip:2002@hibiki.local')).toBe('ok');
    expect(verdict('sip:2002@hibiki.local;transport=udp', 'sip:2002@hibiki.local')).toBe('ok');
    expect(verdict('sip:2002@hibiki.local;Transport=UDP;lr', 'sip:2002@hibiki.local;transport=udp')).toBe('ok');
    expect(verdict('sip:%32002@hibiki.local', 'sip:2002@hibiki.local')).toBe('ok');
    expect(verdict('sip:2002@hibiki.local', 'sip:2002@hibiki.local:5060')).toBe('uri-mismatch');
    expect(verdict('sip:2002@hibiki.local;user=phone', 'sip:2002@hibiki.local')).toBe('uri-mismatch');
    expect(verdict('sip:2002@hibiki.local;transport=tcp', 'sip:2002@hibiki.local;transport=udp')).toBe('uri-mismatch');
    expect(verdict('sips:2002@hibiki.local', 'sip:2002@hibiki.local')).toBe('uri-mismatch');
    expect(verdict('sip:hibiki.local', 'sip:2001@hibiki.local')).toBe('uri-mismatch');
    expect(verdict('sip:2002@hibiki.local?subject=x', 'sip:2002@hibiki.local')).toBe('uri-mismatch');
    expect(verdict('not a uri', 'sip:2002@hibiki.local')).toBe('uri-mismatch');
  });

  it('keeps its nonce history when reconfigured (a reload does not make used credentials new again)', () => {
    const { server } = makeServer();
    const auth = buildAuthorization(challengeFor(server, 'MD5'), { username: '2001', password: 'secret-2001' }, 'REGISTER', 'sip:hibiki.local');
    expect(server.verify(auth, 'REGISTER', 'sip:hibiki.local', lookup).result).toBe('ok');
    server.reconfigure({ realm: 'hibiki.local', algorithms: ['MD5', 'SHA-256'], nonceTtlSec: 300 });
    expect(server.verify(auth, 'REGISTER', 'sip:hibiki.local', lookup).result).toBe('replay');
    // New settings apply: challenges follow the new order.
    expect(server.challenge().map((c) => param(c, 'algorithm'))).toEqual(['MD5', 'SHA-256']);
  });

  it('does not accept a pruned nonce again after a reload lengthens the nonce lifetime', () => {
    const { server, advance } = makeServer({ nonceTtlSec: 60 });
    const creds = { username: '2001', password: 'secret-2001' };
    const used = buildAuthorization(challengeFor(server, 'MD5'), creds, 'REGISTER', 'sip:hibiki.local');
    expect(server.verify(used, 'REGISTER', 'sip:hibiki.local', lookup).result).toBe('ok');
    advance(61_000);
    // Another verification prunes the expired one from the table.
    expect(server.verify(buildAuthorization(challengeFor(server, 'MD5'), creds, 'REGISTER', 'sip:hibiki.local'), 'REGISTER', 'sip:hibiki.local', lookup).result).toBe('ok');
    expect(server.trackedNonceCount()).toBe(1);
    server.reconfigure({ realm: 'hibiki.local', algorithms: ['SHA-256', 'MD5'], nonceTtlSec: 3600 });
    expect(server.verify(used, 'REGISTER', 'sip:hibiki.local', lookup).result).toBe('stale');
  });

  it('never throws on garbage', () => {
    const { server } = makeServer();
    const junk = [
      'Digest',
      'Digest ,,,',
      'Digest a=',
      'Digest nonce="AAAA", username="x", realm="hibiki.local", uri="u", response="r", qop=auth, nc=00000001, cnonce="c"',
      '\u0000\uffff',
      'Digest ' + 'a="b", '.repeat(1000),
    ];
    for (const j of junk) expect(server.verify(j, 'REGISTER', 'sip:hibiki.local', lookup).result).toBe('malformed');
  });
});

describe('parseAuthParams', () => {
  it('lower-cases the scheme and parameter names, keeps values', () => {
    const r = parseAuthParams('DIGEST Realm="Hibiki", NONCE=abc, Algorithm=SHA-256');
    expect(r?.scheme).toBe('digest');
    expect(Object.fromEntries(r?.params ?? [])).toEqual({ realm: 'Hibiki', nonce: 'abc', algorithm: 'SHA-256' });
  });

  it('unescapes quoted strings and keeps commas and equals signs inside quotes', () => {
    const r = parseAuthParams('Digest username="a\\"b\\\\c", realm="x, y=z", qop="auth,auth-int"');
    expect(r?.params.get('username')).toBe('a"b\\c');
    expect(r?.params.get('realm')).toBe('x, y=z');
    expect(r?.params.get('qop')).toBe('auth,auth-int');
  });

  it('allows linear whitespace around "=" and ",", including folded lines', () => {
    const r = parseAuthParams('Digest  realm = "r" ,\r\n\tnonce= "n",uri ="u"');
    expect(Object.fromEntries(r?.params ?? [])).toEqual({ realm: 'r', nonce: 'n', uri: 'u' });
  });

  it('accepts a bare scheme, an empty quoted value and a trailing comma', () => {
    expect(parseAuthParams('Digest')).toEqual({ scheme: 'digest', params: new Map() });
    expect(parseAuthParams('Digest opaque=""')?.params.get('opaque')).toBe('');
    expect(parseAuthParams('Digest a=b, ')?.params.get('a')).toBe('b');
  });

  it('returns null on syntax errors and repeated parameters', () => {
    for (const bad of [
      '',
      '   ',
      'Digest realm',
      'Digest realm=',
      'Digest realm="open',
      'Digest realm="x\\',
      'Digest a=b c=d',
      'Digest a=b,,c=d',
      'Digest a=b, a=c',
      'Digest A=b, a=c',
      'Di"gest a=b',
      '=b',
    ]) {
      expect(parseAuthParams(bad), bad).toBeNull();
    }
  });
});
