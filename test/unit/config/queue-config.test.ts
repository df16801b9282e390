// The queues section of the YAML (issue #11): defaults, and every clash or bad reference is an error naming
// the line and reason; removing an extension that is an agent is refused unless forced.
import { describe, expect, it } from 'vitest';
import { formatConfigError, type ConfigError } from '../../../src/config/errors.js';
import { loadConfigText, type ConfigLoadResult } from '../../../src/config/load.js';
import { removeExtensionFromText } from '../../../src/config/remove-extension.js';

const head = `tenant:
  domain: pbx.example.com
listen:
  - transport: udp
    port: 5060
extensions:
  - { number: "2001", name: Alice, password: a }
  - { number: "2002", name: Bob, password: b }
  - { number: "2003", name: Carol, password: c }
`;

function errorsOf(r: ConfigLoadResult): ConfigError[] {
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.errors;
}

function okOf(r: ConfigLoadResult) {
  if (!r.ok) throw new Error(`expected a valid config, got ${r.errors.map(formatConfigError).join('; ')}`);
  return r.config;
}

function oneError(yaml: string, text: string): ConfigError {
  const errors = errorsOf(loadConfigText(head + yaml, 'hibiki.yaml'));
  const hits = errors.filter((e) => e.message.includes(text));
  expect(hits, JSON.stringify(errors)).toHaveLength(1);
  return hits[0]!;
}

describe('queue config', () => {
  it('fills the documented defaults; members are numbers or {extension, level}', () => {
    const c = okOf(loadConfigText(head + 'queues:\n  - { number: 6000, name: サポート, members: ["2001", { extension: "2002", level: 2 }] }\n', 'hibiki.yaml'));
    expect(c.queues[0]).toMatchObject({
      number: '6000',
      strategy: 'ringall',
      maxWaiting: 20,
      timeout: 300,
      agentRingTime: 15,
      retryDelay: 2,
      ringBeforeQueueSeconds: 0,
      periodicAnnouncement: 'queue-periodic',
      periodicAnnouncementInterval: 30,
      announcePosition: true,
      announceWaitTime: true,
      moh: 'default',
      callsPerAgent: 1,
      autoPause: false,
      autoPauseSeconds: 0,
      members: [
        { extension: '2001', level: 1 },
        { extension: '2002', level: 2 },
      ],
    });
    expect(c.queues[0]!.wrapupSeconds).toBeUndefined();
    expect(c.serviceCodes).toMatchObject({ agentPause: '*51', agentResume: '*52' });
  });

  it('refuses a member that is not an extension, twice listed, or a level out of 1–9, naming the line', () => {
    const e = oneError('queues:\n  - number: "6000"\n    name: Support\n    members: ["2001", "2009"]\n', 'queue 6000 member 2009 is not an extension');
    expect(e.line).toBe(13);
    oneError('queues:\n  - { number: "6000", name: S, members: ["2001", "2001"] }\n', '2001 is listed twice in queue 6000');
    errorsOf(loadConfigText(head + 'queues:\n  - { number: "6000", name: S, members: [{ extension: "2001", level: 10 }] }\n', 'hibiki.yaml'));
  });

  it('refuses a number that clashes with another local number or a service code', () => {
    oneError('queues:\n  - { number: "2001", name: S }\n', 'queue 2001 clashes with extension 2001');
    oneError('groups:\n  - { number: "600", name: G, members: ["2001"] }\nqueues:\n  - { number: "600", name: S }\n', 'queue 600 clashes with group 600');
    oneError('queues:\n  - { number: "6000", name: S }\n  - { number: "6000", name: T }\n', 'queue number 6000 is defined twice');
    oneError('serviceCodes: { agentPause: "60" }\nqueues:\n  - { number: "6000", name: S }\n', 'overlaps service code serviceCodes.agentPause 60');
  });

  it('checks destinations: exit key and destination together, no repeat/parent, known boxes, not itself', () => {
    oneError('queues:\n  - { number: "6000", name: S, exitKey: "0" }\n', 'exitKey and exitDestination go together');
    oneError('queues:\n  - { number: "6000", name: S, timeoutDestination: repeat }\n', 'a queue destination is a number');
    oneError('queues:\n  - { number: "6000", name: S, overflowDestination: "voicemail:7777" }\n', 'unknown voicemail box 7777');
    oneError('queues:\n  - { number: "6000", name: S, overflowDestination: "6000" }\n', 'cannot send its calls back to itself');
    oneError('queues:\n  - { number: "6000", name: S, timeoutDestination: "4444" }\n', 'queue 6000: unknown destination 4444');
    okOf(loadConfigText(head + 'queues:\n  - { number: "6000", name: S, timeoutDestination: "2003", exitKey: "*", exitDestination: hangup }\n', 'hibiki.yaml'));
    // Overflow from 6000 to 6001 and back would go round at once.
    oneError('queues:\n  - { number: "6000", name: S, overflowDestination: "6001" }\n  - { number: "6001", name: T, overflowDestination: "6000" }\n', 'queue overflow loop: 6000 → 6001 → 6000');
    okOf(
      loadConfigText(
        head + 'queues:\n  - { number: "6000", name: S, overflowDestination: "6001", timeoutDestination: "6001" }\n  - { number: "6001", name: T, timeoutDestination: "6000" }\n',
        'hibiki.yaml',
      ),
    );
  });

  it('a queue is a destination for DIDs, IVR keys and forwarding', () => {
    const c = okOf(
      loadConfigText(
        head +
          'trunks:\n  - { name: carrier, host: 192.0.2.10 }\ninbound:\n  - { did: "0312345678", destination: "6000" }\nivrs:\n  - { number: "500", name: M, greeting: ivr-welcome, keys: { 1: "6000" } }\nqueues:\n  - { number: "6000", name: S }\n',
        'hibiki.yaml',
      ),
    );
    expect(c.inbound[0]!.destination).toBe('6000');
  });

  it('removing an agent extension is refused unless forced, which takes it out of the queue', () => {
    const yaml = `${head}queues:\n  - number: "6000"\n    name: S\n    members: ["2001", { extension: "2002", level: 2 }]\n`;
    const refused = removeExtensionFromText(yaml, 'h.yaml', '2002', false);
    expect(refused.ok).toBe(false);
    expect(refused.ok ? '' : refused.reason).toContain('queue 6000 (line 13)');
    const forced = removeExtensionFromText(yaml, 'h.yaml', '2002', true);
    expect(forced.ok).toBe(true);
    expect(okOf(loadConfigText(forced.text!, 'h.yaml')).queues[0]!.members).toEqual([{ extension: '2001', level: 1 }]);
  });
});
