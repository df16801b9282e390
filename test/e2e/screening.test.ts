// F-SCREEN / F-CLIR end to end: a blocked caller is refused (403, cause 21), an anonymous caller hears the
// announcement and gets 433 at an extension that rejects anonymous calls, the rejections are counted;
// an international number is barred for a domestic extension and a restricted number for everyone
// (prompt, 403); 184 hides the caller (From anonymous, Privacy: id), 186 shows a withholding extension.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { failure, waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import type { StartOptions } from '../support/hibiki.js';
import { shortPromptsDir } from '../support/short-prompts.js';

const base = ['2001', '2002', '2003'].map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}` }));

const session = hibikiSession({ defaults: { extensions: base } });
// The refusals' announcements (some 3 s each) are waited out before the final response and not looked at
// (the test checks the 183 they come with): 300 ms of each.
const PROMPTS_DIR = shortPromptsDir(['anonymous-rejected', 'call-barred']);
afterAll(() => rmSync(PROMPTS_DIR, { recursive: true, force: true }));
const start = (opts: StartOptions = {}) => session.start({ ...opts, config: { prompts: { dir: PROMPTS_DIR }, ...opts.config } });

// An outside route to a carrier that is never reached: barred calls are refused before the trunk is used.
const OUTSIDE = {
  trunks: [{ name: 'carrier', host: '127.0.0.2', port: 5999 }],
  routes: [{ name: 'outside', prefix: '0', trunk: 'carrier' }],
};

describe('incoming screening', () => {
  it('refuses a caller on the extension block list with 403 / cause 21 and counts it', async () => {
    const { h, phone } = await start({ extensions: base.map((e) => (e.number === '2002' ? { ...e, blockList: ['2001', '0120*'] } : e)) });
    const alice = await phone('2001');
    await phone('2002');
    const carol = await phone('2003');
    const err = await failure(alice.call('2002'));
    expect(err.status).toBe(403);
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ feature: 'blocked', q850Cause: 21, callerNumber: '2001', dialedNumber: '2002' });
    expect(h.server.screening.counters({ extension: '2002' })).toEqual({ thisMonth: 1, lastMonth: 0 });
    // Someone else still gets through.
    const outgoing = await carol.dial('2002');
    expect(outgoing).toBeDefined();
    outgoing.cancel();
  }, 30_000);

  it('plays the announcement and answers 433 to an anonymous caller when the extension rejects them', async () => {
    const { h, phone } = await start({ extensions: base.map((e) => (e.number === '2002' ? { ...e, rejectAnonymous: true } : e)) });
    const alice = await phone('2001');
    await phone('2002');
    const err = await failure(alice.call('1842002'));
    expect(err.status).toBe(433);
    expect(err.provisional).toContain(183);
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ feature: 'anonymous_rejected', q850Cause: 21 });
    expect(h.server.screening.counters({ extension: '2002' }).thisMonth).toBe(1);
  }, 30_000);
});

describe('outbound restrictions and caller-ID presentation', () => {
  it('bars an international number for a domestic extension with a prompt and 403 / cause 21', async () => {
    const { h, phone } = await start({ config: OUTSIDE });
    const alice = await phone('2001');
    const err = await failure(alice.call('0101234567890'));
    expect(err.status).toBe(403);
    expect(err.provisional).toContain(183);
    await waitUntil(() => h.server.cdr.query({}).length === 1, 3000);
    expect(h.server.cdr.query({})[0]).toMatchObject({ feature: 'barred', q850Cause: 21, direction: 'outbound' });
  }, 30_000);

  it('bars a number on the tenant restriction list for everyone', async () => {
    const { phone } = await start({
      extensions: base.map((e) => ({ ...e, outboundClass: 'international' })),
      config: { ...OUTSIDE, restrictions: { list: ['0990*'] } },
    });
    const alice = await phone('2001');
    const err = await failure(alice.call('09901234567'));
    expect(err.status).toBe(403);
  }, 30_000);

  it('184 withholds the caller: the callee sees Anonymous and Privacy: id; 186 presents a withholding extension', async () => {
    const { phone } = await start({ extensions: base.map((e) => (e.number === '2003' ? { ...e, presentation: 'withhold' } : e)) });
    const alice = await phone('2001');
    const bob = await phone('2002');
    const carol = await phone('2003');
    const outgoing = await alice.dial('1842002');
    const incoming = await bob.waitForCall();
    expect(incoming.from).toContain('sip:anonymous@anonymous.invalid');
    expect(incoming.request.get('privacy')).toBe('id');
    expect(incoming.from).not.toContain('2001');
    incoming.reject(486);
    await outgoing.answered.catch(() => undefined);

    const o2 = await carol.dial('1862002');
    const in2 = await bob.waitForCall();
    expect(in2.from).toContain('sip:2003@');
    expect(in2.request.get('privacy')).toBeUndefined();
    in2.reject(486);
    await o2.answered.catch(() => undefined);
  }, 30_000);
});
