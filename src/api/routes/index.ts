// Every route module of the API, in one list (issue #12). A new resource adds its module here.
import type { RouteModule } from '../route-types.js';
import { authRoutes } from './auth-routes.js';
import { callRoutes } from './call-routes.js';
import { extensionRoutes } from './extension-routes.js';
import { lockRoutes } from './lock-routes.js';
import { parkRoutes } from './park-routes.js';
import { registrationRoutes } from './registration-routes.js';
import { trunkRoutes } from './trunk-routes.js';

export const routeModules: RouteModule[] = [authRoutes, extensionRoutes, registrationRoutes, callRoutes, trunkRoutes, parkRoutes, lockRoutes];
