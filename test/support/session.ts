// The per-test life cycle of the end-to-end tests: start hibiki, register phones to it, and after each
// test close every phone and stop the server. Call hibikiSession() once at the top of a test file (it
// registers the afterEach hook there):
//
//   const { start } = hibikiSession({ defaults: { extensions: EXTENSIONS } });
//   it('…', async () => {
//     const { h, phone } = await start({ config: { pickupGroups } });
//     const alice = await phone('2001');
//   });
import { afterEach } from 'vitest';
import { startHibiki, type RunningHibiki, type StartOptions } from './hibiki.js';
import { registeredPhone } from './call-helpers.js';
import type { TestUA, UaTransport } from './test-ua.js';

export interface SessionOptions {
  /** Options every start() begins with; start()'s own options replace them key by key (a shallow merge). */
  defaults?: StartOptions;
  /**
   * Runs after each test before the phones close and hibiki stops: peers that must leave while hibiki
   * still listens (sipp, baresip) are stopped here.
   */
  beforeStop?: () => Promise<void> | void;
}

/** A test UA registered as `user` (password `secret-<user>`) over `transport` (UDP by default). */
export type PhoneFactory = (user: string, transport?: UaTransport) => Promise<TestUA>;

export interface StartedHibiki {
  h: RunningHibiki;
  /** A phone registered to this hibiki; the session closes it after the test. */
  phone: PhoneFactory;
}

export interface HibikiSession {
  /** Starts hibiki (defaults merged with `opts`); the session stops it after the test. */
  start(opts?: StartOptions): Promise<StartedHibiki>;
  /** A phone registered to the hibiki started last; the session closes it after the test. */
  phone: PhoneFactory;
  /** The open phones; push any other TestUA here (a carrier, a phone made by hand) to have it closed too. */
  readonly phones: TestUA[];
  /**
   * What the afterEach hook does, now: close the phones, then stop hibiki (keepData: a restart test
   * starts again on the same data directory).
   */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export function hibikiSession(options: SessionOptions = {}): HibikiSession {
  let hibiki: RunningHibiki | undefined;
  const phones: TestUA[] = [];

  const stop = async (opts?: { keepData?: boolean }): Promise<void> => {
    await Promise.all(phones.splice(0).map((p) => p.close()));
    await hibiki?.stop(opts);
    hibiki = undefined;
  };

  afterEach(async () => {
    await options.beforeStop?.();
    await stop();
  });

  return {
    async start(opts = {}) {
      const h = (hibiki = await startHibiki({ ...options.defaults, ...opts }));
      return { h, phone: (user, transport) => registeredPhone(h, user, phones, transport) };
    },
    phone(user, transport) {
      if (!hibiki) return Promise.reject(new Error('phone(): hibiki is not running (call start() first)'));
      return registeredPhone(hibiki, user, phones, transport);
    },
    phones,
    stop,
  };
}
