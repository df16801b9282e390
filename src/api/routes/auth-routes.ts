// Logins, sessions, API tokens, console accounts and the audit trail (issue #12, F-API, F-WEB).
import { z } from 'zod';
import { apiRoles } from '../../store/api-account-store.js';
import { allow, principalOf } from '../access.js';
import { passwordProblem } from '../credentials.js';
import { ApiError, badRequest, conflict, notFound } from '../errors.js';
import type { RouteModule } from '../route-types.js';

const usernameSchema = z
  .string()
  .regex(/^[A-Za-z0-9._@-]{1,64}$/, 'letters, digits, . _ @ - (1–64)')
  .describe('Login name.');
const passwordSchema = z.string().min(1).max(200);
const roleSchema = z.enum(apiRoles);
const extensionField = z
  .string()
  .regex(/^[0-9]{2,15}$/, 'an extension number')
  .optional();

const accountOut = z.object({ username: z.string(), role: roleSchema, extension: z.string().optional(), locked: z.boolean(), createdAt: z.string() });
const iso = (ms: number) => new Date(ms).toISOString();

export const authRoutes: RouteModule = (app, { ctx, accounts, accountStore, auditStore, audit }) => {
  const now = () => ctx.clock.now();
  const checkExtension = (role: string, extension: string | undefined) => {
    if (role === 'user' && extension === undefined) throw badRequest('a user account needs the extension it belongs to', 'extension');
    if (extension !== undefined && !ctx.currentConfig.extensions.some((e) => e.number === extension)) throw badRequest(`extension ${extension} does not exist`, 'extension');
  };
  const newPassword = (password: string, field = 'password') => {
    const problem = passwordProblem(password);
    if (problem) throw badRequest(`${field} ${problem}`, field);
  };

  app.post(
    '/api/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in; returns a session token for the Authorization header.',
        security: [],
        body: z.object({ username: z.string().min(1).max(64), password: passwordSchema }),
        response: { 200: z.object({ token: z.string(), expiresAt: z.string(), username: z.string(), role: roleSchema, extension: z.string().optional() }) },
      },
    },
    async (req) => {
      const r = await accounts.login(req.body.username, req.body.password, req.ip);
      if (!r.ok) {
        if (r.throttled) throw new ApiError(429, 'too many failed logins from this address; wait a minute');
        if (r.locked) throw new ApiError(403, `too many failed logins: the account is locked for ${ctx.currentConfig.http?.loginLockMinutes ?? 60} minutes`);
        throw new ApiError(401, 'wrong username or password');
      }
      return { token: r.token, expiresAt: iso(r.expiresAt), username: r.principal.username, role: r.principal.role, extension: r.principal.extension };
    },
  );

  app.post('/api/logout', { schema: { tags: ['auth'], summary: 'End this session.' } }, async (req, reply) => {
    accounts.logout(principalOf(req));
    return reply.status(204).send();
  });

  app.get(
    '/api/me',
    { schema: { tags: ['auth'], summary: 'Who this token belongs to.', response: { 200: z.object({ username: z.string(), role: roleSchema, extension: z.string().optional() }) } } },
    async (req) => {
      const p = principalOf(req);
      return { username: p.username, role: p.role, extension: p.extension };
    },
  );

  app.put(
    '/api/me/password',
    { schema: { tags: ['auth'], summary: 'Change your own console password.', body: z.object({ current: passwordSchema, password: passwordSchema }) } },
    async (req, reply) => {
      const p = principalOf(req);
      const confirmed = await accounts.confirmPassword(p, req.body.current, req.ip);
      if (confirmed === 'locked') throw new ApiError(403, 'too many wrong passwords: the account is locked and its sessions ended');
      if (confirmed === 'wrong') throw badRequest('the current password is wrong', 'current');
      newPassword(req.body.password);
      // The session making the change stays; every other session and API token of the account ends.
      await accounts.setPassword(p.username, req.body.password, p.tokenHash);
      audit(req, 'account.password', p.username);
      return reply.status(204).send();
    },
  );

  app.get('/api/accounts', { preHandler: allow('admin'), schema: { tags: ['accounts'], summary: 'Console and API accounts.', response: { 200: z.array(accountOut) } } }, async () =>
    accountStore.list().map((a) => ({ username: a.username, role: a.role, extension: a.extension, locked: a.lockedUntil > now(), createdAt: iso(a.createdAt) })),
  );

  app.post(
    '/api/accounts',
    {
      preHandler: allow('admin'),
      schema: { tags: ['accounts'], summary: 'Create an account.', body: z.object({ username: usernameSchema, password: passwordSchema, role: roleSchema, extension: extensionField }) },
    },
    async (req, reply) => {
      const b = req.body;
      newPassword(b.password);
      checkExtension(b.role, b.extension);
      if (!(await accounts.create(b))) throw conflict(`account ${b.username} already exists`, 'username');
      audit(req, 'account.create', b.username, { role: b.role, extension: b.extension });
      return reply.status(201).send({ username: b.username, role: b.role, extension: b.extension });
    },
  );

  app.patch(
    '/api/accounts/:username',
    {
      preHandler: allow('admin'),
      schema: {
        tags: ['accounts'],
        summary: 'Change an account: role, extension, password.',
        params: z.object({ username: z.string() }),
        body: z.object({ role: roleSchema.optional(), extension: extensionField.nullable(), password: passwordSchema.optional() }),
      },
    },
    async (req, reply) => {
      const a = accountStore.get(req.params.username);
      if (!a) throw notFound(`account ${req.params.username}`);
      const b = req.body;
      const role = b.role ?? a.role;
      const extension = b.extension === null ? undefined : (b.extension ?? a.extension);
      checkExtension(role, extension);
      if (a.role === 'admin' && role !== 'admin' && accountStore.list().filter((x) => x.role === 'admin').length === 1) throw conflict('the last admin account cannot lose its role', 'role');
      if (b.password !== undefined) {
        newPassword(b.password);
        await accounts.setPassword(a.username, b.password);
      }
      accountStore.update(a.username, { role, extension: extension ?? null });
      audit(req, 'account.update', a.username, b);
      return reply.status(204).send();
    },
  );

  app.delete(
    '/api/accounts/:username',
    { preHandler: allow('admin'), schema: { tags: ['accounts'], summary: 'Delete an account.', params: z.object({ username: z.string() }) } },
    async (req, reply) => {
      const p = principalOf(req);
      if (p.username === req.params.username) throw conflict('you cannot delete the account you are logged in with');
      const target = accountStore.get(req.params.username);
      if (!target) throw notFound(`account ${req.params.username}`);
      if (target.role === 'admin' && accountStore.list().filter((a) => a.role === 'admin').length === 1) throw conflict('the last admin account cannot be deleted');
      accountStore.remove(target.username);
      audit(req, 'account.delete', target.username);
      return reply.status(204).send();
    },
  );

  app.post(
    '/api/accounts/:username/unlock',
    { preHandler: allow('admin'), schema: { tags: ['accounts'], summary: 'Clear a login lock.', params: z.object({ username: z.string() }) } },
    async (req, reply) => {
      if (!accountStore.unlock(req.params.username)) throw notFound(`account ${req.params.username}`);
      audit(req, 'account.unlock', req.params.username);
      return reply.status(204).send();
    },
  );

  app.get(
    '/api/tokens',
    {
      schema: {
        tags: ['auth'],
        summary: 'Your API tokens (not the secrets).',
        response: { 200: z.array(z.object({ id: z.string(), label: z.string(), createdAt: z.string(), expiresAt: z.string().optional() })) },
      },
    },
    async (req) =>
      accountStore
        .tokensOf(principalOf(req).username)
        .map((t) => ({ id: t.tokenHash.slice(0, 16), label: t.label, createdAt: iso(t.createdAt), expiresAt: t.expiresAt === undefined ? undefined : iso(t.expiresAt) })),
  );

  app.post(
    '/api/tokens',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an API token for your account; the token is shown only in this answer.',
        body: z.object({ label: z.string().max(100).default(''), expiresInDays: z.number().int().min(1).max(3650).optional() }),
        response: { 201: z.object({ id: z.string(), token: z.string() }) },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const expiresAt = req.body.expiresInDays === undefined ? undefined : now() + req.body.expiresInDays * 86_400_000;
      const t = accounts.issueToken(p.username, req.body.label, expiresAt);
      audit(req, 'token.create', p.username, { label: req.body.label });
      return reply.status(201).send(t);
    },
  );

  app.delete('/api/tokens/:id', { schema: { tags: ['auth'], summary: 'Revoke one of your API tokens.', params: z.object({ id: z.string().regex(/^[0-9a-f]{16}$/) }) } }, async (req, reply) => {
    const p = principalOf(req);
    const t = accountStore.tokensOf(p.username).find((x) => x.tokenHash.startsWith(req.params.id));
    if (!t) throw notFound(`token ${req.params.id}`);
    accountStore.removeToken(t.tokenHash);
    audit(req, 'token.delete', p.username, { id: req.params.id });
    return reply.status(204).send();
  });

  app.get(
    '/api/audit',
    {
      preHandler: allow('admin'),
      schema: {
        tags: ['accounts'],
        summary: 'The audit trail, newest first.',
        querystring: z.object({
          from: z.iso.datetime({ offset: true }).optional(),
          to: z.iso.datetime({ offset: true }).optional(),
          actor: z.string().optional(),
          action: z.string().optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          offset: z.coerce.number().int().min(0).default(0),
        }),
      },
    },
    async (req) => {
      const q = req.query;
      const r = auditStore.search({ ...q, from: q.from ? Date.parse(q.from) : undefined, to: q.to ? Date.parse(q.to) : undefined });
      return { total: r.total, entries: r.entries.map((e) => ({ ...e, at: iso(e.at), detail: e.detail === '' ? undefined : (JSON.parse(e.detail) as unknown) })) };
    },
  );
};
