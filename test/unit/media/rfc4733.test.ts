import { describe, it, expect, afterEach } from 'vitest';
import { DtmfReceiver, digitToEvent, eventToDigit, parseTelephoneEvent, writeTelephoneEvent, type TelephoneEvent } from '../../../src/media/builtin/rfc4733.js';

const ev = (event: number, end: boolean, duration: number): TelephoneEvent => ({ event, end, volume: 10, duration });

describe('telephone-event payload', () => {
  it('parses event, E bit, volume and duration', () => {
    const out = ev(0, false, 0);
    expect(parseTelephoneEvent(Uint8Array.of(0xff, 11, 0x8a, 0x03, 0x20), 1, 4, out)).toBe(true);
    expect(out).toEqual({ event: 11, end: true, volume: 10, duration: 800 });
    expect(parseTelephoneEvent(Uint8Array.of(5, 0x0a, 0x00, 0xa0), 0, 4, out)).toBe(true);
    expect(out).toEqual({ event: 5, end: false, volume: 10, duration: 160 });
  });

  it('rejects a payload shorter than 4 bytes', () => {
    expect(parseTelephoneEvent(Uint8Array.of(1, 2, 3), 0, 3, ev(0, false, 0))).toBe(false);
  });

  it('writes what it parses', () => {
    const buf = new Uint8Array(4);
    writeTelephoneEvent(buf, 0, ev(15, true, 1234));
    const out = ev(0, false, 0);
    parseTelephoneEvent(buf, 0, 4, out);
    expect(out).toEqual(ev(15, true, 1234));
  });

  it('maps digits to events and back', () => {
    expect([...'0123456789*#ABCD'].map(digitToEvent)).toEqual([...Array(16).keys()]);
    expect(digitToEvent('a')).toBe(12);
    expect(digitToEvent('x')).toBe(-1);
    expect(eventToDigit(10)).toBe('*');
    expect(eventToDigit(16)).toBeUndefined();
  });
});

describe('DtmfReceiver', () => {
  const receivers: DtmfReceiver[] = [];
  afterEach(() => receivers.splice(0).forEach((r) => r.dispose()));

  function receiver(timeoutMs?: number): { r: DtmfReceiver; got: [string, number][] } {
    const got: [string, number][] = [];
    const r = new DtmfReceiver((d, ms) => got.push([d, ms]), timeoutMs);
    receivers.push(r);
    return { r, got };
  }

  it('reports a digit once at its end packet, however many end packets repeat', () => {
    const { r, got } = receiver();
    r.onPacket(1, 1000, ev(5, false, 160));
    r.onPacket(1, 1000, ev(5, false, 320));
    expect(got).toEqual([]);
    r.onPacket(1, 1000, ev(5, true, 800));
    r.onPacket(1, 1000, ev(5, true, 800));
    r.onPacket(1, 1000, ev(5, true, 800));
    expect(got).toEqual([['5', 100]]);
  });

  it('reports the same digit pressed twice (a new timestamp is a new press)', () => {
    const { r, got } = receiver();
    for (const ts of [1000, 3000]) {
      r.onPacket(1, ts, ev(1, false, 160));
      for (let i = 0; i < 3; i++) r.onPacket(1, ts, ev(1, true, 640));
    }
    expect(got).toEqual([
      ['1', 80],
      ['1', 80],
    ]);
  });

  it('ignores end packets of the previous digit arriving after the next one started', () => {
    const { r, got } = receiver();
    r.onPacket(1, 1000, ev(1, true, 800));
    r.onPacket(1, 2000, ev(2, false, 160));
    r.onPacket(1, 1000, ev(1, true, 800));
    r.onPacket(1, 2000, ev(2, true, 800));
    expect(got.map((g) => g[0])).toEqual(['1', '2']);
  });

  it('reports a digit whose end packets were lost when the next digit starts', () => {
    const { r, got } = receiver();
    r.onPacket(1, 1000, ev(7, false, 480));
    r.onPacket(1, 2000, ev(8, false, 160));
    expect(got).toEqual([['7', 60]]);
  });

  it('reports a digit without end packets after the timeout, once', async () => {
    const { r, got } = receiver(100);
    r.onPacket(1, 1000, ev(9, false, 160));
    r.onPacket(1, 1000, ev(9, false, 400));
    await new Promise((resolve) => setTimeout(resolve, 180));
    expect(got).toEqual([['9', 50]]);
    r.onPacket(1, 1000, ev(9, true, 800));
    expect(got).toHaveLength(1);
  });

  it('does not report events that are not digits (flash)', () => {
    const { r, got } = receiver();
    r.onPacket(1, 1000, ev(16, true, 800));
    expect(got).toEqual([]);
  });
});
