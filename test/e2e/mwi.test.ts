// Message-waiting lamps end to end (issue #10, RFC 3842): the real server on loopback, a phone that
// SUBSCRIBEs and one that only registers (raw SIP over UDP), and baresip with its mwi module. A message
// is added the way the voicemail deposit adds it — a row in the voicemail store, then `changed` on the
// server's mailbox events — and removed the same way.
import { afterEach, describe, expect, it } from 'vitest';
import { startHibiki, type RunningHibiki } from '../support/hibiki.js';
import { RawUa, challenges } from '../support/raw-ua.js';
import { startBaresip, type BaresipPhone } from '../support/baresip.js';
import { buildAuthorization } from '../../src/sip/digest.js';
import type { SipRequest, SipResponse } from '../../src/sip/message.js';

let hibiki: RunningHibiki | undefined;
const uas: RawUa[] = [];
let phone: BaresipPhone | undefined;

afterEach(async () => {
  await phone?.stop();
  phone = undefined;
  for (const ua of uas.splice(0)) await ua.close();
  await hibiki?.stop();
  hibiki = undefined;
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

async function ua(h: RunningHibiki): Promise<RawUa> {
  const u = await RawUa.open({ port: h.port('udp') });
  // NOTIFYs from hibiki are answered 200, as a phone does.
  u.otherRequestAnswer = 200;
  uas.push(u);
  return u;
}

/** SUBSCRIBE to a box's message-summary, answering the digest challenge. */
async function subscribe(u: RawUa, user: string, box: string, expires = 600): Promise<SipResponse> {
  const uri = `sip:${box}@hibiki.test`;
  const callId = `mwi-${user}-${Date.now()}@test`;
  const from = `<sip:${user}@hibiki.test>;tag=s${user}`;
  const headers = ['Event: message-summary', 'Accept: application/simple-message-summary', `Expires: ${expires}`];
  const first = await u.request(u.buildRequest({ method: 'SUBSCRIBE', uri, from, callId, user, cseq: 1, headers }));
  if (first.status !== 401) return first;
  const challenge = challenges(first, 'MD5')[0] ?? (challenges(first)[0] as string);
  const authorization = buildAuthorization(challenge, { username: user, password: `secret-${user}` }, 'SUBSCRIBE', uri);
  return u.request(u.buildRequest({ method: 'SUBSCRIBE', uri, from, callId, user, cseq: 2, headers: [...headers, `Authorization: ${authorization}`] }));
}

function notifies(u: RawUa): SipRequest[] {
  return u.requests('NOTIFY');
}

function summary(r: SipRequest): string {
  return r.body.toString('utf8');
}

/** Adds a message as the voicemail deposit does, and says so on the server's mailbox events. */
function deposit(h: RunningHibiki, box: string): number {
  const m = h.server.voicemailStore.add({
    box,
    file: `${box}/test-${Date.now()}.wav`,
    receivedAt: Date.now(),
    callerNumber: '0312345678',
    callerName: 'Tanaka',
    calledNumber: box,
    durationMs: 4000,
    callId: undefined,
  });
  h.server.mailboxEvents.emit('changed', box, h.server.voicemailStore.counts(box));
  return m.id;
}

function remove(h: RunningHibiki, id: number): void {
  const m = h.server.voicemailStore.remove(id);
  if (m) h.server.mailboxEvents.emit('changed', m.box, h.server.voicemailStore.counts(m.box));
}

describe('message-waiting indication', () => {
  it('a subscribing phone and a registered-only phone of the same extension both see the lamp go on and off', async () => {
    const h = (hibiki = await startHibiki({ config: { mwi: { unsolicitedDelaySeconds: 0 } } }));
    const desk = await ua(h);
    const soft = await ua(h);
    expect((await desk.register({ user: '2001', password: 'secret-2001', expires: 600 })).final.status).toBe(200);
    expect((await soft.register({ user: '2001', password: 'secret-2001', expires: 600 })).final.status).toBe(200);
    // Right after registering, each phone is told the box's state (no messages yet).
    expect(await waitFor(() => notifies(desk).length === 1 && notifies(soft).length === 1)).toBe(true);
    expect(summary(notifies(desk)[0]!)).toContain('Messages-Waiting: no');

    const sub = await subscribe(soft, '2001', '2001');
    expect(sub.status).toBe(200);
    expect(sub.get('expires')).toBe('600');
    expect(await waitFor(() => notifies(soft).length === 2)).toBe(true);
    const initial = notifies(soft)[1]!;
    expect(initial.callId).toBe(sub.callId);
    expect(initial.get('subscription-state')).toMatch(/^active;expires=(600|599)$/);
    expect(h.server.mwi.size).toBe(1);

    deposit(h, '2001');
    const id = deposit(h, '2001');
    // The last word each phone gets says 2 new messages.
    const lit = (u: RawUa) => notifies(u).some((n) => summary(n).includes('Voice-Message: 2/0 (0/0)'));
    expect(await waitFor(() => lit(desk) && lit(soft))).toBe(true);
    const deskLast = notifies(desk).at(-1)!;
    expect(summary(deskLast)).toBe('Messages-Waiting: yes\r\nMessage-Account: sip:2001@hibiki.test\r\nVoice-Message: 2/0 (0/0)\r\n');
    expect(deskLast.get('event')).toBe('message-summary');
    expect(deskLast.get('content-type')).toBe('application/simple-message-summary');
    // The registered-only phone gets out-of-dialog NOTIFYs; the subscriber only those of its subscription.
    expect(deskLast.toTag).toBeUndefined();
    expect(
      notifies(soft)
        .slice(1)
        .every((n) => n.callId === sub.callId),
    ).toBe(true);

    h.server.voicemailStore.setStatus(id, 'saved');
    h.server.mailboxEvents.emit('changed', '2001', h.server.voicemailStore.counts('2001'));
    const oneEach = (u: RawUa) => notifies(u).some((n) => summary(n).includes('Voice-Message: 1/1 (0/0)'));
    expect(await waitFor(() => oneEach(desk) && oneEach(soft))).toBe(true);

    for (const m of h.server.voicemailStore.list('2001')) remove(h, m.id);
    const dark = (u: RawUa) => summary(notifies(u).at(-1)!).startsWith('Messages-Waiting: no') && summary(notifies(u).at(-1)!).includes('Voice-Message: 0/0');
    expect(await waitFor(() => dark(desk) && dark(soft))).toBe(true);
  });

  it('refuses a subscription to another extension’s box, and answers 489 to another event package', async () => {
    const h = (hibiki = await startHibiki());
    const u = await ua(h);
    expect((await subscribe(u, '2001', '2002')).status).toBe(403);
    const presence = await u.request(u.buildRequest({ method: 'SUBSCRIBE', uri: 'sip:2002@hibiki.test', user: '2001', headers: ['Event: presence', 'Expires: 600'] }));
    expect(presence.status).toBe(489);
    expect(presence.get('allow-events')).toBe('message-summary');
    expect(h.server.mwi.size).toBe(0);
  });

  it('baresip (mwi module) subscribes after registering and receives the NOTIFYs of its subscription only', async () => {
    // Unsolicited NOTIFYs stay on: the subscribing phone must get none for a change.
    const h = (hibiki = await startHibiki({ config: { auth: { algorithms: ['MD5'] } } }));
    phone = startBaresip({ user: '2002', password: 'secret-2002', transport: 'udp', server: { host: '127.0.0.1', port: h.port('udp') }, appModules: ['mwi.so'] });
    // On failure: baresip's trace, and what hibiki logged of SUBSCRIBE and message-summary.
    const diag = (): string =>
      `${phone?.output ?? ''}\n${h.logs
        .filter((l) => JSON.stringify(l).match(/SUBSCRIBE|message-summary|NOTIFY|security/))
        .map((l) => JSON.stringify(l))
        .join('\n')}`;
    expect(await waitFor(() => h.server.mwi.size === 1, 10_000), diag()).toBe(true);
    // baresip's SIP trace shows the NOTIFY of the subscription with the empty box.
    expect(await phone.waitForOutput(/Messages-Waiting: no/), diag()).toBe(true);
    /** baresip answered 200 to the NOTIFY that carried `counts` (a refusal would have ended the subscription). */
    const answered = async (counts: string): Promise<boolean> => {
      const pattern = `Messages-Waiting: yes\\s+Message-Account: sip:2002@hibiki\\.test\\s+Voice-Message: ${counts.replace(/[()]/g, '\\$&')}`;
      if (!(await phone!.waitForOutput(new RegExp(pattern)))) return false;
      const block = phone!.output.split('NOTIFY sip:').find((b) => b.includes(`Voice-Message: ${counts}`)) ?? '';
      const cseq = /CSeq: (\d+) NOTIFY/.exec(block)?.[1];
      return cseq !== undefined && (await phone!.waitForOutput(new RegExp(`SIP/2.0 200 OK[^]*?CSeq: ${cseq} NOTIFY`)));
    };
    deposit(h, '2002');
    expect(await answered('1/0 (0/0)'), diag()).toBe(true);
    deposit(h, '2002');
    expect(await answered('2/0 (0/0)'), diag()).toBe(true);
    expect(h.server.mwi.size).toBe(1);
    // By now an unsolicited NOTIFY for the first message would have arrived long ago: there is one NOTIFY per change.
    const notifies = phone.output
      .split('NOTIFY sip:')
      .slice(1)
      .filter((b) => /^\S+ SIP\/2\.0/.test(b));
    expect(
      notifies.filter((b) => b.includes('Voice-Message: 1/0')),
      diag(),
    ).toHaveLength(1);
    expect(
      notifies.filter((b) => b.includes('Voice-Message: 2/0')),
      diag(),
    ).toHaveLength(1);
    // Those two came in its subscription's dialog (a To tag), not out of any dialog.
    expect(
      notifies.filter((b) => /Voice-Message: [12]\/0/.test(b)).every((b) => /\nTo: [^\n]*;tag=/.test(b)),
      diag(),
    ).toBe(true);
  });
});
