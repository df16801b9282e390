// Issue #5 routing through a trunk, end to end: an inbound DID to a hunt group (F-HUNT), an outside caller
// forwarded back out through the trunk (F-FWD + F-CLIR: the original caller, or the DID with
// forwarding.presentCalledNumber), an internal call forwarded outside (the forwarding extension's
// callerId), the outbound class of a forwarding extension (config error with its line, refused run-time
// changes, a destination barred after it was set), bulk forwarding of a DID, and DID screening (block
// list 403, anonymous 183 + 433, counters). The carrier is a test UA on 127.0.0.2 (phones are on
// 127.0.0.1, so IP authentication of the trunk cannot mistake them for it).
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { RunningHibiki, TestExtension } from '../support/hibiki.js';
import { connect, failure, nextRung, talking, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { TestUA, type OutgoingCall } from '../support/test-ua.js';
import { loadConfigText } from '../../src/config/load.js';

const CARRIER_HOST = '127.0.0.2';
const DID = '0312345678';
const OUTSIDE = '0398765432';
const CALLER = '"Caller" <sip:0455556666@carrier.test>';

const session = hibikiSession();

/** The carrier: a UA on its own address that calls hibiki's DIDs and receives its outbound calls. */
async function carrier(): Promise<TestUA> {
  const ua = await TestUA.create({ user: 'carrier', host: CARRIER_HOST, domain: 'carrier.test' });
  session.phones.push(ua);
  return ua;
}

/** A trunk to the carrier (IP authentication, no registration), an outside route and one inbound DID. */
function trunkConfig(carrierPort: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    trunks: [{ name: 'carrier', host: CARRIER_HOST, port: carrierPort, register: false, domain: 'carrier.test', callerId: '0311112222' }],
    routes: [{ name: 'out', prefix: '0', trunk: 'carrier' }],
    inbound: [{ did: DID, destination: '2001' }],
    ...extra,
  };
}

const NUMBERS = ['2001', '2002', '2003'];

function start(c: TestUA, opts: { ext?: Record<string, Partial<TestExtension>>; config?: Record<string, unknown> } = {}) {
  return session.start({
    extensions: NUMBERS.map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}`, ...opts.ext?.[n] })),
    config: trunkConfig(c.address.port, opts.config),
  });
}

/** The carrier calls a DID of hibiki (From the given caller). */
function fromCarrier(h: RunningHibiki, c: TestUA, did: string, from = CALLER, headers?: Record<string, string>): Promise<OutgoingCall> {
  return c.dial(did, { target: { host: '127.0.0.1', port: h.port('udp'), transport: 'udp' }, from, headers });
}

/** The user part of a From/To/PAI value. */
function userOf(header: string | undefined): string | undefined {
  return /<?sips?:([^@;>]+)@/.exec(header ?? '')?.[1];
}

describe('inbound DIDs through the trunk', () => {
  it('a DID routed to a ringall hunt group rings every member; one answers and talks; CDR names the member', async () => {
    const c = await carrier();
    const { h, phone } = await start(c, {
      config: {
        inbound: [{ did: DID, destination: '600' }],
        groups: [{ number: '600', name: 'Sales', strategy: 'ringall', members: ['2001', '2002'] }],
      },
    });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const outgoing = await fromCarrier(h, c, DID);
    const [atAlice, atBob] = await Promise.all([alice.waitForCall(), bob.waitForCall()]);
    expect(userOf(atAlice.from)).toBe('0455556666');
    expect(userOf(atBob.from)).toBe('0455556666');
    expect(atBob.to).toContain('600');
    const bobCall = await atBob.answer();
    const carrierCall = await outgoing.answered;
    await atAlice.waitForCancel();
    await talking(carrierCall, bobCall, 501, 502);
    expect(carol.calls.size).toBe(0);
    await carrierCall.hangup();
    await bobCall.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({
      direction: 'inbound',
      disposition: 'answered',
      trunk: 'carrier',
      callerNumber: '0455556666',
      dialedNumber: DID,
      calleeNumber: '2002',
    });
  }, 20_000);

  it('a DID sent in E.164 form (+81…) matches the rule written nationally (0…)', async () => {
    const c = await carrier();
    const { h, phone } = await start(c);
    const alice = await phone('2001');
    const outgoing = await fromCarrier(h, c, '+81312345678');
    const rung = await nextRung([alice]);
    rung.call.reject(486);
    expect((await failure(outgoing.answered)).status).toBe(486);
  }, 20_000);

  it('bulk forwarding of a DID: off → its inbound destination, on → the bulk destination (forward_bulk), off again → back', async () => {
    const c = await carrier();
    const { h, phone } = await start(c, { config: { bulkForwarding: [{ name: 'disaster', members: [{ did: DID, destination: '2002' }] }] } });
    const alice = await phone('2001');
    const bob = await phone('2002');

    const first = await fromCarrier(h, c, DID);
    const rung1 = await nextRung([alice, bob]);
    expect(rung1.phone.user).toBe('2001');
    rung1.call.reject(486);
    expect((await failure(first.answered)).status).toBe(486);

    expect(h.server.forwarding.bulkOn('disaster')).toEqual([{ member: DID, kind: 'did', result: 'ok', destination: '2002' }]);
    const second = await fromCarrier(h, c, DID);
    const rung2 = await nextRung([alice, bob]);
    expect(rung2.phone.user).toBe('2002');
    expect(userOf(rung2.call.from)).toBe('0455556666');
    const bobCall = await rung2.call.answer();
    const carrierCall = await second.answered;
    await talking(carrierCall, bobCall, 511, 512);
    expect(alice.calls.size).toBe(0);
    await expect(alice.waitForCall({ timeoutMs: 100 })).rejects.toThrow();
    await carrierCall.hangup();
    await bobCall.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).some((r) => r.feature === 'forward_bulk'), 3000);
    expect(h.server.cdr.query({}).find((r) => r.feature === 'forward_bulk')).toMatchObject({
      direction: 'inbound',
      disposition: 'answered',
      dialedNumber: DID,
      calleeNumber: '2002',
      forwardedFrom: DID,
      trunk: 'carrier',
    });

    h.server.forwarding.bulkOff('disaster');
    const third = await fromCarrier(h, c, DID);
    const rung3 = await nextRung([alice, bob]);
    expect(rung3.phone.user).toBe('2001');
    rung3.call.reject(486);
    expect((await failure(third.answered)).status).toBe(486);
  }, 20_000);

  it('DID screening: a blocked caller gets 403, an anonymous caller 183 then 433; both counted for the DID', async () => {
    const c = await carrier();
    const { h, phone } = await start(c, {
      config: { inbound: [{ did: DID, destination: '2001', rejectAnonymous: true, blockList: ['0455556666'] }] },
    });
    const alice = await phone('2001');

    const blocked = await failure((await fromCarrier(h, c, DID)).answered);
    expect(blocked.status).toBe(403);
    expect(blocked.response.get('reason')).toMatch(/cause=21/);
    // The same number in E.164 form from a carrier that sends +81 is the same caller.
    expect((await failure((await fromCarrier(h, c, DID, '<sip:+81455556666@carrier.test>')).answered)).status).toBe(403);

    const anonymous = await failure((await fromCarrier(h, c, DID, '"Anonymous" <sip:anonymous@anonymous.invalid>')).answered);
    expect(anonymous.provisional).toContain(183);
    expect(anonymous.status).toBe(433);
    expect(alice.calls.size).toBe(0);
    await expect(alice.waitForCall({ timeoutMs: 100 })).rejects.toThrow();

    await waitUntil(() => h.server.cdr.query({}).length === 3, 3000);
    const rows = h.server.cdr.query({});
    expect(rows.filter((r) => r.feature === 'blocked')).toHaveLength(2);
    expect(rows.find((r) => r.feature === 'blocked')).toMatchObject({ direction: 'inbound', trunk: 'carrier', dialedNumber: DID, q850Cause: 21, sipStatus: 403, disposition: 'failed' });
    expect(rows.find((r) => r.feature === 'anonymous_rejected')).toMatchObject({ direction: 'inbound', trunk: 'carrier', dialedNumber: DID, q850Cause: 21, sipStatus: 433 });
    expect(h.server.screening.counters({ did: DID })).toEqual({ thisMonth: 3, lastMonth: 0 });

    // Anyone else still reaches the DID's extension.
    const other = await fromCarrier(h, c, DID, '<sip:0466667777@carrier.test>');
    const ringing = await alice.waitForCall();
    expect(userOf(ringing.from)).toBe('0466667777');
    ringing.reject(486);
    expect((await failure(other.answered)).status).toBe(486);
    expect(h.server.screening.counters({ did: DID }).thisMonth).toBe(3);
  }, 20_000);
});

describe('forwarding outside through the trunk (F-FWD, F-CLIR)', () => {
  it('an outside caller forwarded back out is presented as itself; hop row for 2001 and a forward_cfu row', async () => {
    const c = await carrier();
    const { h, phone } = await start(c, { ext: { '2001': { outboundClass: 'domestic', forwarding: { unconditional: OUTSIDE } } } });
    const alice = await phone('2001');
    const outgoing = await fromCarrier(h, c, DID);
    const incoming = await c.waitForCall();
    expect(userOf(incoming.request.uri)).toBe(OUTSIDE);
    expect(userOf(incoming.from)).toBe('0455556666');
    expect(incoming.from).toContain('@carrier.test>');
    const forwardedLeg = await incoming.answer();
    const callerLeg = await outgoing.answered;
    await talking(callerLeg, forwardedLeg, 521, 522);
    expect(alice.calls.size).toBe(0);
    await expect(alice.waitForCall({ timeoutMs: 100 })).rejects.toThrow();
    await callerLeg.hangup();
    await forwardedLeg.waitForEnd();

    await waitUntil(() => h.server.cdr.query({}).length === 2, 3000);
    const rows = h.server.cdr.query({});
    const hop = rows.find((r) => r.calleeNumber === '2001');
    const last = rows.find((r) => r.feature === 'forward_cfu');
    expect(hop).toMatchObject({ direction: 'inbound', dialedNumber: DID, feature: 'none', forwardedFrom: null, callerNumber: '0455556666' });
    expect(hop?.hangupReason).toContain(`forwarded (cfu) to ${OUTSIDE}`);
    expect(last).toMatchObject({
      direction: 'inbound',
      disposition: 'answered',
      dialedNumber: DID,
      calleeNumber: OUTSIDE,
      callerNumber: '0455556666',
      forwardedFrom: '2001',
      trunk: 'carrier',
    });
    expect(hop?.linkedId).toBe(last?.linkedId);
  }, 20_000);

  it('with forwarding.presentCalledNumber the forwarded outside caller is presented as the DID it called', async () => {
    const c = await carrier();
    const { h, phone } = await start(c, {
      ext: { '2001': { outboundClass: 'domestic', forwarding: { unconditional: OUTSIDE } } },
      config: { forwarding: { presentCalledNumber: true } },
    });
    await phone('2001');
    const outgoing = await fromCarrier(h, c, DID);
    const incoming = await c.waitForCall();
    expect(userOf(incoming.request.uri)).toBe(OUTSIDE);
    expect(userOf(incoming.from)).toBe(DID);
    incoming.reject(486);
    expect((await failure(outgoing.answered)).status).toBe(486);
    await waitUntil(() => h.server.cdr.query({}).length === 2, 3000);
    expect(h.server.cdr.query({}).find((r) => r.feature === 'forward_cfu')).toMatchObject({ forwardedFrom: '2001', trunk: 'carrier', calleeNumber: OUTSIDE, disposition: 'busy' });
  }, 20_000);

  it("an internal call forwarded outside presents the forwarding extension's callerId", async () => {
    const c = await carrier();
    const { h, phone } = await start(c, { ext: { '2002': { callerId: '0311110000', forwarding: { unconditional: OUTSIDE } } } });
    const alice = await phone('2001');
    await phone('2002');
    const outgoing = await alice.dial('2002');
    const incoming = await c.waitForCall();
    expect(userOf(incoming.request.uri)).toBe(OUTSIDE);
    // Not 2001 (an extension number means nothing outside), not the trunk's callerId 0311112222.
    expect(userOf(incoming.from)).toBe('0311110000');
    const forwardedLeg = await incoming.answer();
    const aliceCall = await outgoing.answered;
    await talking(aliceCall, forwardedLeg, 531, 532);
    await aliceCall.hangup();
    await forwardedLeg.waitForEnd();
    await waitUntil(() => h.server.cdr.query({}).length === 2, 3000);
    expect(h.server.cdr.query({}).find((r) => r.feature === 'forward_cfu')).toMatchObject({
      disposition: 'answered',
      callerNumber: '2001',
      dialedNumber: '2002',
      calleeNumber: OUTSIDE,
      forwardedFrom: '2002',
      trunk: 'carrier',
    });
  }, 20_000);
});

describe('outbound class of a forwarding extension', () => {
  it('an internal-class extension forwarding outside is a config error naming the line', () => {
    const yaml = [
      'tenant:',
      '  domain: hibiki.test',
      'listen:',
      '  - transport: udp',
      '    port: 5060',
      'trunks:',
      '  - { name: carrier, host: 127.0.0.2 }',
      'routes:',
      '  - { name: out, prefix: "0", trunk: carrier }',
      'extensions:',
      '  - number: "2001"',
      '    name: Alice',
      '    password: a',
      '    outboundClass: internal',
      '    forwarding:',
      `      unconditional: "${OUTSIDE}"`,
      '  - { number: "2002", name: Bob, password: b }',
      '',
    ].join('\n');
    const r = loadConfigText(yaml, 'hibiki.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ file: 'hibiki.yaml', line: 16 });
    expect(r.errors[0]?.message).toContain('outside calls are not allowed');
    // Forwarding to another extension is fine for the same class.
    const ok = loadConfigText(yaml.replace(`unconditional: "${OUTSIDE}"`, 'unconditional: "2002"'), 'hibiki.yaml');
    expect(ok.ok).toBe(true);
  });

  it('refuses run-time destinations the class bars, and never dials a destination barred after it was set', async () => {
    const c = await carrier();
    const { h, phone } = await start(c, { ext: { '2003': { outboundClass: 'internal' } } });
    const fw = h.server.forwarding;

    const intl = fw.setCondition('2001', 'cfu', true, '0101234567');
    expect(intl).toEqual({ ok: false, reason: expect.stringContaining('international calls are not allowed') });
    expect(fw.effective('2001').cfu).toBeUndefined();
    expect(fw.setCondition('2003', 'cfu', true, OUTSIDE)).toEqual({ ok: false, reason: expect.stringContaining('outside calls are not allowed') });
    expect(fw.effective('2003').cfu).toBeUndefined();
    expect(fw.setCondition('2003', 'cfu', true, '2002')).toEqual({ ok: true, destination: '2002' });
    expect(h.logs.some((l) => l.msg === 'forwarding change refused' && l.extension === '2001')).toBe(true);

    // A destination allowed when it was set becomes restricted by a reload.
    expect(fw.setCondition('2001', 'cfu', true, OUTSIDE)).toEqual({ ok: true, destination: OUTSIDE });
    const doc = parse(readFileSync(h.configPath, 'utf8')) as Record<string, unknown>;
    doc.restrictions = { list: ['0398*'] };
    writeFileSync(h.configPath, stringify(doc));
    expect(h.server.reload()).toBe(true);
    expect(fw.effective('2001').cfu).toBe(OUTSIDE); // the run-time state is kept (YAML of 2001 untouched)

    // The chain stops at 2001 (the last reachable hop): unregistered, it answers 480 — the barred number
    // is never dialled.
    const bob = await phone('2002');
    const err = await failure(bob.call('2001'));
    expect(err.status).toBe(480);
    const inbound = await failure((await fromCarrier(h, c, DID)).answered);
    expect(inbound.status).toBe(480);
    expect(h.logs.some((l) => l.msg === 'forwarding stops: destination barred')).toBe(true);
    await expect(c.waitForCall({ timeoutMs: 300 })).rejects.toThrow();
    // And the stored destination is not turned back on.
    fw.setCondition('2001', 'cfu', false);
    expect(fw.setCondition('2001', 'cfu', true)).toEqual({ ok: false, reason: expect.stringContaining('restriction list') });
  }, 20_000);
});

// An outside caller who withheld their number (From anonymous, Privacy: id, the number only in
// P-Asserted-Identity) stays anonymous to the extension and to the carrier when forwarded back out.
describe('a withheld outside caller stays withheld (F-CLIR)', () => {
  const WITHHELD = '"Anonymous" <sip:anonymous@anonymous.invalid>';
  const ASSERTED = { privacy: 'id', 'p-asserted-identity': '<sip:0455556666@carrier.test>' };

  it('the extension does not see the number the caller withheld', async () => {
    const c = await carrier();
    const { h, phone } = await start(c);
    const alice = await phone('2001');
    const outgoing = await fromCarrier(h, c, DID, WITHHELD, ASSERTED);
    const incoming = await alice.waitForCall();
    const from = incoming.from;
    incoming.reject(486);
    await failure(outgoing.answered);
    expect(from).not.toContain('0455556666');
    expect(from).toContain('anonymous.invalid');
  }, 20_000);

  it('forwarded back out, it is sent anonymous with Privacy: id', async () => {
    const c = await carrier();
    const { h, phone } = await start(c, { ext: { '2001': { forwarding: { unconditional: OUTSIDE } } } });
    await phone('2001');
    const outgoing = await fromCarrier(h, c, DID, WITHHELD, ASSERTED);
    const incoming = await c.waitForCall();
    const req = incoming.request;
    incoming.reject(486);
    await failure(outgoing.answered);
    expect(req.get('privacy')).toBe('id');
    expect(req.get('from')).toContain('sip:anonymous@anonymous.invalid');
  }, 20_000);
});

describe('transfers through the trunk', () => {
  it("a consult transfer to an outside number obeys the transferor's outbound class (never dialled)", async () => {
    const c = await carrier();
    const { h, phone } = await start(c, { ext: { '2002': { outboundClass: 'internal' } } });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const { caller: aliceCall, callee: bobCall } = await connect(alice, bob, '2002');
    await bobCall.sendDtmf(`#9${OUTSIDE}#`, { method: 'rfc4733' });
    await expect(c.waitForCall({ timeoutMs: 3000 })).rejects.toThrow();
    // Bob is back with Alice.
    await talking(aliceCall, bobCall, 401, 402);
    await aliceCall.hangup();
    void h;
  }, 30_000);

  it('the trunk channel of a failed consultation is given back at once, not when the call ends', async () => {
    const c = await carrier();
    const { h, phone } = await start(c, {
      config: { trunks: [{ name: 'carrier', host: CARRIER_HOST, port: c.address.port, register: false, domain: 'carrier.test', callerId: '0311112222', channels: 1 }] },
    });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const { caller: aliceCall, callee: bobCall } = await connect(alice, bob, '2002');
    await bobCall.sendDtmf(`#9${OUTSIDE}#`, { method: 'rfc4733' });
    (await c.waitForCall({ timeoutMs: 8000 })).reject(486);
    // The consultation failed; Alice and Bob still talk, and the one channel is free again.
    await talking(aliceCall, bobCall, 411, 412);
    const carolOut = await carol.dial('0399990000');
    const atCarrier = await c.waitForCall({ timeoutMs: 5000 });
    atCarrier.reject(486);
    expect((await failure(carolOut.answered)).status).toBe(486);
    await aliceCall.hangup();
    void h;
  }, 30_000);
});
