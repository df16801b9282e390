// Voicemail in the YAML (F-VM): defaults; PINs checked at load with the line named (4–8 digits, no 4+
// sequential or identical digits); shared boxes' numbers unique against everything else; the pilot prefix-
// free against the service codes; forwarding and group destinations naming a box that exists; the resolver.
import { describe, expect, it } from 'vitest';
import { formatConfigError, type ConfigError } from '../../../src/config/errors.js';
import { loadConfigText, type ConfigLoadResult } from '../../../src/config/load.js';
import { mailbox, mailboxes } from '../../../src/features/voicemail/mailbox.js';
import { pinProblem } from '../../../src/rules/pin.js';

const head = `tenant:
  domain: pbx.example.com
listen:
  - transport: udp
    port: 5060
extensions:
  - { number: "2001", name: Alice, password: a }
  - { number: "2002", name: Bob, password: b, pin: "7351", email: bob@example.com, voicemailAttach: false }
  - { number: "2003", name: Carol, password: c, voicemail: false }
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

describe('PIN rules', () => {
  it('accepts 4–8 digits without runs of 4 sequential or identical digits', () => {
    for (const ok of ['7351', '1357', '12350', '1123', '11122', '0987', '9871', '10203040', '13572468']) expect(pinProblem(ok), ok).toBeUndefined();
  });
  it('refuses the rest, saying why', () => {
    expect(pinProblem('123')).toMatch(/4–8 digits/);
    expect(pinProblem('123456789')).toMatch(/4–8 digits/);
    expect(pinProblem('12a4')).toMatch(/4–8 digits/);
    for (const seq of ['1234', '9876', '05678', '73210', '86789']) expect(pinProblem(seq), seq).toMatch(/sequential/);
    for (const same of ['1111', '90000', '12222395']) expect(pinProblem(same), same).toMatch(/identical/);
  });

  it("resolves boxes: an extension's own (lamp on its own phone), a shared one (lamps on its notify list), none for voicemail: false", () => {
    const c = okOf(loadConfigText(head + 'voicemailBoxes:\n  - { number: "3500", name: 営業部, pin: "2468", email: sales@example.com, notify: ["2001", "2002"], language: en }\n', 'hibiki.yaml'));
    expect(mailbox(c, '2002')).toEqual({ number: '2002', name: 'Bob', pin: '7351', email: 'bob@example.com', attach: false, notify: ['2002'], language: 'ja', owner: '2002' });
    expect(mailbox(c, '3500')).toEqual({ number: '3500', name: '営業部', pin: '2468', email: 'sales@example.com', attach: true, notify: ['2001', '2002'], language: 'en', owner: undefined });
    expect(mailbox(c, '2003')).toBeUndefined();
    expect(mailbox(c, '4000')).toBeUndefined();
    expect(mailboxes(c).map((m) => m.number)).toEqual(['2001', '2002', '3500']);
  });
});

describe('voicemail config', () => {
  it('fills the defaults: every extension has a box, the pilot is 1410', () => {
    const c = okOf(loadConfigText(head, 'hibiki.yaml'));
    expect(c.voicemail).toEqual({ pilot: '1410', maxMessages: 20, maxMessageSeconds: 180, maxSilenceSeconds: 10, minMessageSeconds: 1, maxGreetingSeconds: 60, pinAttempts: 3, digitTimeout: 5 });
    expect(c.extensions[0]).toMatchObject({ voicemail: true, voicemailAttach: true });
    expect(c.extensions[0]!.pin).toBeUndefined();
    expect(c.voicemailBoxes).toEqual([]);
  });

  it('refuses a weak PIN at load, naming the line; numbers in YAML are read as digits', () => {
    const e = oneError('  - { number: "2004", name: Dave, password: d, pin: "1234" }\n', 'sequential');
    expect(e.line).toBe(10);
    expect(formatConfigError(e)).toMatch(/^hibiki\.yaml:10/);
    oneError('  - { number: "2004", name: Dave, password: d, pin: 5555 }\n', 'identical');
    oneError('  - { number: "2004", name: Dave, password: d, pin: "12" }\n', '4–8 digits');
    const c = okOf(loadConfigText(head + '  - { number: "2004", name: Dave, password: d, pin: 4826 }\n', 'hibiki.yaml'));
    expect(c.extensions[3]!.pin).toBe('4826');
  });

  it('checks shared boxes: a number of their own, notify lists of extensions, a valid PIN', () => {
    const box = (b: string) => `voicemailBoxes:\n  - ${b}\n`;
    oneError(box('{ number: "2001", name: X }'), 'voicemail box 2001 clashes with extension 2001');
    oneError('groups:\n  - { number: "600", name: G, members: ["2001"] }\n' + box('{ number: "600", name: X }'), 'clashes with group 600');
    oneError(box('{ number: "9005", name: X }'), 'clashes with the park lot or a park slot');
    oneError(box('{ number: "3500", name: X, notify: ["2009"] }'), 'notifies 2009, which is not an extension');
    oneError(box('{ number: "3500", name: X, pin: "0000" }'), 'identical');
    oneError('voicemailBoxes:\n  - { number: "3500", name: X }\n  - { number: "3500", name: Y }\n', 'voicemail box 3500 is defined twice');
  });

  it('lets a DID ring a shared box; a route prefix may not swallow a box number', () => {
    const boxes = 'voicemailBoxes:\n  - { number: "3500", name: X }\ntrunks:\n  - { name: carrier, host: 192.0.2.10 }\n';
    okOf(loadConfigText(head + boxes + 'inbound:\n  - { did: "0312345678", destination: "3500" }\n', 'hibiki.yaml'));
    oneError(boxes + 'inbound:\n  - { did: "0312345678", destination: "3600" }\n', 'unknown extension, group, IVR, queue or voicemail box 3600');
    oneError(boxes + 'routes:\n  - { name: out, prefix: "35", trunk: carrier }\n', 'route prefix 35 overlaps local number 3500');
  });

  it('keeps the pilot prefix-free against the service codes and local numbers', () => {
    oneError('voicemail: { pilot: "142" }\n', 'voicemail pilot 142 overlaps service code 1421');
    oneError('voicemail: { pilot: "20" }\n', 'voicemail pilot 20 overlaps number 2001');
  });

  it('forwarding to voicemail: the own box or a named one, which must exist and take messages', () => {
    const c = okOf(
      loadConfigText(
        head.replace('password: a }', 'password: a, forwarding: { noAnswer: voicemail, busy: "voicemail:3500" } }') +
          'voicemailBoxes:\n  - { number: "3500", name: 営業部, notify: ["2001", "2002"] }\n',
        'hibiki.yaml',
      ),
    );
    expect(c.extensions[0]!.forwarding).toMatchObject({ noAnswer: 'voicemail', busy: 'voicemail:3500' });
    const refused = (yaml: string, text: string) => {
      const errors = errorsOf(loadConfigText(yaml, 'hibiki.yaml'));
      expect(
        errors.filter((e) => e.message.includes(text)),
        JSON.stringify(errors),
      ).toHaveLength(1);
    };
    refused(head.replace('voicemail: false }', 'voicemail: false, forwarding: { noAnswer: voicemail } }'), '2003 has no voicemail box');
    refused(head.replace('password: a }', 'password: a, forwarding: { unreachable: "voicemail:3600" } }'), 'no voicemail box 3600');
    refused(head.replace('password: a }', 'password: a, forwarding: { unreachable: "voicemail:2003" } }'), 'no voicemail box 2003');
    refused(head + 'groups:\n  - { number: "600", name: G, members: ["2001"], noAnswerDestination: voicemail }\n', '600 has no voicemail box');
    okOf(loadConfigText(head + 'groups:\n  - { number: "600", name: G, members: ["2001"], noAnswerDestination: "voicemail:2002" }\n', 'hibiki.yaml'));
  });

  it("resolves boxes: an extension's own (lamp on its own phone), a shared one (lamps on its notify list), none for voicemail: false", () => {
    const c = okOf(loadConfigText(head + 'voicemailBoxes:\n  - { number: "3500", name: 営業部, pin: "2468", email: sales@example.com, notify: ["2001", "2002"], language: en }\n', 'hibiki.yaml'));
    expect(mailbox(c, '2002')).toEqual({ number: '2002', name: 'Bob', pin: '7351', email: 'bob@example.com', attach: false, notify: ['2002'], language: 'ja', owner: '2002' });
    expect(mailbox(c, '3500')).toEqual({ number: '3500', name: '営業部', pin: '2468', email: 'sales@example.com', attach: true, notify: ['2001', '2002'], language: 'en', owner: undefined });
    expect(mailbox(c, '2003')).toBeUndefined();
    expect(mailbox(c, '4000')).toBeUndefined();
    expect(mailboxes(c).map((m) => m.number)).toEqual(['2001', '2002', '3500']);
  });
});
