// Helpers of the tests that drive hibiki with outside peers (sipp, baresip, SIP.js).
import { expect } from 'vitest';
import { waitUntil } from './call-helpers.js';
import type { Call } from './test-ua.js';
import type { RunningHibiki } from './hibiki.js';
import { startSipp, type SippProcess, type SippResult, type SippRun } from './sipp.js';

/** hibiki's UDP listener, as sipp and the peers are pointed at it. */
export function udp(h: RunningHibiki): { host: string; port: number } {
  return { host: '127.0.0.1', port: h.port('udp') };
}

/** Settles like `p`, or rejects after `ms` saying what did not happen. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A sipp run ended cleanly; otherwise the failure shows the end of its messages and output. */
export function expectPassed(res: SippResult, who: string): void {
  expect(res.errors, `${who} errors\n${res.messages.slice(-3000)}`).toBe('');
  expect(res.code, `${who} exit code\n${res.stdout.slice(-2000)}`).toBe(0);
}

/** Start sipp, list it in `background` (stopped by the test's cleanup), and wait until it listens. */
export async function sippInBackground(run: SippRun, background: SippProcess[]): Promise<SippProcess> {
  const p = await startSipp(run);
  background.push(p);
  await p.listening();
  return p;
}

/** The caller's tone goes out through hibiki to a peer that echoes it and comes back intact and in order. */
export async function echoedThroughPeer(call: Call, seed: number, timeoutMs: number): Promise<void> {
  call.rtp.startTone({ seed });
  try {
    await waitUntil(() => call.rtp.received().tone.seeds.has(seed) && call.rtp.received().tone.intact >= 10, timeoutMs).catch(() => {
      const r = call.rtp.received();
      throw new Error(`tone ${seed} did not come back: ${r.audioPackets} audio packets, tone ${JSON.stringify({ ...r.tone, seeds: [...r.tone.seeds] })}`);
    });
  } finally {
    call.rtp.stopTone();
  }
  const got = call.rtp.received();
  expect(got.tone.seeds).toEqual(new Set([seed]));
  expect(got.tone.outOfOrder).toBe(0);
}
