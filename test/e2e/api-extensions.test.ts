// Issue #12 (F-USER, F-CSV): extensions, groups and pickup groups written through the API into the YAML
// file (comments kept, validated, applied at once: a new extension registers right after the 201), the
// extension CSV over HTTP, and `hibiki extensions import|export` on the command line.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import iconv from 'iconv-lite';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startApi, type ApiClient, type RunningApi } from '../support/api.js';
import { SipStatusError, TestUA } from '../support/test-ua.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const HEADER = 'number,name,kana,password,pin,departments,pickupGroups,callerId,ringTimeout,memo';
const csv = (...rows: string[]) => [HEADER, ...rows].join('\r\n') + '\r\n';

let h: RunningApi | undefined;
const phones: TestUA[] = [];
afterEach(async () => {
  await Promise.all(phones.splice(0).map((p) => p.close()));
  await h?.stop();
  h = undefined;
});

interface ErrorBody {
  error: string;
  message: string;
  field?: string;
  details?: Array<{ line?: number; message: string }>;
}
interface ExtensionOut {
  number: string;
  name: string;
  kana?: string;
  departments: string[];
  pickupGroups: string[];
  callerId?: string;
  ringTimeout?: number;
  memo?: string;
  suspended: boolean;
  hasPin: boolean;
  registered: boolean;
}

const config = {
  groups: [{ number: '600', name: '営業', members: ['2001', '2002'] }],
  pickupGroups: [{ number: '1', name: 'floor 1', members: ['2001'] }],
  inbound: [{ did: '0312345678', destination: '2003' }],
};

/** The server with the API, a comment written into its config file, and an admin logged in. */
async function start(): Promise<{ admin: ApiClient }> {
  h = await startApi({ config });
  writeFileSync(h.configPath, `# hibiki — edited by hand and by the API\n${readFileSync(h.configPath, 'utf8')}`);
  return { admin: await h.login('root', 'correct horse', 'admin') };
}

function fileConfig(): { extensions: Array<Record<string, unknown>>; groups: Array<{ number: string; members: string[] }>; pickupGroups: Array<{ number: string; members: string[] }> } {
  return parse(readFileSync(h!.configPath, 'utf8'));
}

async function register(number: string, password: string): Promise<number> {
  const ua = await TestUA.create({ user: number, password, server: { host: '127.0.0.1', port: h!.port('udp') }, domain: 'hibiki.test' });
  phones.push(ua);
  try {
    return (await ua.register()).status;
  } catch (err) {
    if (err instanceof SipStatusError) return err.status;
    throw err;
  }
}

describe('extension writes (F-USER)', () => {
  it('adds an extension to the file with its memberships, keeps the comment, and it registers at once', async () => {
    const { admin } = await start();
    const r = await admin.post<ExtensionOut>('/api/extensions', {
      number: '2010',
      name: '鈴木花子',
      kana: 'スズキハナコ',
      password: 'secret-2010',
      pin: '2580',
      departments: ['600'],
      pickupGroups: ['1'],
      ringTimeout: 30,
      memo: '新人',
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      number: '2010',
      name: '鈴木花子',
      kana: 'スズキハナコ',
      departments: ['600'],
      pickupGroups: ['1'],
      ringTimeout: 30,
      memo: '新人',
      hasPin: true,
      suspended: false,
      registered: false,
    });
    const text = readFileSync(h!.configPath, 'utf8');
    expect(text.startsWith('# hibiki — edited by hand and by the API\n')).toBe(true);
    const file = fileConfig();
    expect(file.extensions.find((e) => e.number === '2010')).toMatchObject({ name: '鈴木花子', password: 'secret-2010', pin: '2580' });
    expect(file.groups[0]!.members.map(String)).toEqual(['2001', '2002', '2010']);
    expect(file.pickupGroups[0]!.members.map(String)).toEqual(['2001', '2010']);
    expect(await register('2010', 'secret-2010')).toBe(200);
    expect((await admin.get<ExtensionOut>('/api/extensions/2010')).body.registered).toBe(true);
    const audit = await admin.get<{ entries: Array<{ action: string; target: string; detail: string }> }>('/api/audit');
    const row = audit.body.entries.find((e) => e.action === 'extension.create')!;
    expect(row.target).toBe('2010');
    expect(row.detail).not.toContain('secret-2010');
  });

  it('refuses a number in use (409), a bad field (400 naming it), an unknown group, and other roles (403)', async () => {
    const { admin } = await start();
    const base = { name: 'X', password: 'long-password' };
    for (const number of ['2001', '600', '9001', '9000', '9201']) {
      const r = await admin.post<ErrorBody>('/api/extensions', { ...base, number });
      expect(r.status, number).toBe(409);
      expect(r.body.field).toBe('number');
    }
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ number: '0123' }, 'number'],
      [{ number: '2011', pin: '1234' }, 'pin'],
      [{ number: '2011', callerId: 'abc' }, 'callerId'],
      [{ number: '2011', ringTimeout: 2 }, 'ringTimeout'],
      [{ number: '2011', password: 'short' }, 'password'],
      [{ number: '2011', departments: ['650'] }, 'departments'],
      [{ number: '2011', pickupGroups: ['7'] }, 'pickupGroups'],
      // Valid on its own, but the spy code 995 would be the prefix of a local number: the loader refuses the file.
      [{ number: '9950' }, 'number'],
    ];
    const before = readFileSync(h!.configPath, 'utf8');
    for (const [body, field] of bad) {
      const r = await admin.post<ErrorBody>('/api/extensions', { ...base, ...body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.field, JSON.stringify(r.body)).toBe(field);
    }
    expect(readFileSync(h!.configPath, 'utf8')).toBe(before);
    const supervisor = await h!.login('sup', 'supervisor-pw', 'supervisor');
    expect((await supervisor.post('/api/extensions', { ...base, number: '2011' })).status).toBe(403);
    expect((await supervisor.patch('/api/extensions/2001', { name: 'Y' })).status).toBe(403);
    expect((await supervisor.delete('/api/extensions/2001')).status).toBe(403);
    const user = await h!.login('alice', 'alice-password', 'user', '2001');
    expect((await user.patch('/api/extensions/2001', { name: 'Y' })).status).toBe(403);
  });

  it('changes fields, removes optional ones with null, moves memberships, and suspends', async () => {
    const { admin } = await start();
    await admin.patch('/api/extensions/2002', { kana: 'ボブ', callerId: '0312345678', memo: 'm' });
    const r = await admin.patch<ExtensionOut>('/api/extensions/2002', { name: 'Robert', kana: null, memo: null, departments: [], pickupGroups: ['1'], suspended: true });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ number: '2002', name: 'Robert', callerId: '0312345678', departments: [], pickupGroups: ['1'], suspended: true });
    expect(r.body.kana).toBeUndefined();
    expect(r.body.memo).toBeUndefined();
    const e = fileConfig().extensions.find((x) => x.number === '2002')!;
    expect(e).toMatchObject({ name: 'Robert', suspended: true });
    expect('kana' in e || 'memo' in e).toBe(false);
    expect(await register('2002', 'secret-2002')).toBe(403);
    expect((await admin.patch<ExtensionOut>('/api/extensions/2002', { suspended: false })).body.suspended).toBe(false);
    expect(await register('2002', 'secret-2002')).toBe(200);

    expect((await admin.patch<ErrorBody>('/api/extensions/2099', { name: 'Z' })).status).toBe(404);
    const bad = await admin.patch<ErrorBody>('/api/extensions/2002', { ringTimeout: 1000 });
    expect([bad.status, bad.body.field]).toEqual([400, 'ringTimeout']);
    const renumber = await admin.patch<ErrorBody>('/api/extensions/2002', { number: '2098' });
    expect(renumber.status).toBe(400);
    // 2002 left group 600 above; without 2001 it would have no members: the loader refuses, nothing is written.
    const empty = await admin.patch<ErrorBody>('/api/extensions/2001', { departments: [] });
    expect([empty.status, empty.body.field]).toEqual([400, 'departments']);
    expect(fileConfig().groups[0]!.members.map(String)).toEqual(['2001']);
    expect((await admin.patch<ExtensionOut>('/api/extensions/2002', { departments: ['600'] })).body.departments).toEqual(['600']);
    expect(fileConfig().groups[0]!.members.map(String)).toEqual(['2001', '2002']);
  });

  it('keeps both of two concurrent edits', async () => {
    const { admin } = await start();
    const [a, b, c] = await Promise.all([
      admin.post('/api/extensions', { number: '2020', name: 'A', password: 'secret-2020' }),
      admin.post('/api/extensions', { number: '2021', name: 'B', password: 'secret-2021', departments: ['600'] }),
      admin.patch('/api/extensions/2003', { name: 'Carol Changed' }),
    ]);
    expect([a.status, b.status, c.status]).toEqual([201, 201, 200]);
    const file = fileConfig();
    expect(file.extensions.map((e) => String(e.number))).toEqual(['2001', '2002', '2003', '2020', '2021']);
    expect(file.extensions[2]!.name).toBe('Carol Changed');
    expect(file.groups[0]!.members.map(String)).toEqual(['2001', '2002', '2021']);
    expect(h!.server.currentConfig.extensions.map((e) => e.number)).toEqual(['2001', '2002', '2003', '2020', '2021']);
  });

  it('deletes: 409 while a member or a DID target, force takes it out of its groups, 404 when unknown', async () => {
    const { admin } = await start();
    const member = await admin.delete<ErrorBody>('/api/extensions/2002');
    expect(member.status).toBe(409);
    expect(member.body.message).toMatch(/group 600/);
    const did = await admin.delete<ErrorBody>('/api/extensions/2003');
    expect(did.status).toBe(409);
    expect(did.body.message).toMatch(/DID 0312345678/);
    expect((await admin.delete('/api/extensions/2002?force=true')).status).toBe(204);
    const file = fileConfig();
    expect(file.extensions.map((e) => String(e.number))).toEqual(['2001', '2003']);
    expect(file.groups[0]!.members.map(String)).toEqual(['2001']);
    expect((await admin.get('/api/extensions/2002')).status).toBe(404);
    expect((await admin.delete('/api/extensions/2002')).status).toBe(404);
    // The only member of group 600 and pickup group 1: even forced, the groups would be empty.
    const last = await admin.delete<ErrorBody>('/api/extensions/2001?force=true');
    expect(last.status).toBe(409);
    expect(last.body.message).toMatch(/at least one member/);
  });
});

describe('groups and pickup groups', () => {
  it('creates, reads, changes and deletes a group; clashes are 409; bad fields 400 naming them', async () => {
    const { admin } = await start();
    const created = await admin.post('/api/groups', { number: '610', name: '総務', members: ['2003', '2001'], strategy: 'sequential', noAnswerDestination: '600' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ number: '610', name: '総務', strategy: 'sequential', members: ['2003', '2001'], memberRingTime: 20, timeout: 60, noAnswerDestination: '600', record: 'never' });
    expect(readFileSync(h!.configPath, 'utf8')).toContain('# hibiki — edited by hand');
    expect((await admin.get<Array<{ number: string }>>('/api/groups')).body.map((g) => g.number)).toEqual(['600', '610']);
    expect((await admin.get('/api/groups/610')).body).toMatchObject({ name: '総務' });
    expect((await admin.get('/api/groups/699')).status).toBe(404);
    for (const number of ['2001', '600', '9001']) {
      const r = await admin.post<ErrorBody>('/api/groups', { number, name: 'G', members: ['2001'] });
      expect([r.status, r.body.field]).toEqual([409, 'number']);
    }
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ members: [] }, 'members'],
      [{ members: ['2999'] }, 'members'],
      [{ strategy: 'loudest' }, 'strategy'],
      [{ noAnswerDestination: '8888' }, 'noAnswerDestination'],
    ];
    for (const [body, field] of bad) {
      const r = await admin.post<ErrorBody>('/api/groups', { number: '620', name: 'G', members: ['2001'], ...body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.field, JSON.stringify(r.body)).toBe(field);
    }
    const changed = await admin.patch('/api/groups/610', { name: '総務部', strategy: null, noAnswerDestination: null, members: ['2002'] });
    expect(changed.status).toBe(200);
    expect(changed.body).toEqual({ number: '610', name: '総務部', strategy: 'ringall', members: ['2002'], memberRingTime: 20, timeout: 60, record: 'never' });
    expect(h!.server.currentConfig.groups.find((g) => g.number === '610')?.members).toEqual(['2002']);
    expect((await admin.patch('/api/groups/699', { name: 'x' })).status).toBe(404);

    await admin.patch('/api/groups/610', { noAnswerDestination: '600' });
    const used = await admin.delete<ErrorBody>('/api/groups/600');
    expect(used.status).toBe(409);
    expect(used.body.message).toMatch(/groups entry number 610 \(groups\[0\]\.noAnswerDestination\)/);
    expect((await admin.delete('/api/groups/610')).status).toBe(204);
    expect((await admin.delete('/api/groups/600')).status).toBe(204);
    expect((await admin.delete('/api/groups/600')).status).toBe(404);
    expect(fileConfig().groups).toEqual([]);

    const supervisor = await h!.login('sup', 'supervisor-pw', 'supervisor');
    expect((await supervisor.get('/api/groups')).status).toBe(200);
    expect((await supervisor.post('/api/groups', { number: '630', name: 'G', members: ['2001'] })).status).toBe(403);
    const user = await h!.login('alice', 'alice-password', 'user', '2001');
    expect((await user.get('/api/groups')).status).toBe(403);
  });

  it('a group that a DID rings cannot be deleted', async () => {
    const { admin } = await start();
    await admin.post('/api/groups', { number: '650', name: 'G', members: ['2001'] });
    const text = readFileSync(h!.configPath, 'utf8').replace('destination: "2003"', 'destination: "650"');
    writeFileSync(h!.configPath, text);
    const r = await admin.delete<ErrorBody>('/api/groups/650');
    expect(r.status).toBe(409);
    expect(r.body.message).toMatch(/inbound\[0\]\.destination/);
  });

  it('creates, changes and deletes pickup groups', async () => {
    const { admin } = await start();
    const created = await admin.post('/api/pickup-groups', { number: '2', name: 'floor 2', members: ['2002', '2003'] });
    expect([created.status, created.body]).toEqual([201, { number: '2', name: 'floor 2', members: ['2002', '2003'] }]);
    expect((await admin.post<ErrorBody>('/api/pickup-groups', { number: '1', members: ['2002'] })).status).toBe(409);
    const bad = await admin.post<ErrorBody>('/api/pickup-groups', { number: '12345', members: ['2002'] });
    expect([bad.status, bad.body.field]).toEqual([400, 'number']);
    const ghost = await admin.post<ErrorBody>('/api/pickup-groups', { number: '3', members: ['2999'] });
    expect([ghost.status, ghost.body.field]).toEqual([400, 'members']);
    expect((await admin.get<Array<{ number: string }>>('/api/pickup-groups')).body.map((g) => g.number)).toEqual(['1', '2']);
    const changed = await admin.patch('/api/pickup-groups/2', { name: null, members: ['2001'] });
    expect([changed.status, changed.body]).toEqual([200, { number: '2', members: ['2001'] }]);
    expect((await admin.get<ExtensionOut>('/api/extensions/2001')).body.pickupGroups).toEqual(['1', '2']);
    expect((await admin.get('/api/pickup-groups/9')).status).toBe(404);
    expect((await admin.delete('/api/pickup-groups/2')).status).toBe(204);
    expect((await admin.delete('/api/pickup-groups/2')).status).toBe(404);
    const supervisor = await h!.login('sup', 'supervisor-pw', 'supervisor');
    expect((await supervisor.delete('/api/pickup-groups/1')).status).toBe(403);
  });

  it('documents every route in the OpenAPI document', async () => {
    await start();
    const doc = await h!.client().get<{ paths: Record<string, Record<string, unknown>> }>('/api/openapi.json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths['/api/extensions/{number}']!).sort()).toEqual(['delete', 'get', 'patch']);
    for (const path of ['/api/extensions', '/api/extensions/export.csv', '/api/extensions/import', '/api/groups', '/api/groups/{number}', '/api/pickup-groups', '/api/pickup-groups/{number}']) {
      expect(doc.body.paths[path], path).toBeDefined();
    }
  });
});

describe('extension CSV over HTTP (F-CSV)', () => {
  it('exports every extension; passwords only when asked, and only for an admin', async () => {
    const { admin } = await start();
    await admin.patch('/api/extensions/2001', { name: '山田太郎', kana: 'ヤマダタロウ' });
    const r = await admin.get('/api/extensions/export.csv?encoding=shift_jis');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/csv; charset=Shift_JIS');
    expect(r.headers.get('content-disposition')).toMatch(/^attachment; filename="extensions-\d{8}\.csv"$/);
    const raw = Buffer.from(await (await fetch(h!.baseUrl + '/api/extensions/export.csv?encoding=shift_jis', { headers: { authorization: `Bearer ${admin.token}` } })).arrayBuffer());
    expect(iconv.decode(raw, 'shift_jis')).toBe(csv('2001,山田太郎,ヤマダタロウ,,,#600#,#1#,,,', '2002,Bob,,,,#600#,,,,', '2003,Carol,,,,,,,,'));
    const secrets = await admin.get('/api/extensions/export.csv?includePasswords=true');
    expect(secrets.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(secrets.text).toContain('2001,山田太郎,ヤマダタロウ,secret-2001,');
    const supervisor = await h!.login('sup', 'supervisor-pw', 'supervisor');
    expect((await supervisor.get('/api/extensions/export.csv')).status).toBe(200);
    expect((await supervisor.get('/api/extensions/export.csv?includePasswords=true')).status).toBe(403);
  });

  it('imports a Shift_JIS file in one edit: new numbers added (and they register), existing ones updated', async () => {
    const { admin } = await start();
    const body = iconv.encode(csv('2001,山田太郎,ヤマダタロウ,,,#600#,,,,受付', '2030,鈴木花子,スズキハナコ,secret-2030,,#600#,#1#,,25,'), 'shift_jis');
    const r = await admin.request('POST', '/api/extensions/import', body, { 'content-type': 'text/csv' });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ created: ['2030'], updated: ['2001'] });
    expect(readFileSync(h!.configPath, 'utf8')).toContain('# hibiki — edited by hand');
    expect((await admin.get('/api/extensions/2030')).body).toMatchObject({ name: '鈴木花子', kana: 'スズキハナコ', departments: ['600'], pickupGroups: ['1'], ringTimeout: 25 });
    expect((await admin.get('/api/extensions/2001')).body).toMatchObject({ name: '山田太郎', memo: '受付', departments: ['600'], pickupGroups: [] });
    expect(await register('2030', 'secret-2030')).toBe(200);
    expect(await register('2001', 'secret-2001')).toBe(200);
  });

  it('rejects a file with errors as a whole, listing each line', async () => {
    const { admin } = await start();
    const before = readFileSync(h!.configPath, 'utf8');
    const body = csv(
      '2040,OK,,secret-2040,,,,,,',
      '2041,No password,,,,,,,,',
      '600,Group number,,secret-0600,,,,,,',
      '2040,Twice,,secret-2040,,,,,,',
      '2043,Bad list,,secret-2043,,600,,,,',
      '2044,Too few,,secret-2044',
    );
    const r = await admin.request<ErrorBody>('POST', '/api/extensions/import?encoding=utf8', body, { 'content-type': 'application/octet-stream' });
    expect(r.status).toBe(400);
    expect(r.body.details!.map((d) => d.line)).toEqual([3, 4, 5, 6, 7]);
    expect(r.body.message).toMatch(/nothing was imported: 5 errors/);
    expect(readFileSync(h!.configPath, 'utf8')).toBe(before);

    const sjis = await admin.request<ErrorBody>('POST', '/api/extensions/import?encoding=utf8', iconv.encode(csv('2050,鈴木,,secret-2050,,,,,,'), 'shift_jis'), { 'content-type': 'text/csv' });
    expect([sjis.status, sjis.body.details]).toEqual([400, [{ line: 2, message: expect.stringContaining('UTF-8') }]]);
    expect((await admin.post('/api/extensions/import', { rows: [] })).status).toBe(415);
    const supervisor = await h!.login('sup', 'supervisor-pw', 'supervisor');
    expect((await supervisor.request('POST', '/api/extensions/import', csv(), { 'content-type': 'text/csv' })).status).toBe(403);
  });
});

describe('hibiki extensions import|export', () => {
  it('imports a CSV into the config file and exports it again, in UTF-8 and Shift_JIS', async () => {
    h = await startApi({ config });
    const dir = join(h.configPath, '..');
    const file = join(dir, 'in.csv');
    writeFileSync(file, iconv.encode(csv('2060,佐藤一郎,サトウイチロウ,secret-2060,,#600#,,,,'), 'shift_jis'));
    const imported = spawnSync(process.execPath, [CLI, 'extensions', 'import', file, '--config', h.configPath], { encoding: 'utf8' });
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.stdout).toContain('1 created: 2060');
    // The running server takes the change from its file watcher; the new extension then registers.
    const deadline = Date.now() + 10_000;
    while (!h.server.currentConfig.extensions.some((e) => e.number === '2060') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await register('2060', 'secret-2060')).toBe(200);

    const exported = spawnSync(process.execPath, [CLI, 'extensions', 'export', '--encoding', 'shift_jis', '--config', h.configPath], { encoding: 'buffer' });
    expect(exported.status).toBe(0);
    expect(iconv.decode(exported.stdout, 'shift_jis')).toContain('2060,佐藤一郎,サトウイチロウ,,,#600#,,,,');
    const out = join(dir, 'out.csv');
    const withPasswords = spawnSync(process.execPath, [CLI, 'extensions', 'export', '--include-passwords', '--out', out, '--config', h.configPath], { encoding: 'utf8' });
    expect(withPasswords.status).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('2060,佐藤一郎,サトウイチロウ,secret-2060,');

    writeFileSync(file, csv('2061,A,,,,,,,,', '2062,B,,secret-2062,,#699#,,,,'));
    const bad = spawnSync(process.execPath, [CLI, 'extensions', 'import', file, '--config', h.configPath], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`${file}:2: password: required for the new extension 2061`);
    expect(bad.stderr).toContain(`${file}:3: departments: there is no group 699`);
  });
});
