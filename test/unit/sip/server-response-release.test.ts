// Issue #13 goal 5 (memory per call): the call keeps the caller's ServerResponse for as long as it
// lasts; once the INVITE transaction has ended, the ServerResponse must not keep it (its 2xx, its
// timers) alive, and sending through it afterwards must do nothing rather than throw.
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
  it('keeps the INVITE transaction until it ends (Timer L after a 2xx), then lets it go', async () => {
    const x = (h = await stackHarness());
    let kept: ServerResponse | undefined;
    x.stack.use('INVITE', (_req, res) => {
      kept = res;
      res.send(200);
    });
    x.deliver(request({ callId: 'held' }));
    expect(x.responses('held').map((r) => r.status)).toEqual([200]);
    expect(heldTransaction(kept!)).toBeDefined();
    x.clock.advance(64 * 500 + 1000);
    expect(x.stack.transactions.size.server).toBe(0);
    expect(heldTransaction(kept!)).toBeUndefined();
    // Nothing goes out any more, and nothing throws.
    expect(() => kept!.send(180)).not.toThrow();
    expect(x.responses('held').map((r) => r.status)).toEqual([200]);
  });
});
