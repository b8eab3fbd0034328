/**
 * The page's gallery panel in a real headless Chromium: create a collection, enrol real photos
 * under names, identify a photo of an enrolled person and one of a stranger, and read the names
 * the page drew on the boxes. A screenshot goes to test-output/web-gallery.png.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PROJECT_ROOT } from '../models/packs/paths.js';
import { browserSuiteOptions, requireChromium } from './helpers/browser.js';
import { sharedPath } from './helpers/data.js';
import { startServer, type TestServer } from './helpers/server.js';

const cast = (who: string, n: number) => sharedPath('faces', 'face-api.js', 'examples', 'images', who, `${who}${n}.png`);

describe('web page gallery panel (Chromium)', browserSuiteOptions(), () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    const executablePath = requireChromium();
    server = await startServer();
    browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(server.baseUrl);
    await page.locator('#server', { hasText: 'facerest' }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('creates a collection and enrols photos under names; a photo without a face is refused in the page', async () => {
    await page.fill('#new-collection', 'friends');
    await page.click('#create-collection');
    await page.locator('#collection option[value="friends"]').waitFor({ state: 'attached' });
    for (const who of ['penny', 'raj']) {
      await page.fill('#subject', who);
      await page.setInputFiles('#enrol-files', [cast(who, 1), cast(who, 2)]);
      await page.locator('#gallery-log li[data-enrolled]').nth(1).waitFor();
    }
    assert.match(await page.locator('#collection option[value="friends"]').textContent() ?? '', /2 people, 4 faces/);
    await page.fill('#subject', 'nobody');
    await page.setInputFiles('#enrol-files', [sharedPath('faces', 'face-api.js', 'test', 'images', 'white.png')]);
    const refused = page.locator('#gallery-log li[data-error]');
    await refused.waitFor();
    assert.match(await refused.getAttribute('data-error') ?? '', /no face found/);
  });

  it('identifies a photo: the enrolled person by name, a stranger as unknown', async () => {
    await page.setInputFiles('#identify-files', [cast('penny', 3), cast('sheldon', 1)]);
    const names = async (file: string) => {
      const figure = page.locator(`#identified figure[data-file="${file}"]`);
      await figure.and(page.locator('[data-names], [data-error]')).waitFor({ timeout: 30_000 });
      return figure.getAttribute('data-names');
    };
    assert.equal(await names('penny3.png'), 'penny');
    assert.equal(await names('sheldon1.png'), 'unknown');
    const dir = join(PROJECT_ROOT, 'test-output');
    await mkdir(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'web-gallery.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });
});
