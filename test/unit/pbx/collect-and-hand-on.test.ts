// The call API pieces an IVR is built from, on the call core with the fake clock: collect() with a prompt
// (a key stops the prompt — barge-in — and counts; the first-digit timeout starts once the prompt ends;
// complete() ends entry at once), and handing an answered caller on (answer() is true at once, connect()
// plays ringback instead of sending 180, bridges on answer and ends the call with a BYE on failure).
import { afterEach, describe, expect, it } from 'vitest';
import type { CallApi, CallApplication, CollectOptions, CollectResult, Feature, FeatureRegistry } from '../../../src/pbx/application.js';
import type { Leg } from '../../../src/pbx/leg.js';
import { CoreHarness } from '../../support/core-harness.js';

let h: CoreHarness;
afterEach(() => h?.stop());

/** 2999: answers, collects with the options given (the prompt: setting-done), then hands the leg to the digits collected. */
class Collector implements Feature, CallApplication<null> {
  readonly name = 'collector';
  readonly results: CollectResult[] = [];
  answeredAgain: boolean | undefined;
  constructor(private readonly opts: Omit<CollectOptions, 'prompt'> & { withPrompt: boolean; file: string }) {}
  register(r: FeatureRegistry): void {
    r.destination({ name: 'collector', tier: 'local', resolve: (d) => (d === '2999' ? { app: this, args: null, callee: { number: d } } : undefined) });
  }
  async run(session: CallApi, leg: Leg): Promise<void> {
    const mine = leg.take({ label: 'collector', ended: () => session.hangup('caller', 16, 'caller hung up') });
    if (!(await session.answer(mine))) return;
    session.call.markAnswered('hibiki');
    this.answeredAgain = await session.answer(mine);
    const prompt = this.opts.withPrompt ? session.play(mine, [this.opts.file]) : undefined;
    const r = await session.collect(mine, { ...this.opts, prompt });
    this.results.push(r);
    if (r.kind === 'digits') await session.handTo(mine, r.digits);
    else session.hangup('system', 16, 'nothing dialled');
  }
}

async function start(opts: ConstructorParameters<typeof Collector>[0] extends infer O ? Partial<O> : never = {}) {
  let app: Collector | undefined;
  h = await CoreHarness.start({
    extensions: [{ number: '2002', ringTimeout: 5 }],
    extraFeatures: ({ prompts }) => [(app = new Collector({ withPrompt: true, file: prompts.file('setting-done', 'ja'), firstDigitTimeoutMs: 5000, interDigitTimeoutMs: 2000, ...opts }))],
  });
  const alice = await h.phone('2001');
  const out = alice.dial('2999');
  await h.settle();
  return { app: app!, out, ep: out.call!.endpoint };
}

describe('collect() with a prompt', () => {
  it('a key during the prompt stops it and is the first digit', async () => {
    const { app, out, ep } = await start({ complete: (d) => d.length === 4 });
    expect(h.media.nowPlaying(ep)?.files[0]).toMatch(/setting-done/);
    out.call!.press('2');
    await h.settle();
    expect(h.media.plays(ep)[0]!.state).toBe('stopped');
    out.call!.press('002');
    await h.settle();
    expect(app.results).toEqual([{ kind: 'digits', digits: '2002', terminated: false }]);
  });

  it('the first-digit timeout starts when the prompt has finished, not before', async () => {
    const { app, ep } = await start();
    const length = h.media.playLength(h.media.nowPlaying(ep)!.files);
    await h.advance(length + 4999);
    expect(app.results).toEqual([]);
    await h.advance(1);
    expect(app.results).toEqual([{ kind: 'timeout' }]);
  });

  it('without complete(), entry ends after the inter-digit timeout', async () => {
    const { app, out } = await start({ withPrompt: false });
    out.call!.press('2002');
    await h.advance(1999);
    expect(app.results).toEqual([]);
    await h.advance(1);
    expect(app.results).toEqual([{ kind: 'digits', digits: '2002', terminated: false }]);
  });
});

describe('handing an answered caller on', () => {
  it('answer() is true for a leg already answered; the caller hears ringback while the extension rings, then is bridged to it', async () => {
    const { app, out, ep } = await start({ complete: (d) => d.length === 4 });
    const bob = await h.phone('2002');
    out.call!.press('2002');
    await h.settle();
    expect(app.answeredAgain).toBe(true);
    expect(h.media.nowPlaying(ep)?.files[0]).toMatch(/ringback/);
    expect(h.media.nowPlaying(ep)?.loop).toBe(true);
    const bobCall = bob.takeCall().answer();
    await h.settle();
    expect(h.media.bridged(ep, bobCall.endpoint)).toBe(true);
    expect(h.media.nowPlaying(ep)).toBeUndefined();
    bobCall.hangup();
    await h.settle();
    expect(out.call!.ended).toMatchObject({ by: 'remote' });
    expect(h.cdr()).toMatchObject({ answeredBy: '2002', calleeNumber: '2002', disposition: 'answered', hangupBy: 'callee' });
  });

  it('no answer ends the call with a BYE carrying the cause; the CDR keeps the earlier answer', async () => {
    const { out } = await start({ complete: (d) => d.length === 4 });
    const bob = await h.phone('2002');
    out.call!.press('2002');
    await h.settle();
    bob.takeCall().ring();
    await h.advance(5000);
    expect(out.call!.ended).toMatchObject({ by: 'remote', reason: expect.stringContaining('cause=19') });
    expect(h.cdr()).toMatchObject({ disposition: 'answered', answeredBy: 'hibiki', q850Cause: 19, hangupBy: 'system' });
  });

  it('the caller hanging up while the extension rings cancels the ringing', async () => {
    const { out } = await start({ complete: (d) => d.length === 4 });
    const bob = await h.phone('2002');
    out.call!.press('2002');
    await h.settle();
    const atBob = bob.takeCall();
    atBob.ring();
    out.call!.hangup();
    await h.settle();
    expect(h.active).toHaveLength(0);
    expect(atBob.cancelled).toBe(true);
    expect(h.cdr()).toMatchObject({ disposition: 'answered', hangupBy: 'caller' });
  });
});
