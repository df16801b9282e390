// Names that go into SIP headers (display names, prefixes) must not carry a line break: it would end the header
// and let the rest inject headers into the INVITEs sent to phones and trunks (review finding of issue #12).
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';

const base = (name: string, extra = '') => `tenant: {domain: t.example}
listen: [{transport: udp, host: 127.0.0.1, port: 5060}]
extensions:
  - number: '2001'
    name: ${JSON.stringify(name)}
    password: long-enough-pw
${extra}`;

describe('text that goes into SIP headers', () => {
  it('refuses a display name with a line break, naming the field', () => {
    const r = loadConfigText(base('Taro\r\nX-Injected: yes'), 'h.yaml');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatchObject({ line: 5, path: 'extensions[0].name', message: expect.stringMatching(/control characters/) });
  });

  it('refuses a group display prefix with a control character', () => {
    const r = loadConfigText(base('Taro', `groups:\n  - number: '600'\n    name: Sales\n    members: ['2001']\n    displayPrefix: "[営業]\\n"\n`), 'h.yaml');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.path)).toContain('groups[0].displayPrefix');
  });

  it('accepts any other UTF-8', () => {
    expect(loadConfigText(base('山田 太郎 "Taro"'), 'h.yaml').ok).toBe(true);
  });
});
