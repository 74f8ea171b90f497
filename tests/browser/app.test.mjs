// The web app end to end: Chromium (playwright-core driving Debian's /usr/bin/chromium)
// opens `/` of a local Worker (admin API on) and uses each view as a person would: Stash
// (keyboard only; three URLs with one bad; a video and a sound played from their links; a
// slow job watched and canceled), My files
// (list, filter, page, delete, the usage meter), Keys (create, quota, disable, webhook
// secret, take-down, the blocklist, delete files, revoke, the revoked key refused), and the
// page without its client package. axe-core checks every view, light and dark;
// screenshots of every view at 390 and 1280 px, light and dark, go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { startStack, get, api, KEYS } from '../http/support/worker.mjs';
import { png, filler, sha256 } from '../http/support/fixtures.mjs';
import { formatBytes } from '../../www/format.js';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
/** Both upload routes: one URL's and a batch's. */
const UPLOAD_ROUTES = '**/api/v1/files/upload/url*';
const ARTIFACTS = path.join(ROOT, 'tests/artifacts');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--no-first-run', '--disable-quic', '--disable-sync'];
// a passphrase, as an operator may choose one (the server takes spaces in the admin token)
const ADMIN = 'app admin token 16';
/** An `Idempotency-Key` the page made: a version 4 UUID. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MiB = 1024 * 1024;

let stack;
let profile;
let context;
let page;
const pageErrors = [];

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  stack = await startStack({ adminToken: ADMIN, counting: true, vars: { LINK_SECRET: 'app-link-secret-16' } });
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (err) => pageErrors.push(err.message));
  // What the page's Content-Security-Policy refused: every test expects nothing.
  await context.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) => {
    throw new Error(`CSP refused ${e.blockedURI || 'an inline resource'} (${e.violatedDirective})`);
  }));
});
after(async () => {
  await context?.close();
  await stack?.stop();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

const focusedId = () => page.evaluate(() => document.activeElement?.id);

/** How many requests the page sent that `match` takes while `fn` ran and in the 300 ms
 * after it (a request that `fn` set off is on its way by then). */
async function requestsDuring(match, fn) {
  let sent = 0;
  const count = (req) => {
    if (match(req)) sent += 1;
  };
  page.on('request', count);
  try {
    await fn();
    await page.waitForTimeout(300);
  } finally {
    page.off('request', count);
  }
  return sent;
}
/** Submits the Stash form and waits for `text` in the error `#errorId`; answers how many
 * upload requests the page sent. */
const refusedSubmit = (errorId, text) => requestsDuring(
  (req) => new URL(req.url()).pathname.startsWith('/api/v1/files/upload'),
  async () => {
    await page.locator('#stash-submit').click();
    await page.locator(`#${errorId}`).filter({ hasText: text }).waitFor();
  },
);
/** Double-clicks `button`; answers how many requests that change something (all but
 * reads) the page sent. */
const doubleClickSends = (button) => requestsDuring((req) => !['GET', 'HEAD'].includes(req.method()), () => button.dblclick());
const texts = (selector) => page.locator(selector).allTextContents();
/** `route.fulfill`'s options for the Worker's answer `real` with the envelope `envelope`
 * instead of its own (its length dropped: the body changed) and `headers` added. */
const rewritten = (real, envelope, headers = {}) => {
  const kept = Object.fromEntries(Object.entries(real.headers()).filter(([name]) => name !== 'content-length'));
  return { response: real, headers: { ...kept, ...headers }, body: JSON.stringify(envelope) };
};

/** Opens the app fresh with `key` (and `adminToken`) in session storage, on `view`. */
async function open(view = 'stash', { key = KEYS.a.key, adminToken = '' } = {}) {
  await page.goto(`${stack.worker.url}/#${view}`);
  await page.evaluate(([k, a]) => {
    sessionStorage.setItem('urlstash.apiKey', k);
    sessionStorage.setItem('urlstash.adminToken', a);
  }, [key, adminToken]);
  await page.reload();
  await page.locator('#service[data-state="up"]').waitFor();
}

/** The answer of a key over its rate (10 uploads a minute), as the server words it: for
 * `route.fulfill`. */
function rateLimited(retryAfter) {
  const msg = `rate limit exceeded: this key may make at most 10 upload requests per minute; retry after ${retryAfter} s`;
  return { status: 429, contentType: 'application/json', headers: { 'retry-after': String(retryAfter) },
    body: JSON.stringify({ success: false, code: 429, msg, data: null }) };
}

/** axe-core on the page as it is: no serious or critical violation. */
async function axe(label) {
  // evaluated, not added as a script tag: the page's CSP refuses inline scripts
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(fs.readFileSync(AXE, 'utf8'));
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [], label);
}

/** Screenshots and axe of the current view at phone and desktop width, light and dark. */
async function capture(view) {
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForTimeout(50);
      await page.screenshot({ path: path.join(ARTIFACTS, `app-${view}-${width}-${scheme}.png`), fullPage: true });
    }
    await axe(`${view}, ${scheme}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });
}

test('the page and the API share one origin', async () => {
  const { worker } = stack;
  const home = await get(`${worker.url}/`);
  assert.equal(home.status, 200);
  assert.match(home.headers.get('content-type'), /^text\/html/);
  assert.deepEqual(JSON.parse((await get(`${worker.url}/api/v1/health`)).body), { ok: true });
  assert.equal((await get(`${worker.url}/api/v1/nothing`)).status, 404);
  const wasm = await get(`${worker.url}/pkg/urlstash_bg.wasm`);
  assert.equal(wasm.status, 200, 'www/pkg is built (make pkg)');
  assert.equal(wasm.headers.get('content-type'), 'application/wasm', 'streaming instantiation needs it');
});

test('the web app\'s files carry its security headers (www/_headers), and no other origin can frame it', async () => {
  const { worker } = stack;
  for (const file of ['/', '/app.js', '/pkg/urlstash_bg.wasm']) {
    const res = await get(`${worker.url}${file}`);
    assert.equal(res.status, 200, file);
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const directive of ["script-src 'self' 'wasm-unsafe-eval'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "connect-src 'self'"]) {
      assert.ok(csp.split(/;\s*/).includes(directive), `${file}: ${directive} in ${csp}`);
    }
    assert.equal(res.headers.get('x-frame-options'), 'DENY', file);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', file);
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer', file);
  }
  // the rules file itself is not served; the API's answers are not the page's
  assert.equal((await get(`${worker.url}/_headers`)).status, 404);
  const health = await get(`${worker.url}/api/v1/health`);
  assert.equal(health.headers.get('x-frame-options'), null);
  // what the policy refuses reaches pageErrors, which every test checks: an inline script
  await open();
  await page.evaluate(() => document.body.append(Object.assign(document.createElement('script'), { textContent: 'window.ran = 1' })));
  for (let i = 0; i < 50 && pageErrors.length === 0; i++) await page.waitForTimeout(100);
  assert.equal(await page.evaluate(() => window.ran), undefined);
  assert.match(pageErrors.splice(0).join('\n'), /^CSP refused inline \(script-src-elem\)$/);
  // the policy admits this origin's scripts, but no uploaded script passes for one: the
  // file routes refuse a same-origin script load (Sec-Fetch-Dest), in the browser too
  const js = stack.origin.file('/csp/evil.js', Buffer.from('window.ran = 1'), { contentType: 'text/javascript' });
  const stored = await api(worker, 'POST', '/api/v1/files/upload/url', { token: KEYS.a.key, body: { file_url: js, upload_path: 'csp' } });
  assert.equal(stored.status, 200, JSON.stringify(stored.json));
  for (const src of [stored.json.data.file_url, stored.json.data.download_url]) {
    const outcome = await page.evaluate((url) => new Promise((resolve) => {
      const script = Object.assign(document.createElement('script'), { src: url });
      script.onload = () => resolve('ran');
      script.onerror = () => resolve('refused');
      document.body.append(script);
    }), src);
    assert.deepEqual([outcome, await page.evaluate(() => window.ran)], ['refused', undefined], src);
  }
  assert.deepEqual(pageErrors, []);
  // a page of another origin cannot frame the app
  const framed = await context.newPage();
  try {
    // a page of the stack's loopback origin (another port: another origin, same address space)
    const outer = stack.origin.file('/framer.html', Buffer.from(`<iframe src="${worker.url}/"></iframe>`), { contentType: 'text/html' });
    await framed.goto(outer);
    const frame = await (await framed.waitForSelector('iframe')).contentFrame();
    await frame.waitForLoadState('load');
    // the browser put its error page in the frame: the app never loaded there
    assert.equal(frame.url(), 'chrome-error://chromewebdata/');
    assert.equal(await frame.locator('#service').count(), 0);
  } finally {
    await framed.close();
  }
});

test('Stash, keyboard only: one PNG with preview, details, SHA-256, countdown and working links', { timeout: 120_000 }, async () => {
  const bytes = png(160, 100);
  const fileUrl = stack.origin.file('/photos/gradient.png', bytes, { contentType: 'image/png' });
  await open('stash', { key: '' });

  // Skip link to the content, then the key, its Show button, the admin token, its Show
  // button, the URLs, folder, name: all by Tab.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'skip');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab');
  assert.equal(await focusedId(), 'api-key');
  await page.keyboard.type(KEYS.a.key);
  for (let i = 0; i < 4; i++) await page.keyboard.press('Tab');
  assert.equal(await focusedId(), 'file-urls');
  await page.keyboard.type(fileUrl);
  await page.keyboard.press('Tab');
  await page.keyboard.type('demo/e2e');
  await page.keyboard.press('Tab');
  await page.keyboard.type('gradient.png');
  await page.keyboard.press('Tab');
  await page.keyboard.type(sha256(bytes));
  // busy while it runs: the results it replaces, not the form, whose status and alert
  // speak meanwhile
  await page.evaluate(() => {
    window.busyLog = [];
    const results = document.getElementById('results');
    new MutationObserver(() => window.busyLog.push(`${results.getAttribute('aria-busy')}/${document.getElementById('stash-submit').getAttribute('aria-disabled')}`))
      .observe(results, { attributes: true, attributeFilter: ['aria-busy'] });
  });
  // the upload's Idempotency-Key (a UUID of its own: the client may send it again)
  const sent = page.waitForRequest((req) => req.method() === 'POST' && req.url().endsWith('/api/v1/files/upload/url'));
  await page.keyboard.press('Enter'); // submits the form from a text input
  assert.match((await sent).headers()['idempotency-key'] ?? '', UUID);

  const card = page.locator('#results > .result').first();
  await card.locator('.result-title').filter({ hasText: 'gradient.png' }).waitFor({ timeout: 60_000 });
  assert.equal(await card.locator('.result-type').textContent(), 'image/png');
  assert.equal(await card.locator('.result-path').textContent(), 'demo/e2e');
  assert.equal(await card.locator('.result-sha').textContent(), sha256(bytes));
  assert.equal(await card.locator('.result-size').textContent(), formatBytes(bytes.length));
  assert.equal(await card.locator('.result-original').textContent(), 'gradient.png');
  const answer = await (await (await sent).response()).json();
  assert.equal(answer.data.file_size, bytes.length);
  assert.equal(await card.locator('.result-expires').getAttribute('datetime'), answer.data.expires_at, 'the expiry shown is the file\'s');
  assert.match(await card.locator('.countdown').textContent(), /^\(in 2 d \d+ h \d+ min \d+ s\)$/);
  assert.match(await page.locator('#stash-status').textContent(), /Stored gradient\.png/);
  assert.deepEqual(await page.evaluate(() => window.busyLog), ['true/true', 'false/false']);
  assert.equal(await page.locator('#stash-form').getAttribute('aria-busy'), null);
  assert.equal(await page.evaluate(() => document.activeElement?.closest('.result') !== null), true, 'focus moves to the result');

  await page.waitForFunction(() => {
    const img = document.querySelector('#results .preview img');
    return img?.complete && img.naturalWidth > 0;
  });
  assert.deepEqual(await card.locator('.preview img').evaluate((img) => [img.naturalWidth, img.naturalHeight]), [160, 100]);
  const links = [await card.locator('.file-link').inputValue(), await card.locator('.download-link').inputValue()];
  assert.equal(await card.locator('a.open').getAttribute('href'), links[0]);
  assert.equal(await card.locator('a.download').getAttribute('href'), links[1]);
  for (const link of links) {
    const res = await get(link);
    assert.equal(res.status, 200, link);
    assert.equal(sha256(res.body), sha256(bytes), link);
  }
  // Copy puts the file link itself on the clipboard (the page may use it, as a user lets it)
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(page.url()).origin });
  await card.locator('button.copy').first().press('Enter');
  await page.locator('#copy-status').filter({ hasText: /^Copied to the clipboard\.$/ }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), links[0]);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('urlstash.apiKey')), KEYS.a.key);
  assert.ok(!page.url().includes(KEYS.a.key));
  assert.deepEqual(await page.evaluate(() => [localStorage.length, document.cookie]), [0, ''], 'the key outlives the tab nowhere');
  assert.deepEqual(pageErrors, []);
});

/** A WAV file of `seconds` of a 440 Hz tone: 8 kHz, mono, 16-bit PCM. */
function wav(seconds) {
  const rate = 8000;
  const pcm = Buffer.alloc(rate * seconds * 2);
  for (let i = 0; i < pcm.length / 2; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 2 * i);
  const head = Buffer.alloc(44);
  head.write('RIFF', 0);
  head.writeUInt32LE(36 + pcm.length, 4);
  head.write('WAVEfmt ', 8);
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(1, 20); // PCM
  head.writeUInt16LE(1, 22); // mono
  head.writeUInt32LE(rate, 24);
  head.writeUInt32LE(rate * 2, 28);
  head.writeUInt16LE(2, 32);
  head.writeUInt16LE(16, 34);
  head.write('data', 36);
  head.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([head, pcm]);
}

test('Stash: an upload whose answers are all lost says it may be stored; sent again as it is (a fresh origin token aside), it goes with the same key and is answered with the one file stored', { timeout: 120_000 }, async () => {
  const created = await api(stack.worker, 'POST', '/api/v1/admin/keys', { token: ADMIN, body: { name: 'lost-answers' } });
  assert.equal(created.status, 200, JSON.stringify(created.json));
  const { key } = created.json.data;
  const bytes = png(24, 24);
  const fileUrl = stack.origin.file('/lost/answer.png', bytes, { contentType: 'image/png' });
  await open('stash', { key });
  // The first four sends reach the Worker (which stores, then answers what it stored) and
  // their answers are lost on the way back; the client sends three of them itself.
  const keys = [];
  await page.route('**/api/v1/files/upload/url', async (route) => {
    keys.push(route.request().headers()['idempotency-key']);
    if (keys.length > 4) return route.continue();
    await route.fetch();
    return route.abort('connectionreset');
  });
  try {
    await page.locator('#file-urls').fill(fileUrl);
    await page.locator('#origin-headers').fill('X-Token: first');
    await page.locator('#stash-submit').click();
    await page.locator('#stash-status').filter({ hasText: 'Not answered: it may have been stored.' }).waitFor({ timeout: 60_000 });
    // a fresh token for the origin: still the same request (the service leaves origin
    // headers out of the comparison, and so does the page)
    await page.locator('#origin-headers').fill('X-Token: second');
    await page.locator('#stash-submit').click();
    await page.locator('#stash-status').filter({ hasText: /^Stored / }).waitFor({ timeout: 60_000 });
  } finally {
    await page.unroute('**/api/v1/files/upload/url');
    await page.locator('#origin-headers').fill('');
  }
  assert.equal(keys.length, 5, 'four sends by the client, one by the user');
  assert.match(keys[0] ?? '', UUID);
  assert.deepEqual(new Set(keys), new Set([keys[0]]), 'one key throughout');
  const listed = await api(stack.worker, 'GET', '/api/v1/files', { token: key });
  assert.equal(listed.status, 200, JSON.stringify(listed.json));
  assert.deepEqual(listed.json.data.files.map((f) => f.sha256), [sha256(bytes)], 'one file stored');
  const shown = await page.locator('#results > .result').first().locator('.result-sha').textContent();
  assert.equal(shown, sha256(bytes));
  assert.deepEqual(pageErrors, []);
});

/** Opens Stash and sends one upload of `bytes` as `name`, its answer held until the
 * function answered is called: it lets the answer through and waits for it (200). */
async function stashHeld(name, bytes) {
  const fileUrl = stack.origin.file(`/photos/${name}`, bytes, { contentType: 'image/png' });
  await open('stash');
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route('**/api/v1/files/upload/url', async (route) => {
    await held;
    await route.continue();
  });
  await page.locator('#file-urls').fill(fileUrl);
  await page.locator('#upload-path').fill('');
  await page.locator('#file-name').fill(name);
  const sent = page.waitForRequest((req) => req.method() === 'POST' && req.url().endsWith('/api/v1/files/upload/url'));
  await page.locator('#stash-submit').press('Enter');
  await sent;
  return async () => {
    const answered = page.waitForResponse((res) => res.url().endsWith('/api/v1/files/upload/url'));
    release();
    assert.equal((await answered).status(), 200);
    await page.unroute('**/api/v1/files/upload/url');
  };
}

test('Stash: a result that comes after the user went on to another field leaves the keyboard there', { timeout: 60_000 }, async () => {
  const bytes = png(20, 20);
  const answer = await stashHeld('later.png', bytes);
  // while it runs, the user goes on to the folder of the next file
  await page.locator('#upload-path').focus();
  await page.keyboard.type('next');
  await answer();
  await page.locator('#stash-status').filter({ hasText: 'Stored later.png.' }).waitFor();
  assert.equal(await focusedId(), 'upload-path', 'focus stays where the user went');
  assert.equal(await page.locator('#upload-path').inputValue(), 'next');
  const card = page.locator('#results > .result').last();
  assert.equal(await card.locator('.result-sha').textContent(), sha256(bytes));
  await page.locator('#upload-path').fill('');
  await page.locator('#file-name').fill('');
  assert.deepEqual(pageErrors, []);
});

test('Stash: an upload answered while another view is shown is said in the footer, which every view shows', { timeout: 60_000 }, async () => {
  const bytes = png(21, 20);
  const answer = await stashHeld('elsewhere.png', bytes);
  await page.locator('nav a[data-view="files"]').click();
  await page.locator('#view-files:not([hidden])').waitFor();
  await answer();
  await page.locator('#copy-status').filter({ hasText: /^Stash: Stored elsewhere\.png\.$/ }).waitFor();
  assert.equal(await page.locator('#view-stash').isHidden(), true);
  await page.locator('nav a[data-view="stash"]').click();
  assert.equal(await page.locator('#results > .result').last().locator('.result-sha').textContent(), sha256(bytes));
  await page.locator('#file-name').fill('');
  assert.deepEqual(pageErrors, []);
});

test('Stash: a video and a sound each get a player that reads the stored file', { timeout: 120_000 }, async () => {
  const { origin } = stack;
  await open('stash');
  // A real WebM, recorded by the browser itself from a 64 x 48 canvas.
  const recorded = await page.evaluate(async () => {
    const canvas = Object.assign(document.createElement('canvas'), { width: 64, height: 48 });
    const ctx = canvas.getContext('2d');
    const recorder = new MediaRecorder(canvas.captureStream(10), { mimeType: 'video/webm' });
    const chunks = [];
    recorder.ondataavailable = (e) => chunks.push(e.data);
    const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
    recorder.start();
    for (let frame = 0; frame < 8; frame++) {
      ctx.fillStyle = `hsl(${frame * 40} 80% 50%)`;
      ctx.fillRect(0, 0, 64, 48);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    recorder.stop();
    await stopped;
    return Array.from(new Uint8Array(await new Blob(chunks).arrayBuffer()));
  });
  const clip = Buffer.from(recorded);
  assert.ok(clip.length > 100, `recorded ${clip.length} bytes`);
  const tone = wav(1);
  const urls = [origin.file('/media/clip.webm', clip, { contentType: 'video/webm' }), origin.file('/media/tone.wav', tone, { contentType: 'audio/wav' })];
  await page.locator('#file-urls').fill(urls.join('\n'));
  await page.locator('#stash-submit').click();
  await page.locator('#stash-status').filter({ hasText: '2 stored' }).waitFor({ timeout: 60_000 });
  const cards = page.locator('#results > li');
  assert.deepEqual(await cards.locator('.result-sha').allTextContents(), [sha256(clip), sha256(tone)]);
  // Each player loads the file's metadata from its file link: the video's frame size and
  // the sound's length, read from the stored bytes.
  await page.waitForFunction(() => [...document.querySelectorAll('#results .preview :is(video, audio)')].every((m) => m.readyState >= 1), null, { timeout: 30_000 });
  const video = cards.nth(0).locator('.preview video');
  const names = await cards.locator('.result-title').allTextContents();
  assert.deepEqual(await video.evaluate((v) => [v.videoWidth, v.videoHeight, v.controls, v.getAttribute('aria-label')]), [64, 48, true, `Preview of ${names[0]}`]);
  assert.equal(await video.getAttribute('src'), await cards.nth(0).locator('.file-link').inputValue());
  const audio = cards.nth(1).locator('.preview audio');
  assert.deepEqual(await audio.evaluate((a) => [Math.round(a.duration * 1000), a.controls, a.getAttribute('aria-label')]), [1000, true, `Preview of ${names[1]}`]);
  assert.equal(await audio.getAttribute('src'), await cards.nth(1).locator('.file-link').inputValue());
  assert.deepEqual(pageErrors, []);
});

test('Stash: three URLs with one bad give two results and the error in its place; field errors (a name for several URLs, a bad key, ftp://, 101 URLs) and Show/Hide of the key', { timeout: 120_000 }, async () => {
  const { origin } = stack;
  const good1 = origin.file('/batch/one.png', png(40, 30), { contentType: 'image/png' });
  const bad = origin.status('/batch/missing.png', 404);
  const good2 = origin.file('/batch/three.wav', Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WAVEfmt '), filler(2000, 3)]), { contentType: 'audio/wav' });
  // What the API itself answers for the bad one, to compare word for word.
  const direct = await api(stack.worker, 'POST', '/api/v1/files/upload/url', { token: KEYS.a.key, body: { file_url: bad } });
  await open('stash');
  await page.locator('#file-urls').fill([good1, bad, good2].join('\n'));
  // the batch's Idempotency-Key (a UUID of its own: the client may send it again)
  const sent = page.waitForRequest((req) => req.method() === 'POST' && req.url().endsWith('/api/v1/files/upload/urls'));
  await page.locator('#stash-submit').click();
  assert.match((await sent).headers()['idempotency-key'] ?? '', UUID);
  await page.locator('#stash-status').filter({ hasText: '2 stored, 1 not stored: that one is left in the box to send again.' }).waitFor({ timeout: 60_000 });
  assert.equal(await page.locator('#file-urls').inputValue(), bad, 'only the line not stored is left');
  const cards = page.locator('#results > li');
  assert.equal(await cards.count(), 3);
  assert.deepEqual(await cards.evaluateAll((els) => els.map((e) => e.classList.contains('failed'))), [false, true, false]);
  assert.equal(await cards.nth(1).locator('.failure-msg').textContent(), direct.json.msg);
  assert.equal(await cards.nth(1).locator('.result-title').textContent(), bad);
  assert.match(await cards.nth(1).locator('.eyebrow').textContent(), new RegExp(`Line 2: not stored \\(${direct.status}\\)`));
  assert.match(await page.locator('#file-urls-error').textContent(), /1 of 3 URLs were not stored/);
  assert.ok(await cards.nth(2).locator('.preview audio').count(), 'audio gets a player');
  assert.equal(await cards.nth(0).evaluate((card) => card === document.activeElement), true, 'focus on the first card');
  await capture('stash');

  // A bad key and a file name for several URLs: beside their fields, in the envelope's words.
  // Those the page refuses itself are sent nowhere: two URLs under one name would replace
  // one file with the other.
  const hits = () => [origin.hits('/batch/one.png'), origin.hits('/batch/three.wav')];
  const fetched = hits();
  await page.locator('#file-urls').fill([good1, good2].join('\n'));
  await page.locator('#file-name').fill('same.png');
  assert.equal(await refusedSubmit('file-name-error', 'Only for one URL'), 0, 'a name for several URLs: nothing sent');
  assert.deepEqual(hits(), fetched, 'nothing fetched');
  await page.locator('#file-name').fill('');
  await page.locator('#api-key').fill('not-a-real-key');
  await page.locator('#file-urls').fill(good1);
  await page.locator('#stash-submit').click();
  await page.locator('#api-key-error').filter({ hasText: 'invalid API key' }).waitFor();
  assert.equal(await page.locator('#api-key').getAttribute('aria-invalid'), 'true');
  assert.equal(await focusedId(), 'api-key');
  await page.locator('#api-key').fill(KEYS.a.key);
  assert.ok(await page.locator('#api-key-error').isHidden(), 'editing the field clears its error');
  await page.locator('#file-urls').fill('ftp://example.com/a.png');
  assert.equal(await refusedSubmit('file-urls-error', 'scheme `ftp` is not allowed'), 0, 'ftp:// refused by the client before sending');
  assert.equal(await focusedId(), 'file-urls');
  // More than 100 URLs: refused beside the field, in the page's words (before sending).
  await page.locator('#file-urls').fill(Array.from({ length: 101 }, (_, i) => `https://example.com/${i}.png`).join('\n'));
  assert.equal(await refusedSubmit('file-urls-error', 'At most 100 URLs at once (101 given).'), 0, '101 URLs: nothing sent');
  // Show and Hide the key: the field's type and the button's word change, and back.
  const show = page.getByRole('button', { name: 'Show API key' });
  await show.press('Enter');
  assert.equal(await page.locator('#api-key').getAttribute('type'), 'text');
  await page.getByRole('button', { name: 'Hide API key' }).press('Enter');
  assert.equal(await page.locator('#api-key').getAttribute('type'), 'password');
  assert.equal(await show.textContent(), 'Show API key');
  assert.deepEqual(pageErrors, []);
});

test('Stash: when a later batch is refused as a whole (429, the rate), only the lines never sent stay to send again', { timeout: 120_000 }, async () => {
  const { origin } = stack;
  const paths = Array.from({ length: 22 }, (_, i) => `/rated/${i}.png`);
  const lines = paths.map((p, i) => origin.file(p, png(8 + i, 8), { contentType: 'image/png' }));
  await open('stash');
  let batches = 0;
  await page.route('**/api/v1/files/upload/urls', (route) => {
    batches += 1;
    if (batches === 2) {
      return route.fulfill(rateLimited(7));
    }
    return route.continue();
  });
  await page.locator('#file-urls').fill(lines.join('\n'));
  await page.locator('#stash-submit').click();
  await page.locator('#stash-status').filter({ hasText: '20 stored, 0 not stored, 2 not sent: those are left in the box to send again. The server asked to wait 7 s before sending them again.' }).waitFor({ timeout: 60_000 });
  assert.equal(await page.locator('#file-urls').inputValue(), lines.slice(20).join('\n'), 'only the unsent lines are left');
  await page.locator('#stash-submit').click();
  await page.locator('#stash-status').filter({ hasText: '2 stored, 0 not stored.' }).waitFor({ timeout: 60_000 });
  await page.unroute('**/api/v1/files/upload/urls');
  assert.deepEqual(paths.map((p) => origin.hits(p)), paths.map(() => 1), 'every file fetched once: none stored twice');
  assert.deepEqual(pageErrors, []);
});

test('Stash: items a busy instance refused (503 in a 200) and the lines after them stay to send again, the stored ones do not', { timeout: 240_000 }, async () => {
  const { origin } = stack;
  const paths = Array.from({ length: 22 }, (_, i) => `/busy/${i}.png`);
  const lines = paths.map((p, i) => origin.file(p, png(8 + i, 8), { contentType: 'image/png' }));
  const busy = [3, 17]; // of the first batch's 20 items
  await open('stash');
  let batches = 0;
  // What failed in the handler, if anything: the page's request is then aborted (a handler
  // that throws leaves it waiting), and the test fails with this, not a status never shown.
  let handlerError;
  await page.route('**/api/v1/files/upload/urls', async (route) => {
    batches += 1;
    if (batches > 1) return route.continue();
    try {
      // The server's own answer for the other 18 items; the two busy ones as the batch route
      // answers an item refused for the isolate's buffers.
      const { items } = JSON.parse(route.request().postData());
      const kept = items.filter((_, i) => !busy.includes(i));
      // Sent once more if its connection is closed unanswered (the local runtime does so now
      // and then under load: support/worker.mjs, `request`); with the batch's Idempotency-Key
      // the second send is answered with the files of the first, never stores them twice.
      // Said on stderr, so a failure here names its cause instead of a status never shown.
      // Each send may take a minute on a loaded machine (route.fetch's own limit is 30 s).
      const send = () => route.fetch({ postData: JSON.stringify({ items: kept }), timeout: 60_000 });
      const real = await send().catch((err) => {
        console.error(`# the busy test's batch: ${err.message}; sending it once more`);
        return send();
      });
      const envelope = await real.json();
      const results = [...envelope.data.results];
      for (const i of busy) {
        results.splice(i, 0, { success: false, code: 503, msg: 'this instance is busy with other transfers: retry in a few seconds', data: null });
      }
      const data = { succeeded: envelope.data.succeeded, failed: envelope.data.failed + busy.length, results };
      return route.fulfill(rewritten(real, { ...envelope, data }, { 'retry-after': '5' }));
    } catch (err) {
      handlerError = err;
      console.error(`# the busy test's handler failed: ${err.stack}`);
      return route.abort('failed');
    }
  });
  await page.locator('#file-urls').fill(lines.join('\n'));
  await page.locator('#stash-submit').click();
  await page.locator('#stash-status').filter({ hasText: '18 stored, 2 not stored, 2 not sent: those are left in the box to send again. The server asked to wait 5 s before sending them again.' })
    .waitFor({ timeout: 150_000 }).catch((err) => { throw handlerError ?? err; });
  assert.equal(handlerError, undefined);
  assert.equal(batches, 1, 'no batch is sent after a busy answer');
  const left = [...busy.map((i) => lines[i]), ...lines.slice(20)];
  assert.equal(await page.locator('#file-urls').inputValue(), left.join('\n'), 'the busy lines and the unsent ones are left');
  assert.equal(await page.locator('#results > li.failed').count(), 2);
  await page.locator('#stash-submit').click();
  await page.locator('#stash-status').filter({ hasText: '4 stored, 0 not stored.' }).waitFor({ timeout: 60_000 });
  await page.unroute('**/api/v1/files/upload/urls');
  assert.deepEqual(paths.map((p) => origin.hits(p)), paths.map(() => 1), 'every file fetched once: none stored twice');
  assert.deepEqual(pageErrors, []);
});

test('Stash: a later batch whose answers are all lost goes back in the box first, as it was, and lines typed meanwhile stay; sent again, it goes as that batch with its key and is answered with what it stored', { timeout: 240_000 }, async () => {
  const { origin } = stack;
  const paths = Array.from({ length: 23 }, (_, i) => `/lost-batch/${i}.png`);
  // line 5 is missing at the origin (not stored); lines 21 to 23 are the second batch
  const lines = paths.map((p, i) => (i === 4 ? origin.status(p, 404) : origin.file(p, png(8 + i, 9), { contentType: 'image/png' })));
  const typedPath = '/lost-batch/typed.png';
  const typed = origin.file(typedPath, png(40, 9), { contentType: 'image/png' });
  await open('stash');
  // During the first send of the second batch, the user types one more URL at the end of
  // the box.
  const sends = await loseAnswers(lines[20], async () => {
    await page.locator('#file-urls').focus();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(`\n${typed}`);
  });
  try {
    await page.locator('#file-urls').fill(lines.join('\n'));
    await page.locator('#stash-submit').click();
    await page.locator('#stash-status').filter({ hasText: '19 stored, 1 not stored, 3 not answered (they may have been stored: send them again as they are): those are left in the box to send again.' }).waitFor({ timeout: 120_000 });
    assert.equal(await page.locator('#file-urls').inputValue(), [...lines.slice(20), lines[4], typed].join('\n'), 'the lost batch first, then the line not stored, then the typed one');
    await page.locator('#stash-submit').click();
    await page.locator('#stash-status').filter({ hasText: '4 stored, 1 not stored: that one is left in the box to send again.' }).waitFor({ timeout: 120_000 });
  } finally {
    await page.unroute(UPLOAD_ROUTES);
  }
  assert.equal(await page.locator('#file-urls').inputValue(), lines[4]);
  assertOneBatch(sends, lines.slice(20));
  assert.deepEqual([...paths.slice(20), typedPath].map((p) => origin.hits(p)), [1, 1, 1, 1], 'each fetched once: none stored twice');
  assert.deepEqual(pageErrors, []);
});

test('Stash: a lost batch of one line, alone in the box, is sent again as that batch with its key, not as an upload of its own', { timeout: 180_000 }, async () => {
  const { origin } = stack;
  const paths = Array.from({ length: 21 }, (_, i) => `/lost-one/${i}.png`);
  const lines = paths.map((p, i) => origin.file(p, png(8 + i, 10), { contentType: 'image/png' }));
  await open('stash');
  const sends = await loseAnswers(lines[20]);
  try {
    await page.locator('#file-urls').fill(lines.join('\n'));
    await page.locator('#stash-submit').click();
    await page.locator('#stash-status').filter({ hasText: '20 stored, 0 not stored, 1 not answered (it may have been stored: send it again as it is): that one is left in the box to send again.' }).waitFor({ timeout: 120_000 });
    assert.equal(await page.locator('#file-urls').inputValue(), lines[20]);
    await page.locator('#stash-submit').click();
    await page.locator('#stash-status').filter({ hasText: '1 stored, 0 not stored.' }).waitFor({ timeout: 60_000 });
  } finally {
    await page.unroute(UPLOAD_ROUTES);
  }
  assertOneBatch(sends, [lines[20]]);
  assert.equal(origin.hits(paths[20]), 1, 'fetched once: not stored twice');
  assert.deepEqual(pageErrors, []);
});

test('Stash: a batch with items not settled (one still running from an earlier send, 409 with Retry-After; one answered 500) goes back whole, after a failed line of an earlier batch; sent again (and again after that send is refused for the rate), it goes as that batch with its key and is answered with what it stored', { timeout: 240_000 }, async () => {
  const { origin } = stack;
  const paths = Array.from({ length: 23 }, (_, i) => `/unsettled/${i}.png`);
  // line 3 is missing at the origin (not stored); lines 21 to 23 are the second batch
  const lines = paths.map((p, i) => (i === 2 ? origin.status(p, 404) : origin.file(p, png(8 + i, 11), { contentType: 'image/png' })));
  await open('stash');
  // The second batch is stored whole by the Worker; its answer says its first item still
  // runs from an earlier send and its second failed on the server's side. Sent again, it
  // is refused as a whole for the key's rate (a 429, which the client does not send again).
  const sends = [];
  let handlerError;
  await page.route('**/api/v1/files/upload/urls', async (route) => {
    const request = route.request();
    const urls = request.postDataJSON().items.map((item) => item.file_url);
    if (urls[0] !== lines[20]) return route.continue();
    sends.push({ urls, key: request.headers()['idempotency-key'] });
    if (sends.length === 2) {
      const limited = { success: false, code: 429, msg: 'rate limit exceeded: this key may make at most 10 upload requests per minute; retry after 1 s', data: null };
      return route.fulfill({ status: 429, headers: { 'content-type': 'application/json', 'retry-after': '1' }, body: JSON.stringify(limited) });
    }
    if (sends.length > 2) return route.continue();
    try {
      const real = await route.fetch({ timeout: 60_000 });
      const envelope = await real.json();
      const results = [...envelope.data.results];
      assert.deepEqual(results.map((r) => r.code), [200, 200, 200], 'the Worker stored the batch');
      results[0] = { success: false, code: 409, msg: 'an upload with this Idempotency-Key is still running: send it again later, and it is answered with that upload\'s file', data: null };
      results[1] = { success: false, code: 500, msg: 'internal error', data: null };
      const data = { succeeded: 1, failed: 2, results };
      return route.fulfill(rewritten(real, { ...envelope, data }, { 'retry-after': '1' }));
    } catch (err) {
      handlerError = err;
      return route.abort('failed');
    }
  });
  try {
    await page.locator('#file-urls').fill(lines.join('\n'));
    await page.locator('#stash-submit').click();
    await page.locator('#stash-status').filter({ hasText: '20 stored, 1 not stored, 2 not settled (still running or failed on the server: they may yet be stored, so its batch of 3 goes back as sent, to send again as it is): those are left in the box to send again. The server asked to wait 1 s before sending them again.' })
      .waitFor({ timeout: 120_000 }).catch((err) => { throw handlerError ?? err; });
    assert.equal(await page.locator('#file-urls').inputValue(), [lines[2], ...lines.slice(20)].join('\n'), 'the failed line, then the unsettled batch whole');
    assert.equal(await page.locator('#file-urls-error').textContent(), '3 of 23 URLs were not stored or not settled: see their cards below.');
    assert.deepEqual(await texts('#results > li.failed .eyebrow'), ['Line 3: not stored (502)', 'Line 21: not settled (409)', 'Line 22: not settled (500)']);
    await page.locator('#stash-submit').click();
    await page.locator('#stash-status').filter({ hasText: '0 stored, 1 not stored, 3 not sent: those are left in the box to send again.' }).waitFor({ timeout: 120_000 });
    assert.equal(await page.locator('#file-urls').inputValue(), [lines[2], ...lines.slice(20)].join('\n'), 'the box as it was');
    await page.locator('#stash-submit').click();
    await page.locator('#stash-status').filter({ hasText: '3 stored, 1 not stored: that one is left in the box to send again.' }).waitFor({ timeout: 120_000 });
  } finally {
    await page.unroute('**/api/v1/files/upload/urls');
  }
  assert.equal(handlerError, undefined);
  assert.equal(await page.locator('#file-urls').inputValue(), lines[2]);
  assert.deepEqual(sends.map((s) => s.urls), [lines.slice(20), lines.slice(20), lines.slice(20)], 'sent again as the same batch, apart from the failed line');
  assert.match(sends[0].key ?? '', UUID);
  assert.deepEqual(sends.map((s) => s.key), sends.map(() => sends[0].key), 'with its key, the refused send too');
  assert.deepEqual(paths.slice(20).map((p) => origin.hits(p)), [1, 1, 1], 'each fetched once: none stored twice');
  assert.equal(origin.hits(paths[2]), 3, 'the failed line was sent again on its own, each time');
  assert.deepEqual(pageErrors, []);
});

/** Loses the answers of the first four sends (the client sends three of them itself) of the
 * upload or batch whose first URL is `first`: each reaches the Worker, which does it, and
 * its answer is lost on the way back; `during` runs in the first. The sends that came with
 * `first`, by route, URLs and `Idempotency-Key`, until `page.unroute(UPLOAD_ROUTES)`. */
async function loseAnswers(first, during = async () => {}) {
  const sends = [];
  await page.route(UPLOAD_ROUTES, async (route) => {
    const request = route.request();
    const body = request.postDataJSON();
    const urls = body.items ? body.items.map((item) => item.file_url) : [body.file_url];
    if (urls[0] !== first) return route.continue();
    sends.push({ route: new URL(request.url()).pathname, urls, key: request.headers()['idempotency-key'] });
    if (sends.length > 4) return route.continue();
    if (sends.length === 1) await during();
    await route.fetch();
    return route.abort('connectionreset');
  });
  return sends;
}

/** `sends` were four sends by the client and one by the user, each of the batch of `urls`
 * with one key. */
function assertOneBatch(sends, urls) {
  assert.equal(sends.length, 5, 'four sends by the client, one by the user');
  assert.deepEqual(sends.map((s) => [s.route, s.urls]), sends.map(() => ['/api/v1/files/upload/urls', urls]), 'sent again as the same batch');
  assert.match(sends[0].key ?? '', UUID);
  assert.deepEqual(new Set(sends.map((s) => s.key)), new Set([sends[0].key]), 'one key throughout');
}

test('Stash: several URLs with large origin headers go in batches the server takes, each line stored once', { timeout: 120_000 }, async () => {
  const { origin } = stack;
  const paths = Array.from({ length: 6 }, (_, i) => `/heavy/${i}.png`);
  const lines = paths.map((p, i) => origin.file(p, png(10 + i, 10), { contentType: 'image/png' }));
  // Three headers of 4,000 bytes each (the most a value may hold is 4,096): 12 KB an item,
  // so six items in one request would pass the batch's 64 KiB.
  const headers = ['X-One', 'X-Two', 'X-Three'].map((name, i) => `${name}: ${String(i).repeat(4000)}`);
  await open('stash');
  const sizes = [];
  await page.route('**/api/v1/files/upload/urls', (route) => {
    sizes.push(Buffer.byteLength(route.request().postData() ?? ''));
    return route.continue();
  });
  await page.locator('#file-urls').fill(lines.join('\n'));
  await page.locator('#origin-headers').fill(headers.join('\n'));
  await page.locator('#stash-submit').click();
  await page.locator('#stash-status').filter({ hasText: /^6 stored, 0 not stored\.$/ }).waitFor({ timeout: 60_000 });
  await page.unroute('**/api/v1/files/upload/urls');
  await page.locator('#origin-headers').fill('');
  assert.ok(sizes.length >= 2, `sent in ${sizes.length} request(s)`);
  assert.ok(sizes.every((n) => n <= 64 * 1024), `every batch within 64 KiB: ${sizes}`);
  assert.deepEqual(paths.map((p) => origin.hits(p)), paths.map(() => 1), 'every file fetched once');
  assert.equal(await page.locator('#results > li.failed').count(), 0);
  assert.deepEqual(pageErrors, []);
});

test('Stash: link options reach the upload (expiry, one download, private); their errors land beside them', { timeout: 120_000 }, async () => {
  const bytes = png(24, 24);
  const fileUrl = stack.origin.file('/links/once.png', bytes, { contentType: 'image/png' });
  await open('stash');
  await page.locator('#file-urls').fill(fileUrl);
  await page.locator('#max-downloads').fill('0');
  await page.locator('#stash-submit').click();
  await page.locator('#max-downloads-error').filter({ hasText: 'invalid `max_downloads`: must be a whole number from 1 to 1000000' }).waitFor();
  assert.equal(await focusedId(), 'max-downloads');
  await page.locator('#max-downloads').fill('1');
  await page.locator('#origin-headers').fill('Host: example.com');
  await page.locator('#stash-submit').click();
  await page.locator('#origin-headers-error:not([hidden])').waitFor();
  assert.match(await page.locator('#origin-headers-error').textContent(), /origin_headers/);
  await page.locator('#origin-headers').fill('');

  await page.locator('#expires-in').selectOption('3600');
  await page.locator('#private').check();
  await page.locator('#stash-submit').click();
  const card = page.locator('#results > .result').first();
  await card.locator('.countdown').filter({ hasText: /^\(in (59 min \d+ s|1 h 0 min 0 s)\)$/ }).waitFor({ timeout: 60_000 });
  const facts = Object.fromEntries(await card.locator('.facts > div').evaluateAll((divs) => divs.map((d) => [d.querySelector('dt').textContent, d.querySelector('dd').textContent])));
  assert.equal(facts.Downloads, '0 of 1');
  assert.match(facts.Links, /^Private/);
  // no preview: loading one would use the one download up
  assert.equal(await card.locator('.preview :is(img, video, audio)').count(), 0);
  assert.equal(await card.locator('.preview .hint').textContent(), 'No preview: it would use one of the file’s downloads.');
  // the countdown ticks
  const countdown = card.locator('.countdown').first();
  const shown = await countdown.textContent();
  let now = shown;
  for (let i = 0; i < 30 && now === shown; i++) {
    await page.waitForTimeout(100);
    now = await countdown.textContent();
  }
  assert.notEqual(now, shown, `the countdown moves on from ${shown}`);
  const link = await card.locator('.download-link').inputValue();
  assert.match(link, /[?&]sig=/, 'a private file\'s links are signed');
  const once = await get(link);
  assert.equal(sha256(once.body), sha256(bytes));
  assert.equal((await get(link)).status, 404, 'one download, then gone');
  assert.deepEqual(pageErrors, []);
});

test('Stash: a slow file runs as a job whose progress rises live, and Cancel stops it', { timeout: 120_000 }, async () => {
  // One part (one connection) at 32 KiB/s: over two minutes, so it is still running when
  // the test cancels it, after the samples, the screenshots and a second job, however
  // loaded the machine.
  const size = 4 * MiB;
  const url = stack.origin.file('/slow/big.bin', filler(size, 9), { ranges: true, etag: '"x"', throttle: 32 * 1024 });
  await open('stash');
  // each start's Idempotency-Key (the client sends a start that failed in passing again)
  const keys = [];
  const keyOf = (req) => { if (req.method() === 'POST' && req.url().endsWith('/api/v1/files/upload/url')) keys.push(req.headers()['idempotency-key']); };
  page.on('request', keyOf);
  // what the service answers the page's polls of the job (the only job running), from the
  // first poll on
  const answered = new Set();
  const polls = [];
  const pollOf = (res) => {
    if (res.request().method() !== 'GET' || !/\/api\/v1\/jobs\/job_/.test(res.url())) return;
    polls.push(res.json().then((j) => answered.add(j.data.bytes_received), () => {}));
  };
  page.on('response', pollOf);
  await page.locator('#file-urls').fill(url);
  await page.locator('#as-job').check();
  await page.locator('#stash-submit').click();
  // Each job card pinned by its progress bar's id: a positional locator would slide to
  // another card once this one is replaced by its result.
  const pin = async (nth) => {
    const bar = page.locator('#results > li.job progress').nth(nth);
    await bar.waitFor();
    return page.locator(`#results > li.job:has(#${await bar.getAttribute('id')})`);
  };
  const job = await pin(0);
  await page.locator('#stash-status').filter({ hasText: '1 job started.' }).waitFor();
  assert.equal(await job.evaluate((card) => card === document.activeElement), true, 'focus on the job card');
  const seen = [];
  for (let i = 0; i < 40 && seen.filter((b) => b > 0).length < 3; i++) {
    await page.waitForTimeout(500);
    const shown = await job.locator('progress').evaluate((bar) => bar.value);
    if (shown !== seen.at(-1)) seen.push(shown);
  }
  page.off('response', pollOf);
  await Promise.all(polls);
  const rising = seen.filter((b) => b > 0);
  for (const shown of rising) assert.ok(answered.has(shown), `the bar shows ${shown}, what a poll answered (${[...answered]})`);
  assert.ok(rising.length >= 3, `progress rose in steps: ${seen}`);
  assert.deepEqual(rising, [...rising].sort((a, b) => a - b), 'never steps back');
  assert.ok(rising.at(-1) < size);
  const text = await job.locator('.job-text').textContent();
  assert.match(text, /^[\d.]+ (KB|MB) of 4\.0 MB · [\d.]+ (KB|MB)\/s · (\d+ min )?\d+ s left$/, text);
  assert.equal(await job.locator('progress').evaluate((p) => p.max), size);
  await capture('stash-job');

  // Another submission while this job runs: focus goes to the new job's card, not the first.
  await page.locator('#file-urls').fill(stack.origin.file('/slow/second.bin', filler(size, 10), { ranges: true, etag: '"y"', throttle: 256 * 1024 }));
  await page.locator('#stash-submit').click();
  const second = await pin(1);
  await page.locator('#stash-status').filter({ hasText: '1 job started.' }).waitFor();
  assert.equal(await second.evaluate((card) => card === document.activeElement), true, "focus on the second submission's card");
  page.off('request', keyOf);
  assert.equal(keys.length, 2, `${keys}`);
  keys.forEach((key) => assert.match(key ?? '', UUID, `a UUID per start: ${keys}`));
  assert.notEqual(keys[0], keys[1], 'each start its own key');
  // The cancel's answer held back until a poll has seen the job end: coming late, it must
  // leave the ended card as it is (not say "Canceling…" on a card already canceled).
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route('**/api/v1/jobs/*', async (route) => {
    if (route.request().method() !== 'DELETE') return route.fallback();
    const answer = await route.fetch();
    await held;
    await route.fulfill({ response: answer });
  });
  const cancelAnswered = page.waitForResponse((r) => r.request().method() === 'DELETE');
  await second.locator('.job-cancel').press('Enter');
  await second.locator('.eyebrow').filter({ hasText: 'Canceled: nothing stored' }).waitFor({ timeout: 30_000 });
  assert.equal(await second.evaluate((card) => card === document.activeElement), true, 'focus went from its Cancel button to the card, not to the page');
  const endedText = await second.locator('.job-text').textContent();
  release();
  assert.equal((await cancelAnswered).status(), 200);
  await page.unroute('**/api/v1/jobs/*');
  await page.waitForTimeout(300);
  assert.equal(await second.locator('.job-text').textContent(), endedText, 'the late answer left the ended card as it was');

  // A cancel the service fails (500): said aloud, and the job goes on, to be canceled again.
  await page.route('**/api/v1/jobs/*', (route) => (route.request().method() === 'DELETE'
    ? route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ success: false, code: 500, msg: 'internal error', data: null }) })
    : route.fallback()));
  await job.locator('.job-cancel').press('Enter');
  await page.locator('#stash-status').filter({ hasText: /^The job for http:\/\/.*\/slow\/big\.bin was not canceled: / }).waitFor({ timeout: 30_000 });
  await page.unroute('**/api/v1/jobs/*');
  assert.equal(await job.getAttribute('data-running'), 'true');
  assert.equal(await job.locator('.job-cancel').getAttribute('aria-disabled'), 'false');

  // Another key typed meanwhile: Cancel still speaks for the job's own key.
  await page.locator('#api-key').fill(KEYS.b.key);
  await job.locator('.job-cancel').press('Enter');
  await job.locator('.eyebrow').filter({ hasText: 'Canceled: nothing stored' }).waitFor({ timeout: 30_000 });
  assert.equal(await job.locator('.job-state').textContent(), 'canceled');
  const usage = await api(stack.worker, 'GET', '/api/v1/usage', { token: KEYS.a.key });
  assert.equal(usage.json.data.reserved_bytes, 0, 'nothing stays reserved');
  assert.deepEqual(pageErrors, []);
});

test('Stash: a job outlives lost polls and a reload; an option all URLs share is refused beside it, once', { timeout: 180_000 }, async () => {
  // One part (up to 5 MiB: one connection) at 64 KiB/s: about 60 s, past the reloads and
  // the outage below on a loaded machine too.
  const size = 4 * MiB;
  const body = filler(size, 11);
  const url = stack.origin.file('/slow/outage.bin', body, { ranges: true, etag: '"o"', throttle: 64 * 1024 });
  await open('stash');
  await page.locator('#file-urls').fill(url);
  // The Stash button keeps focus while busy (aria-disabled, not disabled, which would drop
  // focus to the page), and after an error that goes to the alert rather than a field.
  await page.route('**/api/v1/files/upload/url', (route) => route.fulfill({ status: 502, contentType: 'text/html', body: '<h1>Bad Gateway</h1>' }));
  await page.locator('#stash-submit').focus();
  await page.keyboard.press('Enter');
  await page.locator('#stash-error').filter({ hasText: /^502: unexpected response from the server/ }).waitFor();
  assert.equal(await focusedId(), 'stash-submit', 'focus stays on the button');
  // a gateway's page, not the service's answer (sent four times by the client): the upload
  // may have been stored behind it, which the status says; the message itself is said once,
  // in the alert
  assert.match(await page.locator('#stash-status').textContent(), /^Not answered: it may have been stored\. /);
  await page.unroute('**/api/v1/files/upload/url');
  await page.locator('#as-job').check();
  await page.keyboard.press('Enter');
  await page.locator('#stash-status').filter({ hasText: '1 job started.' }).waitFor();
  const jobId = await page.locator('#results > li.job').first().getAttribute('data-job-id');
  const card = page.locator(`#results > li[data-job-id="${jobId}"]`);
  await card.locator('.job-text').filter({ hasText: /left$/ }).waitFor({ timeout: 30_000 });

  // A reload: the running job is found again (GET /api/v1/jobs) with its progress.
  await page.reload();
  await page.locator('#stash-status').filter({ hasText: '1 job still running.' }).waitFor();
  await card.locator('.job-text').filter({ hasText: /left$/ }).waitFor({ timeout: 30_000 });
  // Opened without a key (a new tab), nothing is listed; once the key is typed in, its
  // running job is found too.
  await open('stash', { key: '' });
  assert.equal(await page.locator('#results > li.job').count(), 0);
  await page.locator('#api-key').fill(KEYS.a.key);
  await page.locator('#stash-status').filter({ hasText: '1 job still running.' }).waitFor();
  await card.locator('.job-text').filter({ hasText: /left$/ }).waitFor({ timeout: 30_000 });

  // Its polls then fail: first a proxy's page (which ends the wait at once), then no answer
  // at all for a while. The card says the connection is lost, never that nothing was stored.
  let outage = 'page';
  await page.route('**/api/v1/jobs/**', (route) => {
    if (outage === 'page') {
      outage = 'down';
      return route.fulfill({ status: 404, contentType: 'text/html', body: '<h1>Not Found</h1>' });
    }
    return outage === 'down' ? route.abort('failed') : route.continue();
  });
  // the health check the lost connection sets off gets no answer either
  await page.route('**/api/v1/health', (route) => (outage === 'down' ? route.abort('failed') : route.continue()));
  await card.locator('.job-text').filter({ hasText: /^Connection lost .*: trying again…$/ }).waitFor({ timeout: 30_000 });
  await page.locator('#service[data-state="down"]').filter({ hasText: 'Service unreachable' }).waitFor();
  assert.equal(await card.getAttribute('data-running'), 'true');
  assert.equal(await card.evaluate((c) => c.classList.contains('failed')), false);
  outage = 'over';
  const stored = page.locator('#results > li.result:not(.job)').filter({ hasText: 'outage.bin' });
  await stored.waitFor({ timeout: 90_000 });
  assert.equal(sha256((await get(await stored.locator('.download-link').inputValue())).body), sha256(body));
  await page.locator('#service[data-state="up"]').filter({ hasText: 'Service online' }).waitFor({ timeout: 30_000 });
  await page.unroute('**/api/v1/jobs/**');
  await page.unroute('**/api/v1/health');

  // Two URLs sharing a bad folder: one error, beside Folder; no card per URL.
  const ok = stack.origin.file('/shared/ok.png', png(8, 8), { contentType: 'image/png' });
  for (const asJob of [false, true]) {
    await page.locator('#as-job').setChecked(asJob);
    await page.locator('#file-urls').fill(`${ok}\n${ok}`);
    await page.locator('#upload-path').fill('../etc');
    await page.locator('#stash-submit').click();
    await page.locator('#upload-path-error').filter({ hasText: '`upload_path`' }).waitFor();
    assert.equal(await focusedId(), 'upload-path');
    assert.equal(await page.locator('#file-urls').getAttribute('aria-invalid'), null, `the URLs are not blamed (${asJob ? 'jobs' : 'batch'})`);
    assert.equal(await page.locator('#results > li').count(), 0, 'no card for either URL (finished ones made room)');
    assert.equal(await page.locator('#stash-status').textContent(), asJob ? 'Not started.' : 'Not stored.');
    await page.locator('#upload-path').fill('');
  }
  await page.locator('#as-job').setChecked(false);

  // At phone width, a long name and a long error wrap instead of widening the page.
  await page.setViewportSize({ width: 375, height: 800 });
  await page.locator('#file-urls').fill(ok);
  const long = `${'Quarterly-report-'.repeat(12)}.png`;
  await page.locator('#file-name').fill(long);
  await page.locator('#stash-submit').click();
  await page.locator('#stash-status').filter({ hasText: `Stored ${long}.` }).waitFor({ timeout: 30_000 });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), 'no sideways scroll');
  await page.locator('#expected-sha256').fill('a'.repeat(64));
  await page.locator('#stash-submit').click();
  await page.locator('#expected-sha256-error').filter({ hasText: 'sha256 mismatch' }).waitFor({ timeout: 30_000 });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), 'no sideways scroll');
  await page.locator('#file-name').fill('');
  await page.locator('#expected-sha256').fill('');
  await page.setViewportSize({ width: 1280, height: 900 });
  assert.deepEqual(pageErrors, []);
});

test('Stash: jobs stop at a refusal of the rate (429); the refused line and those after it stay to send again', { timeout: 180_000 }, async () => {
  const { origin } = stack;
  const paths = ['/jobs-rated/0.bin', '/jobs-rated/1.png', '/jobs-rated/2.png'];
  // The job that starts takes half a minute (1 MiB at 32 KiB/s): its end would say so in
  // the status line, over what this test reads there.
  const lines = [origin.file(paths[0], filler(MiB, 21), { throttle: 32 * 1024 }),
    ...paths.slice(1).map((p, i) => origin.file(p, png(9 + i, 9), { contentType: 'image/png' }))];
  await open('stash');
  let starts = 0;
  await page.route('**/api/v1/files/upload/url', (route) => {
    starts += 1;
    if (starts === 2) {
      return route.fulfill(rateLimited(9));
    }
    return route.continue();
  });
  await page.locator('#as-job').check();
  await page.locator('#file-urls').fill(lines.join('\n'));
  await page.locator('#stash-submit').click();
  await page.locator('#stash-status').filter({ hasText: '1 job started, 1 refused, 1 not sent: those are left in the box to send again. The server asked to wait 9 s before sending them again.' }).waitFor({ timeout: 60_000 });
  await page.unroute('**/api/v1/files/upload/url');
  assert.equal(starts, 2, 'nothing sent after the 429');
  assert.equal(await page.locator('#file-urls').inputValue(), lines.slice(1).join('\n'));
  assert.equal(await page.locator('#results > li.failed').count(), 1);
  await page.locator('#results > li.result:not(.job)').filter({ hasText: '0.bin' }).waitFor({ timeout: 120_000 });
  await page.locator('#as-job').setChecked(false);
  assert.ok(origin.hits(paths[0]) >= 1, 'the started job fetched its file');
  assert.deepEqual(paths.slice(1).map((p) => origin.hits(p)), [0, 0], 'the refused and unsent lines were not fetched');
  assert.deepEqual(pageErrors, []);
});

test('Stash: a job start whose answers are all lost is left to send again, alone or among others; sent again as it is, it goes with the same key and shows the job the first send started', { timeout: 240_000 }, async () => {
  const created = await api(stack.worker, 'POST', '/api/v1/admin/keys', { token: ADMIN, body: { name: 'lost-starts' } });
  assert.equal(created.status, 200, JSON.stringify(created.json));
  const { key } = created.json.data;
  // 1 MiB at 16 KiB/s each: both jobs run (about a minute) until the test has read the
  // status lines of the three submissions, which a job's end would replace.
  const bodies = [filler(MiB, 31), filler(MiB, 32)];
  const [answered, lostUrl] = bodies.map((b, i) => stack.origin.file(`/lost-starts/${i}.bin`, b, { throttle: 16 * 1024 }));
  await open('stash', { key });
  // The first eight starts of `lostUrl` reach the Worker and their answers are lost on the
  // way back (the client sends three of every four itself); the rest go through.
  const sends = [];
  await page.route('**/api/v1/files/upload/url', async (route) => {
    const send = { url: route.request().postDataJSON().file_url, key: route.request().headers()['idempotency-key'] };
    sends.push(send);
    if (send.url !== lostUrl || sends.filter((s) => s.url === lostUrl).length > 8) return route.continue();
    const answer = await route.fetch();
    send.jobId = (await answer.json()).data?.job_id;
    return route.abort('connectionreset');
  });
  try {
    await page.locator('#as-job').check();
    // alone: the status says so, the line stays in the box
    await page.locator('#file-urls').fill(lostUrl);
    await page.locator('#stash-submit').click();
    await page.locator('#stash-status').filter({ hasText: /^Not answered: it may have started\. Stash it again as it is/ }).waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('#file-urls').inputValue(), lostUrl);
    // among others: counted apart from the refused, its card says so, it stays in the box
    await page.locator('#file-urls').fill(`${answered}\n${lostUrl}`);
    await page.locator('#stash-submit').click();
    await page.locator('#stash-status').filter({ hasText: '1 job started, 1 not answered (it may have started: send it again as it is): that one is left in the box to send again.' }).waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('#file-urls').inputValue(), lostUrl);
    assert.match(await page.locator('#results > li.failed .eyebrow').textContent(), /^Line 2: not answered \(it may have started\)/);
    // sent again as it is: answered this time
    await page.locator('#stash-submit').click();
    await page.locator('#stash-status').filter({ hasText: '1 job started.' }).waitFor({ timeout: 60_000 });
  } finally {
    await page.unroute('**/api/v1/files/upload/url');
  }
  const lost = sends.filter((s) => s.url === lostUrl);
  assert.equal(lost.length, 9, 'four sends by the client, twice, then one');
  assert.match(lost[0].key ?? '', UUID);
  assert.deepEqual(new Set(lost.map((s) => s.key)), new Set([lost[0].key]), 'one key throughout, across the other line\'s answered start');
  assert.notEqual(sends.find((s) => s.url === answered).key, lost[0].key, 'a key per line');
  const jobIds = new Set(lost.slice(0, 8).map((s) => s.jobId));
  assert.equal(jobIds.size, 1, `every lost answer named one job: ${[...jobIds]}`);
  const [jobId] = jobIds;
  assert.match(jobId ?? '', /^job_/);
  await page.locator(`#results > li.job[data-job-id="${jobId}"]`).waitFor({ timeout: 10_000 });
  // Both jobs end, and the key holds their two files, not a third.
  await page.locator('#results > li.result:not(.job):not(.failed)').nth(1).waitFor({ timeout: 150_000 });
  const listed = await api(stack.worker, 'GET', '/api/v1/files', { token: key });
  assert.equal(listed.status, 200, JSON.stringify(listed.json));
  assert.deepEqual(listed.json.data.files.map((f) => f.sha256).sort(), bodies.map(sha256).sort());
  await page.locator('#as-job').setChecked(false);
  assert.deepEqual(pageErrors, []);
});

test('My files: list, filter by folder, page with the cursor, delete, the usage meter follows', { timeout: 120_000 }, async () => {
  const { origin, worker } = stack;
  const key = KEYS.b.key;
  const items = [];
  for (let i = 0; i < 12; i++) items.push({ file_url: origin.file(`/lib/p${i}.png`, png(8 + i, 8), { contentType: 'image/png' }), upload_path: 'pics', file_name: `p${String(i).padStart(2, '0')}.png` });
  items.push({ file_url: origin.file('/lib/readme.txt', Buffer.from('hello, files\n'), { contentType: 'text/plain' }), upload_path: 'docs', file_name: 'readme.txt' });
  const batch = await api(worker, 'POST', '/api/v1/files/upload/urls', { token: key, body: { items } });
  assert.equal(batch.json.data.succeeded, 13, JSON.stringify(batch.json));

  await open('files', { key });
  const rows = page.locator('#files-body tr');
  await page.locator('#usage-files-text').filter({ hasText: /^13 of \d+ files$/ }).waitFor();
  const stored = formatBytes(batch.json.data.results.reduce((n, r) => n + r.data.file_size, 0));
  assert.match(await page.locator('#usage-bytes-text').textContent(), new RegExp(`^${stored.replace('.', '\\.')} of `), 'the bytes of the 13 files');
  await page.locator('#files-status').filter({ hasText: 'Page 1: 13 files.' }).waitFor();

  await page.locator('#files-folder').fill('pics');
  await page.locator('#files-limit').selectOption('10');
  await page.locator('#files-folder').press('Enter');
  await page.locator('#files-status').filter({ hasText: 'Page 1: 10 files in pics.' }).waitFor();
  assert.deepEqual(await texts('#files-body tr th'), Array.from({ length: 10 }, (_, i) => `p${String(i).padStart(2, '0')}.png`));
  assert.equal(await page.locator('#files-prev').isDisabled(), true);
  // While the page loads, the pressed button keeps focus.
  let listed;
  const listHeld = new Promise((resolve) => { listed = resolve; });
  await page.route(/\/api\/v1\/files\?/, async (route) => {
    await listHeld;
    await route.continue();
  });
  const asked = page.waitForRequest(/\/api\/v1\/files\?/);
  await page.locator('#files-next').press('Enter');
  await asked;
  assert.equal(await focusedId(), 'files-next', 'the pressed button keeps focus while its page loads');
  assert.equal(await page.locator('#files-next').getAttribute('aria-disabled'), 'true');
  const pageAnswered = page.waitForResponse(/\/api\/v1\/files\?/);
  listed();
  await pageAnswered;
  await page.unroute(/\/api\/v1\/files\?/);
  await page.locator('#files-status').filter({ hasText: 'Page 2: 2 files in pics.' }).waitFor();
  assert.deepEqual(await texts('#files-body tr th'), ['p10.png', 'p11.png']);
  assert.equal(await page.locator('#files-next').isDisabled(), true);
  assert.equal(await focusedId(), 'files-prev', 'focus stays on the pager');

  // Delete asks once more on the same button, then the row, the file and its quota go. A
  // double-click only arms it: its second click is not the confirmation.
  const row = rows.filter({ hasText: 'p11.png' });
  const fileId = await row.getAttribute('data-file-id');
  // Armed, it says so aloud; Escape, or moving away from it, disarms it.
  const p11Delete = row.getByRole('button', { name: 'Delete p11.png' });
  await p11Delete.press('Enter');
  await page.locator('#copy-status').filter({ hasText: 'Confirm delete of p11.png? Press it again to confirm; Escape or moving away keeps it.' }).waitFor();
  await row.getByRole('button', { name: 'Confirm delete of p11.png' }).press('Escape');
  await p11Delete.waitFor({ timeout: 2_000 });
  await p11Delete.press('Enter');
  await row.getByRole('button', { name: 'Confirm delete of p11.png' }).waitFor();
  await page.keyboard.press('Shift+Tab');
  await p11Delete.waitFor({ timeout: 2_000 });
  assert.equal(await doubleClickSends(p11Delete), 0, 'a double-click sends nothing');
  assert.equal((await api(worker, 'GET', `/api/v1/files/${fileId}`, { token: key })).status, 200, 'not deleted by a double-click');
  // (its second click may land beside the button, grown to "Confirm delete", and so disarm
  // it: from a known state, armed by one press and confirmed by the next)
  await row.locator('.danger').focus();
  await page.keyboard.press('Escape');
  await p11Delete.press('Enter');
  await row.getByRole('button', { name: 'Confirm delete of p11.png' }).press('Enter');
  await page.locator('#files-status').filter({ hasText: 'Deleted p11.png.' }).waitFor();
  await page.locator('#usage-files-text').filter({ hasText: /^12 of \d+ files$/ }).waitFor();
  assert.equal(await rows.count(), 1);
  const info = await api(worker, 'GET', `/api/v1/files/${fileId}`, { token: key });
  assert.equal(info.status, 404);

  // A file deleted elsewhere meanwhile: its Delete finds it gone (404), and its row goes.
  const p10 = rows.filter({ hasText: 'p10.png' });
  assert.equal((await api(worker, 'DELETE', `/api/v1/files/${await p10.getAttribute('data-file-id')}`, { token: key })).status, 200);
  await p10.getByRole('button', { name: 'Delete p10.png' }).press('Enter');
  await p10.getByRole('button', { name: 'Confirm delete of p10.png' }).press('Enter');
  // page 2 emptied, the page before takes its place, after what was said of the file; page
  // 1 is the only page now: the pager has no button left, so focus goes to the status line
  await page.locator('#files-status').filter({ hasText: 'p10.png was already gone (deleted elsewhere, or expired). Page 1: 10 files in pics.' }).waitFor();
  assert.equal(await rows.count(), 10);
  assert.equal(await focusedId(), 'files-status', 'no pager button left: focus on the status line');
  assert.equal(await page.locator('#files-error').isVisible(), false, 'not shown as a failure');
  assert.equal(await page.locator('#files-empty').isVisible(), false);
  await page.locator('#usage-files-text').filter({ hasText: /^11 of \d+ files$/ }).waitFor();

  // A delete that answers after the page loaded again takes its new row, not the focus.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route(/\/api\/v1\/files\/[^/?]+$/, async (route) => {
    if (route.request().method() === 'DELETE') await held;
    await route.continue();
  });
  const p09 = rows.filter({ hasText: 'p09.png' });
  await p09.getByRole('button', { name: 'Delete p09.png' }).press('Enter');
  await p09.getByRole('button', { name: 'Confirm delete of p09.png' }).press('Enter');
  // the page loaded again before the delete answers: new rows, p09's among them
  await page.evaluate(() => { for (const tr of document.querySelectorAll('#files-body tr')) tr.dataset.old = ''; });
  await page.locator('#files-submit').focus();
  await page.locator('#files-submit').press('Enter');
  await page.waitForFunction(() => !document.querySelector('#files-body tr[data-old]') && document.querySelectorAll('#files-body tr').length === 10);
  await page.locator('#files-status').filter({ hasText: 'Page 1: 10 files in pics.' }).waitFor();
  release();
  await page.locator('#files-status').filter({ hasText: 'Deleted p09.png.' }).waitFor();
  await page.unroute(/\/api\/v1\/files\/[^/?]+$/);
  assert.equal(await focusedId(), 'files-submit', 'focus stays where the user moved it');
  assert.deepEqual(await texts('#files-body tr th'), Array.from({ length: 9 }, (_, i) => `p${String(i).padStart(2, '0')}.png`), 'its row on the page loaded since goes too');
  // A delete that answers after the user went on to another field leaves them there: the
  // next row's Delete never takes their key presses.
  const p08 = rows.filter({ hasText: 'p08.png' });
  let free;
  const slow = new Promise((resolve) => { free = resolve; });
  await page.route(/\/api\/v1\/files\/[^/?]+$/, async (route) => {
    if (route.request().method() === 'DELETE') await slow;
    await route.continue();
  });
  const deleting = page.waitForRequest((req) => req.method() === 'DELETE');
  await p08.getByRole('button', { name: 'Delete p08.png' }).press('Enter');
  await p08.getByRole('button', { name: 'Confirm delete of p08.png' }).press('Enter');
  await deleting;
  await page.locator('#files-folder').focus();
  free();
  await page.locator('#files-status').filter({ hasText: 'Deleted p08.png.' }).waitFor();
  await page.unroute(/\/api\/v1\/files\/[^/?]+$/);
  assert.equal(await focusedId(), 'files-folder', 'focus stays on the field the user went to');
  assert.equal(await rows.count(), 8);
  await page.locator('#files-folder').fill('docs');
  await page.locator('#files-folder').press('Enter');
  await page.locator('#files-status').filter({ hasText: 'Page 1: 1 file in docs.' }).waitFor();
  assert.deepEqual(await texts('#files-body tr th'), ['readme.txt']);
  const link = await rows.first().locator('a').getAttribute('href');
  assert.equal((await get(link)).body.toString(), 'hello, files\n');
  // Copy link where the browser refuses the Clipboard API (plain http off localhost, a
  // permission denied): copied all the same, by selection, the focus kept on the button
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(page.url()).origin });
  await page.evaluate(() => { navigator.clipboard.writeText = () => Promise.reject(new DOMException('refused', 'NotAllowedError')); });
  await rows.first().getByRole('button', { name: 'Copy link of readme.txt' }).press('Enter');
  await page.locator('#copy-status').filter({ hasText: /^Copied to the clipboard\.$/ }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), link);
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Copy link of readme.txt');

  // A folder the server's rules refuse: its message beside the folder field.
  await page.locator('#files-folder').fill('../x');
  await page.locator('#files-folder').press('Enter');
  await page.locator('#files-folder-error:not([hidden])').waitFor();
  assert.equal(await page.locator('#files-folder').getAttribute('aria-invalid'), 'true');
  await page.locator('#files-folder').fill('pics');
  await page.locator('#files-folder').press('Enter');
  await page.locator('#files-status').filter({ hasText: 'Page 1: 8 files in pics.' }).waitFor();
  await capture('files');
  assert.deepEqual(pageErrors, []);
});

test('My files: a file with a download limit says how many are used, on its row and its Open link; the meter says what an upload under way holds; a filter sent while a page loads is the one listed', { timeout: 120_000 }, async () => {
  const { origin, worker } = stack;
  const created = await api(worker, 'POST', '/api/v1/admin/keys', { token: ADMIN, body: { name: 'counted' } });
  assert.equal(created.status, 200, JSON.stringify(created.json));
  const { key } = created.json.data;
  const bytes = png(12, 12);
  const counted = await api(worker, 'POST', '/api/v1/files/upload/url', { token: key, body: { file_url: origin.file('/counted/three.png', bytes, { contentType: 'image/png' }), file_name: 'three.png', max_downloads: 3 } });
  assert.equal(counted.status, 200, JSON.stringify(counted.json));
  assert.equal(sha256((await get(counted.json.data.download_url)).body), sha256(bytes), 'one of its downloads used');
  // a job under way (1 MiB at 16 KiB/s), holding its room once it runs
  const job = await api(worker, 'POST', '/api/v1/files/upload/url', { token: key, body: { file_url: origin.file('/counted/slow.bin', filler(MiB, 41), { throttle: 16 * 1024 }), async: true } });
  assert.equal(job.status, 202, JSON.stringify(job.json));
  try {
    let held = 0;
    for (let i = 0; i < 100 && held === 0; i++) {
      held = (await api(worker, 'GET', '/api/v1/usage', { token: key })).json.data.reserved_bytes;
      if (held === 0) await page.waitForTimeout(100);
    }
    assert.equal(held, MiB, 'the job holds its room');
    await open('files', { key });
    await page.locator('#files-status').filter({ hasText: 'Page 1: 1 file.' }).waitFor();
    const row = page.locator('#files-body tr').filter({ hasText: 'three.png' });
    assert.equal(await row.locator('th').textContent(), 'three.png (1 of 3 downloads used)');
    assert.equal(await row.locator('a', { hasText: 'Open' }).getAttribute('aria-label'), 'Open three.png: uses one of its downloads (1 of 3 downloads used)');
    // the usage is read once the page is shown
    await page.locator('#usage-bytes-text').filter({ hasText: `${formatBytes(bytes.length)} (+1.0 MB in uploads under way) of ${formatBytes(created.json.data.max_bytes)}` }).waitFor();
    assert.match(await page.locator('#usage-files-text').textContent(), /^1 \(\+1 in uploads under way\) of \d+ files$/);

    // The listing's answer held; another folder sent meanwhile is listed, and the held
    // answer, coming last, is dropped.
    let release;
    const answerHeld = new Promise((resolve) => { release = resolve; });
    let listings = 0;
    await page.route('**/api/v1/files?*', async (route) => {
      listings += 1;
      if (listings === 1) await answerHeld;
      return route.continue();
    });
    const sent = page.waitForRequest((req) => req.url().includes('/api/v1/files?'));
    await page.locator('#files-folder').press('Enter');
    const heldRequest = await sent;
    await page.locator('#files-folder').fill('elsewhere');
    await page.locator('#files-folder').press('Enter');
    await page.locator('#files-status').filter({ hasText: 'Page 1: 0 files in elsewhere.' }).waitFor({ timeout: 30_000 });
    const heldAnswered = page.waitForResponse((res) => res.request() === heldRequest);
    release();
    await heldAnswered;
    // the page's own turn after the answer: whatever it would show, it has shown
    await page.evaluate(() => new Promise((resolve) => { setTimeout(resolve, 100); }));
    await page.unroute('**/api/v1/files?*');
    assert.equal(listings, 2);
    assert.equal(await page.locator('#files-status').textContent(), 'Page 1: 0 files in elsewhere.', 'the held answer dropped');
    assert.equal(await page.locator('#files-body tr').count(), 0);
  } finally {
    await api(worker, 'DELETE', `/api/v1/jobs/${job.json.data.job_id}`, { token: key });
  }
  assert.deepEqual(pageErrors, []);
});

test('Keys: "Use as my API key" switches My files and the usage meter to the new key, from page 1; replacing the admin token keeps focus', { timeout: 120_000 }, async () => {
  const { origin, worker } = stack;
  // a key of its own with 12 files: two pages of 10
  const created = await api(worker, 'POST', '/api/v1/admin/keys', { token: ADMIN, body: { name: 'paged' } });
  const paged = created.json.data.key;
  const items = Array.from({ length: 12 }, (_, i) => ({ file_url: origin.file(`/use/q${i}.png`, png(6 + i, 6), { contentType: 'image/png' }), upload_path: 'use', file_name: `q${String(i).padStart(2, '0')}.png` }));
  assert.equal((await api(worker, 'POST', '/api/v1/files/upload/urls', { token: paged, body: { items } })).json.data.succeeded, 12);
  await open('files', { key: paged, adminToken: ADMIN });
  await page.locator('#files-limit').selectOption('10');
  await page.locator('#files-submit').click();
  await page.locator('#files-status').filter({ hasText: 'Page 1: 10 files.' }).waitFor();
  await page.locator('#files-next').press('Enter');
  await page.locator('#files-status').filter({ hasText: 'Page 2: 2 files.' }).waitFor();

  await page.locator('nav a[data-view="keys"]').click();
  await page.locator('#key-name').fill('dave');
  await page.locator('#key-max-mib').fill('5');
  await page.locator('#key-submit').click();
  await page.locator('#secret-use:not([hidden])').click();
  await page.locator('#keys-status').filter({ hasText: 'The new key is now this tab’s API key.' }).waitFor();
  const dave = await page.locator('#secret-value').inputValue();
  assert.equal(await page.locator('#api-key').inputValue(), dave);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('urlstash.apiKey')), dave);

  // the old key's page 2 and usage are gone: dave's listing from page 1, dave's quota
  await page.locator('nav a[data-view="files"]').click();
  await page.locator('#files-status').filter({ hasText: /^Page \d+: / }).waitFor();
  assert.equal(await page.locator('#files-status').textContent(), 'Page 1: 0 files.');
  await page.locator('#usage-bytes-text').filter({ hasText: '0 bytes of 5.0 MB' }).waitFor();

  // Replacing the admin token on the Keys view: the keystroke that empties the field keeps
  // focus there and the view open; a field left empty leaves the view.
  await page.locator('nav a[data-view="keys"]').click();
  await page.locator('#view-keys:not([hidden])').waitFor();
  await page.locator('#admin-token').focus();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Backspace');
  assert.equal(await focusedId(), 'admin-token');
  await page.keyboard.type(ADMIN);
  assert.equal(await page.locator('#admin-token').inputValue(), ADMIN);
  assert.equal(await page.locator('#view-keys').isVisible(), true);
  await page.locator('#admin-token').fill('');
  await page.locator('#admin-token').press('Tab');
  await page.locator('#view-stash:not([hidden])').waitFor();
  assert.equal(await page.locator('#keys-tab').isHidden(), true);
  assert.equal(new URL(page.url()).hash, '#stash', 'the address names the view shown');
  // the view changed under the keyboard, which stays on the control Tab reached
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.toggleSecret), 'admin-token');
  assert.deepEqual(pageErrors, []);
});

test('without its client package (www/pkg/ not built), the page says how to build it and its forms stay disabled', async () => {
  const bare = await context.newPage();
  try {
    await bare.route('**/pkg/**', (route) => route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' }));
    await bare.goto(`${stack.worker.url}/#stash`);
    await bare.locator('#app-error').filter({ hasText: 'The client package could not load. Build it with: make pkg' }).waitFor();
    assert.equal(await bare.locator('#service-text').textContent(), 'Client not loaded');
    assert.equal(await bare.locator('#service').getAttribute('data-state'), 'down');
    assert.equal(await bare.locator('#stash-submit').isDisabled(), true);
  } finally {
    await bare.close();
  }
});

test('Keys: shown with an admin token; create, change quota, disable, webhook secret, take-down, blocklist, delete files, revoke; the revoked key is refused', { timeout: 120_000 }, async () => {
  const { worker } = stack;
  await open('stash');
  assert.ok(await page.locator('#keys-tab').isHidden(), 'no Keys view without an admin token');
  await page.locator('#admin-token').fill(ADMIN);
  await page.locator('#keys-tab a').press('Enter');
  await page.locator('#view-keys:not([hidden])').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('urlstash.adminToken')), ADMIN);
  assert.deepEqual(await page.evaluate(() => [localStorage.length, document.cookie]), [0, ''], 'the token outlives the tab nowhere');
  await page.locator('#keys-status').filter({ hasText: /keys? listed\.$/ }).waitFor();
  assert.ok(await page.locator('#keys-more').isHidden(), 'one page of keys: no More button');

  // A bad name: the envelope's words beside the name field.
  await page.locator('#key-name').fill(' ');
  await page.locator('#key-submit').click();
  await page.locator('#key-name-error').filter({ hasText: 'must be 1 to 64 characters' }).waitFor();

  await page.locator('#key-name').fill('carol');
  await page.locator('#key-max-mib').fill('5');
  await page.locator('#key-max-files').fill('10');
  await page.locator('#key-max-files').press('Enter');
  await page.locator('#secret:not([hidden])').waitFor();
  const key = await page.locator('#secret-value').inputValue();
  assert.match(key, /^us_/);
  const row = page.locator('#keys-body tr').filter({ hasText: 'carol' });
  assert.match(await row.locator('td[data-label="Quota"]').textContent(), /^5\.0 MB · 10 files$/);
  const keyId = await row.getAttribute('data-key-id');
  assert.equal((await api(worker, 'GET', '/api/v1/usage', { token: key })).json.data.max_files, 10);
  await capture('keys');

  // Quota: 20 files, storage back to the default.
  await row.getByRole('button', { name: 'Change quota of carol' }).press('Enter');
  await row.getByLabel('Storage, MiB (blank: default)').fill('');
  await row.getByLabel('Files (blank: default)').fill('20');
  await row.getByLabel('Files (blank: default)').press('Enter');
  await row.locator('td[data-label="Quota"]').filter({ hasText: /\(default\) · 20 files$/ }).waitFor();
  assert.equal((await api(worker, 'GET', '/api/v1/usage', { token: key })).json.data.max_files, 20);
  // Another operator sets the storage quota after this page listed the key: a change of the
  // files alone here sends them alone, so that change stands (the row's stale default is
  // not sent back).
  const elsewhere = await api(worker, 'PATCH', `/api/v1/admin/keys/${keyId}`, { token: ADMIN, body: { max_bytes: 7 * 1024 * 1024 } });
  assert.equal(elsewhere.status, 200, JSON.stringify(elsewhere.json));
  await row.getByRole('button', { name: 'Change quota of carol' }).press('Enter');
  await row.getByLabel('Files (blank: default)').fill('21');
  await row.getByLabel('Files (blank: default)').press('Enter');
  await row.locator('td[data-label="Quota"]').filter({ hasText: /^7\.0 MB · 21 files$/ }).waitFor();
  const limits = (await api(worker, 'GET', '/api/v1/usage', { token: key })).json.data;
  assert.deepEqual([limits.max_bytes, limits.max_files], [7 * 1024 * 1024, 21]);
  // back as it was (the row's width is what the double-click below lands on)
  await row.getByRole('button', { name: 'Change quota of carol' }).press('Enter');
  await row.getByLabel('Storage, MiB (blank: default)').fill('');
  await row.getByLabel('Files (blank: default)').fill('20');
  await row.getByLabel('Files (blank: default)').press('Enter');
  await row.locator('td[data-label="Quota"]').filter({ hasText: /\(default\) · 20 files$/ }).waitFor();

  // Disable: the key is refused; enable again, with the keyboard alone (focus stays on the
  // button through its request).
  const focusedLabel = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
  await row.getByRole('button', { name: 'Disable carol' }).press('Enter');
  await row.locator('.state').filter({ hasText: 'disabled' }).waitFor();
  const disabled = await api(worker, 'POST', '/api/v1/files/upload/url', { token: key, body: { file_url: 'https://example.com/a.png' } });
  assert.equal(disabled.status, 401);
  assert.equal(await focusedLabel(), 'Enable carol', 'focus kept on the button');
  await page.keyboard.press('Enter');
  await row.locator('.state').filter({ hasText: 'active' }).waitFor();
  assert.equal(await focusedLabel(), 'Disable carol');
  assert.equal((await api(worker, 'GET', '/api/v1/usage', { token: key })).status, 200, 'enabled: the key works again');

  // Webhook secret: issued, then rotated (a new one each time).
  const webhook = row.getByRole('button', { name: 'Webhook secret of carol: issue or rotate' });
  await webhook.press('Enter');
  await page.locator('#secret-title').filter({ hasText: 'Webhook secret' }).waitFor();
  const issued = await page.locator('#secret-value').inputValue();
  assert.match(issued, /^whsec_[0-9a-f]{64}$/);
  await webhook.press('Enter');
  await page.waitForFunction((before) => document.querySelector('#secret-value').value !== before, issued);
  assert.match(await page.locator('#secret-value').inputValue(), /^whsec_[0-9a-f]{64}$/);

  // Take down a file by its reported link: the link then answers 404; a link of no file of
  // this service is refused beside the field, in the server's words.
  const stored = async (name, bytes = png(4, 4)) => {
    const file_url = stack.origin.file(`/carol-${name}.png`, bytes, { contentType: 'image/png' });
    const res = await api(worker, 'POST', '/api/v1/files/upload/url', { token: key, body: { file_url, file_name: `${name}.png` } });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return res.json.data;
  };
  const reported = await stored('reported');
  await page.locator('#takedown-link').fill('https://example.com/not/a/link');
  await page.locator('#takedown-submit').click();
  await page.locator('#takedown-link-error').filter({ hasText: /^invalid `url`: must be a download_url or file_url/ }).waitFor();
  assert.equal(await focusedId(), 'takedown-link');
  await page.locator('#takedown-link').fill(reported.file_url);
  await page.locator('#takedown-reason').fill('bad\u0001reason');
  await page.locator('#takedown-submit').click();
  await page.locator('#takedown-reason-error').filter({ hasText: /^invalid `reason`: at most 200 characters/ }).waitFor();
  assert.equal(await focusedId(), 'takedown-reason');
  assert.equal((await get(reported.download_url)).status, 200, 'nothing taken down');
  await page.locator('#takedown-reason').fill('malware');
  assert.equal(await page.locator('#takedown-block').isChecked(), true, 'blocking is the default');
  await page.locator('#takedown-link').press('Enter');
  await page.locator('#takedown-status').filter({ hasText: 'Took down images/reported.png (' }).waitFor();
  assert.match(await page.locator('#takedown-status').textContent(), new RegExp(`key ${keyId}, SHA-256 ${reported.sha256}\\)\\. Uploads of the same bytes are refused from now on\\.$`));
  assert.equal((await get(reported.download_url)).status, 404);
  const entry = await api(worker, 'GET', `/api/v1/admin/blocklist/${reported.sha256}`, { token: ADMIN });
  assert.deepEqual([entry.status, entry.json.data.reason, entry.json.data.file_id], [200, 'malware', reported.file_id]);
  const again = await api(worker, 'POST', '/api/v1/files/upload/url', { token: key, body: { file_url: stack.origin.file('/carol-again.png', png(4, 4), { contentType: 'image/png' }) } });
  assert.equal(again.status, 451, 'the same bytes are refused');
  // The take-down's entry heads the blocked files; Unblock (pressed twice) lets the bytes in.
  const blockedRow = page.locator(`#blocklist-body tr[data-sha256="${reported.sha256}"]`);
  await blockedRow.waitFor();
  assert.equal(await blockedRow.locator('td[data-label="Reason"]').textContent(), 'malware');
  assert.equal(await blockedRow.locator('td[data-label="Taken down from"]').textContent(), `${reported.file_id} (key ${keyId})`);
  await capture('keys-blocklist');
  const short = reported.sha256.slice(0, 12);
  await blockedRow.getByRole('button', { name: `Unblock ${short}` }).press('Enter');
  await blockedRow.getByRole('button', { name: `Confirm unblock of ${short}` }).press('Enter');
  await page.locator('#blocklist-status').filter({ hasText: `Unblocked ${short}…: its bytes may be uploaded again.` }).waitFor();
  assert.equal(await blockedRow.count(), 0);
  assert.equal(await page.locator('#blocklist-empty').isVisible(), true);
  assert.equal(await focusedId(), 'blocklist-title', 'the keyboard\'s place stays in the list, not on the page');
  const unblocked = await api(worker, 'POST', '/api/v1/files/upload/url', { token: KEYS.a.key, body: { file_url: stack.origin.file('/carol-unblocked.png', png(4, 4), { contentType: 'image/png' }) } });
  assert.equal(unblocked.status, 200, JSON.stringify(unblocked.json));

  // A block that KV refuses: the file is gone all the same, and a banner names the digest
  // that was not blocked; the status line does not claim the bytes are refused.
  const unblockable = await stored('unblockable', png(7, 4));
  await worker.failKvPuts(['KV PUT failed: 500 Internal Server Error']);
  await page.locator('#takedown-link').fill(unblockable.download_url);
  await page.locator('#takedown-submit').click();
  // the server's own reason (an internal error here) in the banner
  await page.locator('#takedown-error').filter({ hasText: `File taken down; its digest could not be blocked (internal error). Its SHA-256 is ${unblockable.sha256}: block it with PUT /api/v1/admin/blocklist/${unblockable.sha256} once that is fixed.` }).waitFor();
  assert.equal(await page.locator('#takedown-status').textContent(), `Took down images/unblockable.png (${unblockable.file_size} bytes, key ${keyId}, SHA-256 ${unblockable.sha256}).`);
  assert.equal((await get(unblockable.download_url)).status, 404);
  assert.equal(await page.locator(`#blocklist-body tr[data-sha256="${unblockable.sha256}"]`).count(), 0, 'not listed as blocked');

  // A one-time file whose one download came, taken down by its id: its bytes (kept an hour
  // for that download) go and are blocked, and the status line says it was no longer served.
  const onceSent = await api(worker, 'POST', '/api/v1/files/upload/url', { token: key, body: { file_url: stack.origin.file('/carol-once.png', png(8, 4), { contentType: 'image/png' }), file_name: 'once.png', max_downloads: 1 } });
  assert.equal(onceSent.status, 200, JSON.stringify(onceSent.json));
  const once = onceSent.json.data;
  assert.equal((await get(once.download_url)).status, 200);
  await page.locator('#takedown-link').fill(once.file_id);
  await page.locator('#takedown-submit').click();
  await page.locator('#takedown-status').filter({ hasText: `Took down the bytes of ${once.file_id}, no longer served (` }).waitFor();
  assert.match(await page.locator('#takedown-status').textContent(), new RegExp(`key ${keyId}, SHA-256 ${once.sha256}\\)\\. Uploads of the same bytes are refused from now on\\.$`));
  await page.locator(`#blocklist-body tr[data-sha256="${once.sha256}"]`).waitFor();
  assert.equal((await api(worker, 'DELETE', `/api/v1/admin/blocklist/${once.sha256}`, { token: ADMIN })).status, 200, 'unblocked for the tests after');

  // Revoke (a double-click only arms it): the row stays, revoked, with Delete files its one
  // action, focused; the key's files still serve.
  const kept = [await stored('one', png(5, 4)), await stored('two', png(6, 4))];
  assert.equal(await doubleClickSends(row.getByRole('button', { name: 'Revoke carol' })), 0, 'a double-click sends nothing');
  assert.equal((await api(worker, 'GET', '/api/v1/usage', { token: key })).status, 200, 'not revoked by a double-click');
  await row.getByRole('button', { name: 'Confirm revoke of carol' }).press('Enter');
  await page.locator('#keys-status').filter({ hasText: /^Revoked carol: it is refused from now on\. Its files serve until they expire/ }).waitFor();
  assert.equal(await row.locator('.state').textContent(), 'revoked');
  assert.deepEqual(await row.getByRole('button').allTextContents(), ['Delete files']);
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Delete files of carol');
  for (const f of kept) assert.equal((await get(f.file_url)).status, 200, f.file_url);

  // Delete files (a double-click only arms it): both of the revoked key's files go.
  assert.equal(await doubleClickSends(row.getByRole('button', { name: 'Delete files of carol' })), 0, 'a double-click sends nothing');
  assert.equal((await get(kept[0].file_url)).status, 200, 'not deleted by a double-click');
  await row.getByRole('button', { name: 'Confirm delete of every file of carol' }).press('Enter');
  await page.locator('#keys-status').filter({ hasText: /^Deleted 2 files \(.+\) of carol: their links no longer serve\.$/ }).waitFor();
  for (const f of kept) assert.equal((await get(f.file_url)).status, 404, f.file_url);
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Delete files of carol', 'focus kept through the request');

  // The revoked key in Stash: refused, beside the key field.
  const refused = await api(worker, 'GET', '/api/v1/usage', { token: key });
  assert.equal(refused.status, 401);
  await page.locator('#api-key').fill(key);
  await page.locator('nav a[data-view="stash"]').click();
  await page.locator('#file-urls').fill(stack.origin.file('/after-revoke.png', png(4, 4), { contentType: 'image/png' }));
  await page.locator('#stash-submit').click();
  await page.locator('#api-key-error:not([hidden])').waitFor();
  const direct = await api(worker, 'POST', '/api/v1/files/upload/url', { token: key, body: { file_url: 'https://example.com/a.png' } });
  assert.equal(await page.locator('#api-key-error').textContent(), direct.json.msg);

  // A wrong admin token: beside the token field; what the right one listed and revealed
  // (the webhook secret shown "only this once") is gone.
  assert.equal(await page.locator('#secret').evaluate((e) => e.hidden), false, 'the webhook secret is still out (in the Keys view)');
  await page.locator('#admin-token').fill('wrong-token');
  await page.locator('nav a[data-view="keys"]').click();
  await page.locator('#admin-token-error:not([hidden])').waitFor();
  assert.equal(await page.locator('#secret').evaluate((e) => e.hidden), true, 'no secret left on screen');
  assert.equal(await page.locator('#secret-value').inputValue(), '');
  assert.equal(await page.locator('#keys-body tr').count(), 0, 'no rows of the other token');
  // A pasted zero-width space, which the browser could not send: the same answer as the
  // server's, beside the field, not a network error.
  await page.locator('#admin-token').fill(`${ADMIN}\u200b`);
  await page.locator('nav a[data-view="keys"]').click();
  await page.locator('#admin-token-error').filter({ hasText: /^invalid admin token$/ }).waitFor();
  assert.equal(await page.locator('#keys-error').isHidden(), true, 'no banner');
  assert.deepEqual(pageErrors, []);
});

test('Keys: opened at /#keys before a token is typed, the Keys tab works once it is', { timeout: 60_000 }, async () => {
  await open('keys');
  assert.ok(await page.locator('#view-stash').isVisible(), 'Stash, without a token');
  assert.equal(new URL(page.url()).hash, '#stash', 'the address names the view shown');
  await page.locator('#admin-token').fill(ADMIN);
  await page.locator('#keys-tab a').click();
  await page.locator('#view-keys:not([hidden])').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('nav a[data-view="keys"]').getAttribute('aria-current'), 'page');
  assert.deepEqual(pageErrors, []);
});

test('Keys: a failed listing keeps a new key shown; More keys\' last page moves focus to its first row; a revoke or unblock done elsewhere ends as if done here; a key revoked here and listed again from a KV that lags still shows revoked; a quota out of range is refused in MiB', { timeout: 120_000 }, async () => {
  const { worker } = stack;
  // more than a page (50) of keys
  for (let i = 0; i < 51; i += 1) {
    const made = await api(worker, 'POST', '/api/v1/admin/keys', { token: ADMIN, body: { name: `filler-${i}` } });
    assert.equal(made.status, 200, JSON.stringify(made.json));
  }
  const digest = sha256(Buffer.from('blocked elsewhere'));
  assert.equal((await api(worker, 'PUT', `/api/v1/admin/blocklist/${digest}`, { token: ADMIN, body: { reason: 'test' } })).status, 200);
  await open('keys', { adminToken: ADMIN });
  await page.locator('#keys-status').filter({ hasText: '50+ keys listed.' }).waitFor();
  await page.locator('#keys-more').press('Enter');
  await page.locator('#keys-status').filter({ hasText: /^\d+ keys listed\.$/ }).waitFor();
  assert.ok(await page.locator('#keys-more').isHidden(), 'the last page');
  const focused = await page.evaluate(() => {
    const rows = [...document.querySelectorAll('#keys-body tr')];
    return [document.activeElement?.tagName, rows.indexOf(document.activeElement?.closest('tr')), rows.length];
  });
  assert.deepEqual(focused, ['BUTTON', 50, focused[2]], 'focus on a button of the first row the last page brought (the 51st)');
  assert.ok(focused[2] > 50, `${focused[2]} rows`);

  // A storage quota past what the server takes: refused beside the field, in MiB.
  await page.locator('#key-name').fill('erin');
  await page.locator('#key-max-mib').fill('99999999999');
  await page.locator('#key-submit').click();
  await page.locator('#key-max-mib-error').filter({ hasText: 'Enter a number of MiB from 0 to 8589934591, or leave it blank for the default.' }).waitFor();
  await page.locator('#key-max-mib').fill('');
  // A part of a file: sent as typed, refused by the server beside its field (not rounded).
  await page.locator('#key-max-files').fill('1.5');
  await page.locator('#key-submit').click();
  await page.locator('#key-max-files-error').filter({ hasText: /^invalid `max_files`/ }).waitFor();
  await page.locator('#key-max-files').fill('');
  await page.locator('#key-submit').click();
  await page.locator('#secret:not([hidden])').waitFor();
  const key = await page.locator('#secret-value').inputValue();
  assert.match(key, /^us_/);

  // A listing that fails (here a 500 on the way back to Keys): the banner says so, the key
  // shown only this once and the rows stay.
  const rows = await page.locator('#keys-body tr').count();
  await page.route('**/api/v1/admin/keys?*', (route) => route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ success: false, code: 500, msg: 'internal error', data: null }) }));
  await page.locator('nav a[data-view="stash"]').click();
  await page.locator('nav a[data-view="keys"]').click();
  await page.locator('#keys-error').filter({ hasText: '500: internal error' }).waitFor();
  await page.unroute('**/api/v1/admin/keys?*');
  assert.equal(await page.locator('#secret').isVisible(), true, 'the new key is still shown');
  assert.equal(await page.locator('#secret-value').inputValue(), key);
  assert.equal(await page.locator('#keys-body tr').count(), rows, 'the rows stay');

  // Revoked and unblocked elsewhere (404 here): the same end as done here, no error.
  const row = page.locator('#keys-body tr').filter({ hasText: 'erin' });
  const keyId = await row.getAttribute('data-key-id');
  const erin = (await api(worker, 'GET', `/api/v1/admin/keys/${keyId}`, { token: ADMIN })).json.data;
  assert.equal((await api(worker, 'DELETE', `/api/v1/admin/keys/${keyId}`, { token: ADMIN })).status, 200);
  await row.getByRole('button', { name: 'Revoke erin' }).press('Enter');
  await row.getByRole('button', { name: 'Confirm revoke of erin' }).press('Enter');
  await page.locator('#keys-status').filter({ hasText: /^erin was revoked already\. Its files serve until they expire/ }).waitFor();
  assert.equal(await row.locator('.state').textContent(), 'revoked');
  assert.deepEqual(await row.getByRole('button').allTextContents(), ['Delete files']);
  // Listed again from a KV that still shows erin as it was (KV lags behind a revoke by up
  // to a minute): the row says revoked still, with its one action left.
  await page.route('**/api/v1/admin/keys?*', async (route) => {
    const real = await route.fetch();
    const envelope = await real.json();
    if (!envelope.data.keys.some((k) => k.key_id === keyId)) envelope.data.keys.unshift(erin);
    return route.fulfill(rewritten(real, envelope));
  });
  await row.evaluate((tr) => { tr.dataset.old = 'true'; });
  await page.locator('nav a[data-view="stash"]').click();
  await page.locator('nav a[data-view="keys"]').click();
  const listedAgain = page.locator(`#keys-body tr[data-key-id="${keyId}"]:not([data-old])`);
  await listedAgain.waitFor();
  await page.unroute('**/api/v1/admin/keys?*');
  assert.equal(await page.locator(`#keys-body tr[data-key-id="${keyId}"]`).count(), 1, 'listed once');
  assert.equal(await listedAgain.locator('.state').textContent(), 'revoked');
  assert.deepEqual(await listedAgain.getByRole('button').allTextContents(), ['Delete files']);
  const blocked = page.locator(`#blocklist-body tr[data-sha256="${digest}"]`);
  await blocked.waitFor();
  assert.equal((await api(worker, 'DELETE', `/api/v1/admin/blocklist/${digest}`, { token: ADMIN })).status, 200);
  const short = digest.slice(0, 12);
  await blocked.getByRole('button', { name: `Unblock ${short}` }).press('Enter');
  await blocked.getByRole('button', { name: `Confirm unblock of ${short}` }).press('Enter');
  await page.locator('#blocklist-status').filter({ hasText: `${short}… was unblocked already: its bytes may be uploaded again.` }).waitFor();
  assert.equal(await blocked.count(), 0);
  assert.ok(await page.locator('#blocklist-error').isHidden(), 'no error banner');
  assert.deepEqual(pageErrors, []);
});

test('Keys: the blocklist comes 50 a page; More adds the rest, then goes', { timeout: 120_000 }, async () => {
  const digests = Array.from({ length: 51 }, (_, i) => sha256(Buffer.from(`more-${i}`)));
  try {
    for (const d of digests) assert.equal((await api(stack.worker, 'PUT', `/api/v1/admin/blocklist/${d}`, { token: ADMIN, body: {} })).status, 200);
    await open('keys', { adminToken: ADMIN });
    const rows = page.locator('#blocklist-body tr');
    await page.locator('#blocklist-more:not([hidden])').waitFor();
    assert.equal(await rows.count(), 50, 'the first page');
    await page.locator('#blocklist-more').press('Enter');
    await rows.nth(50).waitFor();
    const listed = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.sha256));
    assert.equal(new Set(listed).size, listed.length, 'no row twice');
    for (const d of digests) assert.ok(listed.includes(d), `${d} listed`);
    await page.locator('#blocklist-more[hidden]').waitFor({ state: 'attached' });
    assert.deepEqual(pageErrors, []);
  } finally {
    for (const d of digests) await api(stack.worker, 'DELETE', `/api/v1/admin/blocklist/${d}`, { token: ADMIN });
  }
});

test("a PDF's file_url opens in Chromium's PDF viewer, though served sandboxed (`Content-Security-Policy: sandbox`)", { timeout: 60_000 }, async () => {
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n'
    + '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');
  const stored = await api(stack.worker, 'POST', '/api/v1/files/upload/url', { token: KEYS.a.key, body: { file_url: stack.origin.file('/viewer/report.pdf', pdf, { contentType: 'application/pdf' }) } });
  assert.equal(stored.status, 200, JSON.stringify(stored.json));
  const viewer = await context.newPage();
  try {
    let downloaded = false;
    viewer.on('download', () => { downloaded = true; });
    const res = await viewer.goto(stored.json.data.file_url);
    assert.equal(res.status(), 200);
    const headers = await res.allHeaders();
    assert.equal(headers['content-security-policy'], 'sandbox');
    assert.match(headers['content-disposition'], /^inline;/);
    // the viewer (an extension's frame) loads in the page; a document it refused would be
    // Chromium's error page instead
    const loaded = async () => viewer.frames().some((f) => f.url().startsWith('chrome-extension://'));
    for (let i = 0; i < 300 && !(await loaded()); i++) await viewer.waitForTimeout(100);
    assert.ok(await loaded(), `frames: ${viewer.frames().map((f) => f.url()).join(', ')}`);
    assert.equal(downloaded, false, 'shown, not downloaded');
  } finally {
    await viewer.close();
  }
});
