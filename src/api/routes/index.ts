// Every route module of the API, in one list (issue #12). A new resource adds its module here.
import type { RouteModule } from '../route-types.js';
import { authRoutes } from './auth-routes.js';
import { extensionRoutes } from './extension-routes.js';
import { eventRoutes } from '../events/event-routes.js';
import { metricsRoutes } from '../metrics/metrics-routes.js';

export const routeModules: RouteModule[] = [authRoutes, extensionRoutes, eventRoutes, metricsRoutes];
