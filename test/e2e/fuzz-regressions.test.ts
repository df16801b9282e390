// Bugs the fuzzer found (test/e2e/fuzz.test.ts, npm run fuzz), each pinned by the smallest exchange
// that shows it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, talking } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';

const EXTENSIONS = ['2001', '2002'].map((n) => ({ number: n, password: `secret-${n}` }));
const { start } = hibikiSession({ defaults: { extensions: EXTENSIONS } });

let rejections: unknown[] = [];
const onRejection = (reason: unknown): void => {
  rejections.push(reason);
};
beforeEach(() => {
  rejections = [];
  process.on('unhandledRejection', onRejection);
});
afterEach(() => {
  process.off('unhandledRejection', onRejection);
});

describe('a re-INVITE whose offer hibiki cannot parse', () => {
  // Before the fix, the hold and refresh paths of the re-INVITE relay parsed the offer outside
  // their error handling: the rejection escaped ("unhandled rejection" at error level) and the
  // re-INVITE never got a final response.
  it.each([
    ['that puts the call on hold (a=sendonly)', (_origin: string) => 'x=not an SDP\r\na=sendonly\r\n'],
    ['that repeats the session version (a refresh)', (origin: string) => `${origin}\r\nv=0\r\ns=-\r\n`],
  ])(
    '%s is refused, and the call goes on',
    async (_name, badOffer) => {
      const { h, phone } = await start();
      const alice = await phone('2001');
      const bob = await phone('2002');
      const { caller, callee } = await connect(alice, bob, '2002');
      const origin = /^o=.*$/m.exec(caller.request.body.toString('utf8'))?.[0] ?? '';
      expect(origin).not.toBe('');

      // hibiki answers at once; before the fix there was no answer at all (Timer B is 32 s).
      let timer: NodeJS.Timeout | undefined;
      const res = await Promise.race([
        caller.dialog.modify(badOffer(origin)),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no final response to the re-INVITE within 5 s')), 5000))),
      ]).finally(() => clearTimeout(timer));
      expect([400, 488]).toContain(res.status);

      await talking(caller, callee, 21, 22);
      expect(h.logs.filter((l) => typeof l.level === 'number' && l.level >= 50)).toEqual([]);
      expect(rejections).toEqual([]);
    },
    30_000,
  );
});
