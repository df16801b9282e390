import { describe, it, expect } from 'vitest';
import { SipRequest, type SipResponse } from '../../../../src/sip/message.js';
import { copyRequest, incoming, makeRequest, makeResponse, setup } from './fixtures.js';

describe('server transaction matching (RFC 3261 §17.2.3)', () => {
  it('matches a retransmission by branch, sent-by and method', () => {
    const { layer } = setup();
    const req = makeRequest({ method: 'OPTIONS', branch: 'z9hG4bKabc' });
    const pristine = copyRequest(req);
    expect(layer.receiveRequest(incoming(req)).kind).toBe('new');
    expect(layer.receiveRequest(incoming(copyRequest(pristine)))).toEqual({ kind: 'absorbed' });
    expect(layer.size.server).toBe(1);
  });

  it('treats the same branch with another sent-by or another method as a different transaction', () => {
    const { layer } = setup();
    layer.receiveRequest(incoming(makeRequest({ method: 'OPTIONS', branch: 'z9hG4bKabc' })));
    const otherSentBy = makeRequest({ method: 'OPTIONS', via: 'SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKabc' });
    expect(layer.receiveRequest(incoming(otherSentBy)).kind).toBe('new');
    const otherPort = makeRequest({ method: 'OPTIONS', via: 'SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKabc' });
    expect(layer.receiveRequest(incoming(otherPort)).kind).toBe('new');
    const otherMethod = makeRequest({ method: 'INFO', branch: 'z9hG4bKabc' });
    expect(layer.receiveRequest(incoming(otherMethod)).kind).toBe('new');
    expect(layer.size.server).toBe(4);
  });

  it('matches a retransmission arriving from another source port (sent-by, not the source, is compared)', () => {
    const { layer } = setup();
    const req = makeRequest({ method: 'OPTIONS' });
    const pristine = copyRequest(req);
    layer.receiveRequest(incoming(req, { port: 40000 }));
    expect(layer.receiveRequest(incoming(copyRequest(pristine), { port: 40001 }))).toEqual({ kind: 'absorbed' });
  });

  it('passes an ACK matching no transaction to the dialog layer', () => {
    const { layer } = setup();
    const ack = incoming(makeRequest({ method: 'ACK', toTag: 't' }));
    expect(layer.receiveRequest(ack)).toEqual({ kind: 'ack', req: ack });
    expect(layer.size.server).toBe(0);
  });

  it('drops a request without a usable Via or CSeq instead of throwing', () => {
    const { layer } = setup();
    const noVia = new SipRequest('OPTIONS', 'sip:x@example.com', [
      ['call-id', 'a'],
      ['cseq', '1 OPTIONS'],
    ]);
    expect(layer.receiveRequest(incoming(noVia))).toEqual({ kind: 'absorbed' });
    const badVia = makeRequest({ via: 'garbage' });
    expect(layer.receiveRequest(incoming(badVia))).toEqual({ kind: 'absorbed' });
    const badCseq = makeRequest();
    badCseq.set('cseq', 'x INVITE');
    expect(layer.receiveRequest(incoming(badCseq))).toEqual({ kind: 'absorbed' });
    expect(layer.size.server).toBe(0);
  });

  it('throws on a request without a transport source (a programming error)', () => {
    const { layer } = setup();
    expect(() => layer.receiveRequest(makeRequest())).toThrow(/source/);
  });

  it('stop() cancels every timer and forgets every transaction without notifying', () => {
    const { clock, layer } = setup();
    let notified = 0;
    layer.sendRequest(
      makeRequest(),
      { transport: 'udp', address: '192.0.2.9', port: 5060 },
      {
        onFinal: () => notified++,
        onTimeout: () => notified++,
        onTransportError: () => notified++,
      },
    );
    const outcome = layer.receiveRequest(incoming(makeRequest()));
    if (outcome.kind !== 'new') throw new Error('expected new');
    outcome.tx.respond(makeResponse(outcome.tx.request, 486, 'x'));
    layer.receiveRequest(incoming(makeRequest({ method: 'INVITE', via: 'SIP/2.0/UDP 192.0.2.3' })));
    expect(layer.size).toEqual({ client: 1, server: 2 });
    expect(clock.pending).toBeGreaterThan(0);
    layer.stop();
    expect(layer.size).toEqual({ client: 0, server: 0 });
    expect(clock.pending).toBe(0);
    clock.advance(100_000);
    expect(notified).toBe(0);
  });
});

describe('received / rport stamping (RFC 3261 §18.2.1, RFC 3581 §4)', () => {
  it('adds received when the sent-by host is not the source address', () => {
    const { layer } = setup();
    const req = makeRequest({ via: 'SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bKr1' });
    layer.receiveRequest(incoming(req, { address: '203.0.113.5' }));
    expect(req.getAll('via')[0]).toBe('SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bKr1;received=203.0.113.5');
  });

  it('leaves the Via untouched when the source matches and there is no rport', () => {
    const { layer } = setup();
    const via = 'SIP/2.0/UDP 192.0.2.1:5060 ;branch=z9hG4bKr2';
    const req = makeRequest({ via });
    layer.receiveRequest(incoming(req));
    expect(req.getAll('via')[0]).toBe(via);
  });

  it('fills an empty rport with the source port and adds received even when the address matches', () => {
    const { layer } = setup();
    const req = makeRequest({
      via: 'SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKr3',
      lowerVias: ['SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKlow'],
    });
    layer.receiveRequest(incoming(req, { port: 61000 }));
    const top = req.topVia;
    expect(top?.params.get('rport')).toBe('61000');
    expect(top?.params.get('received')).toBe('192.0.2.1');
    expect(top?.params.get('branch')).toBe('z9hG4bKr3');
    expect(req.getAll('via')[1]).toBe('SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKlow');
  });

  it('compares IPv6 addresses in canonical form and stamps IPv4 peers of a dual-stack socket plainly', () => {
    const { layer } = setup();
    const v6 = makeRequest({ via: 'SIP/2.0/UDP [2001:db8:0:0::1]:5060;branch=z9hG4bKv6' });
    layer.receiveRequest(incoming(v6, { address: '2001:db8::1' }));
    expect(v6.topVia?.params.has('received')).toBe(false);
    const mapped = makeRequest({ via: 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKmap' });
    layer.receiveRequest(incoming(mapped, { address: '::ffff:192.0.2.1' }));
    expect(mapped.topVia?.params.has('received')).toBe(false);
    const moved = makeRequest({ via: 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKmov' });
    layer.receiveRequest(incoming(moved, { address: '::ffff:203.0.113.9' }));
    expect(moved.topVia?.params.get('received')).toBe('203.0.113.9');
  });

  it('matches the retransmission of a stamped request to its transaction', () => {
    const { layer } = setup();
    const req = makeRequest({ method: 'OPTIONS', via: 'SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bKnat' });
    const pristine = copyRequest(req);
    layer.receiveRequest(incoming(req, { address: '203.0.113.5', port: 33333 }));
    expect(layer.receiveRequest(incoming(copyRequest(pristine), { address: '203.0.113.5', port: 33333 }))).toEqual({
      kind: 'absorbed',
    });
  });
});

describe('RFC 2543 matching (§17.2.3, §9.2)', () => {
  // inv2543 of RFC 4475 §3.4.1: no branch, no tags.
  function inv2543(): SipRequest {
    return new SipRequest('INVITE', 'sip:UserB@example.com', [
      ['via', 'SIP/2.0/UDP iftgw.example.com'],
      ['from', '<sip:+13035551111@ift.client.example.net;user=phone>'],
      ['record-route', '<sip:UserB@example.com;maddr=ss1.example.com>'],
      ['to', 'sip:+16505552222@ss1.example.net;user=phone'],
      ['call-id', 'inv2543.1717@ift.client.example.com'],
      ['cseq', '56 INVITE'],
      ['max-forwards', '70'],
    ]);
  }

  function variant(req: SipRequest, method: string, changes: Record<string, string> = {}): SipRequest {
    const copy = copyRequest(req);
    copy.method = method;
    copy.set('cseq', `${req.cseq?.seq} ${method}`);
    for (const [k, v] of Object.entries(changes)) copy.set(k, v);
    return copy;
  }

  it('creates a transaction for a branchless INVITE and matches its retransmission', () => {
    const { rec, layer } = setup();
    const req = inv2543();
    const outcome = layer.receiveRequest(incoming(req));
    if (outcome.kind !== 'new') throw new Error(`expected a new transaction, got ${outcome.kind}`);
    outcome.tx.sendTrying();
    expect(req.topVia?.params.get('received')).toBe('192.0.2.1');
    expect(rec.responses(100)).toHaveLength(1);
    expect(layer.receiveRequest(incoming(inv2543()))).toEqual({ kind: 'absorbed' });
    expect(rec.responses(100)).toHaveLength(2);
    expect(layer.size.server).toBe(1);
  });

  it('treats a branch without the magic cookie as RFC 2543', () => {
    const { layer } = setup();
    const a = makeRequest({ method: 'OPTIONS', branch: '1234abcd' });
    const b = copyRequest(a);
    layer.receiveRequest(incoming(a));
    expect(layer.receiveRequest(incoming(b))).toEqual({ kind: 'absorbed' });
    // Same branch but another Call-ID is another transaction under RFC 2543 rules.
    const c = copyRequest(a);
    c.set('call-id', 'other');
    expect(layer.receiveRequest(incoming(c)).kind).toBe('new');
  });

  it('tells transactions apart by CSeq, From tag, Call-ID, Request-URI and top Via', () => {
    const { layer } = setup();
    layer.receiveRequest(incoming(inv2543()));
    const changed = [
      variant(inv2543(), 'INVITE', { cseq: '57 INVITE' }),
      variant(inv2543(), 'INVITE', { from: '<sip:+13035551111@ift.client.example.net;user=phone>;tag=x' }),
      variant(inv2543(), 'INVITE', { 'call-id': 'another@example.com' }),
      variant(inv2543(), 'INVITE', { via: 'SIP/2.0/UDP iftgw2.example.com' }),
    ];
    const uri = inv2543();
    uri.uri = 'sip:UserC@example.com';
    changed.push(uri);
    for (const req of changed) expect(layer.receiveRequest(incoming(req)).kind).toBe('new');
  });

  it("matches the ACK by the To tag of the transaction's final response", () => {
    const { clock, rec, layer } = setup();
    const outcome = layer.receiveRequest(incoming(inv2543()));
    if (outcome.kind !== 'new') throw new Error('expected new');
    const busy: SipResponse = makeResponse(outcome.tx.request, 486, 'uas-tag');
    outcome.tx.respond(busy);
    const wrongTag = variant(inv2543(), 'ACK', { to: 'sip:+16505552222@ss1.example.net;user=phone;tag=other' });
    expect(layer.receiveRequest(incoming(wrongTag)).kind).toBe('ack');
    expect(outcome.tx.state).toBe('completed');
    const ack = variant(inv2543(), 'ACK', { to: busy.get('to') as string });
    expect(layer.receiveRequest(incoming(ack))).toEqual({ kind: 'absorbed' });
    expect(outcome.tx.state).toBe('confirmed');
    clock.advance(10_000);
    expect(rec.responses(486)).toHaveLength(1);
    expect(layer.size.server).toBe(0);
  });

  it('finds the INVITE for a CANCEL and matches the retransmitted CANCEL to its own transaction', () => {
    const { layer } = setup();
    const outcome = layer.receiveRequest(incoming(inv2543()));
    if (outcome.kind !== 'new') throw new Error('expected new');
    const cancel = layer.receiveRequest(incoming(variant(inv2543(), 'CANCEL')));
    expect(cancel.kind).toBe('cancel');
    if (cancel.kind !== 'cancel') return;
    expect(cancel.invite).toBe(outcome.tx);
    expect(layer.receiveRequest(incoming(variant(inv2543(), 'CANCEL')))).toEqual({ kind: 'absorbed' });
    expect(layer.size.server).toBe(2);
    cancel.tx.respond(makeResponse(cancel.tx.request, 200));
    outcome.tx.respond(makeResponse(outcome.tx.request, 487, 'x'));
    layer.stop();
    expect(layer.size.server).toBe(0);
  });
});
