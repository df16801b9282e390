// An in-memory SIP network for unit tests: SipStacks talk through it without sockets. Each transport gets
// a loopback-style address of its own and UDP semantics — a message to nobody (or to an unplugged host) is
// lost, nothing is connection-oriented. Delivery is asynchronous (setImmediate, never a timer of the fake
// clock), so retransmission and timeout timers stay under the test's control while messages flow at once.
import { settleSend, type ConnectionHold, type ListenPoint, type MessageHandler, type SendCallback, type SendTarget, type SipTransport, type TransportName } from '../../src/sip/transport/types.js';
import type { FakeClock } from './fake-clock.js';

export const SIP_PORT = 5060;

/** One message as it crossed the network (for assertions on what was sent to whom). */
export interface Delivered {
  from: string;
  to: string;
  /** The first line: request line or status line. */
  firstLine: string;
  text: string;
}

export class SipNetwork {
  private readonly hosts = new Map<string, MemoryTransport>();
  private readonly unplugged = new Set<string>();
  private inFlight = 0;
  private nextHost = 1;
  /** Every message delivered, in order. */
  readonly log: Delivered[] = [];

  /** A transport with a fresh address (127.0.10.N:5060 unless one is given). */
  transport(address?: string, port = SIP_PORT): MemoryTransport {
    const host = address ?? `127.0.10.${this.nextHost++}`;
    return new MemoryTransport(this, { transport: 'udp', host, port });
  }

  /** True when no message is on its way. */
  get idle(): boolean {
    return this.inFlight === 0;
  }

  /** Lose every message to and from this address from now on (a phone that went silent). */
  unplug(address: string): void {
    this.unplugged.add(address);
  }

  plug(address: string): void {
    this.unplugged.delete(address);
  }

  /** @internal */
  attach(t: MemoryTransport): void {
    const key = keyOf(t.point.host, t.point.port);
    if (this.hosts.has(key)) throw new Error(`address ${key} is already in use on the test network`);
    this.hosts.set(key, t);
  }

  /** @internal */
  detach(t: MemoryTransport): void {
    const key = keyOf(t.point.host, t.point.port);
    if (this.hosts.get(key) === t) this.hosts.delete(key);
  }

  /** @internal */
  carry(from: ListenPoint, data: Buffer, target: SendTarget): void {
    const copy = Buffer.from(data);
    this.inFlight++;
    setImmediate(() => {
      this.inFlight--;
      if (this.unplugged.has(from.host) || this.unplugged.has(target.address)) return;
      const to = this.hosts.get(keyOf(target.address, target.port));
      if (!to) return;
      const text = copy.toString('utf8');
      this.log.push({ from: keyOf(from.host, from.port), to: keyOf(target.address, target.port), firstLine: text.slice(0, text.indexOf('\r\n')), text });
      to.receive(copy, { transport: 'udp', address: from.host, port: from.port, localAddress: to.point.host, localPort: to.point.port });
    });
  }
}

/** A send callback that throws is a bug in the test: let it fail the test. */
function rethrow(err: unknown): never {
  throw err;
}

function keyOf(address: string, port: number): string {
  return `${address}:${port}`;
}

/** One host's UDP "socket" on the test network: the SipTransport a SipStack is given. */
export class MemoryTransport implements SipTransport {
  private readonly handlers: MessageHandler[] = [];
  private running = false;

  constructor(
    private readonly network: SipNetwork,
    readonly point: ListenPoint,
  ) {}

  /** Where this host is reached. */
  get target(): SendTarget {
    return { transport: 'udp', address: this.point.host, port: this.point.port };
  }

  async start(): Promise<void> {
    this.network.attach(this);
    this.running = true;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.network.detach(this);
  }

  listening(): ListenPoint[] {
    return this.running ? [{ ...this.point }] : [];
  }

  onMessage(handler: MessageHandler): void {
    this.handlers.push(handler);
  }

  onConnectionClosed(): void {
    // UDP only: no connection ever closes.
  }

  send(data: Buffer, target: SendTarget, cb?: SendCallback): void {
    if (!this.running) return settleSend(cb, new Error('test transport is not running'), rethrow);
    if (target.transport !== 'udp') return settleSend(cb, new Error(`the test network carries udp only, not ${target.transport}`), rethrow);
    this.network.carry(this.point, data, target);
    settleSend(cb, undefined, rethrow);
  }

  localPoint(transport: TransportName): ListenPoint | undefined {
    return transport === 'udp' ? { ...this.point } : undefined;
  }

  hasConnection(): boolean {
    return false;
  }

  get connectionCount(): number {
    return 0;
  }

  /** Datagrams only: there is no connection to keep open. */
  retain(): ConnectionHold {
    return { release: () => undefined };
  }

  closeConnection(): void {}

  /** @internal a message arrived for this host. */
  receive(data: Buffer, source: Parameters<MessageHandler>[1]): void {
    if (!this.running) return;
    for (const h of this.handlers) h(data, source);
  }
}

/** Let every message in flight arrive, and everything it sets off run, until the network is quiet. */
export async function settle(network: SipNetwork): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    await new Promise<void>((r) => setImmediate(r));
    if (network.idle) return;
  }
  throw new Error('the test network never went quiet');
}

/**
 * Move the fake clock on by `ms`, firing due timers one instant at a time and letting the network settle
 * after each, as if messages took no time at all.
 */
export async function advance(network: SipNetwork, clock: FakeClock, ms: number): Promise<void> {
  const target = clock.now() + ms;
  await settle(network);
  for (;;) {
    const due = clock.nextDue();
    if (due === undefined || due > target) break;
    clock.advance(due - clock.now());
    await settle(network);
  }
  clock.advance(target - clock.now());
  await settle(network);
}
