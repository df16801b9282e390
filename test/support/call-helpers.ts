// Small helpers shared by the end-to-end call and feature tests.
import { expect } from 'vitest';
import type { RunningHibiki } from './hibiki.js';
import { CallFailedError, TestUA, type Call, type IncomingCall, type OutgoingCall, type UaTransport } from './test-ua.js';

/** Poll until `check` holds; throws after `timeoutMs`. */
export async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Audio flows both ways between two calls: each hears the other's test-tone seed. */
export async function talking(a: Call, b: Call, seedA: number, seedB: number): Promise<void> {
  a.rtp.startTone({ seed: seedA });
  b.rtp.startTone({ seed: seedB });
  try {
    await waitUntil(() => b.rtp.received().tone.seeds.has(seedA) && a.rtp.received().tone.seeds.has(seedB), 10_000);
  } finally {
    a.rtp.stopTone();
    b.rtp.stopTone();
  }
}

/** A test UA registered to hibiki as `user` (password `secret-<user>`), over UDP unless told otherwise; pushed onto `phones`. */
export async function registeredPhone(h: RunningHibiki, user: string, phones: TestUA[], transport: UaTransport = 'udp'): Promise<TestUA> {
  const p = await TestUA.create({ user, password: `secret-${user}`, transport, server: { host: '127.0.0.1', port: h.port(transport) }, domain: 'hibiki.test' });
  phones.push(p);
  await p.register();
  return p;
}

/** `from` dials `number`, `to` answers: both ends of the answered call. */
export async function connect(from: TestUA, to: TestUA, number: string): Promise<{ caller: Call; callee: Call }> {
  const ringing = to.waitForCall();
  const outgoing = await from.dial(number);
  const callee = await (await ringing).answer();
  const caller = await outgoing.answered;
  return { caller, callee };
}

/** `from` dials `number` and `to` rings without answering (its 180 has reached the caller). */
export async function ringingCall(from: TestUA, to: TestUA, number: string): Promise<{ outgoing: OutgoingCall; incoming: IncomingCall }> {
  const ringing = to.waitForCall();
  const outgoing = await from.dial(number);
  const incoming = await ringing;
  incoming.ring();
  await outgoing.waitForProvisional(180);
  return { outgoing, incoming };
}

/** The CallFailedError that `p` (a call, or an outgoing call's `answered`) rejects with; the test fails if it does not. */
export async function failure(p: Promise<unknown>): Promise<CallFailedError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CallFailedError);
  return err as CallFailedError;
}

/**
 * Which of the phones gets an INVITE next. Each phone is asked in turn with a short wait, so no waiter
 * is left behind to swallow a later call (as racing waitForCall on every phone would).
 */
export async function nextRung(phones: TestUA[], timeoutMs = 8000): Promise<{ phone: TestUA; call: IncomingCall }> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const phone of phones) {
      const call = await phone.waitForCall({ timeoutMs: 20 }).catch(() => undefined);
      if (call) return { phone, call };
    }
  }
  throw new Error(`no phone rang within ${timeoutMs} ms`);
}
