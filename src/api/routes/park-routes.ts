// Parked calls (issue #12, F-PARK): what `hibiki park list` shows, from the running lot.
import { z } from 'zod';
import { allow } from '../access.js';
import type { RouteModule } from '../route-types.js';

export const parkedOut = z.object({
  slot: z.string(),
  party: z.object({ number: z.string(), name: z.string().optional() }).describe('The parked party.'),
  parkedBy: z.string().optional().describe('The extension that parked the call.'),
  since: z.string(),
});

export const parkRoutes: RouteModule = (app, { ctx }) => {
  app.get('/api/park', { preHandler: allow('admin', 'supervisor'), schema: { tags: ['park'], summary: 'Parked calls.', response: { 200: z.array(parkedOut) } } }, async () =>
    ctx.park.parked().map((p) => ({ slot: p.slot, party: p.party, parkedBy: p.parkedBy, since: new Date(p.since).toISOString() })),
  );
};
