// The routing sections of the YAML (issue #5): every clash or bad reference is an error naming the
// file, line and reason, and a valid file gets the documented defaults.
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

/** A trunk and a route taking every number that starts with 0, so outside forwarding destinations are routed. */
const outside = `trunks:
  - { name: carrier, host: 192.0.2.10 }
routes:
  - { name: out, prefix: "0", trunk: carrier }
`;

describe('routing config', () => {
  it('fills the defaults of groups, forwarding, restrictions and service codes', () => {
    const c = okOf(loadConfigText(head + 'groups:\n  - { number: 600, name: 営業, members: ["2001", "2002"] }\n', 'hibiki.yaml'));
    expect(c.groups[0]).toMatchObject({ number: '600', strategy: 'ringall', memberRingTime: 20, timeout: 60 });
    expect(c.forwarding).toEqual({ maxForwardHops: 5, unreachableTimeout: 2, presentCalledNumber: false });
    expect(c.extensions[0]).toMatchObject({ dnd: false, outboundClass: 'domestic', blockList: [], rejectAnonymous: false, forwarding: { destinations: [], noAnswerTimeout: 20 } });
    expect(c.serviceCodes).toMatchObject({ forwardUnconditionalOn: '1421', dndOff: '1430', withhold: '184', pickup: '*8', directedPickup: '**' });
    expect(c.restrictions.internationalPrefixes).toEqual(['010', '+']);
  });

  it('refuses a group member that is not an extension (deleting a member extension), naming the line', () => {
    const e = oneError('groups:\n  - number: "600"\n    name: Sales\n    members: ["2001", "2009"]\n', 'member 2009 is not an extension');
    expect(e.line).toBe(13);
    oneError('pickupGroups:\n  - { number: "1", members: ["2009"] }\n', 'pickup group 1 member 2009 is not an extension');
  });

  it('refuses a group number that clashes with an extension or another group', () => {
    oneError('groups:\n  - { number: "2001", name: A, members: ["2002"] }\n', 'clashes with extension 2001');
    oneError('groups:\n  - { number: "600", name: A, members: ["2002"] }\n  - { number: "600", name: B, members: ["2003"] }\n', 'group number 600 is defined twice');
  });

  it('refuses forwarding to itself, to an emergency or 1XX number, and abroad for a domestic extension', () => {
    const yaml = (dest: string, cls = 'domestic') =>
      head.replace('{ number: "2001", name: Alice, password: a }', `{ number: "2001", name: Alice, password: a, outboundClass: ${cls}, forwarding: { unconditional: "${dest}" } }`) + outside;
    const err = (dest: string, cls?: string) =>
      errorsOf(loadConfigText(yaml(dest, cls), 'hibiki.yaml'))
        .map((e) => e.message)
        .join('; ');
    expect(err('2001')).toContain('cannot forward to itself');
    expect(err('110')).toContain('emergency or service number');
    expect(err('117')).toContain('emergency or service number');
    expect(err('0101234567')).toContain('international calls are not allowed');
    expect(okOf(loadConfigText(yaml('0101234567', 'international'), 'hibiki.yaml')).extensions[0]?.forwarding.unconditional).toBe('0101234567');
    expect(okOf(loadConfigText(yaml('03-1234-5678'), 'hibiki.yaml')).extensions[0]?.forwarding.unconditional).toBe('0312345678');
  });

  it('refuses a forwarding destination with the 184/186 prefix, a park number or no route', () => {
    const yaml = (dest: string, extra = outside) =>
      head.replace('{ number: "2001", name: Alice, password: a }', `{ number: "2001", name: Alice, password: a, outboundClass: international, forwarding: { busy: "${dest}" } }`) + extra;
    const err = (dest: string, extra?: string) =>
      errorsOf(loadConfigText(yaml(dest, extra), 'hibiki.yaml'))
        .map((e) => e.message)
        .join('; ');
    // 184110 would really be 110, 1842001 the extension itself, 186010… a way round the class.
    for (const d of ['184110', '1842001', '1842002', '1860101234567']) expect(err(d), d).toContain('cannot carry the 184/186 prefix');
    // The configured prefixes count, not the defaults.
    const usCodes = outside + 'serviceCodes:\n  withhold: "*67"\n  present: "*65"\n';
    expect(err('1840312345678', usCodes)).toContain('no route to 1840312345678');
    expect(err('9000')).toContain('9000 is a park slot or the park lot');
    expect(err('9005')).toContain('9005 is a park slot or the park lot');
    expect(err('9')).toContain('no route to 9');
    expect(err('0312345678', '')).toContain('no route to 0312345678');
    expect(okOf(loadConfigText(yaml('0312345678'), 'hibiki.yaml')).extensions[0]?.forwarding.busy).toBe('0312345678');
    // A route only takes the lengths it was given.
    const tokyo = outside.replace('prefix: "0"', 'prefix: "03", minLength: 10, maxLength: 10');
    expect(okOf(loadConfigText(yaml('0312345678', tokyo), 'hibiki.yaml')).extensions[0]?.forwarding.busy).toBe('0312345678');
    expect(err('031234567', tokyo)).toContain('no route to 031234567');
  });

  it("checks a group's noAnswerDestination like a forwarding destination, without an outbound class", () => {
    const group = (dest: string) => `groups:\n  - { number: "600", name: Sales, members: ["2001", "2002"], noAnswerDestination: "${dest}" }\n` + outside;
    const msg = (dest: string, extra = '') =>
      errorsOf(loadConfigText(head + group(dest) + extra, 'hibiki.yaml'))
        .map((e) => e.message)
        .join('; ');
    expect(msg('600')).toContain('group 600 cannot send its unanswered calls to itself');
    expect(msg('110')).toContain('emergency or service number');
    expect(msg('117')).toContain('emergency or service number');
    expect(msg('184110')).toContain('cannot carry the 184/186 prefix');
    expect(msg('9001')).toContain('is a park slot');
    expect(msg('9')).toContain('no route to 9');
    expect(msg('0990000000', 'restrictions:\n  list: ["0990*"]\n')).toContain('restriction list');
    // Groups are not bound by an outbound class: an international number is fine.
    for (const ok of ['2003', '0312345678', '0101234567890']) {
      expect(okOf(loadConfigText(head + group(ok), 'hibiki.yaml')).groups[0]?.noAnswerDestination, ok).toBe(ok);
    }
    // Another group is local.
    const two = `groups:\n  - { number: "600", name: A, members: ["2001"], noAnswerDestination: "601" }\n  - { number: "601", name: B, members: ["2002"] }\n`;
    expect(okOf(loadConfigText(head + two, 'hibiki.yaml')).groups[0]?.noAnswerDestination).toBe('601');
  });

  it('refuses overlapping service codes and a code that overlaps a number', () => {
    oneError('serviceCodes:\n  pickup: "*8"\n  directedPickup: "*88"\n', 'starts with *8');
    oneError('serviceCodes:\n  dndOn: "200"\n', 'overlaps number 2001');
  });

  it('checks schedule rows and references', () => {
    oneError('schedules:\n  - name: office\n    rows:\n      - { days: [mon], date: "01-01", action: none }\n', 'exactly one of days, date or holiday');
    oneError('schedules:\n  - name: office\n    rows:\n      - { days: [mon], from: "18:00", to: "09:00", action: none }\n', 'must be after from');
    oneError('schedules:\n  - name: office\n    rows:\n      - { holiday: true, action: cfu }\n', 'needs a destination');
    const withRef = head.replace('{ number: "2002", name: Bob, password: b }', '{ number: "2002", name: Bob, password: b, forwardingSchedule: nosuch }');
    expect(
      errorsOf(loadConfigText(withRef, 'hibiki.yaml'))
        .map((e) => e.message)
        .join(),
    ).toContain('unknown schedule nosuch');
  });

  it('limits block lists to 30 numbers per extension and bulk sets to existing extensions', () => {
    const many = Array.from({ length: 31 }, (_, i) => `"0312345${String(i).padStart(3, '0')}"`).join(', ');
    const y = head.replace('{ number: "2003", name: Carol, password: c }', `{ number: "2003", name: Carol, password: c, blockList: [${many}] }`);
    expect(
      errorsOf(loadConfigText(y, 'hibiki.yaml'))
        .map((e) => e.message)
        .join(),
    ).toContain('at most 30 blocked numbers');
    oneError('bulkForwarding:\n  - name: disaster\n    members: [{ extension: "2009", destination: "2001" }]\n', 'unknown extension 2009');
  });
});
