// RFC 3261 §9.2: how the stack answers a CANCEL — 200 when an INVITE server transaction matches it (and
// 487 to the INVITE if that is still pending), 200 too once the INVITE has its final response (the CANCEL
// then changes nothing), and 481 only when no INVITE transaction matches. Driven with a fake clock.
import { afterEach, describe, expect, it } from 'vitest';
import { request, stackHarness, type StackHarness } from './stack-harness.js';

let h: StackHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const statuses = (x: StackHarness, callId: string, method: string) =>
  x
    .responses(callId)
    .filter((r) => r.cseq?.method === method)
    .map((r) => r.status);

describe('CANCEL (RFC 3261 §9.2)', () => {
  it('cancels a pending INVITE: 200 to the CANCEL, 487 to the INVITE', async () => {
    h = await stackHarness();
    let cancelled = false;
    h.stack.use('INVITE', (_req, res) => res.onCancel(() => (cancelled = true)));
    h.deliver(request({ callId: 'c1', branch: 'z9hG4bK-c1', fromTag: 'f-c1' }));
    h.deliver(request({ method: 'CANCEL', callId: 'c1', branch: 'z9hG4bK-c1', fromTag: 'f-c1' }));
    expect(statuses(h, 'c1', 'CANCEL')).toEqual([200]);
    expect(statuses(h, 'c1', 'INVITE')).toContain(487);
    expect(cancelled).toBe(true);
  });

  it('answers 200 to a CANCEL that comes after the INVITE got its final response, and changes nothing', async () => {
    h = await stackHarness();
    let cancelled = false;
    h.stack.use('INVITE', (_req, res) => {
      res.onCancel(() => (cancelled = true));
      res.send(486);
    });
    const invite = request({ callId: 'c2', branch: 'z9hG4bK-c2', fromTag: 'f-c2' });
    h.deliver(invite);
    h.deliver(request({ method: 'CANCEL', callId: 'c2', branch: 'z9hG4bK-c2', fromTag: 'f-c2' }));
    expect(statuses(h, 'c2', 'CANCEL')).toEqual([200]);
    expect(statuses(h, 'c2', 'INVITE')).toEqual([486]);
    expect(cancelled).toBe(false);
  });

  it('answers 481 to a CANCEL that matches no INVITE', async () => {
    h = await stackHarness();
    h.deliver(request({ method: 'CANCEL', callId: 'c3', branch: 'z9hG4bK-nothing' }));
    expect(statuses(h, 'c3', 'CANCEL')).toEqual([481]);
  });
});
