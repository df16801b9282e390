// Reading a datagram without parsing it: only new out-of-dialog INVITEs and REGISTERs may be taken
// for droppable work; everything uncertain is on the safe side.
import { describe, expect, it } from 'vitest';
import { isNewInviteOrRegister, isRequestBytes } from '../../../src/sip/peek.js';

const msg = (lines: string[]) => Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
const head = (start: string, to: string) => msg([start, 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1', 'From: <sip:a@x>;tag=1', to, 'Call-ID: c', 'CSeq: 1 INVITE']);

describe('peek', () => {
  it('tells requests from responses', () => {
    expect(isRequestBytes(Buffer.from('SIP/2.0 200 OK\r\n'))).toBe(false);
    expect(isRequestBytes(Buffer.from('OPTIONS sip:x SIP/2.0\r\n'))).toBe(true);
    expect(isRequestBytes(Buffer.from('garbage'))).toBe(true);
  });

  it('finds new INVITEs and REGISTERs, in any header spelling', () => {
    expect(isNewInviteOrRegister(head('INVITE sip:b@x SIP/2.0', 'To: <sip:b@x>'))).toBe(true);
    expect(isNewInviteOrRegister(head('REGISTER sip:x SIP/2.0', 't: <sip:b@x>'))).toBe(true);
    expect(isNewInviteOrRegister(head('INVITE sip:b@x SIP/2.0', 'TO :\r\n <sip:b@x>'))).toBe(true);
    expect(isNewInviteOrRegister(head('INVITE sip:b@x SIP/2.0', 'To: "tag" <sip:b@x>'))).toBe(true);
  });

  it('never takes in-dialog requests, other methods, responses or unreadable messages for new work', () => {
    expect(isNewInviteOrRegister(head('INVITE sip:b@x SIP/2.0', 'To: <sip:b@x>;tag=abc'))).toBe(false);
    expect(isNewInviteOrRegister(head('INVITE sip:b@x SIP/2.0', 'To: <sip:b@x> ; TAG = abc'))).toBe(false);
    expect(isNewInviteOrRegister(head('INVITE sip:b@x SIP/2.0', 'To: <sip:b@x>\r\n ;tag=folded'))).toBe(false);
    expect(isNewInviteOrRegister(head('ACK sip:b@x SIP/2.0', 'To: <sip:b@x>'))).toBe(false);
    expect(isNewInviteOrRegister(head('BYE sip:b@x SIP/2.0', 'To: <sip:b@x>'))).toBe(false);
    expect(isNewInviteOrRegister(head('SIP/2.0 200 OK', 'To: <sip:b@x>'))).toBe(false);
    expect(isNewInviteOrRegister(head('INVITE sip:b@x SIP/2.0', 'X-To: <sip:b@x>'))).toBe(false);
    expect(isNewInviteOrRegister(Buffer.from('INVITE '))).toBe(false);
  });
});
