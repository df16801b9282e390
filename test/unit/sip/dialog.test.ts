// The stack's dialog API (createUAC/createUAS, in-dialog requests, CANCEL) between two real stacks on loopback.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { SipStack } from '../../../src/sip/stack.js';
import type { Dialog } from '../../../src/sip/dialog.js';
import { UacError } from '../../../src/sip/dialog-layer.js';
import type { SipRequest } from '../../../src/sip/message.js';
import type { TransportName } from '../../../src/sip/transport/types.js';

const logger = pino({ level: 'silent' });
const stacks: SipStack[] = [];

afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
});

async function stack(transport: TransportName, t1 = 500): Promise<SipStack> {
  const s = new SipStack({ listen: [{ transport, host: '127.0.0.1', port: 0 }], logger, timers: { t1 } });
  await s.start();
  stacks.push(s);
  return s;
}

function portOf(s: SipStack, transport: TransportName): number {
  return s.listening().find((p) => p.transport === transport)!.port;
}

const SDP_A = 'v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
const SDP_B = 'v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n';

function once<T>(fn: (resolve: (v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve) => fn(resolve));
}

describe.each(['udp', 'tcp'] as const)('dialogs over %s', (transport) => {
  it('INVITE → 200 → ACK, re-INVITE, INFO, BYE from the caller', async () => {
    const a = await stack(transport);
    const b = await stack(transport);
    let uas: Dialog | undefined;
    const acked = once<SipRequest>((resolve) => {
      b.use('INVITE', (req, res) => {
        res.send(180);
        uas = b.createUAS(req, res, { localSdp: SDP_B });
        uas.on('ack', resolve);
      });
    });
    const t = transport === 'udp' ? '' : ';transport=tcp';
    const provisional: number[] = [];
    const uac = await a.createUAC({
      uri: `sip:bob@127.0.0.1:${portOf(b, transport)}${t}`,
      localSdp: SDP_A,
      from: '<sip:alice@hibiki.test>',
      onProvisional: (r) => provisional.push(r.status),
    });
    await acked;
    expect(provisional).toContain(180);
    expect(uac.remote.sdp).toBe(SDP_B);
    expect(uas?.remote.sdp).toBe(SDP_A);
    expect(uac.callId).toBe(uas?.callId);
    expect(uac.remoteTag).toBe(uas?.localTag);

    // re-INVITE from the callee is offered to the application through 'modify'.
    const modified = once<string>((resolve) => {
      uac.on('modify', (req, res) => {
        resolve(req.body.toString());
        b.logger.debug('modify');
        uac.local.sdp = SDP_A.replace('4000', '4002');
        res.send(200, undefined, { headers: { 'content-type': 'application/sdp' }, body: uac.local.sdp });
      });
    });
    const reinvite = await uas!.modify(SDP_B.replace('a=', 'a=').replace('RTP/AVP 0', 'RTP/AVP 0\r\na=sendonly'));
    expect(reinvite.status).toBe(200);
    expect(await modified).toContain('a=sendonly');
    expect(uas!.remote.sdp).toContain('4002');

    const info = once<string>((resolve) =>
      uas!.on('info', (req, res) => {
        res.send(200);
        resolve(req.body.toString());
      }),
    );
    const infoRes = await uac.request({ method: 'INFO', headers: { 'content-type': 'application/dtmf-relay' }, body: 'Signal=5\r\nDuration=160\r\n' });
    expect(infoRes.status).toBe(200);
    expect(await info).toContain('Signal=5');

    const ended = once<SipRequest | undefined>((resolve) => uas!.on('destroy', resolve));
    await uac.destroy();
    const bye = await ended;
    expect(bye?.method).toBe('BYE');
    expect(a.dialogs.size).toBe(0);
    expect(b.dialogs.size).toBe(0);
    // Ended dialogs let go of their listeners (the application's call), on both sides: the transactions
    // that outlive them for 32 s keep the dialogs reachable.
    expect(uas!.eventNames()).toEqual([]);
    expect(uac.eventNames()).toEqual([]);
  });

  it('rejects with the final status, and CANCEL gives 487 to the caller and a cancel event to the callee', async () => {
    const a = await stack(transport);
    const b = await stack(transport);
    const t = transport === 'udp' ? '' : ';transport=tcp';
    b.use('INVITE', (req, res) => {
      if (req.uri.includes('busy')) {
        res.send(486);
        return;
      }
      res.send(180);
      res.onCancel(() => b.logger.info('cancelled'));
    });
    await expect(a.createUAC({ uri: `sip:busy@127.0.0.1:${portOf(b, transport)}${t}`, localSdp: SDP_A })).rejects.toMatchObject({ status: 486 });

    let cancel: (() => void) | undefined;
    const calling = a.createUAC({
      uri: `sip:ring@127.0.0.1:${portOf(b, transport)}${t}`,
      localSdp: SDP_A,
      onRequestSent: (h) => (cancel = h.cancel),
      onProvisional: (r) => {
        if (r.status === 180) cancel?.();
      },
    });
    const err = await calling.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UacError);
    expect((err as UacError).status).toBe(487);
  });

  it('answers an in-dialog request for an unknown dialog with 481', async () => {
    const a = await stack(transport);
    const b = await stack(transport);
    const t = transport === 'udp' ? '' : ';transport=tcp';
    const res = await a.request({
      method: 'BYE',
      uri: `sip:bob@127.0.0.1:${portOf(b, transport)}${t}`,
      to: '<sip:bob@127.0.0.1>;tag=nosuchdialog',
    });
    expect(res.status).toBe(481);
  });
});

it('retransmits the 2xx over UDP until the ACK arrives, and ends the dialog with BYE when none does', async () => {
  const a = await stack('udp', 20);
  const b = await stack('udp', 20);
  let uas: Dialog | undefined;
  b.use('INVITE', (req, res) => {
    uas = b.createUAS(req, res, { localSdp: SDP_B });
  });
  // A raw UAC that never ACKs: send the INVITE through a client transaction only.
  const req = a.buildRequest({
    method: 'INVITE',
    uri: `sip:bob@127.0.0.1:${portOf(b, 'udp')}`,
    body: SDP_A,
    headers: { 'content-type': 'application/sdp', contact: `<sip:a@127.0.0.1:${portOf(a, 'udp')}>` },
  });
  let twoHundreds = 0;
  // The BYE carries b's to-tag for a dialog `a` never made, so watch for it on the wire.
  const byeSeen = once<void>((resolve) =>
    a.transport.onMessage((data) => {
      if (data.toString('utf8').startsWith('BYE ')) resolve();
    }),
  );
  a.sendRequest(
    req,
    { transport: 'udp', address: '127.0.0.1', port: portOf(b, 'udp') },
    {
      onFinal: () => twoHundreds++,
      onAdditional2xx: () => twoHundreds++,
    },
  );
  await byeSeen;
  expect(twoHundreds).toBeGreaterThan(3);
  expect(uas?.state).toBe('terminated');
});

it('answers 500 when an in-dialog request listener throws, instead of leaving the request unanswered (issue #14)', async () => {
  const a = await stack('udp');
  const b = await stack('udp');
  let uas: Dialog | undefined;
  b.use('INVITE', (req, res) => {
    uas = b.createUAS(req, res, { localSdp: SDP_B });
    uas.on('refer', () => {
      throw new Error('a feature failed');
    });
  });
  const uac = await a.createUAC({ uri: `sip:bob@127.0.0.1:${portOf(b, 'udp')}`, localSdp: SDP_A });
  const res = await uac.request({ method: 'REFER', headers: { 'refer-to': '<sip:carol@hibiki.test>' } });
  expect(res.status).toBe(500);
  // The dialog is still there.
  expect(uas?.state).toBe('confirmed');
  await uac.destroy();
});

/** A UAC dialog with a raw UDP peer that answered 200 (send() sends the 200 again); acks() are the ACKs it got. */
async function uacWithRawPeer(t1?: number) {
  const dgram = await import('node:dgram');
  const a = await stack('udp', t1);
  const peer = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
  const received: string[] = [];
  let waiter: (() => void) | undefined;
  peer.on('message', (m) => {
    received.push(m.toString('latin1'));
    waiter?.();
  });
  const next = async (n: number, method: string): Promise<string> => {
    const of = () => received.filter((m) => m.startsWith(`${method} `));
    while (of().length < n) await new Promise<void>((resolve) => (waiter = resolve));
    return of()[n - 1]!;
  };
  const calling = a.createUAC({ uri: `sip:bob@127.0.0.1:${peer.address().port}`, localSdp: SDP_A, from: '<sip:alice@hibiki.test>' });
  const invite = await next(1, 'INVITE');
  const header = (name: string): string => new RegExp(`^${name}: (.*)$`, 'mi').exec(invite)![1]!;
  const ok = Buffer.from(
    [
      'SIP/2.0 200 OK',
      `Via: ${header('Via')}`,
      `From: ${header('From')}`,
      `To: ${header('To')};tag=peer1`,
      `Call-ID: ${header('Call-ID')}`,
      `CSeq: ${header('CSeq')}`,
      `Contact: <sip:bob@127.0.0.1:${peer.address().port}>`,
      'Content-Type: application/sdp',
      `Content-Length: ${SDP_B.length}`,
      '',
      SDP_B,
    ].join('\r\n'),
    'latin1',
  );
  const send = (): void => peer.send(ok, portOf(a, 'udp'), '127.0.0.1');
  send();
  const uac = await calling;
  return { uac, send, ack: (n: number) => next(n, 'ACK'), close: () => peer.close() };
}

it('ACKs a retransmitted 2xx again with the same bytes, kept as sent rather than as a parsed request (issue #13)', async () => {
  const { uac, send, ack, close } = await uacWithRawPeer();
  const firstAck = await ack(1);
  // The 200 again, as if our ACK had been lost: the very same ACK goes out again.
  send();
  expect(await ack(2)).toBe(firstAck);
  const kept = uac.lastAck?.ack;
  expect(kept?.headers).toEqual([]);
  close();
});

it('lets go of the kept ACK once the 2xx can no longer be retransmitted (64*T1); a 2xx after that gets a new ACK', async () => {
  const { uac, send, ack, close } = await uacWithRawPeer(10);
  const firstAck = await ack(1);
  await vi.waitFor(() => expect(uac.lastAck?.ack).toBeUndefined(), { timeout: 10_000, interval: 20 });
  send();
  const second = await ack(2);
  expect(second).not.toBe(firstAck);
  // A new ACK for the same INVITE: same CSeq, a new branch.
  expect(/^CSeq: (.*)$/m.exec(second)?.[1]).toBe(/^CSeq: (.*)$/m.exec(firstAck)?.[1]);
  close();
});
