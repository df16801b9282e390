// Screenshots of the web console's main pages for docs/console.md (`npm run console:screenshots`; not part
// of the test suite). Starts the built server (dist/) with a sample configuration in a temporary folder,
// makes the accounts with `hibiki admin create`, registers one phone, and photographs the pages in Chromium.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { stringify } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'docs', 'console');
const cli = join(root, 'dist', 'cli.js');
const chromiumPath = process.env.HIBIKI_CHROMIUM ?? '/usr/bin/chromium';
const deadlineMs = 20_000;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'hibiki-shots-'));
const httpPort = await freePort();
const sipPort = await freePort();
const configPath = join(dir, 'hibiki.yaml');
const ext = (number, name, kana, extra = {}) => ({ number, name, kana, password: `secret-${number}`, ...extra });
writeFileSync(
  configPath,
  stringify({
    tenant: { domain: 'hibiki.local', timezone: 'Asia/Tokyo' },
    listen: [{ transport: 'udp', host: '127.0.0.1', port: sipPort }],
    data: { dir: join(dir, 'data') },
    registrar: { qualifyInterval: 0 },
    media: { bindAddress: '127.0.0.1', address: '127.0.0.1', rtpPorts: [41000, 41399] },
    log: { level: 'warn' },
    http: { host: '127.0.0.1', port: httpPort },
    extensions: [
      ext('2001', '山田 太郎', 'ヤマダ タロウ', { forwarding: { destinations: ['2002', '2003'], busy: '2002', noAnswer: '2003', noAnswerTimeout: 15 } }),
      ext('2002', '佐藤 花子', 'サトウ ハナコ'),
      ext('2003', '鈴木 一郎', 'スズキ イチロウ'),
      ext('2004', '高橋 美咲', 'タカハシ ミサキ'),
      ext('2005', '田中 健', 'タナカ ケン', { suspended: true }),
    ],
    groups: [{ number: '300', name: '営業部', members: ['2001', '2002'] }],
    queues: [{ number: '6000', name: 'サポート窓口', members: ['2003', '2004'] }],
  }),
);

function admin(name, role, password, extension) {
  const args = [cli, 'admin', 'create', name, '--role', role, '--password-stdin', '--config', configPath, ...(extension ? ['--extension', extension] : [])];
  const r = spawnSync(process.execPath, args, { input: `${password}\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`admin create ${name}: ${r.stdout}${r.stderr}`);
}
admin('admin', 'admin', 'admin-password');
admin('yamada', 'user', 'yamada-password', '2001');

const server = spawn(process.execPath, [cli, '--config', configPath], { stdio: ['ignore', 'inherit', 'inherit'] });
const base = `http://127.0.0.1:${httpPort}`;

async function until(what, check) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A REGISTER with a digest answer over UDP, so the extensions page shows a live registration. */
async function register(user) {
  const sock = createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const local = sock.address().port;
  const callId = `${randomBytes(6).toString('hex')}@shots`;
  const md5 = (s) => createHash('md5').update(s).digest('hex');
  const request = (cseq, auth) =>
    [
      `REGISTER sip:hibiki.local SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
      'Max-Forwards: 70',
      `From: <sip:${user}@hibiki.local>;tag=${randomBytes(4).toString('hex')}`,
      `To: <sip:${user}@hibiki.local>`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:${user}@127.0.0.1:${local}>`,
      'Expires: 3600',
      'User-Agent: Yealink SIP-T54W',
      ...(auth ? [`Authorization: ${auth}`] : []),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  const next = () => new Promise((r) => sock.once('message', (m) => r(m.toString())));
  let reply = next();
  sock.send(request(1), sipPort, '127.0.0.1');
  const challenge = await reply;
  const realm = /realm="([^"]+)"/.exec(challenge)?.[1];
  const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1];
  const qop = /qop="([^"]+)"/.exec(challenge)?.[1];
  const uri = 'sip:hibiki.local';
  const ha1 = md5(`${user}:${realm}:secret-${user}`);
  const ha2 = md5(`REGISTER:${uri}`);
  const cnonce = randomBytes(4).toString('hex');
  const response = qop ? md5(`${ha1}:${nonce}:00000001:${cnonce}:auth:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
  const auth = `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5${qop ? `, qop=auth, nc=00000001, cnonce="${cnonce}"` : ''}`;
  reply = next();
  sock.send(request(2, auth), sipPort, '127.0.0.1');
  const ok = await reply;
  if (!ok.startsWith('SIP/2.0 200')) throw new Error(`REGISTER ${user}: ${ok.split('\r\n')[0]}`);
  return sock;
}

let context;
const phones = [];
try {
  await until('the HTTP server', async () => (await fetch(`${base}/`)).ok);
  for (const user of ['2001', '2002', '2004']) phones.push(await register(user));
  mkdirSync(out, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'hibiki-shots-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    locale: process.env.HIBIKI_SHOTS_LOCALE ?? 'en-US',
    viewport: { width: 1280, height: 800 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const shot = (name) => page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
  const login = async (username, password) => {
    await page.goto(`${base}/`);
    await page.locator('#login-form input[name=username]').fill(username);
    await page.locator('#login-form input[name=password]').fill(password);
  };

  await login('admin', 'admin-password');
  await shot('login');
  await page.locator('#login-form button[type=submit]').click();
  await page.locator('tr[data-key="2001"] .badge.registered').waitFor();
  await shot('extensions');
  await page.goto(`${base}/#/queues`);
  await page.locator('#queue-board .card, #queue-board .empty, .form-error:not(:empty)').first().waitFor();
  await shot('queues');
  await page.goto(`${base}/#/cdr`);
  await page.locator('#cdr-result p, .form-error:not(:empty)').first().waitFor();
  await shot('cdr');
  await page.getByRole('button', { name: /Log out|ログアウト/ }).click();

  await login('yamada', 'yamada-password');
  await page.locator('#login-form button[type=submit]').click();
  await page.locator('#condition-cfb, main .form-error:not(:empty)').first().waitFor();
  await shot('forwarding');
  console.log(`screenshots written to ${out}`);
} finally {
  await context?.close();
  for (const p of phones) p.close();
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
