// RFC 3262 reliable provisional responses and PRACK, between real stacks (and one hand-driven UAS) on loopback.
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { pino } from 'pino';
import { SipStack, type StackOptions } from '../../../src/sip/stack.js';
import type { Dialog, DestroyCause } from '../../../src/sip/dialog.js';
import { SipRequest, SipResponse } from '../../../src/sip/message.js';
import { parseMessage } from '../../../src/sip/parser.js';
import { buildResponse } from '../../../src/sip/response-builder.js';
import { contactUriText } from '../../../src/sip/dialog-init.js';
import { parseRAck, parseRSeq, ProvisionalAcknowledger } from '../../../src/sip/reliable-provisional.js';
import type { SendTarget, TransportName } from '../../../src/sip/transport/types.js';

const logger = pino({ level: 'silent' });
const stacks: SipStack[] = [];
const sockets: Socket[] = [];
const T1 = 20;

afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
  for (const s of sockets.splice(0)) s.close();
});

async function stack(opts: Partial<StackOptions> = {}, transport: TransportName = 'udp'): Promise<SipStack> {
  const s = new SipStack({ listen: [{ transport, host: '127.0.0.1', port: 0 }], logger, timers: { t1: T1 }, ...opts });
  await s.start();
  stacks.push(s);
  return s;
}

function portOf(s: SipStack, transport: TransportName = 'udp'): number {
  return s.listening().find((p) => p.transport === transport)!.port;
}

function targetOf(s: SipStack): SendTarget {
  return { transport: 'udp', address: '127.0.0.1', port: portOf(s) };
}

const SDP_A = 'v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
const SDP_B = 'v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** An INVITE from stack `a` sent through a bare client transaction, so the test plays the UAC core. */
function rawInvite(a: SipStack, b: SipStack, headers: Record<string, string>) {
  const invite = a.buildRequest({
    method: 'INVITE',
    uri: `sip:bob@127.0.0.1:${portOf(b)}`,
    body: SDP_A,
    headers: { 'content-type': 'application/sdp', contact: `<sip:a@127.0.0.1:${portOf(a)}>`, ...headers },
  });
  const provisionals: SipResponse[] = [];
  let final: SipResponse | undefined;
  a.sendRequest(invite, targetOf(b), {
    onProvisional: (r) => provisionals.push(r),
    onFinal: (r) => (final = r),
  });
  return {
    invite,
    provisionals,
    final: () => final,
    /** A PRACK in the early dialog of `prov`, acknowledging `rack` (default: that provisional). */
    prack(prov: SipResponse, cseq: number, rack = `${prov.get('rseq')} 1 INVITE`): Promise<SipResponse> {
      return a.request({
        method: 'PRACK',
        uri: contactUriText(prov.get('contact')!),
        from: invite.get('from'),
        to: prov.get('to'),
        callId: invite.callId,
        cseq,
        headers: { rack },
        target: targetOf(b),
      });
    },
  };
}

describe('header parsing', () => {
  it('reads RSeq and RAck and refuses malformed ones', () => {
    expect(parseRSeq(' 4711 ')).toBe(4711);
    expect(parseRSeq('12a')).toBeUndefined();
    expect(parseRSeq('99999999999')).toBeUndefined();
    expect(parseRAck('776656 1 INVITE')).toEqual({ rseq: 776656, cseq: 1, method: 'INVITE' });
    expect(parseRAck('  5   2\tINVITE ')).toEqual({ rseq: 5, cseq: 2, method: 'INVITE' });
    expect(parseRAck('5 INVITE')).toBeUndefined();
    expect(parseRAck('x 1 INVITE')).toBeUndefined();
  });

  it('PRACKs only the first reliable provisional and the one numbered next, per early dialog', () => {
    const ack = new ProvisionalAcknowledger();
    const prov = (status: number, tag: string, rseq?: number) => {
      const r = new SipResponse(status, 'x', [
        ['to', `<sip:b@x>;tag=${tag}`],
        ['cseq', '7 INVITE'],
      ]);
      if (rseq !== undefined) r.add('require', '100rel').add('rseq', rseq);
      return r;
    };
    expect(ack.classify(prov(180, 't1'))).toEqual({ kind: 'unreliable' });
    expect(ack.classify(prov(180, 't1', 50))).toEqual({ kind: 'prack', rseq: 50, rack: '50 7 INVITE' });
    expect(ack.classify(prov(180, 't1', 50))).toEqual({ kind: 'discard' });
    expect(ack.classify(prov(183, 't1', 52))).toEqual({ kind: 'discard' });
    expect(ack.classify(prov(183, 't1', 51))).toMatchObject({ kind: 'prack', rseq: 51 });
    // Another fork is another early dialog with its own numbering.
    expect(ack.classify(prov(180, 't2', 9))).toMatchObject({ kind: 'prack', rseq: 9 });
  });
});

describe('UAS: reliable provisionals', () => {
  it('retransmits a reliable 180 until PRACKed, holds the next one back until then, and answers 200 after', async () => {
    const a = await stack();
    const b = await stack();
    const pracked: SipRequest[] = [];
    let uas: Dialog | undefined;
    b.use('INVITE', (req, res) => {
      expect(res.reliableProvisionals).toBe(true);
      res.send(180);
      res.send(183, undefined, { headers: { 'content-type': 'application/sdp' }, body: SDP_B });
      res.onPrack((p) => {
        pracked.push(p);
        if (pracked.length === 2) uas = b.createUAS(req, res, { localSdp: SDP_B });
      });
    });
    const call = rawInvite(a, b, { require: '100rel' });

    // Several copies of the 180 (T1 = 20 ms, doubling) and no 183 while it is unacknowledged.
    await until(() => call.provisionals.filter((r) => r.status === 180).length >= 3);
    const ringing = call.provisionals.filter((r) => r.status === 180);
    const rseq = Number(ringing[0]!.get('rseq'));
    expect(rseq).toBeGreaterThanOrEqual(1);
    expect(rseq).toBeLessThan(2 ** 31);
    for (const r of ringing) {
      expect(r.get('rseq')).toBe(String(rseq));
      expect(r.getAll('require')).toContain('100rel');
      expect(r.get('contact')).toContain(`127.0.0.1:${portOf(b)}`);
    }
    expect(call.provisionals.some((r) => r.status === 183)).toBe(false);

    expect((await call.prack(ringing[0]!, 2)).status).toBe(200);
    await until(() => call.provisionals.some((r) => r.status === 183));
    const copies = call.provisionals.filter((r) => r.status === 180).length;
    await sleep(8 * T1);
    // The 180 is no longer retransmitted once PRACKed.
    expect(call.provisionals.filter((r) => r.status === 180).length).toBe(copies);
    const progress = call.provisionals.find((r) => r.status === 183)!;
    expect(progress.get('rseq')).toBe(String(rseq + 1));
    expect(progress.body.toString()).toBe(SDP_B);
    expect(call.final()).toBeUndefined();

    expect((await call.prack(progress, 3)).status).toBe(200);
    await until(() => call.final() !== undefined);
    expect(call.final()!.status).toBe(200);
    expect(pracked.map((p) => p.get('rack'))).toEqual([`${rseq} 1 INVITE`, `${rseq + 1} 1 INVITE`]);
    expect(uas?.state).toBe('confirmed');
    expect(b.dialogs.earlySize).toBe(0);
  });

  it('answers a PRACK that matches nothing with 481', async () => {
    const a = await stack();
    const b = await stack();
    b.use('INVITE', (_req, res) => {
      res.send(180);
    });
    const call = rawInvite(a, b, { require: '100rel' });
    await until(() => call.provisionals.some((r) => r.status === 180));
    const ringing = call.provisionals.find((r) => r.status === 180)!;
    const rseq = Number(ringing.get('rseq'));
    expect((await call.prack(ringing, 2, `${rseq + 7} 1 INVITE`)).status).toBe(481);
    expect((await call.prack(ringing, 3, `${rseq} 9 INVITE`)).status).toBe(481);
    expect((await call.prack(ringing, 4, `${rseq} 1 BYE`)).status).toBe(481);
    expect((await call.prack(ringing, 5)).status).toBe(200);
    // Already acknowledged: a new PRACK for it matches no unacknowledged response.
    expect((await call.prack(ringing, 6)).status).toBe(481);
  });

  it('rejects the INVITE with 5xx when no PRACK comes within 64*T1', async () => {
    const a = await stack();
    const b = await stack();
    const localFinal: number[] = [];
    const started = Date.now();
    b.use('INVITE', (_req, res) => {
      res.onLocalFinal((r) => localFinal.push(r.status));
      res.send(180);
    });
    const call = rawInvite(a, b, { require: '100rel' });
    await until(() => call.final() !== undefined, 5000);
    const elapsed = Date.now() - started;
    expect(call.final()!.status).toBeGreaterThanOrEqual(500);
    expect(call.final()!.status).toBeLessThan(600);
    expect(elapsed).toBeGreaterThanOrEqual(64 * T1 - 5);
    expect(localFinal).toEqual([call.final()!.status]);
    // 180 sent at 0, T1, 3T1, 7T1, 15T1, 31T1 and 63T1.
    expect(call.provisionals.filter((r) => r.status === 180).length).toBeGreaterThanOrEqual(5);
    expect(b.dialogs.earlySize).toBe(0);
  });

  it('sends provisionals unreliably to a UAC that only supports 100rel, unless told to use it then', async () => {
    const a = await stack();
    const strict = await stack();
    const eager = await stack({ reliableProvisionals: 'when-supported' });
    for (const s of [strict, eager]) s.use('INVITE', (_req, res) => res.send(180));
    const toStrict = rawInvite(a, strict, { supported: '100rel' });
    const toEager = rawInvite(a, eager, { supported: '100rel' });
    await until(() => toStrict.provisionals.some((r) => r.status === 180) && toEager.provisionals.some((r) => r.status === 180));
    const plain = toStrict.provisionals.find((r) => r.status === 180)!;
    expect(plain.has('rseq')).toBe(false);
    expect(plain.getAll('require')).not.toContain('100rel');
    const reliable = toEager.provisionals.find((r) => r.status === 180)!;
    expect(reliable.has('rseq')).toBe(true);
  });

  it('does not answer Require: 100rel with 420', async () => {
    const a = await stack();
    const b = await stack();
    b.use('OPTIONS', (_req, res) => res.send(200));
    const res = await a.request({ method: 'OPTIONS', uri: `sip:bob@127.0.0.1:${portOf(b)}`, headers: { require: '100rel, timer' } });
    expect(res.status).toBe(200);
  });
});

describe.each(['udp', 'tcp'] as const)('UAC: PRACK over %s', (transport) => {
  it('PRACKs a reliable 183 from the other stack once, and the dialog continues after it', async () => {
    const a = await stack({}, transport);
    const b = await stack({ reliableProvisionals: 'when-supported' }, transport);
    let uas: Dialog | undefined;
    let invite: SipRequest | undefined;
    const pracks: SipRequest[] = [];
    b.use('INVITE', (req, res) => {
      invite = req;
      res.send(183, undefined, { headers: { 'content-type': 'application/sdp' }, body: SDP_B });
      res.onPrack((p) => {
        pracks.push(p);
        uas = b.createUAS(req, res, { localSdp: SDP_B });
      });
    });
    const seen: SipResponse[] = [];
    const t = transport === 'udp' ? '' : ';transport=tcp';
    const uac = await a.createUAC({ uri: `sip:bob@127.0.0.1:${portOf(b, transport)}${t}`, localSdp: SDP_A, onProvisional: (r) => seen.push(r) });
    expect(invite!.getAll('supported')).toContain('100rel');
    const progress = seen.filter((r) => r.status === 183);
    expect(progress).toHaveLength(1);
    expect(progress[0]!.body.toString()).toBe(SDP_B);
    expect(pracks).toHaveLength(1);
    expect(pracks[0]!.get('rack')).toBe(`${progress[0]!.get('rseq')} 1 INVITE`);
    expect(pracks[0]!.cseq).toEqual({ seq: 2, method: 'PRACK' });
    expect(pracks[0]!.toTag).toBe(progress[0]!.toTag);

    // The confirmed dialog numbers its requests after the PRACK's CSeq.
    const ended = new Promise<[SipRequest | undefined, DestroyCause | undefined]>((resolve) => uas!.on('destroy', (req, cause) => resolve([req, cause])));
    await uac.destroy();
    const [bye, cause] = await ended;
    expect(bye?.cseq?.seq).toBeGreaterThan(2);
    expect(cause).toBe('bye');
  });
});

describe('UAC: reliable provisionals from a hand-driven UAS', () => {
  it('ignores retransmitted and out-of-order provisionals, and PRACKs through the early route set', async () => {
    const a = await stack();
    const sock = createSocket('udp4');
    sockets.push(sock);
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    const pracks: SipRequest[] = [];
    const send = (res: SipResponse, to: { address: string; port: number }) => sock.send(res.toBuffer(), to.port, to.address);
    sock.on('message', (data, rinfo) => {
      const parsed = parseMessage(data);
      if (!parsed.ok || !(parsed.message instanceof SipRequest)) return;
      const req = parsed.message;
      if (req.method === 'INVITE') {
        const reliable = (status: number, rseq: number) =>
          buildResponse(req, status, undefined, {
            toTag: 'uas1',
            headers: { require: '100rel', rseq, contact: `<sip:uas@127.0.0.1:${port}>`, 'record-route': `<sip:127.0.0.1:${port};lr>` },
          });
        for (let i = 0; i < 3; i++) send(reliable(180, 10), rinfo);
        send(reliable(183, 12), rinfo);
        setTimeout(() => send(reliable(183, 11), rinfo), 30);
        setTimeout(() => {
          const ok = buildResponse(req, 200, undefined, { toTag: 'uas1', headers: { contact: `<sip:uas@127.0.0.1:${port}>`, 'content-type': 'application/sdp' }, body: SDP_B });
          send(ok, rinfo);
        }, 120);
      } else if (req.method === 'PRACK') {
        pracks.push(req);
        send(buildResponse(req, 200), rinfo);
      } else if (req.method === 'BYE') {
        send(buildResponse(req, 200), rinfo);
      }
    });
    const seen: number[] = [];
    const uac = await a.createUAC({ uri: `sip:uas@127.0.0.1:${port}`, localSdp: SDP_A, onProvisional: (r) => seen.push(r.status) });
    expect(seen.filter((s) => s !== 100)).toEqual([180, 183]);
    expect(pracks.map((p) => p.get('rack'))).toEqual(['10 1 INVITE', '11 1 INVITE']);
    expect(pracks.map((p) => p.cseq?.seq)).toEqual([2, 3]);
    expect(pracks[0]!.uri).toBe(`sip:uas@127.0.0.1:${port}`);
    expect(pracks[0]!.get('route')).toBe(`<sip:127.0.0.1:${port};lr>`);
    expect(pracks[0]!.toTag).toBe('uas1');
    expect(uac.localSeq).toBe(3);
  });
});
