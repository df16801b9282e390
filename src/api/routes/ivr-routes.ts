// The configured IVRs (issue #12, F-IVR), read only: menus are edited in the YAML.
import { z } from 'zod';
import { allow } from '../access.js';
import type { RouteModule } from '../route-types.js';

export const ivrRoutes: RouteModule = (app, { ctx }) => {
  app.get(
    '/api/ivrs',
    {
      preHandler: allow('admin', 'supervisor'),
      schema: {
        tags: ['ivrs'],
        summary: 'The IVRs of the configuration, as written there (keys, timeouts, schedule rows).',
        response: { 200: z.array(z.looseObject({ number: z.string(), name: z.string(), language: z.string() })) },
      },
    },
    async () => ctx.currentConfig.ivrs,
  );
};
