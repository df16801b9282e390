// Issue #12: the event hub's sequence numbers, bounded ring and the replay after a given seq.
import { describe, expect, it } from 'vitest';
import { EventHub } from '../../../src/api/events/hub.js';

describe('EventHub', () => {
  it('numbers events in order and replays exactly those after the given seq', () => {
    const hub = new EventHub(
      () => 100,
      () => Date.UTC(2026, 0, 1),
    );
    for (let i = 0; i < 5; i++) hub.publish('x', { i });
    const b = hub.after(2);
    expect(b.gap).toBeUndefined();
    expect(b.entries.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(JSON.parse(b.entries[0]!.json)).toEqual({ seq: 3, at: '2026-01-01T00:00:00.000Z', type: 'x', i: 2 });
    expect(hub.after(5).entries).toEqual([]);
  });

  it('keeps at most the configured number of events and names the missing ones as a gap', () => {
    let cap = 10;
    const hub = new EventHub(
      () => cap,
      () => 0,
    );
    for (let i = 0; i < 100; i++) hub.publish('x', {});
    const b = hub.after(0);
    expect(b.gap).toEqual({ from: 1, to: 90, reason: 'overflow' });
    expect(b.entries.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 91 + i));
    // The ring never holds much more than its capacity, however many events pass.
    for (let i = 0; i < 10_000; i++) hub.publish('x', {});
    expect((hub as unknown as { entries: unknown[] }).entries.length).toBeLessThanOrEqual(cap + 16);
    // A larger buffer (a reload) fills up as events come.
    cap = 20;
    for (let i = 0; i < 30; i++) hub.publish('x', {});
    expect(hub.after(0).entries).toHaveLength(20);
  });

  it('tells a client whose seq is from before a restart that it must reload, and sends all it has', () => {
    const hub = new EventHub(
      () => 10,
      () => 0,
    );
    hub.publish('x', {});
    hub.publish('x', {});
    const b = hub.after(500);
    expect(b.gap?.reason).toBe('restart');
    expect(b.entries.map((e) => e.seq)).toEqual([1, 2]);
  });

  it('delivers live events to subscribers with the extensions they concern, until unsubscribed', () => {
    const hub = new EventHub(
      () => 10,
      () => 0,
    );
    const got: Array<readonly string[]> = [];
    const off = hub.subscribe((e) => got.push(e.concerns));
    hub.publish('call', {}, ['2001', undefined, '2001', '2002']);
    off();
    hub.publish('call', {}, ['2003']);
    expect(got).toEqual([['2001', '2002']]);
  });
});
