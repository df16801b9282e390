// The pieces the call-core harness stands on: the in-memory SIP network (asynchronous UDP-like delivery)
// and the test media engine (real offer/answer, prompts timed on the fake clock, DTMF per policy).
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { SipNetwork } from '../../support/sip-network.js';
import { MemoryMedia } from '../../support/memory-media.js';
import { FakeClock } from '../../support/fake-clock.js';
import { MediaError } from '../../../src/media/engine.js';
import type { TransportSource } from '../../../src/sip/message.js';

const prompt = (name: string) => fileURLToPath(new URL(`../../../prompts/en/${name}.wav`, import.meta.url));
const tick = () => new Promise<void>((r) => setImmediate(r));

describe('SipNetwork', () => {
  it('delivers a copy asynchronously to the host at the target, with its source; loses what goes nowhere', async () => {
    const net = new SipNetwork();
    const a = net.transport();
    const b = net.transport();
    await Promise.all([a.start(), b.start()]);
    const got: Array<{ text: string; source: TransportSource }> = [];
    b.onMessage((data, source) => got.push({ text: data.toString(), source }));
    const data = Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n');
    a.send(data, b.target);
    a.send(Buffer.from('lost'), { transport: 'udp', address: '127.0.10.99', port: 5060 });
    data.write('XXXXXXX');
    expect(got).toHaveLength(0);
    expect(net.idle).toBe(false);
    await tick();
    expect(net.idle).toBe(true);
    expect(got).toEqual([{ text: 'OPTIONS sip:x SIP/2.0\r\n\r\n', source: expect.objectContaining({ transport: 'udp', address: a.point.host, port: 5060 }) }]);
    net.unplug(b.point.host);
    a.send(data, b.target);
    await tick();
    expect(got).toHaveLength(1);
  });
});

describe('MemoryMedia', () => {
  const offerer = 'v=0\r\no=p 1 1 IN IP4 127.0.10.5\r\ns=-\r\nc=IN IP4 127.0.10.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n';

  it('answers with the real SDP code: 488 without a common codec', async () => {
    const media = new MemoryMedia(new FakeClock());
    const ep = await media.createEndpoint();
    const err = await media.answerOffer(ep, offerer.replace(/ 0 101/, ' 9').replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:9 G722/8000')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaError);
    expect((err as MediaError).sipStatus).toBe(488);
  });

  it('ends a prompt after its length on the fake clock; a loop plays until stopped; a new prompt replaces the old', async () => {
    const clock = new FakeClock();
    const media = new MemoryMedia(clock);
    const ep = await media.createEndpoint();
    const files = [prompt('1'), prompt('2')];
    const length = media.playLength(files);
    expect(length % 20).toBe(0);
    const once = media.play(ep, files);
    clock.advance(length - 1);
    expect(media.nowPlaying(ep)?.state).toBe('playing');
    clock.advance(1);
    expect(await once.done).toBe('completed');
    const loop = media.play(ep, files, { loop: true });
    clock.advance(100 * length);
    expect(media.nowPlaying(ep)?.loop).toBe(true);
    const next = media.play(ep, files);
    expect(await loop.done).toBe('stopped');
    media.destroy(ep);
    expect(await next.done).toBe('stopped');
  });

  it('forwards a pressed digit to the bridged peer under pass, reports it always, holds it under holdback', async () => {
    const media = new MemoryMedia(new FakeClock());
    const [a, b] = [await media.createEndpoint(), await media.createEndpoint()];
    await media.answerOffer(a, offerer);
    await media.answerOffer(b, offerer);
    const reported: string[] = [];
    media.on('dtmf', (_id, d) => reported.push(d));
    media.bridge(a, b);
    media.press(a, '1');
    media.setDtmfPolicy(a, 'suppress');
    media.press(a, '2');
    media.setDtmfPolicy(a, 'holdback');
    media.press(a, '3');
    expect(media.heard(b)).toBe('1');
    media.releaseDtmf(a, true);
    expect(media.heard(b)).toBe('13');
    expect(reported).toEqual(['1', '2', '3']);
    const c = await media.createEndpoint();
    media.bridge(a, c);
    expect(media.bridged(a, b)).toBe(false);
    expect(media.peerOf(b)).toBeUndefined();
  });
});
