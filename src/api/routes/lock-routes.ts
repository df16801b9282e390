// Locks (issue #12, F-AUTH): SIP username locks and address blocks (the same rows `hibiki locks` reads)
// and locked console accounts, in one list, and an administrator's clear. A clear goes through the
// running AuthGuard, so the next REGISTER from the unlocked user or address is let through at once.
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { AuthLock, LockSelector } from '../../store/auth-lock-store.js';
import type { ApiAccount } from '../../store/api-account-store.js';
import { allow, principalOf } from '../access.js';
import { notFound } from '../errors.js';
import type { RouteDeps, RouteModule } from '../route-types.js';

export const lockOut = z.object({
  kind: z.enum(['user', 'address', 'account']).describe('user: a SIP username; address: a blocked source address; account: a console/API account.'),
  user: z.string().optional(),
  address: z.string().optional().describe('For a user lock, where it applies (absent: from every address).'),
  lockedAt: z.string(),
  until: z.string(),
  reason: z.string(),
});
type LockOut = z.infer<typeof lockOut>;

const lockSelector = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('user'),
      user: z.string().min(1),
      address: z.string().min(1).nullable().optional().describe('Absent: every lock of the username; null: only its lock for every address; a string: only its lock for that address.'),
    })
    .strict(),
  z.object({ kind: z.literal('address'), address: z.string().min(1) }).strict(),
  z.object({ kind: z.literal('account'), user: z.string().min(1) }).strict(),
  z.object({ kind: z.literal('all') }).strict(),
]);

const iso = (ms: number) => new Date(ms).toISOString();

function sipLockView(l: AuthLock): LockOut {
  return { kind: l.kind, user: l.user, address: l.address, lockedAt: iso(l.lockedAt), until: iso(l.until), reason: l.reason };
}

function accountLockView(a: ApiAccount, lockMinutes: number): LockOut {
  // The store keeps only the end of an account lock; it began lockMinutes before (the setting in force).
  return { kind: 'account', user: a.username, lockedAt: iso(a.lockedUntil - lockMinutes * 60_000), until: iso(a.lockedUntil), reason: 'too many failed logins' };
}

function clear(deps: RouteDeps, req: FastifyRequest, selector: z.infer<typeof lockSelector>): LockOut[] {
  const { ctx, accountStore, settings } = deps;
  const by = `api:${principalOf(req).username}`;
  const now = ctx.clock.now();
  const lockMinutes = settings().loginLockMinutes;
  const unlockAccounts = (accounts: ApiAccount[]) => accounts.filter((a) => accountStore.unlock(a.username)).map((a) => accountLockView(a, lockMinutes));
  if (selector.kind === 'account') return unlockAccounts(accountStore.locked(now).filter((a) => a.username === selector.user));
  const sip: LockSelector = selector;
  const cleared = ctx.guard.clear(sip, by).map(sipLockView);
  return selector.kind === 'all' ? [...cleared, ...unlockAccounts(accountStore.locked(now))] : cleared;
}

export const lockRoutes: RouteModule = (app, deps) => {
  const { ctx, accountStore, settings, audit } = deps;

  app.get(
    '/api/locks',
    { preHandler: allow('admin'), schema: { tags: ['locks'], summary: 'SIP username locks, address blocks and locked accounts in force.', response: { 200: z.array(lockOut) } } },
    async () => {
      const lockMinutes = settings().loginLockMinutes;
      return [...ctx.guard.locks().map(sipLockView), ...accountStore.locked(ctx.clock.now()).map((a) => accountLockView(a, lockMinutes))];
    },
  );

  app.delete(
    '/api/locks',
    {
      preHandler: allow('admin'),
      schema: {
        tags: ['locks'],
        summary: 'Clear locks: a username (all, or for one address), an address block, an account, or all of them.',
        body: lockSelector,
        response: { 200: z.object({ cleared: z.number() }) },
      },
    },
    async (req) => {
      const cleared = clear(deps, req, req.body);
      if (cleared.length === 0) throw notFound('matching lock');
      audit(
        req,
        'lock.clear',
        req.body.kind === 'all' ? 'all' : [req.body.kind, 'user' in req.body ? req.body.user : undefined, 'address' in req.body ? req.body.address : undefined].filter(Boolean).join(' '),
        {
          selector: req.body,
          cleared,
        },
      );
      return { cleared: cleared.length };
    },
  );
};
