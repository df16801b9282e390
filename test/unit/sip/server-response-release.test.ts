// Issue #13 goal 5 (memory per call): the call keeps the caller's ServerResponse for as long as it
// lasts; once the final response is out, the ServerResponse must not keep the INVITE transaction (its
// timers) alive, nor the transaction the ServerResponse (through Timer L, 32 s after the call may have
// ended), and sending through it afterwards must do nothing rather than throw.
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerResponse } from '../../../src/sip/server-response.js';
import { request, stackHarness, type StackHarness } from './stack-harness.js';

let h: StackHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const heldTransaction = (res: ServerResponse): unknown => (res as unknown as { tx?: unknown }).tx;

describe('a ServerResponse after its transaction', () => {
  it('lets the INVITE transaction go once the final response is out, and the transaction lets it go', async () => {
    const x = (h = await stackHarness());
    let kept: ServerResponse | undefined;
    x.stack.use('INVITE', (_req, res) => {
      kept = res;
      res.send(200);
    });
    x.deliver(request({ callId: 'held' }));
    expect(x.responses('held').map((r) => r.status)).toEqual([200]);
    expect(heldTransaction(kept!)).toBeUndefined();
    // The transaction lives on through Timer L, with no handler of its own that would reach `kept`.
    expect(x.stack.transactions.size.server).toBe(1);
    x.clock.advance(64 * 500 + 1000);
    expect(x.stack.transactions.size.server).toBe(0);
    // Nothing goes out any more, and nothing throws.
    expect(() => kept!.send(180)).not.toThrow();
    expect(x.responses('held').map((r) => r.status)).toEqual([200]);
  });

  it('drops its CANCEL and stack-504 handlers with the final response, so a lingering transaction keeps no call', async () => {
    const x = (h = await stackHarness());
    let kept: ServerResponse | undefined;
    x.stack.use('INVITE', (_req, res) => {
      kept = res;
      res.onCancel(() => undefined);
      res.onLocalFinal(() => undefined);
      res.send(200);
    });
    x.deliver(request({ callId: 'handlers' }));
    const handlers = kept as unknown as { cancelHandlers: unknown[]; localFinalHandlers: unknown[]; prackHandlers: unknown[] };
    expect(handlers.cancelHandlers).toHaveLength(0);
    expect(handlers.localFinalHandlers).toHaveLength(0);
  });
});
