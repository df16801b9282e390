import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectionRegistry,
  nextConnectionId,
  normalizeAddress,
  remoteKey,
  type Flow,
} from '../../../../src/sip/transport/connection-registry.js';

class FakeFlow implements Flow {
  readonly transport = 'tcp' as const;
  readonly remotePort: number;
  readonly localAddress = '127.0.0.1';
  readonly localPort = 5060;
  lastActivity: number;
  closedWith: string | undefined;
  constructor(
    readonly id: string,
    readonly remoteAddress: string,
    port: number,
    lastActivity = Date.now(),
  ) {
    this.remotePort = port;
    this.lastActivity = lastActivity;
  }
  send(): void {}
  close(reason: string): void {
    this.closedWith = reason;
  }
}

const registries: ConnectionRegistry[] = [];
afterEach(() => registries.splice(0).forEach((r) => r.stopIdleSweep()));

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
    const reg = new ConnectionRegistry(60_000);
    const flow = new FakeFlow('tcp-a', 'host.example', 5060);
    reg.add(flow, [remoteKey('tcp', 'host.example', 5060)]);
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
    const reg = new ConnectionRegistry(60_000);
    const older = new FakeFlow('tcp-old', '192.0.2.1', 5060);
    const newer = new FakeFlow('tcp-new', '192.0.2.1', 5060);
    reg.add(older, [remoteKey('tcp', '192.0.2.1', 5060)]);
    reg.add(newer, [remoteKey('tcp', '192.0.2.1', 5060)]);
    reg.remove(older);
    expect(reg.findByRemote('tcp', '192.0.2.1', 5060)).toBe(newer);
  });

  it('closes only the flows idle for idleTimeoutMs', async () => {
    let now = 1_000_000;
    const reg = new ConnectionRegistry(100);
    registries.push(reg);
    const idle = new FakeFlow('tcp-idle', '192.0.2.1', 1, now - 100);
    const fresh = new FakeFlow('tcp-fresh', '192.0.2.2', 2, now - 50);
    reg.add(idle, []);
    reg.add(fresh, []);
    reg.startIdleSweep(() => now);
    await new Promise((r) => setTimeout(r, 60));
    expect(idle.closedWith).toBe('idle timeout');
    expect(fresh.closedWith).toBeUndefined();
    now += 60;
    await new Promise((r) => setTimeout(r, 60));
    expect(fresh.closedWith).toBe('idle timeout');
  });
});
