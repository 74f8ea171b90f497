// The package as an app developer meets it: `npm pack`, installed into a scratch Vite app
// (no Vite configuration), built and served by `vite preview` and by the dev server, run in
// Chromium against the local Worker (another origin: CORS): init(), health, an upload, and
// a refused key caught with `instanceof UploadError`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startStack, freePort, KEYS } from '../http/support/worker.mjs';
import { png, sha256 } from '../http/support/fixtures.mjs';
import { run } from './support/run.mjs';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const VITE = path.join(ROOT, 'node_modules/.bin/vite');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--no-first-run', '--disable-quic', '--disable-sync'];

let stack;
let scratch;
let app;
let browser;

const MAIN_JS = `
import init, { UploadClient, UploadError } from 'urlstash-client';

async function main() {
  const params = new URLSearchParams(location.search);
  const baseUrl = params.get('base');
  const out = {};
  await init();
  const client = new UploadClient({ baseUrl, apiKey: params.get('key') });
  out.health = await client.health();
  const data = await client.uploadFromUrl({ fileUrl: params.get('file'), uploadPath: 'vite' });
  out.uploaded = { name: data.file_name, size: data.file_size, sha256: data.sha256, path: data.upload_path };
  try {
    await new UploadClient({ baseUrl, apiKey: 'nope' }).usage();
  } catch (err) {
    out.refused = { instance: err instanceof UploadError, isError: err instanceof Error, name: err.name, status: err.status, field: err.field, message: err.message };
  }
  return out;
}

main().then(
  (out) => { document.getElementById('out').textContent = JSON.stringify(out); },
  (err) => { document.getElementById('out').textContent = JSON.stringify({ fatal: String(err) }); },
);
`;

before(async () => {
  stack = await startStack();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-vite-'));
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: path.join(ROOT, 'pkg'), encoding: 'utf8' }));
  app = path.join(scratch, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch-vite', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', path.join(scratch, packed[0].filename)], { cwd: app, stdio: 'pipe' });
  fs.writeFileSync(path.join(app, 'index.html'), '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>scratch</title></head>'
    + '<body><pre id="out"></pre><script type="module" src="/main.js"></script></body></html>');
  fs.writeFileSync(path.join(app, 'main.js'), MAIN_JS);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
});
after(async () => {
  await browser?.close();
  await stack?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

/** Runs `vite args...` in the app until `url` answers; resolves a stop function. */
async function serve(args, url) {
  const child = spawn(VITE, args, { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vite ${args.join(' ')} exited: ${log}`);
    try {
      if ((await fetch(url)).ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`vite ${args.join(' ')} did not answer: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { log: () => log, stop: () => new Promise((resolve) => { child.once('exit', resolve); child.kill(); }) };
}

/** Opens the app at `url` in Chromium and answers what main.js wrote. */
async function runApp(url, name) {
  const bytes = png(30, 20);
  const fileUrl = stack.origin.file(`/vite/${name}.png`, bytes, { contentType: 'image/png' });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  try {
    const query = new URLSearchParams({ base: stack.worker.url, key: KEYS.a.key, file: fileUrl });
    await page.goto(`${url}?${query}`);
    await page.locator('#out').filter({ hasText: /\S/ }).waitFor({ timeout: 60_000 });
    const out = JSON.parse(await page.locator('#out').textContent());
    assert.deepEqual(errors, []);
    assert.equal(out.fatal, undefined, out.fatal);
    assert.equal(out.health, true);
    // no fileName given: the server's generated name (96 random bits, the type's extension)
    assert.match(out.uploaded.name, /^[0-9a-f]{24}\.png$/);
    assert.deepEqual(out.uploaded, { name: out.uploaded.name, size: bytes.length, sha256: sha256(bytes), path: 'vite' });
    assert.deepEqual(out.refused, { instance: true, isError: true, name: 'UploadError', status: 401, field: 'apiKey', message: 'invalid API key' });
  } finally {
    await page.close();
  }
}

test('vite build bundles the package with its wasm; vite preview serves an app that works in Chromium', { timeout: 180_000 }, async () => {
  const built = await run(VITE, ['build', '--logLevel', 'warn'], { cwd: app });
  assert.equal(built.code, 0, built.out);
  const assets = fs.readdirSync(path.join(app, 'dist/assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `the wasm is an asset of the build: ${assets}`);
  const port = await freePort();
  const server = await serve(['preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], `http://127.0.0.1:${port}/`);
  try {
    await runApp(`http://127.0.0.1:${port}/`, 'preview');
  } finally {
    await server.stop();
  }
});

test('the Vite dev server serves the same app unchanged', { timeout: 180_000 }, async () => {
  const port = await freePort();
  const server = await serve(['--host', '127.0.0.1', '--port', String(port), '--strictPort'], `http://127.0.0.1:${port}/`);
  try {
    await runApp(`http://127.0.0.1:${port}/`, 'dev');
  } catch (err) {
    err.message += `\nvite dev log:\n${server.log()}`;
    throw err;
  } finally {
    await server.stop();
  }
});
