import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../support/fake-clock.js';
import { ConnectionRegistry, nextConnectionId, normalizeAddress, remoteKey, type Flow } from '../../../../src/sip/transport/connection-registry.js';

class FakeFlow implements Flow {
  readonly transport = 'tcp' as const;
  readonly remotePort: number;
  readonly localAddress = '127.0.0.1';
  readonly localPort = 5060;
  lastActivity: number;
  lastMessage: number;
  closedWith: string | undefined;
  constructor(
    readonly id: string,
    readonly remoteAddress: string,
    port: number,
    lastActivity = 0,
  ) {
    this.remotePort = port;
    this.lastActivity = lastActivity;
    this.lastMessage = lastActivity;
  }
  send(): void {}
  close(reason: string): void {
    this.closedWith = reason;
  }
}

const registries: ConnectionRegistry[] = [];
afterEach(() => registries.splice(0).forEach((r) => r.stopIdleSweep()));

function registry(idleTimeoutMs = 60_000, unprovenIdleTimeoutMs = 60_000, clock = new FakeClock()): ConnectionRegistry {
  const reg = new ConnectionRegistry({ idleTimeoutMs, unprovenIdleTimeoutMs, clock });
  registries.push(reg);
  return reg;
}

describe('connection registry', () => {
  it('normalises addresses for keys', () => {
    expect(normalizeAddress('[2001:DB8::1]')).toBe('2001:db8::1');
    expect(normalizeAddress('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(normalizeAddress('::ffff:abcd')).toBe('::ffff:abcd');
    expect(remoteKey('tls', 'Example.COM', 5061)).toBe('tls|example.com|5061');
  });

  it('gives process-unique ids per transport', () => {
    const a = nextConnectionId('tcp');
    const b = nextConnectionId('tcp');
    expect(a).toMatch(/^tcp-\d+$/);
    expect(b).not.toBe(a);
    expect(nextConnectionId('wss')).toMatch(/^wss-\d+$/);
  });

  it('finds flows by id and by any of their remote keys, and forgets them on removal', () => {
    const reg = registry();
    const flow = new FakeFlow('tcp-a', 'host.example', 5060);
    reg.add(flow, [remoteKey('tcp', 'host.example', 5060)], { proven: false });
    reg.alias(flow, remoteKey('tcp', '192.0.2.1', 5060));
    expect(reg.get('tcp-a')).toBe(flow);
    expect(reg.findByRemote('tcp', 'HOST.example', 5060)).toBe(flow);
    expect(reg.findByRemote('tcp', '::ffff:192.0.2.1', 5060)).toBe(flow);
    expect(reg.findByRemote('tls', '192.0.2.1', 5060)).toBeUndefined();
    expect(reg.size).toBe(1);
    reg.remove(flow);
    expect(reg.size).toBe(0);
    expect(reg.get('tcp-a')).toBeUndefined();
    expect(reg.findByRemote('tcp', '192.0.2.1', 5060)).toBeUndefined();
  });

  it('keeps the newer flow for a shared key when the older one goes away', () => {
    const reg = registry();
    const older = new FakeFlow('tcp-old', '192.0.2.1', 5060);
    const newer = new FakeFlow('tcp-new', '192.0.2.1', 5060);
    reg.add(older, [remoteKey('tcp', '192.0.2.1', 5060)], { proven: false });
    reg.add(newer, [remoteKey('tcp', '192.0.2.1', 5060)], { proven: false });
    reg.remove(older);
    expect(reg.findByRemote('tcp', '192.0.2.1', 5060)).toBe(newer);
  });

  it('closes only the flows in use that were idle for idleTimeoutMs', () => {
    const clock = new FakeClock();
    const reg = registry(100, 1000, clock);
    const idle = new FakeFlow('tcp-idle', '192.0.2.1', 1);
    const fresh = new FakeFlow('tcp-fresh', '192.0.2.2', 2);
    reg.add(idle, [], { proven: true });
    reg.add(fresh, [], { proven: true });
    reg.startIdleSweep();
    clock.advance(50);
    fresh.lastActivity = 50;
    clock.advance(60);
    expect(idle.closedWith).toBe('idle timeout');
    expect(fresh.closedWith).toBeUndefined();
    clock.advance(60);
    expect(fresh.closedWith).toBe('idle timeout');
  });

  it('gives an unproven flow the short timeout, counted from its last whole message only', () => {
    const clock = new FakeClock();
    const reg = registry(1000, 100, clock);
    const flow = new FakeFlow('tcp-new', '192.0.2.1', 1);
    reg.add(flow, [], { proven: false });
    expect(reg.useOf(flow.id)).toBe('unproven');
    reg.startIdleSweep();
    clock.advance(60);
    flow.lastActivity = 60; // a keep-alive
    clock.advance(60);
    expect(flow.closedWith).toMatch(/before any registration or dialog/);
  });

  it('never closes a held flow; a registration or dialog proves it, a transaction does not', () => {
    const clock = new FakeClock();
    const reg = registry(1000, 100, clock);
    const a = new FakeFlow('tcp-a', '192.0.2.1', 1);
    const b = new FakeFlow('tcp-b', '192.0.2.2', 2);
    reg.add(a, [], { proven: false });
    reg.add(b, [], { proven: false });
    reg.startIdleSweep();
    const registration = reg.retain(a.id, 'registration');
    const transaction = reg.retain(b.id, 'transaction');
    expect(reg.useOf(a.id)).toBe('held');
    clock.advance(5000);
    expect(a.closedWith).toBeUndefined();
    expect(b.closedWith).toBeUndefined();
    // Released at 5000: idleness counts from then, whatever the last traffic was.
    registration.release();
    transaction.release();
    expect(reg.useOf(a.id)).toBe('in-use');
    expect(reg.useOf(b.id)).toBe('unproven');
    clock.advance(150);
    expect(b.closedWith).toMatch(/before any registration or dialog/);
    expect(a.closedWith).toBeUndefined();
    clock.advance(900);
    expect(a.closedWith).toBe('idle timeout');
  });

  it('counts holds, ignores a second release of one, and gives unknown ids a hold that does nothing', () => {
    const reg = registry();
    const flow = new FakeFlow('tcp-a', '192.0.2.1', 1);
    reg.add(flow, [], { proven: false });
    const one = reg.retain(flow.id, 'dialog');
    const two = reg.retain(flow.id, 'registration');
    one.release();
    one.release();
    expect(reg.useOf(flow.id)).toBe('held');
    two.release();
    expect(reg.useOf(flow.id)).toBe('in-use');
    expect(() => reg.retain('tcp-unknown', 'dialog').release()).not.toThrow();
    expect(() => reg.retain(undefined, 'dialog').release()).not.toThrow();
  });
});
