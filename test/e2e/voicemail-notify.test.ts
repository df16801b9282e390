// Voicemail's notifications driven by a real deposit (issue #10): Alice calls Bob, nobody answers, no-answer
// forwarding takes her to Bob's box and she leaves a tone over RTP. Then, with nothing but the server doing
// the work: a phone that SUBSCRIBEd to Bob's box and Bob's registered phone (which did not subscribe) both
// get `Messages-Waiting: yes` with one new message; Bob's address receives the mail through a real SMTP
// server with the WAV attached, byte for byte the file on disk. Bob then listens (1410 + PIN) and deletes
// the message over RTP DTMF, and both phones see the lamp go off.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { RawUa, challenges } from '../support/raw-ua.js';
import { mimeParts, startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { buildAuthorization } from '../../src/sip/digest.js';
import type { SipMessage, SipRequest, SipResponse } from '../../src/sip/message.js';
import type { RunningHibiki } from '../support/hibiki.js';
import { shortPromptsDir, VOICEMAIL_DEPOSIT_PROMPTS, VOICEMAIL_ENVELOPE_PROMPTS } from '../support/short-prompts.js';

// Alice waits out the deposit prompts (the system greeting alone is some 15 s), Bob the message's date and
// caller; nothing here is about what they say.
const PROMPTS_DIR = shortPromptsDir([...VOICEMAIL_DEPOSIT_PROMPTS, ...VOICEMAIL_ENVELOPE_PROMPTS]);
afterAll(() => rmSync(PROMPTS_DIR, { recursive: true, force: true }));

let smtp: SmtpSink | undefined;
const raw: RawUa[] = [];
const session = hibikiSession({
  beforeStop: async () => {
    for (const u of raw.splice(0)) await u.close();
    await smtp?.close();
    smtp = undefined;
  },
});

/** SUBSCRIBE as `user` to a box's message-summary, answering the digest challenge. */
async function subscribe(u: RawUa, user: string, box: string): Promise<SipResponse> {
  const uri = `sip:${box}@hibiki.test`;
  const callId = `mwi-${user}-${Date.now()}@test`;
  const from = `<sip:${user}@hibiki.test>;tag=s${user}`;
  const headers = ['Event: message-summary', 'Accept: application/simple-message-summary', 'Expires: 600'];
  const first = await u.request(u.buildRequest({ method: 'SUBSCRIBE', uri, from, callId, user, cseq: 1, headers }));
  if (first.status !== 401) return first;
  const challenge = challenges(first, 'MD5')[0] ?? (challenges(first)[0] as string);
  const authorization = buildAuthorization(challenge, { username: user, password: `secret-${user}` }, 'SUBSCRIBE', uri);
  return u.request(u.buildRequest({ method: 'SUBSCRIBE', uri, from, callId, user, cseq: 2, headers: [...headers, `Authorization: ${authorization}`] }));
}

function isSummary(m: SipMessage | SipRequest): m is SipRequest {
  return 'method' in m && m.method === 'NOTIFY' && /message-summary/i.test(m.get('event') ?? '');
}

/** The last message-summary body a party received, or ''. */
function lastSummary(messages: ReadonlyArray<SipMessage | SipRequest>): string {
  const n = messages.filter(isSummary).at(-1);
  return n ? n.body.toString('utf8') : '';
}

function recordingStarts(h: RunningHibiki): number {
  return h.logs.filter((l) => l.msg === 'voicemail recording').length;
}

describe('voicemail notifications from a real deposit', () => {
  it('a tone left after no answer lights both phones (subscribed and not) and mails the WAV; deleting it by 1410 turns the lamps off', async () => {
    smtp = await startSmtpSink(0);
    const { h, phone } = await session.start({
      extensions: [
        { number: '2001', name: 'Alice', password: 'secret-2001' },
        { number: '2002', name: 'Bob', password: 'secret-2002', pin: '2580', email: 'bob@example.com', forwarding: { noAnswer: 'voicemail', noAnswerTimeout: 1 } },
      ],
      config: {
        tenant: { domain: 'hibiki.test', timezone: 'Asia/Tokyo' },
        smtp: { host: '127.0.0.1', port: smtp.port, starttls: 'required', tlsVerify: false, from: 'pbx@hibiki.test' },
        mwi: { unsolicitedDelaySeconds: 0 },
        prompts: { dir: PROMPTS_DIR },
      },
    });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const lamp = await RawUa.open({ port: h.port('udp') });
    lamp.otherRequestAnswer = 200;
    raw.push(lamp);
    expect((await subscribe(lamp, '2002', '2002')).status).toBe(200);
    await waitUntil(() => lastSummary(lamp.requests('NOTIFY')).includes('Messages-Waiting: no'), 5000);

    // Alice leaves 2 s of a 700 Hz tone in Bob's box.
    const before = recordingStarts(h);
    const out = await alice.dial('2002');
    (await bob.waitForCall({ timeoutMs: 5000 })).ring();
    const call = await out.answered;
    await waitUntil(() => recordingStarts(h) > before, 30_000);
    call.rtp.useSine(700);
    await call.rtp.sendPackets(100);
    await call.sendDtmf('#');
    await call.waitForEnd(20_000);
    await waitUntil(() => h.server.voicemailStore.list('2002').length === 1, 5000);
    const [m] = h.server.voicemailStore.list('2002');
    const wavPath = join(h.dataDir, 'voicemail', m!.file);

    // Both lamps: the subscriber in its dialog, Bob's registered phone by unsolicited NOTIFY.
    await waitUntil(() => lastSummary(lamp.requests('NOTIFY')).includes('Messages-Waiting: yes'), 5000);
    expect(lastSummary(lamp.requests('NOTIFY'))).toContain('Voice-Message: 1/0');
    await waitUntil(() => lastSummary(bob.messages).includes('Messages-Waiting: yes'), 5000);
    expect(lastSummary(bob.messages)).toContain('Voice-Message: 1/0');

    // The mail: to Bob, with the recorded WAV attached byte for byte.
    await waitUntil(() => smtp!.received.length === 1, 10_000);
    expect(smtp.received[0]!.to).toEqual(['bob@example.com']);
    const attachment = mimeParts(smtp.received[0]!.raw).find((p) => (p.headers.get('content-disposition') ?? '').startsWith('attachment'));
    expect(Buffer.from(attachment!.body.replace(/\s+/g, ''), 'base64').equals(readFileSync(wavPath))).toBe(true);

    // Bob listens and deletes: 1410, PIN, 1 (listen), 7 (delete), # (back), # (exit).
    const retrieval = await bob.dial('1410');
    const r = await retrieval.answered;
    await r.sendDtmf('2580#');
    await r.sendDtmf('1');
    await waitUntil(() => h.server.voicemailStore.get(m!.id)?.status === 'saved', 20_000);
    await r.sendDtmf('7');
    await waitUntil(() => h.server.voicemailStore.list('2002').length === 0, 20_000);
    await waitUntil(() => lastSummary(lamp.requests('NOTIFY')).includes('Messages-Waiting: no'), 5000);
    await waitUntil(() => lastSummary(bob.messages).includes('Messages-Waiting: no'), 5000);
    await r.hangup();
  });
});
