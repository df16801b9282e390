// Incoming screening (issue #12, F-SCREEN): the block lists and anonymous-call refusal from the YAML, and the
// rejected-call counters per extension and DID for this month and last, as `hibiki screening stats`. Read
// only: the lists are edited in the YAML.
import { z } from 'zod';
import { monthIn, previousMonth } from '../../features/screening.js';
import { ScreeningStore } from '../../store/screening-store.js';
import { allow } from '../access.js';
import type { RouteModule } from '../route-types.js';

const counterOut = z.object({ thisMonth: z.number(), lastMonth: z.number() });

export const screeningRoutes: RouteModule = (app, { ctx }) => {
  app.get(
    '/api/screening',
    {
      preHandler: allow('admin'),
      schema: {
        tags: ['screening'],
        summary: 'Block lists, anonymous refusal and rejected-call counters (this month and last, tenant time zone).',
        response: {
          200: z.object({
            thisMonth: z.string().describe('YYYY-MM'),
            lastMonth: z.string(),
            blockList: z.array(z.string()).describe('Refused for every extension and DID.'),
            extensions: z.array(z.object({ number: z.string(), name: z.string(), blockList: z.array(z.string()), rejectAnonymous: z.boolean(), rejected: counterOut })),
            dids: z.array(z.object({ did: z.string(), blockList: z.array(z.string()), rejectAnonymous: z.boolean(), rejected: counterOut })),
            counters: z.array(z.object({ target: z.string().describe('ext:<number> or did:<did>'), ...counterOut.shape })).describe('Every counted target, configured or not.'),
          }),
        },
      },
    },
    async () => {
      const config = ctx.currentConfig;
      const thisMonth = monthIn(config.tenant.timezone, ctx.clock.now());
      const lastMonth = previousMonth(thisMonth);
      const totals = new Map<string, { thisMonth: number; lastMonth: number }>();
      for (const row of new ScreeningStore(ctx.db).list()) {
        const t = totals.get(row.target) ?? { thisMonth: 0, lastMonth: 0 };
        if (row.month === thisMonth) t.thisMonth += row.count;
        else if (row.month === lastMonth) t.lastMonth += row.count;
        totals.set(row.target, t);
      }
      return {
        thisMonth,
        lastMonth,
        blockList: config.screening.blockList,
        extensions: config.extensions.map((e) => ({
          number: e.number,
          name: e.name,
          blockList: e.blockList,
          rejectAnonymous: e.rejectAnonymous,
          rejected: ctx.screening.counters({ extension: e.number }),
        })),
        dids: config.inbound.filter((i) => i.did !== '*').map((i) => ({ did: i.did, blockList: i.blockList, rejectAnonymous: i.rejectAnonymous, rejected: ctx.screening.counters({ did: i.did }) })),
        counters: [...totals].map(([target, t]) => ({ target, ...t })),
      };
    },
  );
};
