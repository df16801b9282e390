import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatConfigError } from '../../../src/config/errors.js';
import type { ConfigError } from '../../../src/config/errors.js';
import { loadConfigFile, loadConfigText } from '../../../src/config/load.js';
import type { ConfigLoadResult } from '../../../src/config/load.js';

const fixtures = join(import.meta.dirname, '../../fixtures/config');

const minimal = `tenant:
  domain: pbx.example.com
listen:
  - transport: udp
    port: 5060
`;

function errorsOf(r: ConfigLoadResult): ConfigError[] {
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.errors;
}

function okOf(r: ConfigLoadResult) {
  if (!r.ok) throw new Error(`expected a valid config, got ${r.errors.map(formatConfigError).join('; ')}`);
  return r;
}

/** The single error whose message contains `text`. */
function findError(errors: ConfigError[], text: string): ConfigError {
  const hits = errors.filter((e) => e.message.includes(text));
  expect(hits, `errors containing "${text}" in ${JSON.stringify(errors)}`).toHaveLength(1);
  return hits[0];
}

describe('loadConfigText: valid files', () => {
  it('fills every default and derives the realm from the domain', () => {
    const { config, warnings } = okOf(loadConfigText(minimal, 'm.yaml'));
    expect(warnings).toEqual([]);
    expect(config.tenant).toEqual({ domain: 'pbx.example.com', timezone: 'Asia/Tokyo', holidays: [], japaneseHolidays: true });
    expect(config.listen).toEqual([{ transport: 'udp', host: '0.0.0.0', port: 5060 }]);
    expect(config.data.dir).toBe('./data');
    expect(config.sip).toEqual({
      t1: 500,
      t2: 4000,
      t4: 5000,
      userAgent: 'hibiki',
      maxMessageBytes: 65535,
      tcpIdleTimeout: 3600,
      tcpUnprovenIdleTimeout: 30,
      tcpMessageTimeout: 20,
      tcpHandshakeTimeout: 10,
      maxConnections: 10000,
      maxConnectionsPerAddress: 500,
      connectionReportInterval: 60,
      maxServerTransactions: 100_000,
    });
    expect(config.security).toEqual({
      trustedAddresses: [],
      rateLimit: { windowSeconds: 10, maxRequests: 3000, blockSeconds: 60 },
      overload: { sampleMs: 250, maxLoopUtilization: 90, maxLoopDelayMs: 150, maxQueueDelayMs: 50, maxPendingInvites: 2000, retryAfterSeconds: 5, smoothingMs: 1000 },
    });
    expect(config.registrar).toEqual({ minExpires: 60, maxExpires: 3600, defaultExpires: 600, qualifyInterval: 30, qualifyMaxMissed: 3 });
    expect(config.auth).toEqual({
      realm: 'pbx.example.com',
      algorithms: ['MD5'],
      nonceExpires: 300,
      lockoutAttempts: 3,
      lockoutMinutes: 60,
      lockoutAddresses: 3,
      ipFailures: 20,
      ipWindowSeconds: 60,
      ipBlockMinutes: 60,
    });
    expect(config.log.level).toBe('info');
    expect(config.reload.debounceMs).toBe(300);
    expect(config.extensions).toEqual([]);
  });

  it('accepts trusted addresses and CIDR blocks of both families, and names a bad one', () => {
    const good = okOf(loadConfigText(`${minimal}security:\n  trustedAddresses: [192.0.2.7, 10.0.0.0/8, '2001:db8::/32', '::1']\n`, 'm.yaml'));
    expect(good.config.security.trustedAddresses).toEqual(['192.0.2.7', '10.0.0.0/8', '2001:db8::/32', '::1']);
    for (const bad of ['10.0.0.0/33', 'pbx.example.com', '10.0.0.1/8/8', '2001:db8::/129']) {
      const r = loadConfigText(`${minimal}security:\n  trustedAddresses: ['${bad}']\n`, 'm.yaml');
      expect(r.ok, bad).toBe(false);
    }
  });

  it('keeps an explicit realm', () => {
    const { config } = okOf(loadConfigText(`${minimal}auth:\n  realm: corp\n`, 'm.yaml'));
    expect(config.auth.realm).toBe('corp');
  });

  it('turns unquoted extension numbers into strings and applies extension defaults', () => {
    const { config } = okOf(loadConfigFile(join(fixtures, 'valid-minimal.yaml')));
    expect(config.extensions).toEqual([
      {
        number: '2001',
        name: 'Alice',
        password: 'alice-secret-1',
        maxContacts: 5,
        suspended: false,
        language: 'ja',
        callWaiting: true,
        moh: 'default',
        presentation: 'present',
        dnd: false,
        forwarding: { destinations: [], noAnswerTimeout: 20 },
        outboundClass: 'domestic',
        blockList: [],
        rejectAnonymous: false,
        voicemail: true,
        voicemailAttach: true,
        hotDesk: false,
        record: 'never',
      },
    ]);
  });

  it('loads the shipped config/hibiki.yaml, warning about its placeholder passwords', () => {
    const path = join(import.meta.dirname, '../../../config/hibiki.yaml');
    const { config, warnings } = okOf(loadConfigFile(path));
    expect(config.tenant.domain).toBe('hibiki.local');
    expect(config.listen.map((l) => `${l.transport}:${l.port}`)).toEqual(['udp:5060', 'tcp:5060', 'ws:8088']);
    expect(config.extensions.map((e) => e.number)).toEqual(['2001', '2002', '2003']);
    expect(warnings).toHaveLength(3);
    expect(warnings.every((w) => w.message.includes('placeholder') && w.file === path)).toBe(true);
  });

  it('warns about weak passwords at the password line', () => {
    const text = `${minimal}extensions:\n  - number: "2001"\n    name: A\n    password: "2001"\n  - number: "2002"\n    name: B\n    password: short\n`;
    const { warnings } = okOf(loadConfigText(text, 'w.yaml'));
    expect(warnings.map((w) => [w.line, w.message])).toEqual([
      [9, 'extension 2001: the password equals the extension number; set a strong one'],
      [12, 'extension 2002: the password is shorter than 8 characters; set a strong one'],
    ]);
  });

  it('accepts tls with cert and key, and IPv6 listen addresses', () => {
    const text = `tenant:\n  domain: pbx.example.com\nlisten:\n  - {transport: tls, host: "::", port: 5061, cert: a.pem, key: b.pem}\n  - {transport: udp, host: "::1", port: 0}\n`;
    const { config } = okOf(loadConfigText(text, 't.yaml'));
    expect(config.listen[0]).toEqual({ transport: 'tls', host: '::', port: 5061, cert: 'a.pem', key: 'b.pem' });
  });

  it('takes an empty sip.userAgent (headers left out) and refuses one with a line break', () => {
    expect(okOf(loadConfigText(`${minimal}sip:\n  userAgent: ""\n`, 'u.yaml')).config.sip.userAgent).toBe('');
    const injected = loadConfigText(`${minimal}sip:\n  userAgent: "hibiki\\r\\nX-Injected: 1"\n`, 'u.yaml');
    expect(injected.ok).toBe(false);
    if (!injected.ok) expect(injected.errors.map((e) => e.message).join('\n')).toContain('control characters');
  });

  it('allows the same port on different transports or hosts', () => {
    const text = `tenant:\n  domain: a.example\nlisten:\n  - {transport: udp, port: 5060}\n  - {transport: tcp, port: 5060}\n  - {transport: udp, host: "::", port: 5060}\n`;
    expect(loadConfigText(text, 'p.yaml').ok).toBe(true);
  });
});

describe('loadConfigText: errors with lines', () => {
  const file = join(fixtures, 'invalid-many.yaml');
  const errors = errorsOf(loadConfigFile(file));

  it('collects every error of the file, sorted by line, all naming the file', () => {
    expect(errors.length).toBe(15);
    expect(errors.every((e) => e.file === file)).toBe(true);
    const lines = errors.map((e) => e.line);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
  });

  it('reports a bad value at the line of its key', () => {
    expect(findError(errors, 'tenant.timezone').line).toBe(3);
    expect(findError(errors, 'listen[3].transport').line).toBe(12);
    expect(findError(errors, 'listen[3].port').line).toBe(13);
    expect(findError(errors, 'auth.algorithms').line).toBe(18);
    expect(findError(errors, 'extensions[1].number').line).toBe(23);
    expect(findError(errors, 'extensions[4].password').message).toContain('quote it');
    expect(findError(errors, 'extensions[4].ringTimeout').line).toBe(34);
  });

  it('reports an unknown key at its own line', () => {
    expect(findError(errors, 'unknown key "colour" in tenant').line).toBe(4);
    expect(findError(errors, 'unknown key "shoeSize" in extensions[4]').line).toBe(35);
  });

  it('reports a missing key at the line of the map that lacks it', () => {
    const e = findError(errors, 'extensions[3].password');
    expect(e.message).toBe('extensions[3].password: required key is missing');
    expect(e.line).toBe(29);
  });

  it('reports tls without cert and key', () => {
    expect(findError(errors, 'listen[1].cert').message).toBe('listen[1].cert: tls needs cert (a PEM file path)');
    expect(findError(errors, 'listen[1].key').line).toBe(8);
  });

  it('names both entries of a duplicate with both lines', () => {
    const ext = findError(errors, 'defined twice');
    expect(ext.line).toBe(26);
    expect(ext.message).toBe('extensions[2].number: extension number 2001 is defined twice (also at line 20, extensions[0].number)');
    const listen = findError(errors, 'duplicate listen address');
    expect(listen.line).toBe(10);
    expect(listen.message).toContain('also at line 6, listen[0]');
  });

  it('checks minExpires ≤ defaultExpires ≤ maxExpires', () => {
    const e = findError(errors, 'registrar.defaultExpires');
    expect(e.line).toBe(16);
    expect(e.message).toContain('between minExpires (120) and maxExpires (3600)');
  });

  it('formats as file:line: message', () => {
    expect(formatConfigError({ file: 'a.yaml', line: 7, column: 3, message: 'boom' })).toBe('a.yaml:7: boom');
  });
});

describe('loadConfigText: other rejections', () => {
  it('reports YAML syntax errors with their line', () => {
    const errors = errorsOf(loadConfigFile(join(fixtures, 'invalid-syntax.yaml')));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0].line).toBe(6);
    expect(errors[0].message).not.toMatch(/\n/);
  });

  it('reports a duplicate YAML key', () => {
    const errors = errorsOf(loadConfigText(`tenant:\n  domain: a.example\n  domain: b.example\nlisten: [{transport: udp, port: 1}]\n`, 'd.yaml'));
    expect(errors[0].line).toBe(3);
  });

  it('rejects an unreadable file with one error and no exception', () => {
    const errors = errorsOf(loadConfigFile('/nonexistent/dir/hibiki.yaml'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: '/nonexistent/dir/hibiki.yaml', line: 1 });
    expect(errors[0].message).toContain('ENOENT');
  });

  it('rejects an empty file', () => {
    expect(errorsOf(loadConfigText('# nothing here\n', 'e.yaml'))[0].message).toContain('empty');
  });

  it('rejects a top level that is not a map', () => {
    const errors = errorsOf(loadConfigText('- a\n- b\n', 'l.yaml'));
    expect(errors).toHaveLength(1);
    expect(errors[0].line).toBe(1);
  });

  it('reports missing top-level keys and unknown top-level keys', () => {
    const errors = errorsOf(loadConfigText('log:\n  level: debug\nlisteners: []\n', 'k.yaml'));
    expect(errors.map((e) => e.message).sort()).toEqual(['listen: required key is missing', 'tenant: required key is missing', 'unknown key "listeners"']);
    expect(findError(errors, 'listeners').line).toBe(3);
  });

  it('keeps a leading zero written in an unquoted extension number, so it fails the first-digit rule', () => {
    const errors = errorsOf(loadConfigText(`${minimal}extensions:\n  - number: 02001\n    name: Z\n    password: zzzzzzzzz\n`, 'z.yaml'));
    expect(errors).toHaveLength(1);
    expect(errors[0].line).toBe(7);
  });

  it('enforces the number format: 2–15 digits, first 2–9', () => {
    const withNumber = (n: string) => `${minimal}extensions:\n  - number: "${n}"\n    name: N\n    password: long-enough-pw\n`;
    for (const good of ['20', '299999999999999', '8000']) expect(loadConfigText(withNumber(good), 'n.yaml').ok, good).toBe(true);
    for (const bad of ['2', '1000', '0123', '2999999999999999', '20a', '']) expect(loadConfigText(withNumber(bad), 'n.yaml').ok, bad).toBe(false);
  });

  it('rejects an extension without a password even when everything else is valid', () => {
    const errors = errorsOf(loadConfigText(`${minimal}extensions:\n  - number: "2001"\n    name: N\n`, 'p.yaml'));
    expect(errors.map((e) => e.message)).toEqual(['extensions[0].password: required key is missing']);
  });

  it('rejects bad ranges and enum values', () => {
    const cases: [string, string][] = [
      ['sip:\n  t1: 0\n', 'sip.t1'],
      ['sip:\n  t1: 5000\n  t2: 4000\n', 'sip.t2'],
      ['sip:\n  t1: 1.5\n', 'sip.t1'],
      ['registrar:\n  minExpires: 4000\n', 'registrar.minExpires'],
      ['registrar:\n  qualifyInterval: -1\n', 'registrar.qualifyInterval'],
      ['auth:\n  algorithms: [MD5, MD5]\n', 'auth.algorithms'],
      ['auth:\n  algorithms: [SHA-512]\n', 'auth.algorithms[0]'],
      ['log:\n  level: loud\n', 'log.level'],
      ['reload:\n  debounceMs: "soon"\n', 'reload.debounceMs'],
      ['data:\n  dir: ""\n', 'data.dir'],
    ];
    for (const [extra, path] of cases) {
      const errors = errorsOf(loadConfigText(minimal + extra, 'r.yaml'));
      expect(
        errors.map((e) => e.message.split(':')[0]),
        extra,
      ).toEqual([path]);
      expect(errors[0].line, extra).toBeGreaterThanOrEqual(6);
    }
  });

  it('rejects timer values no timer can hold (issue #14), and a session-timer maximum below the interval asked for', () => {
    const cases: [string, string][] = [
      ['calls:\n  sessionExpires: 999999999\n', 'calls.sessionExpires'],
      ['calls:\n  minSE: 999999999\n', 'calls.minSE'],
      ['calls:\n  maxSessionExpires: 999999999\n', 'calls.maxSessionExpires'],
      ['calls:\n  ringTimeout: 999999999\n', 'calls.ringTimeout'],
      ['park:\n  timeout: 999999999\n', 'park.timeout'],
      ['dtmf:\n  featureDigitTimeout: 999999999\n', 'dtmf.featureDigitTimeout'],
      ['reload:\n  debounceMs: 999999999\n', 'reload.debounceMs'],
      ['calls:\n  sessionExpires: 7200\n  maxSessionExpires: 3600\n', 'calls.maxSessionExpires'],
      ['calls:\n  sessionExpires: 100\n  minSE: 600\n', 'calls.sessionExpires'],
    ];
    for (const [extra, path] of cases) {
      const errors = errorsOf(loadConfigText(minimal + extra, 't.yaml'));
      expect(
        errors.map((e) => e.message.split(':')[0]),
        extra,
      ).toEqual([path]);
    }
    const { config } = okOf(loadConfigText(minimal, 'd.yaml'));
    expect(config.calls.maxSessionExpires).toBe(10_800);
  });

  it('rejects a listen host that is not an IP address and an empty listen list', () => {
    expect(errorsOf(loadConfigText('tenant:\n  domain: a.example\nlisten:\n  - {transport: udp, host: pbx.local, port: 5060}\n', 'h.yaml'))[0].line).toBe(4);
    expect(errorsOf(loadConfigText('tenant:\n  domain: a.example\nlisten: []\n', 'h.yaml'))[0].message).toContain('at least one');
  });

  it('survives hostile alias expansion without throwing', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    const errors = errorsOf(loadConfigText(bomb.join('\n'), 'bomb.yaml'));
    expect(errors[0].message).toMatch(/alias/i);
  });

  it('reads a file written to disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hibiki-cfg-'));
    try {
      const path = join(dir, 'x.yaml');
      writeFileSync(path, minimal);
      expect(loadConfigFile(path).ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
