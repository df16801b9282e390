// The hot-desk settings of the YAML (F-HOTDESK): defaults, the per-extension flag, the expiry forms, and the
// login/logout codes inside the prefix-free service codes.
import { describe, expect, it } from 'vitest';
import { formatConfigError } from '../../../src/config/errors.js';
import { loadConfigText, type ConfigLoadResult } from '../../../src/config/load.js';

const head = `tenant:
  domain: pbx.example.com
listen:
  - transport: udp
    port: 5060
`;

function load(yaml: string, extensions = '  - { number: "2001", name: Alice, password: a }\n'): ConfigLoadResult {
  return loadConfigText(`${head}extensions:\n${extensions}${yaml}`, 'hibiki.yaml');
}

function okOf(r: ConfigLoadResult) {
  if (!r.ok) throw new Error(`expected a valid config, got ${r.errors.map(formatConfigError).join('; ')}`);
  return r.config;
}

function messages(r: ConfigLoadResult): string[] {
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.errors.map(formatConfigError);
}

describe('hot-desk config', () => {
  it('defaults: no hot-desk devices, only they may log in, logins end at midnight, codes 998/997', () => {
    const c = okOf(load(''));
    expect(c.extensions[0]!.hotDesk).toBe(false);
    expect(c.hotDesk).toEqual({ anyDevice: false, expires: 'endOfDay', pinAttempts: 3, digitTimeout: 5 });
    expect(c.serviceCodes.hotDeskLogin).toBe('998');
    expect(c.serviceCodes.hotDeskLogout).toBe('997');
  });

  it('accepts a hot-desk extension, anyDevice and expiry in hours', () => {
    const c = okOf(load('hotDesk: { anyDevice: true, expires: 8, pinAttempts: 5 }\n', '  - { number: "8001", name: Desk, password: d, hotDesk: true }\n'));
    expect(c.extensions[0]!.hotDesk).toBe(true);
    expect(c.hotDesk).toMatchObject({ anyDevice: true, expires: 8, pinAttempts: 5 });
  });

  it('rejects a bad expiry and unknown keys', () => {
    expect(messages(load('hotDesk: { expires: tomorrow }\n')).join('\n')).toContain('expires is endOfDay or a number of hours');
    expect(messages(load('hotDesk: { expires: 0 }\n')).join('\n')).toContain('expires is endOfDay or a number of hours');
    expect(messages(load('hotDesk: { expiry: 8 }\n')).join('\n')).toMatch(/hibiki\.yaml:\d+: .*expiry/);
  });

  it('keeps the codes prefix-free against the other codes and local numbers', () => {
    expect(messages(load('serviceCodes: { hotDeskLogin: "14" }\n')).join('\n')).toContain('starts with 14 (hotDeskLogin)');
    expect(messages(load('', '  - { number: "9975", name: Alice, password: a }\n')).join('\n')).toContain('service code 997 overlaps number 9975');
    expect(messages(load('serviceCodes: { hotDeskLogout: "998" }\n')).join('\n')).toContain('service code 998 is also hotDeskLogin');
  });
});
