import { describe, it, expect } from 'vitest';
import type { SipRequest, SipResponse } from '../../../../src/sip/message.js';
import type { ClientTransactionHandlers } from '../../../../src/sip/transaction/layer.js';
import { gaps, makeRequest, makeResponse, setup, TCP_TARGET, UDP_TARGET } from './fixtures.js';

function recordingHandlers(): {
  calls: { provisional: number[]; final: number[]; timeout: number; errors: number };
  handlers: ClientTransactionHandlers;
} {
  const calls = { provisional: [] as number[], final: [] as number[], timeout: 0, errors: 0 };
  return {
    calls,
    handlers: {
      onProvisional: (r) => calls.provisional.push(r.status),
      onFinal: (r) => calls.final.push(r.status),
      onTimeout: () => calls.timeout++,
      onTransportError: () => calls.errors++,
    },
  };
}

const isOptions = (m: SipRequest | SipResponse): boolean => 'method' in m && m.method === 'OPTIONS';

describe('non-INVITE client transaction', () => {
  it('retransmits with Timer E doubling up to T2, then times out with Timer F', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    const tx = layer.sendRequest(makeRequest({ method: 'OPTIONS' }), UDP_TARGET, handlers);
    expect(tx.state).toBe('trying');
    clock.advance(31_999);
    const times = rec.timesOf(isOptions);
    expect(times).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(gaps(times).slice(0, 5)).toEqual([500, 1000, 2000, 4000, 4000]);
    expect(calls.timeout).toBe(0);
    clock.advance(1);
    expect(calls.timeout).toBe(1);
    expect(tx.state).toBe('terminated');
    expect(layer.size.client).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('retransmits every T2 once in Proceeding', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    const req = makeRequest({ method: 'REGISTER' });
    const tx = layer.sendRequest(req, UDP_TARGET, handlers);
    clock.advance(700);
    layer.receiveResponse(makeResponse(req, 100));
    expect(tx.state).toBe('proceeding');
    expect(calls.provisional).toEqual([100]);
    clock.advance(12_000 - 700);
    // Sent at 0 and 500 in Trying; the pending Timer E (1000 ms) fires at 1500 in Proceeding,
    // after which the interval is T2.
    expect(rec.timesOf((m) => 'method' in m && m.method === 'REGISTER')).toEqual([0, 500, 1500, 5500, 9500]);
    clock.advance(20_000);
    expect(calls.timeout).toBe(1);
  });

  it('passes the first final response up once, absorbs retransmissions, and ends with Timer K (T4)', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    const req = makeRequest({ method: 'BYE', toTag: 'tt' });
    const tx = layer.sendRequest(req, UDP_TARGET, handlers);
    clock.advance(100);
    expect(layer.receiveResponse(makeResponse(req, 200))).toBe(true);
    expect(tx.state).toBe('completed');
    expect(layer.receiveResponse(makeResponse(req, 200))).toBe(true);
    expect(layer.receiveResponse(makeResponse(req, 180))).toBe(true);
    expect(calls.final).toEqual([200]);
    expect(calls.provisional).toEqual([]);
    clock.advance(4999);
    expect(tx.state).toBe('completed');
    expect(rec.sent).toHaveLength(1);
    clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(layer.receiveResponse(makeResponse(req, 200))).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('does not retransmit over a reliable transport, and terminates on the final response (Timer K = 0)', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    const req = makeRequest({ method: 'MESSAGE' });
    const tx = layer.sendRequest(req, TCP_TARGET, handlers);
    clock.advance(20_000);
    expect(rec.sent).toHaveLength(1);
    layer.receiveResponse(makeResponse(req, 202));
    expect(calls.final).toEqual([202]);
    expect(tx.state).toBe('terminated');
    expect(layer.size.client).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('times out with Timer F over a reliable transport', () => {
    const { clock, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    layer.sendRequest(makeRequest({ method: 'OPTIONS' }), TCP_TARGET, handlers);
    clock.advance(32_000);
    expect(calls.timeout).toBe(1);
    expect(layer.size.client).toBe(0);
  });

  it('reports a transport error and terminates', () => {
    const { clock, rec, layer } = setup();
    const { calls, handlers } = recordingHandlers();
    rec.failWith = new Error('EPIPE');
    const tx = layer.sendRequest(makeRequest({ method: 'OPTIONS' }), TCP_TARGET, handlers);
    expect(calls.errors).toBe(1);
    expect(tx.state).toBe('terminated');
    clock.runAll();
    expect(calls.timeout).toBe(0);
    expect(layer.size.client).toBe(0);
  });

  it('ignores cancel() (non-INVITE requests are not cancelled)', () => {
    const { rec, layer } = setup();
    const { handlers } = recordingHandlers();
    const req = makeRequest({ method: 'OPTIONS' });
    const tx = layer.sendRequest(req, UDP_TARGET, handlers);
    layer.receiveResponse(makeResponse(req, 100));
    tx.cancel();
    expect(rec.requests('CANCEL')).toHaveLength(0);
  });
});
