// Issue #13 goal 4: the overload control also measures how long datagrams wait in the receive queue
// (a probe datagram the stack sends itself), the backlog that event-loop utilization cannot show.
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoadSample, LoadSource } from '../../../src/sip/load-source.js';
import type { OverloadSettings } from '../../../src/sip/overload.js';
import { QueueProbe, udpQueueProbe } from '../../../src/sip/queue-probe.js';
import { request, stackHarness, type StackHarness } from './stack-harness.js';

let h: StackHarness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe('the receive-queue probe', () => {
  const token = Buffer.alloc(16, 7);

  function probe(): { p: QueueProbe; sent: Buffer[]; at: (ms: number) => void } {
    let now = 0;
    const sent: Buffer[] = [];
    const p = new QueueProbe({ send: (b) => sent.push(b), now: () => now, token });
    return { p, sent, at: (ms) => (now = ms) };
  }

  it('times a probe from its sending to its reading', () => {
    const { p, sent, at } = probe();
    p.send();
    at(120);
    expect(p.take(sent[0]!)).toBe(true);
    expect(p.read()).toBe(120);
    // Read once: the next reading starts afresh.
    expect(p.read()).toBe(0);
  });

  it('counts a probe still queued at its age, so a backlog shows before its probe comes out', () => {
    const { p, sent, at } = probe();
    p.send();
    p.take(sent[0]!);
    p.read();
    p.send();
    at(300);
    expect(p.read()).toBe(300);
    at(550);
    expect(p.read()).toBe(550);
  });

  it('forgets a probe lost for good (a full receive buffer drops datagrams)', () => {
    const { p, sent, at } = probe();
    p.send();
    p.take(sent[0]!);
    p.send();
    at(20_000);
    p.read();
    expect(p.read()).toBe(0);
  });

  it('counts a probe dropped by a full receive buffer no longer once a later probe came back', () => {
    const { p, sent, at } = probe();
    p.send();
    p.take(sent[0]!);
    p.read();
    // Probe 2 is dropped by the kernel; probe 3, sent later, comes out after 40 ms.
    at(100);
    p.send();
    at(200);
    p.send();
    at(240);
    p.take(sent[2]!);
    at(1000);
    // Without the FIFO rule probe 2 would read as a 900 ms backlog until it was forgotten 10 s later.
    expect(p.read()).toBe(40);
    at(1250);
    expect(p.read()).toBe(0);
  });

  it('reads no backlog while no probe ever came back (the path to the socket does not work)', () => {
    const { p, at } = probe();
    p.send();
    at(3000);
    expect(p.read()).toBe(0);
  });

  it('stops reading a backlog once no probe has come back for 20 s (a broken path, not a queue)', () => {
    const { p, sent, at } = probe();
    p.send();
    p.take(sent[0]!);
    p.read();
    p.send();
    // Every sample sends a probe that never comes back: ages count while the path may just be slow…
    for (let t = 250; t <= 19_750; t += 250) {
      at(t);
      p.send();
      expect(p.read()).toBeGreaterThan(0);
    }
    // …and no longer once nothing came back for twice the lost-probe time.
    at(20_250);
    p.send();
    expect(p.read()).toBe(0);
    // A probe back again counts the queue again.
    at(20_500);
    p.send();
    p.take(sent.at(-1)!);
    at(20_600);
    p.send();
    at(20_900);
    expect(p.read()).toBe(300);
  });

  it('reaches a dual-stack :: listener on 127.0.0.1', async () => {
    const socket = createSocket('udp6');
    await new Promise<void>((resolve) => socket.bind(0, '::', resolve));
    const { probe: p, close } = udpQueueProbe({ host: '::', port: socket.address().port });
    try {
      const got = new Promise<Buffer>((resolve) => socket.once('message', resolve));
      p.send();
      expect(p.take(await got)).toBe(true);
    } finally {
      close();
      socket.close();
    }
  });

  it('goes through a real UDP socket and back', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const { probe: p, close } = udpQueueProbe({ host: '0.0.0.0', port: socket.address().port });
    try {
      const got = new Promise<Buffer>((resolve) => socket.once('message', resolve));
      p.send();
      expect(p.take(await got)).toBe(true);
      expect(p.read()).toBeGreaterThanOrEqual(0);
    } finally {
      close();
      socket.close();
    }
  });

  it('leaves every other datagram alone: SIP, keep-alives, another process’s probe', () => {
    const { p, sent } = probe();
    p.send();
    expect(p.take(Buffer.from('OPTIONS sip:a SIP/2.0\r\n\r\n'))).toBe(false);
    expect(p.take(Buffer.from('\r\n\r\n'))).toBe(false);
    const foreign = Buffer.from(sent[0]!);
    foreign[5] ^= 0xff;
    expect(p.take(foreign)).toBe(false);
    expect(p.take(sent[0]!)).toBe(true);
  });
});

class FakeLoad implements LoadSource {
  current: LoadSample = { utilization: 0.1, loopDelayMs: 0, queueDelayMs: 0 };
  sample(): LoadSample {
    return this.current;
  }
  close(): void {}
}

describe('overload shedding on the receive queue', () => {
  const SETTINGS: OverloadSettings = {
    sampleMs: 250,
    maxLoopUtilization: 90,
    maxLoopDelayMs: 150,
    maxQueueDelayMs: 100,
    maxPendingInvites: 2000,
    retryAfterSeconds: 5,
    smoothingMs: 1000,
  };

  async function harness(): Promise<{ x: StackHarness; load: FakeLoad }> {
    const load = new FakeLoad();
    const x = await stackHarness({ protection: { overload: SETTINGS, loadSource: load, random: () => 0 } });
    x.stack.use('INVITE', (_req, res) => res.send(486));
    h = x;
    return { x, load };
  }

  it('sheds when requests wait in the queue while the loop looks merely busy, and stops once the queue is short', async () => {
    const { x, load } = await harness();
    // Utilization under its limit and timers on time, but datagrams wait 400 ms to be read.
    load.current = { utilization: 0.85, loopDelayMs: 5, queueDelayMs: 400 };
    x.clock.advance(500);
    expect(x.stack.overloadControl?.shedShare).toBeGreaterThan(0);
    x.deliver(request({ callId: 'shed' }));
    expect(x.responses('shed').map((r) => r.status)).toEqual([503]);
    load.current = { utilization: 0.6, loopDelayMs: 1, queueDelayMs: 2 };
    x.clock.advance(3000);
    expect(x.stack.overloadControl?.shedShare).toBe(0);
  });

  it('acts on a backlog in full one sample after it shows, and stops raising the share once the queue drained', async () => {
    const { x, load } = await harness();
    load.current = { utilization: 0.5, loopDelayMs: 1, queueDelayMs: 3 };
    x.clock.advance(2000);
    // At twice capacity the queue grows by tens of ms per sample; averaged over a second it showed a
    // second late, with callers about to retransmit.
    load.current = { utilization: 1, loopDelayMs: 1, queueDelayMs: 300 };
    x.clock.advance(250);
    expect(x.stack.overloadControl?.shedShare).toBe(0);
    x.clock.advance(250);
    expect(x.stack.overloadControl?.shedShare).toBeGreaterThanOrEqual(0.5);
    const peak = x.stack.overloadControl?.shedShare ?? 0;
    load.current = { utilization: 0.7, loopDelayMs: 1, queueDelayMs: 2 };
    x.clock.advance(250);
    expect(x.stack.overloadControl?.shedShare).toBeLessThan(peak);
    // It falls more slowly than it rose: the share that drained the queue is about the one that keeps it short.
    expect(x.stack.overloadControl?.shedShare).toBeGreaterThan(peak - 0.25);
  });

  it('a lone stall of the queue (one slow sample) refuses nothing', async () => {
    const { x, load } = await harness();
    load.current = { utilization: 0.5, loopDelayMs: 1, queueDelayMs: 3 };
    x.clock.advance(2000);
    load.current = { utilization: 1, loopDelayMs: 100, queueDelayMs: 110 };
    x.clock.advance(250);
    load.current = { utilization: 0.5, loopDelayMs: 1, queueDelayMs: 3 };
    for (let i = 0; i < 8; i++) {
      expect(x.stack.overloadControl?.shedShare).toBe(0);
      x.clock.advance(250);
    }
  });

  it('ignores the queue when maxQueueDelayMs is 0', async () => {
    const load = new FakeLoad();
    const x = await stackHarness({ protection: { overload: { ...SETTINGS, maxQueueDelayMs: 0 }, loadSource: load, random: () => 0 } });
    h = x;
    load.current = { utilization: 0.5, loopDelayMs: 1, queueDelayMs: 5000 };
    x.clock.advance(2000);
    expect(x.stack.overloadControl?.shedShare).toBe(0);
  });
});
