// Call recording with SIP.js (WebSocket, its media a plain RTP endpoint) in place of the test UA: SIP.js
// 2001, whose recording is on-demand, calls the UDP phone 2002, presses *1 through the session's DTMF
// (RFC 4733), and the WAV holds SIP.js's sine on the left and the phone's on the right, from the code on.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hibikiSession } from '../support/session.js';
import { startSipJsPhone, type SipJsPhone } from '../support/sipjs-call.js';
import { waitUntil } from '../support/call-helpers.js';
import { readWav, toneShare } from '../support/audio.js';

let sipjs: SipJsPhone | undefined;

const session = hibikiSession({
  defaults: { transports: [{ transport: 'udp' }, { transport: 'ws' }] },
  beforeStop: async () => {
    await sipjs?.stop();
    sipjs = undefined;
  },
});

function channel(samples: Int16Array, which: number): Int16Array {
  const out = new Int16Array(samples.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = samples[i * 2 + which]!;
  return out;
}

describe('call recording with SIP.js', () => {
  it('SIP.js starts an on-demand recording with *1: its party left, the UDP phone right, from the code on', async () => {
    const { h } = await session.start({
      extensions: [
        { number: '2001', password: 'secret-2001', record: 'on-demand' },
        { number: '2002', password: 'secret-2002' },
      ],
    });
    const bob = await session.phone('2002');
    const alice = await startSipJsPhone({ server: `ws://127.0.0.1:${h.port('ws')}`, user: '2001', password: 'secret-2001' });
    sipjs = alice;
    expect(await alice.register()).toEqual({ registered: true });

    const ringing = bob.waitForCall();
    const placing = alice.call('2002');
    const bobCall = await (await ringing).answer();
    const aliceCall = await placing;
    aliceCall.rtp.useSine(500);
    bobCall.rtp.useSine(900);
    aliceCall.rtp.startTone();
    bobCall.rtp.startTone();
    const heard = (): number => bobCall.rtp.received().tone.foreign;
    const before = heard();
    await waitUntil(() => heard() > before + 50, 5000);

    await aliceCall.rtp.sendDtmf('*1');
    await waitUntil(() => h.logs.some((l) => l.msg === 'recording started'), 5000);
    const started = heard();
    await waitUntil(() => heard() > started + 75, 5000);
    await aliceCall.hangup();
    await bobCall.waitForEnd();

    await waitUntil(() => h.server.cdr.query({}).length === 1, 5000);
    const row = h.server.cdr.query({})[0]!;
    expect(row.recordingPath).toBeTruthy();
    let wav: ReturnType<typeof readWav> | undefined;
    await waitUntil(() => {
      try {
        wav = readWav(readFileSync(row.recordingPath!));
        return true;
      } catch {
        return false;
      }
    }, 5000);
    expect(wav).toMatchObject({ rate: 8000, channels: 2 });
    const ms = wav!.samples.length / 2 / 8;
    const callMs = Date.parse(row.endedAt) - Date.parse(row.answeredAt!);
    expect(ms).toBeGreaterThan(1000);
    expect(ms).toBeLessThan(callMs - 500);
    expect(toneShare(channel(wav!.samples, 0), 500)).toBeGreaterThan(0.5);
    expect(toneShare(channel(wav!.samples, 1), 900)).toBeGreaterThan(0.5);
  });
});
