// In-band DTMF end to end: the real media worker (from dist/) detects the tones in the G.711 audio of a leg
// that negotiated no telephone-event and reports them like RFC 4733 digits, with source 'inband'.
import { describe, it, expect, afterEach } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { BuiltinMediaEngine } from '../../../src/media/builtin/engine.js';
import type { DtmfSource } from '../../../src/media/engine.js';
import { encode } from '../../../src/media/builtin/g711.js';
import { applied, RtpPhone, freePortRange, phoneSdp, sdpPort } from './rtp-phone.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const logger = pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() }));

/** Peak amplitude of a -10 dBm0 sine in 16-bit PCM (µ-law full scale 32124 is +3.17 dBm0). */
const MINUS_10_DBM0 = (32124 / 10 ** (3.17 / 20)) * 10 ** (-10 / 20);
const PAIRS: Record<string, [number, number]> = { '1': [697, 1209], '#': [941, 1477] };

/** `ms` of the key's two tones (or silence for null) at 8 kHz, continuing from sample `start`. */
function audio(key: string | null, ms: number, start: number): number[] {
  const n = ms * 8;
  if (key === null) return new Array<number>(n).fill(0);
  const [low, high] = PAIRS[key]!;
  return Array.from({ length: n }, (_, i) => MINUS_10_DBM0 * (Math.sin((2 * Math.PI * low * (start + i)) / 8000) + Math.sin((2 * Math.PI * high * (start + i)) / 8000)));
}

let engine: BuiltinMediaEngine | undefined;
const phones: RtpPhone[] = [];

afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  await Promise.all(phones.splice(0).map((p) => p.close()));
});

describe('BuiltinMediaEngine in-band DTMF', () => {
  it('reports the tones "1#" received on a PCMU-only leg as inband digits, and forwards no events for them', async () => {
    engine = new BuiltinMediaEngine({ address: '127.0.0.1', bindAddress: '127.0.0.1', rtpPorts: await freePortRange(20), rtpTimeoutSec: 0, logger });
    await engine.start();
    const got: [string, string, number, DtmfSource][] = [];
    engine.on('dtmf', (id, digit, ms, source) => got.push([id, digit, ms, source]));
    const a = await RtpPhone.open();
    const b = await RtpPhone.open();
    phones.push(a, b);
    const aId = await engine.createEndpoint({ label: 'inband' });
    const aPort = sdpPort((await engine.answerOffer(aId, phoneSdp(a.port, { pts: [0], tePt: null }))).sdp);
    const bId = await engine.createEndpoint({ label: 'rfc4733' });
    await engine.answerOffer(bId, phoneSdp(b.port, { pts: [0], tePt: 101 }));
    engine.bridge(aId, bId);
    await applied(engine);

    const samples = [...audio(null, 60, 0), ...audio('1', 100, 480), ...audio(null, 100, 1280), ...audio('#', 120, 2080), ...audio(null, 200, 3040)];
    const pcmu = encode(
      Int16Array.from(samples, (x) => Math.round(x)),
      'PCMU',
    );
    const packets = pcmu.length / 160;
    for (let i = 0; i < packets; i++) {
      a.sendRtp({ pt: 0, seq: 100 + i, ts: 8000 + i * 160, ssrc: 0xabc, marker: i === 0, payload: pcmu.subarray(i * 160, (i + 1) * 160) }, aPort);
      await sleep(5);
    }
    await b.waitFor((r) => r.length >= packets, 3000, 'relayed audio');
    const deadline = performance.now() + 2000;
    while (got.length < 2 && performance.now() < deadline) await sleep(20);

    expect(got.map(([id, digit, , source]) => [id, digit, source])).toEqual([
      [aId, '1', 'inband'],
      [aId, '#', 'inband'],
    ]);
    expect(Math.abs(got[0]![2] - 100)).toBeLessThanOrEqual(10);
    expect(Math.abs(got[1]![2] - 120)).toBeLessThanOrEqual(10);
    // The tones reached B as audio; no telephone-event was generated for them.
    expect(b.received.every((p) => p.rtp.payloadType === 0)).toBe(true);
    expect((await engine.stats(aId)).dtmfEvents).toBe(2);
  });
});
