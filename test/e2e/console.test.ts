// Issue #12, F-WEB: the web console in a real browser (Debian chromium driven by playwright-core) against the
// real server — logins and the lockout, the extensions page with live registration status, the form that adds
// an extension, the CSV import's per-line errors, a user's own forwarding followed by a real call, CDR search.
// Every wait is on a page or SIP condition; nothing sleeps.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startApi, type RunningApi } from '../support/api.js';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { registeredPhone } from '../support/call-helpers.js';
import { TestUA } from '../support/test-ua.js';

const ADMIN = { username: 'root', password: 'correct horse' };
const WAIT = 15_000;

let h: RunningApi | undefined;
let browser: TestBrowser | undefined;
const phones: TestUA[] = [];

afterEach(async () => {
  // The page must not have thrown or broken its own Content-Security-Policy on the way.
  const problems = browser?.problems ?? [];
  await browser?.close();
  browser = undefined;
  for (const p of phones.splice(0)) await p.close();
  await h?.stop();
  h = undefined;
  expect(problems).toEqual([]);
});

async function open(): Promise<Page> {
  h ??= await startApi();
  browser = await launchBrowser();
  const page = await browser.page();
  page.setDefaultTimeout(WAIT);
  await page.goto(`${h.baseUrl}/`);
  return page;
}

async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.locator('#login-form input[name=username]').fill(username);
  await page.locator('#login-form input[name=password]').fill(password);
  await page.locator('#login-form button[type=submit]').click();
}

async function logInAsAdmin(): Promise<Page> {
  h = await startApi();
  await h.createAccount(ADMIN.username, ADMIN.password, 'admin');
  const page = await open();
  await logIn(page, ADMIN.username, ADMIN.password);
  await page.getByRole('heading', { name: 'Extensions' }).waitFor();
  return page;
}

/** Repeats `step` (a click that reloads something) until `done` holds, for data that lands asynchronously. */
async function until(step: () => Promise<void>, done: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + WAIT;
  for (;;) {
    await step();
    if (await done()) return;
    if (Date.now() > end) throw new Error(`${what}: not seen within ${WAIT} ms`);
  }
}

const menu = (page: Page) => page.locator('#nav a').allTextContents();

/** Every file under `dir`, relative to it, with its contents. */
function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.set(relative(dir, join(e.parentPath, e.name)), readFileSync(join(e.parentPath, e.name), 'utf8'));
  }
  return out;
}

describe('web console (F-WEB)', () => {
  it('opens every page of the admin menu with its heading, without an error on the page or in the browser', async () => {
    const page = await logInAsAdmin();
    const entries = await menu(page);
    expect(entries.length).toBeGreaterThanOrEqual(10);
    for (const name of entries.filter((e) => e !== 'Log out')) {
      await page.locator('#nav a', { hasText: name }).first().click();
      await page.locator('main h1').first().waitFor();
      // Each page's first load has settled when its error box is still empty after the table or form shows.
      await page.waitForLoadState('networkidle');
      const errors = (await page.locator('main .form-error').allTextContents()).filter((t) => t.trim() !== '');
      expect({ page: name, errors }).toEqual({ page: name, errors: [] });
    }
  }, 60_000);

  it('ships in dist/ exactly as in src/ (npm run build copies it next to the compiled server)', () => {
    const src = files(fileURLToPath(new URL('../../src/api/web/', import.meta.url)));
    const dist = files(fileURLToPath(new URL('../../dist/api/web/', import.meta.url)));
    expect([...src.keys()]).toContain('index.html');
    expect(dist).toEqual(src);
  });

  it('is served by hibiki with a self-only Content-Security-Policy, in Japanese or English', async () => {
    h = await startApi();
    const res = await fetch(`${h.baseUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await res.text()).toContain('js/app.js');
    const app = await fetch(`${h.baseUrl}/js/app.js`);
    expect(app.headers.get('content-type')).toMatch(/javascript/);
    const page = await open();
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await page.locator('#lang').selectOption('ja');
    await page.getByRole('heading', { name: 'ログイン' }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('ja');
  }, 60_000);

  it('logs an admin in to the admin pages, lists the extensions, and shows the login in the audit log', async () => {
    const page = await logInAsAdmin();
    for (const n of ['2001', '2002', '2003']) await page.locator(`tr[data-key="${n}"]`).waitFor();
    expect(await page.locator('tr[data-key="2002"]').textContent()).toContain('Bob');
    expect(await menu(page)).toEqual(expect.arrayContaining(['Extensions', 'Call records', 'Locks', 'Audit log', 'Accounts']));
    await page.locator('input[name=q]').fill('car');
    await page.locator('tr[data-key="2001"]').waitFor({ state: 'detached' });
    await page.locator('tr[data-key="2003"]').waitFor();
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page
      .locator('.audit-rows td', { hasText: /^login$/ })
      .first()
      .waitFor();
    expect(await page.locator('.audit-rows tbody tr').first().textContent()).toContain(ADMIN.username);
  }, 60_000);

  it('shows a phone registering on the extensions page without a reload', async () => {
    const page = await logInAsAdmin();
    const row = page.locator('tr[data-key="2002"]');
    await row.locator('.badge.unregistered').waitFor();
    const bob = await registeredPhone(h!, '2002', phones);
    await row.locator('.badge.registered').waitFor();
    expect(await row.textContent()).toContain(`127.0.0.1:${bob.address.port}`);
  }, 60_000);

  it('says the account is locked after 3 bad logins, and refuses the right password then', async () => {
    h = await startApi();
    await h.createAccount('ops', 'the-right-one', 'admin');
    const page = await open();
    const error = page.locator('#login-form .form-error');
    for (let i = 1; i <= 2; i++) {
      await logIn(page, 'ops', `wrong-${i}`);
      await error.filter({ hasText: 'Wrong username or password' }).waitFor();
      await error.evaluate((el) => el.replaceChildren());
    }
    await logIn(page, 'ops', 'wrong-3');
    await error.filter({ hasText: 'locked' }).waitFor();
    await error.evaluate((el) => el.replaceChildren());
    await logIn(page, 'ops', 'the-right-one');
    await error.filter({ hasText: /locked for 60 minutes/ }).waitFor();
    expect(await page.locator('#nav a').count()).toBe(0);
  }, 60_000);

  it('shows an API error next to the field it names, and creates the account once it is right', async () => {
    const page = await logInAsAdmin();
    await page.getByRole('link', { name: 'Accounts' }).click();
    const form = page.locator('#account-form');
    await form.locator('input[name=username]').fill('alice');
    await form.locator('input[name=password]').fill('alice-password');
    await form.locator('select[name=role]').selectOption('user');
    await form.locator('input[name=extension]').fill('9999');
    await form.locator('button[type=submit]').click();
    await form.locator('.field-error[data-for=extension]', { hasText: 'extension 9999 does not exist' }).waitFor();
    await form.locator('input[name=extension]').fill('2001');
    await form.locator('button[type=submit]').click();
    await page.locator('td', { hasText: /^alice$/ }).waitFor();
    expect(await form.locator('.field-error[data-for=extension]').textContent()).toBe('');
  }, 60_000);

  it('gives a user only their own pages, and changes their password there', async () => {
    h = await startApi();
    await h.createAccount('alice', 'alice-password', 'user', '2001');
    const page = await open();
    await logIn(page, 'alice', 'alice-password');
    await page.getByRole('heading', { name: 'Forwarding of 2001' }).waitFor();
    expect(await menu(page)).toEqual(['My forwarding', 'Voicemail', 'Password & PIN']);
    await page.goto(`${h.baseUrl}/#/extensions`);
    await page.getByRole('heading', { name: 'Forwarding of 2001' }).waitFor();
    await page.getByRole('link', { name: 'Password & PIN' }).click();
    const form = page.locator('#password-form');
    await form.locator('input[name=current]').fill('alice-password');
    await form.locator('input[name=password]').fill('short');
    await form.locator('input[name=repeat]').fill('short');
    await form.locator('button[type=submit]').click();
    await form.locator('.field-error[data-for=password]', { hasText: 'at least 8 characters' }).waitFor();
    await form.locator('input[name=current]').fill('alice-password');
    await form.locator('input[name=password]').fill('a-new-password');
    await form.locator('input[name=repeat]').fill('a-new-password');
    await form.locator('button[type=submit]').click();
    await page.getByText('Password changed.').waitFor();
    await page.getByRole('button', { name: 'Log out' }).click();
    await logIn(page, 'alice', 'a-new-password');
    await page.getByRole('heading', { name: 'Forwarding of 2001' }).waitFor();
  }, 60_000);

  // Waits for POST /api/extensions (extension CRUD branch).
  it('adds an extension through the form; a phone registers as it and the page shows it registered', async () => {
    const page = await logInAsAdmin();
    await page.locator('#add-extension').click();
    const form = page.locator('#extension-form');
    await form.locator('input[name=number]').fill('2010');
    await form.locator('input[name=name]').fill('Dave');
    await form.locator('input[name=kana]').fill('デイブ');
    await form.locator('input[name=password]').fill('secret-2010');
    await form.locator('button[type=submit]').click();
    const row = page.locator('tr[data-key="2010"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('Dave');
    await row.locator('.badge.unregistered').waitFor();
    await registeredPhone(h!, '2010', phones);
    await row.locator('.badge.registered').waitFor();
  }, 60_000);

  // Waits for POST /api/extensions/import (CSV branch).
  it('imports a CSV with a bad line: the page names the line, and nothing is added', async () => {
    const page = await logInAsAdmin();
    const csv = [
      'number,name,kana,password,pin,departments,pickupGroups,callerId,ringTimeout,memo',
      '2020,Erin,エリン,secret-2020,,,,,,',
      '2021,Frank,フランク,secret-2021,,,,,not-a-number,',
      '',
    ].join('\n');
    const form = page.locator('#import-form');
    await form.locator('input[name=file]').setInputFiles({ name: 'extensions.csv', mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') });
    await form.locator('button[type=submit]').click();
    await form.locator('.line-error', { hasText: /line 3/ }).waitFor();
    expect(await form.locator('.line-error').count()).toBe(1);
    expect(await page.locator('tr[data-key="2020"]').count()).toBe(0);
  }, 60_000);

  // Waits for GET /api/extensions/:number/forwarding and PUT …/forwarding/:condition (forwarding branch).
  it('a user turns on forwarding in their page, and a real call follows it', async () => {
    h = await startApi();
    await h.createAccount('carol', 'carol-password', 'user', '2003');
    const alice = await registeredPhone(h, '2001', phones);
    const bob = await registeredPhone(h, '2002', phones);
    const page = await open();
    await logIn(page, 'carol', 'carol-password');
    const cfu = page.locator('#condition-cfu');
    await cfu.waitFor();
    await cfu.locator('input[name=on]').check();
    await cfu.locator('input[name=destination]').fill('2002');
    await cfu.locator('button[type=submit]').click();
    await page.getByText('Always (CFU) saved.').waitFor();
    await page.locator('#condition-cfu .badge', { hasText: 'on' }).waitFor();
    expect(await page.locator('#condition-cfu input[name=destination]').inputValue()).toBe('2002');

    const ringing = bob.waitForCall({ timeoutMs: 10_000 });
    const outgoing = await alice.dial('2003');
    const incoming = await ringing;
    const answered = await incoming.answer();
    const caller = await outgoing.answered;
    expect(incoming.request.uri).toContain('2002');
    await caller.hangup();
    await answered.waitForEnd();
  }, 60_000);

  // Waits for GET /api/cdr (CDR branch).
  it('finds the record of a finished call in the CDR search', async () => {
    const page = await logInAsAdmin();
    const alice = await registeredPhone(h!, '2001', phones);
    const bob = await registeredPhone(h!, '2002', phones);
    const ringing = bob.waitForCall({ timeoutMs: 10_000 });
    const outgoing = await alice.dial('2002');
    const callee = await (await ringing).answer();
    const caller = await outgoing.answered;
    await caller.hangup();
    await callee.waitForEnd();

    await page.getByRole('link', { name: 'Call records' }).click();
    const form = page.locator('#cdr-form');
    await form.locator('input[name=number]').fill('2001');
    const rows = page.locator('table.cdr-rows tbody tr');
    await until(
      () => form.locator('button[type=submit]').click(),
      async () => (await rows.count()) > 0,
      'the CDR row of 2001 → 2002',
    );
    const text = await rows.first().textContent();
    expect(text).toContain('2001');
    expect(text).toContain('2002');
    expect(text).toContain('answered');
  }, 60_000);
});
