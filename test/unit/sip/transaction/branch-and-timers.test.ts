import { describe, it, expect } from 'vitest';
import { isRfc3261Branch, newBranch, serverKey } from '../../../../src/sip/transaction/branch.js';
import { DEFAULT_TIMERS, deriveTimers, resolveTimers } from '../../../../src/sip/transaction/timers.js';
import { FakeClock } from '../../../support/fake-clock.js';

describe('newBranch', () => {
  it('is the magic cookie plus at least 22 base64url characters', () => {
    const b = newBranch();
    expect(b).toMatch(/^z9hG4bK[A-Za-z0-9_-]{22,}$/);
    expect(isRfc3261Branch(b)).toBe(true);
  });

  it('does not repeat over many draws (pool refills included)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) seen.add(newBranch());
    expect(seen.size).toBe(20_000);
  });

  it('recognises RFC 2543 branches', () => {
    expect(isRfc3261Branch('z9hG4bK')).toBe(false);
    expect(isRfc3261Branch('1234')).toBe(false);
    expect(isRfc3261Branch(undefined)).toBe(false);
    expect(isRfc3261Branch(null)).toBe(false);
  });

  it('maps ACK to the INVITE key but keeps CANCEL apart', () => {
    expect(serverKey('z9hG4bKx', 'a:1', 'ACK')).toBe(serverKey('z9hG4bKx', 'a:1', 'INVITE'));
    expect(serverKey('z9hG4bKx', 'a:1', 'CANCEL')).not.toBe(serverKey('z9hG4bKx', 'a:1', 'INVITE'));
  });
});

describe('timer configuration', () => {
  it('defaults to T1 500, T2 4000, T4 5000', () => {
    expect(DEFAULT_TIMERS).toEqual({ t1: 500, t2: 4000, t4: 5000 });
    expect(resolveTimers()).toEqual({ t1: 500, t2: 4000, t4: 5000 });
    expect(resolveTimers({ t1: 200 })).toEqual({ t1: 200, t2: 4000, t4: 5000 });
  });

  it('rejects nonsense values', () => {
    expect(() => resolveTimers({ t1: 0 })).toThrow(RangeError);
    expect(() => resolveTimers({ t4: Number.NaN })).toThrow(RangeError);
    expect(() => resolveTimers({ t1: 5000, t2: 4000 })).toThrow(RangeError);
  });

  it('derives Table 4 timers for unreliable and reliable transports', () => {
    expect(deriveTimers(DEFAULT_TIMERS, false)).toEqual({
      a: 500,
      b: 32000,
      d: 32000,
      e: 500,
      f: 32000,
      g: 500,
      h: 32000,
      i: 5000,
      j: 32000,
      k: 5000,
      l: 32000,
      m: 32000,
    });
    expect(deriveTimers(DEFAULT_TIMERS, true)).toEqual({
      a: 500,
      b: 32000,
      d: 0,
      e: 500,
      f: 32000,
      g: 500,
      h: 32000,
      i: 0,
      j: 0,
      k: 0,
      l: 32000,
      m: 32000,
    });
  });
});

describe('FakeClock', () => {
  it('fires due timers in time order, equal times in scheduling order, including timers set while firing', () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    clock.setTimer(300, () => fired.push(`c@${clock.now()}`));
    clock.setTimer(100, () => {
      fired.push(`a@${clock.now()}`);
      clock.setTimer(50, () => fired.push(`nested@${clock.now()}`));
    });
    clock.setTimer(100, () => fired.push(`b@${clock.now()}`));
    const cancelled = clock.setTimer(200, () => fired.push('never'));
    cancelled.cancel();
    expect(clock.pending).toBe(3);
    clock.advance(299);
    expect(fired).toEqual(['a@100', 'b@100', 'nested@150']);
    expect(clock.now()).toBe(299);
    clock.advance(1);
    expect(fired).toEqual(['a@100', 'b@100', 'nested@150', 'c@300']);
    expect(clock.pending).toBe(0);
  });

  it('runAll drains every timer and refuses to spin forever', () => {
    const clock = new FakeClock();
    let n = 0;
    clock.setTimer(10, () => n++);
    clock.setTimer(1000, () => n++);
    clock.runAll();
    expect(n).toBe(2);
    expect(clock.now()).toBe(1000);
    const forever = (): void => {
      clock.setTimer(1, forever);
    };
    forever();
    expect(() => clock.runAll(100)).toThrow(/never settle/);
  });
});
