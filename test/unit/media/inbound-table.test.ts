// Endpoints with the same payload types share one read-only payload-type table (issue #13, memory per
// call); a table is replaced on a new negotiation, never written.
import { describe, expect, it } from 'vitest';
import { Kind, inboundTable, tablePairs } from '../../../src/media/builtin/endpoint.js';

describe('inboundTable', () => {
  it('gives endpoints with the same pairs one table, and another for other pairs', () => {
    const a = inboundTable([
      [0, Kind.Pcmu],
      [101, Kind.TelephoneEvent],
    ]);
    const b = inboundTable([
      [0, Kind.Pcmu],
      [101, Kind.TelephoneEvent],
    ]);
    const c = inboundTable([[8, Kind.Pcma]]);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(a[0]).toBe(Kind.Pcmu);
    expect(a[101]).toBe(Kind.TelephoneEvent);
    expect(a[8]).toBe(Kind.None);
    expect(c[8]).toBe(Kind.Pcma);
  });

  it('lets a later pair win, ignores types outside 0–127, and gives its pairs back for a move', () => {
    const t = inboundTable([
      [96, Kind.Pcmu],
      [96, Kind.TelephoneEvent],
      [200, Kind.Pcma],
      [-1, Kind.Pcma],
    ]);
    expect(t[96]).toBe(Kind.TelephoneEvent);
    expect(tablePairs(t)).toEqual([[96, Kind.TelephoneEvent]]);
    expect(inboundTable(tablePairs(t))[96]).toBe(Kind.TelephoneEvent);
  });
});
