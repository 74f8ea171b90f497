// The client's wasm-bindgen tests (tests/client.rs) in headless Chromium, against a local
// Worker and a loopback origin started here; their URLs reach the tests at compile time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startOrigin } from '../http/support/origin.mjs';
import { startWorker } from '../http/support/worker.mjs';
import { png, sha256 } from '../http/support/fixtures.mjs';
import { run } from './support/run.mjs';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
let origin;
let worker;

before(async () => {
  origin = await startOrigin();
  // with LINK_SECRET: private files and minted links (mintLinks) run for real
  worker = await startWorker({ allow: [origin.host], vars: { LINK_SECRET: 'wasm-test-link-secret-0123456789' } });
});
after(async () => {
  await worker?.stop();
  await origin?.close();
});

test('wasm-bindgen-test: UploadClient in headless Chromium against the Worker', { timeout: 900_000 }, async () => {
  const bytes = png(48, 48);
  const env = {
    ...process.env,
    URLSTASH_WORKER_URL: worker.url,
    URLSTASH_PNG_URL: origin.file('/wasm/gradient.png', bytes, { contentType: 'image/png' }),
    URLSTASH_PNG_SHA256: sha256(bytes),
    URLSTASH_MISSING_URL: origin.status('/wasm/missing.png', 404),
    CHROMEDRIVER: process.env.CHROMEDRIVER ?? '/usr/bin/chromedriver',
    // Beside the wasm-bindgen CLI the Makefile installed (CARGO_HOME's bin, else ~/.cargo/bin).
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER: path.join(path.dirname(process.env.WASM_BINDGEN_BIN ?? path.join(os.homedir(), '.cargo/bin/wasm-bindgen')), 'wasm-bindgen-test-runner'),
    WASM_BINDGEN_TEST_TIMEOUT: '120',
  };
  const { code, out } = await run('cargo', ['test', '--locked', '--target', 'wasm32-unknown-unknown', '--no-default-features',
    '--features', 'client', '--test', 'client'], { cwd: ROOT, env });
  for (const line of out.split('\n')) if (/^test |test result|Running/.test(line)) console.log(line);
  assert.equal(code, 0, out);
  const summary = out.match(/test result: ok\. (\d+) passed; (\d+) failed; (\d+) ignored/);
  assert.ok(summary, out);
  // Every test in tests/client.rs ran and passed: none failed, none ignored, none missing.
  const declared = (fs.readFileSync(path.join(ROOT, 'tests/client.rs'), 'utf8').match(/#\[wasm_bindgen_test\]/g) ?? []).length;
  assert.ok(declared > 0);
  assert.deepEqual(summary.slice(1, 4).map(Number), [declared, 0, 0], `expected all ${declared} tests to run and pass:\n${out}`);
});
