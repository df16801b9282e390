import { describe, it, expect } from 'vitest';
import { formatVia, parseVia, viaBranch } from '../../../src/sip/via.js';

describe('parseVia', () => {
  it('parses protocol, transport, sent-by and params', () => {
    const v = parseVia('SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport;received=192.0.2.99');
    expect(v).toEqual({
      protocol: 'SIP/2.0',
      transport: 'UDP',
      host: '192.0.2.10',
      port: 5060,
      params: new Map([
        ['branch', 'z9hG4bK776asdhds'],
        ['rport', null],
        ['received', '192.0.2.99'],
      ]),
    });
    expect(v && viaBranch(v)).toBe('z9hG4bK776asdhds');
  });

  it('upper-cases the transport and lower-cases the host', () => {
    const v = parseVia('sip/2.0/ws Df7jal23ls0d.invalid;branch=z9hG4bKx');
    expect(v?.protocol).toBe('SIP/2.0');
    expect(v?.transport).toBe('WS');
    expect(v?.host).toBe('df7jal23ls0d.invalid');
    expect(v?.port).toBeUndefined();
  });

  it('allows LWS around the slashes, the port colon and params (RFC 3261 §25.1)', () => {
    const v = parseVia('SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw');
    expect(v?.transport).toBe('UDP');
    const w = parseVia('SIP  / 2.0  / TCP     spindle.example.com : 5070  ; branch  =   z9hG4bK9ikj8');
    expect(w?.host).toBe('spindle.example.com');
    expect(w?.port).toBe(5070);
    expect(w && viaBranch(w)).toBe('z9hG4bK9ikj8');
  });

  it('reads IPv6 sent-by in brackets and IPv6 received values', () => {
    const v = parseVia('SIP/2.0/TCP [2001:db8::9]:5061;branch=z9hG4bKa;received=2001:db8::99');
    expect(v?.host).toBe('2001:db8::9');
    expect(v?.port).toBe(5061);
    expect(v?.params.get('received')).toBe('2001:db8::99');
    expect(v && formatVia(v)).toBe('SIP/2.0/TCP [2001:db8::9]:5061;branch=z9hG4bKa;received=2001:db8::99');
  });

  it('keeps unknown transports', () => {
    expect(parseVia('SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en')?.transport).toBe('UNKNOWN');
    expect(parseVia('SIP/2.0/SCTP t2.example.com')?.transport).toBe('SCTP');
  });

  it('has no branch when the param is absent or a flag', () => {
    expect(viaBranch(parseVia('SIP/2.0/UDP iftgw.example.com') ?? fail())).toBeUndefined();
    expect(viaBranch(parseVia('SIP/2.0/UDP h;branch') ?? fail())).toBeUndefined();
  });

  it('rejects malformed values', () => {
    const bad = [
      '',
      ';',
      'SIP/2.0/UDP',
      'SIP/2.0/UDP ',
      'SIP/2.0 UDP host',
      'SIP/2.0/UDPhost',
      'SIP//UDP host',
      'SIP/2.0/UDP 192.0.2.15;;',
      'SIP/2.0/UDP host:99999',
      'SIP/2.0/UDP host:',
      'SIP/2.0/UDP two words',
      'SIP/2.0/UDP [2001:db8::1',
      'SIP/2.0/UDP host;branch="x',
      'SIP/2.0/UDP host junk;branch=x',
    ];
    for (const text of bad) expect(parseVia(text), JSON.stringify(text)).toBeNull();
  });
});

describe('formatVia', () => {
  it('round-trips', () => {
    for (const text of [
      'SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport',
      'SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKx;alias',
      'SIP/2.0/TLS [::1]:5061;branch=z9hG4bK1;received=::1;rport=5061',
    ]) {
      const v = parseVia(text);
      expect(v && formatVia(v)).toBe(text);
    }
  });
});

function fail(): never {
  throw new Error('unparsable Via');
}
