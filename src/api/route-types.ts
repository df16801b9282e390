// The types every route module is written against (issue #12): the fastify instance with zod schemas, and
// what the server hands each module.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { HttpConfig } from '../config/http-schema.js';
import type { ApiAccountStore } from '../store/api-account-store.js';
import type { AuditStore } from '../store/audit-store.js';
import type { Accounts } from './accounts.js';
import type { AuditFn } from './audit.js';
import type { ApiContext } from './context.js';

export type ApiApp = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

/** What every route module is given. */
export interface RouteDeps {
  ctx: ApiContext;
  accounts: Accounts;
  accountStore: ApiAccountStore;
  auditStore: AuditStore;
  audit: AuditFn;
  /** The http settings in force (they change with a reload; host and port need a restart). */
  settings: () => HttpConfig;
}

export type RouteModule = (app: ApiApp, deps: RouteDeps) => void | Promise<void>;
