import { describe, it, expect } from 'vitest';
import { formatHostPort, formatUri, isSipUri, isTelUri, parseHostPort, parseUri, uriEquivalent, type SipUri } from '../../../src/sip/uri.js';
import { formatParams, parseParams } from '../../../src/sip/params.js';

function sip(text: string): SipUri {
  const u = parseUri(text);
  if (!isSipUri(u)) throw new Error(`not a SIP URI: ${text}`);
  return u;
}

describe('parseParams / formatParams', () => {
  it('reads values, flags and quoted values, lower-casing names', () => {
    const p = parseParams(';Transport=TCP;lr;Q="0.5 x";tag=abc');
    expect(p).not.toBeNull();
    expect([...(p ?? [])]).toEqual([
      ['transport', 'TCP'],
      ['lr', null],
      ['q', '0.5 x'],
      ['tag', 'abc'],
    ]);
  });

  it('accepts a missing leading semicolon and LWS around ; and =', () => {
    expect([...(parseParams('a = b ;  c') ?? [])]).toEqual([
      ['a', 'b'],
      ['c', null],
    ]);
  });

  it('unescapes quoted-pairs and keeps the first of repeated names', () => {
    const p = parseParams(';x="a \\"b\\" \\\\";x=second');
    expect(p?.get('x')).toBe('a "b" \\');
  });

  it('rejects malformed lists', () => {
    for (const bad of [';;', ';a;', ';a="unterminated', ';a=b c', ';=x', ';a=b"c"', ';a,b']) {
      expect(parseParams(bad), bad).toBeNull();
    }
  });

  it('returns an empty map for empty text', () => {
    expect(parseParams('')?.size).toBe(0);
    expect(parseParams('   ')?.size).toBe(0);
  });

  it('formats, quoting values that are not bare', () => {
    const p = new Map<string, string | null>([
      ['tag', 'x1'],
      ['lr', null],
      ['received', '2001:db8::1'],
      ['+sip.instance', '<urn:uuid:1>'],
      ['d', 'say "hi"'],
      ['e', ''],
    ]);
    const text = formatParams(p);
    expect(text).toBe(';tag=x1;lr;received=2001:db8::1;+sip.instance="<urn:uuid:1>";d="say \\"hi\\"";e=""');
    expect(parseParams(text)).toEqual(p);
    expect(formatParams(new Map())).toBe('');
  });
});

describe('parseUri: sip and sips', () => {
  it('parses user, password, host, port, params and headers', () => {
    const u = sip('SIP:Alice:secret@Example.COM:5070;Transport=tcp;lr?Subject=hi%20there&Priority=urgent');
    expect(u.scheme).toBe('sip');
    expect(u.user).toBe('Alice');
    expect(u.password).toBe('secret');
    expect(u.host).toBe('example.com');
    expect(u.port).toBe(5070);
    expect([...u.params]).toEqual([
      ['transport', 'tcp'],
      ['lr', null],
    ]);
    expect([...u.headers]).toEqual([
      ['Subject', 'hi there'],
      ['Priority', 'urgent'],
    ]);
  });

  it('parses sips and a host-only URI', () => {
    const u = sip('sips:proxy.example.net');
    expect(u.scheme).toBe('sips');
    expect(u.user).toBeUndefined();
    expect(u.port).toBeUndefined();
    expect(u.params.size).toBe(0);
  });

  it('percent-decodes the user part and re-escapes it when formatting', () => {
    expect(sip('sip:%61lice@x').user).toBe('alice');
    const u = sip('sip:I%20have%20spaces@example.net');
    expect(u.user).toBe('I have spaces');
    expect(formatUri(u)).toBe('sip:I%20have%20spaces@example.net');
    const nul = sip('sip:null-%00-null@example.com');
    expect(nul.user).toBe('null-\u0000-null');
    expect(formatUri(nul)).toBe('sip:null-%00-null@example.com');
  });

  it('keeps ; and ? inside the user part (RFC 3261 user-unreserved)', () => {
    const u = sip('sip:user;par=u%40example.net@example.com');
    expect(u.user).toBe('user;par=u@example.net');
    expect(u.host).toBe('example.com');
    expect(u.params.size).toBe(0);
    expect(formatUri(u)).toBe('sip:user;par=u%40example.net@example.com');
  });

  it('decodes escaped URI param names and values', () => {
    const u = sip('sip:caller@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31');
    expect(u.params.has('lr')).toBe(true);
    expect(u.params.get('name')).toBe('value%41');
    expect(sip(formatUri(u)).params).toEqual(u.params);
  });

  it('handles IPv6 references without keeping brackets', () => {
    const u = sip('sip:bob@[2001:DB8::10]:5080;maddr=[2001:db8::1]');
    expect(u.host).toBe('2001:db8::10');
    expect(u.port).toBe(5080);
    expect(u.params.get('maddr')).toBe('[2001:db8::1]');
    expect(formatUri(u)).toBe('sip:bob@[2001:db8::10]:5080;maddr=[2001:db8::1]');
    expect(sip('sip:[::1]').host).toBe('::1');
  });

  it('escapes characters that are not allowed unescaped when formatting', () => {
    const u: SipUri = {
      scheme: 'sip',
      user: 'a b@c#',
      host: 'example.com',
      params: new Map([['x', 'a b']]),
      headers: new Map([['Subject', 'a&b=c']]),
    };
    expect(formatUri(u)).toBe('sip:a%20b%40c%23@example.com;x=a%20b?Subject=a%26b%3Dc');
    expect(sip(formatUri(u))).toEqual({ ...u, password: undefined, port: undefined });
  });

  it('round-trips an unusual but legal URI (RFC 4475 §3.1.1.2)', () => {
    const text = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com";
    const u = sip(text);
    expect(u.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(u.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(formatUri(u)).toBe(text);
  });

  it('rejects malformed SIP URIs', () => {
    const bad = [
      'sip:',
      'sip:@example.com',
      'sip:user@',
      'sip:user@exa mple.com',
      'sip:user@example.com; lr',
      'sip:user@example.com:',
      'sip:user@example.com:abc',
      'sip:user@example.com:65536',
      'sip:user@example.com:123456',
      'sip:user@[2001:db8::1',
      'sip:user@2001:db8::1]',
      'sip:user@[not-v6]',
      'sip:user@example.com\u0000',
      'sip:us\ter@example.com',
      'sip:user@example.com;a="b"',
      'sip:<user@example.com>',
      'sip:user@example.com;;',
      'sip:user@example.com?noequals',
      'sip:%4@example.com',
      'sip:%zz@example.com',
      'sip:user@ex%41mple.com',
      '<sip:user@example.com>',
      ':nothing',
      '1sip:x@y',
    ];
    for (const text of bad) expect(parseUri(text), JSON.stringify(text)).toBeNull();
  });

  it('accepts boundary ports', () => {
    expect(sip('sip:x@h:65535').port).toBe(65535);
    expect(sip('sip:x@h:0').port).toBe(0);
  });
});

describe('parseUri: tel (RFC 3966)', () => {
  it('parses a global number with visual separators', () => {
    const u = parseUri('tel:+81-3-1234-5678;ext=22');
    expect(isTelUri(u)).toBe(true);
    if (!isTelUri(u)) return;
    expect(u.number).toBe('+81-3-1234-5678');
    expect(u.params.get('ext')).toBe('22');
    expect(formatUri(u)).toBe('tel:+81-3-1234-5678;ext=22');
  });

  it('requires phone-context for a local number', () => {
    const u = parseUri('tel:7042;phone-context=example.com');
    expect(isTelUri(u) && u.number).toBe('7042');
    expect(parseUri('tel:7042')).toBeNull();
    expect(isTelUri(parseUri('tel:*21#;phone-context=+81'))).toBe(true);
  });

  it('rejects malformed numbers', () => {
    for (const bad of ['tel:', 'tel:+', 'tel:+81 3', 'tel:+81x3', 'tel:--;phone-context=x']) {
      expect(parseUri(bad), bad).toBeNull();
    }
  });
});

describe('parseUri: other schemes', () => {
  it('keeps unknown schemes opaque, lower-casing the scheme', () => {
    expect(parseUri('nobodyKnowsThisScheme:totallyopaquecontent')).toEqual({
      scheme: 'nobodyknowsthisscheme',
      opaque: 'totallyopaquecontent',
    });
    expect(parseUri('soap.beep://192.0.2.103:3002')).toEqual({ scheme: 'soap.beep', opaque: '//192.0.2.103:3002' });
    const mailto = parseUri('mailto:alice@example.com');
    expect(mailto && formatUri(mailto)).toBe('mailto:alice@example.com');
    expect(isSipUri(mailto)).toBe(false);
    expect(isTelUri(mailto)).toBe(false);
  });

  it('rejects whitespace and empty opaque parts', () => {
    expect(parseUri('http:')).toBeNull();
    expect(parseUri('http://a b')).toBeNull();
    expect(parseUri('')).toBeNull();
  });

  it('type guards accept null and undefined', () => {
    expect(isSipUri(null)).toBe(false);
    expect(isTelUri(undefined)).toBe(false);
  });
});

describe('host and port helpers', () => {
  it('brackets IPv6 and appends ports', () => {
    expect(formatHostPort('example.com')).toBe('example.com');
    expect(formatHostPort('192.0.2.1', 5060)).toBe('192.0.2.1:5060');
    expect(formatHostPort('2001:db8::1', 5061)).toBe('[2001:db8::1]:5061');
    expect(formatHostPort('::1')).toBe('[::1]');
  });

  it('parses host:port', () => {
    expect(parseHostPort('Example.com:5060')).toEqual({ host: 'example.com', port: 5060 });
    expect(parseHostPort('[::1]')).toEqual({ host: '::1', port: undefined });
    expect(parseHostPort('[::1]x')).toBeNull();
    expect(parseHostPort('')).toBeNull();
  });
});

describe('uriEquivalent (RFC 3261 §19.1.4)', () => {
  const eq = (a: string, b: string): boolean => {
    const x = parseUri(a);
    const y = parseUri(b);
    if (!x || !y) throw new Error(`unparsable: ${a} or ${b}`);
    return uriEquivalent(x, y) && uriEquivalent(y, x);
  };

  it('follows the RFC examples of equivalent URIs', () => {
    expect(eq('sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp')).toBe(true);
    expect(eq('sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5')).toBe(true);
    expect(eq('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;newparam=5')).toBe(true);
    expect(eq('sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com')).toBe(true);
  });

  it('follows the RFC examples of URIs that differ', () => {
    expect(eq('SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP')).toBe(false);
    expect(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060')).toBe(false);
    expect(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp')).toBe(true);
    expect(eq('sip:bob@biloxi.com', 'sips:bob@biloxi.com')).toBe(false);
    expect(eq('sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting')).toBe(false);
    expect(eq('sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4')).toBe(false);
    expect(eq('sip:2002@hibiki.test;user=phone', 'sip:2002@hibiki.test')).toBe(false);
    expect(eq('sip:2002@hibiki.test;maddr=192.0.2.1', 'sip:2002@hibiki.test')).toBe(false);
  });

  it('compares tel URIs without visual separators, and other schemes as text', () => {
    expect(eq('tel:+81-3-1234-5678', 'tel:+81312345678')).toBe(true);
    expect(eq('tel:+81312345678', 'tel:+81312345679')).toBe(false);
    expect(eq('urn:service:sos', 'urn:service:sos')).toBe(true);
    expect(eq('urn:service:sos', 'sip:sos@hibiki.test')).toBe(false);
  });
});
