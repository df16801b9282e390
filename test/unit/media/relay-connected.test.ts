// The relay connects a leg's RTP socket to its latched source (a connected UDP socket hears only that
// source), so these check that latching still behaves as without it: a source that pauses and returns is
// relayed to again, and after the silence another source can take over and receive the relayed audio.
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { BuiltinMediaEngine } from '../../../src/media/builtin/engine.js';
import { applied, RtpPhone, freePortRange, phoneSdp, sdpPort } from './rtp-phone.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const engines: BuiltinMediaEngine[] = [];
const phones: RtpPhone[] = [];

afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
  await Promise.all(phones.splice(0).map((p) => p.close()));
});

async function setup(): Promise<{ engine: BuiltinMediaEngine; a: { id: string; port: number; phone: RtpPhone }; b: { id: string; port: number; phone: RtpPhone } }> {
  const engine = new BuiltinMediaEngine({ address: '127.0.0.1', bindAddress: '127.0.0.1', rtpPorts: await freePortRange(40), rtpTimeoutSec: 0, logger: pino({ level: 'silent' }) });
  engines.push(engine);
  await engine.start();
  const legs = [];
  for (let i = 0; i < 2; i++) {
    const phone = await RtpPhone.open();
    phones.push(phone);
    const id = await engine.createEndpoint({ label: `leg${i}` });
    const { sdp } = await engine.answerOffer(id, phoneSdp(phone.port));
    legs.push({ id, phone, port: sdpPort(sdp) });
  }
  engine.bridge(legs[0]!.id, legs[1]!.id);
  await applied(engine);
  return { engine, a: legs[0]!, b: legs[1]! };
}

const audio = new Uint8Array(160).fill(0x55);

describe('relay with sockets connected to the latched source', () => {
  it('relays to a latched source again after it paused for longer than the re-latch delay', async () => {
    const { engine, a, b } = await setup();
    b.phone.sendRtp({ pt: 0, seq: 1, ts: 0, ssrc: 9, payload: audio }, b.port);
    a.phone.sendRtp({ pt: 0, seq: 1, ts: 0, ssrc: 8, payload: audio }, a.port);
    await b.phone.waitFor((r) => r.length >= 1);
    // Silent past the point where the relay opens the socket to other sources (2 s), then back.
    await sleep(2100);
    b.phone.sendRtp({ pt: 0, seq: 2, ts: 160, ssrc: 9, payload: audio }, b.port);
    await a.phone.waitFor((r) => r.length >= 1);
    a.phone.sendRtp({ pt: 0, seq: 2, ts: 160, ssrc: 8, payload: audio }, a.port);
    await b.phone.waitFor((r) => r.length >= 2);
    const stats = await engine.stats(b.id);
    expect(stats).toMatchObject({ latched: true, packetsIn: 2, packetsOut: 2, remote: { address: '127.0.0.1', port: b.phone.port } });
  });

  it('sends the relayed audio to a new source once the latched one has been silent', async () => {
    const { engine, a, b } = await setup();
    const moved = await RtpPhone.open();
    phones.push(moved);
    b.phone.sendRtp({ pt: 0, seq: 1, ts: 0, ssrc: 9, payload: audio }, b.port);
    await sleep(2130);
    // B's device now sends from another port (a NAT rebinding): the relay follows it both ways.
    moved.sendRtp({ pt: 0, seq: 2, ts: 160, ssrc: 9, payload: audio }, b.port);
    await a.phone.waitFor((r) => r.length >= 2);
    a.phone.sendRtp({ pt: 0, seq: 1, ts: 0, ssrc: 8, payload: audio }, a.port);
    await moved.waitFor((r) => r.length >= 1);
    expect(b.phone.received).toHaveLength(0);
    expect((await engine.stats(b.id)).remote).toEqual({ address: '127.0.0.1', port: moved.port });
  });
});
