// Trunks (issue #12, F-TRUNK): each configured trunk with its registration state and channels in use.
// Credentials are never shown.
import { z } from 'zod';
import { allow } from '../access.js';
import type { RouteModule } from '../route-types.js';

export const trunkOut = z.object({
  name: z.string(),
  host: z.string(),
  port: z.number(),
  transport: z.string(),
  register: z.boolean().describe('Whether hibiki registers to the carrier (otherwise IP authentication).'),
  registration: z.enum(['unregistered', 'registering', 'registered', 'failed', 'not-used']).describe("'not-used' for a trunk that does not register."),
  channelsInUse: z.number(),
  channelLimit: z.number().describe('0 = unlimited.'),
});

export const trunkRoutes: RouteModule = (app, { ctx }) => {
  app.get(
    '/api/trunks',
    { preHandler: allow('admin', 'supervisor'), schema: { tags: ['trunks'], summary: 'Trunks with registration state and channels in use.', response: { 200: z.array(trunkOut) } } },
    async () =>
      ctx.currentConfig.trunks.map((t) => ({
        name: t.name,
        host: t.host,
        port: t.port,
        transport: t.transport,
        register: t.register,
        registration: t.register ? (ctx.trunks.state(t.name) ?? 'unregistered') : ('not-used' as const),
        channelsInUse: ctx.trunks.active(t.name),
        channelLimit: t.channels,
      })),
  );
};
