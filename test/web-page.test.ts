/**
 * The web page at `/` in a real headless Chromium (Debian's chromium, driven by playwright-core):
 * uploads real photos, reads what the page drew, and checks that errors show in the page.
 * A screenshot goes to test-output/web-page.png.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { FaceGrpcClient } from '../clients/node/grpc-client.js';
import { PROJECT_ROOT } from '../models/packs/paths.js';
import { browserSuiteOptions, requireChromium } from './helpers/browser.js';
import { BBT, sharedPath } from './helpers/data.js';
import { startServer, type TestServer } from './helpers/server.js';

const WHITE = sharedPath('faces', 'face-api.js', 'test', 'images', 'white.png');
const photo = (rel: string) => sharedPath('faces', rel);

/** The figure of an uploaded file, once the page has processed it (faces drawn, or an error). */
async function processed(page: Page, file: string) {
  const figure = page.locator(`figure[data-file="${file}"]`).last();
  await figure.and(page.locator('[data-faces], [data-error]')).waitFor({ timeout: 30_000 });
  return {
    faces: await figure.getAttribute('data-faces'),
    error: await figure.getAttribute('data-error'),
    crops: await figure.locator('.crop img').count(),
  };
}

// One skip line for both suites when Chromium is missing outside CI (helpers/browser.ts).
describe('web page (Chromium)', browserSuiteOptions(), () => {
  describe('web page in headless Chromium', () => {
    let server: TestServer;
    let browser: Browser;
    let page: Page;
    const pageErrors: string[] = [];
    /** Content types of the Extract calls the page made, in order. */
    const extractTypes: string[] = [];

    before(async () => {
      const executablePath = requireChromium();
      server = await startServer();
      browser = await chromium.launch({
        executablePath,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      page.on('pageerror', (err) => pageErrors.push(err.message));
      page.on('request', (r) => {
        if (r.url().endsWith('/facerest.v1.FaceService/Extract')) extractTypes.push(r.headers()['content-type'] ?? '');
      });
      await page.goto(server.baseUrl);
      await page.locator('#server', { hasText: 'facerest' }).waitFor();
    });
    after(async () => {
      await browser?.close();
      await server?.stop();
    });

    it('draws 4 faces for bbt1.jpg and none for white.png, with their crops (Connect)', async () => {
      await page.setInputFiles('#files', [photo(BBT[0]), WHITE]);
      const bbt1 = await processed(page, 'bbt1.jpg');
      const white = await processed(page, 'white.png');
      assert.equal(bbt1.faces, '4');
      assert.equal(bbt1.crops, 4);
      // Each crop shows its face's quality, the number the server computed for that face.
      const shown = await page.locator('figure[data-file="bbt1.jpg"] .crop .quality').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-quality'))));
      const grpc = new FaceGrpcClient(server.address);
      const expected = (await grpc.extract({ images: [{ data: readFileSync(photo(BBT[0])) }] })).results[0].faces.map((f) => f.quality!.overall);
      grpc.close();
      assert.deepEqual(shown.map((q) => q.toFixed(3)), expected.map((q) => q.toFixed(3)));
      assert.match(await page.locator('figure[data-file="bbt1.jpg"] .crop .quality').first().getAttribute('title') ?? '', /^quality 0\.\d\d: yaw -?\d+°, pitch/);
      assert.equal(white.faces, '0');
      assert.equal(white.error, null);
      // Connect's binary format: its JSON would carry each photo as base64 for the server to parse.
      assert.ok(extractTypes.length >= 2 && extractTypes.every((t) => /^application\/proto/.test(t)), extractTypes.join());
    });

    it('compares every face with every other, coloured by the measured threshold', async () => {
      // Two photos of one person (deepface identities.csv; cosine 0.68 with the default pack).
      await page.setInputFiles('#files', [photo('deepface/img1.jpg'), photo('deepface/img2.jpg')]);
      assert.equal((await processed(page, 'img1.jpg')).faces, '1');
      assert.equal((await processed(page, 'img2.jpg')).faces, '1');
      const n = 6; // bbt1's 4 faces, then img1's and img2's
      const cells = await page.locator('#matrix td').evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-similarity'))));
      assert.equal(cells.length, n * n);
      for (let i = 0; i < n; i++) {
        assert.ok(Math.abs(cells[i * n + i] - 1) < 1e-3);
        for (let j = 0; j < n; j++) assert.ok(Math.abs(cells[i * n + j] - cells[j * n + i]) < 1e-4);
      }
      const sameCell = page.locator('#matrix tbody tr').nth(4).locator('td').nth(5);
      assert.equal(await sameCell.getAttribute('title'), 'same person');
      const labels = await page.locator('#matrix thead th').allInnerTexts();
      assert.deepEqual(labels.map((l) => l.trim()), ['', 'A1', 'A2', 'A3', 'A4', 'C1', 'D1']);
      assert.match(await page.locator('#threshold').innerText(), /same person \(at or above 0\.440/);
      await mkdir(join(PROJECT_ROOT, 'test-output'), { recursive: true });
      await page.screenshot({ path: join(PROJECT_ROOT, 'test-output', 'web-page.png'), fullPage: true });
    });

    it('works over gRPC-Web too', async () => {
      await page.selectOption('#protocol', 'grpc-web');
      await page.locator('#server', { hasText: 'gRPC-Web' }).waitFor();
      const before = extractTypes.length;
      await page.setInputFiles('#files', [photo(BBT[1])]);
      assert.equal((await processed(page, 'bbt2.jpg')).faces, '3');
      assert.match(extractTypes[before] ?? '', /^application\/grpc-web/);
    });

    it('shows a file that is not an image as an error on its card, and goes on', async () => {
      await page.setInputFiles('#files', [
        { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('this is not an image') },
        { name: 'bbt3.jpg', mimeType: 'image/jpeg', buffer: readFileSync(photo(BBT[2])) },
      ]);
      const bad = await processed(page, 'notes.txt');
      assert.equal(bad.faces, null);
      assert.match(bad.error ?? '', /image/i);
      assert.match(await page.locator('figure[data-file="notes.txt"] figcaption').innerText(), /notes\.txt: .*image/i);
      assert.equal((await processed(page, 'bbt3.jpg')).faces, '5');
    });

    it('says so in the page when the server is down', async () => {
      await server.stop();
      await page.setInputFiles('#files', [photo(BBT[3])]);
      const down = await processed(page, 'bbt4.jpg');
      assert.match(down.error ?? '', /cannot reach the facerest server/);
      assert.match(await page.locator('#status.error').innerText(), /cannot reach the facerest server/);
      assert.deepEqual(pageErrors, []);
    });
  });

  describe('web page with API keys', () => {
    const KEY = 'page-key-0123456789abcdef';
    let server: TestServer;
    let browser: Browser;
    let page: Page;
    before(async () => {
      const executablePath = requireChromium();
      server = await startServer({ FACEREST_API_KEYS: KEY });
      browser = await chromium.launch({
        executablePath,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      page = await browser.newPage();
      await page.goto(server.baseUrl);
    });
    after(async () => {
      await browser?.close();
      await server?.stop();
    });

    it('says a key is needed, then works once it is typed in', async () => {
      await page.locator('#status.error', { hasText: 'needs an API key' }).waitFor();
      await page.fill('#api-key', KEY);
      await page.locator('#api-key').dispatchEvent('change');
      await page.locator('#server', { hasText: 'facerest' }).waitFor();
      await page.setInputFiles('#files', [photo(BBT[0])]);
      assert.equal((await processed(page, 'bbt1.jpg')).faces, '4');
    });
  });
});
