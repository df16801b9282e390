// Socket pairs kept bound between calls (src/media/builtin/pair-pool.ts, issue #13), end to end: with a port
// range of exactly two pairs, the second call can only run on the first call's sockets, taken from the pool
// at once (no port left to bind). Its audio must flow both ways: a pooled RTP socket was connected to the
// first call's phone, and must come back disconnected, latching the new phone.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, talking } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { shortPromptsDir } from '../support/short-prompts.js';
import type { Call } from '../support/test-ua.js';

const session = hibikiSession();
const PROMPTS_DIR = shortPromptsDir([]);
afterAll(() => rmSync(PROMPTS_DIR, { recursive: true, force: true }));

/** The port of hibiki's audio in the SDP this call received. */
function hibikiPort(call: Call): number {
  const sdp = call.dialog.remote.sdp ?? '';
  const m = /^m=audio (\d+) /m.exec(sdp);
  if (!m) throw new Error(`no audio line in ${sdp}`);
  return Number(m[1]);
}

describe('RTP socket pairs reused between calls', () => {
  it("a second call on the first call's pooled sockets, at once, with audio both ways", async () => {
    const base = 20000 + 2 * Math.floor(Math.random() * 10000);
    const { h, phone } = await session.start({
      extensions: ['2001', '2002'].map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}`, language: 'en' })),
      config: { media: { bindAddress: '127.0.0.1', address: '127.0.0.1', rtpPorts: [base, base + 3], workers: 1 }, prompts: { dir: PROMPTS_DIR } },
    });
    const [alice, bob] = [await phone('2001'), await phone('2002')];

    const first = await connect(alice, bob, '2002');
    await talking(first.caller, first.callee, 11, 12);
    const ports = [hibikiPort(first.caller), hibikiPort(first.callee)].sort();
    expect(ports).toEqual([base, base + 2]);
    await first.caller.hangup();
    // Both endpoints gone, both pairs kept (totals() asks the worker, so it is polled).
    let totals = await h.server.media.totals();
    for (let i = 0; i < 400 && !(totals.endpoints === 0 && totals.pooledPairs === 2); i++) {
      await new Promise((r) => setTimeout(r, 25));
      totals = await h.server.media.totals();
    }
    expect(totals).toMatchObject({ endpoints: 0, pooledPairs: 2 });

    const second = await connect(alice, bob, '2002');
    expect([hibikiPort(second.caller), hibikiPort(second.callee)].sort()).toEqual(ports);
    expect((await h.server.media.totals()).pooledPairs).toBe(0);
    await talking(second.caller, second.callee, 21, 22);
    await second.caller.hangup();
  });
});
