// `ivrs:` in the YAML (F-IVR): defaults, destination strings, and the load-time errors with file:line —
// keys out of range, unknown destinations, number clashes and IVR-to-IVR loops without a caller's choice.
import { describe, expect, it } from 'vitest';
import { formatConfigError, type ConfigError } from '../../../src/config/errors.js';
import { loadConfigText, type ConfigLoadResult } from '../../../src/config/load.js';
import { parseIvrDestination } from '../../../src/config/ivr-schema.js';

const head = `tenant:
  domain: pbx.example.com
listen:
  - transport: udp
    port: 5060
extensions:
  - { number: "2001", name: Alice, password: a }
  - { number: "2002", name: Bob, password: b }
groups:
  - { number: "600", name: Sales, members: ["2001"] }
trunks:
  - { name: carrier, host: 192.0.2.1 }
routes:
  - { name: out, prefix: "0", minLength: 10, maxLength: 11, trunk: carrier }
`;
/** Lines of `head`: the yaml under test starts on the line after it. */
const HEAD_LINES = head.split('\n').length - 1;

function errorsOf(r: ConfigLoadResult): ConfigError[] {
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.errors;
}

function okOf(r: ConfigLoadResult) {
  if (!r.ok) throw new Error(`expected a valid config, got ${r.errors.map(formatConfigError).join('; ')}`);
  return r.config;
}

/** The one error whose message has `text`; its line is given relative to the yaml under test (1 = its first line). */
function oneError(yaml: string, text: string): { line: number; message: string; text: string } {
  const errors = errorsOf(loadConfigText(head + yaml, 'hibiki.yaml'));
  const hits = errors.filter((e) => e.message.includes(text));
  expect(hits, `errors containing "${text}" in ${JSON.stringify(errors)}`).toHaveLength(1);
  const e = hits[0]!;
  return { line: e.line - HEAD_LINES, message: e.message, text: formatConfigError(e) };
}

describe('ivrs: valid entries', () => {
  it('fills the defaults and keeps destinations as text', () => {
    const c = okOf(
      loadConfigText(
        `${head}ivrs:
  - number: 500
    name: Main
    greeting: ivr-welcome
    keys:
      1: 2001
      2: "600"
      3: voicemail:2002
      4: prompt:ivr-closed
      5: "03-1234-5678"
      "*": repeat
      "#": hangup
      0: "510"
  - number: "510"
    name: Sub
    greeting: { ja: ivr-welcome, en: ivr-welcome }
    keys: { 9: parent, 1: "500" }
    schedule:
      - { days: [sat, sun], destination: prompt:ivr-closed }
      - { holidayOnly: true, dates: ["2025-12-29"], destination: "500" }
inbound:
  - { did: "0399998888", destination: "500" }
`,
        'hibiki.yaml',
      ),
    );
    expect(c.ivrs[0]).toMatchObject({
      number: '500',
      language: 'ja',
      digitTimeout: 5,
      maxRetries: 3,
      invalidPrompt: 'ivr-invalid',
      noInputPrompt: 'ivr-no-input',
      allowExtensionDial: false,
      interDigitTimeout: 3,
      schedule: [],
      keys: { 1: '2001', 3: 'voicemail:2002', 5: '03-1234-5678', '*': 'repeat' },
    });
    expect(c.ivrs[1]!.schedule[0]).toEqual({ days: ['sat', 'sun'], from: '00:00', to: '24:00', holidayOnly: false, destination: 'prompt:ivr-closed' });
    expect(c.tenant.japaneseHolidays).toBe(true);
  });

  it("a group's no-answer destination and an extension's forwarding may name an IVR", () => {
    okOf(
      loadConfigText(
        head.replace('members: ["2001"] }', 'members: ["2001"], noAnswerDestination: "500" }') +
          `ivrs:
  - { number: "500", name: Main, greeting: ivr-welcome }
`,
        'hibiki.yaml',
      ),
    );
  });
});

describe('ivrs: load-time errors with file:line', () => {
  it('a key out of range names the key and its line', () => {
    const e = oneError(
      `ivrs:
  - number: "500"
    name: Main
    greeting: ivr-welcome
    keys:
      1: "2001"
      A: "2002"
`,
      'key "A"',
    );
    expect(e.line).toBe(7);
    expect(e.text).toMatch(/^hibiki\.yaml:\d+: ivrs\[0\]\.keys\.A: IVR 500: key "A" is not one of 0–9, \* and #/);
  });

  it('an unknown number, an unknown voicemail box and a malformed destination are errors on their lines', () => {
    const yaml = `ivrs:
  - number: "500"
    name: Main
    greeting: ivr-welcome
    keys:
      1: "2999"
      2: voicemail:2999
      3: "sales"
    defaultDestination: "4444"
`;
    expect(oneError(yaml, 'unknown destination 2999').line).toBe(6);
    expect(oneError(yaml, 'unknown voicemail box 2999').line).toBe(7);
    expect(oneError(yaml, 'a destination is a number').line).toBe(8);
    expect(oneError(yaml, 'unknown destination 4444').line).toBe(9);
  });

  it('an IVR number clashing with an extension, a group or another IVR', () => {
    const yaml = `ivrs:
  - { number: "2001", name: A, greeting: ivr-welcome }
  - { number: "600", name: B, greeting: ivr-welcome }
  - { number: "700", name: C, greeting: ivr-welcome }
  - { number: "700", name: D, greeting: ivr-welcome }
`;
    expect(oneError(yaml, 'clashes with extension 2001').line).toBe(2);
    expect(oneError(yaml, 'clashes with group 600').line).toBe(3);
    const twice = oneError(yaml, 'IVR number 700 is defined twice');
    expect(twice.line).toBe(5);
    expect(twice.message).toContain(`also at line ${HEAD_LINES + 4}`);
  });

  it('defaults and schedule rows that lead from IVR to IVR and back are a loop naming both entries', () => {
    const e = oneError(
      `ivrs:
  - number: "500"
    name: Main
    greeting: ivr-welcome
    defaultDestination: "510"
  - number: "510"
    name: Night
    greeting: ivr-welcome
    schedule:
      - { from: "18:00", to: "24:00", destination: "500" }
`,
      'IVR loop',
    );
    expect(e.line).toBe(5);
    expect(e.message).toContain('500 → 510 (defaultDestination) → 500 (schedule[0])');
    expect(e.message).toContain(`also at line ${HEAD_LINES + 10}`);
  });

  it('a loop through three IVRs is found too; an IVR sending its own default to itself is refused', () => {
    const yaml = `ivrs:
  - { number: "500", name: A, greeting: ivr-welcome, defaultDestination: "510" }
  - { number: "510", name: B, greeting: ivr-welcome, defaultDestination: "520" }
  - { number: "520", name: C, greeting: ivr-welcome, defaultDestination: "500" }
  - { number: "530", name: D, greeting: ivr-welcome, defaultDestination: "530" }
`;
    expect(oneError(yaml, 'IVR loop').message).toContain('500 → 510 (defaultDestination) → 520 (defaultDestination) → 500 (defaultDestination)');
    expect(oneError(yaml, 'sends its calls back to itself').line).toBe(5);
  });

  it('keys back to a parent menu are a caller\u2019s choice, not a loop', () => {
    okOf(
      loadConfigText(
        `${head}ivrs:
  - { number: "500", name: A, greeting: ivr-welcome, keys: { 1: "510" } }
  - { number: "510", name: B, greeting: ivr-welcome, keys: { 9: "500", 8: parent }, defaultDestination: parent }
`,
        'hibiki.yaml',
      ),
    );
  });

  it('defaultDestination repeat would never end; an inbound DID naming an unknown IVR is an error', () => {
    const yaml = `ivrs:
  - { number: "500", name: A, greeting: ivr-welcome, defaultDestination: repeat }
inbound:
  - { did: "0399998888", destination: "501" }
`;
    expect(oneError(yaml, 'play the menu forever').line).toBe(2);
    expect(oneError(yaml, 'unknown extension, group, IVR, queue or voicemail box 501').line).toBe(4);
  });

  it('a schedule row with to before from, and a bad date', () => {
    const yaml = `ivrs:
  - number: "500"
    name: A
    greeting: ivr-welcome
    schedule:
      - { from: "18:00", to: "09:00", destination: hangup }
      - { dates: ["2025-13-01"], destination: hangup }
`;
    expect(oneError(yaml, 'must be after from').line).toBe(6);
    expect(oneError(yaml, 'a date is YYYY-MM-DD').line).toBe(7);
  });
});

describe('destination strings', () => {
  it('parses every form and refuses others', () => {
    expect(parseIvrDestination('2001')).toEqual({ kind: 'number', number: '2001' });
    expect(parseIvrDestination('03-1234-5678')).toEqual({ kind: 'number', number: '0312345678' });
    expect(parseIvrDestination('voicemail:2001')).toEqual({ kind: 'voicemail', box: '2001' });
    expect(parseIvrDestination('prompt:ivr-closed')).toEqual({ kind: 'prompt', prompt: 'ivr-closed' });
    expect(parseIvrDestination('prompt:/srv/audio/closed.wav')).toEqual({ kind: 'prompt', prompt: '/srv/audio/closed.wav' });
    for (const k of ['repeat', 'parent', 'hangup'] as const) expect(parseIvrDestination(k)).toEqual({ kind: k });
    for (const bad of ['', 'voicemail:', 'voicemail:abc', 'prompt:', 'queue:300', 'sales', '20 01']) expect(parseIvrDestination(bad)).toBeUndefined();
  });

  it('voicemail:<box> names an extension with a box or a shared box; an IVR number may not clash with a box or the pilot', () => {
    const boxes = `voicemailBoxes:\n  - { number: "3500", name: Sales box }\n`;
    okOf(loadConfigText(`${head}${boxes}ivrs:\n  - { number: "500", name: A, greeting: ivr-welcome, keys: { 1: "voicemail:3500", 2: "voicemail:2001", 3: "3500" } }\n`, 'hibiki.yaml'));
    const noBox = head.replace('{ number: "2002", name: Bob, password: b }', '{ number: "2002", name: Bob, password: b, voicemail: false }');
    const errors = errorsOf(loadConfigText(`${noBox}ivrs:\n  - { number: "500", name: A, greeting: ivr-welcome, keys: { 1: "voicemail:2002" } }\n`, 'hibiki.yaml'));
    expect(errors.map((e) => e.message).join('\n')).toContain('unknown voicemail box 2002');
    expect(oneError(`${boxes}ivrs:\n  - { number: "3500", name: A, greeting: ivr-welcome }\n`, 'clashes with voicemail box 3500').line).toBe(4);
    expect(oneError(`voicemail: { pilot: "59" }\nivrs:\n  - { number: "590", name: A, greeting: ivr-welcome }\n`, 'overlaps the voicemail pilot 59').line).toBe(3);
  });
});

describe('prompt files', () => {
  it('a greeting WAV file that does not exist is an error on its line; an existing one is accepted', () => {
    expect(oneError(`ivrs:\n  - { number: "500", name: A, greeting: /nonexistent/greeting.wav }\n`, 'prompt file /nonexistent/greeting.wav not found').line).toBe(2);
    const shipped = new URL('../../../prompts/ja/ivr-welcome.wav', import.meta.url).pathname;
    okOf(loadConfigText(`${head}ivrs:\n  - { number: "500", name: A, greeting: { ja: "${shipped}" } }\n`, 'hibiki.yaml'));
  });
});
