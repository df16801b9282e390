import { describe, expect, it } from 'vitest';
import { ConnectionHolds } from '../../../../src/sip/transport/connection-holds.js';
import type { ConnectionHold, HoldReason } from '../../../../src/sip/transport/types.js';

/** Counts live holds per connection, as the registry would. */
class CountingRetainer {
  readonly live = new Map<string, number>();
  readonly reasons: HoldReason[] = [];
  retain(id: string | undefined, reason: HoldReason): ConnectionHold {
    if (id === undefined) return { release: () => undefined };
    this.reasons.push(reason);
    this.live.set(id, (this.live.get(id) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.live.set(id, (this.live.get(id) ?? 1) - 1);
      },
    };
  }
}

describe('keyed connection holds', () => {
  it('holds once per key, moves a key to its new connection, and lets go on delete and clear', () => {
    const retainer = new CountingRetainer();
    const holds = new ConnectionHolds<string>(retainer, 'registration');
    holds.set('2001', 'tcp-1');
    holds.set('2001', 'tcp-1'); // a refresh over the same connection
    holds.set('2002', 'tcp-1');
    expect(retainer.live.get('tcp-1')).toBe(2);
    // The phone reconnected and registered again over another connection.
    holds.set('2001', 'tcp-2');
    expect(retainer.live.get('tcp-1')).toBe(1);
    expect(retainer.live.get('tcp-2')).toBe(1);
    // Re-registered over UDP: no connection to hold.
    holds.set('2002', undefined);
    expect(retainer.live.get('tcp-1')).toBe(0);
    expect(holds.size).toBe(1);
    holds.delete('2001');
    holds.delete('2001');
    expect(retainer.live.get('tcp-2')).toBe(0);
    holds.set('2003', 'tcp-3');
    holds.clear();
    expect(retainer.live.get('tcp-3')).toBe(0);
    expect(new Set(retainer.reasons)).toEqual(new Set(['registration']));
  });
});
