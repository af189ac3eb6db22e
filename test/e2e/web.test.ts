/**
 * The web app end to end: a real server over a real context (see server.ts) and Debian's
 * chromium driven by playwright-core. Screenshots go to test/e2e/artifacts/; with
 * PARASOL_DOCS_SCREENSHOTS=1 the README's docs/screenshot-*.png are refreshed too.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startTestServer, USES_MINI_PACK, type TestServer } from './server.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test/e2e/artifacts');
const DOCS = path.join(ROOT, 'docs');
/** The page size the app asks for. */
const PAGE = 24;
const WRITE_DOCS = process.env.PARASOL_DOCS_SCREENSHOTS === '1';

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`e2e: ${CHROMIUM} is missing (apt-get install -y chromium); the browser tests are skipped`);

describe.skipIf(!hasChromium)('web app', () => {
  let server: TestServer;
  let browser: BrowserContext;
  let profile: string;
  let page: Page;
  /** What an empty POST /v1/generate answers: INVALID_QUERY where generation works. */
  let generateProbe = '';

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    profile = await mkdtemp(path.join(tmpdir(), 'parasol-chromium-'));
    const [started, context] = await Promise.all([
      startTestServer(),
      chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
        viewport: { width: 1280, height: 900 },
      }),
    ]);
    server = started;
    browser = context;
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    const probe = await fetch(`${server.url}/v1/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    generateProbe = ((await probe.json()) as { error?: { code?: string } }).error?.code ?? '';
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  const shot = async (name: string, docsName?: string) => {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: false });
    if (WRITE_DOCS && docsName) {
      await mkdir(DOCS, { recursive: true });
      await page.screenshot({ path: path.join(DOCS, docsName), fullPage: false });
    }
  };
  const idle = () => page.waitForFunction(() => document.querySelector('.view-search')?.getAttribute('aria-busy') !== 'true');
  const cardIds = () => page.$$eval('.card', (cards) => cards.map((c) => (c as HTMLElement).dataset.id ?? ''));
  const cardSources = () => page.$$eval('.card', (cards) => cards.map((c) => (c as HTMLElement).dataset.source ?? ''));

  async function textSearch(what: string, style = ''): Promise<void> {
    const view = page.locator('.view-search');
    await view.getByLabel('What', { exact: true }).fill(what);
    await view.getByLabel('Style', { exact: true }).fill(style);
    await view.getByLabel('What', { exact: true }).press('Enter');
    await page.locator('.crumbs li').first().waitFor();
    await idle();
  }

  it('searches by text and shows result cards with scores and licences', async () => {
    await page.goto(server.url);
    await expect(page.title()).resolves.toContain('Parasol');
    await textSearch('smiling face', 'flat');
    const cards = page.locator('.card');
    expect(await cards.count()).toBeGreaterThan(0);
    await expect(page.locator('.card .scores').first().innerText()).resolves.toMatch(/content\s+-?\d\.\d\d\s+style\s+-?\d\.\d\d/);
    await expect(page.locator('.card .licence').first().innerText()).resolves.not.toBe('');
    await expect(page.getByRole('status').first().innerText()).resolves.toMatch(/\d+ (of \d+ )?results? shown/);
    const url = new URL(page.url());
    expect(url.searchParams.get('q')).toBe('smiling face');
    expect(url.searchParams.get('sid')).toBeTruthy();
    // Thumbnails load from the API.
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('.card img');
      return img !== null && img.complete && img.naturalWidth > 0;
    });
    await shot('search', 'screenshot-search.png');
  });

  it('loads more results on scroll (cursor pagination)', async () => {
    const before = await page.locator('.card').count();
    const hasMore = await page.locator('button.more').isVisible();
    if (!hasMore) return; // everything fit on one page
    await page.locator('.sentinel').scrollIntoViewIfNeeded();
    await page.waitForFunction((n) => document.querySelectorAll('.card').length > n, before);
    const ids = await cardIds();
    expect(new Set(ids).size).toBe(ids.length);
    await page.evaluate(() => window.scrollTo(0, 0));
  });

  it('fits a phone-sized screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    expect(await page.locator('.card').count()).toBeGreaterThan(0);
    await shot('search-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('moves through the grid with the arrow keys', async () => {
    await page.locator('.card').first().focus();
    await page.keyboard.press('ArrowRight');
    const focused = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.id);
    expect(focused).toBe((await cardIds())[1]);
    await page.keyboard.press('Home');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.id)).toBe((await cardIds())[0]);
  });

  const DISTINCT_STYLE = 'openmoji';

  it('refines with "more like this style", then undoes it', async () => {
    await textSearch('smiling face');
    const initial = await cardIds();
    // The style set is checked on an OpenMoji card: its black-outlined style is one the mini style
    // encoder separates from every other set. It does not separate the colourful cartoon sets
    // (noto, noto-v1, emojione, …) from each other, nor the held-out monochrome set from Fluent's
    // high-contrast one — a limit of the mini pack recorded in models/mini/CARD.md.
    const sources = await cardSources();
    const index = sources.indexOf(DISTINCT_STYLE);
    expect(index, `no ${DISTINCT_STYLE} card among ${sources.join(',')}`).toBeGreaterThanOrEqual(0);
    const clicked = page.locator('.card').nth(index);
    const clickedSource = await clicked.getAttribute('data-source');
    const clickedId = initial[index];
    await clicked.getByRole('button', { name: /^More like this style/ }).click();
    await page.locator('.crumbs li').nth(1).waitFor();
    await idle();
    const refined = await cardIds();
    expect(refined.length).toBeGreaterThan(0);
    expect(new URL(page.url()).searchParams.getAll('r')).toEqual([`ls:${clickedId}`]);
    const refinedSources = await cardSources();
    const share = refinedSources.filter((s) => s === clickedSource).length / refinedSources.length;
    const before = sources.filter((s) => s === clickedSource).length / sources.length;
    if (USES_MINI_PACK) {
      // A style click hands the lead to style (style weighs as much as content and words together,
      // README "Refinement"), so the page moves to the clicked set although every set titles its
      // emoji "smiling face". Measured before that rule (mini v1): 0.08 → 0.42; with it, mini v1
      // 0.88, mini v2 0.46 — its style encoder puts Streamline's black-outlined faces beside
      // OpenMoji's, so the clicked set leads the page without filling it (README "Refinement").
      console.info(`e2e: ${clickedSource} share ${before.toFixed(2)} → ${share.toFixed(2)}`);
      expect(share, `results from ${clickedSource}: ${refinedSources.join(',')}`).toBeGreaterThanOrEqual(0.4);
      expect(share).toBeGreaterThan(before * 3);
      const counts = new Map<string, number>();
      for (const source of refinedSources) counts.set(source, (counts.get(source) ?? 0) + 1);
      expect(Math.max(...counts.values()), 'the clicked set leads the page').toBe(counts.get(clickedSource as string));
    } else {
      console.warn(`e2e: models/mini/pack.json is missing; with the tiny random pack the style-set assertion is skipped (share ${share.toFixed(2)})`);
    }
    await shot('more-like-this-style');
    // The sliders show the weights the step searched with: style raised to content + words
    // (1 + 1: the demo items carry titles), marked as changed; the session says the same.
    const view = page.locator('.view-search');
    const session = (await (await fetch(`${server.url}/v1/sessions/${new URL(page.url()).searchParams.get('sid')}`)).json()) as {
      session: { weights: { content: number; style: number; text: number } };
    };
    expect(session.session.weights).toEqual({ content: 1, style: 2, text: 1 });
    await expect(view.getByLabel('Style weight').inputValue()).resolves.toBe('2');
    await expect(view.locator('.weight-style .weight-value').innerText()).resolves.toBe('2.0');
    await expect(view.locator('.weight-style').getAttribute('class')).resolves.toContain('weight-adjusted');
    await expect(view.getByLabel('Content weight').inputValue()).resolves.toBe('1');
    await expect(view.getByLabel('Words weight').inputValue()).resolves.toBe('1');

    // The browser's back and forward buttons walk the trail too.
    await page.goBack();
    await page.waitForFunction(() => document.querySelectorAll('.crumbs li').length === 1);
    await idle();
    expect((await cardIds()).slice(0, PAGE)).toEqual(initial.slice(0, PAGE));
    // Back at the first step the sliders show its weights again.
    await expect(view.getByLabel('Style weight').inputValue()).resolves.toBe('1');
    await expect(view.locator('.weight-style').getAttribute('class')).resolves.not.toContain('weight-adjusted');
    await page.goForward();
    await page.waitForFunction(() => document.querySelectorAll('.crumbs li').length === 2);
    await idle();
    expect((await cardIds()).slice(0, PAGE)).toEqual(refined.slice(0, PAGE));

    await expect(view.getByLabel('Style weight').inputValue()).resolves.toBe('2');

    await page.getByRole('button', { name: 'Undo' }).click();
    await page.waitForFunction(() => document.querySelectorAll('.crumbs li').length === 1);
    await idle();
    expect((await cardIds()).slice(0, PAGE)).toEqual(initial.slice(0, PAGE));
    await expect(view.getByLabel('Style weight').inputValue()).resolves.toBe('1');
    expect(new URL(page.url()).searchParams.getAll('r')).toEqual([]);
  });

  it('restores a shared link, replaying the trail when its session has expired', async () => {
    await textSearch('smiling face');
    await page.locator('.card').first().getByRole('button', { name: /^More like this content/ }).click();
    await page.locator('.crumbs li').nth(1).waitFor();
    await idle();
    const refined = await cardIds();
    const url = new URL(page.url());
    url.searchParams.set('sid', 'expired-session');
    await page.goto(url.toString());
    await page.locator('.crumbs li').nth(1).waitFor();
    await idle();
    expect((await cardIds()).slice(0, PAGE)).toEqual(refined.slice(0, PAGE));
    const restored = new URL(page.url());
    expect(restored.searchParams.get('sid')).not.toBe('expired-session');
    expect(restored.searchParams.getAll('r')).toEqual(url.searchParams.getAll('r'));
    // Back to step 0 through the breadcrumb.
    await page.locator('.crumbs button.crumb').first().click();
    await page.waitForFunction(() => document.querySelectorAll('.crumbs li').length === 1);
  });

  it('sends the words weight beside content and style, asks for facets, and shows three scores', async () => {
    const view = page.locator('.view-search');
    await view.getByLabel('Words weight').fill('0.5');
    await expect(view.locator('.weight-text .weight-value').innerText()).resolves.toBe('0.5');
    const sent = page.waitForRequest((req) => req.method() === 'POST' && new URL(req.url()).pathname === '/v1/sessions');
    await textSearch('cat');
    const body = (await sent).postDataJSON() as { q?: string; weights?: { content?: number; style?: number; text?: number }; facets?: string[] };
    expect(body.q).toBe('cat');
    expect(body.weights).toEqual({ content: 1, style: 1, text: 0.5 });
    expect(body.facets).toEqual(['source', 'license', 'tags']);
    expect(new URL(page.url()).searchParams.get('wt')).toBe('0.5');
    // Every card shows content, style and words (a dash where a signal took no part).
    await expect(page.locator('.card .scores').first().innerText()).resolves.toMatch(/content\s+(-?\d\.\d\d|—)\s+style\s+(-?\d\.\d\d|—)\s+words\s+(\d\.\d\d|—)/);
    // Explained, a card lists the words it matched (the demo's titles are the emoji's names).
    await view.getByLabel(/Explain scores/).check();
    await page.locator('.card .terms').first().waitFor();
    await idle();
    let terms = await page.locator('.card .terms').allInnerTexts();
    expect(terms.length).toBe(await page.locator('.card').count());
    await textSearch('smiling face');
    terms = await page.locator('.card .terms').allInnerTexts();
    expect(terms.some((t) => /^matched: .*\b(smil|face)/.test(t)), terms.join(' | ')).toBe(true);
    await view.getByLabel(/Explain scores/).uncheck();
    await page.waitForFunction(() => document.querySelectorAll('.card .terms').length === 0);
    await view.getByLabel('Words weight').fill('1');
  });

  it('narrows to a facet value on click, counts update, and the filter can be removed', async () => {
    const firstPage = page.waitForResponse((res) => res.request().method() === 'POST' && new URL(res.url()).pathname === '/v1/sessions');
    await textSearch('smiling face');
    const answered = (await (await firstPage).json()) as { facets?: { source?: Array<{ value: string; count: number }> }; total?: number };
    // The server counts each collection over the candidates; the panel lists them with their counts.
    const sources = answered.facets?.source ?? [];
    expect(sources.length).toBeGreaterThan(1);
    const panel = page.getByRole('complementary', { name: 'Narrow the results' });
    await panel.waitFor();
    const buttons = panel.locator('.facet-value[data-field="source"]');
    expect(await buttons.count()).toBe(sources.length);
    await expect(buttons.first().innerText()).resolves.toMatch(new RegExp(`${sources[0].value}\\s+${sources[0].count}`));
    await shot('search-facets');

    const picked = sources[1];
    const narrowed = page.waitForRequest((req) => req.method() === 'POST' && new URL(req.url()).pathname === '/v1/sessions');
    const narrowedAnswer = page.waitForResponse((res) => res.request().method() === 'POST' && new URL(res.url()).pathname === '/v1/sessions');
    await panel.locator(`.facet-value[data-field="source"][data-value="${picked.value}"]`).click();
    expect(((await narrowed).postDataJSON() as { filters?: unknown }).filters).toEqual({ sources: [picked.value] });
    const after = (await (await narrowedAnswer).json()) as { facets?: { source?: Array<{ value: string; count: number }> } };
    await idle();
    expect(new Set(await cardSources())).toEqual(new Set([picked.value]));
    expect(new URL(page.url()).searchParams.getAll('source')).toEqual([picked.value]);
    // The counts are the narrowed set's: one collection left, the active filter shown instead of it.
    expect(after.facets?.source?.map((v) => v.value)).toEqual([picked.value]);
    const chip = panel.getByRole('button', { name: `Remove filter Collection: ${picked.value}` });
    await chip.waitFor();
    expect(await panel.locator('.facet-value[data-field="source"]').count()).toBe(0);

    await chip.click();
    await page.waitForFunction(() => !new URL(location.href).searchParams.has('source'));
    await idle();
    expect(new Set(await cardSources()).size).toBeGreaterThan(1);
    expect(await panel.locator('.facet-value[data-field="source"]').count()).toBe(sources.length);
  });

  it('switches between the indexed collections with the Collection picker, through the same filter as the facets', async () => {
    const listed = (await (await fetch(`${server.url}/v1/sources`)).json()) as { sources: Array<{ value: string; count: number }> };
    expect(listed.sources.length).toBeGreaterThan(1);
    const picker = page.locator('.view-search').getByRole('combobox', { name: 'Collection' });
    await picker.waitFor();
    const options = await picker.locator('option').allInnerTexts();
    expect(options[0]).toMatch(/^All collections \(\d+\)$/);
    expect(options.slice(1)).toEqual(listed.sources.map((s) => `${s.value} (${s.count})`));
    await textSearch('smiling face');
    const sessionPost = (req: { method(): string; url(): string }) => req.method() === 'POST' && new URL(req.url()).pathname === '/v1/sessions';
    for (const chosen of [DISTINCT_STYLE, listed.sources[listed.sources.length - 1].value]) {
      const sent = page.waitForRequest(sessionPost);
      await picker.selectOption(chosen);
      expect(((await sent).postDataJSON() as { filters?: unknown }).filters).toEqual({ sources: [chosen] });
      await page.waitForFunction((value) => new URL(location.href).searchParams.get('source') === value, chosen);
      await idle();
      expect(new Set(await cardSources())).toEqual(new Set([chosen]));
      await page.getByRole('button', { name: `Remove filter Collection: ${chosen}` }).waitFor();
      expect(await picker.inputValue()).toBe(chosen);
    }
    await shot('search-collection');
    await picker.selectOption('');
    await page.waitForFunction(() => !new URL(location.href).searchParams.has('source'));
    await idle();
    expect(new Set(await cardSources()).size).toBeGreaterThan(1);
  });

  it('shows the API error for a bad upload and keeps working', async () => {
    const bad = Buffer.from('this is not an image at all');
    const form = new FormData();
    form.set('query', '{}');
    form.set('contentImage', new Blob([bad]), 'bad.png');
    const expected = (await (await fetch(`${server.url}/v1/sessions`, { method: 'POST', body: form })).json()) as { error: { message: string } };

    await page.locator('[data-field="q"] input[type=file]').setInputFiles({ name: 'bad.png', mimeType: 'image/png', buffer: bad });
    const alert = page.locator('.view-search .error');
    await alert.waitFor({ state: 'visible' });
    await expect(alert.innerText()).resolves.toContain(expected.error.message);
    await shot('bad-upload');

    await page.getByRole('button', { name: 'Remove the what image' }).click();
    await textSearch('cat');
    expect(await alert.isVisible()).toBe(false);
    expect(await page.locator('.card').count()).toBeGreaterThan(0);
  });

  it('takes an image dropped on the style field as the style query', async () => {
    const id = (await cardIds())[0];
    await page.evaluate(async (itemId) => {
      const blob = await (await fetch(`/v1/items/${encodeURIComponent(itemId)}/thumbnail`)).blob();
      const data = new DataTransfer();
      data.items.add(new File([blob], 'style.webp', { type: blob.type }));
      const zone = document.querySelector('[data-drop="style"]')!;
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    }, id);
    await page.waitForFunction(() => document.querySelector('.crumbs li')?.textContent?.includes('drawn like an image'));
    await idle();
    expect(await page.locator('.card').count()).toBeGreaterThan(0);
    expect(new URL(page.url()).searchParams.get('img')).toBe('s');
    await expect(page.locator('[data-field="style"] .image-chip').innerText()).resolves.toContain('style.webp');
    await page.getByRole('button', { name: 'Remove the style image' }).click();
  });

  it('interpolates between two styles and two contents', async () => {
    await page.getByRole('link', { name: 'Interpolate' }).click();
    const view = page.locator('.view-interpolate');
    await view.getByLabel('Style A text').fill('flat');
    await view.getByLabel('Style B text').fill('outlined black and white');
    await view.getByLabel('Content A text').fill('cat');
    await view.getByLabel('Content B text').fill('apple');
    await view.getByLabel('Grid').selectOption('2');
    await view.getByRole('button', { name: 'Interpolate' }).click();
    await page.locator('.interp-cell').first().waitFor();
    expect(await page.locator('.interp-cell').count()).toBe(4);
    await shot('interpolate');
  });

  it('the generate panel says generation is not available on a server without the generate routes', async () => {
    server.setGenerateMode('absent');
    try {
      await page.goto(`${server.url}/generate`);
      const notice = page.locator('.view-generate .unavailable');
      await notice.waitFor({ state: 'visible' });
      await expect(notice.innerText()).resolves.toMatch(/Generation is not available on this server\..*no generation routes/);
      expect(await page.locator('.view-generate').getByRole('button', { name: 'Generate', exact: true }).isDisabled()).toBe(true);
      await shot('generate-absent');
    } finally {
      server.setGenerateMode('real');
    }
  });

  it('generates an image from a pinned result and searches with it (or says the pack cannot generate)', async () => {
    // Pin a result to use as the content.
    await page.goto(server.url);
    await textSearch('smiling face');
    const first = page.locator('.card').first();
    const title = (await first.locator('.card-title').innerText()).trim();
    await first.locator('button.pin').click();
    expect(await first.locator('button.pin').getAttribute('aria-pressed')).toBe('true');

    await page.getByRole('link', { name: 'Generate' }).click();
    const view = page.locator('.view-generate');
    if (generateProbe === 'GENERATION_UNAVAILABLE') {
      console.warn('e2e: the model pack has no generator; checking the "not available" message instead of a generation');
      await view.locator('.unavailable').waitFor({ state: 'visible' });
      await expect(view.locator('.unavailable').innerText()).resolves.toContain('Generation is not available on this server');
      return;
    }
    // An untouched panel asks for the engine's own defaults (λ = T / 2 rounded, g_s 5, g_y 3).
    await expect(view.getByLabel('λ (style switch)').inputValue()).resolves.toBe('13');
    await expect(view.getByLabel('g_s (style guidance)').inputValue()).resolves.toBe('5');
    await expect(view.getByLabel('g_y (content guidance)').inputValue()).resolves.toBe('3');
    await view.getByLabel('Content: text or a pinned result').selectOption({ label: title });
    await view.getByLabel('Style text').fill('flat');
    // The README's screenshot shows the engine's default 25 steps; the test itself runs 4.
    const steps = WRITE_DOCS ? '25' : '4';
    await view.getByLabel('Steps', { exact: true }).fill(steps);

    // A full queue: the panel says the server is busy and keeps working.
    server.setGenerateMode('busy');
    try {
      await view.getByRole('button', { name: 'Generate', exact: true }).click();
      const alert = view.locator('.error');
      await alert.waitFor({ state: 'visible' });
      await expect(alert.innerText()).resolves.toMatch(/busy.*queue is full/i);
    } finally {
      server.setGenerateMode('real');
    }

    await view.getByLabel('Seed', { exact: true }).fill('7');
    await view.getByRole('button', { name: 'Generate', exact: true }).click();
    await view.locator('.gen-image').waitFor({ timeout: 45_000 });
    await page.waitForFunction(() => (document.querySelector<HTMLImageElement>('.gen-image')?.naturalWidth ?? 0) > 0);
    expect(await view.locator('.error').isVisible()).toBe(false);
    const provenance = await view.locator('.provenance').innerText();
    expect(provenance).toContain(title);
    expect(provenance).toMatch(/Seed\s+7/);
    expect(provenance).toMatch(new RegExp(`server: steps\\s+${steps}`));
    expect(await view.getByRole('link', { name: 'Download' }).getAttribute('download')).toBe('parasol-7.png');
    await shot('generate', 'screenshot-generate.png');

    await view.getByRole('button', { name: 'Search with this image' }).click();
    await page.waitForURL((url) => url.pathname === '/' && url.searchParams.get('img') === 'c');
    await page.locator('.crumbs li').first().waitFor();
    await idle();
    expect(await page.locator('.card').count()).toBeGreaterThan(0);
    await shot('generate-search', 'screenshot-generate-search.png');
    await expect(page.locator('.crumbs li').first().innerText()).resolves.toContain('an image');
  });
});
