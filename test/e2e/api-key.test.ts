/**
 * The web app on a server that needs keys: a 401 opens the "API key" dialog with the field
 * focused; the saved key goes to localStorage and into `Authorization: Bearer` on API calls,
 * and thumbnails load too.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './server.js';

const CHROMIUM = '/usr/bin/chromium';

describe.skipIf(!existsSync(CHROMIUM))('web app with API keys', () => {
  let server: TestServer;
  let browser: BrowserContext;
  let profile: string;
  let page: Page;
  let secret: string;

  beforeAll(async () => {
    profile = await mkdtemp(path.join(tmpdir(), 'parasol-chromium-'));
    [server, browser] = await Promise.all([
      startTestServer({ contents: 4 }),
      chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
        viewport: { width: 1280, height: 900 },
      }),
    ]);
    // A key exists: from now on the server requires one.
    secret = (await server.context.keys.create({ name: 'web', scopes: ['search'] })).secret;
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  async function search(what: string): Promise<void> {
    const view = page.locator('.view-search');
    await view.getByLabel('What', { exact: true }).fill(what);
    await view.getByLabel('What', { exact: true }).press('Enter');
  }

  it('asks for a key on 401, stores it and sends it as a Bearer token', async () => {
    await page.goto(server.url);
    await search('smiling face');
    const dialog = page.locator('dialog.key-dialog');
    await dialog.waitFor({ state: 'visible' });
    await expect(dialog.innerText()).resolves.toContain('This server needs an API key');
    await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('api-key');

    await dialog.getByLabel('Key').fill(secret);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect(page.evaluate(() => localStorage.getItem('parasol.apiKey'))).resolves.toBe(secret);
    await expect(page.locator('.key-button').innerText()).resolves.toContain('✓');

    const sent = page.waitForRequest((req) => req.url().includes('/v1/') && req.method() === 'POST');
    await search('smiling face');
    expect((await sent).headers().authorization).toBe(`Bearer ${secret}`);
    await page.locator('.card').first().waitFor();
    expect(await dialog.isVisible()).toBe(false);
    // Thumbnails (plain <img> requests) are refetched with the key.
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('.card img');
      return img !== null && img.complete && img.naturalWidth > 0;
    });
  });
});
