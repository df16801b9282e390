import { describe, it, expect } from 'vitest';
import type { SipRequest, SipResponse } from '../../../../src/sip/message.js';
import type { ClientTransactionHandlers } from '../../../../src/sip/transaction/layer.js';
import { gaps, makeRequest, makeResponse, setup, TCP_TARGET, UDP_TARGET } from './fixtures.js';

interface Calls {
  provisional: number[];
  final: number[];
  additional: number[];
  timeout: number;
  transportError: Error[];
}

function recordingHandlers(): { calls: Calls; handlers: ClientTransactionHandlers } {
  const calls: Calls = { provisional: [], final: [], additional: [], timeout: 0, transportError: [] };
  return {
    calls,
    handlers: {
      onProvisional: (r) => calls.provisional.push(r.status),
      onFinal: (r) => calls.final.push(r.status),
      onAdditional2xx: (r) => calls.additional.push(r.status),
      onTimeout: () => calls.timeout++,
      onTransportError: (e) => calls.transportError.push(e),
    },
  };
}

const isInvite = (m: SipRequest | SipResponse): boolean => 'method' in m && m.method === 'INVITE';

describe('INVITE client transaction', () => {
  it('retransmits over UDP with Timer A doubling uncapped until Timer B at 64*T1', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    const tx = layer.sendRequest(makeRequest(), UDP_TARGET, handlers);
    expect(tx.state).toBe('calling');
    clock.advance(31_999);
    expect(rec.timesOf(isInvite)).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(gaps(rec.timesOf(isInvite))).toEqual([500, 1000, 2000, 4000, 8000, 16000]);
    expect(calls.timeout).toBe(0);
    clock.advance(1);
    expect(calls.timeout).toBe(1);
    expect(tx.state).toBe('terminated');
    expect(layer.size).toEqual({ client: 0, server: 0 });
    expect(clock.pending).toBe(0);
    expect(rec.sent.every((s) => s.target === UDP_TARGET)).toBe(true);
  });

  it('scales every timer with a configured T1', () => {
    const { clock, rec, layer } = setup({ t1: 100 });
    const { calls, handlers } = recordingHandlers();
    layer.sendRequest(makeRequest(), UDP_TARGET, handlers);
    clock.advance(6400);
    expect(rec.timesOf(isInvite)).toEqual([0, 100, 300, 700, 1500, 3100, 6300]);
    expect(calls.timeout).toBe(1);
  });

  it('never retransmits over a reliable transport, but still times out with Timer B', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    layer.sendRequest(makeRequest(), TCP_TARGET, handlers);
    clock.advance(31_999);
    expect(rec.sent).toHaveLength(1);
    expect(rec.sent[0]?.target).toEqual(TCP_TARGET);
    clock.advance(1);
    expect(calls.timeout).toBe(1);
    expect(layer.size.client).toBe(0);
  });

  it('stops retransmitting and Timer B on a provisional, passing every provisional up', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    const req = makeRequest();
    const tx = layer.sendRequest(req, UDP_TARGET, handlers);
    clock.advance(600);
    expect(layer.receiveResponse(makeResponse(req, 100))).toBe(true);
    expect(layer.receiveResponse(makeResponse(req, 180, 'tt'))).toBe(true);
    expect(layer.receiveResponse(makeResponse(req, 180, 'tt'))).toBe(true);
    expect(tx.state).toBe('proceeding');
    expect(calls.provisional).toEqual([100, 180, 180]);
    clock.advance(100_000);
    expect(rec.timesOf(isInvite)).toEqual([0, 500]);
    expect(calls.timeout).toBe(0);
    expect(tx.state).toBe('proceeding');
  });

  it('ACKs a non-2xx final with the INVITE branch, Request-URI and Route set and the response To; re-ACKs retransmissions', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    const req = makeRequest({
      uri: 'sip:bob@192.0.2.10:5070;transport=udp',
      lowerVias: ['SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKlower'],
      routes: ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>'],
      seq: 7,
    });
    const tx = layer.sendRequest(req, UDP_TARGET, handlers);
    layer.receiveResponse(makeResponse(req, 180, 'bobtag'));
    clock.advance(1000);
    const busy = makeResponse(req, 486, 'bobtag');
    expect(layer.receiveResponse(busy)).toBe(true);
    expect(tx.state).toBe('completed');
    expect(calls.final).toEqual([486]);

    const acks = rec.requests('ACK');
    expect(acks).toHaveLength(1);
    const ack = acks[0]?.msg as SipRequest;
    expect(acks[0]?.target).toBe(UDP_TARGET);
    expect(ack.uri).toBe('sip:bob@192.0.2.10:5070;transport=udp');
    expect(ack.getAll('via')).toEqual([req.getAll('via')[0]]);
    expect(ack.topVia?.params.get('branch')).toBe(req.topVia?.params.get('branch'));
    expect(ack.getAll('route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(ack.get('to')).toBe('<sip:bob@example.com>;tag=bobtag');
    expect(ack.get('from')).toBe(req.get('from'));
    expect(ack.callId).toBe(req.callId);
    expect(ack.cseq).toEqual({ seq: 7, method: 'ACK' });
    expect(ack.maxForwards).toBe(70);
    expect(ack.body.length).toBe(0);

    // Each retransmitted final is ACKed again and not passed up.
    layer.receiveResponse(makeResponse(req, 486, 'bobtag'));
    layer.receiveResponse(makeResponse(req, 486, 'bobtag'));
    expect(rec.requests('ACK')).toHaveLength(3);
    expect(calls.final).toEqual([486]);
    // Provisionals and 2xx are ignored in Completed.
    layer.receiveResponse(makeResponse(req, 180, 'bobtag'));
    expect(calls.provisional).toEqual([180]);

    // Timer D (32 s over UDP) ends the transaction.
    clock.advance(31_999);
    expect(tx.state).toBe('completed');
    clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(layer.receiveResponse(makeResponse(req, 486, 'bobtag'))).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('goes straight from Completed to Terminated over a reliable transport (Timer D = 0)', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    const req = makeRequest();
    const tx = layer.sendRequest(req, TCP_TARGET, handlers);
    layer.receiveResponse(makeResponse(req, 603, 'x'));
    expect(calls.final).toEqual([603]);
    expect(rec.requests('ACK')).toHaveLength(1);
    expect(rec.requests('ACK')[0]?.target).toBe(TCP_TARGET);
    expect(tx.state).toBe('terminated');
    expect(layer.size.client).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('lets go of every handler but onAdditional2xx once a final response is in (they hold the caller for 32 s)', () => {
    const { layer } = setup();
    const held = (tx: unknown): ClientTransactionHandlers => (tx as { handlers: ClientTransactionHandlers }).handlers;
    const accepted = recordingHandlers();
    const req = makeRequest();
    const tx = layer.sendRequest(req, UDP_TARGET, accepted.handlers);
    layer.receiveResponse(makeResponse(req, 200, 'a'));
    expect(held(tx).onAdditional2xx).toBe(accepted.handlers.onAdditional2xx);
    for (const name of ['onProvisional', 'onFinal', 'onTimeout', 'onTransportError'] as const) expect(held(tx)[name]).not.toBe(accepted.handlers[name]);
    const failed = recordingHandlers();
    const req2 = makeRequest();
    const tx2 = layer.sendRequest(req2, UDP_TARGET, failed.handlers);
    layer.receiveResponse(makeResponse(req2, 486, 'b'));
    expect(failed.calls.final).toEqual([486]);
    expect(Object.values(held(tx2)).some((h) => Object.values(failed.handlers).includes(h as never))).toBe(false);
  });

  it('enters Accepted on 2xx (RFC 6026): no ACK from the transaction, later 2xx go to onAdditional2xx, Timer M ends it', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    const req = makeRequest();
    const tx = layer.sendRequest(req, UDP_TARGET, handlers);
    clock.advance(200);
    expect(layer.receiveResponse(makeResponse(req, 200, 'fork1'))).toBe(true);
    expect(tx.state).toBe('accepted');
    expect(calls.final).toEqual([200]);
    expect(layer.receiveResponse(makeResponse(req, 200, 'fork1'))).toBe(true);
    expect(layer.receiveResponse(makeResponse(req, 200, 'fork2'))).toBe(true);
    expect(calls.additional).toEqual([200, 200]);
    // Non-2xx and provisionals in Accepted are dropped.
    layer.receiveResponse(makeResponse(req, 486, 'fork3'));
    layer.receiveResponse(makeResponse(req, 180, 'fork3'));
    expect(calls.final).toEqual([200]);
    expect(calls.provisional).toEqual([]);
    expect(rec.requests('ACK')).toHaveLength(0);
    // No INVITE retransmissions after the 2xx.
    clock.advance(10_000);
    expect(rec.timesOf(isInvite)).toEqual([0]);
    // Timer M = 64*T1 after the 2xx (received at 200 ms).
    clock.advance(32_200 - 10_200 - 1);
    expect(tx.state).toBe('accepted');
    clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(layer.receiveResponse(makeResponse(req, 200, 'fork1'))).toBe(false);
    expect(calls.timeout).toBe(0);
  });

  it('sends CANCEL at once after a provisional (§9.1) as its own transaction', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    const req = makeRequest({ routes: ['<sip:p1.example.com;lr>'], seq: 3 });
    const tx = layer.sendRequest(req, UDP_TARGET, handlers);
    layer.receiveResponse(makeResponse(req, 180, 'bobtag'));
    tx.cancel([['reason', 'SIP;cause=487;text="cancelled"']]);
    const cancels = rec.requests('CANCEL');
    expect(cancels).toHaveLength(1);
    const cancel = cancels[0]?.msg as SipRequest;
    expect(cancels[0]?.target).toBe(UDP_TARGET);
    expect(cancel.uri).toBe(req.uri);
    expect(cancel.getAll('via')).toEqual([req.getAll('via')[0]]);
    expect(cancel.callId).toBe(req.callId);
    expect(cancel.get('from')).toBe(req.get('from'));
    expect(cancel.get('to')).toBe(req.get('to'));
    expect(cancel.toTag).toBeUndefined();
    expect(cancel.cseq).toEqual({ seq: 3, method: 'CANCEL' });
    expect(cancel.getAll('route')).toEqual(['<sip:p1.example.com;lr>']);
    expect(cancel.get('reason')).toBe('SIP;cause=487;text="cancelled"');
    expect(layer.size.client).toBe(2);

    // A second cancel() sends nothing more.
    tx.cancel();
    expect(rec.requests('CANCEL')).toHaveLength(1);

    // The CANCEL is retransmitted on its own (Timer E) until answered.
    clock.advance(500);
    expect(rec.requests('CANCEL')).toHaveLength(2);
    expect(layer.receiveResponse(makeResponse(cancel, 200, 'bobtag'))).toBe(true);
    expect(layer.receiveResponse(makeResponse(req, 487, 'bobtag'))).toBe(true);
    expect(calls.final).toEqual([487]);
    expect(rec.requests('ACK')).toHaveLength(1);
    clock.advance(40_000);
    expect(layer.size.client).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('holds a CANCEL asked for before any provisional and sends it on the first one', () => {
    const { clock, rec, layer } = setup();
    const { handlers } = recordingHandlers();
    const req = makeRequest();
    const tx = layer.sendRequest(req, UDP_TARGET, handlers);
    tx.cancel();
    clock.advance(600);
    expect(rec.requests('CANCEL')).toHaveLength(0);
    expect(layer.size.client).toBe(1);
    layer.receiveResponse(makeResponse(req, 100));
    expect(rec.requests('CANCEL')).toHaveLength(1);
    expect(rec.requests('CANCEL')[0]?.at).toBe(600);
  });

  it('drops a pending CANCEL when a final response arrives first, and never cancels after a final', () => {
    const { rec, layer } = setup();
    const { handlers } = recordingHandlers();
    const req = makeRequest();
    const tx = layer.sendRequest(req, UDP_TARGET, handlers);
    tx.cancel();
    layer.receiveResponse(makeResponse(req, 486, 't'));
    layer.receiveResponse(makeResponse(req, 180, 't'));
    tx.cancel();
    expect(rec.requests('CANCEL')).toHaveLength(0);

    const req2 = makeRequest();
    const tx2 = layer.sendRequest(req2, UDP_TARGET, handlers);
    layer.receiveResponse(makeResponse(req2, 200, 't'));
    tx2.cancel();
    expect(rec.requests('CANCEL')).toHaveLength(0);
  });

  it('gives up 64*T1 after a CANCEL that brought no final response (§9.1)', () => {
    const { clock, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    const req = makeRequest();
    const tx = layer.sendRequest(req, UDP_TARGET, handlers);
    layer.receiveResponse(makeResponse(req, 183, 't'));
    clock.advance(1000);
    tx.cancel();
    clock.advance(31_999);
    expect(tx.state).toBe('proceeding');
    clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(calls.timeout).toBe(1);
    clock.runAll();
    expect(layer.size.client).toBe(0);
  });

  it('reports a transport error, stops retransmitting and terminates', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    rec.failWith = new Error('ECONNREFUSED');
    const tx = layer.sendRequest(makeRequest(), UDP_TARGET, handlers);
    expect(calls.transportError.map((e) => e.message)).toEqual(['ECONNREFUSED']);
    expect(tx.state).toBe('terminated');
    expect(layer.size.client).toBe(0);
    clock.advance(64_000);
    expect(rec.sent).toHaveLength(1);
    expect(calls.timeout).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('reports a transport error on a retransmission', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    layer.sendRequest(makeRequest(), UDP_TARGET, handlers);
    rec.failWith = new Error('EHOSTUNREACH');
    clock.advance(500);
    expect(calls.transportError).toHaveLength(1);
    expect(layer.size.client).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('only matches responses with the same branch and CSeq method (§17.1.3)', () => {
    const { layer } = setup();
    const { calls, handlers } = recordingHandlers();
    const req = makeRequest();
    layer.sendRequest(req, UDP_TARGET, handlers);
    const wrongMethod = makeResponse(req, 200, 't');
    wrongMethod.set('cseq', '1 BYE');
    expect(layer.receiveResponse(wrongMethod)).toBe(false);
    const wrongBranch = makeResponse(makeRequest(), 200, 't');
    expect(layer.receiveResponse(wrongBranch)).toBe(false);
    expect(calls.final).toEqual([]);
  });

  it('keeps working when a TU handler throws', () => {
    const { clock, rec, layer } = setup();
    const req = makeRequest();
    const tx = layer.sendRequest(req, UDP_TARGET, {
      onFinal: () => {
        throw new Error('TU bug');
      },
      onTimeout: () => {},
      onTransportError: () => {},
    });
    expect(() => layer.receiveResponse(makeResponse(req, 500, 't'))).not.toThrow();
    expect(rec.requests('ACK')).toHaveLength(1);
    clock.runAll();
    expect(tx.state).toBe('terminated');
    expect(layer.size.client).toBe(0);
  });

  it('refuses ACK, a request without a branch, and a reused branch (programming errors)', () => {
    const { layer } = setup();
    const { handlers } = recordingHandlers();
    expect(() => layer.sendRequest(makeRequest({ method: 'ACK' }), UDP_TARGET, handlers)).toThrow(/ACK/);
    expect(() => layer.sendRequest(makeRequest({ via: 'SIP/2.0/UDP 192.0.2.1' }), UDP_TARGET, handlers)).toThrow(/branch/);
    layer.sendRequest(makeRequest({ branch: 'z9hG4bKsame' }), UDP_TARGET, handlers);
    expect(() => layer.sendRequest(makeRequest({ branch: 'z9hG4bKsame' }), UDP_TARGET, handlers)).toThrow(/already/);
  });
});
