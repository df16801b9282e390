// Every route module of the API, in one list (issue #12). A new resource adds its module here.
import type { RouteModule } from '../route-types.js';
import { authRoutes } from './auth-routes.js';
import { callRoutes } from './call-routes.js';
import { cdrRoutes } from './cdr-routes.js';
import { consoleRoutes } from './console-routes.js';
import { conferenceRoutes } from './conference-routes.js';
import { extensionCsvRoutes } from './extension-csv-routes.js';
import { extensionRoutes } from './extension-routes.js';
import { forwardingRoutes } from './forwarding-routes.js';
import { groupRoutes } from './group-routes.js';
import { ivrRoutes } from './ivr-routes.js';
import { lockRoutes } from './lock-routes.js';
import { parkRoutes } from './park-routes.js';
import { phoneRoutes } from './phone-routes.js';
import { queueRoutes } from './queue-routes.js';
import { registrationRoutes } from './registration-routes.js';
import { screeningRoutes } from './screening-routes.js';
import { trunkRoutes } from './trunk-routes.js';
import { voicemailRoutes } from './voicemail-routes.js';
import { eventRoutes } from '../events/event-routes.js';
import { metricsRoutes } from '../metrics/metrics-routes.js';

export const routeModules: RouteModule[] = [
  authRoutes,
  extensionCsvRoutes,
  extensionRoutes,
  groupRoutes,
  registrationRoutes,
  callRoutes,
  trunkRoutes,
  parkRoutes,
  lockRoutes,
  forwardingRoutes,
  voicemailRoutes,
  queueRoutes,
  screeningRoutes,
  ivrRoutes,
  conferenceRoutes,
  cdrRoutes,
  phoneRoutes,
  eventRoutes,
  metricsRoutes,
  // Last: the console's static files answer what no API route took.
  consoleRoutes,
];
