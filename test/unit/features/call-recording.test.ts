// Call recording decisions in the call core, on the fake clock: who says `always` (an extension in the
// call, the group it came through), the record code toggling an on-demand recording with a beep to both
// parties, and the code refused where recording is never allowed or cannot be stopped.
import { afterEach, describe, expect, it } from 'vitest';
import { CoreHarness, type HarnessOptions } from '../../support/core-harness.js';
import type { PhoneCall } from '../../support/core-phone.js';

let h: CoreHarness;
afterEach(() => h?.stop());

async function connected(dialled: string, opts: HarnessOptions): Promise<{ aliceCall: PhoneCall; bobCall: PhoneCall }> {
  h = await CoreHarness.start(opts);
  const alice = await h.phone('2001');
  const bob = await h.phone('2002');
  const out = alice.dial(dialled);
  await h.settle();
  const bobCall = bob.takeCall().answer();
  await h.settle();
  return { aliceCall: out.call!, bobCall };
}

const base = (file: string): string => file.replace(/^.*[/\\]/, '');

describe('call recording (call core)', () => {
  it('a group with record: always records its answered calls, caller first; the CDR names the file', async () => {
    const { aliceCall, bobCall } = await connected('600', { config: { groups: [{ number: '600', name: 'Sales', members: ['2002'], record: 'always' }] } });
    expect(h.media.callRecordings).toHaveLength(1);
    const rec = h.media.callRecordings[0]!;
    expect(rec).toMatchObject({ format: 'stereo', state: 'recording', targets: [[aliceCall.endpoint, bobCall.endpoint]] });
    expect(rec.path.startsWith(h.recordingsDir)).toBe(true);
    aliceCall.hangup();
    await h.settle();
    expect(rec.state).toBe('stopped');
    expect(h.cdrs.at(-1)).toMatchObject({ recordingPath: rec.path });
  });

  it('nothing is recorded when nobody says always', async () => {
    const { aliceCall } = await connected('2002', {});
    expect(h.media.callRecordings).toHaveLength(0);
    aliceCall.hangup();
    await h.settle();
    expect(h.cdrs.at(-1)?.recordingPath).toBeNull();
  });

  it('on-demand: *1 starts with a beep to both parties, *1 again pauses, a third *1 resumes', async () => {
    const { aliceCall, bobCall } = await connected('2002', { extensions: [{ number: '2002', record: 'on-demand' }] });
    expect(h.media.callRecordings).toHaveLength(0);
    bobCall.press('*1');
    await h.settle();
    expect(h.media.callRecordings).toHaveLength(1);
    expect(base(h.media.nowPlaying(aliceCall.endpoint)!.files[0]!)).toBe('vm-beep.wav');
    expect(base(h.media.nowPlaying(bobCall.endpoint)!.files[0]!)).toBe('vm-beep.wav');
    await h.advance(2000);
    bobCall.press('*1');
    await h.settle();
    expect(h.media.callRecordings[0]!.paused).toBe(true);
    await h.advance(3000);
    bobCall.press('*1');
    await h.settle();
    expect(h.media.callRecordings[0]!.paused).toBe(false);
    // The code never reaches the other party.
    expect(h.media.heard(aliceCall.endpoint)).toBe('');
  });

  it('never refuses *1 with the error tone; always cannot be stopped with it either', async () => {
    const { bobCall } = await connected('2002', {});
    bobCall.press('*1');
    await h.settle();
    expect(base(h.media.nowPlaying(bobCall.endpoint)!.files[0]!)).toBe('error-tone.wav');
    expect(h.media.callRecordings).toHaveLength(0);
    await h.stop();
    const again = await connected('2002', { extensions: [{ number: '2001', record: 'always' }] });
    again.bobCall.press('*1');
    await h.settle();
    expect(base(h.media.nowPlaying(again.bobCall.endpoint)!.files[0]!)).toBe('error-tone.wav');
    expect(h.media.callRecordings[0]!.paused).toBe(false);
  });

  it('a transfer keeps writing the same recording; the party who stays keeps its channel', async () => {
    const { aliceCall, bobCall } = await connected('2002', { extensions: [{ number: '2002', record: 'always' }] });
    const carol = await h.phone('2003');
    // The caller transfers: Bob stays and keeps the right channel, Carol takes Alice's left one.
    aliceCall.press('#82003#');
    await h.settle();
    const carolCall = carol.takeCall().answer();
    await h.settle();
    expect(h.media.callRecordings).toHaveLength(1);
    expect(h.media.callRecordings[0]!.targets).toEqual([
      [aliceCall.endpoint, bobCall.endpoint],
      [carolCall.endpoint, bobCall.endpoint],
    ]);
    carolCall.hangup();
    await h.settle();
    expect(h.media.callRecordings[0]!.state).toBe('stopped');
  });
});
