// Every transaction must leave the maps and cancel its timers once its timers have run.
import { describe, it, expect } from 'vitest';
import type { SipResponse } from '../../../../src/sip/message.js';
import type { ClientTransactionHandlers } from '../../../../src/sip/transaction/layer.js';
import { incoming, makeRequest, makeResponse, setup, TCP_TARGET, UDP_TARGET } from './fixtures.js';

const N = 1000;

function countingHandlers(counts: { done: number }): ClientTransactionHandlers {
  return {
    onFinal: () => counts.done++,
    onTimeout: () => counts.done++,
    onTransportError: () => counts.done++,
  };
}

describe('transaction leak checks (1000 transactions per machine)', () => {
  it('INVITE client transactions: timeouts, 2xx, non-2xx, cancelled, over UDP and TCP', () => {
    const { clock, layer } = setup();
    const counts = { done: 0 };
    for (let i = 0; i < N; i++) {
      const req = makeRequest();
      const tx = layer.sendRequest(req, i % 2 ? UDP_TARGET : TCP_TARGET, countingHandlers(counts));
      clock.advance(1);
      switch (i % 5) {
        case 0: // no answer: Timer B
          break;
        case 1:
          layer.receiveResponse(makeResponse(req, 200, 't'));
          layer.receiveResponse(makeResponse(req, 200, 't'));
          break;
        case 2:
          layer.receiveResponse(makeResponse(req, 180, 't'));
          layer.receiveResponse(makeResponse(req, 486, 't'));
          break;
        case 3: {
          layer.receiveResponse(makeResponse(req, 180, 't'));
          tx.cancel();
          break;
        }
        case 4: // cancelled and answered: the CANCEL's 200 and the INVITE's 487
          tx.cancel();
          layer.receiveResponse(makeResponse(req, 100));
          layer.receiveResponse(makeResponse(req, 487, 't'));
          break;
      }
    }
    expect(layer.size.client).toBeGreaterThan(0);
    clock.runAll();
    expect(counts.done).toBe(N);
    expect(layer.size).toEqual({ client: 0, server: 0 });
    expect(clock.pending).toBe(0);
  });

  it('non-INVITE client transactions: answered, provisional then answered, timed out', () => {
    const { clock, layer } = setup();
    const counts = { done: 0 };
    for (let i = 0; i < N; i++) {
      const req = makeRequest({ method: i % 2 ? 'OPTIONS' : 'REGISTER' });
      layer.sendRequest(req, i % 3 ? UDP_TARGET : TCP_TARGET, countingHandlers(counts));
      clock.advance(1);
      if (i % 4 === 1) layer.receiveResponse(makeResponse(req, 200, 't'));
      if (i % 4 === 2) {
        layer.receiveResponse(makeResponse(req, 100));
        layer.receiveResponse(makeResponse(req, 401, 't'));
        layer.receiveResponse(makeResponse(req, 401, 't'));
      }
    }
    clock.runAll();
    expect(counts.done).toBe(N);
    expect(layer.size).toEqual({ client: 0, server: 0 });
    expect(clock.pending).toBe(0);
  });

  it('INVITE server transactions: 2xx, non-2xx with and without ACK, over UDP and TCP', () => {
    const { clock, layer } = setup();
    let terminated = 0;
    for (let i = 0; i < N; i++) {
      const req = makeRequest();
      const branch = req.topVia?.params.get('branch') as string;
      const source = i % 2 ? {} : { transport: 'tcp' as const, connectionId: `c${i}` };
      const outcome = layer.receiveRequest(incoming(req, source));
      if (outcome.kind !== 'new') throw new Error('expected new');
      outcome.tx.events.onTerminated = () => terminated++;
      clock.advance(1);
      let final: SipResponse;
      if (i % 3 === 0) {
        final = makeResponse(req, 200, 'ok');
        outcome.tx.respond(final);
      } else {
        final = makeResponse(req, 486, 'busy');
        outcome.tx.respond(final);
        if (i % 3 === 1) {
          const ack = makeRequest({
            method: 'ACK',
            branch,
            callId: req.callId,
            fromTag: req.fromTag as string,
            toTag: 'busy',
          });
          layer.receiveRequest(incoming(ack, source));
        }
      }
    }
    clock.runAll();
    expect(terminated).toBe(N);
    expect(layer.size).toEqual({ client: 0, server: 0 });
    expect(clock.pending).toBe(0);
  });

  it('non-INVITE server transactions and CANCEL transactions', () => {
    const { clock, layer } = setup();
    let terminated = 0;
    for (let i = 0; i < N; i++) {
      const req = makeRequest({ method: i % 2 ? 'OPTIONS' : 'CANCEL' });
      const outcome = layer.receiveRequest(incoming(req, i % 3 ? {} : { transport: 'tls', connectionId: `c${i}` }));
      if (outcome.kind !== 'new' && outcome.kind !== 'cancel') throw new Error(`unexpected ${outcome.kind}`);
      outcome.tx.events.onTerminated = () => terminated++;
      clock.advance(1);
      if (i % 4 === 0) outcome.tx.respond(makeResponse(req, 100));
      outcome.tx.respond(makeResponse(req, 200, 't'));
    }
    clock.runAll();
    expect(terminated).toBe(N);
    expect(layer.size).toEqual({ client: 0, server: 0 });
    expect(clock.pending).toBe(0);
  });
});
