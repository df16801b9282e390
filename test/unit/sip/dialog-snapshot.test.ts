// A dialog snapshot taken in one stack, restored in a new one (the process that held the dialog has
// died), ends the dialog with a BYE the peer accepts: same Call-ID and tags, a higher CSeq, the Reason
// given; over UDP to the old flow, over TCP by a new connection to the peer's Contact, through the
// route set when there is one. A peer that hangs up first is answered 200 and gets no BYE back.
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SipStack } from '../../../src/sip/stack.js';
import type { Dialog } from '../../../src/sip/dialog.js';
import { SipRequest } from '../../../src/sip/message.js';
import { parseMessage } from '../../../src/sip/parser.js';
import { byeRestored, restoreDialog, RESTORED_CSEQ_STEP, snapshotDialog, type DialogSnapshot } from '../../../src/sip/dialog-snapshot.js';
import type { TransportName } from '../../../src/sip/transport/types.js';

const logger = pino({ level: 'silent' });
const stacks: SipStack[] = [];
const REASON = 'Q.850;cause=41;text="restarted"';

afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
});

async function stack(listen: TransportName[], t1 = 500): Promise<SipStack> {
  const s = new SipStack({ listen: listen.map((transport) => ({ transport, host: '127.0.0.1', port: 0 })), logger, timers: { t1 } });
  await s.start();
  stacks.push(s);
  return s;
}

function portOf(s: SipStack, transport: TransportName): number {
  return s.listening().find((p) => p.transport === transport)!.port;
}

function once<T>(fn: (resolve: (v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve) => fn(resolve));
}

/** `caller` calls `callee`; both confirmed dialogs once the ACK has arrived. */
async function call(caller: SipStack, callee: SipStack, transport: TransportName): Promise<{ uac: Dialog; uas: Dialog }> {
  let uas: Dialog | undefined;
  const acked = once<void>((resolve) =>
    callee.use('INVITE', (req, res) => {
      uas = callee.createUAS(req, res, { localSdp: 'v=0\r\n' });
      uas.on('ack', () => resolve());
    }),
  );
  const t = transport === 'udp' ? '' : `;transport=${transport}`;
  const uac = await caller.createUAC({ uri: `sip:bob@127.0.0.1:${portOf(callee, transport)}${t}`, from: '<sip:alice@hibiki.test>', localSdp: 'v=0\r\n' });
  await acked;
  return { uac, uas: uas! };
}

describe.each(['udp', 'tcp'] as const)('a restored dialog over %s', (transport) => {
  it('ends the call at the peer whichever side hibiki was: BYE with the same dialog ids, a higher CSeq and the Reason', async () => {
    const phone = await stack([transport]);
    const oldHibiki = await stack([transport]);
    // hibiki as UAS (the phone called it) and as UAC (it called the phone).
    const asUas = await call(phone, oldHibiki, transport);
    const asUac = await call(oldHibiki, phone, transport);
    // A session refresh or relayed re-INVITE after the snapshot: the restored CSeq must still be higher.
    const snaps = [snapshotDialog(asUas.uas), snapshotDialog(asUac.uac)];
    expect((await asUac.uac.request({ method: 'INFO' })).status).toBe(200);

    // The process dies: its dialogs and connections with it.
    const i = stacks.indexOf(oldHibiki);
    stacks.splice(i, 1);
    await oldHibiki.stop();
    const newHibiki = await stack([transport]);

    const ends = [asUas.uac, asUac.uas].map((d) => once<SipRequest | undefined>((resolve) => d.on('destroy', resolve)));
    for (const snap of snaps) {
      const d = await restoreDialog(newHibiki, snap);
      const res = await byeRestored(d, { reason: REASON });
      expect(res?.status).toBe(200);
      expect(d.state).toBe('terminated');
    }
    const [byeToCaller, byeToCallee] = await Promise.all(ends);
    for (const [bye, snap] of [
      [byeToCaller, snaps[0]!],
      [byeToCallee, snaps[1]!],
    ] as const) {
      expect(bye?.method).toBe('BYE');
      expect(bye?.callId).toBe(snap.callId);
      expect(bye?.get('reason')).toBe(REASON);
      expect(bye?.cseq?.seq).toBe(snap.localSeq + RESTORED_CSEQ_STEP + 1);
    }
    expect(phone.dialogs.size).toBe(0);
    expect(newHibiki.dialogs.size).toBe(0);
  });

  it('answers the phone’s own BYE 200 while waiting, and then sends none', async () => {
    const phone = await stack([transport]);
    const oldHibiki = await stack([transport]);
    const { uac } = await call(phone, oldHibiki, transport);
    const snap = snapshotDialog(oldHibiki.dialogs.find(uac.callId, uac.remoteTag, uac.localTag)!);
    stacks.splice(stacks.indexOf(oldHibiki), 1);
    await oldHibiki.stop();
    // The phone's BYE goes to where it sent everything: hibiki's (fixed) address. Here the new stack
    // has another port, so the phone is pointed at it as a restarted server on the same port would be.
    const newHibiki = await stack([transport]);
    const d = await restoreDialog(newHibiki, snap);
    uac.flow = { transport, address: '127.0.0.1', port: portOf(newHibiki, transport) };
    const res = await uac.request({ method: 'BYE' });
    expect(res.status).toBe(200);
    expect(d.state).toBe('terminated');
    expect(await byeRestored(d, { reason: REASON })).toBeUndefined();
  });
});

it('sends the BYE through the route set: Request-URI the remote target, Route headers, dialog identifiers', async () => {
  const proxy = createSocket('udp4');
  await new Promise<void>((resolve) => proxy.bind(0, '127.0.0.1', () => resolve()));
  try {
    const received = once<SipRequest>((resolve) =>
      proxy.on('message', (data) => {
        const parsed = parseMessage(data);
        if (parsed.ok && parsed.message instanceof SipRequest) resolve(parsed.message);
      }),
    );
    const proxyPort = proxy.address().port;
    const snap: DialogSnapshot = {
      role: 'uac',
      callId: 'abc@192.0.2.1',
      localTag: 'ours',
      remoteTag: 'theirs',
      localAddress: '<sip:2001@hibiki.test>;tag=ours',
      remoteAddress: '<sip:2002@hibiki.test>;tag=theirs',
      remoteTarget: 'sip:2002@192.0.2.99:5080',
      routeSet: [`<sip:127.0.0.1:${proxyPort};lr>`, '<sip:192.0.2.7;lr>'],
      localSeq: 7,
      // Never used: the route set decides where the BYE goes.
      flow: { transport: 'udp', address: '192.0.2.99', port: 5080 },
    };
    const hibiki = await stack(['udp']);
    const d = await restoreDialog(hibiki, snap);
    void byeRestored(d, { reason: REASON });
    const bye = await received;
    expect(bye.method).toBe('BYE');
    expect(bye.uri).toBe('sip:2002@192.0.2.99:5080');
    expect(bye.getAll('route')).toEqual(snap.routeSet);
    expect(bye.get('from')).toBe(snap.localAddress);
    expect(bye.get('to')).toBe(snap.remoteAddress);
    expect(bye.callId).toBe(snap.callId);
    expect(bye.get('cseq')).toBe(`${7 + RESTORED_CSEQ_STEP + 1} BYE`);
    expect(bye.get('reason')).toBe(REASON);
  } finally {
    proxy.close();
  }
});

it('cannot reach a WebSocket leg (a browser accepts no connections): the BYE fails at once with 503', async () => {
  const hibiki = await stack(['udp', 'ws']);
  const d = await restoreDialog(hibiki, {
    role: 'uas',
    callId: 'ws-call',
    localTag: 'ours',
    remoteTag: 'theirs',
    localAddress: '<sip:2001@hibiki.test>;tag=ours',
    remoteAddress: '<sip:2003@hibiki.test>;tag=theirs',
    remoteTarget: 'sip:x7f@df7jal23ls0d.invalid;transport=ws',
    routeSet: [],
    localSeq: 1,
    flow: { transport: 'ws', address: '127.0.0.1', port: 40000 },
  });
  const res = await byeRestored(d, { reason: REASON });
  expect(res?.status).toBe(503);
});

it('keeps the CSeq below 2^31 however high the snapshot was', async () => {
  const hibiki = await stack(['udp']);
  const d = await restoreDialog(hibiki, {
    role: 'uac',
    callId: 'big',
    localTag: 'a',
    remoteTag: 'b',
    localAddress: '<sip:a@x>;tag=a',
    remoteAddress: '<sip:b@x>;tag=b',
    remoteTarget: 'sip:b@127.0.0.1:9',
    routeSet: [],
    localSeq: 2 ** 31 - 10,
    flow: { transport: 'udp', address: '127.0.0.1', port: 9 },
  });
  const bye = d.buildRequest({ method: 'BYE' });
  expect(bye.cseq?.seq).toBe(2 ** 31 - 1);
});
