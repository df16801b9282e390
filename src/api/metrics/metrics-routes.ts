// GET /metrics (issue #12): the Prometheus text exposition of this server's metrics. Outside /api, so no
// login; with http.metricsToken set, the scraper must send it as a bearer token.
import { sameSecret } from '../credentials.js';
import { errorBody } from '../errors.js';
import type { RouteModule } from '../route-types.js';
import { PbxMetrics } from './pbx-metrics.js';

export const metricsRoutes: RouteModule = (app, deps) => {
  const metrics = new PbxMetrics(deps.ctx);
  app.addHook('onClose', async () => metrics.stop());
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    const wanted = deps.settings().metricsToken;
    if (wanted !== undefined) {
      const header = req.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
      if (!sameSecret(given, wanted)) return reply.status(401).send(errorBody(401, 'GET /metrics needs Authorization: Bearer <http.metricsToken>'));
    }
    const text = await metrics.scrape();
    return reply.type(metrics.registry.contentType).send(text);
  });
};
