// A real browser for the web console tests (issue #12): Debian's chromium driven by playwright-core, headless,
// with a fresh profile each time and nothing that reaches the internet. Installed by scripts/install-test-peers.sh.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.HIBIKI_CHROMIUM ?? '/usr/bin/chromium';

const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface TestBrowser {
  context: BrowserContext;
  /** A new tab; its console errors, page errors and CSP violations are collected in `problems`. */
  page(): Promise<Page>;
  /** Every error the pages reported (uncaught exceptions, console.error, blocked resources). */
  problems: string[];
  close(): Promise<void>;
}

/**
 * Chromium flags for the browser phone: the microphone is a fake device that plays `wav` (looped), asked
 * without a prompt; remote audio plays without a click; hibiki's self-signed WSS certificate is accepted.
 */
export function fakeMicrophoneArgs(wav: string): string[] {
  return [
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${wav}`,
    '--autoplay-policy=no-user-gesture-required',
    '--ignore-certificate-errors',
  ];
}

export async function launchBrowser(opts: { locale?: string; args?: string[] } = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'hibiki-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...chromiumArgs, ...(opts.args ?? [])],
    locale: opts.locale ?? 'en-US',
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (m: ConsoleMessage) => {
      // A failed API call is answered on the page itself (401 on a wrong password, 404 for a route
      // another branch adds); the browser logs those as "Failed to load resource", which is not a fault.
      // A refused event stream is not one either: the console then reloads its live views by polling.
      const expected = m.text().startsWith('Failed to load resource') || m.text().startsWith('WebSocket connection to');
      if (m.type() === 'error' && !expected) problems.push(`console: ${m.text()}`);
    });
  };
  context.on('page', watch);
  for (const p of context.pages()) watch(p);
  return {
    context,
    problems,
    async page() {
      const existing = context.pages().find((p) => p.url() === 'about:blank');
      return existing ?? context.newPage();
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
