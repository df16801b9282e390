// The administration server (issue #12): HTTP API, live events, /metrics and the web console on one fastify
// instance. Every route has one zod schema that validates its input, types its handler and feeds the
// OpenAPI document (/api/openapi.json). Bad input is a 4xx JSON error naming the field; a 500 is a bug.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyError } from 'fastify';
import swagger from '@fastify/swagger';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { HttpConfig } from '../config/http-schema.js';
import { ApiAccountStore } from '../store/api-account-store.js';
import { AuditStore } from '../store/audit-store.js';
import { Accounts } from './accounts.js';
import { auditWriter } from './audit.js';
import type { ApiContext } from './context.js';
import { ApiError, errorBody } from './errors.js';
import { routeModules } from './routes/index.js';
import type { ApiApp, RouteDeps } from './route-types.js';

export type { ApiApp, RouteDeps, RouteModule } from './route-types.js';

/** Routes under /api that need no login. */
const openPaths = new Set(['/api/login', '/api/openapi.json', '/api/phone/config', '/api/phone/history']);

export class ApiServer {
  readonly app: ApiApp;
  readonly deps: RouteDeps;
  private ready: Promise<void> | undefined;

  constructor(
    private readonly ctx: ApiContext,
    initial: HttpConfig,
  ) {
    const log = ctx.logger.child({ component: 'http' });
    const https = initial.cert && initial.key ? { cert: readFileSync(initial.cert), key: readFileSync(initial.key) } : null;
    this.app = Fastify({
      loggerInstance: log,
      // The onResponse hook below writes the one line per request.
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: initial.bodyLimitKiB * 1024,
      ...(https ? { https } : {}),
    }).withTypeProvider<ZodTypeProvider>() as unknown as ApiApp;
    const accountStore = new ApiAccountStore(ctx.db);
    const auditStore = new AuditStore(ctx.db);
    const now = () => ctx.clock.now();
    const settings = () => ctx.currentConfig.http ?? initial;
    this.deps = {
      ctx,
      accountStore,
      auditStore,
      accounts: new Accounts(accountStore, auditStore, now, () => {
        const s = settings();
        return { attempts: s.loginAttempts, addressFailuresPerMinute: s.loginFailuresPerAddress, lockMinutes: s.loginLockMinutes, sessionHours: s.sessionHours };
      }),
      audit: auditWriter(auditStore, now),
      settings,
    };
  }

  private async setup(): Promise<void> {
    const app = this.app;
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    await app.register(swagger, {
      openapi: {
        info: { title: 'hibiki administration API', version: '1' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
      },
      transform: jsonSchemaTransform,
    });
    app.setErrorHandler((err: FastifyError, req, reply) => {
      if (err instanceof ApiError) return reply.status(err.status).send(errorBody(err.status, err.message, err.field, err.details));
      if (hasZodFastifySchemaValidationErrors(err)) {
        const first = err.validation[0]!;
        const field = first.instancePath.replace(/^\//, '').replaceAll('/', '.') || undefined;
        const where = err.validationContext ?? 'body';
        const message = `${where}${field ? `.${field}` : ''}: ${first.message ?? 'invalid'}`;
        return reply.status(400).send(
          errorBody(
            400,
            message,
            field,
            err.validation.map((v) => ({ field: v.instancePath.replace(/^\//, '').replaceAll('/', '.'), message: v.message })),
          ),
        );
      }
      const status = err.statusCode ?? 500;
      if (status >= 400 && status < 500) return reply.status(status).send(errorBody(status, err.message));
      req.log.error({ err, url: req.routeOptions.url }, 'API handler failed');
      return reply.status(500).send(errorBody(500, 'internal error (logged)'));
    });
    app.setNotFoundHandler((req, reply) => reply.status(404).send(errorBody(404, `no route ${req.method} ${req.url.split('?')[0]}`)));
    app.addHook('onRequest', async (req) => {
      // Decided on the route the router matched, not on the raw URL: `/%61pi/…` or an absolute URL reaches the
      // same handler as `/api/…`. Unmatched paths answer 404 and reach nothing.
      const route = req.routeOptions.url;
      if (route === undefined || !route.startsWith('/api/') || openPaths.has(route)) return;
      const header = req.headers.authorization;
      // A browser's WebSocket cannot set headers: the event stream alone takes the token in the query.
      const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : route === '/api/events' ? new URL(req.url, 'http://x').searchParams.get('token') : null;
      const principal = token ? this.deps.accounts.resolve(token) : undefined;
      if (!principal) throw new ApiError(401, token ? 'the token is unknown or has expired; log in again' : 'log in first (Authorization: Bearer <token>)');
      req.principal = principal;
    });
    // One line per request, without the query string (the event stream's token travels there).
    app.addHook('onResponse', async (req, reply) => {
      req.log.info({ method: req.method, url: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime), user: req.principal?.username, address: req.ip }, 'http request');
    });
    for (const register of routeModules) await register(app, this.deps);
    app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  }

  async start(host: string, port: number): Promise<AddressInfo> {
    this.ready ??= this.setup();
    await this.ready;
    await this.app.listen({ host, port });
    const address = this.app.server.address() as AddressInfo;
    this.ctx.logger.info({ host: address.address, port: address.port, https: this.app.initialConfig.https !== undefined }, 'HTTP API listening');
    return address;
  }

  async stop(): Promise<void> {
    await this.app.close();
  }
}
