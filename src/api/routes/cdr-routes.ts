// Call-detail records (issue #12, F-CDR): search with filters, newest first, and the CSV export of a range of
// days split into files of at most http.csvRowsPerFile rows, as `hibiki cdr export` writes them (same
// columns, file names and Shift_JIS encoding). Each request returns one file (`part`); X-Hibiki-Parts says
// how many there are.
import { z } from 'zod';
import { cdrCsvHeader, cdrCsvLine, cdrExportBaseName, cdrExportFileName, cdrExportRange, encodeCsv } from '../../store/cdr-export.js';
import { cdrDirections, cdrDispositions, type CdrDirection, type CdrDisposition } from '../../store/cdr-row.js';
import { allow, principalOf } from '../access.js';
import { ApiError, badRequest, forbidden } from '../errors.js';
import type { RouteModule } from '../route-types.js';

/** Rows one search returns when `limit` is not given (at most http.cdrPageRows). */
const DEFAULT_PAGE = 100;

const nullableString = z.string().nullable();
export const cdrOut = z.object({
  id: z.number(),
  callId: z.string(),
  linkedId: z.string(),
  startedAt: z.string(),
  answeredAt: nullableString,
  endedAt: z.string(),
  duration: z.number(),
  billsec: z.number(),
  direction: z.enum(cdrDirections as [CdrDirection, ...CdrDirection[]]),
  disposition: z.enum(cdrDispositions as [CdrDisposition, ...CdrDisposition[]]),
  callerNumber: z.string(),
  callerName: nullableString,
  dialedNumber: z.string(),
  calleeNumber: nullableString,
  answeredBy: nullableString,
  forwardedFrom: nullableString,
  transferredBy: nullableString,
  feature: z.string(),
  hangupBy: z.string(),
  q850Cause: z.number(),
  sipStatus: z.number().nullable(),
  hangupReason: nullableString,
  trunk: nullableString,
  queue: nullableString,
  recordingPath: nullableString,
  queueWait: z.number().nullable(),
});

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A bound of a search: a whole local day (YYYY-MM-DD; `to` includes that day) or an ISO-8601 instant. */
function bound(text: string | undefined, name: 'from' | 'to'): Date | undefined {
  if (text === undefined) return undefined;
  if (DAY.test(text)) {
    try {
      const r = cdrExportRange(text, text);
      return name === 'from' ? r.from : r.to;
    } catch (err) {
      if (err instanceof RangeError) throw badRequest(err.message.replace(`--${name}`, name), name);
      throw err;
    }
  }
  const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(t)) throw badRequest(`${name} must be YYYY-MM-DD or an ISO-8601 date-time with a zone, got '${text}'`, name);
  return new Date(t);
}

export const cdrRoutes: RouteModule = (app, { ctx, settings }) => {
  app.get(
    '/api/cdr',
    {
      schema: {
        tags: ['cdr'],
        summary: 'Call-detail records, newest first (a user sees the calls their extension made, received or answered).',
        querystring: z.object({
          from: z.string().optional().describe('YYYY-MM-DD (local day) or ISO-8601 date-time; calls that started at or after it.'),
          to: z.string().optional().describe('YYYY-MM-DD (that day included) or ISO-8601 date-time; calls that started before it.'),
          number: z.string().max(40).optional().describe('Contained in the caller, dialled, callee or answering number.'),
          direction: z.enum(cdrDirections as [CdrDirection, ...CdrDirection[]]).optional(),
          disposition: z.enum(cdrDispositions as [CdrDisposition, ...CdrDisposition[]]).optional(),
          limit: z.coerce.number().int().min(1).optional().describe(`Rows per page, at most http.cdrPageRows (default 1000); default ${DEFAULT_PAGE}.`),
          offset: z.coerce.number().int().min(0).default(0),
        }),
        response: { 200: z.object({ total: z.number().describe('Rows matching, over all pages.'), rows: z.array(cdrOut) }) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const q = req.query;
      let party: string | undefined;
      if (p.role !== 'admin' && p.role !== 'supervisor') {
        if (p.extension === undefined) throw forbidden('your account has no extension: no call records to show');
        party = p.extension;
      }
      const maxPage = settings().cdrPageRows;
      if (q.limit !== undefined && q.limit > maxPage) throw badRequest(`limit is at most ${maxPage} (http.cdrPageRows)`, 'limit');
      const limit = q.limit ?? Math.min(DEFAULT_PAGE, maxPage);
      const from = bound(q.from, 'from');
      const to = bound(q.to, 'to');
      if (from && to && to <= from) throw badRequest('to must be after from', 'to');
      const r = ctx.cdr.search({ from, to, number: q.number, direction: q.direction, disposition: q.disposition, party, limit, offset: q.offset });
      return { total: r.total, rows: r.rows.map((x) => ({ ...x, id: x.id ?? 0 })) };
    },
  );

  app.get(
    '/api/cdr/export.csv',
    {
      preHandler: allow('admin', 'supervisor'),
      schema: {
        tags: ['cdr'],
        summary: 'One CSV file of the records of a range of days; X-Hibiki-Parts gives the number of files.',
        querystring: z.object({
          from: z.string().regex(DAY, 'YYYY-MM-DD').describe('First day (local).'),
          to: z.string().regex(DAY, 'YYYY-MM-DD').describe('Last day (local), included.'),
          encoding: z.enum(['utf8', 'shift_jis']).default('utf8'),
          part: z.coerce.number().int().min(1).default(1).describe('Which file, from 1 to X-Hibiki-Parts.'),
        }),
      },
    },
    async (req, reply) => {
      const { encoding, part } = req.query;
      let range: { from: Date; to: Date };
      try {
        range = cdrExportRange(req.query.from, req.query.to);
      } catch (err) {
        if (err instanceof RangeError) throw badRequest(err.message.replace(/--(from|to)/, '$1'), /--to/.test(err.message) ? 'to' : 'from');
        throw err;
      }
      const perFile = settings().csvRowsPerFile;
      const { parts, rows } = ctx.cdr.readSnapshot(() => {
        const n = Math.max(1, Math.ceil(ctx.cdr.count(range) / perFile));
        return { parts: n, rows: part <= n ? ctx.cdr.pageRows(range, perFile, (part - 1) * perFile) : [] };
      });
      if (part > parts) throw new ApiError(404, `part ${part} not found: this export has ${parts} file${parts === 1 ? '' : 's'}`, 'part');
      let text = cdrCsvHeader();
      for (const row of rows) text += cdrCsvLine(row);
      const name = cdrExportFileName(cdrExportBaseName(range.from, range.to), part, parts);
      return reply
        .type(`text/csv; charset=${encoding === 'utf8' ? 'utf-8' : 'Shift_JIS'}`)
        .header('x-hibiki-parts', String(parts))
        .header('content-disposition', `attachment; filename="${name}"`)
        .send(encodeCsv(text, encoding));
    },
  );
};
