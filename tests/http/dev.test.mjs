// `make dev` as a developer runs it (the Makefile target, scripts/dev.mjs, wrangler's dev
// engine without the devtools inspector), on free ports with its own state: it serves the
// web app and the API with the printed credentials, stores the sample origin's file, and
// takes 30 uploads of 3 MiB at once from a fast origin, every one stored byte-exact (with
// `wrangler dev`'s inspector attached, the same uploads all failed for want of file
// descriptors: docs/security.md), and a body refused mid-stream leaves it answering.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, request, upload, get, api, answers, explainSilence, workerds, REQUEST_TIMEOUT_MS } from './support/worker.mjs';
import { startOrigin } from './support/origin.mjs';
import { filler, sha256 } from './support/fixtures.mjs';
import { pool, sleep } from './support/burst.mjs';
import { endGroup } from './support/group.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 1024 * 1024;

let dir;
let dev; // the make dev process (its own process group)
let output = '';
let origin;
let worker; // {url}, as the support helpers take it
let creds; // BASE, KEY, ADMIN as make dev-env prints them

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'urlstash-make-dev-'));
  origin = await startOrigin();
  const [port, samplePort] = [await freePort(), await freePort()];
  const vars = [`PORT=${port}`, `SAMPLE_PORT=${samplePort}`, `STATE_DIR=${dir}/state`, `DEV_VARS=${dir}/.dev.vars`];
  // the credentials first: made on first use, then kept, so make dev finds the same ones
  creds = Object.fromEntries(execFileSync('make', ['-s', 'dev-env', ...vars], { cwd: ROOT }).toString().trim().split(' ').map((kv) => kv.split('=')));
  dev = spawn('make', ['-s', 'dev', ...vars, `WRANGLER_ARGS=--var PRIVATE_FETCH_ALLOWLIST:127.0.0.1:${samplePort},${origin.host}`], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [dev.stdout, dev.stderr]) stream.on('data', (chunk) => { output += chunk; });
  worker = { url: creds.BASE, samplePort };
  // a bounded wait for the first answer (make dev checks its tools and build first)
  for (let i = 0; i < 240; i++) {
    const res = await request(`${worker.url}/api/v1/health`).catch(() => null);
    if (res?.status === 200) return;
    if (dev.exitCode !== null) break;
    await sleep(500);
  }
  assert.fail(`make dev did not answer on ${worker.url}:\n${output.slice(-3000)}`);
});

after(async () => {
  if (dev) await endGroup(dev);
  await origin?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('make dev serves the web app and the API with its printed credentials, and stores the sample', async () => {
  assert.match(output, new RegExp(`urlstash on ${worker.url} \\(web app at /\\)  API key: ${creds.KEY}  admin token: ${creds.ADMIN}`));
  const page = await request(`${worker.url}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>[^<]*urlstash/i);
  const sample = fs.readFileSync(path.join(ROOT, 'samples/sample.png'));
  const res = await upload(worker, { file_url: `http://127.0.0.1:${worker.samplePort}/sample.png` }, { key: creds.KEY });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(sha256((await get(res.json.data.download_url)).body), sha256(sample));
  const keys = await api(worker, 'GET', '/api/v1/admin/keys', { token: creds.ADMIN });
  assert.deepEqual([keys.status, keys.json.data.keys.map((k) => k.key_id)], [200, ['k_dev']]);
});

test('make dev takes 30 uploads of 3 MiB at once from a fast origin, each stored byte-exact', async () => {
  const bytes = filler(3 * MiB, 77);
  const url = origin.file('/dev/three.bin', bytes);
  // what came back when, and make dev's own output, for a failure to be read from CI's log
  const started = Date.now();
  const answered = [];
  const results = await pool(Array.from({ length: 30 }, (_, i) => i), 30, async (i) => {
    const res = await upload(worker, { file_url: url, upload_path: 'dev', file_name: `three-${i}.bin` }, { key: creds.KEY });
    answered.push(`${i}: ${res.status} after ${Date.now() - started} ms`);
    return res;
  }).catch(async (err) => {
    err.message += `\nanswered: ${answered.join(', ') || 'none'}\nmake dev's output, its end:\n${output.slice(-6000)}`;
    // a runtime that stopped answering says why, for tests/run.mjs (crash.mjs)
    // make dev's workerd processes (wrangler's proxy and the Worker's) as they are now: wrangler
    // starts the Worker's again when its watcher fires, as it may after the first build
    if (!(await answers(worker.url, 10_000))) await explainSilence(worker.url, workerds(['-g', dev.pid]));
    throw err;
  });
  assert.deepEqual(results.map((r) => r.status), Array(30).fill(200), JSON.stringify(results.find((r) => r.status !== 200)?.json));
  for (const r of results) assert.equal(sha256((await get(r.json.data.download_url)).body), sha256(bytes), r.json.data.file_name);
  assert.doesNotMatch(output, /Too many open files/);
});

test('a chunked body past its limit is 413 through make dev, and the next request of another client is answered', async () => {
  // Sent chunked (no Content-Length), 20 KiB against the upload's 16 KiB: the Worker finds
  // out mid-body. Canceling the rest reset the connection, and wrangler's dev proxy then
  // held the next request of any client until yet another came.
  const { port } = new URL(worker.url);
  const refused = await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/files/upload/url',
      headers: { authorization: `Bearer ${creds.KEY}`, 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => { body += c; }).on('end', () => resolve({ status: res.status ?? res.statusCode, body }));
    }).on('error', reject);
    // as long as any request of the tests waits (a runtime that stopped answering under the
    // test before must not hold this file until its 15-minute timeout)
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer to the chunked POST within ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.write('{"file_url":"http://127.0.0.1/x.png","pad":"');
    for (let i = 0; i < 20; i++) req.write('a'.repeat(1024));
    req.end('"}');
  });
  assert.deepEqual([refused.status, JSON.parse(refused.body).msg], [413, 'request body exceeds 16384 bytes']);
  let timer;
  const next = await Promise.race([
    api(worker, 'GET', '/api/v1/usage', { token: creds.KEY }),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('the next request went unanswered for 10 s')), 10_000); }),
  ]).finally(() => clearTimeout(timer));
  assert.equal(next.status, 200, JSON.stringify(next.json));
});
