// Issue #12 (F-API, F-CDR): CDR search with filters, a user's own calls only, and the CSV export split into
// files of http.csvRowsPerFile rows (100 here, so a few hundred rows inserted through CdrStore need parts).
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CdrDirection, CdrDisposition, CdrRecord } from '../../src/store/cdr-row.js';
import { startApi, type ApiClient, type RunningApi } from '../support/api.js';

let h: RunningApi;
let admin: ApiClient;

/** Local noon of a day in May 2026 plus `minutes`, as the export's whole local days are the process's. */
const at = (day: number, minutes = 0) => new Date(2026, 4, day, 12, minutes).toISOString();

function row(n: number, startedAt: string, over: Partial<CdrRecord> = {}): CdrRecord {
  const direction: CdrDirection = 'internal';
  const disposition: CdrDisposition = 'answered';
  return {
    callId: `call-${n}@192.0.2.1`,
    linkedId: `call-${n}@192.0.2.1`,
    startedAt,
    answeredAt: startedAt,
    endedAt: startedAt,
    duration: 60,
    billsec: 58,
    direction,
    disposition,
    callerNumber: '2001',
    callerName: 'Alice',
    dialedNumber: '2002',
    calleeNumber: '2002',
    answeredBy: '2002',
    forwardedFrom: null,
    transferredBy: null,
    feature: 'none',
    hangupBy: 'caller',
    q850Cause: 16,
    sipStatus: 200,
    hangupReason: null,
    trunk: null,
    queue: null,
    recordingPath: null,
    queueWait: null,
    ...over,
  };
}

beforeAll(async () => {
  h = await startApi({ config: { http: { csvRowsPerFile: 100, cdrPageRows: 50 } } });
  admin = await h.login('root', 'correct horse', 'admin');
  const rows: CdrRecord[] = [];
  // 250 internal calls on 1 May, then a few distinctive ones on 2 May.
  for (let i = 0; i < 250; i++) rows.push(row(i, at(1, i % 600)));
  rows.push(row(1000, at(2, 0), { direction: 'inbound', callerNumber: '0312345678', callerName: '東京 太郎', dialedNumber: '0501234567', calleeNumber: '2003', answeredBy: '2003', trunk: 'carrier' }));
  rows.push(row(1001, at(2, 5), { disposition: 'no_answer', answeredAt: null, billsec: 0, callerNumber: '2003', dialedNumber: '2004', calleeNumber: '2004', answeredBy: null }));
  rows.push(row(1002, at(2, 10), { direction: 'outbound', callerNumber: '2002', dialedNumber: '0901112222', calleeNumber: '0901112222', answeredBy: '0901112222', trunk: 'carrier' }));
  h.server.cdr.insertMany(rows);
}, 30_000);

afterAll(async () => {
  await h?.stop();
});

type Search = { total: number; rows: CdrRecord[] };

describe('CDR search', () => {
  it('returns rows newest first with the total, and pages with limit and offset', async () => {
    const r = await admin.get<Search>('/api/cdr?limit=2');
    expect(r.status).toBe(200);
    expect(r.body.total).toBe(253);
    expect(r.body.rows.map((x) => x.callId)).toEqual(['call-1002@192.0.2.1', 'call-1001@192.0.2.1']);
    expect((await admin.get<Search>('/api/cdr')).body.rows).toHaveLength(50);
    const next = await admin.get<Search>('/api/cdr?limit=2&offset=2');
    expect(next.body.rows[0]!.callId).toBe('call-1000@192.0.2.1');
    expect(next.body.rows[0]).toMatchObject({ direction: 'inbound', callerName: '東京 太郎', answeredBy: '2003', trunk: 'carrier' });
  });

  it('filters by day range, number, direction and disposition', async () => {
    expect((await admin.get<Search>('/api/cdr?from=2026-05-02&to=2026-05-02')).body.total).toBe(3);
    expect((await admin.get<Search>('/api/cdr?from=2026-05-01&to=2026-05-01')).body.total).toBe(250);
    expect((await admin.get<Search>(`/api/cdr?from=${encodeURIComponent(at(2, 5))}`)).body.total).toBe(2);
    expect((await admin.get<Search>('/api/cdr?number=0312')).body.rows.map((x) => x.callId)).toEqual(['call-1000@192.0.2.1']);
    expect((await admin.get<Search>('/api/cdr?direction=outbound')).body.rows.map((x) => x.callId)).toEqual(['call-1002@192.0.2.1']);
    expect((await admin.get<Search>('/api/cdr?disposition=no_answer')).body.rows.map((x) => x.callId)).toEqual(['call-1001@192.0.2.1']);
    expect((await admin.get<Search>('/api/cdr?number=2004&disposition=answered')).body.total).toBe(0);
  });

  it('names the bad field', async () => {
    for (const [query, field] of [
      ['direction=sideways', 'direction'],
      ['disposition=maybe', 'disposition'],
      ['from=2026-02-30', 'from'],
      ['to=yesterday', 'to'],
      ['limit=0', 'limit'],
      ['limit=51', 'limit'],
      ['from=2026-05-03&to=2026-05-01', 'to'],
    ]) {
      const r = await admin.get<{ field: string }>(`/api/cdr?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body.field, query).toBe(field);
    }
  });

  it('shows a user only calls their extension made, received or answered', async () => {
    const carol = await h.login('carol', 'carol-password', 'user', '2003');
    const mine = await carol.get<Search>('/api/cdr');
    expect(mine.status).toBe(200);
    expect(mine.body.rows.map((x) => x.callId).sort()).toEqual(['call-1000@192.0.2.1', 'call-1001@192.0.2.1']);
    expect((await carol.get<Search>('/api/cdr?direction=outbound')).body.total).toBe(0);
    // A caller on a tie line whose number reads like 2003 is not extension 2003: its call is not carol's.
    h.server.cdr.insertMany([row(2000, at(3, 0), { direction: 'inbound', callerNumber: '2003', dialedNumber: '0501234567', calleeNumber: '2004', answeredBy: '2004', trunk: 'tieline' })]);
    expect((await carol.get<Search>('/api/cdr?from=2026-05-03&to=2026-05-03')).body.total).toBe(0);
    expect((await admin.get<Search>('/api/cdr?from=2026-05-03&to=2026-05-03')).body.total).toBe(1);
    expect((await carol.get('/api/cdr/export.csv?from=2026-05-01&to=2026-05-02')).status).toBe(403);
  });
});

describe('CDR CSV export', () => {
  it('splits the range into files of csvRowsPerFile rows, numbered like the CLI, each with the header', async () => {
    const first = await admin.request('GET', '/api/cdr/export.csv?from=2026-05-01&to=2026-05-02');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-hibiki-parts')).toBe('3');
    expect(first.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(first.headers.get('content-disposition')).toBe('attachment; filename="cdr-20260501-20260502-001.csv"');
    const lines = (t: string) => t.split('\r\n').filter((l) => l !== '');
    expect(lines(first.text)[0]).toMatch(/^id,call_id,linked_id,started_at,/);
    expect(lines(first.text)).toHaveLength(101);
    expect(lines(first.text)[1]).toContain('call-0@192.0.2.1');
    const third = await admin.request('GET', '/api/cdr/export.csv?from=2026-05-01&to=2026-05-02&part=3');
    expect(third.headers.get('content-disposition')).toBe('attachment; filename="cdr-20260501-20260502-003.csv"');
    expect(lines(third.text)).toHaveLength(54);
    expect(lines(third.text).at(-1)).toContain('call-1002@192.0.2.1');
    const head = await admin.request('HEAD', '/api/cdr/export.csv?from=2026-05-01&to=2026-05-02');
    expect(head.status).toBe(200);
    expect(head.headers.get('x-hibiki-parts')).toBe('3');
    const missing = await admin.get<{ field: string }>('/api/cdr/export.csv?from=2026-05-01&to=2026-05-02&part=4');
    expect(missing.status).toBe(404);
    expect(missing.body.field).toBe('part');
  });

  it('writes one unnumbered file for a small range, in Shift_JIS when asked', async () => {
    const r = await fetch(`${h.baseUrl}/api/cdr/export.csv?from=2026-05-02&to=2026-05-02&encoding=shift_jis`, { headers: { authorization: `Bearer ${admin.token}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-hibiki-parts')).toBe('1');
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="cdr-20260502-20260502.csv"');
    const bytes = Buffer.from(await r.arrayBuffer());
    expect(bytes.includes(iconv.encode('東京 太郎', 'shift_jis'))).toBe(true);
    expect(bytes.includes(Buffer.from('東京', 'utf8'))).toBe(false);
    expect((await admin.get<{ field: string }>('/api/cdr/export.csv?from=2026-05-01&to=2026-04-30')).body.field).toBe('to');
    expect((await admin.get<{ field: string }>('/api/cdr/export.csv?from=2026-05-01&to=2026-05-02&encoding=latin1')).body.field).toBe('encoding');
    const sup = await h.login('sue', 'sue-password', 'supervisor');
    expect((await sup.request('GET', '/api/cdr/export.csv?from=2026-05-02&to=2026-05-02')).status).toBe(200);
  });
});
