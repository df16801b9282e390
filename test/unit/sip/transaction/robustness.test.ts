import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { TransactionLayer } from '../../../../src/sip/transaction/layer.js';
import { FakeClock } from '../../../support/fake-clock.js';
import { incoming, makeRequest, makeResponse, SendRecorder, setup, UDP_TARGET } from './fixtures.js';

describe('transaction layer robustness', () => {
  it('survives a TU that answers again from inside onTransportError', () => {
    const { rec, layer } = setup();
    const outcome = layer.receiveRequest(incoming(makeRequest({ method: 'OPTIONS' })));
    if (outcome.kind !== 'new') throw new Error('expected new');
    const tx = outcome.tx;
    let errors = 0;
    tx.events.onTransportError = () => {
      errors++;
      tx.respond(makeResponse(tx.request, 500, 'x'));
    };
    rec.failWith = new Error('EPIPE');
    tx.respond(makeResponse(tx.request, 200, 'x'));
    expect(errors).toBe(1);
    expect(rec.sent).toHaveLength(1);
    expect(layer.size.server).toBe(0);
  });

  it('treats a SendFn that throws like a transport error', () => {
    const clock = new FakeClock();
    const layer = new TransactionLayer({
      send: () => {
        throw new Error('socket gone');
      },
      clock,
    });
    const errors: string[] = [];
    layer.sendRequest(makeRequest({ method: 'OPTIONS' }), UDP_TARGET, {
      onFinal: () => {},
      onTimeout: () => {},
      onTransportError: (e) => errors.push(e.message),
    });
    expect(errors).toEqual(['socket gone']);
    expect(layer.size.client).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('logs at debug level with the Call-ID, and only when debug is enabled', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const clock = new FakeClock();
    const rec = new SendRecorder(clock);
    const debugLayer = new TransactionLayer({ send: rec.send, clock, logger: pino({ level: 'debug' }, sink) });
    const req = makeRequest({ callId: 'logged-call@example.com' });
    debugLayer.sendRequest(req, UDP_TARGET, { onFinal: () => {}, onTimeout: () => {}, onTransportError: () => {} });
    debugLayer.receiveResponse(makeResponse(req, 486, 't'));
    expect(lines.some((l) => l.includes('"callId":"logged-call@example.com"') && l.includes('"level":20'))).toBe(true);

    lines.length = 0;
    const infoLayer = new TransactionLayer({ send: rec.send, clock, logger: pino({ level: 'info' }, sink) });
    const req2 = makeRequest();
    infoLayer.sendRequest(req2, UDP_TARGET, { onFinal: () => {}, onTimeout: () => {}, onTransportError: () => {} });
    infoLayer.receiveResponse(makeResponse(req2, 486, 't'));
    expect(lines).toEqual([]);
  });

  it('logs a TU handler that throws at error level instead of letting it escape a timer', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const clock = new FakeClock();
    const rec = new SendRecorder(clock);
    const layer = new TransactionLayer({ send: rec.send, clock, logger: pino({ level: 'info' }, sink) });
    layer.sendRequest(makeRequest({ method: 'OPTIONS' }), UDP_TARGET, {
      onFinal: () => {},
      onTimeout: () => {
        throw new Error('TU bug in onTimeout');
      },
      onTransportError: () => {},
    });
    expect(() => clock.advance(32_000)).not.toThrow();
    expect(lines.some((l) => l.includes('"level":50') && l.includes('TU bug in onTimeout'))).toBe(true);
    expect(layer.size.client).toBe(0);
  });
});
