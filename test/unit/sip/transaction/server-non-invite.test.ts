import { describe, it, expect } from 'vitest';
import { copyRequest, incoming, makeRequest, makeResponse, setup } from './fixtures.js';

function newRequest(layer: ReturnType<typeof setup>['layer'], method = 'OPTIONS', transport: 'udp' | 'tcp' = 'udp') {
  const original = makeRequest({ method });
  const pristine = copyRequest(original);
  const source = transport === 'tcp' ? { transport, connectionId: 'conn-1' } : {};
  const outcome = layer.receiveRequest(incoming(original, source));
  if (outcome.kind !== 'new') throw new Error(`expected a new transaction, got ${outcome.kind}`);
  return { tx: outcome.tx, again: () => incoming(copyRequest(pristine), source) };
}

describe('non-INVITE server transaction', () => {
  it('sends nothing on its own and discards retransmissions while Trying', () => {
    const { rec, layer } = setup();
    const { tx, again } = newRequest(layer);
    expect(tx.state).toBe('trying');
    expect(layer.receiveRequest(again())).toEqual({ kind: 'absorbed' });
    expect(rec.sent).toHaveLength(0);
  });

  it('moves to Proceeding on a provisional and answers retransmissions with it', () => {
    const { rec, layer } = setup();
    const { tx, again } = newRequest(layer, 'REGISTER');
    tx.respond(makeResponse(tx.request, 100));
    expect(tx.state).toBe('proceeding');
    layer.receiveRequest(again());
    expect(rec.responses(100)).toHaveLength(2);
  });

  it('moves to Completed on a final, answers retransmissions with it, ignores later responses, and ends with Timer J (64*T1)', () => {
    const { clock, rec, layer } = setup();
    const { tx, again } = newRequest(layer);
    let terminated = 0;
    tx.events.onTerminated = () => terminated++;
    const req = tx.request!;
    tx.respond(makeResponse(req, 200, 'x'));
    expect(tx.state).toBe('completed');
    expect(rec.sent[0]?.target).toEqual({ transport: 'udp', address: '192.0.2.1', port: 5060 });
    // Completed over UDP keeps only the response's bytes, not the parsed request.
    expect(tx.request).toBeUndefined();
    layer.receiveRequest(again());
    layer.receiveRequest(again());
    expect(rec.responses(200)).toHaveLength(3);
    const [first, ...resent] = rec.responses(200).map((r) => r.msg.toBuffer().toString('latin1'));
    expect(resent).toEqual([first, first]);
    tx.respond(makeResponse(req, 500, 'x'));
    expect(rec.responses(500)).toHaveLength(0);
    // No retransmission of its own over UDP: only requests trigger resends.
    clock.advance(31_999);
    expect(rec.responses(200)).toHaveLength(3);
    expect(tx.state).toBe('completed');
    clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(terminated).toBe(1);
    expect(layer.size.server).toBe(0);
    // After Timer J the same request is new again.
    expect(layer.receiveRequest(again()).kind).toBe('new');
  });

  it('terminates at once after the final response over a reliable transport (Timer J = 0)', () => {
    const { clock, rec, layer } = setup();
    const { tx } = newRequest(layer, 'BYE', 'tcp');
    tx.respond(makeResponse(tx.request, 200, 'x'));
    expect(rec.sent[0]?.target.connectionId).toBe('conn-1');
    expect(tx.state).toBe('terminated');
    expect(layer.size.server).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('terminates and reports a transport error', () => {
    const { clock, rec, layer } = setup();
    const { tx } = newRequest(layer);
    const errors: string[] = [];
    tx.events.onTransportError = (e) => errors.push(e.message);
    rec.failWith = new Error('ENETUNREACH');
    tx.respond(makeResponse(tx.request, 200, 'x'));
    expect(errors).toEqual(['ENETUNREACH']);
    expect(tx.state).toBe('terminated');
    expect(layer.size.server).toBe(0);
    expect(clock.pending).toBe(0);
  });
});
