// The extension CSV over HTTP (F-CSV): export of every extension, and the all-or-nothing import. The file
// format and its checks are in config/extension-csv.ts, shared with `hibiki extensions import|export`.
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { csvEncodings } from '../../config/extension-csv.js';
import { exportExtensionCsv, importExtensionCsv } from '../../config/extension-import.js';
import { allow, principalOf } from '../access.js';
import { ApiError, badRequest, forbidden } from '../errors.js';
import type { RouteModule } from '../route-types.js';

const lineErrors = z.array(z.object({ line: z.number(), message: z.string() }));

export const extensionCsvRoutes: RouteModule = async (app, { ctx, audit }) => {
  app.get(
    '/api/extensions/export.csv',
    {
      preHandler: allow('admin', 'supervisor'),
      schema: {
        tags: ['extensions'],
        summary: 'Every extension as CSV (number,name,kana,password,pin,departments,pickupGroups,callerId,ringTimeout,memo). Passwords and PINs only with includePasswords=true (admin).',
        querystring: z.object({
          encoding: z.enum(['utf8', 'shift_jis']).default('utf8'),
          includePasswords: z.enum(['true', 'false']).default('false').describe('Fill the password and pin columns (admin only; audited).'),
        }),
      },
    },
    async (req, reply) => {
      const secrets = req.query.includePasswords === 'true';
      if (secrets && principalOf(req).role !== 'admin') throw forbidden('only an admin may export passwords');
      const body = exportExtensionCsv(ctx.currentConfig, req.query.encoding, secrets);
      if (secrets) audit(req, 'extension.export', 'passwords', { count: ctx.currentConfig.extensions.length });
      const day = new Date(ctx.clock.now()).toISOString().slice(0, 10).replaceAll('-', '');
      return reply
        .header('content-type', `text/csv; charset=${req.query.encoding === 'utf8' ? 'utf-8' : 'Shift_JIS'}`)
        .header('content-disposition', `attachment; filename="extensions-${day}.csv"`)
        .send(body);
    },
  );

  // Its own scope: the raw-body parser for CSV uploads applies to this route only.
  await app.register(async (scope) => {
    scope.addContentTypeParser(['text/csv', 'application/octet-stream'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.withTypeProvider<ZodTypeProvider>().post(
      '/api/extensions/import',
      {
        preHandler: allow('admin'),
        schema: {
          tags: ['extensions'],
          summary:
            'Import the CSV (the raw file as the body, Content-Type text/csv or application/octet-stream). All or nothing: any bad row rejects the file with every error and its line; existing numbers are updated, new ones added.',
          querystring: z.object({ encoding: z.enum(csvEncodings).default('auto').describe('auto: valid UTF-8 (with or without BOM) is UTF-8, anything else Shift_JIS.') }),
          response: { 200: z.object({ created: z.array(z.string()), updated: z.array(z.string()) }) },
        },
      },
      async (req) => {
        if (!Buffer.isBuffer(req.body)) throw new ApiError(415, 'send the CSV file itself as the body, with Content-Type text/csv or application/octet-stream');
        const editor = ctx.configEditor;
        if (!editor) throw new ApiError(409, 'this server was started without a config file the API may edit');
        const r = importExtensionCsv(editor, req.body, req.query.encoding);
        if (!r.ok) throw badRequest(r.message, undefined, lineErrors.parse(r.errors));
        audit(req, 'extension.import', 'csv', { created: r.created, updated: r.updated });
        return { created: r.created, updated: r.updated };
      },
    );
  });
};
