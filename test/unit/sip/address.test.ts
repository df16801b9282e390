import { describe, it, expect } from 'vitest';
import { formatNameAddr, parseNameAddr, type NameAddr } from '../../../src/sip/address.js';
import { formatUri, isSipUri } from '../../../src/sip/uri.js';

function addr(text: string): NameAddr {
  const a = parseNameAddr(text);
  if (!a) throw new Error(`unparsable: ${text}`);
  return a;
}

describe('parseNameAddr', () => {
  it('parses a quoted display name, URI and header params', () => {
    const a = addr('"Alice Smith" <sip:alice@example.com;transport=tcp>;tag=1928301774;x');
    expect(a.displayName).toBe('Alice Smith');
    expect(isSipUri(a.uri) && a.uri.params.get('transport')).toBe('tcp');
    expect([...a.params]).toEqual([
      ['tag', '1928301774'],
      ['x', null],
    ]);
  });

  it('unescapes \\" and \\\\ in display names', () => {
    expect(addr('"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>').displayName).toBe('J Rosenberg \\"');
    expect(addr('"Quoted string \\"\\"" <sip:jdrosen@example.com>').displayName).toBe('Quoted string ""');
  });

  it('accepts token display names, with or without LWS before <', () => {
    expect(addr('caller<sip:caller@example.com>;tag=323').displayName).toBe('caller');
    const a = addr("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>");
    expect(a.displayName).toBe("token1~` token2'+_ token3*%!.-");
  });

  it('treats everything after the first ; of an addr-spec as header params (RFC 3261 §20.10)', () => {
    const a = addr('sip:+19725552222@gw1.example.net;unknownparam');
    expect(isSipUri(a.uri) && a.uri.params.size).toBe(0);
    expect(a.params.has('unknownparam')).toBe(true);
    const b = addr('<sip:+19725552222@gw1.example.net;unknownparam>');
    expect(isSipUri(b.uri) && b.uri.params.has('unknownparam')).toBe(true);
    expect(b.params.size).toBe(0);
  });

  it('accepts LWS around params, as folded headers produce', () => {
    const a = addr('sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n');
    expect(a.params.get('tag')).toBe('1918181833n');
    expect(addr('"x"  <sip:a@b> ; newparam = newvalue ; secondparam ; q = 0.33').params.get('q')).toBe('0.33');
  });

  it('parses the Contact wildcard', () => {
    const a = addr(' * ');
    expect(a.wildcard).toBe(true);
    expect(a.uri).toEqual({ scheme: '*', opaque: '' });
    expect(formatNameAddr(a)).toBe('*');
    expect(addr('*;expires=0').params.get('expires')).toBe('0');
  });

  it('accepts non-SIP URIs', () => {
    expect(addr('<http://www.example.com>;tag=3234233').uri).toEqual({ scheme: 'http', opaque: '//www.example.com' });
    expect(addr('isbn:2983792873').uri).toEqual({ scheme: 'isbn', opaque: '2983792873' });
    expect(addr('<tel:+1-201-555-0123>').uri.scheme).toBe('tel');
  });

  it('keeps URI headers inside angle brackets', () => {
    const a = addr('<sip:user@example.com?Route=%3Csip:sip.example.com%3E>');
    expect(isSipUri(a.uri) && a.uri.headers.get('Route')).toBe('<sip:sip.example.com>');
  });

  it('rejects malformed values', () => {
    const bad = [
      '',
      '   ',
      '"Mr. J. User <sip:j.user@example.com>',
      'Bell, Alexander <sip:a.g.bell@example.com>;tag=43',
      '"Watson, Thomas" < sip:t.watson@example.org >',
      '<sip:user@example.com',
      'sip:user@example.com>',
      '<sip:a@b><sip:c@d>',
      '<sip:a@b> junk',
      'sip:user@example.com?Route=%3Csip:sip.example.com%3E',
      'sip:a@b,sip:c@d',
      '<sip:a@b>;;',
      '<sip:a@b>;tag="x',
      '"Joe" <sip:joe@example.org>;;;;',
      '<>',
      '"unterminated <sip:a@b>',
    ];
    for (const text of bad) expect(parseNameAddr(text), JSON.stringify(text)).toBeNull();
  });
});

describe('formatNameAddr', () => {
  it('always writes the <uri> form and quotes display names only when needed', () => {
    expect(formatNameAddr(addr('sip:a@b;tag=1'))).toBe('<sip:a@b>;tag=1');
    expect(formatNameAddr(addr('Alice <sip:a@b>'))).toBe('Alice <sip:a@b>');
    expect(formatNameAddr(addr('"Alice Smith" <sip:a@b>'))).toBe('Alice Smith <sip:a@b>');
    expect(formatNameAddr(addr('"Smith, Alice" <sip:a@b>'))).toBe('"Smith, Alice" <sip:a@b>');
    expect(formatNameAddr(addr('"say \\"hi\\"" <sip:a@b>'))).toBe('"say \\"hi\\"" <sip:a@b>');
    expect(formatNameAddr(addr('"山田" <sip:a@b>'))).toBe('"山田" <sip:a@b>');
  });

  it('round-trips through parse', () => {
    const samples = [
      '"BEL:\\\u0007 NUL:\\\u0000 DEL:\\\u007f" <sip:x@example.com>',
      '"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>;tag=98asjd8',
      '<sip:caller@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>',
      '<sips:bob@[2001:db8::1]:5061;transport=tls>;expires=60;+sip.instance="<urn:uuid:0001>"',
      '<tel:7042;phone-context=example.com>;tag=x',
    ];
    for (const text of samples) {
      const a = addr(text);
      const again = addr(formatNameAddr(a));
      expect(again, text).toEqual(a);
      expect(formatUri(again.uri)).toBe(formatUri(a.uri));
    }
  });

  it('does not emit CR or LF from a display name', () => {
    const out = formatNameAddr({ displayName: 'a\r\nb', uri: { scheme: 'sip', host: 'h', params: new Map(), headers: new Map() }, params: new Map() });
    expect(out).not.toMatch(/[\r\n]/);
    expect(parseNameAddr(out)).not.toBeNull();
  });
});
