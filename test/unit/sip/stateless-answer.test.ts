// Issue #14: challenges and refusals of out-of-dialog requests are sent statelessly — no server
// transaction kept, no retransmissions, no 100 Trying ahead of them — and the ACK of such an answer
// is absorbed quietly. Driven with a fake clock through SipStack.receive().
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SipResponse } from '../../../src/sip/message.js';
import { ackFor, request, stackHarness, type StackHarness } from './stack-harness.js';

let h: StackHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** 64*T1: every transaction of an answered request would have ended by then. */
const LONG = 32_000;

describe('stateless answers', () => {
  it('challenges an INVITE with one 401: no 100 before it, no transaction kept, no retransmission, ACK absorbed', async () => {
    h = await stackHarness();
    h.stack.use('INVITE', (_req, res) => res.sendStateless(401, undefined, { headers: { 'www-authenticate': 'Digest realm="x", nonce="n"' } }));
    const onAck = vi.spyOn(h.stack.dialogs, 'onAck');
    const invite = request({ callId: 'c1' });
    // The transport's own periodic timers (the idle-connection sweep) run whatever the requests do.
    const idleTimers = h.clock.pending;
    h.deliver(invite);

    expect(h.responses('c1').map((r) => r.status)).toEqual([401]);
    const challenge = h.responses('c1')[0] as SipResponse;
    expect(challenge.toTag).toMatch(/^sl-/);
    expect(h.stack.transactions.size.server).toBe(0);
    expect(h.clock.pending).toBe(idleTimers);

    h.deliver(ackFor(invite, challenge));
    h.clock.advance(LONG);
    expect(h.responses('c1')).toHaveLength(1);
    expect(onAck).not.toHaveBeenCalled();
    expect(h.logs.filter((l) => (l.level as number) >= 30 && l.callId === 'c1')).toEqual([]);

    // The INVITE retransmitted (its 401 lost) is challenged again, once.
    h.deliver(invite);
    expect(h.responses('c1').map((r) => r.status)).toEqual([401, 401]);
    expect(h.stack.transactions.size.server).toBe(0);
  });

  it('sends 100 Trying once the handler has returned without answering, and none when it answered', async () => {
    h = await stackHarness();
    h.stack.use('INVITE', (req, res) => {
      if (req.callId === 'ringing') res.send(180);
      // 'later': answered asynchronously, after the handler returned.
    });
    h.deliver(request({ callId: 'later' }));
    expect(h.responses('later').map((r) => r.status)).toEqual([100]);
    h.deliver(request({ callId: 'ringing' }));
    expect(h.responses('ringing').map((r) => r.status)).toEqual([180]);
  });

  it('once anything was sent, a "stateless" answer goes through the transaction (and is retransmitted)', async () => {
    h = await stackHarness();
    h.stack.use('INVITE', (_req, res) => {
      res.send(180);
      res.sendStateless(486);
    });
    h.deliver(request({ callId: 'c2' }));
    expect(h.stack.transactions.size.server).toBe(1);
    h.clock.advance(600);
    expect(h.responses('c2').map((r) => r.status)).toEqual([180, 486, 486]);
  });

  it('never answers an INVITE with a stateless 2xx', async () => {
    h = await stackHarness();
    h.stack.use('INVITE', (_req, res) => res.sendStateless(200));
    h.deliver(request({ callId: 'c3' }));
    expect(h.stack.transactions.size.server).toBe(1);
  });

  it('answers out-of-dialog requests it handles itself (OPTIONS, unknown methods, bad requests) statelessly', async () => {
    h = await stackHarness();
    h.stack.use('INVITE', () => undefined);
    h.deliver(request({ method: 'OPTIONS', callId: 'o' }));
    h.deliver(request({ method: 'PUBLISH', callId: 'p' }));
    h.deliver(request({ method: 'INVITE', callId: 'r', headers: ['Require: foo'] }));
    expect(h.responses('o').map((r) => r.status)).toEqual([200]);
    expect(h.responses('p').map((r) => r.status)).toEqual([405]);
    expect(h.responses('r').map((r) => r.status)).toEqual([420]);
    expect(h.stack.transactions.size.server).toBe(0);
    h.clock.advance(LONG);
    expect(h.sent).toHaveLength(3);
  });
});
