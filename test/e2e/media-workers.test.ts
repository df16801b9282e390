// media.workers: 2 end to end (issue #13): calls with real RTP land on both media workers (each call's two
// legs in one worker), audio flows both ways in each; and a conference whose members came from both
// workers (one side moves, see src/media/builtin/placement.ts) lets each member hear the other two.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { BuiltinMediaEngine } from '../../src/media/builtin/engine.js';
import { connect, talking, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import type { RunningHibiki } from '../support/hibiki.js';
import type { Call } from '../support/test-ua.js';
import { hears } from '../support/tones.js';
import { shortPromptsDir } from '../support/short-prompts.js';

const session = hibikiSession();
const PROMPTS_DIR = shortPromptsDir([]);
afterAll(() => rmSync(PROMPTS_DIR, { recursive: true, force: true }));

function start() {
  const base = 20000 + 2 * Math.floor(Math.random() * 10000);
  return session.start({
    extensions: ['2001', '2002', '2003', '2004'].map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}`, language: 'en' })),
    config: {
      media: { bindAddress: '127.0.0.1', address: '127.0.0.1', rtpPorts: [base, base + 399], workers: 2 },
      prompts: { dir: PROMPTS_DIR },
      conference: { rooms: [{ number: '9201', announceCount: false, musicWhileAlone: false }] },
    },
  });
}

function engineOf(h: RunningHibiki): BuiltinMediaEngine {
  const media = h.server.media;
  if (!(media instanceof BuiltinMediaEngine)) throw new Error('expected the built-in media engine');
  expect(media.workerCount).toBe(2);
  return media;
}

describe('media.workers: 2', () => {
  it('two calls land on the two workers, each call in one worker, and RTP flows both ways in each', async () => {
    const { h, phone } = await start();
    const engine = engineOf(h);
    const [alice, bob, carol, dave] = [await phone('2001'), await phone('2002'), await phone('2003'), await phone('2004')];
    const first = await connect(alice, bob, '2002');
    const second = await connect(carol, dave, '2004');
    // Each call's B leg went next to its A leg; the second call went to the emptier worker.
    expect(engine.workerLoads()).toEqual([2, 2]);
    await talking(first.caller, first.callee, 11, 12);
    await talking(second.caller, second.callee, 21, 22);
    await first.caller.hangup();
    await second.caller.hangup();
    await waitUntil(() => engine.workerLoads().every((n) => n === 0), 5000);
  });

  it('a conference with members from both workers: each hears the other two and not itself', async () => {
    const { h, phone } = await start();
    const engine = engineOf(h);
    const tones: Record<string, number> = { '2001': 400, '2002': 700, '2003': 1100 };
    const calls: Record<string, Call> = {};
    const loads: number[][] = [];
    for (const n of ['2001', '2002', '2003']) {
      const c = await (await phone(n)).call('9201');
      c.rtp.useSine(tones[n]!);
      c.rtp.startTone();
      calls[n] = c;
      loads.push(engine.workerLoads());
    }
    // The second member's endpoint was made in the other worker (the least loaded) before it joined.
    expect(loads[0]).toEqual([1, 0]);
    const all = Object.values(tones);
    for (const n of ['2001', '2002', '2003']) {
      const own = tones[n]!;
      await hears(
        calls[n]!,
        all.filter((hz) => hz !== own),
        [own],
      );
    }
    // The mix runs in one worker: every member was brought there.
    expect(engine.workerLoads().sort()).toEqual([0, 3]);
    for (const c of Object.values(calls)) c.rtp.stopTone();
    await Promise.all(Object.values(calls).map((c) => c.hangup()));
  }, 60_000);
});
