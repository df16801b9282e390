// Issue #13 (4): overload shedding with the real server and real phones. The limit used is the INVITEs
// waiting for their final response (security.overload.maxPendingInvites), which does not depend on how
// fast the machine is: three ringing calls against a limit of two put the server in overload, and one of
// them cancelled holds it exactly at the limit, where the refused share neither grows nor falls. Then:
// a new INVITE and a first REGISTER get a stateless 503 with Retry-After, a REGISTER answering a
// challenge is admitted, in-dialog requests (re-INVITE, BYE, CANCEL) are never refused, and once the
// ringing calls are gone every request is admitted again.
import { describe, expect, it } from 'vitest';
import { hibikiSession } from '../support/session.js';
import { connect, failure, ringingCall, waitUntil } from '../support/call-helpers.js';
import { RawUa, challenges } from '../support/raw-ua.js';
import { buildAuthorization } from '../../src/sip/digest.js';
import type { TestExtension } from '../support/hibiki.js';

const EXTENSIONS: TestExtension[] = ['2001', '2002', '2003', '2004', '2005', '2006', '2007'].map((number) => ({ number, password: `secret-${number}` }));
const DOMAIN_URI = 'sip:hibiki.test';

const { start } = hibikiSession({ defaults: { extensions: EXTENSIONS } });

describe('overload shedding with the real server (issue #13)', () => {
  it('refuses new INVITEs and first REGISTERs with a stateless 503, never in-dialog requests, and admits all again when the load is gone', { timeout: 60_000 }, async () => {
    const { h, phone } = await start({
      config: {
        log: { level: 'info' },
        security: { overload: { sampleMs: 50, smoothingMs: 0, maxLoopUtilization: 0, maxLoopDelayMs: 0, maxQueueDelayMs: 0, maxPendingInvites: 2, retryAfterSeconds: 5 } },
      },
    });
    const control = h.server.stack.overloadControl;
    if (!control) throw new Error('overload control is not running');
    const [alice, bob, carol, dave, erin, frank] = await Promise.all(['2001', '2002', '2003', '2004', '2005', '2006'].map((u) => phone(u)));
    // Before the overload: a call that is up, and a challenge a phone will answer during it.
    const established = await connect(erin!, frank!, '2006');
    const raw = await RawUa.open({ port: h.port('udp') });
    const first = await raw.register({ user: '2007', callId: 'overload-register@test' });
    expect(first.final.status).toBe(401);

    // Three INVITEs waiting for an answer against a limit of two: the refused share rises to all of them.
    const ringing = [];
    for (const [callee, number] of [
      [bob!, '2002'],
      [carol!, '2003'],
      [dave!, '2004'],
    ] as const) {
      ringing.push(await ringingCall(alice!, callee, number));
    }
    await waitUntil(() => control.shedShare >= 1, 10_000);
    // One cancelled (a CANCEL is in-dialog: admitted even while saturated) leaves two, the limit itself:
    // the share stays where it is and the server is not saturated (that needs load above the limits).
    const cancelled = ringing.shift()!;
    cancelled.outgoing.cancel();
    expect((await failure(cancelled.outgoing.answered)).status).toBe(487);
    await cancelled.incoming.waitForCancel();
    await waitUntil(() => !control.saturated, 10_000);
    expect(control.shedShare).toBe(1);

    // A new INVITE: 503 with Retry-After in [5, 7.5], answered statelessly (no 100 Trying first).
    const inviteText = raw.buildRequest({
      method: 'INVITE',
      uri: 'sip:2002@hibiki.test',
      from: `<sip:2007@hibiki.test>;tag=ol1`,
      to: '<sip:2002@hibiki.test>',
      callId: 'overload-invite@test',
      cseq: 1,
      contact: `<${raw.contactUri('2007')}>`,
    });
    const refused = await raw.request(inviteText);
    expect(refused.status).toBe(503);
    const retryAfter = Number(refused.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(5);
    expect(retryAfter).toBeLessThanOrEqual(8);
    expect(refused.toTag).toBeDefined();
    expect(raw.responses('overload-invite@test').map((r) => r.status)).toEqual([503]);
    // A phone's new call is refused the same way (and the phone sees why).
    const call = await failure(alice!.call('2005'));
    expect(call.status).toBe(503);
    // A first REGISTER is refused; one answering the challenge it was given before is admitted.
    const fresh = await raw.register({ user: '2007', callId: 'overload-fresh@test' });
    expect(fresh.final.status).toBe(503);
    const challenge = challenges(first.challenge)[0]!;
    const authorization = buildAuthorization(challenge, { username: '2007', password: 'secret-2007' }, 'REGISTER', DOMAIN_URI);
    const answered = await raw.request(
      raw.buildRequest({
        method: 'REGISTER',
        uri: DOMAIN_URI,
        from: `<sip:2007@hibiki.test>;tag=${first.callId.slice(0, 8)}`,
        to: '<sip:2007@hibiki.test>',
        callId: first.callId,
        cseq: raw.nextCSeq() + 10,
        contact: `<${raw.contactUri('2007')}>`,
        headers: [`Authorization: ${authorization}`],
      }),
    );
    expect(answered.status).toBe(200);

    // In-dialog requests of the call that is up are never refused: a re-INVITE (hold) and the BYE.
    expect((await established.caller.hold()).status).toBe(200);
    await established.caller.hangup();
    expect((await established.callee.waitForEnd()).by).toBe('remote');

    // The load goes: the remaining ringing calls are cancelled, the share falls to nothing within a few
    // samples, and a new call rings again.
    for (const r of ringing) {
      r.outgoing.cancel();
      expect((await failure(r.outgoing.answered)).status).toBe(487);
    }
    await waitUntil(() => control.shedShare === 0, 10_000);
    const again = await ringingCall(alice!, bob!, '2002');
    again.outgoing.cancel();
    expect((await failure(again.outgoing.answered)).status).toBe(487);

    // The state changes were logged once each, and nothing went wrong on the way.
    const said = (msg: string) => h.logs.filter((l) => l.event === 'overload' && l.msg === msg).length;
    expect(said('overload: refusing part of the new INVITEs and REGISTERs with 503')).toBe(1);
    expect(said('overload over: admitting every request again')).toBe(1);
    expect(h.logs.filter((l) => typeof l.level === 'number' && l.level >= 50)).toEqual([]);
    await raw.close();
  });
});
