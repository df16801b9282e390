// The conference section of the YAML (issue #15): default rooms and keys, PINs, clashes with other numbers.
import { describe, expect, it } from 'vitest';
import { formatConfigError, type ConfigError } from '../../../src/config/errors.js';
import { loadConfigText, type ConfigLoadResult } from '../../../src/config/load.js';

const head = `tenant:
  domain: pbx.example.com
listen:
  - transport: udp
    port: 5060
extensions:
  - { number: "2001", name: Alice, password: a }
`;

function messages(r: ConfigLoadResult): string[] {
  return r.ok ? [] : r.errors.map((e: ConfigError) => e.message);
}

function okOf(r: ConfigLoadResult) {
  if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('; '));
  return r.config;
}

describe('conference config', () => {
  it('has rooms 9201–9203 without PIN and the documented keys by default', () => {
    const c = okOf(loadConfigText(head, 'hibiki.yaml'));
    expect(c.conference.rooms.map((r) => [r.number, r.pin, r.maxParticipants])).toEqual([
      ['9201', undefined, 10],
      ['9202', undefined, 10],
      ['9203', undefined, 10],
    ]);
    expect(c.conference.keys).toEqual({ mute: '1', quieter: '4', louder: '6', count: '0', leave: '#' });
  });

  it('refuses clashes, duplicate rooms, a moderator PIN equal to the PIN and a key used twice', () => {
    expect(
      messages(loadConfigText(head + 'conference:\n  rooms:\n    - { number: "2001" }\n', 'h.yaml')).some((m) => m.includes('conference room 2001 clashes with extension 2001')),
      messages(loadConfigText(head + 'conference:\n  rooms:\n    - { number: "2001" }\n', 'h.yaml')).join('; '),
    ).toBe(true);
    expect(
      messages(loadConfigText(head + 'conference:\n  rooms:\n    - { number: "9300" }\n    - { number: "9300" }\n', 'h.yaml')).some((m) => m.includes('conference room 9300 is defined twice')),
      messages(loadConfigText(head + 'conference:\n  rooms:\n    - { number: "9300" }\n    - { number: "9300" }\n', 'h.yaml')).join('; '),
    ).toBe(true);
    expect(
      messages(loadConfigText(head + 'conference:\n  rooms:\n    - { number: "9300", pin: "12", moderatorPin: "12" }\n', 'h.yaml')).some((m) =>
        m.includes('the moderator PIN must differ from the PIN'),
      ),
      messages(loadConfigText(head + 'conference:\n  rooms:\n    - { number: "9300", pin: "12", moderatorPin: "12" }\n', 'h.yaml')).join('; '),
    ).toBe(true);
    expect(
      messages(loadConfigText(head + 'conference:\n  keys: { mute: "4" }\n', 'h.yaml')).some((m) => m.includes('key 4 is also mute')),
      messages(loadConfigText(head + 'conference:\n  keys: { mute: "4" }\n', 'h.yaml')).join('; '),
    ).toBe(true);
    expect(
      messages(loadConfigText(head + 'queues:\n  - { number: "9201", name: Q }\n', 'h.yaml')).some((m) => m.includes('conference room 9201 clashes with queue 9201')),
      messages(loadConfigText(head + 'queues:\n  - { number: "9201", name: Q }\n', 'h.yaml')).join('; '),
    ).toBe(true);
  });
});
