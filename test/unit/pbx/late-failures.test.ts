// Issue #14: asynchronous paths of the PBX layer that used to end in an unhandled rejection (which the test
// setup now turns into a failure): a fork whose URI cannot even be parsed, and a keep-alive answer that
// arrives after the registration store has closed.
import { describe, expect, it } from 'vitest';
import { SipStack } from '../../../src/sip/stack.js';
import { SipResponse } from '../../../src/sip/message.js';
import { Ringer } from '../../../src/pbx/ringer.js';
import { realClock } from '../../../src/util/clock.js';
import { Qualifier } from '../../../src/registrar/qualify.js';
import type { Binding, RegistrationStore } from '../../../src/store/registrations.js';
import { captureLogger } from '../../support/logger.js';

describe('failures that arrive later', () => {
  it('a fork to an unparsable contact URI fails the ringing with 503 instead of rejecting in its error path', async () => {
    const { logger } = captureLogger('silent');
    const stack = new SipStack({ listen: [], logger });
    const ringer = new Ringer(stack, realClock, {
      contacts: [{ uri: 'not a uri', target: { transport: 'udp', address: '127.0.0.1', port: 9 }, label: 'broken' }],
      offer: 'v=0\r\n',
      from: '<sip:2001@hibiki.test>;tag=x',
      to: '<sip:2002@hibiki.test>',
      headers: [],
      ringTimeoutSec: 5,
      local: true,
      log: logger,
    });
    expect(await ringer.outcome).toMatchObject({ kind: 'failed', status: 503 });
  });

  it('a qualify answer after the store has closed is logged, not thrown', async () => {
    const { logger, lines } = captureLogger('debug');
    const stack = { request: async () => new SipResponse(200, 'OK') } as unknown as SipStack;
    const closed = {
      get(): never {
        throw new TypeError('The database connection is not open');
      },
    } as unknown as RegistrationStore;
    const qualifier = new Qualifier(stack, closed, { qualifyInterval: 30, qualifyMaxMissed: 3 }, logger, 'hibiki.test');
    const binding = { aor: '2001', contact: 'sip:2001@127.0.0.1:5070', transport: 'udp', sourceAddress: '127.0.0.1', sourcePort: 5070 } as unknown as Binding;
    qualifier.probe(binding);
    const end = Date.now() + 2000;
    while (!lines.some((l) => l.msg === 'qualify result not recorded')) {
      if (Date.now() > end) throw new Error('the failure was not logged');
      await new Promise((r) => setTimeout(r, 10));
    }
    // The probe is finished: the next one for the same contact goes out.
    let sent = 0;
    (stack as unknown as { request: () => Promise<SipResponse> }).request = async () => {
      sent++;
      return new SipResponse(200, 'OK');
    };
    qualifier.probe(binding);
    expect(sent).toBe(1);
  });
});
