// The README's recipe "Adding a new destination type", pinned: the example feature below is the README's
// code as written (keep them the same), registered the way the recipe says, and dialled like any number.
import { afterEach, describe, expect, it } from 'vitest';
import type { CallApi, CallApplication, Feature, FeatureRegistry } from '../../../src/pbx/application.js';
import type { Leg } from '../../../src/pbx/leg.js';
import { CoreHarness } from '../../support/core-harness.js';

// ---- the README's example: a number that answers, plays an announcement and hangs up ----

export class Announcement implements Feature, CallApplication<string[]> {
  readonly name = 'announcement';

  constructor(
    private readonly number: string,
    private readonly files: string[],
  ) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'announcement',
      tier: 'local',
      resolve: (dialled) => (dialled === this.number ? { app: this, args: this.files, callee: { number: dialled } } : undefined),
    });
  }

  async run(session: CallApi, leg: Leg, files: string[]): Promise<void> {
    const mine = leg.take({ label: 'announcement', ended: () => session.hangup('caller', 16, 'caller hung up') });
    if (!(await session.answer(mine))) return;
    session.call.markAnswered('hibiki');
    await session.play(mine, files).done;
    session.hangup('system', 16, 'announcement played');
  }
}

// ---- the recipe at work ----

let h: CoreHarness;
afterEach(() => h?.stop());

describe('a new destination type (README recipe)', () => {
  it('is reached by dialling its number: answered, the announcement played, then hung up with a CDR row', async () => {
    h = await CoreHarness.start({ extraFeatures: ({ prompts }) => [new Announcement('2999', [prompts.file('setting-done', 'ja')])] });
    const alice = await h.phone('2001');
    const out = alice.dial('2999');
    await h.settle();
    expect(out.status).toBe(200);
    const call = out.call!;
    expect(h.media.nowPlaying(call.endpoint)).toMatchObject({ files: [expect.stringContaining('setting-done.wav')] });
    await h.advance(10_000);
    expect(call.ended).toMatchObject({ by: 'remote' });
    expect(h.cdr()).toMatchObject({ dialedNumber: '2999', calleeNumber: '2999', disposition: 'answered', answeredBy: 'hibiki', hangupBy: 'system', q850Cause: 16 });
  });

  it('the caller hanging up during the announcement ends the call, hung up by the caller', async () => {
    h = await CoreHarness.start({ extraFeatures: ({ prompts }) => [new Announcement('2999', [prompts.file('setting-done', 'ja')])] });
    const alice = await h.phone('2001');
    const out = alice.dial('2999');
    await h.settle();
    out.call!.hangup();
    await h.settle();
    expect(h.active).toHaveLength(0);
    expect(h.cdr()).toMatchObject({ disposition: 'answered', hangupBy: 'caller' });
  });
});
