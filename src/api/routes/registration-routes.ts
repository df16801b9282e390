// Registrations (issue #12, F-API): every live contact of every extension, and an administrator's drop of
// an extension's bindings (its phones register again at their next refresh).
import { z } from 'zod';
import { allow } from '../access.js';
import { notFound } from '../errors.js';
import type { RouteModule } from '../route-types.js';
import { contactOut, contactView } from './extension-routes.js';

export const registrationOut = contactOut.extend({ extension: z.string() });

export const registrationRoutes: RouteModule = (app, { ctx, audit }) => {
  app.get(
    '/api/registrations',
    {
      preHandler: allow('admin', 'supervisor'),
      schema: { tags: ['registrations'], summary: 'Live registrations (contacts) of every extension.', response: { 200: z.array(registrationOut) } },
    },
    async () =>
      ctx.registrations
        .all()
        .map((b) => ({ extension: b.aor, ...contactView(b) }))
        .sort((a, b) => a.extension.localeCompare(b.extension) || a.contact.localeCompare(b.contact)),
  );

  app.delete(
    '/api/registrations/:extension',
    {
      preHandler: allow('admin'),
      schema: { tags: ['registrations'], summary: "Drop an extension's bindings.", params: z.object({ extension: z.string() }) },
    },
    async (req, reply) => {
      const { extension } = req.params;
      const bindings = ctx.registrations.list(extension);
      if (bindings.length === 0) throw notFound(`registration of ${extension}`);
      ctx.registrar.removeAll(extension, 'cleared');
      audit(req, 'registration.delete', extension, { contacts: bindings.map((b) => b.contact) });
      return reply.status(204).send();
    },
  );
};
