import { describe, it, expect } from 'vitest';
import { SipResponse } from '../../../../src/sip/message.js';
import type { ServerTransaction } from '../../../../src/sip/transaction/layer.js';
import type { ServerInviteTransaction } from '../../../../src/sip/transaction/server-invite.js';
import { copyRequest, gaps, incoming, makeRequest, makeResponse, setup } from './fixtures.js';

function newInvite(layer: ReturnType<typeof setup>['layer'], spec: Parameters<typeof makeRequest>[0] = {}, transport: 'udp' | 'tcp' = 'udp') {
  const original = makeRequest(spec);
  const pristine = copyRequest(original);
  const source = transport === 'tcp' ? { transport, connectionId: 'conn-7', port: 40000 } : {};
  const outcome = layer.receiveRequest(incoming(original, source));
  if (outcome.kind !== 'new') throw new Error(`expected a new transaction, got ${outcome.kind}`);
  // The stack (the TU here) asks for the 100 Trying when it does not answer at once.
  outcome.tx.sendTrying();
  return {
    tx: outcome.tx,
    req: original,
    /** A retransmission: byte-identical to what arrived, from the same source. */
    again: () => incoming(copyRequest(pristine), source),
    ackFor: (res: SipResponse) => {
      const ack = makeRequest({
        method: 'ACK',
        via: pristine.getAll('via')[0] as string,
        callId: original.callId,
        fromTag: original.fromTag as string,
        toTag: res.toTag as string,
        seq: original.cseq?.seq as number,
      });
      return incoming(ack, source);
    },
  };
}

function respond(tx: ServerTransaction, status: number, toTag = 'uas'): SipResponse {
  const res = makeResponse(tx.request, status, status === 100 ? undefined : toTag);
  tx.respond(res);
  return res;
}

describe('INVITE server transaction', () => {
  it('sends 100 Trying when asked, copying Via, From, To, Call-ID, CSeq and Timestamp', () => {
    const { rec, layer } = setup();
    const { tx, req } = newInvite(layer, {
      lowerVias: ['SIP/2.0/UDP 198.51.100.7:5080;branch=z9hG4bKproxy'],
      extra: [
        ['timestamp', '54.3'],
        ['contact', '<sip:alice@192.0.2.1>'],
      ],
    });
    expect(tx.state).toBe('proceeding');
    expect(rec.responses()).toHaveLength(1);
    const trying = rec.sent[0]?.msg as SipResponse;
    expect(trying.status).toBe(100);
    expect(trying.reason).toBe('Trying');
    expect(trying.getAll('via')).toEqual(req.getAll('via'));
    expect(trying.get('from')).toBe(req.get('from'));
    expect(trying.get('to')).toBe(req.get('to'));
    expect(trying.toTag).toBeUndefined();
    expect(trying.callId).toBe(req.callId);
    expect(trying.get('cseq')).toBe(req.get('cseq'));
    expect(trying.get('timestamp')).toBe('54.3');
    expect(trying.has('contact')).toBe(false);
    expect(rec.sent[0]?.target).toEqual({ transport: 'udp', address: '192.0.2.1', port: 5060 });
    expect(tx.lastResponse).toBe(trying);
  });

  it('sends no 100 Trying of its own, and none once a response went out (issue #14: no 100 ahead of a challenge)', () => {
    const { rec, layer } = setup();
    const outcome = layer.receiveRequest(incoming(makeRequest()));
    if (outcome.kind !== 'new') throw new Error('expected a new transaction');
    expect(rec.sent).toHaveLength(0);
    respond(outcome.tx, 401);
    outcome.tx.sendTrying();
    expect(rec.sent.map((s) => (s.msg as SipResponse).status)).toEqual([401]);
  });

  it('ends at once when discarded after a stateless answer: no timers, no retransmissions, not matched again', () => {
    const { clock, rec, layer } = setup();
    const original = makeRequest();
    const pristine = copyRequest(original);
    const outcome = layer.receiveRequest(incoming(original));
    if (outcome.kind !== 'new') throw new Error('expected a new transaction');
    let terminated = 0;
    outcome.tx.events = { onTerminated: () => terminated++ };
    outcome.tx.discard();
    expect(terminated).toBe(1);
    expect(outcome.tx.state).toBe('terminated');
    expect(layer.size.server).toBe(0);
    expect(clock.pending).toBe(0);
    clock.advance(64_000);
    expect(rec.sent).toHaveLength(0);
    // A retransmission finds nothing and is new again (it gets another stateless answer).
    expect(layer.receiveRequest(incoming(copyRequest(pristine))).kind).toBe('new');
  });

  it('answers a retransmitted INVITE in Proceeding with the latest provisional', () => {
    const { rec, layer } = setup();
    const { tx, again } = newInvite(layer);
    expect(layer.receiveRequest(again())).toEqual({ kind: 'absorbed' });
    expect(rec.responses(100)).toHaveLength(2);
    respond(tx, 180);
    expect(layer.receiveRequest(again())).toEqual({ kind: 'absorbed' });
    expect(rec.responses(180)).toHaveLength(2);
    expect(rec.responses(100)).toHaveLength(2);
  });

  it('retransmits a non-2xx final with Timer G (500, 1000, 2000, 4000, 4000…) until Timer H, then reports the missing ACK', () => {
    const { clock, rec, layer } = setup();
    const { tx } = newInvite(layer);
    let ackTimeout = 0;
    let terminated = 0;
    tx.events = { onAckTimeout: () => ackTimeout++, onTerminated: () => terminated++ };
    rec.clear();
    respond(tx, 486);
    expect(tx.state).toBe('completed');
    clock.advance(31_999);
    const times = rec.timesOf((m) => m instanceof SipResponse && m.status === 486);
    expect(times).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(gaps(times).slice(0, 5)).toEqual([500, 1000, 2000, 4000, 4000]);
    expect(ackTimeout).toBe(0);
    clock.advance(1);
    expect(ackTimeout).toBe(1);
    expect(terminated).toBe(1);
    expect(tx.state).toBe('terminated');
    expect(layer.size.server).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('resends the final response on a retransmitted INVITE in Completed', () => {
    const { rec, layer } = setup();
    const { tx, again } = newInvite(layer);
    respond(tx, 404);
    expect(layer.receiveRequest(again())).toEqual({ kind: 'absorbed' });
    expect(rec.responses(404)).toHaveLength(2);
  });

  it('moves to Confirmed on the ACK: no more retransmissions, ACKs absorbed, Timer I (T4) ends it', () => {
    const { clock, rec, layer } = setup();
    const { tx, again, ackFor } = newInvite(layer);
    const busy = respond(tx, 486, 'busytag');
    clock.advance(600);
    expect(layer.receiveRequest(ackFor(busy))).toEqual({ kind: 'absorbed' });
    expect(tx.state).toBe('confirmed');
    const sentSoFar = rec.sent.length;
    expect(layer.receiveRequest(ackFor(busy))).toEqual({ kind: 'absorbed' });
    expect(layer.receiveRequest(again())).toEqual({ kind: 'absorbed' });
    clock.advance(4999);
    expect(rec.sent.length).toBe(sentSoFar);
    expect(tx.state).toBe('confirmed');
    clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(layer.size.server).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('over a reliable transport: no Timer G, answers over the same connection, terminates on the ACK (Timer I = 0)', () => {
    const { clock, rec, layer } = setup();
    const { tx, ackFor } = newInvite(layer, {}, 'tcp');
    expect(rec.sent[0]?.target).toEqual({ transport: 'tcp', address: '192.0.2.1', port: 40000, connectionId: 'conn-7' });
    const res = respond(tx, 480);
    clock.advance(20_000);
    expect(rec.responses(480)).toHaveLength(1);
    layer.receiveRequest(ackFor(res));
    expect(tx.state).toBe('terminated');
    expect(layer.size.server).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('still waits only Timer H for the ACK over a reliable transport', () => {
    const { clock, layer } = setup();
    const { tx } = newInvite(layer, {}, 'tcp');
    let ackTimeout = 0;
    tx.events.onAckTimeout = () => ackTimeout++;
    respond(tx, 480);
    clock.advance(32_000);
    expect(ackTimeout).toBe(1);
    expect(layer.size.server).toBe(0);
  });

  it('enters Accepted on 2xx (RFC 6026): retransmitted INVITE absorbed silently, ACK passed up, 2xx not retransmitted, Timer L ends it', () => {
    const { clock, rec, layer } = setup();
    const { tx, again, ackFor } = newInvite(layer);
    const invite = tx.request!;
    const callId = invite.callId;
    const ok = respond(tx, 200, 'oktag');
    expect(tx.state).toBe('accepted');
    // Accepted only absorbs and passes on: the parsed INVITE and the 2xx are let go (issue #13).
    expect(tx.request).toBeUndefined();
    expect(tx.lastResponse).toBeUndefined();
    expect((tx as ServerInviteTransaction).responseToTag).toBe('oktag');
    const sentAfterOk = rec.sent.length;
    expect(layer.receiveRequest(again())).toEqual({ kind: 'absorbed' });
    expect(rec.sent.length).toBe(sentAfterOk);
    clock.advance(10_000);
    expect(rec.responses(200)).toHaveLength(1);

    // An ACK matching the transaction (same branch) goes to the TU in Accepted.
    const ack = ackFor(ok);
    expect(layer.receiveRequest(ack)).toEqual({ kind: 'ack', req: ack });
    // The usual ACK for a 2xx has a branch of its own and matches no transaction.
    const ownBranchAck = incoming(makeRequest({ method: 'ACK', callId, toTag: 'oktag' }));
    expect(layer.receiveRequest(ownBranchAck)).toEqual({ kind: 'ack', req: ownBranchAck });

    // The TU's own 2xx retransmissions are passed to the transport; anything else is not.
    tx.respond(ok);
    expect(rec.responses(200)).toHaveLength(2);
    tx.respond(makeResponse(invite, 500, 'uas'));
    expect(rec.responses(500)).toHaveLength(0);

    clock.advance(32_000 - 10_000 - 1);
    expect(tx.state).toBe('accepted');
    clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(layer.size.server).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('ignores responses from the TU after the final one', () => {
    const { rec, layer } = setup();
    const { tx } = newInvite(layer);
    respond(tx, 486);
    respond(tx, 180);
    respond(tx, 200);
    expect(rec.responses(180)).toHaveLength(0);
    expect(rec.responses(200)).toHaveLength(0);
    expect(tx.lastResponse?.status).toBe(486);
  });

  it('absorbs an ACK that arrives before any final response', () => {
    const { layer } = setup();
    const { tx, ackFor } = newInvite(layer);
    expect(layer.receiveRequest(ackFor(makeResponse(tx.request, 180, 'x')))).toEqual({ kind: 'absorbed' });
    expect(tx.state).toBe('proceeding');
  });

  it('terminates and reports a transport error when a response cannot be sent', () => {
    const { clock, rec, layer } = setup();
    const { tx } = newInvite(layer, {}, 'tcp');
    const events: string[] = [];
    tx.events = { onTransportError: (e) => events.push(`error:${e.message}`), onTerminated: () => events.push('terminated') };
    rec.failWith = new Error('connection closed');
    respond(tx, 486);
    expect(events).toEqual(['error:connection closed', 'terminated']);
    expect(tx.state).toBe('terminated');
    expect(layer.size.server).toBe(0);
    clock.runAll();
    expect(clock.pending).toBe(0);
  });

  it('in Accepted reports a transport error but keeps the state until Timer L (RFC 6026 §7.1)', () => {
    const { clock, rec, layer } = setup();
    const { tx, again } = newInvite(layer, {}, 'tcp');
    const events: string[] = [];
    tx.events = { onTransportError: (e) => events.push(`error:${e.message}`), onTerminated: () => events.push('terminated') };
    rec.failWith = new Error('connection closed');
    respond(tx, 200);
    expect(events).toEqual(['error:connection closed']);
    expect(tx.state).toBe('accepted');
    expect(layer.receiveRequest(again())).toEqual({ kind: 'absorbed' });
    clock.advance(32_000);
    expect(events).toEqual(['error:connection closed', 'terminated']);
    expect(layer.size.server).toBe(0);
  });

  it('hands a CANCEL to the TU with its own transaction and the INVITE it names', () => {
    const { rec, layer } = setup();
    const { tx: invite, req } = newInvite(layer, { seq: 4 });
    respond(invite, 180);
    const cancelReq = makeRequest({
      method: 'CANCEL',
      via: 'SIP/2.0/UDP 192.0.2.1:5060;branch=' + (req.topVia?.params.get('branch') as string),
      callId: req.callId,
      fromTag: req.fromTag as string,
      seq: 4,
    });
    const pristine = copyRequest(cancelReq);
    const outcome = layer.receiveRequest(incoming(cancelReq));
    expect(outcome.kind).toBe('cancel');
    if (outcome.kind !== 'cancel') return;
    expect(outcome.invite).toBe(invite);
    expect(outcome.tx).not.toBe(invite);
    expect(outcome.tx.request?.method).toBe('CANCEL');
    expect(layer.size.server).toBe(2);
    outcome.tx.respond(makeResponse(outcome.tx.request, 200, 'uas'));
    // A retransmitted CANCEL is answered from its own transaction, not shown to the TU again.
    expect(layer.receiveRequest(incoming(pristine))).toEqual({ kind: 'absorbed' });
    expect(rec.responses(200)).toHaveLength(2);
  });

  it('reports a CANCEL that names no INVITE without one', () => {
    const { layer } = setup();
    const outcome = layer.receiveRequest(incoming(makeRequest({ method: 'CANCEL' })));
    expect(outcome.kind).toBe('cancel');
    if (outcome.kind === 'cancel') expect(outcome.invite).toBeUndefined();
  });
});
