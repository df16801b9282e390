import { describe, it, expect } from 'vitest';
import { SipResponse } from '../../../../src/sip/message.js';
import { responseTarget } from '../../../../src/sip/transaction/response-routing.js';
import { incoming, makeRequest, makeResponse, setup } from './fixtures.js';

describe('responseTarget (RFC 3261 §18.2.2, RFC 3581 §4)', () => {
  it('UDP with rport: the source address and the rport value filled in on arrival', () => {
    const { rec, layer } = setup();
    const req = makeRequest({ method: 'OPTIONS', via: 'SIP/2.0/UDP 10.1.1.1:5060;rport;branch=z9hG4bKa' });
    const outcome = layer.receiveRequest(incoming(req, { address: '203.0.113.7', port: 41234 }));
    expect(responseTarget(req)).toEqual({ transport: 'udp', address: '203.0.113.7', port: 41234 });
    if (outcome.kind !== 'new') throw new Error('expected new');
    outcome.tx.respond(makeResponse(req, 200, 'x'));
    expect(rec.sent[0]?.target).toEqual({ transport: 'udp', address: '203.0.113.7', port: 41234 });
    const res = rec.sent[0]?.msg as SipResponse;
    expect(res.topVia?.params.get('received')).toBe('203.0.113.7');
    expect(res.topVia?.params.get('rport')).toBe('41234');
  });

  it('UDP with an rport value: that value', () => {
    const req = incoming(makeRequest({ via: 'SIP/2.0/UDP 10.1.1.1:5060;rport=5090;branch=z9hG4bKb' }), {
      address: '203.0.113.7',
      port: 41234,
    });
    expect(responseTarget(req)).toEqual({ transport: 'udp', address: '203.0.113.7', port: 5090 });
  });

  it('UDP without rport: the source address and the sent-by port, never the source port', () => {
    const req = incoming(makeRequest({ via: 'SIP/2.0/UDP 10.1.1.1:5080;branch=z9hG4bKc' }), {
      address: '203.0.113.7',
      port: 41234,
    });
    expect(responseTarget(req)).toEqual({ transport: 'udp', address: '203.0.113.7', port: 5080 });
  });

  it('UDP without rport or sent-by port: 5060 (5061 for a TLS Via)', () => {
    const plain = incoming(makeRequest({ via: 'SIP/2.0/UDP host.example.com;branch=z9hG4bKd' }), { port: 41234 });
    expect(responseTarget(plain).port).toBe(5060);
    const tls = incoming(makeRequest({ via: 'SIP/2.0/TLS host.example.com;branch=z9hG4bKe' }), { port: 41234 });
    expect(responseTarget(tls).port).toBe(5061);
  });

  it('never uses the Via host, even a broadcast one (RFC 4475 §3.3.10)', () => {
    const req = incoming(makeRequest({ via: 'SIP/2.0/UDP 255.255.255.255;branch=z9hG4bKf' }), {
      address: '192.0.2.198',
      port: 5062,
    });
    const target = responseTarget(req);
    expect(target.address).toBe('192.0.2.198');
    expect(target.address).not.toBe('255.255.255.255');
  });

  it('TCP/TLS/WS: the connection the request came in on, with its address and port as fallback', () => {
    for (const transport of ['tcp', 'tls', 'ws', 'wss'] as const) {
      const req = incoming(makeRequest({ via: `SIP/2.0/${transport.toUpperCase()} 10.1.1.1:5060;branch=z9hG4bKg` }), {
        transport,
        address: '203.0.113.8',
        port: 50123,
        connectionId: `conn-${transport}`,
      });
      expect(responseTarget(req)).toEqual({ transport, address: '203.0.113.8', port: 50123, connectionId: `conn-${transport}` });
    }
  });

  it('throws when the request has no source (a programming error)', () => {
    expect(() => responseTarget(makeRequest())).toThrow(/source/);
  });
});
