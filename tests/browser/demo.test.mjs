// The demo page end to end: Chromium (playwright-core driving Debian's /usr/bin/chromium)
// opens `/` of the local Worker, fills the form with the keyboard, stashes a loopback PNG,
// sees the preview and working links, then a bad key and a bad URL rejected beside their
// fields. Screenshots land in tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startOrigin } from '../http/support/origin.mjs';
import { startWorker, get, KEYS } from '../http/support/worker.mjs';
import { png, sha256 } from '../http/support/fixtures.mjs';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const ARTIFACTS = path.join(ROOT, 'tests/artifacts');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--no-first-run', '--disable-quic', '--disable-sync'];

let origin;
let worker;
let profile;
let context;
let page;
const pageErrors = [];

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  origin = await startOrigin();
  worker = await startWorker({ allow: [origin.host] });
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1100, height: 1400 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (err) => pageErrors.push(err.message));
});
after(async () => {
  await context?.close();
  await worker?.stop();
  await origin?.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

/** Types into the focused element and moves on with Tab (keyboard only). */
async function typeAndTab(text, tabs = 1) {
  await page.keyboard.type(text);
  for (let i = 0; i < tabs; i++) await page.keyboard.press('Tab');
}

const focusedId = () => page.evaluate(() => document.activeElement?.id);

test('the page and the API share one origin', async () => {
  const home = await get(`${worker.url}/`);
  assert.equal(home.status, 200);
  assert.match(home.headers.get('content-type'), /^text\/html/);
  const health = await get(`${worker.url}/api/v1/health`);
  assert.deepEqual(JSON.parse(health.body), { ok: true });
  const missing = await get(`${worker.url}/api/v1/nothing`);
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.body).code, 404);
  const wasm = await get(`${worker.url}/pkg/urlstash_bg.wasm`);
  assert.equal(wasm.status, 200, 'www/pkg is built (make pkg)');
  assert.equal(wasm.headers.get('content-type'), 'application/wasm', 'streaming instantiation needs it');
});

test('stash a PNG from the keyboard: preview, details, working links', { timeout: 120_000 }, async () => {
  const bytes = png(160, 100);
  const fileUrl = origin.file('/photos/gradient.png', bytes, { contentType: 'image/png' });
  await page.goto(`${worker.url}/`);
  await page.locator('#service[data-state="up"]').waitFor();

  // Keyboard only: skip link, key, show/hide, URL, folder, name, then Enter.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'skip');
  await page.keyboard.press('Tab');
  assert.equal(await focusedId(), 'api-key');
  await typeAndTab(KEYS.a.key, 2);
  assert.equal(await focusedId(), 'file-url');
  await typeAndTab(fileUrl);
  await typeAndTab('demo/e2e');
  await page.keyboard.type('gradient.png');
  // Record the busy state as it changes: on while the upload runs, off after.
  await page.evaluate(() => {
    window.busyLog = [];
    const form = document.getElementById('upload-form');
    const button = document.getElementById('submit');
    new MutationObserver(() => window.busyLog.push(`${form.getAttribute('aria-busy')}/${button.disabled}`))
      .observe(form, { attributes: true, attributeFilter: ['aria-busy'] });
  });
  await page.keyboard.press('Enter');

  await page.locator('#result:not([hidden])').waitFor({ timeout: 60_000 });
  assert.equal(await page.locator('#result-title').textContent(), 'gradient.png');
  assert.equal(await page.locator('#result-type').textContent(), 'image/png');
  assert.equal(await page.locator('#result-path').textContent(), 'demo/e2e');
  assert.match(await page.locator('#result-size').textContent(), /^\d+(\.\d)? (bytes|KB)$/);
  assert.match(await page.locator('#form-status').textContent(), /Stored gradient\.png/);
  assert.match(await page.locator('#result-countdown').textContent(), /^\(in 2 d \d+ h \d+ min \d+ s\)$/);
  assert.ok((await page.locator('#result-expires').textContent()).length > 4);
  assert.equal(await focusedId(), 'result', 'focus moves to the result');
  assert.deepEqual(await page.evaluate(() => window.busyLog), ['true/true', 'false/false']);

  // The preview is the stored image, decoded by the browser.
  await page.waitForFunction(() => {
    const img = document.getElementById('preview-img');
    return img.complete && img.naturalWidth > 0;
  });
  const size = await page.locator('#preview-img').evaluate((img) => [img.naturalWidth, img.naturalHeight]);
  assert.deepEqual(size, [160, 100]);

  // Both links serve the origin's bytes; the buttons point at them.
  const fileLink = await page.locator('#file-url-out').inputValue();
  const downloadLink = await page.locator('#download-url-out').inputValue();
  assert.equal(await page.locator('#file-url-open').getAttribute('href'), fileLink);
  assert.equal(await page.locator('#download-url-open').getAttribute('href'), downloadLink);
  for (const link of [fileLink, downloadLink]) {
    const res = await get(link);
    assert.equal(res.status, 200, link);
    assert.equal(sha256(res.body), sha256(bytes), link);
  }
  await page.locator('button[data-copy="file-url-out"]').press('Enter');
  await page.locator('#copy-status').filter({ hasText: /copied|selected/ }).waitFor();

  // The key stays in session storage and out of the address bar.
  assert.equal(await page.evaluate(() => sessionStorage.getItem('urlstash.apiKey')), KEYS.a.key);
  assert.ok(!page.url().includes(KEYS.a.key));
  await page.screenshot({ path: path.join(ARTIFACTS, 'demo-success.png'), fullPage: true });
  assert.deepEqual(pageErrors, []);
});

test('a bad key is shown beside the key field; a bad URL beside the URL field', { timeout: 60_000 }, async () => {
  await page.locator('#api-key').fill('not-a-real-key');
  await page.locator('#file-url').press('Enter');
  const keyError = page.locator('#api-key-error');
  await keyError.filter({ hasText: 'invalid API key' }).waitFor();
  assert.equal(await page.locator('#api-key').getAttribute('aria-invalid'), 'true');
  assert.equal(await focusedId(), 'api-key');
  assert.ok(await page.locator('#file-url-error').isHidden());
  assert.match(await page.locator('#form-status').textContent(), /Not stored: invalid API key/);
  assert.ok(await page.locator('#result').isHidden(), 'a new attempt clears the old result');
  await page.screenshot({ path: path.join(ARTIFACTS, 'demo-bad-key.png'), fullPage: true });

  await page.locator('#api-key').fill(KEYS.a.key);
  assert.ok(await keyError.isHidden(), 'editing the field clears its error');
  await page.locator('#file-url').fill('ftp://example.com/a.png');
  await page.locator('#file-url').press('Enter');
  await page.locator('#file-url-error').filter({ hasText: 'scheme `ftp` is not allowed' }).waitFor();
  assert.equal(await focusedId(), 'file-url');
  assert.deepEqual(pageErrors, []);
});
